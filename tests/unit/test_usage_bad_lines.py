"""Bad usage lines (BAD-INPUTS #30-#39): counted, explained without content, never lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from usage_support import (
    IN_WINDOW,
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
from keyscope.settings import UsageSource

GOOD = line()
CANARY = "sk_live_CANARYcanary0123456789"
"""A live-looking secret planted in bad lines: it must never come back out."""


def _examples(usage) -> list[tuple[int, str]]:
    return [(example.line, example.reason) for example in usage.bad_line_examples]


def _everything(usage) -> str:
    return repr(usage) + str(usage)


# --------------------------------------------------------------------------- #30


def test_30_truncated_last_line_is_counted_with_its_line_number(tmp_path: Path) -> None:
    data = (GOOD + "\n") * 3 + GOOD[:40]  # the file is still being written
    usage = load(write_bytes(tmp_path / "live.jsonl", data.encode()), threshold=1.0)
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines, stats.in_window) == (4, 1, 3)
    assert _examples(usage) == [(4, "not valid JSON")]
    assert_accounted(usage)


def test_30_invalid_utf8_crlf_and_bom(tmp_path: Path) -> None:
    raw = [
        b"\xef\xbb\xbf" + GOOD.encode(),  # a byte-order mark on the first line
        GOOD.encode(),
        GOOD.replace("key_a", "key_\xff").encode("latin-1"),  # not UTF-8
        GOOD.encode(),
    ]
    usage = load(write_lines(tmp_path / "mixed.jsonl", raw, ending=b"\r\n"), threshold=1.0)
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines, stats.in_window) == (4, 1, 3)
    assert _examples(usage) == [(3, "not valid UTF-8")]
    assert_accounted(usage)


def test_30_blank_lines_are_ignored_and_not_counted(tmp_path: Path) -> None:
    data = f"\n{GOOD}\n\n   \n\t\n{GOOD}\n\n"
    usage = load(write_bytes(tmp_path / "gaps.jsonl", data.encode()))
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines, stats.in_window) == (2, 0, 2)


def test_30_line_numbers_stay_right_after_refused_and_blank_lines(tmp_path: Path) -> None:
    raw = [
        GOOD.encode(),
        b"",
        b"\xff\xfe",  # line 3: refused by the reader (not UTF-8)
        GOOD.encode(),
        b"{broken",  # line 5
        GOOD.encode(),
        line(status="OK").encode(),  # line 7
    ]
    usage = load(write_lines(tmp_path / "numbers.jsonl", raw), threshold=1.0)
    assert _examples(usage) == [
        (3, "not valid UTF-8"),
        (5, "not valid JSON"),
        (7, "status is not an HTTP status code"),
    ]
    assert_accounted(usage)


def test_30_above_the_threshold_the_data_is_incomplete_not_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "half.jsonl", [GOOD, "{", GOOD, "{"])
    usage = load(path, threshold=0.25)
    assert usage.sources[0].bad_lines == 2
    (reason,) = usage.incomplete_reasons
    assert str(path) in reason
    assert "2 of 4" in reason
    assert load(path, threshold=0.5).incomplete_reasons == ()


def test_30_at_most_five_examples_per_source_first_lines_first(tmp_path: Path) -> None:
    usage = load(write_lines(tmp_path / "bad.jsonl", ["{"] * 9 + [GOOD]), threshold=1.0)
    assert usage.sources[0].bad_lines == 9
    assert [number for number, _ in _examples(usage)] == [1, 2, 3, 4, 5]


def test_30_examples_come_from_the_first_bad_files_of_a_glob(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    write_lines(logs / "1.jsonl", [GOOD, "{"])
    write_lines(logs / "2.jsonl", [GOOD] * 3)
    write_lines(logs / "3.jsonl", ["{", "[1]"])
    usage = load(str(logs / "*.jsonl"), threshold=1.0)
    assert [(Path(e.source).name, e.line, e.reason) for e in usage.bad_line_examples] == [
        ("1.jsonl", 2, "not valid JSON"),
        ("3.jsonl", 1, "not valid JSON"),
        ("3.jsonl", 2, "not a JSON object"),
    ]
    assert usage.sources[0].bad_lines == 3


# --------------------------------------------------------------------------- #31


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (line(status=float("nan")), "status is not an HTTP status code"),  # bare NaN
        (
            line(status="Infinity").replace('"Infinity"', "Infinity"),
            "status is not an HTTP status code",
        ),
        (line(status="X").replace('"X"', "9" * 5000), "status is not an HTTP status code"),
        (line(timestamp="NaN"), "unreadable timestamp"),
        (line(status=200.5), "status is not an HTTP status code"),
        (line(status=True), "status is not an HTTP status code"),
        ("[" * 10_000 + "]" * 10_000, "not a JSON object"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "missing field 'timestamp'"),
        (json.dumps({"key_id": "key_a"}), "missing field 'timestamp'"),
        (line(key_id=None), "missing field 'key_id'"),
        (line(method="GET /x"), "method is not an HTTP method"),
        (line(key_id="   "), "key id is empty or longer than 256 characters"),
        (line(path="invoices"), "path is neither a path nor a URL"),
        ("not json at all", "not valid JSON"),
    ],
)
def test_31_hostile_values_are_bad_lines(tmp_path: Path, bad: str, reason: str) -> None:
    usage = load(write_lines(tmp_path / "hostile.jsonl", [GOOD, bad, GOOD]), threshold=1.0)
    assert _examples(usage) == [(2, reason)]
    assert usage.sources[0].in_window == 2
    assert_accounted(usage)


def test_31_duplicate_keys_in_one_object_do_not_break_the_line(tmp_path: Path) -> None:
    doubled = GOOD[:-1] + ', "status": 500}'
    usage = load(write_lines(tmp_path / "dupkeys.jsonl", [doubled]))
    assert usage.sources[0].lines == 1
    assert usage.sources[0].in_window + usage.sources[0].bad_lines == 1


# --------------------------------------------------------------------------- #32

HEADER = ["timestamp", "key_id", "method", "path", "status"]


def test_32_a_long_csv_field_is_read(tmp_path: Path) -> None:
    long_path = "/v1/invoices/" + "x" * 200_000
    path = write_csv(tmp_path / "long.csv", HEADER, [[IN_WINDOW, "key_a", "GET", long_path, 200]])
    usage = load(path)
    assert usage.sources[0].in_window == 1
    assert usage.rows[0].operation == "GET /invoices/{invoice_id}"


def test_32_an_unterminated_quote_swallows_lines_that_are_then_counted(tmp_path: Path) -> None:
    text = (
        ",".join(HEADER)
        + "\n"
        + f"{IN_WINDOW},key_a,GET,/v1/invoices,200\n"
        + f'{IN_WINDOW},"key_b,GET,/v1/invoices,200\n'
        + f"{IN_WINDOW},key_c,GET,/v1/invoices,200\n"
        + f"{IN_WINDOW},key_d,GET,/v1/invoices,200\n"
    )
    usage = load(write_bytes(tmp_path / "quote.csv", text.encode()), threshold=1.0)
    (stats,) = usage.sources
    assert stats.lines == 4  # physical data lines, not records
    assert stats.bad_lines >= 1
    assert stats.in_window + stats.bad_lines == 4
    assert usage.bad_line_examples[0].line == 3
    assert "quote" in usage.bad_line_examples[0].reason
    assert_accounted(usage)


def test_32_a_quoted_line_break_has_an_example_for_the_line_it_adds(tmp_path: Path) -> None:
    # Counted as a bad line before, with no example: the count alone named no place.
    text = (
        ",".join(HEADER)
        + "\n"
        + f'{IN_WINDOW},key_a,GET,"/v1/pay\nments",200\n'
        + f"{IN_WINDOW},key_b,GET,/v1/invoices,200\n"
    )
    usage = load(write_bytes(tmp_path / "break.csv", text.encode()), threshold=1.0)
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines) == (3, 1)
    assert [(e.line, "merged" in e.reason) for e in usage.bad_line_examples] == [(3, True)]
    assert_accounted(usage)


def test_32_wrong_field_counts_and_bad_csv_utf8(tmp_path: Path) -> None:
    data = (
        ",".join(HEADER).encode()
        + b"\n"
        + f"{IN_WINDOW},key_a,GET,/v1/invoices,200,extra\n".encode()
        + f"{IN_WINDOW},key_a,GET\n".encode()
        + f"{IN_WINDOW},key_\xff,GET,/v1/invoices,200\n".encode("latin-1")
        + f"{IN_WINDOW},key_a,GET,/v1/invoices,200\n".encode()
    )
    usage = load(write_bytes(tmp_path / "shape.csv", data), threshold=1.0)
    assert _examples(usage) == [
        (2, "more fields than the header"),
        (3, "fewer fields than the header"),
        (4, "not valid UTF-8"),
    ]
    assert (usage.sources[0].lines, usage.sources[0].in_window) == (4, 1)
    assert_accounted(usage)


def test_32_csv_semantic_errors_have_line_numbers(tmp_path: Path) -> None:
    rows = [[IN_WINDOW, "key_a", "GET", "/v1/invoices", 200]] * 2
    rows.append([IN_WINDOW, "key_a", "GET", "/v1/invoices", "abc"])
    rows.append(["2026-09-01 10:00:00", "key_a", "GET", "/v1/invoices", 200])
    usage = load(write_csv(tmp_path / "values.csv", HEADER, rows), threshold=1.0)
    assert [number for number, _ in _examples(usage)] == [4, 5]
    assert "timezone" in _examples(usage)[1][1]


# --------------------------------------------------------------------------- #33


def test_33_zone_less_timestamps_are_bad_unless_the_source_names_a_zone(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "naive.jsonl",
        [line(timestamp="2026-09-01T10:00:00"), line(timestamp="2026-09-01"), GOOD],
    )
    usage = load(path, threshold=1.0)
    assert usage.sources[0].bad_lines == 2
    assert all("timezone" in reason for _, reason in _examples(usage))
    assert load(path).incomplete_reasons  # 2 of 3 is far above the default 1%
    named = load(UsageSource(path=str(path), timezone="UTC"))
    assert named.sources[0].in_window == 3


@pytest.mark.parametrize("written", ["Infinity", "-infinity"])
def test_33_an_infinite_timestamp_is_unreadable_not_zone_less(tmp_path: Path, written: str) -> None:
    # DuckDB casts 'infinity' to a timestamp: it once read as "without a timezone", and
    # with a zone named, as a request in the year 9999 (out of the window, not bad).
    path = write_lines(tmp_path / "inf.jsonl", [line(timestamp=written), GOOD])
    usage = load(path, threshold=1.0)
    assert usage.sources[0].bad_lines == 1
    assert [reason for _, reason in _examples(usage)] == ["unreadable timestamp"]
    named = load(UsageSource(path=str(path), timezone="UTC"), threshold=1.0)
    assert (named.sources[0].bad_lines, named.sources[0].out_of_window) == (1, 0)


def test_33_out_of_order_lines_and_gaps_are_fine(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "order.jsonl",
        [
            line(timestamp="2026-10-01T00:00:00Z"),
            line(timestamp="2026-08-10T00:00:00Z"),
            line(timestamp="2026-09-15T00:00:00Z"),
        ],
    )
    usage = load(path)
    assert usage.days_with_data == {date(2026, 8, 10), date(2026, 9, 15), date(2026, 10, 1)}
    assert usage.rows[0].first_seen.date() == date(2026, 8, 10)


# --------------------------------------------------------------------------- #35, #36


def test_35_denied_requests_are_kept_apart_from_usage(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "probe.jsonl",
        [line(method="POST", path="/v1/refunds", status=403)] * 5
        + [line(method="POST", path="/v1/refunds", status=401)],
    )
    usage = load(path)
    assert counts(usage) == {("key_a", "POST", "/refunds", "POST /refunds", "denied"): 6}
    assert usage.daily[0].success == 0
    assert usage.daily[0].denied == 6


def test_36_unmatched_routes_and_unknown_keys_are_never_dropped(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "odd.jsonl",
        [
            line(key_id="key_ghost", path="/v1/charges/..%2Fkeys"),
            line(key_id="key_ghost", method="get", path="/v1/invoices/"),
            line(key_id="key_ghost", path="/v1/invoices%2Fsearch"),
        ],
    )
    usage = load(path)
    assert total_requests(usage) == 3
    assert {row.key_id for row in usage.rows} == {"key_ghost"}
    assert ("key_ghost", "GET", "/invoices", "GET /invoices", "success") in counts(usage)
    assert sum(row.count for row in usage.rows if row.operation is None) == 2


# --------------------------------------------------------------------------- #37


def _peak_rss_kib(path: Path) -> tuple[int, int]:
    """Rows and peak RSS (KiB) of load_usage on ``path``, in a fresh interpreter.

    The peak is the child's own ``VmHWM``: ``ru_maxrss`` would carry over the high-water
    mark of the (large) pytest process that spawned it, since Linux keeps it across exec.
    """
    script = textwrap.dedent(
        f"""
        import re, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from usage_support import load
        usage = load({str(path)!r})
        assert usage.sources[0].bad_lines == 0, usage.sources
        with open("/proc/self/status") as status:
            peak = re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)
        print(len(usage.rows), peak)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    rows, peak = (int(part) for part in result.stdout.split())
    return rows, peak


