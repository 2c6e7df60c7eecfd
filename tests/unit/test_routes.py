"""Route matching: request normalization and template matching, case by case."""

from __future__ import annotations

import time

import pytest

from keyscope.analysis import routes
from keyscope.analysis.routes import RouteMatcher, ambiguous_templates, normalize_request_path
from keyscope.model import ApiSpec, Operation

BASES = ("/v1",)

OPERATIONS = tuple(
    Operation(method, path)
    for method, path in [
        ("GET", "/invoices"),
        ("POST", "/invoices"),
        ("GET", "/invoices/search"),
        ("GET", "/invoices/{invoice_id}"),
        ("DELETE", "/invoices/{invoice_id}"),
        ("POST", "/invoices/{invoice_id}/send"),
        ("GET", "/files/{name}"),
        ("GET", "/files/{name}.json"),
        ("GET", "/payments/{payment_id}"),
        ("POST", "/payments/{payment_id}:cancel"),
        ("GET", "/exports/{year}-{month}.csv"),
        ("GET", "/keys/current"),
        ("GET", "/keys/{id}"),
        ("GET", "/status"),
        ("HEAD", "/status"),
        ("GET", "/health"),
        ("GET", "/a/{x}"),
        ("GET", "/a/{y}"),
        ("GET", "/reports/monthly/summary"),
        ("GET", "/reports/{report_id}"),
    ]
)


@pytest.fixture(scope="module")
def matcher() -> RouteMatcher:
    return RouteMatcher.from_operations(OPERATIONS, BASES)


# --------------------------------------------------------------------------- normalization

NORMALIZATION_CASES = [
    # (raw, base paths, normalized)
    ("/v1/invoices", BASES, "/invoices"),
    ("/v1/invoices/", BASES, "/invoices"),
    ("/v1//invoices///inv_1", BASES, "/invoices/inv_1"),
    ("//v1/invoices", BASES, "/invoices"),
    ("/v1/invoices?limit=10&cursor=abc", BASES, "/invoices"),
    ("/v1/invoices/?limit=10", BASES, "/invoices"),
    ("/v1/invoices#top", BASES, "/invoices"),
    ("/v1/invoices#a?b", BASES, "/invoices"),
    ("/v1/invoices/inv%5F1", BASES, "/invoices/inv_1"),
    ("/v1/files/a%2Fb", BASES, "/files/a%2Fb"),
    ("/v1/files/a%2fb/", BASES, "/files/a%2Fb"),
    ("/v1/files/100%25", BASES, "/files/100%25"),
    ("/v1/files/a%3Fb%23c", BASES, "/files/a%3Fb%23c"),
    ("/v1/files/%E2%82%AC", BASES, "/files/\u20ac"),
    ("/v1/files/%ff", BASES, "/files/\ufffd"),
    ("/v1/files/100%", BASES, "/files/100%25"),
    ("/v1/files/%zz", BASES, "/files/%25zz"),
    ("https://api.example.test/v1/invoices?x=1", BASES, "/invoices"),
    ("https://user:secret@api.example.test:8443/v1/keys", BASES, "/keys"),
    ("HTTPS://API.EXAMPLE.TEST", BASES, "/"),
    ("https://api.example.test?api_key=sk_live_123", BASES, "/"),
    ("http://api.example.test#x", (), "/"),
    ("/v1", BASES, "/"),
    ("/v1/", BASES, "/"),
    ("/", BASES, "/"),
    ("/?a=1", (), "/"),
    ("/v1beta/x", BASES, "/v1beta/x"),
    ("/invoices", BASES, "/invoices"),
    ("/v1/v1/x", BASES, "/v1/x"),
    ("/V1/invoices", BASES, "/V1/invoices"),
    ("/v1/a..b/.well-known", BASES, "/a..b/.well-known"),
    ("/v1/invoices", (), "/v1/invoices"),
    ("/v1/invoices", ("",), "/v1/invoices"),
    ("/v1/invoices", ("/v1/",), "/invoices"),
    ("/v1/invoices", ("https://api.example.test/v1",), "/invoices"),
    ("/v1/invoices", ("v1",), "/invoices"),
    ("/api/v2/x", ("/api", "/api/v2"), "/x"),
    ("/api/x", ("/api", "/api/v2"), "/x"),
    ("/%76%31/x", BASES, "/x"),
    # BAD-INPUTS #36: a dot segment is refused, never resolved to another route.
    ("/v1/charges/../keys", BASES, None),
    ("/v1/./keys", BASES, None),
    ("/v1/%2e%2e/keys", BASES, None),
    ("/v1/keys/%2E", BASES, None),
    ("/v1/keys/..?x=1", BASES, None),
    ("", BASES, None),
    ("*", BASES, None),
    ("invoices", BASES, None),
    ("api.example.test:443", BASES, None),
    (" /v1/invoices", BASES, None),
]


