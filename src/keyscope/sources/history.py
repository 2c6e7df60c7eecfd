"""The history folder (``--history DIR``): one JSON result per run, for trend charts.

Each run is stored as ``DIR/<as_of>.json`` with the time written without colons
(``2026-11-01T000000Z.json``) so the names are valid on every file system and sort
by time.  A re-run with the same ``--as-of`` replaces its file.  Files whose names do
not follow the pattern are ignored (a README, a ``.gitkeep``); a file that follows it
but is not a readable result is an error naming it, because a scheduled job should
not quietly draw a trend from part of its history.
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from keyscope.errors import ConfigError
from keyscope.model import HistoryPoint
from keyscope.output import write_atomic
from keyscope.sources.baseline import history_point_of, read_result_document

__all__ = ["history_file_name", "load_history", "store_history"]

_NAME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{6}Z\.json")
_LEFTOVER_AGE_S = 60


def history_file_name(as_of: datetime) -> str:
    """``2026-11-01T000000Z.json`` for a run as of 2026-11-01 00:00 UTC."""
    return as_of.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ") + ".json"


def load_history(folder: Path, *, exclude: datetime | None = None) -> tuple[HistoryPoint, ...]:
    """The trend totals of every run stored in ``folder``, oldest first.

    Args:
        folder: The history folder; a missing folder is an empty history.
        exclude: Leave out the run stored for this ``as_of`` (the current run, which
            the caller adds from its own result).

    Raises:
        ConfigError: ``folder`` is a file, or a history file is not a readable result.
    """
    if not folder.exists():
        return ()
    if not folder.is_dir():
        raise ConfigError(str(folder), "--history must be a folder")
    skip = history_file_name(exclude) if exclude is not None else None
    points = []
    for path in sorted(folder.iterdir()):
        if not _NAME.fullmatch(path.name) or path.name == skip or not path.is_file():
            continue
        points.append(history_point_of(read_result_document(path), str(path)))
    return tuple(sorted(points, key=lambda point: point.as_of))


def store_history(folder: Path, as_of: datetime, json_text: str) -> Path:
    """Store this run's JSON result in the history folder, atomically.

    Args:
        folder: The history folder; created if missing (its parent must exist).
        as_of: The run's ``as_of``, which names the file.
        json_text: The result as ``render_json`` wrote it.

    Returns:
        The file written.

    Raises:
        ReportError: the folder cannot be created or the file cannot be written.
    """
    from keyscope.errors import ReportError
    from keyscope.output import canonical

    # A configured folder may be a link to an existing folder (reports/history ->
    # /srv/...); a link to nothing is refused rather than made into a folder there, and
    # the files inside are never links followed (write_atomic refuses them).
    if folder.is_symlink() and folder.is_dir():
        folder = canonical(folder)
    if folder.is_symlink():
        raise ReportError(f"{folder}: refusing to write through a symbolic link")
    try:
        folder.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise ReportError(f"{folder}: parent folder does not exist") from None
    except OSError as error:
        raise ReportError(f"{folder}: cannot create: {error.strerror or error}") from None
    target = folder / history_file_name(as_of)
    _remove_leftovers(folder)
    write_atomic(target, json_text)
    return target


def _remove_leftovers(folder: Path) -> None:
    """Remove the temporary files of history writes that were killed, whatever their
    ``as_of``.  A write takes milliseconds, so one a minute old is no live writer's (no
    lock file: the folder holds results only, and is often kept under version control)."""
    now = time.time()
    for leftover in folder.glob(".*.json.*.tmp"):
        if not _NAME.fullmatch(leftover.name[1:].split(".json.", 1)[0] + ".json"):
            continue
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _LEFTOVER_AGE_S:
                leftover.unlink()
