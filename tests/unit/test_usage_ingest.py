"""Usage ingestion through DuckDB: formats, globs, mapping, window, classes, dedup, matching."""

from __future__ import annotations

import json
import random
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from usage_support import (
    IN_WINDOW,
    WINDOW_END,
    WINDOW_START,
    CountingMatcher,
    assert_accounted,
    counts,
    line,
    load,
    record,
    total_requests,
    write_bytes,
    write_csv,
    write_lines,
)

from keyscope.errors import LogParseError
from keyscope.model import DailyCount, UsageData
from keyscope.settings import UsageSource
from keyscope.sources.usage import detect_kind

GATEWAY_FIELDS = {
    "timestamp": "time",
    "key_id": "api_key_id",
    "method": "http_method",
    "path": "request_uri",
    "status": "status_code",
}

MIXED = [
    record(key_id="key_a", path="/v1/invoices?limit=10", timestamp="2026-09-01T10:00:00Z"),
    record(key_id="key_a", path="/v1/invoices/", timestamp="2026-09-02T10:00:00Z"),
    record(
        key_id="key_a", method="get", path="/v1/invoices/in_1", timestamp="2026-09-03T10:00:00Z"
    ),
    record(key_id="key_a", path="/v1/invoices/in_2", timestamp="2026-09-04T10:00:00+02:00"),
    record(key_id="key_a", method="POST", path="/v1/refunds", status=403),
    record(key_id="key_b", method="POST", path="/v1/invoices", status=201),
    record(key_id="key_b", path="/v1/legacy/charges?api_key=sk_live_abcdefgh12345678", status=200),
    record(key_id="key_b", path="/v1/payments", status=500),
    record(key_id="key_b", path="/v1/payments", status=429),
    record(key_id="key_unknown", path="/v1/customers/cus_9", status=302),
]
"""Ten in-window requests touching every path rule and status class."""