@pytest.mark.parametrize(("raw", "bases", "expected"), NORMALIZATION_CASES)
def test_normalize_request_path(raw: str, bases: tuple[str, ...], expected: str | None) -> None:
    assert normalize_request_path(raw, bases) == expected


@pytest.mark.parametrize("raw", [None, b"/v1/invoices", 42, ["/v1"], {0: "/"}])
def test_normalize_refuses_non_strings(raw: object) -> None:
    assert normalize_request_path(raw, BASES) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "normalized", [path for _raw, _bases, path in NORMALIZATION_CASES if path is not None]
)
def test_normalized_paths_are_stable(normalized: str) -> None:
    assert normalize_request_path(normalized, ()) == normalized


def test_matcher_normalize_uses_its_base_paths(matcher: RouteMatcher) -> None:
    assert matcher.normalize("/v1/invoices/inv_1/?x=1") == "/invoices/inv_1"
    assert matcher.normalize("/v1/../x") is None


# --------------------------------------------------------------------------- matching

MATCH_CASES = [
    # (method, raw path, expected operation key)
    ("GET", "/v1/invoices", "GET /invoices"),
    ("get", "/v1/invoices", "GET /invoices"),
    ("Get", "/v1/invoices", "GET /invoices"),
    ("POST", "/v1/invoices/", "POST /invoices"),
    ("post", "/v1/invoices?idempotency=1", "POST /invoices"),
    ("GET", "/invoices", "GET /invoices"),
    (
        "GET",
        "https://api.example.test/v1/invoices/inv_1?expand=lines",
        "GET /invoices/{invoice_id}",
    ),
    # A concrete segment wins over a template.
    ("GET", "/v1/invoices/search", "GET /invoices/search"),
    ("GET", "/v1/invoices/search/", "GET /invoices/search"),
    ("GET", "/v1/invoices/%73earch", "GET /invoices/search"),
    ("GET", "/v1/invoices/inv_123", "GET /invoices/{invoice_id}"),
    # ...with backtracking when the concrete branch dead-ends.
    ("POST", "/v1/invoices/search/send", "POST /invoices/{invoice_id}/send"),
    ("POST", "/v1/invoices/inv_1/send", "POST /invoices/{invoice_id}/send"),
    # ...and when it ends on a node with no operation of its own.
    ("GET", "/v1/reports/monthly", "GET /reports/{report_id}"),
    ("GET", "/v1/reports/monthly/summary", "GET /reports/monthly/summary"),
    # The method is part of the match.
    ("DELETE", "/v1/invoices/search", "DELETE /invoices/{invoice_id}"),
    # BAD-INPUTS #13: /keys/current and /keys/{id}.
    ("GET", "/v1/keys/current", "GET /keys/current"),
    ("GET", "/v1/keys/key_8f2k", "GET /keys/{id}"),
    ("GET", "/v1/keys/currentx", "GET /keys/{id}"),
    # HEAD falls back to GET only when the template has no HEAD operation.
    ("HEAD", "/v1/keys/current", "GET /keys/current"),
    ("head", "/v1/invoices/inv_1", "GET /invoices/{invoice_id}"),
    ("HEAD", "/v1/status", "HEAD /status"),
    # Segments that mix literal text and parameters.
    ("GET", "/v1/files/report.json", "GET /files/{name}.json"),
    ("GET", "/v1/files/report.csv", "GET /files/{name}"),
    ("GET", "/v1/files/.json", "GET /files/{name}"),
    ("GET", "/v1/files/a.json.json", "GET /files/{name}.json"),
    ("POST", "/v1/payments/pay_1:cancel", "POST /payments/{payment_id}:cancel"),
    ("GET", "/v1/payments/pay_1:cancel", "GET /payments/{payment_id}"),
    ("GET", "/v1/exports/2024-01.csv", "GET /exports/{year}-{month}.csv"),
    ("GET", "/v1/exports/2024-01-02.csv", "GET /exports/{year}-{month}.csv"),
    # BAD-INPUTS #36: %2F stays inside its segment; trailing slash; lower-case method.
    ("GET", "/v1/invoices/a%2Fb", "GET /invoices/{invoice_id}"),
    ("post", "/v1/invoices/a%2Fb/send/", "POST /invoices/{invoice_id}/send"),
    ("GET", "/v1//invoices//inv_1//", "GET /invoices/{invoice_id}"),
    # BAD-INPUTS #13: /a/{x} and /a/{y} cannot both be reached; the first by path wins.
    ("GET", "/v1/a/1", "GET /a/{x}"),
    # Unmatched: returned as None, for the caller to count.
    ("GET", "/v1/charges/../keys", None),
    ("GET", "/v1/invoices/..", None),
    ("GET", "/v1/invoices/.", None),
    ("POST", "/v1/invoices/../send", None),
    ("GET", "https://api.example.test/v1/invoices/..?x=1", None),
    ("GET", "/v1/invoices/%2e%2e", None),
    ("GET", "/v1/invoices/inv_1/unknown", None),
    ("GET", "/v1/exports/2024.csv", None),
    ("PATCH", "/v1/invoices", None),
    ("PROPFIND", "/v1/invoices", None),
    ("GET", "/v1/Invoices", None),
    ("GET", "/v1", None),
    ("GET", "/", None),
    ("GET", "", None),
    ("GET", "*", None),
    ("GET", "invoices", None),
    ("HEAD", "/v1/invoices/inv_1/send", None),
]


