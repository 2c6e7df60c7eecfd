"""Safe, strict loading of YAML and JSON documents (specs, key inventories, suppressions).

Every input keyscope reads as YAML or JSON comes through :func:`load_document` (a file)
or :func:`parse_document` (bytes or text already in memory).  Both return plain Python
data (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``) or raise the
caller's :class:`~keyscope.errors.SourceError` subclass with one line naming the file
and the place (``line:col``).

Why not ``yaml.safe_load``:

* **YAML 1.1 surprises.**  PyYAML resolves ``on``/``no``/``yes``/``off`` to booleans,
  ``12:30`` to 750, ``0777`` to 511, ``1.10`` to 1.1 and ``2024-01-02`` to a date.  Here a
  plain scalar becomes a number only when the number's canonical text is exactly what
  was written (``30``, ``-2``, ``1.5``); ``true``/``false`` (any case) are booleans and
  ``null``/``~``/empty are None; everything else stays the original text.  That is the
  YAML 1.2 core schema, minus the conversions that would lose the written text.
* **Duplicate keys** are an error naming both lines (PyYAML keeps the last silently).
* **Keys are strings.**  A plain whole number key (``200:``, common for response codes)
  is kept as its text; a boolean, null, fractional or collection key is rejected, so
  ``1:`` and ``true:`` can never collapse into one entry.
* **Bounded resources.**  Input bytes are capped; aliases are counted and the size of
  the document with every alias expanded is computed as it is built, so a "billion
  laughs" file fails at once instead of hours later in whatever walks it; an alias to
  its own enclosing node (``a: &x [*x]``) is a cycle and an error; nesting is capped
  (libyaml also refuses more than 1000 levels) and ``RecursionError``/``MemoryError``
  never escape as tracebacks.
* **One document.**  A second ``---`` document is an error, not silently ignored.
* **Encoding.**  UTF-8 only; a byte-order mark is accepted; invalid UTF-8 is reported
  with its byte offset.

JSON goes through the standard ``json`` module (much faster than any YAML parser on a
multi-megabyte spec) with duplicate-key detection and ``NaN``/``Infinity`` rejected.
Files that start with ``{`` or ``[`` are tried as JSON first; ``.json`` files are JSON
only.  YAML events come from libyaml's C parser when PyYAML was built with it and from
PyYAML's pure-Python parser otherwise; the document itself is built here, iteratively.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml import events as _events

from keyscope.errors import SourceError, SpecError

__all__ = [
    "DEFAULT_MAX_ALIASES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "LIBYAML",
    "load_document",
    "open_input",
    "parse_document",
    "read_capped",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Largest input accepted (64 MiB; the biggest public specs are a few MB)."""
DEFAULT_MAX_ALIASES = 10_000
"""Most alias references (``*name``) one YAML document may use."""
DEFAULT_MAX_NODES = 5_000_000
"""Most nodes a document may hold once every alias is expanded."""
DEFAULT_MAX_DEPTH = 500
"""Deepest nesting accepted (real specs nest a few dozen levels)."""

try:  # libyaml's parser: about 5x faster than the pure-Python one.
    from yaml.cyaml import CParser as _CParser

    LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser = None
    LIBYAML = False

_TAG = "tag:yaml.org,2002:"
_STR_TAG = _TAG + "str"
_MAP_TAGS = frozenset({None, "!", _TAG + "map"})
_SEQ_TAGS = frozenset({None, "!", _TAG + "seq"})

_PLAIN_CONSTANTS: dict[str, Any] = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
}  # fmt: skip
_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]{0,30}")
_MAYBE_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,30})\.[0-9]{1,30}")
_NUMERIC_START = frozenset("-0123456789")
_MISSING = object()
_MERGE = object()