EXPECTED = {
    ("key_a", "GET", "/invoices", "GET /invoices", "success"): 2,
    ("key_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "success"): 2,
    ("key_a", "POST", "/refunds", "POST /refunds", "denied"): 1,
    ("key_b", "POST", "/invoices", "POST /invoices", "success"): 1,
    ("key_b", "GET", "/legacy/charges", None, "success"): 1,
    ("key_b", "GET", "/payments", "GET /payments", "server_error"): 1,
    ("key_b", "GET", "/payments", "GET /payments", "client_error"): 1,
    (
        "key_unknown",
        "GET",
        "/customers/{customer_id}",
        "GET /customers/{customer_id}",
        "success",
    ): 1,
}


def _jsonl(path: Path, records: list[dict]) -> Path:
    return write_lines(path, [json.dumps(item) for item in records])


# --------------------------------------------------------------------------- formats


def test_json_lines_are_aggregated_matched_and_classified(tmp_path: Path) -> None:
    usage = load(_jsonl(tmp_path / "requests.jsonl", MIXED))
    assert counts(usage) == EXPECTED
    assert_accounted(usage)
    (stats,) = usage.sources
    assert (stats.kind, stats.lines, stats.bad_lines, stats.in_window) == ("jsonl", 10, 0, 10)
    assert usage.incomplete_reasons == ()


def test_first_and_last_seen_are_utc_and_use_the_offset(tmp_path: Path) -> None:
    usage = load(_jsonl(tmp_path / "requests.jsonl", MIXED))
    (row,) = [r for r in usage.rows if r.operation == "GET /invoices/{invoice_id}"]
    assert row.first_seen == datetime(2026, 9, 3, 10, tzinfo=UTC)
    # 10:00 at +02:00 is 08:00 UTC.
    assert row.last_seen == datetime(2026, 9, 4, 8, tzinfo=UTC)
    assert row.first_seen.utcoffset() == timedelta(0)


def test_gzip_gives_the_same_result_as_plain_text(tmp_path: Path) -> None:
    plain = load(_jsonl(tmp_path / "requests.jsonl", MIXED))
    packed = load(_jsonl(tmp_path / "requests.jsonl.gz", MIXED))
    assert packed.rows == plain.rows
    assert packed.daily == plain.daily
    assert packed.sources[0].lines == 10


def test_csv_with_mapped_columns_matches_json_lines(tmp_path: Path) -> None:
    header = ["time", "api_key_id", "http_method", "request_uri", "status_code", "latency_ms"]
    rows = [[r["timestamp"], r["key_id"], r["method"], r["path"], r["status"], 12] for r in MIXED]
    path = write_csv(tmp_path / "gateway.csv", header, rows)
    usage = load(UsageSource(path=str(path), fields=GATEWAY_FIELDS))
    assert counts(usage) == EXPECTED
    assert usage.sources[0].kind == "csv"
    assert usage.sources[0].lines == 10
    assert_accounted(usage)


def test_csv_gzip_and_tab_separated(tmp_path: Path) -> None:
    header = ["timestamp", "key_id", "method", "path", "status"]
    text = (
        "\t".join(header)
        + "\n"
        + "".join("\t".join(str(r[name]) for name in header) + "\n" for r in MIXED)
    )
    path = write_bytes(tmp_path / "requests.tsv.gz", text.encode())
    usage = load(path)
    assert counts(usage) == EXPECTED


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array(
                [datetime(2026, 9, 1, 10, tzinfo=UTC), datetime(2026, 9, 2, 11, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
            "key_id": ["key_a", "key_a"],
            "method": ["GET", "GET"],
            "path": ["/v1/invoices/in_1?expand=lines", "/v1/invoices/in_2"],
            "status": pa.array([200, 404], pa.int32()),
            "request_id": ["req_1", "req_2"],
        }
    )
    path = tmp_path / "requests.parquet"
    pq.write_table(table, path)
    usage = load(path)
    assert counts(usage) == {
        ("key_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "success"): 1,
        ("key_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "client_error"): 1,
    }
    assert usage.sources[0].kind == "parquet"
    assert usage.rows[1].first_seen == datetime(2026, 9, 1, 10, tzinfo=UTC)


def test_parquet_naive_timestamps_need_a_timezone(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([datetime(2026, 9, 1, 10)], pa.timestamp("ms")),
            "key_id": ["key_a"],
            "method": ["GET"],
            "path": ["/v1/invoices"],
            "status": [200],
        }
    )
    path = tmp_path / "naive.parquet"
    pq.write_table(table, path)
    strict = load(path, threshold=1.0)
    assert strict.sources[0].bad_lines == 1
    assert "timezone" in strict.bad_line_examples[0].reason
    berlin = load(UsageSource(path=str(path), timezone="Europe/Berlin"))
    assert berlin.rows[0].first_seen == datetime(2026, 9, 1, 8, tzinfo=UTC)


def test_epoch_seconds_and_milliseconds(tmp_path: Path) -> None:
    moment = datetime(2026, 9, 1, 10, tzinfo=UTC)
    seconds = int(moment.timestamp())
    path = write_lines(
        tmp_path / "epoch.jsonl",
        [
            line(timestamp=seconds),
            line(timestamp=str(seconds)),
            line(timestamp=seconds * 1000 + 250),
            line(timestamp=seconds + 0.5),
        ],
    )
    usage = load(path)
    (row,) = usage.rows
    assert row.count == 4
    assert row.first_seen == moment
    assert row.last_seen == moment + timedelta(milliseconds=500)


def test_timezone_setting_reads_zone_less_timestamps(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "local.jsonl", [line(timestamp="2026-09-01 10:00:00")])
    assert load(path, threshold=1.0).rows == ()
    usage = load(UsageSource(path=str(path), timezone="+02:00"))
    assert usage.rows[0].first_seen == datetime(2026, 9, 1, 8, tzinfo=UTC)
    usage = load(UsageSource(path=str(path), timezone="UTC"))
    assert usage.rows[0].first_seen == datetime(2026, 9, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "+99:99", "+25:00", "-15:00", "+02:75"])
def test_an_unknown_timezone_is_an_error(tmp_path: Path, zone: str) -> None:
    # An out-of-range offset once shifted every request by days without a word.
    path = write_lines(tmp_path / "local.jsonl", [line()])
    with pytest.raises(LogParseError, match=f"unknown timezone '{re.escape(zone)}'"):
        load(UsageSource(path=str(path), timezone=zone))


@pytest.mark.parametrize("zone", ["+14:01", "+14:30", "-1459", "+1430"])
def test_an_offset_just_past_the_real_range_is_an_error(tmp_path: Path, zone: str) -> None:
    path = write_lines(tmp_path / "local.jsonl", [line()])
    with pytest.raises(LogParseError, match=f"offset '{re.escape(zone)}' is beyond ±14:00"):
        load(UsageSource(path=str(path), timezone=zone))


def test_offsets_at_the_ends_of_the_real_range_are_read(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "local.jsonl", [line(timestamp="2026-09-01 10:00:00")])
    usage = load(UsageSource(path=str(path), timezone="+14:00"))
    assert usage.rows[0].first_seen == datetime(2026, 8, 31, 20, tzinfo=UTC)
    usage = load(UsageSource(path=str(path), timezone="-1200"))
    assert usage.rows[0].first_seen == datetime(2026, 9, 1, 22, tzinfo=UTC)


# --------------------------------------------------------------------------- files and globs


def test_glob_reads_every_match_in_name_order(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _jsonl(logs / "b.jsonl", MIXED[:5])
    _jsonl(logs / "a.jsonl.gz", MIXED[5:])
    (logs / "notes.txt").write_text("not a log")
    usage = load(str(logs / "*.jsonl*"))
    assert counts(usage) == EXPECTED
    assert usage.sources[0].source == str(logs / "*.jsonl*")
    assert usage.sources[0].lines == 10


def test_a_glob_matching_nothing_is_an_error_naming_it(tmp_path: Path) -> None:
    pattern = str(tmp_path / "missing-*.jsonl")
    with pytest.raises(LogParseError) as caught:
        load(pattern)
    assert pattern in str(caught.value)
    assert "matches no file" in str(caught.value)
    assert caught.value.exit_code == 3


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LogParseError, match="file not found"):
        load(tmp_path / "absent.jsonl")


def test_kind_comes_from_the_extension_or_the_source() -> None:
    assert detect_kind(Path("a.jsonl.gz")) == "jsonl"
    assert detect_kind(Path("a.ndjson")) == "jsonl"
    assert detect_kind(Path("a.CSV")) == "csv"
    assert detect_kind(Path("a.tsv.gz")) == "csv"
    assert detect_kind(Path("a.parquet")) == "parquet"
    assert detect_kind(Path("capture.har")) == "har"
    assert detect_kind(Path("a.bin")) is None


def test_an_unknown_extension_needs_a_kind(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "requests.data", MIXED)
    with pytest.raises(LogParseError, match="set kind"):
        load(path)
    usage = load(UsageSource(path=str(path), kind="jsonl"))
    assert counts(usage) == EXPECTED


def test_several_sources_are_reported_apart_and_merged_in_rows(tmp_path: Path) -> None:
    first = _jsonl(tmp_path / "one.jsonl", MIXED[:3])
    second = _jsonl(tmp_path / "two.jsonl", MIXED[:3])
    usage = load(first, second)
    assert [stats.lines for stats in usage.sources] == [3, 3]
    assert counts(usage)[("key_a", "GET", "/invoices", "GET /invoices", "success")] == 4


# --------------------------------------------------------------------------- mapping


def test_json_lines_field_mapping_and_nested_paths(tmp_path: Path) -> None:
    items = [
        {
            "ts": IN_WINDOW,
            "auth": {"key": "key_a"},
            "verb": "GET",
            "uri": "/v1/invoices",
            "code": 200,
        }
    ]
    path = _jsonl(tmp_path / "mapped.jsonl", items)
    fields = {
        "timestamp": "ts",
        "key_id": "$.auth.key",
        "method": "verb",
        "path": "uri",
        "status": "code",
    }
    usage = load(UsageSource(path=str(path), fields=fields))
    assert counts(usage) == {("key_a", "GET", "/invoices", "GET /invoices", "success"): 1}


def test_a_mapped_json_field_no_line_has_is_an_error(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "requests.jsonl", MIXED)
    with pytest.raises(LogParseError) as caught:
        load(UsageSource(path=str(path), fields={"status": "status_code"}))
    message = str(caught.value)
    assert str(path) in message
    assert "'status_code'" in message
    assert "\n" not in message


def test_a_missing_csv_column_is_a_one_line_error_naming_file_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "gateway.csv",
        ["time", "api_key_id", "http_method", "status_code"],
        [[IN_WINDOW, "key_a", "GET", 200]],
    )
    with pytest.raises(LogParseError) as caught:
        load(UsageSource(path=str(path), fields=GATEWAY_FIELDS))
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "'request_uri'" in message
    assert "\n" not in message


def test_a_missing_parquet_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    pq.write_table(pa.table({"timestamp": [IN_WINDOW], "key_id": ["k"], "method": ["GET"]}), path)
    with pytest.raises(LogParseError, match="no column 'path'"):
        load(path)


# --------------------------------------------------------------------------- window


def test_only_requests_inside_the_window_count(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "window.jsonl",
        [
            line(timestamp="2026-08-02T23:59:59Z"),  # before the start
            line(timestamp="2026-08-03T00:00:00Z"),  # the first instant counted
            line(timestamp="2026-10-31T23:59:59.999Z"),  # the last instant counted
            line(timestamp="2026-11-01T00:00:00Z"),  # the end is excluded
            line(timestamp="2031-01-01T00:00:00Z"),  # clock skew: the future is out of window
        ],
    )
    usage = load(path)
    (row,) = usage.rows
    assert row.count == 2
    assert row.first_seen == WINDOW_START
    assert row.last_seen == WINDOW_END - timedelta(milliseconds=1)
    (stats,) = usage.sources
    assert (stats.in_window, stats.out_of_window, stats.bad_lines) == (2, 3, 0)
    assert_accounted(usage)
    assert usage.days_with_data == {date(2026, 8, 3), date(2026, 10, 31)}


def test_daily_counts_split_success_and_denied_per_utc_day(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "daily.jsonl",
        [
            line(timestamp="2026-09-01T23:30:00Z"),
            line(timestamp="2026-09-02T00:30:00+02:00"),  # 2026-09-01T22:30Z
            line(timestamp="2026-09-01T12:00:00Z", status=401),
            line(timestamp="2026-09-02T12:00:00Z", status=500),
            line(timestamp="2026-09-03T12:00:00Z", key_id="key_b", status=403),
        ],
    )
    usage = load(path)
    assert usage.daily == (
        DailyCount("key_a", date(2026, 9, 1), success=2, denied=1),
        DailyCount("key_b", date(2026, 9, 3), success=0, denied=1),
    )
    # A day with only a server error still has data.
    assert usage.days_with_data == {date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)}