@pytest.mark.parametrize(("method", "raw", "expected"), MATCH_CASES)
def test_match(matcher: RouteMatcher, method: str, raw: str, expected: str | None) -> None:
    assert matcher.match(method, raw) == expected


@pytest.mark.parametrize(("method", "raw", "expected"), MATCH_CASES)
def test_match_normalized_agrees_with_match(
    matcher: RouteMatcher, method: str, raw: str, expected: str | None
) -> None:
    normalized = matcher.normalize(raw)
    via_normalized = None if normalized is None else matcher.match_normalized(method, normalized)
    assert via_normalized == expected
    assert matcher.resolve(method, raw) == (normalized, expected)


def test_match_many_keeps_order_and_unmatched(matcher: RouteMatcher) -> None:
    pairs = [(method, raw) for method, raw, _expected in MATCH_CASES]
    assert matcher.match_many(pairs) == [expected for _m, _r, expected in MATCH_CASES]
    assert matcher.match_many(iter([])) == []


@pytest.mark.parametrize(
    ("method", "raw"),
    [
        (None, "/v1/invoices"),
        (["GET"], "/v1/invoices"),
        (b"GET", "/v1/invoices"),
        ("GET", None),
        ("GET", 42),
        ("GET", b"/v1/invoices"),
        ("GET", ["/", "v1"]),
        ("GET", {0: "/"}),
        ("\x00", "/\x00"),
    ],
)
def test_match_never_raises_on_wrong_types(
    matcher: RouteMatcher, method: object, raw: object
) -> None:
    assert matcher.match(method, raw) is None  # type: ignore[arg-type]


