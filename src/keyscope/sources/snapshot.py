"""Snapshot folders: live platform data frozen on disk, so every audit can be replayed.

``keyscope fetch --output DIR`` writes::

    DIR/spec.json         the platform's OpenAPI description, byte for byte as served
    DIR/keys.json         {"keys": [...]}: the key list, sorted by id, secrets removed
    DIR/usage.jsonl.gz    one request a line: timestamp, key_id, method, path, status,
                          request_id (paths scrubbed of credentials)
    DIR/manifest.json     when, from where, the window, counts, completeness (with
                          the reasons), and the sha256 of each file

The folder appears atomically: everything is written into a hidden sibling folder and
renamed into place, so a crash leaves the previous snapshot intact.  Reading a
snapshot checks every file against the manifest's digest, and an audit of it carries
the manifest's incompleteness into the result (``incomplete_reasons``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyscope import __version__
from keyscope.errors import ReportError, SourceError
from keyscope.redaction import SECRET_FIELD_NAMES, looks_like_secret, redact

if TYPE_CHECKING:
    from keyscope.model import ApiKey
    from keyscope.settings import Settings
    from keyscope.sources.live import PlatformClient

__all__ = [
    "KEYS_NAME",
    "MANIFEST_NAME",
    "SPEC_NAME",
    "USAGE_NAME",
    "SnapshotError",
    "SnapshotManifest",
    "fetch_snapshot",
    "mark_redacted_fields",
    "read_snapshot",
    "settings_for_snapshot",
]

SPEC_NAME = "spec.json"
KEYS_NAME = "keys.json"
USAGE_NAME = "usage.jsonl.gz"
MANIFEST_NAME = "manifest.json"
SNAPSHOT_SCHEMA = 1
_KEY_FIELDS = (
    "id", "name", "scopes", "full_access", "status", "created_at", "last_used_at", "owner",
    "environment",
)  # fmt: skip
_FORMATTED = ("status", "created_at", "last_used_at", "full_access")
"""Fields the inventory loader checks against a vocabulary or a format: a secret in one
is dropped (the loader's default applies: an unknown status reads as ``active``, the
conservative reading for an audit), since its masked form would not load."""
_MAX_SCRUB_DEPTH = 16
_REDACTED = "[redacted]"
_MAX_MANIFEST_BYTES = 4 * 1024 * 1024

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage is ``spec``, ``keys`` or ``usage``."""


class SnapshotError(SourceError):
    """A snapshot folder is missing, malformed or altered (exit 3)."""


@dataclass(frozen=True, slots=True)
class SnapshotManifest:
    """What ``manifest.json`` says, checked."""

    folder: Path
    fetched_at: str
    base_url: str
    window_start: datetime
    window_end: datetime
    window_days: int
    complete: bool
    incomplete_reasons: tuple[str, ...]
    counts: Mapping[str, int]
    files: Mapping[str, str]
    """File name -> sha256 (hex)."""
    keyscope_version: str
    redacted: tuple[tuple[str, str], ...] = ()
    """``(key id, field)``: free text in keys.json redacted because it held a secret."""

    @property
    def spec_path(self) -> Path:
        return self.folder / SPEC_NAME

    @property
    def keys_path(self) -> Path:
        return self.folder / KEYS_NAME

    @property
    def usage_path(self) -> Path:
        return self.folder / USAGE_NAME


# --------------------------------------------------------------------------- fetching


def fetch_snapshot(
    client: PlatformClient,
    output: Path,
    *,
    as_of: datetime,
    window_days: int,
    progress: Progress | None = None,
) -> SnapshotManifest:
    """Fetch spec, keys and usage for ``[as_of - window_days, as_of)`` into ``output``.

    Args:
        client: An open platform client.
        output: The snapshot folder; created, or replaced when it holds an earlier
            snapshot.  Anything else there is refused.
        as_of: End of the usage window (UTC, exclusive).
        window_days: Length of the window.
        progress: Called as work advances.

    Returns:
        The manifest as written.

    Raises:
        FetchError: the platform failed in a way that leaves no usable snapshot.
        ReportError: ``output`` cannot be written or holds something else.
    """
    from keyscope.output import output_lock

    output = Path(output)
    _check_output(output)
    if not output.parent.is_dir():
        raise ReportError(f"{output}: folder {output.parent} does not exist")
    as_of = as_of.astimezone(UTC)
    start = as_of - timedelta(days=window_days)
    with output_lock(output):
        staging = Path(
            tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        )
        try:
            manifest = _fetch_into(client, staging, start, as_of, window_days, progress or _quiet)
            _swap_into_place(staging, output)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return _with_folder(manifest, output)