# --------------------------------------------------------------------------- matching


def test_each_distinct_route_is_matched_once(tmp_path: Path) -> None:
    items = [
        record(key_id=f"key_{n % 7}", path="/v1/invoices/in_1", status=200 + n % 2)
        for n in range(200)
    ]
    items += [record(key_id=f"key_{n % 3}", path="/v1/invoices") for n in range(50)]
    matcher = CountingMatcher()
    usage = load(_jsonl(tmp_path / "many.jsonl", items), matcher=matcher)
    assert total_requests(usage) == 250
    assert set(matcher.calls.values()) == {1}
    assert set(matcher.calls) == {("GET", "/v1/invoices/in_1"), ("GET", "/v1/invoices")}


def test_unmatched_paths_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "odd.jsonl",
        [
            line(key_id="key_nobody_knows", path="/v1/legacy/charges/ch_1?token=abc"),
            line(key_id="key_nobody_knows", path="/v1/charges/../keys"),
            line(key_id="key_nobody_knows", path="https://api.example.test/v1/invoices?x=1"),
        ],
    )
    usage = load(path)
    assert counts(usage) == {
        # A dot segment is never resolved: the path stays as logged (query cut off).
        ("key_nobody_knows", "GET", "/v1/charges/../keys", None, "success"): 1,
        ("key_nobody_knows", "GET", "/legacy/charges/ch_1", None, "success"): 1,
        ("key_nobody_knows", "GET", "/invoices", "GET /invoices", "success"): 1,
    }


