"""Route matching properties, checked with Hypothesis against a plain linear-scan reference."""

from __future__ import annotations

import re
from urllib.parse import quote

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keyscope.analysis.routes import RouteMatcher, normalize_request_path
from keyscope.model import Operation

PARAMETER = re.compile(r"\{[^{}/]+\}")
LITERALS = ["a", "b", "search", "items", "x.json", "v2", "é", "a-b"]
PLAIN_PARAMETERS = ["{id}", "{other}"]
MIXED = ["{p}.json", "{p}:cancel", "{a}-{b}", "v{n}", "{p}.{q}", "x{p}y{q}z"]
METHODS = ["GET", "POST", "DELETE", "HEAD"]

template_segment = st.sampled_from(LITERALS + PLAIN_PARAMETERS + MIXED)
template = st.lists(template_segment, min_size=0, max_size=3).map(lambda s: "/" + "/".join(s))
operations_strategy = st.lists(
    st.builds(Operation, st.sampled_from(METHODS), template), min_size=1, max_size=14
)
# Parameter values: any text but "/" (it is written %2F in the request) and surrogates.
parameter_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6
)
# Raw request segments close to the templates' vocabulary, so requests often match, nearly
# match, or hit an edge: empty parameter values, dot segments, escapes, encoded slashes.
# fmt: off
REQUEST_SEGMENTS = [
    *LITERALS, "", "x", "%C3%A9", "%73earch", "a.json", ".json", "x.", "a:cancel", ":cancel",
    "1-2", "-", "1-", "v", "v7", "xyz", "x1y2z", "a.b", ".", "..", "%2e%2E", "%2F", "a%2Fb",
    "%25", "{id}",
]
# fmt: on
path_like = st.one_of(
    st.text(alphabet="/%?#.:{}-aZé2F ", max_size=30),
    st.builds(
        lambda segments, suffix: "/" + "/".join(segments) + suffix,
        st.lists(st.sampled_from(REQUEST_SEGMENTS), max_size=4),
        st.sampled_from(["", "/", "?q=1", "#f"]),
    ),
)
arbitrary_text = st.text(max_size=40)


# --------------------------------------------------------------------------- the reference


def _rank(segment: str) -> tuple:
    """Priority of a template segment: literal, then mixed (most literal text first), then {x}."""
    pieces = PARAMETER.split(segment)
    if len(pieces) == 1:
        return (0, segment)
    if pieces == ["", ""]:
        return (2,)
    return (1, -sum(map(len, pieces)), len(pieces) - 1, tuple(pieces))


def _segment_matches(template_segment: str, value: str) -> bool:
    pieces = PARAMETER.split(template_segment)
    if len(pieces) == 1:
        return template_segment == value
    return re.fullmatch(".+".join(map(re.escape, pieces)), value, re.DOTALL) is not None


def _template_key(path: str) -> tuple[str, ...]:
    return tuple(segment for segment in path.split("/") if segment)


def reference_match(
    operations: list[Operation], method: str, segments: list[str] | None
) -> str | None:
    """First template in priority order that matches every segment and has the method."""
    if segments is None or any(segment in (".", "..") for segment in segments):
        return None
    method = method.upper()
    by_template: dict[tuple[str, ...], dict[str, str]] = {}
    for operation in sorted(operations, key=lambda op: (op.path, op.method)):
        methods = by_template.setdefault(_template_key(operation.path), {})
        methods.setdefault(operation.method, operation.key)
    ordered = sorted(by_template, key=lambda key: [_rank(segment) for segment in key])
    for key in ordered:
        if len(key) == len(segments) and all(map(_segment_matches, key, segments)):
            methods = by_template[key]
            found = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------- requests


@st.composite
def request_from_template(draw: st.DrawFn, operations: list[Operation]):
    """A request built from one operation, with its decoded segments and its raw form."""
    operation = draw(st.sampled_from(operations))
    segments: list[str] = []
    raw_segments: list[str] = []
    for segment in _template_key(operation.path):
        pieces = PARAMETER.split(segment)
        values = [draw(parameter_value | st.sampled_from([".", ".."])) for _ in pieces[1:]]
        decoded = pieces[0] + "".join(
            v + piece for v, piece in zip(values, pieces[1:], strict=True)
        )
        fully_encoded = draw(st.booleans())
        raw = pieces[0] + "".join(
            quote(v, safe="" if fully_encoded else "!$&'()*+,;=:@ ") + piece
            for v, piece in zip(values, pieces[1:], strict=True)
        )
        segments.append(decoded)
        raw_segments.append(raw)
    base = draw(st.sampled_from(["", "/v1"]))
    separator = draw(st.sampled_from(["/", "/", "//"]))
    raw_path = base + "/" + separator.join(raw_segments)
    raw_path += draw(st.sampled_from(["", "/", "?limit=1", "/?x=%2F#f", "#frag"]))
    if draw(st.booleans()):
        raw_path = "https://user@api.example.test:8443" + raw_path
    method = draw(st.sampled_from([operation.method, operation.method.lower(), "HEAD"]))
    assume(method.upper() == operation.method or operation.method == "GET")
    return operation, method, raw_path, segments


# --------------------------------------------------------------------------- properties


