"""HAR captures as usage: only method, URL path, status and time survive; tokens never do."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from usage_support import assert_accounted, counts, load

from keyscope.errors import LogParseError
from keyscope.settings import UsageSource
from keyscope.sources.har import HarRequest, default_key_id, read_har

TOKEN = "sk_live_BEARERcanary9876543210"
COOKIE = "session=COOKIEcanary5551234"


def _entry(method: str, url: str, status: int, started: str = "2026-10-28T14:02:11.000Z") -> dict:
    return {
        "startedDateTime": started,
        "time": 80,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [{"name": "session", "value": COOKIE}],
            "headers": [
                {"name": "Authorization", "value": f"Bearer {TOKEN}"},
                {"name": "Cookie", "value": COOKIE},
            ],
            "queryString": [{"name": "api_key", "value": TOKEN}],
            "postData": {"mimeType": "application/json", "text": json.dumps({"api_key": TOKEN})},
        },
        "response": {
            "status": status,
            "headers": [{"name": "Set-Cookie", "value": COOKIE}],
            "content": {"text": json.dumps({"secret": TOKEN})},
        },
    }


def _write(path: Path, entries: list[Any]) -> Path:
    document = json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
    path.write_bytes(gzip.compress(document) if path.name.endswith(".gz") else document)
    return path


CAPTURE = [
    _entry("POST", f"https://api.example.test/v1/invoices?api_key={TOKEN}", 201),
    _entry("GET", "https://api.example.test/v1/invoices/in_1#frag", 200),
    _entry("GET", "https://api.example.test/v1/customers/cus_1", 404),
    _entry("POST", "https://api.example.test/v1/refunds", 403),
    _entry("GET", "https://api.example.test/v1/not-in-spec", 200),
]


def _no_canary(text: str) -> None:
    for canary in (TOKEN.removeprefix("sk_live_"), "COOKIEcanary"):
        leaked = [canary[i : i + 8] for i in range(len(canary) - 7) if canary[i : i + 8] in text]
        assert leaked == [], leaked


def test_read_har_keeps_four_fields_and_drops_queries(tmp_path: Path) -> None:
    requests = read_har(_write(tmp_path / "integration.har", CAPTURE))
    assert requests[0] == HarRequest(
        entry=1,
        started="2026-10-28T14:02:11.000Z",
        method="POST",
        url="https://api.example.test/v1/invoices",
        status="201",
    )
    assert [request.url for request in requests][1] == "https://api.example.test/v1/invoices/in_1"
    _no_canary(repr(requests))


def test_a_capture_counts_for_one_key_named_after_the_file(tmp_path: Path) -> None:
    usage = load(_write(tmp_path / "subscriptions-prototype.har", CAPTURE))
    key = "har:subscriptions-prototype"
    assert counts(usage) == {
        (key, "POST", "/invoices", "POST /invoices", "success"): 1,
        (key, "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "success"): 1,
        (key, "GET", "/customers/{customer_id}", "GET /customers/{customer_id}", "client_error"): 1,
        (key, "POST", "/refunds", "POST /refunds", "denied"): 1,
        (key, "GET", "/not-in-spec", None, "success"): 1,
    }
    (stats,) = usage.sources
    assert (stats.kind, stats.lines, stats.in_window, stats.bad_lines) == ("har", 5, 5, 0)
    assert usage.rows[0].first_seen == datetime(2026, 10, 28, 14, 2, 11, tzinfo=UTC)


def test_the_bearer_token_survives_nowhere(tmp_path: Path) -> None:
    usage = load(_write(tmp_path / "capture.har.gz", CAPTURE))
    assert len(usage.rows) == 5
    _no_canary(repr(usage))
    _no_canary(str(usage))
    for row in usage.rows:
        _no_canary(repr(row) + str(row))


def test_a_configured_key_id_and_gzip(tmp_path: Path) -> None:
    path = _write(tmp_path / "capture.har.gz", CAPTURE)
    assert default_key_id(path) == "har:capture"
    usage = load(UsageSource(path=str(path), key_id="key_new_integration"))
    assert {row.key_id for row in usage.rows} == {"key_new_integration"}


def test_incomplete_entries_are_bad_lines_numbered_by_entry(tmp_path: Path) -> None:
    entries: list[Any] = [
        CAPTURE[0],
        "not an entry",
        {
            "startedDateTime": "2026-10-28T14:02:11Z",
            "request": {"method": "GET"},
            "response": {"status": 200},
        },
        _entry("GET", "https://api.example.test/v1/invoices", 0),  # blocked: no answer
        _entry("GET", "https://api.example.test/v1/invoices", 200, started="yesterday"),
    ]
    usage = load(_write(tmp_path / "partial.har", entries), threshold=1.0)
    assert [(e.line, e.reason) for e in usage.bad_line_examples] == [
        (2, "missing field startedDateTime"),
        (3, "missing field request.url"),
        (4, "status is not an HTTP status code"),
        (5, "unreadable timestamp"),
    ]
    assert_accounted(usage)
    _no_canary(repr(usage))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"log": {"entries": {}}}', "no log.entries list"),
        (b"[]", "no log.entries list"),
        (b'{"log": {"entries": [NaN]}}', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_unreadable_captures_are_one_line_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    with pytest.raises(LogParseError) as caught:
        load(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_capture_with_the_token_in_the_error_path_does_not_leak(tmp_path: Path) -> None:
    path = tmp_path / "broken.har"
    path.write_text('{"log": {"entries": [{"request": {"headers": "Bearer ' + TOKEN + '"')
    with pytest.raises(LogParseError) as caught:
        load(path)
    _no_canary(str(caught.value))
