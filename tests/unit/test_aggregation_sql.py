"""The generated aggregation query matches requests exactly like the Python route matcher.

The query runs on an in-memory DuckDB over a table of tricky requests; every answer is
compared with :class:`~keyscope.analysis.routes.RouteMatcher` (and, for the plain cases,
with the operation a reader expects).  The other dialects are checked to transpile and
to parse back with every regex and route template intact.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from keyscope.aggregation import (
    AGGREGATE_COLUMNS,
    DIALECTS,
    aggregation_sql,
    normalized_path_sql,
    render_sql,
    route_rules,
)
from keyscope.analysis.routes import RouteMatcher, normalize_request_path
from keyscope.errors import UsageError
from keyscope.model import ApiSpec, Operation
from keyscope.sources.openapi import load_spec

REPO = Path(__file__).resolve().parents[2]
SAMPLE_SPEC = REPO / "sample_specs" / "partner-api.yaml"
DAY = datetime(2026, 10, 1, 12, 0)
LOGS = (
    "CREATE TABLE logs (key_id VARCHAR, method VARCHAR, path VARCHAR, status INTEGER, "
    '"timestamp" TIMESTAMP)'
)


@pytest.fixture(scope="module")
def sample_spec() -> ApiSpec:
    return load_spec(SAMPLE_SPEC)


def make_spec(templates: dict[str, tuple[str, ...]], base_paths: tuple[str, ...]) -> ApiSpec:
    operations = sorted(
        (
            Operation(method=method, path=path)
            for path, methods in templates.items()
            for method in methods
        ),
        key=lambda operation: (operation.path, operation.method),
    )
    return ApiSpec(
        title="t", version="1", format="openapi 3.1.0", source="t.yaml", sha256="0" * 64,
        base_paths=base_paths, operations=tuple(operations), scopes=(), semantics="all",
        semantics_reason="test",
    )  # fmt: skip


# Templates that exercise every matcher rule: literal vs parameter, mixed segments ranked
# by literal characters, backtracking, percent-encoded literals, duplicate trie slots.
TRICKY_SPEC = make_spec(
    {
        "/": ("GET",),
        "/a": ("GET",),
        "/a/": ("POST",),
        "/a/b": ("GET", "HEAD"),
        "/a/{x}": ("GET", "POST"),
        "/a/{y}": ("PUT",),
        "/a/{x}.json": ("GET",),
        "/a/{x}.{y}": ("GET",),
        "/a/{x}:cancel": ("POST",),
        "/a/x{y}z{w}.json": ("GET",),
        "/a/{x}{y}": ("DELETE",),
        "/a/{x}25": ("PATCH",),
        "/a/b%20c": ("GET",),
        "/a/b%2Fc": ("POST",),
        "/a/{x}/c": ("GET",),
        "/a/b/{z}": ("GET",),
        "/{p}/{q}/d": ("GET",),
        "/files/{path}": ("GET",),
        "/ü/{x}": ("GET",),
    },
    base_paths=("/v1", "/api/v2", "/p%20q", ""),
)


def run_query(
    spec: ApiSpec, requests: list[tuple[str, object]]
) -> dict[int, tuple[str, str | None]]:
    """Aggregate one request per key id; returns key number -> (path, operation)."""
    connection = duckdb.connect()
    try:
        connection.execute(LOGS)
        connection.executemany(
            "INSERT INTO logs VALUES (?, ?, ?, 200, ?)",
            [(f"k{number}", method, path, DAY) for number, (method, path) in enumerate(requests)],
        )
        rows = connection.execute(aggregation_sql(spec, "duckdb", logs_table="logs")).fetchall()
        columns = [column[0] for column in connection.description]
    finally:
        connection.close()
    assert tuple(columns) == AGGREGATE_COLUMNS
    result = {}
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        number = int(record["key_id"][1:])
        assert number not in result, "one request gives one row"
        assert record["count"] == 1
        result[number] = (record["path"], record["operation"])
    return result


def cut(path: str) -> str:
    return re.split(r"[?#]", path, maxsplit=1)[0]


def expected(matcher: RouteMatcher, method: str, path: str) -> tuple[str, str | None] | None:
    """What the aggregate row should say: the template path when matched, else the target."""
    target = cut(path)
    if not (target.startswith("/") or re.match(r"[A-Za-z][-A-Za-z0-9+.]*://", target)):
        return None  # not a path or URL: a bad line, no row
    if not re.fullmatch(r"[A-Za-z]{1,20}", method):
        return None
    operation = matcher.match(method, target)
    return (operation.split(" ", 1)[1] if operation else target, operation)


# --------------------------------------------------------------------------- the sample spec

SAMPLE_CASES = [
    # (method, path as logged, operation a reader expects)
    ("GET", "/v1/invoices/search", "GET /invoices/search"),  # concrete wins
    ("GET", "/v1/invoices/inv_123", "GET /invoices/{invoice_id}"),  # template
    ("GET", "/v1/invoices/search/lines", "GET /invoices/{invoice_id}/lines"),  # backtracking
    ("POST", "/v1/invoices/search/send", "POST /invoices/{invoice_id}/send"),
    ("GET", "/v1/invoices/", "GET /invoices"),  # trailing slash
    ("GET", "/v1/invoices/inv_1/", "GET /invoices/{invoice_id}"),
    ("GET", "/v1/invoices?status=paid&api_key=sk_live_abcdefgh1234", "GET /invoices"),  # query
    ("GET", "/v1/invoices#frag", "GET /invoices"),
    ("get", "/v1/customers/cus_1", "GET /customers/{customer_id}"),  # lower-case method
    ("Post", "/v1/refunds", "POST /refunds"),
    ("GET", "/invoices/inv_1", "GET /invoices/{invoice_id}"),  # no base path: kept as it is
    ("GET", "/v1", None),  # the base path alone is "/": no operation there
    ("GET", "/v1/v1/invoices", None),  # one prefix is removed, not two
    ("GET", "https://api.example.test/v1/payments/pay_1?x=1", "GET /payments/{payment_id}"),
    ("GET", "https://user:pw@api.example.test:443/v1/payments", "GET /payments"),
    ("GET", "/v1//payments///pay_1", "GET /payments/{payment_id}"),  # empty segments
    ("HEAD", "/v1/payments/pay_1", "GET /payments/{payment_id}"),  # HEAD borrows GET
    ("HEAD", "/v1/payments", "GET /payments"),
    ("OPTIONS", "/v1/payments", None),  # a method without operations
    ("PUT", "/v1/invoices/inv_1", None),  # known path, unknown method
    ("GET", "/v1/legacy/charges", None),  # not in the spec: unmatched
    ("GET", "/v1/invoices/inv%2F1", "GET /invoices/{invoice_id}"),  # %2F stays in its segment
    ("GET", "/v1/inv%6Fices", "GET /invoices"),  # decoded literal
    ("GET", "/v1/invoices/%C3%A9t%C3%A9", "GET /invoices/{invoice_id}"),
    ("GET", "/v1/invoices/%C3", "GET /invoices/{invoice_id}"),  # invalid UTF-8 is replaced
    ("GET", "/v1/invoices/%ED%A0%80", "GET /invoices/{invoice_id}"),
    ("GET", "/v1/invoices/100%", "GET /invoices/{invoice_id}"),  # a lone %
    ("GET", "/v1/invoices/a+b", "GET /invoices/{invoice_id}"),  # + is not a space in a path
    ("GET", "/v1/invoices/%2e%2e/api-keys", None),  # dot segments are never resolved
    ("GET", "/v1/./invoices", None),
    ("GET", "/v1/invoices/../api-keys", None),
    ("POST", "/v1/auth/token", "POST /auth/token"),
    ("GET", "/", None),
    ("DELETE", "/v1/customers/c/payment-methods/p",
     "DELETE /customers/{customer_id}/payment-methods/{payment_method_id}"),
]  # fmt: skip


def test_sample_cases_match_the_route_matcher_and_the_reader(sample_spec: ApiSpec) -> None:
    matcher = RouteMatcher(sample_spec)
    result = run_query(sample_spec, [(method, path) for method, path, _ in SAMPLE_CASES])
    for number, (method, path, operation) in enumerate(SAMPLE_CASES):
        assert matcher.match(method, cut(path)) == operation, (method, path)
        assert result[number] == expected(matcher, method, path), (method, path)
        assert result[number][1] == operation


def test_matched_rows_carry_the_template_and_unmatched_ones_the_path_without_query(
    sample_spec: ApiSpec,
) -> None:
    result = run_query(
        sample_spec,
        [("GET", "/v1/invoices/inv_9?expand=lines"), ("GET", "/v1/legacy/charges?limit=5")],
    )
    assert result[0] == ("/invoices/{invoice_id}", "GET /invoices/{invoice_id}")
    assert result[1] == ("/v1/legacy/charges", None)


def test_lines_that_usage_ingestion_calls_bad_give_no_row(sample_spec: ApiSpec) -> None:
    requests = [
        ("GET", "invoices"),  # neither a path nor a URL
        ("GET", "*"),
        ("GET", "?x=1"),
        ("GET", ""),
        ("G3T", "/v1/invoices"),  # not a method
        ("GET", "/v1/invoices"),  # the one good line
    ]
    assert run_query(sample_spec, requests) == {5: ("/invoices", "GET /invoices")}


# --------------------------------------------------------------------------- tricky spec

TRICKY_REQUESTS = [
    "/", "/v1", "/a", "/a/", "/v1/a/b", "/api/v2/a/b/", "/p%20q/a/b", "/p q/a/b", "/a/q",
    "/a/x.json", "/a/x.y.z", "/a/1:cancel", "/a/xqz.json", "/a/x1z2.json", "/a/xz.json",
    "/a/ab", "/a/x25", "/a/%25", "/a/%2525", "/a/b%20c", "/a/b c", "/a/b%2Fc", "/a/b%2fc",
    "/a/b/c", "/a/q/c", "/a/b/q", "/x/y/d", "/a/b/d", "/files/a%2Fb", "/%C3%BC/1",
    "/ü/1", "/a/{}", "/a/.json", "/a/x%2Ey", "/a/%", "/a/%zz", "/v1/v1/a", "HTTP://h/a/b",
]  # fmt: skip


def test_tricky_templates_match_like_the_route_matcher() -> None:
    matcher = RouteMatcher(TRICKY_SPEC)
    requests = list(
        itertools.product(("GET", "head", "POST", "PUT", "PATCH", "DELETE"), TRICKY_REQUESTS)
    )
    result = run_query(TRICKY_SPEC, requests)
    matched = 0
    for number, (method, path) in enumerate(requests):
        want = expected(matcher, method, path)
        assert result.get(number) == want, (method, path)
        matched += bool(want and want[1])
    assert matched > 60  # the table really exercises matches, not only misses


def test_known_answers_on_the_tricky_spec() -> None:
    """Pinned answers, so a rule change in both implementations cannot go unnoticed."""
    cases = {
        ("GET", "/a/b"): "GET /a/b",  # literal before parameter
        ("HEAD", "/a/b"): "HEAD /a/b",  # its own HEAD
        ("HEAD", "/a/q"): "GET /a/{x}",  # HEAD borrows GET
        ("GET", "/a/x.json"): "GET /a/{x}.json",  # more literal characters first
        ("GET", "/a/x.y.z"): "GET /a/{x}.{y}",
        ("GET", "/a/x1z2.json"): "GET /a/x{y}z{w}.json",  # 7 literal characters beat 5
        ("GET", "/a/xqz.json"): "GET /a/{x}.json",  # {w} would be empty
        ("GET", "/a/q/c"): "GET /a/{x}/c",
        ("GET", "/a/b/c"): "GET /a/b/{z}",  # literal first at level 2 too
        ("GET", "/a/b/d"): "GET /a/b/{z}",
        ("GET", "/a/q/d"): "GET /{p}/{q}/d",  # backtracks to the root's parameter
        ("PUT", "/a/q"): "PUT /a/{y}",  # its own slot for PUT
        ("GET", "/a/b c"): "GET /a/b%20c",  # percent-encoded literal template
        ("POST", "/a/b%2fc"): "POST /a/b%2Fc",
        ("PATCH", "/a/x25"): "PATCH /a/{x}25",
        ("PATCH", "/a/%25"): None,  # "%" alone is too short for {x}25
        ("POST", "/a"): "POST /a/",  # /a/ and /a are the same template
        ("GET", "/p%20q/a/b"): "GET /a/b",  # an encoded base path
        ("GET", "/files/a%2Fb"): "GET /files/{path}",
    }
    requests = list(cases)
    result = run_query(TRICKY_SPEC, requests)
    for number, request in enumerate(requests):
        assert result[number][1] == cases[request], request


SEGMENT = st.sampled_from(
    ["a", "b", "c", "d", "q", "x.json", "1:cancel", "x.y", "xqz.json", "x25", "%25", "b%20c",
     "b c", "%2F", "%2f", "ü", "%C3%BC", ".", "..", "%2e", "%C3", "%FF", "%", "%zz", "+",
     "files", "{}", ".json", "v1", "p%20q", "%E2%82%AC", "%F0%9F%98%80", "%E2%82"]
)  # fmt: skip
REQUEST = st.tuples(
    st.sampled_from(["GET", "get", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    st.builds(
        lambda prefix, segments, slashes, tail: (
            prefix
            + "".join(slash + segment for slash, segment in zip(slashes, segments, strict=False))
            + tail
        ),
        st.sampled_from(["", "/v1", "/api/v2", "/p%20q", "https://h.example", "/v1/v1"]),
        st.lists(SEGMENT, max_size=4),
        st.lists(st.sampled_from(["/", "/", "//"]), min_size=4, max_size=4),
        st.sampled_from(["", "/", "?q=1", "#f", "/?a=%zz"]),
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REQUEST, min_size=20, max_size=60))
def test_random_requests_match_like_the_route_matcher(requests: list[tuple[str, str]]) -> None:
    matcher = RouteMatcher(TRICKY_SPEC)
    result = run_query(TRICKY_SPEC, requests)
    for number, (method, path) in enumerate(requests):
        assert result.get(number) == expected(matcher, method, path), (method, path)


# --------------------------------------------------------------------------- normalization


@pytest.mark.parametrize(
    "raw",
    ["/v1/a//b/", "/v1", "https://h/v1/x%2Fy?z", "/a/%C3%A9%2f", "/a/%%41", "/a/%ZZ", "/a/%E2%82x",
     "/v1/./a", "/a/%2e%2E", "x", "", "/a/b%23c%3Fd%25", "HTTP://h", "/p%20q/r", "/%F0%9F%98%80"],
)  # fmt: skip
def test_normalization_in_sql_equals_normalize_request_path(raw: str) -> None:
    bases = ("/v1", "/p q")
    select = "SELECT CAST(? AS VARCHAR) AS target"
    for number, (name, expression) in enumerate(normalized_path_sql("target", bases)):
        select = f"SELECT target, {expression} AS {name} FROM ({select}) AS s{number}"
    connection = duckdb.connect()
    try:
        row = connection.execute(f"SELECT path FROM ({render_sql(select, 'duckdb')})", [raw])
        (normalized,) = row.fetchone()
    finally:
        connection.close()
    assert normalized == normalize_request_path(raw, bases), raw


# --------------------------------------------------------------------------- matching table


def test_route_rules_put_concrete_templates_first_and_let_head_borrow_get(
    sample_spec: ApiSpec,
) -> None:
    rules = route_rules(sample_spec.operations)
    by_operation = {(rule.method, rule.operation): rule for rule in rules}
    search = by_operation[("GET", "GET /invoices/search")]
    template = by_operation[("GET", "GET /invoices/{invoice_id}")]
    assert search.is_literal and search.template == "/invoices/search"
    assert not template.is_literal and search.priority < template.priority
    assert template.segments == search.segments == 2
    assert re.fullmatch(
        template.template.replace("\\A", "^").replace("\\z", "$"), "/invoices/inv_1"
    )
    assert ("HEAD", "GET /invoices/{invoice_id}") in by_operation
    assert ("HEAD", "POST /invoices") not in by_operation
    assert [rule.priority for rule in rules] == list(range(1, len(rules) + 1))


def test_literal_prefix_and_suffix_spare_the_regex_when_they_decide() -> None:
    spec = make_spec(
        {"/invoices/{id}/lines": ("GET",), "/a/{x}/b/{y}": ("GET",), "/f/{n}.json": ("GET",),
         "/{p}": ("GET",)},
        (),
    )  # fmt: skip
    rules = {rule.operation: rule for rule in route_rules(spec.operations)}
    lines = rules["GET /invoices/{id}/lines"]
    assert (lines.prefix, lines.suffix, lines.needs_regex) == ("/invoices/", "/lines", False)
    two = rules["GET /a/{x}/b/{y}"]
    assert (two.prefix, two.suffix, two.needs_regex) == ("/a/", "", True)
    mixed = rules["GET /f/{n}.json"]
    assert (mixed.prefix, mixed.needs_regex) == ("/f/", True)
    assert (rules["GET /{p}"].prefix, rules["GET /{p}"].needs_regex) == ("/", False)
    matcher = RouteMatcher(spec)
    requests = [("GET", path) for path in
                ("/invoices/x/lines", "/invoices/x/line", "/a/1/b/2", "/a/1/c/2", "/f/x.json",
                 "/f/x.jso", "/q")]  # fmt: skip
    result = run_query(spec, requests)
    for number, (method, path) in enumerate(requests):
        assert result[number] == expected(matcher, method, path), path


def test_duplicate_slots_keep_the_first_template_like_the_matcher() -> None:
    spec = make_spec({"/a/{x}": ("GET",), "/a/{y}": ("GET",)}, ())
    rules = route_rules(spec.operations)
    assert [rule.operation for rule in rules if rule.method == "GET"] == ["GET /a/{x}"]
    assert RouteMatcher(spec).match("GET", "/a/1") == "GET /a/{x}"


def test_a_spec_without_operations_matches_nothing() -> None:
    assert run_query(make_spec({}, ()), [("GET", "/a")]) == {0: ("/a", None)}


# --------------------------------------------------------------------------- dialects


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_transpiles_and_parses_back_with_the_routes_intact(
    sample_spec: ApiSpec, dialect: str
) -> None:
    text = aggregation_sql(sample_spec, dialect)
    assert "{logs_table}" in text
    statements = sqlglot.parse(text.replace("{logs_table}", "logs"), read=dialect)
    assert len(statements) == (2 if dialect == "bigquery" else 1)
    literals = {
        literal.this for statement in statements for literal in statement.find_all(exp.Literal)
        if literal.is_string
    }  # fmt: skip
    for rule in route_rules(sample_spec.operations):
        assert rule.template in literals, (dialect, rule)
    if dialect in ("duckdb", "bigquery"):
        assert not any("$1" in literal for literal in literals)  # RE2 group references
    else:
        assert any("$1" in literal for literal in literals)


def test_dialect_specific_spellings(sample_spec: ApiSpec) -> None:
    spark = aggregation_sql(sample_spec, "spark")
    trino = aggregation_sql(sample_spec, "trino")
    bigquery = aggregation_sql(sample_spec, "bigquery")
    duck = aggregation_sql(sample_spec, "duckdb")
    assert " RLIKE " in spark and "URL_DECODE(" in spark
    assert "REGEXP_LIKE(" in trino and "URL_DECODE(" in trino
    assert "TO_ISO8601(WITH_TIMEZONE(c.first_seen, 'UTC'))" in trino  # Hive has no zone
    assert "REGEXP_CONTAINS(" in bigquery and "keyscope_url_decode(" in bigquery
    assert bigquery.startswith("-- BigQuery has no url_decode")
    assert "CREATE TEMP FUNCTION keyscope_url_decode" in bigquery
    assert "'g')" in duck  # DuckDB's regexp_replace replaces every match only with 'g'


def test_the_window_becomes_a_filter_on_the_timestamp(sample_spec: ApiSpec) -> None:
    start, end = datetime(2026, 8, 3, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    text = aggregation_sql(sample_spec, "trino", window_start=start, window_end=end)
    assert "2026-08-03 00:00:00" in text and "2026-11-01 00:00:00" in text
    assert "2026-08-03" not in aggregation_sql(sample_spec, "trino")


def test_the_window_counts_only_requests_inside_it(sample_spec: ApiSpec) -> None:
    connection = duckdb.connect()
    try:
        connection.execute(LOGS)
        connection.executemany(
            "INSERT INTO logs VALUES ('k', 'GET', '/v1/invoices', ?, ?)",
            [
                (200, datetime(2026, 8, 2, 23, 59, 59)),  # before
                (200, datetime(2026, 8, 3)),  # first instant, counted
                (403, datetime(2026, 10, 31, 23, 59, 59)),  # last second, counted
                (200, datetime(2026, 11, 1)),  # the end is excluded
            ],
        )
        rows = connection.execute(
            aggregation_sql(
                sample_spec,
                "duckdb",
                logs_table="logs",
                window_start=datetime(2026, 8, 3, tzinfo=UTC),
                window_end=datetime(2026, 11, 1, tzinfo=UTC),
            )
        ).fetchall()
    finally:
        connection.close()
    summary = sorted((row[4], str(row[5]), row[6]) for row in rows)
    assert summary == [("denied", "2026-10-31", 1), ("success", "2026-08-03", 1)]


def test_request_ids_count_a_repeated_request_once(sample_spec: ApiSpec) -> None:
    connection = duckdb.connect()
    try:
        connection.execute(LOGS.replace("(key_id", "(request_id VARCHAR, key_id"))
        connection.executemany(
            "INSERT INTO logs VALUES (?, 'k', 'GET', '/v1/invoices', 200, ?)",
            [("r1", DAY), ("r1", DAY), ("r2", DAY), (None, DAY), (None, DAY)],
        )
        with_ids = connection.execute(
            aggregation_sql(sample_spec, "duckdb", logs_table="logs", request_ids=True)
        ).fetchall()
        without = connection.execute(
            aggregation_sql(sample_spec, "duckdb", logs_table="logs")
        ).fetchall()
    finally:
        connection.close()
    assert [row[6] for row in with_ids] == [4]  # r1 once, r2, and both rows without an id
    assert [row[6] for row in without] == [5]


def test_an_unknown_dialect_is_a_usage_error(sample_spec: ApiSpec) -> None:
    with pytest.raises(UsageError, match="unknown SQL dialect 'oracle'"):
        aggregation_sql(sample_spec, "oracle")


# --------------------------------------------------------------------------- detection


def test_aggregate_files_are_recognized_by_their_columns(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from keyscope.aggregation import detect_aggregates, looks_like_aggregate
    from keyscope.settings import UsageSource

    aggregate = tmp_path / "agg.parquet"
    columns = ("key_id", "method", "path", "status_class", "count", "first_seen", "last_seen")
    pq.write_table(pa.table({name: ["x"] for name in columns}), aggregate)
    log = tmp_path / "requests.parquet"
    pq.write_table(
        pa.table({name: ["x"] for name in ("timestamp", "key_id", "method", "path", "status")}),
        log,
    )
    exported = tmp_path / "agg.csv"
    exported.write_text("key_id;method;path;status;count;first_seen;last_seen\n", encoding="utf-8")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    assert looks_like_aggregate(aggregate) and looks_like_aggregate(exported)
    assert not looks_like_aggregate(log) and not looks_like_aggregate(broken)
    sources = (
        UsageSource(path=str(aggregate)),
        UsageSource(path=str(log)),
        UsageSource(path=str(tmp_path / "*.csv")),
        UsageSource(path=str(aggregate), fields={"timestamp": "first_seen"}),  # a mapped log
        UsageSource(path=str(aggregate), kind="parquet"),  # an explicit kind stays
        UsageSource(path=str(tmp_path / "missing.parquet")),  # the reader will say so
    )
    kinds = [source.kind for source in detect_aggregates(sources)]
    assert kinds == ["aggregate", None, "aggregate", None, "parquet", None]