def test_head_counts_for_the_get_operation_but_keeps_its_method(tmp_path: Path) -> None:
    usage = load(write_lines(tmp_path / "head.jsonl", [line(method="HEAD", path="/v1/payments")]))
    assert counts(usage) == {("key_a", "HEAD", "/payments", "GET /payments", "success"): 1}


# --------------------------------------------------------------------------- duplicates


def _load_pages(tmp_path: Path, *pages: list[dict]) -> UsageData:
    """The usage of ``pages`` written as page1.jsonl, page2.jsonl... and read by one glob."""
    logs = tmp_path / "pages"
    logs.mkdir()
    for number, items in enumerate(pages, start=1):
        _jsonl(logs / f"page{number}.jsonl", items)
    return load(str(logs / "*.jsonl"))


def test_repeated_request_ids_across_files_are_counted_once(tmp_path: Path) -> None:
    first = [record(request_id=f"req_{n}", timestamp=f"2026-09-01T10:00:0{n}Z") for n in range(5)]
    second = [*first[3:], record(request_id="req_9", timestamp="2026-09-02T10:00:00Z")]
    usage = _load_pages(tmp_path, first, second)
    (stats,) = usage.sources
    assert (stats.lines, stats.duplicates, stats.in_window) == (8, 2, 6)
    assert total_requests(usage) == 6
    assert sum(day.success for day in usage.daily) == 6
    assert_accounted(usage)


def test_a_copy_that_differs_only_in_the_methods_case_is_a_repeat(tmp_path: Path) -> None:
    first = [
        record(request_id=f"req_{n}", method="GET", timestamp=f"2026-09-01T10:00:0{n}Z")
        for n in range(5)
    ]
    second = [{**item, "method": "get"} for item in first[2:]]
    usage = _load_pages(tmp_path, first, second)
    (stats,) = usage.sources
    assert (stats.lines, stats.duplicates, stats.in_window) == (8, 3, 5)
    assert total_requests(usage) == 5
    assert {row.method for row in usage.rows} == {"GET"}
    assert_accounted(usage)


def test_event_id_deduplicates_too_and_different_events_are_kept(tmp_path: Path) -> None:
    items = [
        record(event_id="evt_1"),
        record(event_id="evt_1"),
        record(event_id="evt_2"),
        record(),  # no id: never a duplicate
        record(),
    ]
    usage = load(_jsonl(tmp_path / "events.jsonl", items))
    assert usage.sources[0].duplicates == 1
    assert total_requests(usage) == 4


def test_csv_request_id_column_deduplicates(tmp_path: Path) -> None:
    header = ["timestamp", "key_id", "method", "path", "status", "request_id"]
    rows = [[IN_WINDOW, "key_a", "GET", "/v1/invoices", 200, "r1"]] * 3
    usage = load(write_csv(tmp_path / "dups.csv", header, rows))
    assert (usage.sources[0].duplicates, total_requests(usage)) == (2, 1)


def test_no_request_id_means_no_deduplication(tmp_path: Path) -> None:
    usage = load(write_lines(tmp_path / "same.jsonl", [line()] * 4))
    assert (usage.sources[0].duplicates, total_requests(usage)) == (0, 4)