def test_root_template_and_base_path_alone() -> None:
    matcher = RouteMatcher.from_operations([Operation("GET", "/")], ("/v1",))
    assert matcher.match("GET", "/v1") == "GET /"
    assert matcher.match("GET", "/v1/") == "GET /"
    assert matcher.match("GET", "/") == "GET /"
    assert matcher.match("GET", "https://h") == "GET /"
    assert matcher.match("GET", "/v1/x") is None


def test_matcher_from_spec_uses_its_base_paths_longest_first() -> None:
    spec = ApiSpec(
        title="t",
        version="1",
        format="openapi 3.1.0",
        source="inline",
        sha256="",
        base_paths=("/api", "/api/v2"),
        operations=(Operation("GET", "/v2/items"), Operation("GET", "/items")),
        scopes=(),
        semantics="all",
        semantics_reason="",
    )
    matcher = RouteMatcher(spec)
    # The longest base path is removed first, on segment boundaries.
    assert matcher.match("GET", "/api/v2/items") == "GET /items"
    assert matcher.match("GET", "/api/items") == "GET /items"
    assert matcher.match("GET", "/apiv2/items") is None
    assert matcher.operations == tuple(sorted(spec.operations, key=lambda o: (o.path, o.method)))


def test_a_lone_base_path_string_is_one_base_path() -> None:
    matcher = RouteMatcher.from_operations([Operation("GET", "/x")], "/v1")
    assert matcher.match("GET", "/v1/x") == "GET /x"
    assert normalize_request_path("/v1/x", "/v1") == "/x"  # type: ignore[arg-type]
    assert normalize_request_path("/v/x", "/v1") == "/v/x"  # type: ignore[arg-type]


def test_base_path_that_needs_encoding_is_still_stripped() -> None:
    matcher = RouteMatcher.from_operations([Operation("GET", "/x")], ("/a%2Fb",))
    assert matcher.match("GET", "/a%2Fb/x") == "GET /x"
    assert matcher.match("GET", "/a/b/x") is None


def test_templates_are_read_like_requests() -> None:
    operations = [Operation("GET", "/items/"), Operation("get", "/caf%C3%A9//menu")]
    matcher = RouteMatcher.from_operations(operations)
    assert matcher.match("GET", "/items") == "GET /items/"
    assert matcher.match("GET", "/café/menu") == "get /caf%C3%A9//menu"
    assert matcher.match("GET", "/caf%c3%a9/menu/") == "get /caf%C3%A9//menu"


def test_unbalanced_braces_are_literal() -> None:
    matcher = RouteMatcher.from_operations([Operation("GET", "/a/{b"), Operation("GET", "/c/{}")])
    assert matcher.match("GET", "/a/{b") == "GET /a/{b"
    assert matcher.match("GET", "/a/x") is None
    assert matcher.match("GET", "/c/{}") == "GET /c/{}"
    assert matcher.match("GET", "/c/x") is None


def test_methods_include_head_when_get_exists(matcher: RouteMatcher) -> None:
    assert matcher.methods == frozenset({"GET", "HEAD", "POST", "DELETE"})


def test_empty_matcher_matches_nothing() -> None:
    matcher = RouteMatcher.from_operations([])
    assert matcher.match("GET", "/") is None
    assert matcher.match_many([("GET", "/x")]) == [None]