def _padded_log(path: Path, lines: int) -> Path:
    padding = "x" * 1000  # fat lines: a big file quickly, over few routes
    with path.open("w") as stream:
        for number in range(lines):
            stream.write(
                line(key_id=f"key_{number % 49}", path=f"/v1/invoices/in_{number}",
                     status=(200, 404)[number % 2], note=padding) + "\n"
            )  # fmt: skip
    return path


@pytest.mark.slow
def test_37_memory_is_bounded_by_routes_not_lines(tmp_path: Path) -> None:
    """A 230 MB log over few routes is aggregated without holding it in memory.

    Each line names a different invoice, so only per-line buffering could grow; the
    rows stay 49 keys x 1 operation x 2 status classes.  (DuckDB's reader keeps some
    read-ahead: about 130 MB here, against 450 MB when its line limit was 64 MiB.)
    """
    rows, peak_kib = _peak_rss_kib(_padded_log(tmp_path / "large.jsonl", 200_000))
    assert rows == 98
    assert peak_kib < 420 * 1024


def test_37_a_line_over_the_size_limit_is_a_bad_line(tmp_path: Path) -> None:
    huge = line(note="x" * (2 << 20))
    usage = load(write_lines(tmp_path / "huge.jsonl", [GOOD, huge, GOOD]), threshold=1.0)
    assert _examples(usage) == [(2, "line longer than 1 MiB")]
    assert_accounted(usage)