def _quiet(stage: str, done: int, total: int) -> None:
    """No progress output."""


def _fetch_into(
    client: PlatformClient,
    folder: Path,
    start: datetime,
    end: datetime,
    window_days: int,
    progress: Progress,
) -> SnapshotManifest:
    from keyscope.sources.live import HttpStatusError, key_path

    paths = client.settings.paths
    reasons: list[str] = []
    counts: dict[str, int] = {}

    progress("spec", 0, 1)
    spec = client.get_bytes(paths.openapi)
    _write_file(folder / SPEC_NAME, spec.body)
    counts["operations"] = _count_operations(spec.body)
    progress("spec", 1, 1)

    progress("keys", 0, 0)
    listing = client.fetch_all(
        paths.keys, what="keys", on_page=lambda pages, items: progress("keys", items, 0)
    )
    reasons.extend(listing.reasons)
    cleaned = _clean_keys(listing.items)
    keys, redacted = cleaned.keys, cleaned.redacted
    if cleaned.dropped:
        reasons.append(f"keys: dropped {cleaned.dropped} entries without a usable string id")
    if cleaned.unusable_ids:
        reasons.append(
            f"keys: dropped {cleaned.unusable_ids} entries whose id cannot be used in a request "
            "path (such as '..'); their usage was not read"
        )
    if cleaned.conflicts:
        reasons.append(
            f"keys: {cleaned.conflicts} key ids were listed more than once with different "
            "content; the first listing of each was kept"
        )
    counts["keys"] = len(keys)
    counts["duplicate_keys_dropped"] = cleaned.repeats
    counts["conflicting_keys_dropped"] = cleaned.conflicts
    counts["key_pages"] = listing.pages
    keys_text = json.dumps({"keys": keys}, ensure_ascii=True, indent=2, sort_keys=False) + "\n"
    _write_file(folder / KEYS_NAME, keys_text.encode("utf-8"))

    since, until = _rfc3339(start), _rfc3339(end)
    events_written = 0
    duplicates = 0
    usage_pages = 0
    progress("usage", 0, len(keys))
    with _open_gzip(folder / USAGE_NAME) as usage:
        for done, key in enumerate(keys, start=1):
            key_id = key["id"]
            label = f"requests of {key_id}"
            try:
                page = client.fetch_all(
                    key_path(paths.requests, key_id), {"since": since, "until": until}, what=label
                )
            except HttpStatusError as error:
                if error.status not in (403, 404):
                    raise
                reasons.append(f"{label}: not read ({error.message.split(': ', 1)[-1]})")
                progress("usage", done, len(keys))
                continue
            usage_pages += page.pages
            reasons.extend(page.reasons)
            seen: set[str] = set()
            for event in page.items:
                request_id = event.get("request_id")
                if isinstance(request_id, str) and request_id:
                    if request_id in seen:
                        duplicates += 1
                        continue
                    seen.add(request_id)
                usage.write(_usage_line(key_id, event))
                events_written += 1
            progress("usage", done, len(keys))
    counts["usage_events"] = events_written
    counts["usage_pages"] = usage_pages
    counts["duplicate_events_dropped"] = duplicates
    counts["requests_sent"] = client.requests_sent

    files = {name: _sha256(folder / name) for name in (SPEC_NAME, KEYS_NAME, USAGE_NAME)}
    manifest = SnapshotManifest(
        folder=folder,
        fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        base_url=client.settings.base_url,
        window_start=start,
        window_end=end,
        window_days=window_days,
        complete=not reasons,
        incomplete_reasons=tuple(reasons),
        counts=counts,
        files=files,
        keyscope_version=__version__,
        redacted=tuple(redacted),
    )
    _write_file(folder / MANIFEST_NAME, _manifest_json(manifest).encode("utf-8"))
    return manifest


