"""Map a request, as a log records it, to the one spec operation it called.

Usage ingestion calls this once per distinct ``(method, path)`` seen in the logs, so it is a
hot path: :class:`RouteMatcher` compiles the spec's path templates into one segment trie per
HTTP method and walks it with dictionary lookups, never scanning a list of regexes.

Request normalization (:func:`normalize_request_path`), in this order:

1. A full URL (``https://api.example.com/v1/x``) loses its scheme and host (and any
   ``user:password@`` in it). A target that neither starts with ``/`` nor is a full URL
   (``*``, ``host:443``, ``invoices``, the empty string, a non-string) is unusable: ``None``.
2. The query string and the fragment are cut off at the first ``?`` or ``#`` (so an
   ``?api_key=`` in a logged URL never reaches a report).
3. The path is split on ``/``; empty segments are dropped, which collapses duplicate
   slashes and drops a trailing slash (``/`` itself stays ``/``).
4. Each segment is percent-decoded *after* splitting, as UTF-8 with invalid bytes replaced
   (a ``%`` without two hex digits after it is kept), so ``%2F`` stays inside its segment
   (``/files/a%2Fb`` has two segments, not three).
5. A ``.`` or ``..`` segment, raw or decoded (``%2e%2e``), makes the request unusable:
   ``/v1/charges/../keys`` is never resolved to ``/v1/keys``, it is unmatched.
6. The longest server base path (``/v1``) that the path starts with, on segment
   boundaries, is removed. A path under no base path is kept as it is, for gateways that
   log the path after stripping the prefix themselves.

The normalized path is the decoded segments joined with ``/``, where only ``%``, ``/``,
``?`` and ``#`` inside a segment are written percent-encoded again. Normalizing that text
with no base paths gives it back unchanged (step 6 is deliberately not idempotent: a path
``/v1/v1/x`` loses one prefix per call).

Matching rules (:meth:`RouteMatcher.match`):

- The method is compared upper-cased (``get`` is ``GET``). A ``HEAD`` request matches the
  template's ``HEAD`` operation, or, when it has none, its ``GET`` operation (HTTP servers
  answer HEAD with the GET handler), and the GET operation's key is returned.
- Segments compare case-sensitively, after decoding. At every level a literal segment is
  preferred over a segment that mixes literal text and parameters (``{name}.json``,
  ``{id}:cancel``, the one with the most literal characters first), which is preferred over
  a plain parameter (``{id}``). When the preferred branch cannot complete the match, the
  next one is tried (``/invoices/search/send`` still reaches ``/invoices/{id}/send``).
- The method is part of the match: ``POST /invoices/search`` reaches
  ``POST /invoices/{id}`` when ``/invoices/search`` has no POST, as most routers do.
- A parameter matches exactly one non-empty segment. Nothing matches: ``None``; callers
  count those requests as unmatched, they never drop them.

Templates are read the same way as requests (split, decode, empty segments dropped), so
``/invoices/`` and ``/invoices`` are the same template; when two operations land on the
same method and trie slot (``/a/{x}`` and ``/a/{y}``) the first by key wins and
:func:`ambiguous_templates` reports the pair.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from keyscope.model import ApiSpec, Operation

__all__ = [
    "RouteMatcher",
    "ambiguous_templates",
    "normalize_request_path",
]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_PARAMETER = re.compile(r"\{[^{}/]+\}")
_DOT_SEGMENTS = frozenset((".", ".."))
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# Characters that must stay percent-encoded inside a normalized segment so that reading the
# normalized path again gives the same segments ("%" first, so it is not encoded twice).
_SEGMENT_ESCAPES = (("%", "%25"), ("/", "%2F"), ("?", "%3F"), ("#", "%23"))


# --------------------------------------------------------------------------- normalization


def _decode_percent_run(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("%", "")).decode("utf-8", "replace")


def _decode_segment(segment: str) -> str:
    """Percent-decode one segment as UTF-8, invalid bytes replaced (like ``unquote``).

    A run of escapes is decoded as one byte string, so multi-byte characters survive; a
    ``%`` not followed by two hex digits stays as it is.
    """
    return _PERCENT_RUN.sub(_decode_percent_run, segment)


def _url_path(url: str) -> str | None:
    """The path (with query) of a full URL, ``/`` when it has none; None if not a URL."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    rest = url[scheme.end() :]
    authority_end = len(rest)
    for delimiter in "/?#":
        position = rest.find(delimiter, 0, authority_end)
        if position != -1:
            authority_end = position
    path = rest[authority_end:]
    return path if path[:1] == "/" else "/" + path


