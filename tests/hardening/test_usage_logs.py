"""Usage-log rows of BAD-INPUTS (#30-#39) end to end, through ``keyscope audit``.

``tests/unit/test_usage_bad_lines.py`` proves each row on the reader.  Here the same
inputs go through the whole command, and the promise is checked where a reviewer sees
it: the bad part is skipped, counted (with line numbers) and reported, while the rest is
audited; unmatched routes and unknown keys land in a reported "unattributed" bucket; the
run is marked incomplete past the bad-line threshold.  #34/#35 are in
``test_partial_data.py``, #37 in ``test_bounded_resources.py``, #38 in
``test_secrets_canary.py`` and #39 in ``test_determinism.py`` (request ids) and here
(suspected repeats without ids).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import World, daily_lines, default_usage, log_line


def audit(cli: Callable[..., Any], world: World, *extra: str) -> tuple[dict[str, Any], str, str]:
    outcome = cli("audit", *world.flags(), "--format", "json", *extra)
    assert outcome.code == 0, outcome.err
    text = cli("audit", *world.flags(), *extra).out
    return json.loads(outcome.out), text, outcome.err


def source_of(data: dict[str, Any], path: Path) -> dict[str, Any]:
    [source] = [s for s in data["data_quality"]["sources"] if s["source"] == str(path)]
    return source


def test_30_bad_lines_are_skipped_counted_numbered_and_the_rest_audited(
    world: World, cli: Callable[..., Any]
) -> None:
    world.write()
    good = default_usage()
    body = b"\xef\xbb\xbf" + "\r\n".join(good[:30]).encode() + b"\r\n"
    body += b"\xff\xfe not utf-8\r\n"  # line 31
    body += "\n".join(good[30:]).encode() + b"\n"
    body += b'{"timestamp": "2026-10-31T10:00:00Z", "key_id": "key_acc'  # truncated last line
    world.usage_path.write_bytes(body)
    data, text, err = audit(cli, world)
    source = source_of(data, world.usage_path)
    assert source["lines"] == len(good) + 2
    assert source["bad_lines"] == 2
    assert source["in_window"] == len(good)
    lines = sorted(example["line"] for example in data["data_quality"]["bad_line_examples"])
    assert lines == [31, len(good) + 2]
    assert data["complete"] is False  # 2 of 72 is above the 1% threshold
    assert "could not be read" in err
    assert "bad line" in text and f"{world.usage_path}:31" in text
    # The good lines were audited: the accountant key's use is all there.
    [key] = [key for key in data["keys"] if key["id"] == "key_accountant01"]
    assert key["requests"] == 28


def test_30_few_bad_lines_under_the_threshold_keep_the_run_complete(
    world: World, cli: Callable[..., Any]
) -> None:
    world.usage = [*default_usage() * 3, "not json"]  # 1 in 211: under 1%
    world.write()
    data, _, _ = audit(cli, world)
    assert data["complete"] is True
    assert data["data_quality"]["bad_lines"] == 1


def test_31_hostile_json_values_are_bad_lines_not_crashes(
    world: World, cli: Callable[..., Any]
) -> None:
    hostile = [
        '{"timestamp": "2026-10-30T10:00:00Z", "key_id": "k", "method": "GET", '
        '"path": "/v1/invoices", "status": NaN}',
        '{"timestamp": "2026-10-30T10:00:00Z", "key_id": "k", "method": "GET", '
        '"path": "/v1/invoices", "status": Infinity}',
        '{"status": ' + "9" * 5000 + "}",
        '{"a":' * 10000 + "1" + "}" * 10000,
        "[" * 10000,
    ]
    world.usage = [*default_usage(), *hostile]
    world.write()
    data, _, err = audit(cli, world)
    assert source_of(data, world.usage_path)["bad_lines"] == len(hostile)
    assert "Traceback" not in err


def test_31_duplicate_keys_in_a_line_do_not_break_the_audit(
    world: World, cli: Callable[..., Any]
) -> None:
    line = log_line("key_accountant01", "GET", "/v1/customers")
    world.usage = [*default_usage(), line[:-1] + ', "status": 200, "status": 500}']
    world.write()
    data, _, _ = audit(cli, world)
    source = source_of(data, world.usage_path)
    assert source["lines"] == source["bad_lines"] + source["in_window"] + source["out_of_window"]


def test_32_csv_long_fields_and_unterminated_quotes(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    world.usage = []
    world.write()
    rows = ["timestamp,key_id,method,path,status"]
    for line in default_usage():
        record = json.loads(line)
        rows.append(
            ",".join(
                str(record[name]) for name in ("timestamp", "key_id", "method", "path", "status")
            )
        )
    rows.insert(
        5, '2026-10-30T10:00:00Z,key_accountant01,GET,"/v1/invoices?q=' + "x" * 200_000 + '",200'
    )
    rows.insert(10, '2026-10-30T10:00:00Z,key_accountant01,GET,"/v1/unterminated,200')
    csv_path = tmp_path / "gateway.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    world.usage_files = [csv_path]
    data, _, err = audit(cli, world)
    source = source_of(data, csv_path)
    assert "Traceback" not in err
    # Every physical line is accounted for: the quote swallowed lines that are now bad.
    assert source["lines"] == len(rows) - 1
    assert source["bad_lines"] >= 1
    assert source["in_window"] >= 1  # the 200 KB field did not stop the read
    assert data["complete"] is False


def test_33_zone_less_timestamps_are_bad_unless_a_zone_is_configured(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    world.usage = [line.replace('Z"', '"') for line in default_usage()]
    world.write()
    data, _, _ = audit(cli, world)
    assert source_of(data, world.usage_path)["bad_lines"] == len(world.usage)
    assert data["complete"] is False
    reasons = {example["reason"] for example in data["data_quality"]["bad_line_examples"]}
    assert any("without a timezone" in reason for reason in reasons)
    config = tmp_path / "zoned.toml"
    config.write_text(
        f'[[usage]]\npath = "{world.usage_path}"\ntimezone = "UTC"\n', encoding="utf-8"
    )
    flags = world.flags()
    flags[flags.index("--config") + 1] = str(config)
    del flags[flags.index("--usage") : flags.index("--usage") + 2]
    outcome = cli("audit", *flags, "--format", "json")
    zoned = json.loads(outcome.out)
    assert zoned["data_quality"]["bad_lines"] == 0 and zoned["complete"] is True


def test_33_clock_skew_and_out_of_order_lines(world: World, cli: Callable[..., Any]) -> None:
    future = log_line("key_accountant01", "GET", "/v1/customers").replace(
        "2026-10-31T12:00:00Z", "2026-11-05T12:00:00Z"
    )
    assert "2026-11-05" in future
    world.usage = [*reversed(default_usage()), future]
    world.write()
    data, _, _ = audit(cli, world)
    source = source_of(data, world.usage_path)
    assert source["out_of_window"] == 1 and source["bad_lines"] == 0
    assert data["complete"] is True


def test_36_unmatched_routes_and_unknown_keys_are_reported_not_dropped(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    odd = [
        log_line("key_accountant01", "GET", "/v1/charges/../keys"),
        log_line("key_accountant01", "GET", "/v1/invoices%2Finv_1"),
        log_line("key_accountant01", "GET", "/v1/customers/"),
        log_line("key_accountant01", "get", "/v1/customers"),
        log_line("key_accountant01", "GET", "/v1/legacy/charges"),
        *daily_lines("key_stranger999", [("GET", "/v1/invoices")]),
    ]
    world.usage = [*default_usage(), *odd]
    world.write()
    html = tmp_path / "r.html"
    data, text, _ = audit(cli, world, "--html", str(html))
    quality = data["data_quality"]
    unmatched = {(route["method"], route["path"]) for route in quality["unmatched_routes"]}
    assert ("GET", "/legacy/charges") in unmatched
    assert quality["unmatched_requests"] >= 2
    assert quality["unknown_keys"] == 1 and len(quality["unknown_key_ids"]) == 1
    rules = {finding["rule"] for finding in data["findings"]}
    assert {"unmapped-route", "unknown-key-usage"} <= rules
    # Trailing slash and lowercase method are normalized onto the documented operation.
    [key] = [key for key in data["keys"] if key["id"] == "key_accountant01"]
    uses = {use["operation"]: use["count"] for ev in key["evidence"] for use in ev["operations"]}
    assert uses["GET /customers"] == 14 + 2
    # A dot segment or an encoded slash is never resolved onto another route: unmatched.
    unmatched_paths = {row["path"] for row in key["unmatched"]}
    assert {"/v1/charges/../keys", "/invoices%2Finv_1", "/legacy/charges"} <= unmatched_paths
    # Nothing lost: every line is in a bucket.
    source = source_of(data, world.usage_path)
    assert source["lines"] == len(world.usage)
    assert "/legacy/charges" in text and "/legacy/charges" in html.read_text()


def test_39_overlapping_files_without_ids_report_suspected_repeats(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Two exports of the same logs that overlap by three days: the repeats stay
    counted as requests (no id to be sure) and every report says how many look
    repeated, in which files, over which time."""
    lines = sorted(default_usage())  # by timestamp (each line starts with it)
    cut = len(lines) // 2
    overlap = 5  # the last lines of the first export are in the second too
    exports = world.folder / "exports"
    exports.mkdir(parents=True)
    (exports / "part-1.jsonl").write_text("".join(f"{item}\n" for item in lines[:cut]))
    (exports / "part-2.jsonl").write_text("".join(f"{item}\n" for item in lines[cut - overlap :]))
    world.usage = []
    world.usage_files = [exports / "part-*.jsonl"]
    world.write()
    html, markdown = tmp_path / "r.html", tmp_path / "r.md"
    data, text, _ = audit(cli, world, "--html", str(html), "--md", str(markdown))
    [source] = data["data_quality"]["sources"]
    assert source["suspected_duplicates"] == overlap
    assert source["duplicates"] == 0
    assert source["in_window"] == len(lines) + overlap  # kept as requests
    assert [Path(name).name for name in source["suspected_duplicate_files"]] == [
        "part-1.jsonl",
        "part-2.jsonl",
    ]
    repeated = [json.loads(item)["timestamp"] for item in lines[cut - overlap : cut]]
    assert source["suspected_duplicate_span"] == {"first": min(repeated), "last": max(repeated)}
    sentence = f"{overlap} requests look repeated: files "
    assert sentence in text and "no request id to tell repeats from real traffic" in text
    assert f"{exports / 'part-1.jsonl'} and {exports / 'part-2.jsonl'} both cover" in text
    assert sentence in html.read_text()
    assert sentence in markdown.read_text()