@dataclass(frozen=True, slots=True)
class _CleanKeys:
    """The key list as keys.json holds it, and what cleaning it took."""

    keys: list[dict[str, Any]]
    """Known fields only, secrets masked, one record per id, sorted by id."""
    redacted: list[tuple[str, str]]
    """``(key id, field)`` whose value held a secret (the audit reports them)."""
    dropped: int = 0
    """Entries without a usable string id (none, empty, or a secret)."""
    unusable_ids: int = 0
    """Entries whose id a request path refuses (``.``, ``..``)."""
    repeats: int = 0
    """Identical repeats of a listed key (overlapping pages): dropped silently."""
    conflicts: int = 0
    """Repeats of a listed id with other content: the first is kept, the data incomplete."""


def _clean_keys(items: tuple[dict[str, Any], ...]) -> _CleanKeys:
    """Known fields only, secrets out, one record per id, sorted by id.

    Every value is scanned, not only the free-text ones: a platform can put a secret in
    ``scopes`` or ``status`` as easily as in a name.  Text is masked in place (a masked
    scope is an unknown scope to the audit); a field with a fixed format loses the value
    (see ``_FORMATTED``).  Either way the ``(key id, field)`` is recorded, so the audit
    still reports it (``secret-in-name``).
    """
    from keyscope.errors import FetchError
    from keyscope.sources.live import key_path

    by_id: dict[str, dict[str, Any]] = {}
    redacted: set[tuple[str, str]] = set()
    dropped = unusable = repeats = conflicts = 0
    for item in items:
        key_id = item.get("id")
        if not isinstance(key_id, str) or not key_id or looks_like_secret(key_id):
            dropped += 1
            continue
        try:
            key_path("{id}", key_id)
        except FetchError:
            unusable += 1  # its usage could never be asked for; dropping it keeps the rest
            continue
        record: dict[str, Any] = {}
        marks: set[tuple[str, str]] = set()
        for name in _KEY_FIELDS[1:]:
            if name not in item or name in SECRET_FIELD_NAMES:
                continue
            value, changed = _masked(item[name], 0)
            if changed:
                marks.add((key_id, name))
                if name in _FORMATTED:
                    continue
            record[name] = value
        record = {"id": key_id, **record}
        if key_id in by_id:
            # The same key on two overlapping pages is harmless; two different records
            # for one id mean one of them is wrong, and which one cannot be told.
            if by_id[key_id] == record:
                repeats += 1
            else:
                conflicts += 1
            continue
        by_id[key_id] = record
        redacted |= marks
    return _CleanKeys(
        keys=[by_id[key_id] for key_id in sorted(by_id)], redacted=sorted(redacted),
        dropped=dropped, unusable_ids=unusable, repeats=repeats, conflicts=conflicts,
    )  # fmt: skip