def open_input(path: Path, error: type[SourceError]) -> BinaryIO:
    """Open an input file for reading, refusing anything but a regular file.

    Opened without blocking, so a named pipe nobody writes to is refused at once rather
    than waited on forever; a folder, a device or a socket is refused too (an input is
    read whole, sometimes twice).

    Raises:
        SourceError: (of class ``error``) missing, unreadable or not a regular file.
    """
    where = str(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise error(where, "file not found") from None
    except OSError as problem:  # no permission, a loop of links, a name too long...
        raise error(where, f"cannot read: {problem.strerror or problem}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        what = "a folder" if stat.S_ISDIR(mode) else "a pipe, a device or a socket"
        raise error(where, f"is {what}, not a regular file")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_capped(
    path: Path, *, error: type[SourceError] = SpecError, max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes:
    """Read a whole file, refusing anything larger than ``max_bytes``.

    Args:
        path: The file.
        error: The exception class to raise (``SpecError``, ``KeysFileError``...).
        max_bytes: The byte cap.

    Returns:
        The file's bytes.

    Raises:
        SourceError: (of class ``error``) the file is missing, unreadable or too large.
    """
    where = str(path)
    with open_input(path, error) as stream:
        try:
            data = stream.read(max_bytes + 1)
        except OSError as problem:
            raise error(where, f"cannot read: {problem.strerror or problem}") from None
    if len(data) > max_bytes:
        raise error(where, f"larger than the {max_bytes:,}-byte limit for this input")
    return data


def load_document(
    path: Path,
    *,
    error: type[SourceError] = SpecError,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_aliases: int = DEFAULT_MAX_ALIASES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Any:
    """Read and parse one YAML or JSON file safely.

    Args:
        path: The file.
        error: The exception class for every failure, so each input type reports
            its own kind of error (``SpecError`` for specs, ``KeysFileError``...).
        max_bytes: Input byte cap.
        max_aliases: Cap on YAML alias references.
        max_nodes: Cap on the node count with aliases expanded.

    Returns:
        Plain data: dicts with string keys, lists, strings, numbers, booleans, None.

    Raises:
        SourceError: (of class ``error``) one line naming the file and the place.
    """
    data = read_capped(path, error=error, max_bytes=max_bytes)
    return parse_document(
        data,
        str(path),
        error=error,
        json_only=path.suffix.lower() == ".json",
        max_aliases=max_aliases,
        max_nodes=max_nodes,
    )


def parse_document(
    data: bytes | str,
    source: str,
    *,
    error: type[SourceError] = SpecError,
    json_only: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_aliases: int = DEFAULT_MAX_ALIASES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Any:
    """Parse YAML or JSON held in memory; see :func:`load_document`.

    Args:
        data: The document, as bytes (must be UTF-8) or text.
        source: What to call it in error messages (a path or a URL).
        error: The exception class for every failure.
        json_only: Parse as JSON only (a ``.json`` file).
        max_bytes: Input byte cap (checked here too, for fetched documents).
        max_aliases: Cap on YAML alias references.
        max_nodes: Cap on the node count with aliases expanded.

    Returns:
        Plain data.

    Raises:
        SourceError: (of class ``error``) one line naming ``source`` and the place.
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise error(source, f"larger than the {max_bytes:,}-byte limit for this input")
        text = _decode_utf8(data, source, error)
    else:
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]
    first = text.lstrip()[:1]
    if json_only or first in ("{", "["):
        try:
            return _parse_json(text, source, error)
        except _NotJson as not_json:
            if json_only:
                raise error(source, f"not valid JSON: {not_json.message}", not_json.place) from None
    try:
        return _YamlBuilder(text, source, error, max_aliases, max_nodes).build()
    except RecursionError:
        raise error(source, "nesting too deep to parse") from None
    except MemoryError:
        raise error(source, "document too large to hold in memory") from None


# --------------------------------------------------------------------------- bytes


def _decode_utf8(data: bytes, source: str, error: type[SourceError]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        offset = problem.start
        line = data.count(b"\n", 0, offset) + 1
        line_start = data.rfind(b"\n", 0, offset) + 1
        column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
        raise error(
            source, f"not valid UTF-8 (bad byte 0x{data[offset]:02x} at byte offset {offset})",
            f"{line}:{column}",
        ) from None  # fmt: skip


def _place_of_index(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


# --------------------------------------------------------------------------- JSON


class _NotJson(Exception):
    def __init__(self, message: str, place: str) -> None:
        super().__init__(message)
        self.message = message
        self.place = place


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _BadConstant(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return mapping


def _refuse_constant(name: str) -> Any:
    raise _BadConstant(name)


_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_to_dict, parse_constant=_refuse_constant)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|(?:-?Infinity|NaN)\b', re.DOTALL)


def _parse_json(text: str, source: str, error: type[SourceError]) -> Any:
    try:
        return _JSON_DECODER.decode(text)
    except json.JSONDecodeError as problem:
        raise _NotJson(problem.msg, f"{problem.lineno}:{problem.colno}") from None
    except _DuplicateKey as duplicate:
        raise _json_duplicate_error(text, source, error, duplicate.key) from None
    except _BadConstant as constant:
        name = constant.name
        place = _first_json_token(text, lambda token: token == name)
        raise error(source, f"{name} is not a JSON number", place) from None
    except RecursionError:
        place = _first_json_token(text, _depth_tracker(DEFAULT_MAX_DEPTH))
        raise error(source, "nesting too deep to parse", place) from None
    except MemoryError:
        raise error(source, "document too large to hold in memory") from None
    except ValueError as problem:  # e.g. an integer with more than 4300 digits
        raise error(source, f"not valid JSON: {problem}") from None


def _first_json_token(text: str, wanted: Any) -> str:
    """The ``line:col`` of the first structural token (outside strings) ``wanted`` accepts."""
    for match in _JSON_TOKEN.finditer(text):
        token = match.group(0)
        if token[0] != '"' and wanted(token):
            return _place_of_index(text, match.start())
    return ""


def _depth_tracker(limit: int) -> Any:
    depth = 0

    def deeper_than_limit(token: str) -> bool:
        nonlocal depth
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
        return depth > limit

    return deeper_than_limit


def _json_duplicate_error(
    text: str, source: str, error: type[SourceError], key: str
) -> SourceError:
    """Name both lines of a JSON duplicate key: re-read the text as YAML, which tracks lines."""
    try:
        _YamlBuilder(text, source, error, DEFAULT_MAX_ALIASES, DEFAULT_MAX_NODES).build()
    except SourceError as located:
        if "duplicate key" in located.detail:
            return located
    except (RecursionError, MemoryError):
        pass
    return error(source, f"duplicate key {key!r} in one object")


# --------------------------------------------------------------------------- YAML


class _PyEventSource(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python event parser, for installs without libyaml."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def _event_source(text: str) -> Any:
    # Looked up at call time so tests can exercise the pure-Python path too.
    if LIBYAML and _CParser is not None:
        return _CParser(text)
    return _PyEventSource(text)


def _mark_place(mark: Any) -> str:
    return f"{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


class _Frame:
    """A collection being built: its container, expanded size and (for maps) key state."""

    __slots__ = ("anchor", "container", "is_map", "key", "key_lines", "mark", "merges", "size")

    def __init__(self, container: Any, is_map: bool, anchor: str | None, mark: Any) -> None:
        self.container = container
        self.is_map = is_map
        self.anchor = anchor
        self.mark = mark
        self.size = 1
        self.key: Any = _MISSING
        self.key_lines: dict[str, int] | None = {} if is_map else None
        self.merges: list[dict[str, Any]] | None = None


class _YamlBuilder:
    """Builds plain data from parser events with explicit stacks (never recursion)."""

    def __init__(
        self, text: str, source: str, error: type[SourceError], max_aliases: int, max_nodes: int
    ) -> None:
        self.text = text
        self.source = source
        self.error = error
        self.max_aliases = max_aliases
        self.max_nodes = max_nodes
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.aliases = 0

    def fail(self, detail: str, mark: Any = None) -> SourceError:
        return self.error(self.source, detail, _mark_place(mark))

    def build(self) -> Any:
        parser = _event_source(self.text)
        try:
            return self._run(parser)
        except yaml.MarkedYAMLError as problem:
            mark = problem.problem_mark or problem.context_mark
            detail = " ".join(part for part in (problem.context, problem.problem) if part)
            raise self.fail(f"not valid YAML: {detail or 'syntax error'}", mark) from None
        except yaml.reader.ReaderError as problem:
            # A character YAML forbids (a control character): name it and its line:col,
            # in one line (the library's message spans two).
            position = problem.position
            line = self.text.count("\n", 0, position) + 1
            column = position - self.text.rfind("\n", 0, position)
            character = problem.character
            shown = f"#x{character:04x}" if isinstance(character, int) else repr(character)
            raise self.error(
                self.source,
                f"not valid YAML: character {shown} is not allowed ({problem.reason})",
                f"{line}:{column}",
            ) from None
        except yaml.YAMLError as problem:
            raise self.fail(f"not valid YAML: {' '.join(str(problem).split())}") from None
        finally:
            dispose = getattr(parser, "dispose", None)
            if dispose is not None:
                dispose()

    def _run(self, parser: Any) -> Any:
        get_event = parser.get_event
        scalar_event = _events.ScalarEvent
        mapping_start = _events.MappingStartEvent
        mapping_end = _events.MappingEndEvent
        sequence_start = _events.SequenceStartEvent
        sequence_end = _events.SequenceEndEvent
        alias_event = _events.AliasEvent
        document_start = _events.DocumentStartEvent
        stream_end = _events.StreamEndEvent
        stack: list[_Frame] = []
        root: Any = _MISSING
        documents = 0
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                top = stack[-1] if stack else None
                if top is not None and top.is_map and top.key is _MISSING:
                    self._set_key(top, self._key_text(event), event.start_mark)
                    continue
                value = self._scalar(event)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
                if top is None:
                    root = value
                else:
                    self._add(top, value, 1, event.start_mark)
            elif kind is mapping_start or kind is sequence_start:
                is_map = kind is mapping_start
                if event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                    raise self.fail(f"unsupported YAML tag {event.tag!r}", event.start_mark)
                if stack and stack[-1].is_map and stack[-1].key is _MISSING:
                    raise self.fail(
                        "mapping keys must be strings, not collections", event.start_mark
                    )
                if len(stack) >= DEFAULT_MAX_DEPTH:
                    raise self.fail(
                        f"nested more than {DEFAULT_MAX_DEPTH} levels deep", event.start_mark
                    )
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                stack.append(_Frame({} if is_map else [], is_map, event.anchor, event.start_mark))
            elif kind is mapping_end or kind is sequence_end:
                frame = stack.pop()
                value = frame.container
                if frame.merges:
                    for merged in frame.merges:
                        for key, item in merged.items():
                            value.setdefault(key, item)
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (value, frame.size)
                if stack:
                    self._add(stack[-1], value, frame.size, frame.mark)
                else:
                    root = value
            elif kind is alias_event:
                self._alias(event, stack)
                if not stack:
                    root = self.anchors[event.anchor][0]
            elif kind is document_start:
                documents += 1
                if documents > 1:
                    raise self.fail(
                        "more than one YAML document in the file (only one is read)",
                        event.start_mark,
                    )
            elif kind is stream_end:
                if root is _MISSING:
                    raise self.fail("the file is empty (no document)")
                return root

    def _alias(self, event: Any, stack: list[_Frame]) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise self.fail(
                f"alias *{name} refers to a node that contains it (a cycle)", event.start_mark
            )
        if name not in self.anchors:
            raise self.fail(
                f"alias *{name} refers to no anchor defined before it", event.start_mark
            )
        self.aliases += 1
        if self.aliases > self.max_aliases:
            raise self.fail(f"more than {self.max_aliases:,} aliases", event.start_mark)
        value, size = self.anchors[name]
        if not stack:
            return
        top = stack[-1]
        if top.is_map and top.key is _MISSING:
            raise self.fail("mapping keys must be plain strings, not aliases", event.start_mark)
        self._add(top, value, size, event.start_mark)

    def _add(self, frame: _Frame, value: Any, size: int, mark: Any) -> None:
        frame.size += size
        if frame.size > self.max_nodes:
            raise self.fail(f"expands to more than {self.max_nodes:,} nodes (alias bomb?)", mark)
        if not frame.is_map:
            frame.container.append(value)
            return
        key = frame.key
        frame.key = _MISSING
        if key is _MERGE:
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) for item in merged):
                raise self.fail("a merge key (<<) must refer to mappings", mark)
            frame.merges = (frame.merges or []) + merged  # earlier mappings win
            return
        frame.container[key] = value

    def _set_key(self, frame: _Frame, key: Any, mark: Any) -> None:
        lines = frame.key_lines
        assert lines is not None
        name = "<<" if key is _MERGE else key
        if name in lines:
            raise self.fail(
                f"duplicate key {name!r} (first at line {lines[name]}, again at line "
                f"{mark.line + 1})",
                mark,
            )
        lines[name] = mark.line + 1
        frame.key = key

    def _key_text(self, event: Any) -> Any:
        """A mapping key: its text, or an error when YAML would read it as a non-string."""
        value = event.value
        tag = event.tag
        if tag == _STR_TAG or (tag is None and not event.implicit[0]):
            return value
        if tag not in (None, "!"):
            raise self.fail(
                f"mapping key {value!r} has tag {tag!r}; keys must be strings", event.start_mark
            )
        if tag == "!":
            return value
        if value == "<<":
            return _MERGE
        resolved = _resolve_plain(value)
        if isinstance(resolved, str) or (type(resolved) is int):
            return value  # whole numbers (response codes like 200) keep their text
        kind = "null" if resolved is None else type(resolved).__name__
        raise self.fail(
            f"mapping key {value!r} is read as {kind}, not a string; quote it", event.start_mark
        )

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        value = event.value
        if tag is None:
            return _resolve_plain(value) if event.implicit[0] else value
        if tag == "!" or tag == _STR_TAG:
            return value
        name = tag[len(_TAG) :]
        if name not in ("null", "bool", "int", "float"):
            raise self.fail(f"unsupported YAML tag {tag!r}", event.start_mark)
        resolved = _resolve_plain(value)
        if name == "null" and resolved is None:
            return None
        if name == "bool" and isinstance(resolved, bool):
            return resolved
        if name == "int" and type(resolved) is int:
            return resolved
        if name == "float" and isinstance(resolved, int | float) and not isinstance(resolved, bool):
            return float(resolved)
        raise self.fail(f"{value!r} is not a valid !!{name}", event.start_mark)


def _resolve_plain(value: str) -> Any:
    """Resolve an untagged plain scalar: constants, canonical numbers, else the text."""
    constant = _PLAIN_CONSTANTS.get(value, _MISSING)
    if constant is not _MISSING:
        return constant
    if value[0] in _NUMERIC_START:
        if _CANONICAL_INT.fullmatch(value):
            return int(value)
        if _MAYBE_FLOAT.fullmatch(value):
            number = float(value)
            if repr(number) == value:
                return number
    return value