# --------------------------------------------------------------------------- #38


def test_38_secrets_in_logged_urls_and_bad_lines_never_come_back(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "secrets.jsonl",
        [
            line(path=f"/v1/invoices?api_key={CANARY}"),
            line(path=f"/v1/legacy/{CANARY}"),
            line(key_id=CANARY),
            line(status=CANARY),
            '{"authorization": "Bearer ' + CANARY + '", "oops": ',
            line(method=f"GET {CANARY}"),
        ],
    )
    usage = load(path, threshold=1.0)
    text = _everything(usage)
    # Masking keeps the type prefix and the last four characters, nothing more.
    body = CANARY.removeprefix("sk_live_")
    leaked = [
        body[start : start + 8] for start in range(len(body) - 7) if body[start : start + 8] in text
    ]
    assert leaked == []
    assert usage.sources[0].bad_lines == 3
    # A secret-looking key id is masked, with a digest of the whole id (two such ids
    # that mask alike stay two keys).
    assert {row.key_id.split(" #")[0] for row in usage.rows} == {"key_a", "sk_live_…6789"}
    assert all(CANARY not in row.key_id for row in usage.rows)


def test_38_error_messages_never_quote_the_file(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "broken.csv.gz", b"not gzip at all " + CANARY.encode())
    with pytest.raises(LogParseError) as caught:
        load(path)
    assert CANARY not in str(caught.value)
    assert "CANARY" not in str(caught.value)


