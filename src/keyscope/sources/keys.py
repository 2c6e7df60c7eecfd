"""Reading the key inventory: YAML, JSON or CSV into :class:`~keyscope.model.ApiKey` values.

Accepted shapes:

- YAML or JSON: a list of key objects, or an object holding that list under ``keys``
  or ``data`` (what a platform's list endpoint returns: other members such as
  ``has_more`` are ignored).  Parsed with :mod:`keyscope.sources.yamlsafe`, so YAML 1.1
  surprises (``id: 0777``, ``on``), duplicate fields, alias bombs and deep nesting are
  errors, never silent corruption.
- CSV: a header row, then one key per row; ``scopes`` holds the scopes separated by
  spaces and ``full_access`` is ``true``/``false`` (also ``1``/``0``, ``yes``/``no``;
  empty is false).

Fields of a key:

=================  ==========================================================================
``id``             required, a string (a number or ``true`` is an error: quote it); unique
``name``           free text, not unique; kept whole and as written (markup, control
                   characters and all): the JSON report carries it in full, every other
                   output escapes it and shortens a long one with an ellipsis.
``scopes``         a list of scope names, kept exactly as written; ``null`` = full access
``full_access``    ``true`` for legacy keys minted before scopes existed (wins over ``scopes``)
``status``         ``active`` (default) or ``revoked``
``created_at``     ISO 8601 date or timestamp (no timezone = UTC), optional
``last_used_at``   same, optional
``owner``          free text, carried through
``environment``    free text, carried through
=================  ==========================================================================

Free text has no length limit of its own: what bounds it is the file's size limit
(:data:`keyscope.sources.yamlsafe.DEFAULT_MAX_BYTES`; a CSV cell up to 16 MiB).
Redaction runs over the whole value in linear time, so a 10 MB name costs a fraction
of a second, not a hang.

Other fields are ignored.  **Secrets never get in**: a field named like a secret
(:data:`keyscope.redaction.SECRET_FIELD_NAMES`: ``secret``, ``token``, ``api_key``...)
is dropped as it is read; a free-text value that looks like a live secret (``sk_live_``
and friends; publishable ``pk_`` keys are public and not counted) is redacted to its
prefix and last four characters, and an ignored field holding one is dropped.  Either
way the field's *name* is recorded in ``ApiKey.redacted_fields`` so the audit can say
so (``secret-in-name``).  An ``id`` that looks like a secret is an error: the inventory
must name keys by their identifier, never by the credential.

``ApiKey.source`` is ``file:line`` (the line where the record starts) when the line can
be told, else ``file#index`` (0-based position in the list).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from keyscope.errors import KeysFileError
from keyscope.model import ApiKey
from keyscope.redaction import SECRET_FIELD_NAMES, looks_like_secret, redact
from keyscope.settings import EARLIEST_DATE, LATEST_DATE

__all__ = ["load_keys", "parse_keys"]

_KNOWN_FIELDS = frozenset(
    {"id", "name", "scopes", "full_access", "status", "created_at", "last_used_at", "owner",
     "environment"}
)  # fmt: skip
_STATUSES = ("active", "revoked")
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_MAX_SCAN_DEPTH = 20


def load_keys(path: Path) -> tuple[ApiKey, ...]:
    """Read a key inventory file.

    Args:
        path: A ``.yaml``/``.yml``, ``.json`` or ``.csv`` file (anything else is read as
            YAML, which also accepts JSON).

    Returns:
        The keys, in file order.

    Raises:
        KeysFileError: one line naming the file and the record or line at fault.
    """
    from keyscope.sources.yamlsafe import load_document, read_capped

    # Each key's source names the file in every report: no secret in it.
    source = redact(str(path))
    if path.suffix.lower() == ".csv":
        data = read_capped(path, error=KeysFileError)
        return parse_keys_csv(data, source)
    document = load_document(path, error=KeysFileError)
    lines = _record_lines(path)
    return parse_keys(document, source, record_lines=lines)


def parse_keys(
    document: Any, source: str, *, record_lines: list[int] | None = None
) -> tuple[ApiKey, ...]:
    """Turn a parsed YAML/JSON inventory into keys.

    Args:
        document: Plain data as :func:`keyscope.sources.yamlsafe.load_document` returns it.
        source: The file name, for ``ApiKey.source`` and error messages.
        record_lines: The 1-based line each record starts on, when known.

    Returns:
        The keys, in document order.

    Raises:
        KeysFileError: the shape or a field is wrong, or an id is repeated.
    """
    records = _records_of(document, source)
    keys: list[ApiKey] = []
    for index, record in enumerate(records):
        line = record_lines[index] if record_lines and index < len(record_lines) else None
        where = f"{source}:{line}" if line else f"{source}#{index}"
        place = str(line) if line else f"#{index}"
        if not isinstance(record, dict):
            raise KeysFileError(
                source, f"key record {index} is a {_type_name(record)}, expected an object", place
            )
        keys.append(_key_from_record(record, source, place, where))
    _check_unique(keys, source)
    return tuple(keys)


def parse_keys_csv(data: bytes, source: str) -> tuple[ApiKey, ...]:
    """Turn CSV bytes (one key a row, a header first) into keys.

    Raises:
        KeysFileError: bad encoding, a missing ``id`` column, or a bad cell.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise KeysFileError(
            source, f"not valid UTF-8 (bad byte at byte offset {problem.start})"
        ) from None
    # Names up to a few MB must not stop the read; the default limit is 128 KiB.
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    # strict: a quote still open at the end of the file is an error, not one long cell.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as problem:
        raise KeysFileError(source, f"not valid CSV: {problem}", "1") from None
    if header is None:
        raise KeysFileError(source, "the file is empty (expected a header row with 'id')")
    columns = [name.strip() for name in header]
    if "id" not in columns:
        raise KeysFileError(source, "the header row has no 'id' column", "1")
    duplicates = sorted({name for name in columns if name and columns.count(name) > 1})
    if duplicates:
        raise KeysFileError(source, f"column {duplicates[0]!r} appears twice in the header", "1")
    keys: list[ApiKey] = []
    for line, row in _csv_rows(reader, source):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        place = str(line)
        # An unterminated quote runs on through the rows below it, which then vanish
        # into one cell: a line break inside a cell is taken for that, never for a name.
        if any("\n" in cell or "\r" in cell for cell in row):
            raise KeysFileError(
                source,
                "a cell runs over several lines (an unterminated quote?); quote the cell "
                "whole, or remove the line break",
                place,
            )
        if len(row) != len(columns):
            raise KeysFileError(
                source, f"row has {len(row)} cells but the header has {len(columns)}", place
            )
        record: dict[str, Any] = {}
        for name, cell in zip(columns, row, strict=False):
            if not name:
                continue
            record[name] = cell
        record["scopes"] = record.get("scopes", "").split()
        full_access = record.get("full_access", "").strip().lower()
        if full_access in _TRUE:
            record["full_access"] = True
        elif full_access in _FALSE:
            record["full_access"] = False
        else:
            raise KeysFileError(
                source, f"full_access: expected true or false, got {_shown(full_access)}", place
            )
        for optional in ("name", "status", "created_at", "last_used_at", "owner", "environment"):
            if record.get(optional) == "":
                record[optional] = None
        keys.append(_key_from_record(record, source, place, f"{source}:{line}"))
    _check_unique(keys, source)
    return tuple(keys)


