"""Property-based tests (Hypothesis) at the boundaries, end to end.

These extend the unit-level properties that already exist
(``tests/unit/test_yamlsafe.py`` for the document parser,
``tests/unit/test_routes_properties.py`` for the matcher against a linear-scan
reference, ``tests/unit/test_suggest.py`` for the solver against brute force):

- the spec loader (``load_spec``, the whole adapter) raises nothing but ``SpecError`` on
  arbitrary YAML or JSON text, and on JSON shaped like a spec with random members;
- the route matcher never raises on arbitrary requests against the bundled sample spec,
  answers an operation of the spec or None, and answers the same for a request and its
  normalized form;
- the usage reader, on fuzzed log lines, keeps ``lines == bad + in window + out of window
  + duplicates`` and counts every non-blank line;
- the audit's suggestion for a key always covers every operation the key used
  successfully and is never larger than the brute-force minimum (through
  ``audit_keys``, i.e. with the implication graph, AND/OR requirements and full access).
"""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keyscope.errors import LogParseError, SpecError
from keyscope.model import (
    ApiKey,
    ApiSpec,
    DailyCount,
    Operation,
    Scope,
    SourceStats,
    UsageData,
    UsageRow,
)

from .conftest import REPO

SAMPLE_SPEC = REPO / "sample_specs" / "partner-api.yaml"
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# --------------------------------------------------------------------------- spec loader

_YAML_TOKENS = st.sampled_from(
    [
        "openapi: 3.0.0\n", "swagger: '2.0'\n", "paths:\n", "  /a:\n", "    get:\n",
        "      security: [{o: [a]}]\n", "- ", ": ", "&x ", "*x ", "!!python/object ", "{", "}",
        "[", "]", ",", "\n", "  ", "\t", "---\n", "...\n", "$ref: '#/x'\n", "'", '"', "%YAML 1.1\n",
        "? ", "| \n", "> \n", "on", "no", "0777", "12:30", "~", "null", "\ufeff", "\x00", "\ud800",
        "components:\n  securitySchemes:\n    o: {type: oauth2, flows: {}}\n",
    ]
)  # fmt: skip
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
_SPEC_SHAPED = st.fixed_dictionaries(
    {"openapi": st.sampled_from(["3.0.3", "3.1.0", 3, None, "2.0"])},
    optional={
        "info": _JSON_VALUES,
        "paths": st.dictionaries(
            st.sampled_from(["/a", "/a/{id}", "a", "/{x}", "/b/{y}", ""]),
            st.dictionaries(
                st.sampled_from(["get", "post", "GET", "parameters", "$ref", "x-scopes"]),
                _JSON_VALUES
                | st.fixed_dictionaries(
                    {"security": st.lists(st.dictionaries(st.text(max_size=3), _JSON_VALUES))}
                ),
                max_size=3,
            ),
            max_size=3,
        ),
        "components": _JSON_VALUES,
        "security": _JSON_VALUES,
        "servers": _JSON_VALUES,
    },
)


def _load_text(content: str | bytes, suffix: str) -> Any:
    from keyscope.sources.openapi import load_spec

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"spec{suffix}"
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8", "surrogatepass"))
        else:
            path.write_bytes(content)
        try:
            return load_spec(path)
        except SpecError as error:
            assert "\n" not in str(error)
            assert str(error).startswith(str(path))
            return error


@PROPERTY
@given(st.lists(_YAML_TOKENS, max_size=40).map("".join) | st.text(max_size=200))
def test_spec_loader_raises_only_spec_error_on_any_yaml(text: str) -> None:
    outcome = _load_text(text, ".yaml")
    assert isinstance(outcome, ApiSpec | SpecError)


@PROPERTY
@given(_SPEC_SHAPED | _JSON_VALUES)
def test_spec_loader_raises_only_spec_error_on_any_json(document: Any) -> None:
    outcome = _load_text(json.dumps(document), ".json")
    assert isinstance(outcome, ApiSpec | SpecError)
    if isinstance(outcome, ApiSpec):
        keys = [operation.key for operation in outcome.operations]
        assert len(keys) == len(set(keys))
        assert list(outcome.operations) == sorted(
            outcome.operations, key=lambda o: (o.path, o.method)
        )


@PROPERTY
@given(st.binary(max_size=200))
def test_spec_loader_raises_only_spec_error_on_any_bytes(data: bytes) -> None:
    assert isinstance(_load_text(data, ".yaml"), ApiSpec | SpecError)