def _request_segments(raw: object) -> list[str] | None:
    """Decoded segments of a request target (rules 1-5 of the module docstring)."""
    if not isinstance(raw, str) or not raw:
        return None
    path = raw if raw[0] == "/" else _url_path(raw)
    if path is None:
        return None
    if "?" in path:
        path = path[: path.index("?")]
    if "#" in path:
        path = path[: path.index("#")]
    segments = path.split("/")
    del segments[0]  # the path starts with "/"
    if "" in segments:
        segments = [segment for segment in segments if segment]
    if "%" in path:
        segments = [_decode_segment(segment) if "%" in segment else segment for segment in segments]
    if not _DOT_SEGMENTS.isdisjoint(segments):
        return None
    return segments


def _encode_segment(segment: str) -> str:
    for character, escape in _SEGMENT_ESCAPES:
        if character in segment:
            segment = segment.replace(character, escape)
    return segment


def _join_segments(segments: Sequence[str]) -> str:
    return "/" + "/".join(_encode_segment(segment) for segment in segments)


@lru_cache(maxsize=64)
def _base_segments(base_paths: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Base paths as segment tuples, longest first, unusable ones and duplicates dropped."""
    bases: set[tuple[str, ...]] = set()
    for base in base_paths:
        if not isinstance(base, str):
            continue
        if base and base[0] != "/" and _SCHEME.match(base) is None:
            base = "/" + base
        segments = _request_segments(base or "/")
        if segments:
            bases.add(tuple(segments))
    return tuple(sorted(bases, key=lambda segments: (-len(segments), segments)))


def _as_tuple(base_paths: Iterable[str] | str) -> tuple[str, ...]:
    """Base paths as a tuple; a lone string is one base path, not a list of characters."""
    return (base_paths,) if isinstance(base_paths, str) else tuple(base_paths)


def _strip_base(segments: list[str], bases: tuple[tuple[str, ...], ...]) -> list[str]:
    for base in bases:
        length = len(base)
        if len(segments) >= length and tuple(segments[:length]) == base:
            return segments[length:]
    return segments


def normalize_request_path(raw: str, base_paths: tuple[str, ...] = ()) -> str | None:
    """Normalize a request target as logged into the path the matcher compares.

    Args:
        raw: The path or full URL as the log recorded it, query string and all.
        base_paths: Server base paths (``ApiSpec.base_paths``); the longest one the path
            starts with is removed. ``""`` entries mean "no base path" and are ignored.

    Returns:
        The normalized path (``/invoices/inv_1``), ``/`` for the root, or ``None`` when the
        input is unusable: not a string, empty, neither a path nor a full URL, or holding a
        ``.``/``..`` segment. See the module docstring for every rule.
    """
    segments = _request_segments(raw)
    if segments is None:
        return None
    if base_paths:
        segments = _strip_base(segments, _base_segments(_as_tuple(base_paths)))
    return _join_segments(segments)


# --------------------------------------------------------------------------- templates


class _SegmentPattern:
    """A template segment mixing literal text and parameters, like ``{name}.json``.

    Each parameter matches one or more characters. Matching places every inner literal at
    its leftmost possible position, which finds a match whenever one exists and takes time
    linear in the segment (a regex with several ``.+`` could backtrack quadratically on a
    hostile log line).
    """

    __slots__ = ("literals", "minimum_length", "parameters")

    def __init__(self, segment: str) -> None:
        self.literals = tuple(_PARAMETER.split(segment))
        self.parameters = len(self.literals) - 1
        self.minimum_length = sum(map(len, self.literals)) + self.parameters

    @property
    def literal_characters(self) -> int:
        return self.minimum_length - self.parameters

    def matches(self, segment: str) -> bool:
        literals = self.literals
        prefix, suffix = literals[0], literals[-1]
        if (
            len(segment) < self.minimum_length
            or not segment.startswith(prefix)
            or not segment.endswith(suffix)
        ):
            return False
        end = len(segment) - len(suffix)
        position = len(prefix)
        for literal in literals[1:-1]:
            # The parameter before this literal needs at least one character.
            found = segment.find(literal, position + 1, end)
            if found == -1:
                return False
            position = found + len(literal)
        return end - position >= 1


def _template_segments(path: str) -> list[str] | None:
    """Template segments, literal ones decoded like request segments."""
    if not isinstance(path, str):
        return None
    segments = [segment for segment in path.split("/") if segment]
    return [
        segment if "{" in segment or "%" not in segment else _decode_segment(segment)
        for segment in segments
    ]


def _segment_kind(segment: str) -> int:
    """0 literal, 1 mixed literal and parameters, 2 plain parameter."""
    parameters = _PARAMETER.findall(segment)
    if not parameters:
        return 0
    if len(parameters) == 1 and parameters[0] == segment:
        return 2
    return 1


def _template_shape(path: str) -> tuple[str | tuple[str, ...], ...]:
    """The template with parameter names erased: ``/a/{x}.json`` → ``("a", ("", ".json"))``.

    Literal segments stay strings; a segment with parameters becomes the tuple of its
    literal pieces, so a literal ``{}`` can never be confused with a parameter. Two
    templates with the same shape match exactly the same requests.
    """
    return tuple(
        segment if _segment_kind(segment) == 0 else tuple(_PARAMETER.split(segment))
        for segment in _template_segments(path) or []
    )


def ambiguous_templates(operations: Iterable[Operation]) -> list[tuple[str, str]]:
    """Pairs of distinct path templates that match exactly the same requests.

    OpenAPI says templated paths with the same hierarchy but different parameter names
    (``/a/{x}`` and ``/a/{y}``) MUST NOT exist; ``/a`` and ``/a/`` collide the same way.
    Overlaps that the concrete-first rule settles (``/a/b`` and ``/a/{x}``) are not listed.

    Args:
        operations: The spec's operations; each distinct path counts once.

    Returns:
        Sorted ``(path, other_path)`` pairs, ``path < other_path``.
    """
    by_shape: dict[tuple[str | tuple[str, ...], ...], set[str]] = {}
    for operation in operations:
        by_shape.setdefault(_template_shape(operation.path), set()).add(operation.path)
    pairs = []
    for paths in by_shape.values():
        ordered = sorted(paths)
        pairs.extend(
            (first, second)
            for index, first in enumerate(ordered)
            for second in ordered[index + 1 :]
        )
    return sorted(pairs)


# --------------------------------------------------------------------------- the trie


class _Node(dict[str, "_Node"]):
    """One level of a method's trie: the dict maps literal segments to child nodes.

    Subclassing dict saves an attribute load per segment on the hot path.
    """

    __slots__ = ("fallback", "key", "parameter", "patterns")

    def __init__(self) -> None:
        super().__init__()
        self.patterns: tuple[tuple[_SegmentPattern, _Node], ...] = ()
        self.parameter: _Node | None = None
        self.key: str | None = None
        """``Operation.key`` of the operation ending here for this trie's method."""
        self.fallback: _Node | None = None
        """``parameter`` when this node has no mixed segments (the walk can take it
        without trying patterns), else None; set by :meth:`seal`."""

    def child(self, segment: str) -> _Node:
        kind = _segment_kind(segment)
        if kind == 0:
            node = self.get(segment)
            if node is None:
                node = self[segment] = _Node()
            return node
        if kind == 2:
            if self.parameter is None:
                self.parameter = _Node()
            return self.parameter
        pattern = _SegmentPattern(segment)
        for existing, node in self.patterns:
            if existing.literals == pattern.literals:
                return node
        node = _Node()
        # Most literal text first, then fewer parameters, then the pieces, for determinism.
        self.patterns = tuple(
            sorted(
                (*self.patterns, (pattern, node)),
                key=lambda entry: (
                    -entry[0].literal_characters,
                    entry[0].parameters,
                    entry[0].literals,
                ),
            )
        )
        return node

    def seal(self) -> None:
        """Set ``fallback`` in this subtree once every template is in."""
        pending = [self]
        while pending:
            node = pending.pop()
            node.fallback = None if node.patterns else node.parameter
            pending.extend(node.values())
            pending.extend(child for _pattern, child in node.patterns)
            if node.parameter is not None:
                pending.append(node.parameter)


def _search(root: _Node, segments: Sequence[str]) -> str | None:
    """Depth-first search in priority order: literal, then mixed segments, then parameter.

    Iterative (a template thousands of segments deep cannot exhaust the call stack), and
    each trie node is visited at most once, so the time is bounded by the trie's size.
    """
    last = len(segments)
    stack = [(root, 0)]
    while stack:
        node, index = stack.pop()
        if index == last:
            if node.key is not None:
                return node.key
            continue
        segment = segments[index]
        following = index + 1
        # Pushed in reverse priority order, so the preferred edge is explored first.
        if node.parameter is not None:
            stack.append((node.parameter, following))
        for pattern, child in reversed(node.patterns):
            if pattern.matches(segment):
                stack.append((child, following))
        literal = node.get(segment)
        if literal is not None:
            stack.append((literal, following))
    return None


def _walk(root: _Node, segments: Sequence[str]) -> str | None:
    """Follow the preferred edge at every level; search only when that dead-ends.

    Most requests match along the preferred path, so the full search runs only for
    requests that backtrack, pass a mixed segment, or match nothing.
    """
    node = root
    for segment in segments:
        child = node.get(segment)
        if child is None:
            child = node.fallback
            if child is None:
                return _search(root, segments)
        node = child
    key = node.key
    if key is None:
        return _search(root, segments)
    return key


class RouteMatcher:
    """Resolves ``(method, request path)`` to an ``Operation.key``, concrete first.

    Build it once per spec and call :meth:`match` per distinct request; it keeps no cache
    and no state between calls, so it is safe to share between threads.
    """

    __slots__ = ("_bases", "_by_method", "_fast_prefixes", "_operations", "_roots")

    def __init__(self, spec: ApiSpec) -> None:
        """Compile a spec's operations.

        Args:
            spec: The loaded spec; its ``base_paths`` are the prefixes requests may carry.
        """
        self._build(spec.operations, _as_tuple(spec.base_paths))

    @classmethod
    def from_operations(
        cls, operations: Iterable[Operation], base_paths: Iterable[str] = ()
    ) -> RouteMatcher:
        """Build a matcher from operations without a whole :class:`ApiSpec`.

        Args:
            operations: The operations to match; ``method`` in any case.
            base_paths: Server base paths (``/v1``) that requests may carry.

        Returns:
            A ready matcher.
        """
        matcher = cls.__new__(cls)
        matcher._build(tuple(operations), _as_tuple(base_paths))
        return matcher

    def _build(self, operations: Iterable[Operation], base_paths: tuple[str, ...]) -> None:
        by_template: dict[tuple[str, ...], dict[str, str]] = {}
        ordered = sorted(operations, key=lambda operation: (operation.path, operation.method))
        self._operations = tuple(ordered)
        for operation in ordered:
            segments = _template_segments(operation.path)
            if segments is None or not isinstance(operation.method, str):
                continue
            methods = by_template.setdefault(tuple(segments), {})
            # First by (path, method) wins a duplicate slot; ambiguous_templates reports it.
            methods.setdefault(operation.method.upper(), operation.key)
        roots: dict[str, _Node] = {}
        for segments, methods in by_template.items():
            effective = dict(methods)
            if "HEAD" not in effective and "GET" in effective:
                effective["HEAD"] = effective["GET"]
            for method, key in effective.items():
                node = roots.setdefault(method, _Node())
                for segment in segments:
                    node = node.child(segment)
                if node.key is None:
                    node.key = key
        for root in roots.values():
            root.seal()
        self._roots = roots
        # Lower-case spellings resolve without an exception or an upper() call per request.
        self._by_method = {**{method.lower(): root for method, root in roots.items()}, **roots}
        self._bases = _base_segments(base_paths)
        # The fast path strips base paths on the raw text; that is exact only when every
        # base path is plain text. Otherwise every request takes the general path.
        prefixes = []
        for base in self._bases:
            text = _join_segments(base)
            prefixes.append(text if "%" not in text else None)
        self._fast_prefixes: tuple[str, ...] | None = (
            None if None in prefixes else tuple(prefix for prefix in prefixes if prefix)
        )

    @property
    def operations(self) -> tuple[Operation, ...]:
        """The operations compiled, sorted by path then method."""
        return self._operations

    @property
    def methods(self) -> frozenset[str]:
        """Methods with at least one operation (``HEAD`` whenever ``GET`` is there)."""
        return frozenset(self._roots)

    def normalize(self, raw_path: str) -> str | None:
        """:func:`normalize_request_path` with this matcher's base paths."""
        segments = _request_segments(raw_path)
        if segments is None:
            return None
        return _join_segments(_strip_base(segments, self._bases))

    def match(self, method: str, raw_path: str) -> str | None:
        """The operation a request called.

        Args:
            method: The HTTP method in any case.
            raw_path: The path or full URL as logged, with base path, query and all.

        Returns:
            The ``Operation.key`` (``"GET /invoices/{invoice_id}"``), or ``None`` when no
            operation matches or the input is unusable (see the module docstring).
        """
        try:
            root = self._by_method[method]
        except KeyError:
            root = self._root_for(method)
            if root is None:
                return None
        except TypeError:  # an unhashable method
            return None
        # Fast path: an absolute path with nothing to decode, collapse or refuse; a query
        # string and one trailing slash are cut off here, since logs are full of them.
        segments: list[str] | None = None
        try:
            path = raw_path if raw_path[0] == "/" else _url_path(raw_path)
            if path is not None:
                if "?" in path:
                    path = path[: path.index("?")]
                if "%" not in path and "//" not in path and "/." not in path and "#" not in path:
                    if path[-1] == "/":
                        path = path[:-1]
                        if not path:
                            return root.key
                    prefixes = self._fast_prefixes
                    if prefixes is not None:
                        start = 1
                        for prefix in prefixes:
                            if path.startswith(prefix):
                                length = len(prefix)
                                if len(path) == length:
                                    return root.key
                                if path[length] == "/":
                                    start = length + 1
                                    break
                        segments = path[start:].split("/")
        except (TypeError, IndexError, KeyError, AttributeError):  # not a non-empty string
            return None
        if segments is not None:
            # _walk, inlined: this loop is where the time goes.
            node = root
            for segment in segments:
                child = node.get(segment)
                if child is None:
                    child = node.fallback
                    if child is None:
                        return _search(root, segments)
                node = child
            key = node.key
            return key if key is not None else _search(root, segments)
        segments = _request_segments(raw_path)
        if segments is None:
            return None
        return _walk(root, _strip_base(segments, self._bases))

    def match_normalized(self, method: str, path: str) -> str | None:
        """Like :meth:`match`, for a path :meth:`normalize` already produced.

        The base path is not stripped again, so a normalized ``/v1/x`` (from ``/v1/v1/x``)
        matches as ``/v1/x``.

        Args:
            method: The HTTP method in any case.
            path: Output of :meth:`normalize` or :func:`normalize_request_path`.

        Returns:
            The ``Operation.key`` or ``None``.
        """
        root = self._root_for(method)
        segments = _request_segments(path)
        if root is None or segments is None:
            return None
        return _walk(root, segments)

    def resolve(self, method: str, raw_path: str) -> tuple[str | None, str | None]:
        """Normalized path and operation key of one request, for usage rows.

        Args:
            method: The HTTP method in any case.
            raw_path: The path or full URL as logged.

        Returns:
            ``(normalized path or None, Operation.key or None)``.
        """
        normalized = self.normalize(raw_path)
        if normalized is None:
            return None, None
        return normalized, self.match_normalized(method, normalized)

    def match_many(self, requests: Iterable[tuple[str, str]]) -> list[str | None]:
        """:meth:`match` for many ``(method, raw_path)`` pairs, in order.

        Args:
            requests: ``(method, raw_path)`` pairs, typically distinct ones after
                aggregation.

        Returns:
            One ``Operation.key`` or ``None`` per pair.
        """
        match = self.match
        return [match(method, raw_path) for method, raw_path in requests]

    def _root_for(self, method: object) -> _Node | None:
        if not isinstance(method, str):
            return None
        return self._roots.get(method.upper())