# --------------------------------------------------------------------------- records


def _records_of(document: Any, source: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        if "keys" in document and "data" in document:
            # Which list is the inventory is a guess either way, and the other one's keys
            # would vanish from the audit without a word.
            raise KeysFileError(
                source, "holds both 'keys' and 'data': keep the list of keys under one of them"
            )
        for member in ("keys", "data"):
            if member in document:
                records = document[member]
                if not isinstance(records, list):
                    raise KeysFileError(
                        source, f"'{member}' is a {_type_name(records)}, expected a list of keys"
                    )
                return records
        raise KeysFileError(
            source, "expected a list of keys, or an object with the list under 'keys' or 'data'"
        )
    raise KeysFileError(
        source, f"the document is a {_type_name(document)}, expected a list of keys"
    )


def _key_from_record(record: Mapping[str, Any], source: str, place: str, where: str) -> ApiKey:
    def fail(detail: str) -> KeysFileError:
        return KeysFileError(source, detail, place)

    redacted: set[str] = set()
    for name, value in record.items():
        if name.lower() in SECRET_FIELD_NAMES:
            redacted.add(name)  # dropped by name, whatever it holds
        elif name not in _KNOWN_FIELDS and _holds_secret(value, 0):
            redacted.add(name)  # an ignored field that held a secret: dropped too

    if "id" not in record:
        raise fail("missing required field 'id'")
    key_id = record["id"]
    if not isinstance(key_id, str):
        raise fail(f"id: expected string, got {_type_name(key_id)} (quote it)")
    if not key_id.strip():
        raise fail("id: must not be empty")
    if looks_like_secret(key_id):
        raise fail("id looks like a secret key, not a key id: list keys by their identifier")

    name = _free_text(record.get("name"), "name", fail, redacted)
    owner = _free_text(record.get("owner"), "owner", fail, redacted)
    environment = _free_text(record.get("environment"), "environment", fail, redacted)

    full_access = record.get("full_access", False)
    if full_access is None:
        full_access = False
    if not isinstance(full_access, bool):
        raise fail(f"full_access: expected true or false, got {_type_name(full_access)}")
    scopes_value = record.get("scopes", [])
    if "scopes" in record and scopes_value is None:
        full_access = True  # `scopes: null` is how platforms list legacy keys
        scopes_value = []
    if not isinstance(scopes_value, list):
        raise fail(f"scopes: expected a list of scope names, got {_type_name(scopes_value)}")
    scopes: set[str] = set()
    for index, scope in enumerate(scopes_value):
        if not isinstance(scope, str):
            raise fail(f"scopes[{index}]: expected string, got {_type_name(scope)} (quote it)")
        if not scope:
            raise fail(f"scopes[{index}]: must not be empty")
        if looks_like_secret(scope):
            raise fail(f"scopes[{index}] looks like a secret, not a scope name")
        scopes.add(scope)

    status = record.get("status")
    if status is None:
        status = "active"
    if status not in _STATUSES:
        raise fail(f"status: expected active or revoked, got {_shown(status)}")

    created_at = _timestamp(record.get("created_at"), "created_at", fail)
    last_used_at = _timestamp(record.get("last_used_at"), "last_used_at", fail)
    return ApiKey(
        key_id=key_id,
        name=name,
        # A full-access key holds everything; what else it lists does not matter.
        scopes=frozenset() if full_access else frozenset(scopes),
        full_access=full_access,
        status=status,
        created_at=created_at,
        last_used_at=last_used_at,
        owner=owner,
        environment=environment,
        source=where,
        redacted_fields=tuple(sorted(redacted)),
    )


def _free_text(value: Any, field: str, fail: Any, redacted: set[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"{field}: expected string, got {_type_name(value)}")
    text = value if isinstance(value, str) else str(value)
    # The whole value is kept (the JSON report carries it) and redacted as a whole:
    # displays shorten it later, and a cut there can no longer split a secret.
    if looks_like_secret(text):
        redacted.add(field)
        text = redact(text)
    return text


def _holds_secret(value: Any, depth: int) -> bool:
    if depth > _MAX_SCAN_DEPTH:
        return False
    if isinstance(value, str):
        return looks_like_secret(value)
    if isinstance(value, dict):
        return any(
            str(name).lower() in SECRET_FIELD_NAMES or _holds_secret(item, depth + 1)
            for name, item in value.items()
        )
    if isinstance(value, list):
        return any(_holds_secret(item, depth + 1) for item in value)
    return False


def _timestamp(value: Any, field: str, fail: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime(day.year, day.month, day.day)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise fail(f"{field}: not an ISO 8601 date or timestamp: {_shown(text)}") from None
    else:
        raise fail(f"{field}: expected an ISO 8601 timestamp, got {_type_name(value)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = datetime.max.replace(tzinfo=UTC)  # forces the range error below
    if moment == _ZERO_TIME:
        return None  # Go's zero time, how some platform APIs write "never"
    if not EARLIEST_DATE <= moment <= LATEST_DATE:
        raise fail(
            f"{field}: {moment.date().isoformat()} is outside the years "
            f"{EARLIEST_DATE.year} to {LATEST_DATE.year}"
        )
    return moment


_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _check_unique(keys: list[ApiKey], source: str) -> None:
    first_seen: dict[str, ApiKey] = {}
    for key in keys:
        earlier = first_seen.get(key.key_id)
        if earlier is not None:
            place = key.source.removeprefix(source).lstrip(":")
            raise KeysFileError(
                source,
                f"duplicate key id {_shown(key.key_id)}: "
                f"records at {earlier.source} and {key.source}",
                place,
            )
        first_seen[key.key_id] = key


def _csv_rows(reader: Any, source: str) -> Iterator[tuple[int, list[str]]]:
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as problem:
            detail = (
                "a quote opened on this line is never closed"
                if "unexpected end of data" in str(problem)
                else f"not valid CSV: {problem}"
            )
            raise KeysFileError(source, detail, str(line)) from None
        yield line, row
        line = reader.line_num + 1


def _record_lines(path: Path) -> list[int] | None:
    """The line each record of the key list starts on, from YAML parser events.

    Best effort: any problem (a layout this does not recognize, a parser limit) gives
    None and records are then located by their index.
    """
    try:
        import yaml

        text = path.read_text(encoding="utf-8-sig")
        loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader = loader_class(text)
        try:
            return _lines_from_events(iter(loader.get_event, None))
        finally:
            loader.dispose()
    except Exception:  # location is a nicety; the document itself already parsed
        return None


def _lines_from_events(next_events: Iterator[Any]) -> list[int] | None:
    import yaml

    depth = 0
    list_depth: int | None = None
    pending_member: str | None = None  # key of the root mapping whose value comes next
    expect_key = False
    lines: list[int] = []
    for event in next_events:
        if isinstance(event, yaml.StreamEndEvent):
            break
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if list_depth is not None and depth == list_depth:
                lines.append(event.start_mark.line + 1)
            if (
                list_depth is None
                and isinstance(event, yaml.SequenceStartEvent)
                and (depth == 0 or (depth == 1 and pending_member in ("keys", "data")))
            ):
                list_depth = depth + 1
            depth += 1
            if depth == 1 and isinstance(event, yaml.MappingStartEvent):
                expect_key = True
            pending_member = None
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            if list_depth is not None and depth < list_depth:
                return lines
            if depth == 1:
                expect_key = True
            continue
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            if list_depth is not None and depth == list_depth:
                lines.append(event.start_mark.line + 1)
            elif depth == 1 and list_depth is None:
                if expect_key and isinstance(event, yaml.ScalarEvent):
                    pending_member = event.value
                    expect_key = False
                else:
                    pending_member = None
                    expect_key = True
    return lines if list_depth is not None else None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _shown(value: Any) -> str:
    """A value for an error message: short, one line, and never a secret."""
    text = value if isinstance(value, str) else repr(value)
    text = redact(text)
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)
