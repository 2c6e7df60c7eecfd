"""The suppressions file, ``keyscope-suppressions.yaml``: reading it and adding to it.

The file is the accountable record of accepted findings::

    # Reviewed in the Q4 access review.
    suppressions:
      - rule: unused-scope
        key: key_reconciliation
        scope: payments:write        # optional; without it every subject of the rule matches
        reason: "Quarter-end correction job writes payments once a quarter"
        owner: payments-platform@example.com
        expires: 2026-12-31          # the last day it applies

A bare list of entries (no ``suppressions:`` key) is accepted too.  ``subject`` is an
alias of ``scope`` for findings about a route.  ``key: ""`` names a data-wide finding
(one that belongs to no key).  Every other field is required; an unknown field, an
empty reason or owner, or a date that does not exist (``2024-13-01``) is a
:class:`~keyscope.errors.ConfigError` naming the file and the entry, so a typo can
never silently disable an entry.

:func:`append_suppression` (the TUI's "suppress" action) adds one entry and keeps
the rest of the file byte for byte, comments included, by appending the new entry's
text to the end of the list.  It re-reads the result and checks that it holds exactly
the old entries plus the new one; when the file's layout makes appending impossible
(a flow-style ``suppressions: []`` list, or other keys after the list) it rewrites the
file from the parsed entries instead, which keeps every entry but drops comments.
Both paths write atomically (``keyscope.output.write_atomic``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from keyscope.errors import ConfigError
from keyscope.model import Suppression
from keyscope.output import write_atomic
from keyscope.redaction import redact
from keyscope.sources.yamlsafe import load_document, parse_document

__all__ = ["append_suppression", "load_suppressions", "render_entry"]

_REQUIRED = ("rule", "key", "reason", "owner", "expires")
_ALLOWED = frozenset((*_REQUIRED, "scope", "subject"))
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

_HEADER = (
    "# keyscope suppressions: accepted findings, each with a reason, an owner and an expiry.\n"
    "# An entry applies up to and including its 'expires' day; then the finding comes back.\n"
)


def load_suppressions(path: Path) -> tuple[Suppression, ...]:
    """Read and validate a suppressions file.

    Args:
        path: The YAML (or JSON) file.

    Returns:
        The entries in file order; an empty file or an empty list gives none.

    Raises:
        ConfigError: the file is unreadable, not YAML, or an entry is malformed; the
            message names the file and the entry.
    """
    if path.is_file() and not _has_content(path.read_text(encoding="utf-8", errors="replace")):
        return ()  # an empty file, or only comments: a fresh register
    document = load_document(path, error=ConfigError)
    where = redact(str(path))  # each entry's source is shown in the reports
    entries = _entries_of(document, where)
    return tuple(_entry(raw, where, index) for index, raw in enumerate(entries, start=1))


def _entries_of(document: Any, where: str) -> list[Any]:
    if document is None:
        return []
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        unknown = sorted(set(document) - {"suppressions", "version"})
        if unknown:
            raise ConfigError(
                where, f"unknown top-level key {unknown[0]!r} (expected 'suppressions')"
            )
        entries = document.get("suppressions")
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise ConfigError(where, "'suppressions' must be a list of entries", "suppressions")
        return entries
    raise ConfigError(where, "expected a 'suppressions:' list of entries")


def _entry(raw: Any, where: str, index: int) -> Suppression:
    place = f"entry {index}"
    if not isinstance(raw, dict):
        raise ConfigError(where, "expected a mapping with rule, key, reason, owner, expires", place)
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise ConfigError(
            where, f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_ALLOWED))})", place
        )
    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        raise ConfigError(where, f"missing required field {missing[0]!r}", place)
    if "scope" in raw and "subject" in raw:
        raise ConfigError(where, "give 'scope' or 'subject', not both", place)
    rule = _text(raw, "rule", where, place, allow_empty=False)
    key_id = _text(raw, "key", where, place, allow_empty=True)
    scope_field = "subject" if "subject" in raw else "scope"
    scope = _text(raw, scope_field, where, place, allow_empty=True) if scope_field in raw else ""
    reason = _text(raw, "reason", where, place, allow_empty=False)
    owner = _text(raw, "owner", where, place, allow_empty=False)
    expires = _day(raw["expires"], where, place)
    return Suppression(
        rule=rule,
        key_id=key_id,
        scope=scope,
        reason=reason,
        owner=owner,
        expires=expires,
        source=f"{where}#{index}",
    )


def _text(raw: dict[str, Any], name: str, where: str, place: str, *, allow_empty: bool) -> str:
    value = raw[name]
    if not isinstance(value, str):
        kind = "nothing" if value is None else type(value).__name__
        raise ConfigError(where, f"{name}: expected text, got {kind}; quote it", place)
    if not allow_empty and not value.strip():
        raise ConfigError(where, f"{name}: must not be empty", place)
    return value.strip()


def _day(value: Any, where: str, place: str) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value.strip()):
        raise ConfigError(where, f"expires: expected a date like 2026-12-31, got {value!r}", place)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(where, f"expires: {value!r} is not a real date", place) from None


# --------------------------------------------------------------------------- writing


def render_entry(suppression: Suppression, indent: str = "  ") -> str:
    """The YAML text of one entry, every string JSON-quoted (valid YAML, no surprises).

    Args:
        suppression: The entry.
        indent: The indentation of the ``-`` of list items in the target file.

    Returns:
        Lines ending with a newline.
    """
    inner = indent + "  "
    fields: list[tuple[str, str]] = [("rule", suppression.rule), ("key", suppression.key_id)]
    if suppression.scope:
        fields.append(("scope", suppression.scope))
    fields += [("reason", suppression.reason), ("owner", suppression.owner)]
    lines = []
    for position, (name, value) in enumerate(fields):
        lead = f"{indent}- " if position == 0 else inner
        lines.append(f"{lead}{name}: {json.dumps(value, ensure_ascii=True)}")
    lines.append(f"{inner}expires: {suppression.expires.isoformat()}")
    return "\n".join(lines) + "\n"


def append_suppression(path: Path, suppression: Suppression) -> None:
    """Add one entry to the suppressions file, creating the file if needed.

    Existing entries and comments are kept byte for byte when the file's layout
    allows appending (see the module docstring); otherwise the file is rewritten from
    its parsed entries.  The write is atomic.

    Args:
        path: The suppressions file.
        suppression: The new entry (its ``source`` is ignored).

    Raises:
        ConfigError: the existing file is malformed (it is left untouched), or the
            new entry itself is invalid.
        ReportError: the file could not be written.
    """
    _check_new(suppression, str(path))
    if not path.exists():
        write_atomic(path, _HEADER + "suppressions:\n" + render_entry(suppression))
        return
    existing = load_suppressions(path)
    text = path.read_text(encoding="utf-8")
    wanted = [*existing, suppression]
    candidate = _appended_text(text, suppression)
    if candidate is not None and _same_entries(candidate, str(path), wanted):
        write_atomic(path, candidate)
        return
    write_atomic(path, _rewritten(wanted))


def _appended_text(text: str, suppression: Suppression) -> str | None:
    if not text.endswith("\n"):
        text += "\n"
    match = re.search(r"^suppressions:[ \t]*(#.*)?$", text, flags=re.MULTILINE)
    if match is None:
        if text.strip().startswith("-") or not _has_content(text):
            # A bare list (or only comments): items sit at column 0.
            return text + render_entry(suppression, indent="")
        return None
    after = text[match.end() :]
    item = re.search(r"^([ \t]*)- ", after, flags=re.MULTILINE)
    indent = item.group(1) if item else "  "
    return text + render_entry(suppression, indent=indent)


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _same_entries(text: str, where: str, wanted: Sequence[Suppression]) -> bool:
    try:
        entries = _entries_of(parse_document(text, where, error=ConfigError), where)
        parsed = [_entry(raw, where, index) for index, raw in enumerate(entries, start=1)]
    except ConfigError:
        return False
    return [_identity(entry) for entry in parsed] == [_identity(entry) for entry in wanted]


def _identity(entry: Suppression) -> tuple[str, str, str, str, str, date]:
    return (entry.rule, entry.key_id, entry.scope, entry.reason, entry.owner, entry.expires)


def _rewritten(entries: Sequence[Suppression]) -> str:
    return _HEADER + "suppressions:\n" + "".join(render_entry(entry) for entry in entries)


def _check_new(suppression: Suppression, where: str) -> None:
    for name, value in (
        ("rule", suppression.rule),
        ("reason", suppression.reason),
        ("owner", suppression.owner),
    ):
        if not value.strip():
            raise ConfigError(where, f"new entry: {name} must not be empty")