def _masked(value: Any, depth: int) -> tuple[Any, bool]:
    """``value`` with every secret-looking string in it masked, and whether one was."""
    if isinstance(value, str):
        if not looks_like_secret(value):
            return value, False
        masked_text = redact(value)
        # ``password=…abcd`` still reads as an assignment: such text is replaced whole.
        return (_REDACTED if looks_like_secret(masked_text) else masked_text), True
    if depth >= _MAX_SCRUB_DEPTH and isinstance(value, list | dict):
        return None, True  # too deep to check: not kept
    if isinstance(value, list):
        pairs = [_masked(item, depth + 1) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    if isinstance(value, dict):
        masked: dict[Any, Any] = {}
        changed = False
        for name, item in value.items():
            if str(name).lower() in SECRET_FIELD_NAMES or looks_like_secret(str(name)):
                changed = True
                continue
            masked[name], item_changed = _masked(item, depth + 1)
            changed = changed or item_changed
        return masked, changed
    return value, False


def _usage_line(key_id: str, event: Mapping[str, Any]) -> bytes:
    path = event.get("path")
    line: dict[str, Any] = {
        "timestamp": event.get("timestamp"),
        "key_id": key_id,
        "method": event.get("method"),
        # A logged URL can carry ?api_key=...: never store it.
        "path": redact(path) if isinstance(path, str) else path,
        "status": event.get("status"),
    }
    request_id = event.get("request_id")
    if isinstance(request_id, str):
        line["request_id"] = request_id
    return (json.dumps(line, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def _count_operations(spec_body: bytes) -> int:
    try:
        document = json.loads(spec_body)
    except ValueError:
        return 0
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return 0
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(
        1 for item in paths.values() if isinstance(item, dict) for name in item if name in methods
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def _open_gzip(path: Path) -> Any:
    with path.open("wb") as raw:
        # mtime=0 and no file name: the same events give the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as stream:
            yield stream
        raw.flush()
        os.fsync(raw.fileno())


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_json(manifest: SnapshotManifest) -> str:
    payload = {
        "schema_version": SNAPSHOT_SCHEMA,
        "kind": "keyscope-snapshot",
        "keyscope_version": manifest.keyscope_version,
        "fetched_at": manifest.fetched_at,
        "base_url": manifest.base_url,
        "window": {
            "start": _rfc3339(manifest.window_start),
            "end": _rfc3339(manifest.window_end),
            "days": manifest.window_days,
        },
        "complete": manifest.complete,
        "incomplete_reasons": list(manifest.incomplete_reasons),
        "counts": dict(sorted(manifest.counts.items())),
        "files": {name: {"sha256": digest} for name, digest in sorted(manifest.files.items())},
        "redacted": [{"key_id": key_id, "field": name} for key_id, name in manifest.redacted],
    }
    return json.dumps(payload, ensure_ascii=True, indent=2) + "\n"


def _check_output(output: Path) -> None:
    if output.is_symlink():
        raise ReportError(f"{output}: refusing to write a snapshot through a symbolic link")
    if output.exists():
        if not output.is_dir():
            raise ReportError(f"{output}: exists and is not a folder")
        if any(output.iterdir()) and not (output / MANIFEST_NAME).is_file():
            raise ReportError(
                f"{output}: the folder holds other files; refusing to replace it with a snapshot"
            )


def _swap_into_place(staging: Path, output: Path) -> None:
    """Rename the finished folder into place; an earlier snapshot goes only afterwards."""
    # mkdtemp made it owner-only; a snapshot holds no secrets, so it gets a folder's usual mode.
    staging.chmod(0o755)
    if output.exists():
        retired = Path(
            tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".old", dir=output.parent)
        )
        retired.rmdir()
        output.replace(retired)
        try:
            staging.replace(output)
        except OSError:
            retired.replace(output)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.replace(output)
    with contextlib.suppress(OSError):
        descriptor = os.open(output.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _with_folder(manifest: SnapshotManifest, folder: Path) -> SnapshotManifest:
    from dataclasses import replace

    return replace(manifest, folder=folder)


# --------------------------------------------------------------------------- reading


def read_snapshot(folder: Path) -> SnapshotManifest:
    """Read and verify a snapshot folder.

    Raises:
        SnapshotError: no manifest, a malformed one, a missing file, or a file whose
            sha256 differs from the manifest's (altered or corrupted).
    """
    folder = Path(folder)
    where = str(folder / MANIFEST_NAME)
    if not folder.is_dir():
        raise SnapshotError(str(folder), "snapshot folder not found")
    try:
        with (folder / MANIFEST_NAME).open("rb") as stream:
            raw = stream.read(_MAX_MANIFEST_BYTES + 1)
    except OSError as error:
        raise SnapshotError(where, f"cannot read the manifest: {error.strerror}") from None
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise SnapshotError(where, "the manifest is too large")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise SnapshotError(where, "the manifest is not valid JSON") from None
    if not isinstance(payload, dict) or payload.get("kind") != "keyscope-snapshot":
        raise SnapshotError(where, "not a keyscope snapshot manifest")
    if payload.get("schema_version") != SNAPSHOT_SCHEMA:
        raise SnapshotError(
            where, f"unsupported snapshot schema_version {payload.get('schema_version')!r}"
        )
    window = _field(payload, "window", dict, where)
    try:
        start = datetime.fromisoformat(str(window.get("start")).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(window.get("end")).replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotError(where, "window start/end are not timestamps", "window") from None
    days = window.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise SnapshotError(where, "window.days must be a whole number", "window.days")
    reasons = _field(payload, "incomplete_reasons", list, where)
    if not all(isinstance(reason, str) for reason in reasons):
        raise SnapshotError(where, "incomplete_reasons must be strings", "incomplete_reasons")
    complete = _field(payload, "complete", bool, where)
    files_field = _field(payload, "files", dict, where)
    files: dict[str, str] = {}
    for name in (SPEC_NAME, KEYS_NAME, USAGE_NAME):
        entry = files_field.get(name)
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str):
            raise SnapshotError(where, f"no sha256 for {name}", f"files.{name}")
        path = folder / name
        if not path.is_file():
            raise SnapshotError(str(path), "listed in the manifest but missing")
        if _sha256(path) != digest:
            raise SnapshotError(
                str(path), "sha256 differs from the manifest (the file was altered or damaged)"
            )
        files[name] = digest
    counts = _field(payload, "counts", dict, where)
    redacted = payload.get("redacted", [])
    if not isinstance(redacted, list) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("key_id"), str)
        and isinstance(entry.get("field"), str)
        for entry in redacted
    ):
        raise SnapshotError(where, "redacted: expected a list of {key_id, field}", "redacted")
    return SnapshotManifest(
        folder=folder,
        fetched_at=str(payload.get("fetched_at", "")),
        base_url=str(payload.get("base_url", "")),
        window_start=start.astimezone(UTC),
        window_end=end.astimezone(UTC),
        window_days=days,
        complete=complete and not reasons,
        incomplete_reasons=tuple(reasons),
        counts={k: v for k, v in counts.items() if isinstance(v, int)},
        files=files,
        keyscope_version=str(payload.get("keyscope_version", "")),
        redacted=tuple((entry["key_id"], entry["field"]) for entry in redacted),
    )


def _field(payload: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind):
        raise SnapshotError(where, f"{name}: expected {kind.__name__}", name)
    return value


def settings_for_snapshot(settings: Settings) -> tuple[Settings, tuple[str, ...]]:
    """Point the audit's inputs at the snapshot ``settings.snapshot`` names.

    The snapshot's files replace ``spec``, ``keys`` and ``usage`` (a snapshot is a
    complete set of inputs); ``as_of`` defaults to the end of the fetched window.

    Returns:
        The new settings, and the reasons the data is incomplete: the manifest's own,
        plus one when the audit window reaches outside the fetched window.

    Raises:
        SnapshotError: the snapshot cannot be read or fails its digests.
    """
    from keyscope.settings import UsageSource

    if settings.snapshot is None:
        return settings, ()
    manifest = read_snapshot(settings.snapshot)
    as_of = settings.as_of or manifest.window_end
    reasons = list(manifest.incomplete_reasons)
    start = as_of - timedelta(days=settings.window_days)
    if start < manifest.window_start or as_of > manifest.window_end:
        reasons.append(
            f"snapshot {settings.snapshot}: the audit window "
            f"{_rfc3339(start)} .. {_rfc3339(as_of)} reaches outside the fetched usage window "
            f"{_rfc3339(manifest.window_start)} .. {_rfc3339(manifest.window_end)}"
        )
    updated = settings.with_overrides(
        spec=manifest.spec_path,
        keys=manifest.keys_path,
        usage=(UsageSource(path=str(manifest.usage_path)),),
        as_of=as_of,
    )
    return updated, tuple(reasons)


def mark_redacted_fields(keys: tuple[ApiKey, ...], folder: Path) -> tuple[ApiKey, ...]:
    """Tell the audit which key fields the fetch redacted (so ``secret-in-name`` still fires).

    keys.json holds only the redacted text; the manifest says which fields held a
    secret, and this puts their names into ``ApiKey.redacted_fields`` as the inventory
    loader does for a local file.
    """
    from dataclasses import replace

    marks: dict[str, set[str]] = {}
    for key_id, name in read_snapshot(folder).redacted:
        marks.setdefault(key_id, set()).add(name)
    if not marks:
        return keys
    return tuple(
        replace(key, redacted_fields=tuple(sorted(set(key.redacted_fields) | marks[key.key_id])))
        if key.key_id in marks
        else key
        for key in keys
    )