@settings(deadline=None, max_examples=500)
@given(data=st.data(), operations=operations_strategy)
def test_match_returns_the_source_template_or_a_more_concrete_one(
    data: st.DataObject, operations: list[Operation]
) -> None:
    matcher = RouteMatcher.from_operations(operations, ("/v1",))
    source, method, raw_path, segments = data.draw(request_from_template(operations))
    # A request whose own first segment is "v1" loses it as the base path: by design.
    assume(segments[:1] != ["v1"])

    found = matcher.match(method, raw_path)

    if any(segment in (".", "..") for segment in segments):
        assert found is None  # a dot segment is refused, never resolved
        return
    assert found is not None
    assert found == reference_match(operations, method, segments)
    found_path = found.split(" ", 1)[1]
    # Never a less concrete template than the one the request was built from.
    assert [_rank(s) for s in _template_key(found_path)] <= [
        _rank(s) for s in _template_key(source.path)
    ]


@st.composite
def near_miss(draw: st.DrawFn, operations: list[Operation]) -> str:
    """A raw path shaped like one of the templates, with edge-case values and segments."""
    operation = draw(st.sampled_from(operations))
    raw_segments = []
    for segment in _template_key(operation.path):
        if draw(st.integers(0, 5)) == 0:
            raw_segments.append(draw(st.sampled_from(REQUEST_SEGMENTS)))
            continue
        pieces = PARAMETER.split(segment)
        values = [draw(st.sampled_from(NEAR_MISS_VALUES)) for _ in pieces[1:]]
        raw_segments.append(
            pieces[0] + "".join(v + p for v, p in zip(values, pieces[1:], strict=True))
        )
    extra = draw(st.integers(0, 5))
    if extra == 0:
        raw_segments.append(draw(st.sampled_from(REQUEST_SEGMENTS)))
    elif extra == 1 and raw_segments:
        raw_segments.pop()  # a prefix of a template: an inner trie node, often without an operation
    return "/" + "/".join(raw_segments) + draw(st.sampled_from(["", "/", "?q=1"]))


NEAR_MISS_VALUES = ["", "", "x", "y", "z", ".", "..", "-", "json", "a.json", "%2F", "%2e", "search"]


@settings(deadline=None, max_examples=1000)
@given(
    data=st.data(),
    operations=operations_strategy,
    method=st.sampled_from([*METHODS, "get", "head", "PATCH"]),
)
def test_match_agrees_with_the_reference_on_path_like_text(
    data: st.DataObject, operations: list[Operation], method: str
) -> None:
    raw_path = data.draw(path_like | near_miss(operations))
    matcher = RouteMatcher.from_operations(operations)
    normalized = normalize_request_path(raw_path)
    segments = None
    if normalized is not None:
        segments = [
            # Decode exactly what normalization re-encoded ("%25" last).
            s.replace("%2F", "/").replace("%3F", "?").replace("%23", "#").replace("%25", "%")
            for s in normalized.split("/")
            if s
        ]
    assert matcher.match(method, raw_path) == reference_match(operations, method, segments)


@settings(deadline=None, max_examples=300)
@given(
    operations=operations_strategy,
    method=st.one_of(st.sampled_from(METHODS), arbitrary_text),
    raw_path=st.one_of(arbitrary_text, path_like, path_like.map(lambda p: "https://h" + p)),
)
def test_match_never_raises_and_fast_path_agrees_with_general_path(
    operations: list[Operation], method: str, raw_path: str
) -> None:
    matcher = RouteMatcher.from_operations(operations, ("/v1", "/api/v2"))
    found = matcher.match(method, raw_path)
    assert found is None or found in {operation.key for operation in operations}
    normalized = matcher.normalize(raw_path)
    via_general = None if normalized is None else matcher.match_normalized(method, normalized)
    assert found == via_general


@settings(deadline=None, max_examples=500)
@given(raw=st.one_of(arbitrary_text, path_like, path_like.map(lambda p: "http://h" + p)))
def test_normalization_is_idempotent(raw: str) -> None:
    normalized = normalize_request_path(raw)
    if normalized is not None:
        assert normalized.startswith("/")
        assert "?" not in normalized and "#" not in normalized
        assert normalize_request_path(normalized) == normalized
    with_base = normalize_request_path(raw, ("/v1",))
    if with_base is not None:
        # The base path is removed once; the rest of the form is stable.
        assert normalize_request_path(with_base) == with_base


@settings(deadline=None, max_examples=200)
@given(value=parameter_value)
def test_encoded_slash_never_creates_a_segment(value: str) -> None:
    assume(value not in (".", ".."))
    matcher = RouteMatcher.from_operations([Operation("GET", "/files/{name}")])
    assert matcher.match("GET", "/files/" + quote(value, safe="")) == "GET /files/{name}"


# One path level, a small alphabet: dense coverage of mixed segments and their priority.
segment_template = st.lists(
    st.sampled_from(["x", "y", "-", ".", "json", "{p}", "{q}"]), min_size=1, max_size=4
).map("".join)
segment_text = st.text(alphabet="xy-.json", max_size=8)


@settings(deadline=None, max_examples=1000)
@given(templates=st.lists(segment_template, min_size=1, max_size=4), segment=segment_text)
def test_one_level_priority_and_mixed_segments_match_the_reference(
    templates: list[str], segment: str
) -> None:
    operations = [Operation("GET", "/" + template) for template in templates]
    matcher = RouteMatcher.from_operations(operations)
    raw_path = "/" + quote(segment, safe="")
    expected = reference_match(operations, "GET", [segment] if segment else [])
    assert matcher.match("GET", raw_path) == expected