# --------------------------------------------------------------------------- route matcher

_SEGMENTS = st.sampled_from(
    ["v1", "invoices", "inv_1", "payments", "pay_2", "customers", "cus_3", "api-keys", "current",
     "refunds", "payouts", "events", "..", ".", "", "%2F", "%2e%2e", "a%20b", "?x=1", "#f", ";p",
     "INVOICES", "checkout", "sessions", "line-items", "\x00", "\u202e", "ü"]
)  # fmt: skip
_REQUEST_PATHS = (
    st.lists(_SEGMENTS, max_size=6).map(lambda parts: "/" + "/".join(parts))
    | st.text(max_size=40)
    | st.lists(_SEGMENTS, max_size=5).map(lambda p: "https://api.example.test/" + "/".join(p))
)
_METHODS = st.sampled_from(["GET", "get", "POST", "Delete", "PATCH", "PUT", "HEAD", "", "G E T"])


@pytest.fixture(scope="module")
def sample_matcher() -> tuple[Any, frozenset[str]]:
    from keyscope.analysis.routes import RouteMatcher
    from keyscope.sources.openapi import load_spec

    spec = load_spec(SAMPLE_SPEC)
    return RouteMatcher(spec), frozenset(operation.key for operation in spec.operations)


@settings(max_examples=400, deadline=None)
@given(method=_METHODS, raw=_REQUEST_PATHS)
def test_route_matcher_never_raises_and_is_consistent(
    sample_matcher: tuple[Any, frozenset[str]], method: str, raw: str
) -> None:
    from keyscope.analysis.routes import normalize_request_path

    matcher, operations = sample_matcher
    answer = matcher.match(method, raw)
    assert answer is None or answer in operations
    assert matcher.match(method, raw) == answer  # no state between calls
    normalized = normalize_request_path(raw)
    if normalized is None:
        assert answer is None
    else:
        assert matcher.match(method, normalized) == answer
    if answer is not None:
        # Documented rule: HEAD is answered by the GET operation when there is no HEAD one.
        expected = {method.upper()} | ({"GET"} if method.upper() == "HEAD" else set())
        assert answer.split(" ", 1)[0] in expected


# --------------------------------------------------------------------------- usage reader

_FIELD_VALUES = {
    "timestamp": st.sampled_from(
        ["2026-10-30T10:00:00Z", "2026-10-30T10:00:00", "2026-13-01T00:00:00Z", "yesterday",
         "1793354400", "2026-10-30 10:00:00+02:00", "", None, 5]
    ),
    "key_id": st.sampled_from(["key_a", "key_b", "", " ", "k" * 300, None, 7, "key_\u202e"]),
    "method": st.sampled_from(["GET", "post", "G3T", "", None, "DELETE"]),
    "path": st.sampled_from(["/v1/invoices", "/v1/invoices/inv_1?x=1", "https://h/v1/payments",
                             "v1/nope", "", None, "/v1/../keys", "/v1/a%2Fb"]),
    "status": st.sampled_from([200, "200", 403, 99, 600, "ok", None, 201.0, True]),
}  # fmt: skip
_LINE = st.one_of(
    st.fixed_dictionaries({}, optional=_FIELD_VALUES).map(lambda d: json.dumps(d)),
    st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
    st.sampled_from(["", "   ", "[1,2]", '{"a": NaN}', "{" * 50, '"just a string"', "\ufeff{}"]),
    st.fixed_dictionaries(_FIELD_VALUES).map(lambda d: json.dumps({**d, "request_id": "req_1"})),
)