# --------------------------------------------------------------------------- aggregates


def _aggregate_table(with_day: bool) -> pa.Table:
    data = {
        "key_id": ["key_a", "key_a", "key_b", "key_b"],
        "method": ["GET", "get", "POST", "GET"],
        "path": ["/v1/invoices/in_1", "/v1/invoices/in_2", "/v1/refunds", "/v1/nowhere"],
        "status": [200, 200, 403, 200],
        "count": [1000, 500, 7, 3],
        "first_seen": pa.array(
            [
                datetime(2026, 9, 1, tzinfo=UTC),
                datetime(2026, 9, 2, tzinfo=UTC),
                datetime(2026, 9, 5, tzinfo=UTC),
                datetime(2025, 1, 1, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
        "last_seen": pa.array(
            [
                datetime(2026, 9, 1, 23, tzinfo=UTC),
                datetime(2026, 9, 2, 5, tzinfo=UTC),
                datetime(2026, 9, 5, 1, tzinfo=UTC),
                datetime(2025, 1, 2, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
    }
    if with_day:
        data["day"] = [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 5), date(2025, 1, 1)]
    return pa.table(data)


def test_a_parquet_aggregate_with_days(tmp_path: Path) -> None:
    path = tmp_path / "agg.parquet"
    pq.write_table(_aggregate_table(with_day=True), path)
    usage = load(UsageSource(path=str(path), kind="aggregate"))
    assert counts(usage) == {
        ("key_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "success"): 1500,
        ("key_b", "POST", "/refunds", "POST /refunds", "denied"): 7,
    }
    (stats,) = usage.sources
    assert (stats.kind, stats.lines, stats.in_window, stats.out_of_window) == ("aggregate", 4, 3, 1)
    assert DailyCount("key_a", date(2026, 9, 1), 1000, 0) in usage.daily
    assert usage.days_with_data == {date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 5)}


def test_a_csv_aggregate_with_status_class_and_operation(tmp_path: Path) -> None:
    header = [
        "key_id",
        "method",
        "path",
        "status_class",
        "count",
        "first_seen",
        "last_seen",
        "operation",
    ]
    rows = [
        [
            "key_a",
            "GET",
            "/invoices/{invoice_id}",
            "success",
            12,
            "2026-09-01T00:00:00Z",
            "2026-09-03T12:00:00Z",
            "GET /invoices/{invoice_id}",
        ],
        [
            "key_a",
            "GET",
            "/v1/invoices",
            "denied",
            2,
            "2026-09-01T00:00:00Z",
            "2026-09-01T00:00:00Z",
            "",
        ],
        [
            "key_a",
            "GET",
            "/v1/invoices",
            "teapot",
            2,
            "2026-09-01T00:00:00Z",
            "2026-09-01T00:00:00Z",
            "",
        ],
    ]
    path = write_csv(tmp_path / "agg.csv", header, rows)
    usage = load(UsageSource(path=str(path), kind="aggregate"), threshold=1.0)
    assert counts(usage) == {
        ("key_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "success"): 12,
        ("key_a", "GET", "/invoices", "GET /invoices", "denied"): 2,
    }
    # Without a day column a row covers every day from first to last seen.
    assert usage.days_with_data == {date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)}
    assert usage.sources[0].bad_lines == 1
    assert usage.bad_line_examples[0].line == 4
    assert "status_class" in usage.bad_line_examples[0].reason


def test_zone_less_aggregate_times_are_named_as_such(tmp_path: Path) -> None:
    # Spark writes Parquet timestamps as zone-less INT96 by default: each row is a bad
    # row that says so (it used to read as a "missing field").
    table = _aggregate_table(with_day=False)
    for column in ("first_seen", "last_seen"):
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, table[column].cast(pa.timestamp("us")))
    path = tmp_path / "agg.parquet"
    pq.write_table(table, path)
    usage = load(UsageSource(path=str(path), kind="aggregate"), threshold=1.0)
    assert usage.sources[0].bad_lines == 4 and not usage.rows
    assert {example.reason for example in usage.bad_line_examples} == {
        "first_seen or last_seen has no timezone (write UTC instants, e.g. Spark's "
        "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS)"
    }


def test_an_aggregate_missing_a_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "agg.parquet"
    pq.write_table(_aggregate_table(with_day=False).drop(["count"]), path)
    with pytest.raises(LogParseError, match="no column 'count'"):
        load(UsageSource(path=str(path), kind="aggregate"))


# --------------------------------------------------------------------------- hygiene


def test_same_lines_in_any_order_give_identical_results(tmp_path: Path) -> None:
    items = [
        record(
            key_id=f"key_{n % 5}",
            path=f"/v1/invoices/in_{n % 11}",
            timestamp=f"2026-09-{1 + n % 28:02d}T10:00:00Z",
            status=(200, 403, 500)[n % 3],
        )
        for n in range(600)
    ]
    first = load(_jsonl(tmp_path / "a.jsonl", items))
    random.Random(7).shuffle(items)
    second = load(_jsonl(tmp_path / "b.jsonl", items))
    assert first.rows == second.rows
    assert first.daily == second.daily
    assert first.days_with_data == second.days_with_data


def test_no_temporary_files_are_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    load(_jsonl(tmp_path / "requests.jsonl", MIXED))
    assert list(scratch.iterdir()) == []
    assert list(work.iterdir()) == []


def test_one_in_memory_duckdb_on_every_core_without_a_progress_bar() -> None:
    import os

    from keyscope.sources.usage import _connect

    with _connect() as connection:
        settings = dict(
            connection.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('threads', 'enable_progress_bar', 'preserve_insertion_order', 'TimeZone')"
            ).fetchall()
        )
        database = connection.execute("SELECT current_database()").fetchone()[0]
    # A progress bar would be drawn on stdout, in the middle of a JSON report.
    assert settings["enable_progress_bar"] == "false"
    assert settings["preserve_insertion_order"] == "false"
    assert settings["TimeZone"] == "UTC"
    assert int(settings["threads"]) == len(os.sched_getaffinity(0))
    assert database == "memory"


def test_csv_with_crlf_bom_and_quoted_header(tmp_path: Path) -> None:
    text = '\ufeff"time","api_key_id","http_method","request_uri","status_code"\r\n' + "".join(
        f'{r["timestamp"]},{r["key_id"]},{r["method"]},"{r["path"]}",{r["status"]}\r\n'
        for r in MIXED
    )
    path = write_bytes(tmp_path / "windows.csv", text.encode())
    usage = load(UsageSource(path=str(path), fields=GATEWAY_FIELDS))
    assert counts(usage) == EXPECTED
    assert usage.sources[0].lines == 10
    assert_accounted(usage)


def test_csv_with_lone_cr_line_ends_is_an_error_that_says_so(tmp_path: Path) -> None:
    text = "timestamp,key_id,method,path,status\r" + "".join(
        f"{r['timestamp']},{r['key_id']},{r['method']},{r['path']},{r['status']}\r" for r in MIXED
    )
    path = write_bytes(tmp_path / "classic-mac.csv", text.encode())
    with pytest.raises(LogParseError, match="lone CR") as caught:
        load(UsageSource(path=str(path)))
    assert "classic-mac.csv:line 1" in str(caught.value)


# --------------------------------------------------------------------------- fuzz findings


@pytest.mark.parametrize("field", ["started", "method", "url"])
def test_a_har_entry_with_a_lone_surrogate_is_a_bad_line(tmp_path: Path, field: str) -> None:
    # "\ud800" is valid JSON but no UTF-8 text: it used to crash the audit (exit 70).
    values = {"started": IN_WINDOW, "method": "GET", "url": "https://h/v1/invoices"}
    values[field] = values[field] + "\\ud800"
    entry = (
        '{"startedDateTime": "%(started)s", "request": {"method": "%(method)s", '
        '"url": "%(url)s"}, "response": {"status": 200}}'
    )
    good = entry % {"started": IN_WINDOW, "method": "GET", "url": "https://h/v1/invoices"}
    path = tmp_path / "capture.har"
    path.write_text('{"log": {"entries": [' + good + ", " + entry % values + "]}}")
    usage = load(path, threshold=1.0)
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines, stats.in_window) == (2, 1, 1)
    assert [(e.line, e.reason) for e in usage.bad_line_examples] == [(2, "not valid UTF-8")]
    assert_accounted(usage)


def _day_aggregate(tmp_path: Path, days: list[str]) -> UsageData:
    header = ["key_id", "method", "path", "status", "count", "first_seen", "last_seen", "day"]
    rows = [
        ["key_a", "GET", "/v1/invoices", 200, 5, "2026-09-01T00:00:00Z", "2026-09-02T23:00:00Z", d]
        for d in days
    ]
    path = write_csv(tmp_path / "agg.csv", header, rows)
    return load(UsageSource(path=str(path), kind="aggregate"), threshold=1.0)


def test_an_aggregate_day_that_is_no_date_or_outside_its_row_is_a_bad_row(
    tmp_path: Path,
) -> None:
    usage = _day_aggregate(
        tmp_path,
        ["garbage", "2027-10-01", "2026-13-01", "2020-01-01", "20260901", "2026-09-02", ""],
    )
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines, stats.in_window) == (7, 6, 1)
    assert [(e.line, e.reason) for e in usage.bad_line_examples] == [
        (2, "day is not a date (YYYY-MM-DD)"),
        (3, "day is outside first_seen to last_seen"),
        (4, "day is not a date (YYYY-MM-DD)"),
        (5, "day is outside first_seen to last_seen"),
        (6, "day is not a date (YYYY-MM-DD)"),
    ]
    # Only the good row is usage, and it is on the daily series: they agree.
    assert total_requests(usage) == 5
    assert usage.daily == (DailyCount("key_a", date(2026, 9, 2), 5, 0),)
    assert_accounted(usage)


def test_an_aggregate_row_whose_day_is_outside_the_window_is_out_of_window(
    tmp_path: Path,
) -> None:
    header = ["key_id", "method", "path", "status", "count", "first_seen", "last_seen", "day"]
    rows = [  # seen across the window's start; the day is before it
        [
            "key_a",
            "GET",
            "/v1/invoices",
            200,
            5,
            "2026-08-02T10:00:00Z",
            "2026-08-04T00:00:00Z",
            day,
        ]
        for day in ("2026-08-02", "2026-08-03")
    ]
    path = write_csv(tmp_path / "agg.csv", header, rows)
    usage = load(UsageSource(path=str(path), kind="aggregate"))
    (stats,) = usage.sources
    assert (stats.bad_lines, stats.in_window, stats.out_of_window) == (0, 1, 1)
    assert total_requests(usage) == 5
    assert usage.daily == (DailyCount("key_a", date(2026, 8, 3), 5, 0),)


def test_a_parquet_aggregate_day_of_a_wrong_type_is_a_bad_row(tmp_path: Path) -> None:
    for values in (["x", "2026-09-02", "x", "x"], [1, 2, 3, 4]):
        table = _aggregate_table(with_day=False).append_column("day", pa.array(values))
        path = tmp_path / "agg.parquet"
        pq.write_table(table, path)
        usage = load(UsageSource(path=str(path), kind="aggregate"), threshold=1.0)
        assert {e.reason for e in usage.bad_line_examples} == {"day is not a date (YYYY-MM-DD)"}
        assert usage.sources[0].bad_lines == (3 if values[1] == "2026-09-02" else 4)
        assert_accounted(usage)


@pytest.mark.parametrize("seen", ["2026-09-01T00:00:00+99:00", "2026-09-01T00:00:00+14:30"])
def test_an_aggregate_time_with_an_offset_past_14_hours_is_unreadable(
    tmp_path: Path, seen: str
) -> None:
    header = ["key_id", "method", "path", "status", "count", "first_seen", "last_seen"]
    rows = [
        ["key_a", "GET", "/v1/invoices", 200, 5, seen, "2026-09-02T00:00:00Z"],
        ["key_a", "GET", "/v1/invoices", 200, 5, "2026-09-01T00:00:00+14:00", seen],
        [
            "key_a",
            "GET",
            "/v1/invoices",
            200,
            5,
            "2026-09-01T00:00:00-14:00",
            "2026-09-03T00:00:00Z",
        ],
    ]
    path = write_csv(tmp_path / "agg.csv", header, rows)
    usage = load(UsageSource(path=str(path), kind="aggregate"), threshold=1.0)
    assert [(e.line, e.reason) for e in usage.bad_line_examples] == [
        (2, "unreadable timestamp"),
        (3, "unreadable timestamp"),
    ]
    assert total_requests(usage) == 5


@pytest.mark.parametrize(
    "timestamp",
    ["2026-09-01T00:00:00+99:00", "2026-09-01T00:00:00+14:30", "2026-09-01 10:00 -1401",
     "2026-09-01T00:00:00+99"],
)  # fmt: skip
@pytest.mark.parametrize("zone", [None, "UTC"])
def test_a_timestamp_offset_past_14_hours_is_unreadable(
    tmp_path: Path, timestamp: str, zone: str | None
) -> None:
    # DuckDB reads "+99:00" as a shift of four days; the source's zone must not apply.
    path = write_lines(tmp_path / "log.jsonl", [line(), line(timestamp=timestamp)])
    usage = load(UsageSource(path=str(path), timezone=zone), threshold=1.0)
    assert [(e.line, e.reason) for e in usage.bad_line_examples] == [(2, "unreadable timestamp")]
    assert total_requests(usage) == 1


def test_offsets_up_to_14_hours_are_still_read(tmp_path: Path) -> None:
    stamps = ["2026-09-01T10:00:00+14:00", "2026-09-01T10:00:00-1400", "2026-09-01T10:00:00+0530"]
    usage = load(write_lines(tmp_path / "log.jsonl", [line(timestamp=t) for t in stamps]))
    assert usage.bad_lines == 0 and total_requests(usage) == 3


def test_a_boolean_parquet_timestamp_is_unreadable(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": [True, False],
            "key_id": ["key_a"] * 2,
            "method": ["GET"] * 2,
            "path": ["/v1/invoices"] * 2,
            "status": [200] * 2,
        }
    )
    path = tmp_path / "log.parquet"
    pq.write_table(table, path)
    usage = load(path, threshold=1.0)
    assert usage.sources[0].bad_lines == 2
    assert {e.reason for e in usage.bad_line_examples} == {"unreadable timestamp"}