# --------------------------------------------------------------------------- #39


def test_39_overlapping_pages_are_deduplicated(tmp_path: Path) -> None:
    page = [
        record(request_id=f"req_{n}", timestamp=f"2026-09-01T10:{n:02d}:00Z") for n in range(20)
    ]
    usage = load(_overlapping_pages(tmp_path, page))
    (stats,) = usage.sources
    assert (stats.lines, stats.duplicates, stats.in_window) == (24, 4, 20)
    assert total_requests(usage) == 20
    assert_accounted(usage)


def test_39_a_repeated_id_with_different_content_is_two_requests(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "clash.jsonl",
        [line(request_id="req_1"), line(request_id="req_1", path="/v1/payments")],
    )
    usage = load(path)
    assert (usage.sources[0].duplicates, total_requests(usage)) == (0, 2)


def test_39_duplicated_bad_lines_stay_bad_lines(tmp_path: Path) -> None:
    bad = line(request_id="req_x", status="teapot")
    usage = load(
        write_lines(tmp_path / "badtwice.jsonl", [bad, bad, line(request_id="r2")] * 1),
        threshold=1.0,
    )
    (stats,) = usage.sources
    assert (stats.bad_lines, stats.duplicates, stats.in_window) == (2, 0, 1)
    assert_accounted(usage)