def _object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _Matcher:
    def match(self, method: str, raw_path: str) -> str | None:
        return "GET /invoices" if method == "GET" and "invoices" in raw_path else None


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_LINE, max_size=25), crlf=st.booleans())
def test_usage_reader_accounts_for_every_line(lines: list[str], crlf: bool) -> None:
    from keyscope.settings import UsageSource
    from keyscope.sources.usage import load_usage

    ending = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(ending.join(lines).encode("utf-8", "surrogatepass"))
        try:
            data = load_usage(
                [UsageSource(str(path))],
                _Matcher(),
                window_start=datetime(2026, 10, 1, tzinfo=UTC),
                window_end=datetime(2026, 11, 1, tzinfo=UTC),
            )
        except LogParseError as error:
            # Documented: a field that no line has is a mapping problem, not bad lines.
            message = str(error)
            assert message.startswith(str(path)) and "\n" not in message
            field = message.split("no line has the field '", 1)[1].split("'", 1)[0]
            objects = [_object(line) for line in lines]
            # (a null value counts as absent: the reader extracts text and null has none)
            assert not any(item.get(field) is not None for item in objects if item is not None)
            return
    [stats] = data.sources
    assert stats.lines == stats.bad_lines + stats.in_window + stats.out_of_window + stats.duplicates
    non_blank = sum(1 for line in lines if line.strip(" \t\ufeff"))
    assert stats.lines <= len(lines)
    assert stats.lines >= non_blank - 1  # a BOM-only first line may count as blank
    counted = sum(row.count for row in data.rows)
    assert counted == stats.in_window
    assert len(data.bad_line_examples) <= 5
    for example in data.bad_line_examples:
        assert 1 <= example.line <= len(lines)


# --------------------------------------------------------------------------- least privilege

_CATALOG = ("a:read", "a:write", "b:read", "b:write", "c:read", "c:write")


@st.composite
def _audit_instances(draw: Any) -> tuple[ApiSpec, dict[str, int]]:
    scope_sets = st.frozensets(st.sampled_from(_CATALOG), min_size=1, max_size=2)
    operations = []
    for index in range(draw(st.integers(1, 6))):
        alternatives = tuple(draw(st.lists(scope_sets, min_size=1, max_size=2, unique=True)))
        operations.append(Operation("GET", f"/r{index}", requirements=alternatives))
    spec = ApiSpec(
        title="t", version="1", format="openapi 3.0.3", source="t.yaml", sha256="0" * 64,
        base_paths=("",), operations=tuple(operations),
        scopes=tuple(Scope(name) for name in _CATALOG), semantics="all", semantics_reason="test",
        implications=tuple((f"{area}:write", f"{area}:read") for area in "abc"),
    )  # fmt: skip
    used = draw(st.dictionaries(st.sampled_from([op.key for op in operations]),
                                st.integers(40, 500), min_size=1))  # fmt: skip
    return spec, used


def _brute_force_minimum(spec: ApiSpec, graph: Any, used: dict[str, int]) -> int:
    needed = [spec.operation(key) for key in used]
    for size in range(len(_CATALOG) + 1):
        for combination in itertools.combinations(_CATALOG, size):
            granted = graph.expand(frozenset(combination))
            if all(operation.is_satisfied_by(granted) for operation in needed):
                return size
    raise AssertionError("the whole catalog meets every need")


@settings(max_examples=200, deadline=None)
@given(_audit_instances(), st.booleans())
def test_suggestion_covers_every_used_operation_and_is_minimal(
    instance: tuple[ApiSpec, dict[str, int]], full_access: bool
) -> None:
    from keyscope.analysis.audit import audit_keys, make_window
    from keyscope.analysis.scope_graph import build_scope_graph

    spec, used = instance
    graph = build_scope_graph(spec)
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    window = make_window(as_of, 10)
    key = ApiKey("key_p", scopes=frozenset() if full_access else frozenset(_CATALOG),
                 full_access=full_access, created_at=as_of - timedelta(days=400))  # fmt: skip
    first, last = window.start + timedelta(hours=1), window.end - timedelta(hours=1)
    rows = tuple(
        UsageRow("key_p", "GET", spec.operation(op).path, op, "success", count, first, last)
        for op, count in sorted(used.items())
    )
    days = [window.start.date() + timedelta(days=offset) for offset in range(10)]
    total = sum(used.values())
    usage = UsageData(
        rows=rows,
        daily=tuple(DailyCount("key_p", day, total // 10 + 1, 0) for day in days),
        sources=(SourceStats("t.jsonl", "jsonl", total, 0, total),),
        days_with_data=frozenset(days),
    )
    result = audit_keys(spec, graph, [key], usage, as_of=as_of, window=window)
    [audit] = result.keys
    assume(audit.confidence != "insufficient")
    suggested = graph.expand(audit.suggested_scopes)
    for operation_key in used:
        assert spec.operation(operation_key).is_satisfied_by(suggested), operation_key
    assert len(audit.suggested_scopes) <= _brute_force_minimum(spec, graph, used)
    assert audit.suggested_scopes <= set(_CATALOG)
    # Nothing removed is needed: the excess is exactly what the suggestion does not grant.
    assert not (audit.excess_scopes & audit.suggested_scopes)