CSV_HEADER = "timestamp,key_id,method,path,status"
CSV_ROW = f"{IN_WINDOW},key_a,GET,/v1/invoices,200"
CSV_BAD = f"{IN_WINDOW},key_a,GET,/v1/invoices,OK"


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize(
    ("body", "bad"),
    [
        (f"{CSV_HEADER}\r\n{CSV_ROW}\n{CSV_ROW}\n{CSV_BAD}\n", [(4, 7)]),  # CRLF header
        (f"{CSV_HEADER}\n{CSV_ROW}\n{CSV_ROW}\r\n{CSV_BAD}\n", [(4, 7)]),  # one CRLF row
        (f"{CSV_HEADER}\n{CSV_ROW}\n{CSV_ROW}\n{CSV_BAD}\n\r", [(4, 7)]),  # CR at the end
        (f"{CSV_HEADER}\n{CSV_ROW}\n{CSV_ROW}\n{CSV_BAD}\n\r\n", [(4, 7)]),  # blank CR line
        # A lone CR between two records, or inside a field: that line is bad.
        (
            f"{CSV_HEADER}\n{CSV_ROW}\r{CSV_ROW}\n{CSV_ROW}\n{CSV_ROW}\n{CSV_BAD}\n",
            [(2, 23), (5, 7)],
        ),
        (
            f"{CSV_HEADER}\n{CSV_ROW[:9]}\r{CSV_ROW[9:]}\n{CSV_ROW}\r\n{CSV_ROW}\n{CSV_BAD}\n",
            [(2, 23), (5, 7)],
        ),
    ],
)
def test_csv_lines_ending_in_lf_and_crlf_both_read(
    tmp_path: Path, body: str, bad: list[tuple[int, int]], suffix: str
) -> None:
    # DuckDB's strict reader gave up on the whole file ("state machine reached an invalid
    # state"); a lone CR inside an LF file is one counted bad line.
    from keyscope.sources.usage import _REASONS

    path = write_bytes(tmp_path / f"log{suffix}", body.encode())
    usage = load(path, threshold=1.0)
    (stats,) = usage.sources
    assert stats.bad_lines == len(bad)
    assert [(e.line, e.reason) for e in usage.bad_line_examples] == [
        (number, _REASONS[reason]) for number, reason in bad
    ]
    assert total_requests(usage) == 2
    assert_accounted(usage)
    assert not list(Path(tempfile.gettempdir()).glob("keyscope-csv-*"))  # copies removed