def _overlapping_pages(folder: Path, page: list[dict]) -> str:
    """``page`` exported as two files that share records 8-11; their glob."""
    logs = folder / "export"
    logs.mkdir()
    write_lines(logs / "page-1.jsonl", [json.dumps(item) for item in page[:12]])
    write_lines(logs / "page-2.jsonl", [json.dumps(item) for item in page[8:]])
    return str(logs / "page-*.jsonl")


def _page(count: int, *, start: int = 0, **fields) -> list[dict]:
    """``count`` requests a minute apart from 10:00 plus ``start`` minutes (no ids)."""
    return [
        record(
            timestamp=f"2026-09-01T{10 + (start + n) // 60:02d}:{(start + n) % 60:02d}:00Z",
            **fields,
        )
        for n in range(count)
    ]


@pytest.fixture(params=["scanner", "fast", "checked"])
def read_path(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each suspected-repeat test runs on every path: the figures must be the same."""
    from keyscope.sources import usage as usage_module

    if request.param != "scanner":
        monkeypatch.setattr(usage_module, "_jsonl_scan", None)
    if request.param == "checked":
        monkeypatch.setattr(usage_module._LogReader, "_fast_jsonl", lambda self, counter: None)
    return request.param


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_39_overlapping_files_without_ids_count_suspected_duplicates(
    tmp_path: Path, read_path: str, suffix: str
) -> None:
    page = _page(20)
    logs = tmp_path / "export"
    logs.mkdir()
    # Two exports of one source overlap on minutes 8-11 (four lines saved twice).
    write_lines(logs / f"page-1{suffix}", [json.dumps(item) for item in page[:12]])
    write_lines(logs / f"page-2{suffix}", [json.dumps(item) for item in page[8:]])
    usage = load(str(logs / f"page-*{suffix}"))
    (stats,) = usage.sources
    # Kept and counted as requests (no id to be sure), but reported.
    assert (stats.lines, stats.duplicates, stats.in_window) == (24, 0, 24)
    assert total_requests(usage) == 24
    assert stats.suspected_duplicates == 4
    assert [Path(name).name for name in stats.suspected_duplicate_files] == [
        f"page-1{suffix}",
        f"page-2{suffix}",
    ]
    assert stats.suspected_duplicate_span is not None
    assert [moment.isoformat() for moment in stats.suspected_duplicate_span] == [
        "2026-09-01T10:08:00+00:00",
        "2026-09-01T10:11:00+00:00",
    ]
    assert_accounted(usage)


def test_39_only_lines_that_repeat_another_file_are_suspected(
    tmp_path: Path, read_path: str
) -> None:
    page = _page(10)
    other_key = _page(10, key_id="key_b")
    logs = tmp_path / "export"
    logs.mkdir()
    first = [json.dumps(item) for item in page]
    # The second file covers the same ten minutes and repeats two lines of the first,
    # one of them twice: that one was really sent twice (one file says so), so only the
    # copies beyond the most one file holds are suspected, one per line.  Its other
    # lines differ in one field each (key, query, status, method, a microsecond) and
    # are not repeats.
    second = [
        json.dumps(page[3]),
        json.dumps(page[3]),
        json.dumps(page[7]),
        json.dumps(other_key[4]),
        json.dumps({**page[5], "path": "/v1/invoices?page=2"}),
        json.dumps({**page[6], "status": 500}),
        json.dumps({**page[8], "method": "POST"}),
        json.dumps({**page[9], "timestamp": "2026-09-01T10:09:00.000001Z"}),
    ]
    write_lines(logs / "a.jsonl", first)
    write_lines(logs / "b.jsonl", second)
    usage = load(str(logs / "*.jsonl"))
    (stats,) = usage.sources
    assert (stats.lines, stats.in_window, stats.suspected_duplicates) == (18, 18, 2)
    assert total_requests(usage) == 18


def test_39_a_repeat_within_one_file_is_not_guessed_at(tmp_path: Path, read_path: str) -> None:
    # One file: identical lines may be real traffic (a retry, a poller), so nothing is
    # suspected; the same holds for repeats inside each of two overlapping files, where
    # only the copies beyond what one file holds count.
    single = load(write_lines(tmp_path / "one.jsonl", [GOOD] * 5))
    assert (single.sources[0].in_window, single.sources[0].suspected_duplicates) == (5, 0)
    logs = tmp_path / "two"
    logs.mkdir()
    write_lines(logs / "a.jsonl", [GOOD] * 3)
    write_lines(logs / "b.jsonl", [GOOD] * 2)
    usage = load(str(logs / "*.jsonl"))
    assert (usage.sources[0].in_window, usage.sources[0].suspected_duplicates) == (5, 2)


def _record_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL every log reader runs from now on, in order."""
    from keyscope.sources import usage as usage_module

    queries: list[str] = []
    original = usage_module._LogReader._execute

    def spy(self, sql, where=None, parameters=None):
        queries.append(sql)
        return original(self, sql, where, parameters)

    monkeypatch.setattr(usage_module._LogReader, "_execute", spy)
    return queries


def test_39_files_that_do_not_overlap_are_not_compared(
    tmp_path: Path, read_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyscope.sources import usage as usage_module

    queries = _record_queries(monkeypatch)
    compared: list[dict[str, tuple[int, int]]] = []
    original_overlaps = usage_module._overlaps

    def overlaps(ranges: dict[str, tuple[int, int]]) -> object:
        compared.append(ranges)
        return original_overlaps(ranges)

    monkeypatch.setattr(usage_module, "_overlaps", overlaps)
    logs = tmp_path / "hourly"
    logs.mkdir()
    # The same request shape every minute, hour after hour: identical but for the time.
    write_lines(logs / "10h.jsonl", [json.dumps(item) for item in _page(60)])
    write_lines(logs / "11h.jsonl", [json.dumps(item) for item in _page(60, start=60)])
    usage = load(str(logs / "*.jsonl"))
    (stats,) = usage.sources
    assert (stats.in_window, stats.suspected_duplicates) == (120, 0)
    assert stats.suspected_duplicate_files == ()
    assert stats.suspected_duplicate_span is None
    assert [len(ranges) for ranges in compared] == [2]  # the ranges were looked at...
    assert not any("sum(copies)" in sql for sql in queries)  # ...and no repeat query ran


def test_39_a_single_file_plan_never_looks_for_suspected_repeats(
    tmp_path: Path, read_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyscope.sources import usage as usage_module

    queries = _record_queries(monkeypatch)

    def never(self, table, *, fast):
        raise AssertionError("a single file has no other file to repeat")

    monkeypatch.setattr(usage_module._LogReader, "_suspected_repeats", never)
    monkeypatch.setattr(usage_module._LogReader, "_repeats_in", never)
    usage = load(write_lines(tmp_path / "one.jsonl", [GOOD] * 4))
    assert usage.sources[0].in_window == 4
    # The scanner reads a plain log without DuckDB; the other paths query it.
    assert (queries == []) == (read_path == "scanner")
    # The aggregation is the one it always was: no per-file grouping set.
    assert not any("file_name)" in sql or "is_file" in sql for sql in queries)


def test_39_with_request_ids_duplicates_are_exact_and_nothing_is_suspected(
    tmp_path: Path, read_path: str
) -> None:
    page = _page(20)
    for number, item in enumerate(page):
        item["event_id"] = f"evt_{number}"
    usage = load(_overlapping_pages(tmp_path, page))
    (stats,) = usage.sources
    assert (stats.lines, stats.duplicates, stats.in_window) == (24, 4, 20)
    assert (stats.suspected_duplicates, stats.suspected_duplicate_files) == (0, ())
    assert_accounted(usage)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_39_overlapping_csv_files_count_suspected_duplicates(tmp_path: Path, suffix: str) -> None:
    header = ["timestamp", "key_id", "method", "path", "status"]
    page = [[item[name] for name in header] for item in _page(15)]
    logs = tmp_path / "export"
    logs.mkdir()
    write_csv(logs / f"a{suffix}", header, page[:10])
    write_csv(logs / f"b{suffix}", header, [*page[5:], page[14]])  # one repeat inside b too
    usage = load(str(logs / f"*{suffix}"))
    (stats,) = usage.sources
    assert (stats.lines, stats.in_window, stats.suspected_duplicates) == (21, 21, 5)
    assert total_requests(usage) == 21
    assert [Path(name).name for name in stats.suspected_duplicate_files] == [
        f"a{suffix}",
        f"b{suffix}",
    ]


def test_39_overlapping_parquet_files_count_suspected_duplicates(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    page = _page(12)
    logs = tmp_path / "export"
    logs.mkdir()
    for name, items in (("a.parquet", page[:8]), ("b.parquet", page[6:])):
        columns = {field: [item[field] for item in items] for field in page[0]}
        # A column named like DuckDB's file-name column must not get in the way.
        columns["filename"] = ["x"] * len(items)
        pq.write_table(pa.table(columns), logs / name)
    usage = load(str(logs / "*.parquet"))
    (stats,) = usage.sources
    assert (stats.lines, stats.in_window, stats.suspected_duplicates) == (14, 14, 2)


def test_39_bad_and_out_of_window_lines_are_never_suspected(tmp_path: Path, read_path: str) -> None:
    logs = tmp_path / "export"
    logs.mkdir()
    old = line(timestamp="2020-01-01T00:00:00Z")
    bad = line(status="teapot")
    write_lines(logs / "a.jsonl", [GOOD, old, bad])
    write_lines(logs / "b.jsonl", [GOOD, old, bad])
    usage = load(str(logs / "*.jsonl"), threshold=1.0)
    (stats,) = usage.sources
    assert (stats.bad_lines, stats.out_of_window, stats.in_window) == (2, 2, 2)
    assert stats.suspected_duplicates == 1
    assert_accounted(usage)


def test_30_the_example_pass_rereads_only_files_with_bad_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyscope.sources import usage as usage_module

    reread: list[str] = []
    original = usage_module._LogReader._file_examples

    def spy(self, file, refused):
        reread.append(file.name)
        return original(self, file, refused)

    monkeypatch.setattr(usage_module._LogReader, "_file_examples", spy)
    logs = tmp_path / "daily"
    logs.mkdir()
    for day in range(1, 6):
        write_lines(logs / f"2026-09-0{day}.jsonl", [GOOD] * 20)
    write_lines(logs / "2026-09-03.jsonl", [GOOD] * 5 + [b"\xff"])  # refused: already numbered
    write_bytes(logs / "2026-09-06.jsonl", (GOOD + "\n" + GOOD[:30]).encode())  # being written
    usage = load(str(logs / "*.jsonl"), threshold=1.0)
    assert reread == ["2026-09-06.jsonl"]
    assert [(Path(e.source).name, e.line) for e in usage.bad_line_examples] == [
        ("2026-09-03.jsonl", 6),
        ("2026-09-06.jsonl", 2),
    ]
    assert_accounted(usage)


# --------------------------------------------------------------------------- property


_KINDS: dict[str, tuple[bytes, str]] = {
    # name: (line bytes, what it must count as)
    "good": (line().encode(), "in"),
    "old": (line(timestamp="2020-01-01T00:00:00Z").encode(), "out"),
    "future": (line(timestamp="2099-01-01T00:00:00Z").encode(), "out"),
    "blank": (b"   ", "blank"),
    "empty": (b"", "blank"),
    "truncated": (line().encode()[:25], "bad"),
    "utf8": (line(key_id="k\udcff").encode("utf-8", "surrogateescape"), "bad"),
    "status": (line(status="OK").encode(), "bad"),
    "naive": (line(timestamp="2026-09-01 10:00:00").encode(), "bad"),
    "array": (b"[1, 2, 3]", "bad"),
    "method": (line(method="G E T").encode(), "bad"),
    "secret": (("{" + '"token": "' + CANARY).encode(), "bad"),
}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(sorted(_KINDS)), max_size=40),
    ending=st.sampled_from([b"\n", b"\r\n"]),
    final_newline=st.booleans(),
)
def test_every_line_is_accounted_for(
    tmp_path: Path, kinds: list[str], ending: bytes, final_newline: bool
) -> None:
    data = ending.join(_KINDS[kind][0] for kind in kinds) + (ending if final_newline else b"")
    path = write_bytes(tmp_path / "mixed.jsonl", data)
    usage = load(path, threshold=1.0)
    (stats,) = usage.sources
    expected = {"in": 0, "out": 0, "bad": 0, "blank": 0}
    for kind in kinds:
        expected[_KINDS[kind][1]] += 1
    assert (stats.in_window, stats.out_of_window, stats.bad_lines) == (
        expected["in"], expected["out"], expected["bad"],
    )  # fmt: skip
    assert stats.lines == len(kinds) - expected["blank"]
    assert_accounted(usage)
    assert total_requests(usage) == expected["in"]
    bad_numbers = [n for n, kind in enumerate(kinds, start=1) if _KINDS[kind][1] == "bad"]
    assert [example.line for example in usage.bad_line_examples] == bad_numbers[:5]
    assert CANARY.removeprefix("sk_live_")[:8] not in repr(usage)


@pytest.mark.parametrize("name", ["endless.jsonl", "bomb.jsonl.gz", "endless.csv"])
def test_37_a_line_of_many_mib_is_never_silently_dropped(tmp_path: Path, name: str) -> None:
    """DuckDB's reader skips a line of tens of MiB without a reject; the count catches it."""
    endless = b"x" * (80 << 20)
    if name.endswith(".csv"):
        data = (
            b"timestamp,key_id,method,path,status\n"
            + f"{IN_WINDOW},k,GET,/v1/invoices,200\n".encode()
        )
        data += endless + b"\n" + f"{IN_WINDOW},k,GET,/v1/invoices,200\n".encode()
        bad_line = 3
    else:
        data = GOOD.encode() + b"\n" + endless + b"\n" + GOOD.encode() + b"\n"
        bad_line = 2
    usage = load(write_bytes(tmp_path / name, data))
    (stats,) = usage.sources
    assert (stats.lines, stats.bad_lines, stats.in_window) == (3, 1, 2)
    assert _examples(usage) == [(bad_line, "line longer than 1 MiB")]
    assert usage.incomplete_reasons
    assert_accounted(usage)