def test_mixed_pattern_preference_most_literal_text_first() -> None:
    operations = [
        Operation("GET", "/f/{name}"),
        Operation("GET", "/f/{name}.{ext}"),
        Operation("GET", "/f/{name}.tar.gz"),
        Operation("GET", "/f/{name}.gz"),
    ]
    matcher = RouteMatcher.from_operations(operations)
    assert matcher.match("GET", "/f/a.tar.gz") == "GET /f/{name}.tar.gz"
    assert matcher.match("GET", "/f/a.gz") == "GET /f/{name}.gz"
    assert matcher.match("GET", "/f/a.zip") == "GET /f/{name}.{ext}"
    assert matcher.match("GET", "/f/a") == "GET /f/{name}"
    assert matcher.match("GET", "/f/a.") == "GET /f/{name}"


def test_backtracking_through_several_levels() -> None:
    operations = [
        Operation("GET", "/a/b/c/d"),
        Operation("GET", "/a/{x}/c/e"),
        Operation("GET", "/a/b/{y}/f"),
        Operation("GET", "/{z}/b/c/g"),
    ]
    matcher = RouteMatcher.from_operations(operations)
    assert matcher.match("GET", "/a/b/c/d") == "GET /a/b/c/d"
    assert matcher.match("GET", "/a/b/c/e") == "GET /a/{x}/c/e"
    assert matcher.match("GET", "/a/b/c/f") == "GET /a/b/{y}/f"
    assert matcher.match("GET", "/a/b/c/g") == "GET /{z}/b/c/g"
    assert matcher.match("GET", "/a/b/c/h") is None


def test_hostile_inputs_finish_quickly(matcher: RouteMatcher) -> None:
    many_segments = "/v1" + "/x" * 100_000
    long_mixed = "/v1/exports/" + "-" * 200_000 + ".csv"
    dashes_only = "/v1/exports/" + "1-" * 100_000 + "x"
    started = time.perf_counter()
    assert matcher.match("GET", many_segments) is None
    assert matcher.match("GET", long_mixed) == "GET /exports/{year}-{month}.csv"
    assert matcher.match("GET", dashes_only) is None
    assert normalize_request_path(many_segments + "%41", BASES) is not None
    # Generous bound: the point is "linear, not quadratic", not a speed target.
    assert time.perf_counter() - started < 5


def test_templates_thousands_of_segments_deep_do_not_exhaust_the_stack() -> None:
    deep = "/{p}" * 5000
    operations = [Operation("GET", deep + "/end"), Operation("GET", "/x" * 5000 + "/other")]
    matcher = RouteMatcher.from_operations(operations)
    assert matcher.match("GET", "/x" * 5000 + "/end") == f"GET {deep}/end"
    assert matcher.match("GET", "/x" * 5000 + "/other") == "GET " + "/x" * 5000 + "/other"
    assert matcher.match("GET", "/x" * 5000 + "/none") is None


# --------------------------------------------------------------------------- ambiguity


def test_ambiguous_templates_reports_same_shape_pairs() -> None:
    operations = [
        Operation("GET", "/a/{x}"),
        Operation("DELETE", "/a/{x}"),
        Operation("GET", "/a/{y}"),
        Operation("GET", "/a/b"),
        Operation("GET", "/items"),
        Operation("POST", "/items/"),
        Operation("GET", "/f/{name}.json"),
        Operation("GET", "/f/{other}.json"),
        Operation("GET", "/f/{name}"),
        Operation("GET", "/c/{}"),
        Operation("GET", "/c/{x}"),
    ]
    assert ambiguous_templates(operations) == [
        ("/a/{x}", "/a/{y}"),
        ("/f/{name}.json", "/f/{other}.json"),
        ("/items", "/items/"),
    ]


def test_ambiguous_templates_none_in_a_clean_spec() -> None:
    clean = [op for op in OPERATIONS if op.path != "/a/{y}"]
    assert ambiguous_templates(clean) == []
    assert ambiguous_templates(OPERATIONS) == [("/a/{x}", "/a/{y}")]


def test_public_names_are_locked() -> None:
    assert sorted(routes.__all__) == [
        "RouteMatcher",
        "ambiguous_templates",
        "normalize_request_path",
    ]