def test_an_aggregate_csv_with_mixed_line_ends_is_read(tmp_path: Path) -> None:
    header = "key_id,method,path,status,count,first_seen,last_seen"
    row = "key_a,GET,/v1/invoices,200,5,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z"
    body = f"{header}\r\n{row}\n{row}\r{row}\n{row.replace(',200,', ',OK,')}\r\n{row}\n"
    path = write_bytes(tmp_path / "agg.csv", body.encode())
    usage = load(UsageSource(path=str(path), kind="aggregate"), threshold=1.0)
    assert (usage.sources[0].lines, usage.sources[0].bad_lines) == (4, 2)
    assert [e.line for e in usage.bad_line_examples] == [3, 4]
    assert total_requests(usage) == 10
    assert_accounted(usage)


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,key_id,method,path,status,Status",
        "Timestamp,timestamp,key_id,method,path,status",
        "timestamp,key_id,method,path,status,request_id,REQUEST_ID",
        "timestamp,key_id,METHOD,method,path,status,Method",
    ],
)
def test_csv_columns_differing_only_in_case_are_read(tmp_path: Path, header: str) -> None:
    names = header.split(",")
    values = {"timestamp": IN_WINDOW, "key_id": "key_a", "method": "GET", "path": "/v1/invoices"}
    values |= {"status": "200", "request_id": "r1"}
    row = [values.get(name, "junk") for name in names]
    path = write_csv(tmp_path / "log.csv", names, [row, row])
    usage = load(path)
    expected = 1 if "request_id" in names else 2  # the exact-case request_id de-duplicates
    assert (usage.bad_lines, total_requests(usage)) == (0, expected)


def test_a_mapped_column_present_only_in_other_cases_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", ["Timestamp", "TIMESTAMP", "key_id", "method",
                                            "path", "status"], [])  # fmt: skip
    with pytest.raises(LogParseError, match="only 'Timestamp', 'TIMESTAMP', which differ in case"):
        load(path)


def test_an_aggregate_csv_with_columns_differing_only_in_case(tmp_path: Path) -> None:
    header = ["Status", "key_id", "method", "path", "status", "count", "first_seen", "last_seen"]
    row = ["x", "key_a", "GET", "/v1/invoices", 200, 5, "2026-09-01T00:00:00Z"]
    path = write_csv(tmp_path / "agg.csv", header, [[*row, "2026-09-02T00:00:00Z"]])
    usage = load(UsageSource(path=str(path), kind="aggregate"))
    assert (usage.bad_lines, total_requests(usage)) == (0, 5)
