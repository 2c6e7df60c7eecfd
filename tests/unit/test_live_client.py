"""The partner-API client's guards, each against an ``httpx.MockTransport``.

Time is faked (an injected monotonic clock and sleep), so backoff, Retry-After and
deadlines are asserted exactly and the tests never wait.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyscope.errors import ConfigError, FetchError
from keyscope.sources import live
from keyscope.sources.live import (
    ApiKeyCredential,
    PlatformClient,
    check_base_url,
    key_path,
    parse_platform_settings,
    parse_retry_after,
    resolve_api_key,
)

BASE = "https://api.example.test"
CANARY_KEY = "ks_live_CANARYkeyDoNotLeak0123456789"
TOKEN = "tok_CANARYaccessTOKEN98765"
JSON = {"Content-Type": "application/json"}


class FakeClock:
    """A monotonic clock that only moves when told to (sleep advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def token_response(request: httpx.Request, key_id: str = "key_self00000000001") -> httpx.Response:
    assert json.loads(request.content) == {"api_key": CANARY_KEY}
    return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 300, "key_id": key_id})


def make_client(
    handler: Handler,
    clock: FakeClock | None = None,
    rng: Callable[[], float] = lambda: 0.5,
    **platform: Any,
) -> tuple[PlatformClient, list[httpx.Request]]:
    """A client whose requests are recorded; the token path answers by default."""
    seen: list[httpx.Request] = []
    handler_answers_token = "token" in platform.pop("_handles", ())

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/auth/token" and not handler_answers_token:
            return token_response(request)
        return handler(request)

    clock = clock or FakeClock()
    settings = parse_platform_settings({"base_url": BASE, **platform})
    client = PlatformClient(
        settings, ApiKeyCredential(CANARY_KEY, "KEYSCOPE_API_KEY"),
        transport=httpx.MockTransport(recording), clock=clock, sleep=clock.sleep, rng=rng,
    )  # fmt: skip
    return client, seen


def page(data: list[Any], has_more: bool, cursor: str | None) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "has_more": has_more, "next_cursor": cursor})


# --------------------------------------------------------------------------- Retry-After


NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("-5", 0.0),  # negative: clamp to 0
        ("9999999999", 60.0),  # absurdly far: clamp to the cap
        (" 7 ", 7.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(days=3), usegmt=True), 0.0),  # a past date
        (format_datetime(NOW + timedelta(days=400), usegmt=True), 60.0),
        ("soon", None),  # garbage: fall back to backoff
        ("1.5", None),
        ("", None),
        (None, None),
        ("Wed, 99 Foo 2026 25:61:00 GMT", None),
    ],
)
def test_retry_after_is_parsed_digits_first_then_date_and_clamped(
    header: str | None, expected: float | None
) -> None:
    assert parse_retry_after(header, now=NOW, cap=60.0) == expected


@pytest.mark.parametrize(
    ("header", "expected_sleep"),
    [("-5", 0.0), ("9999999999", 60.0), ("3", 3.0)],
)
def test_429_waits_as_retry_after_says_within_bounds(header: str, expected_sleep: float) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(
                429, headers={"Retry-After": header}, json={"error": {"message": "slow down"}}
            )
        return httpx.Response(200, json={"ok": True})

    clock = FakeClock()
    client, _ = make_client(handler, clock, retry_after_cap=60.0, retry_budget=120.0)
    assert client.get_json("/v1/thing") == {"ok": True}
    assert clock.sleeps == [expected_sleep]


def test_past_http_date_retry_after_retries_immediately() -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    answers = iter(
        [httpx.Response(503, headers={"Retry-After": past}), httpx.Response(200, json={})]
    )
    clock = FakeClock()
    client, _ = make_client(lambda request: next(answers), clock)
    client.get_json("/v1/thing")
    assert clock.sleeps == [0.0]


def test_garbage_retry_after_falls_back_to_jittered_exponential_backoff() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "later please"})] * 3
        + [httpx.Response(200, json={})]
    )
    clock = FakeClock()
    client, _ = make_client(
        lambda request: next(answers), clock, rng=lambda: 0.5, backoff_base=1.0, backoff_cap=30.0
    )
    client.get_json("/v1/thing")
    # rng 0.5 x min(cap, base * 2**attempt): 0.5, 1.0, 2.0
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_missing_retry_after_backoff_is_capped() -> None:
    answers = iter([httpx.Response(503)] * 6 + [httpx.Response(200, json={})])
    clock = FakeClock()
    client, _ = make_client(
        lambda request: next(answers), clock, rng=lambda: 1.0, backoff_base=1.0, backoff_cap=4.0,
        max_retries=6, retry_budget=1000.0,
    )  # fmt: skip
    client.get_json("/v1/thing")
    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_retries_stop_after_max_retries_with_a_clear_error() -> None:
    clock = FakeClock()
    client, seen = make_client(lambda request: httpx.Response(502), clock, max_retries=2)
    with pytest.raises(FetchError, match=r"GET /v1/thing: gave up after 3 attempts \(HTTP 502\)"):
        client.get_json("/v1/thing")
    assert sum(1 for r in seen if r.url.path == "/v1/thing") == 3


def test_total_retry_budget_is_shared_across_requests() -> None:
    clock = FakeClock()
    client, _ = make_client(
        lambda request: httpx.Response(429, headers={"Retry-After": "40"}), clock,
        retry_budget=100.0, max_retries=10,
    )  # fmt: skip
    with pytest.raises(FetchError, match="retry budget"):
        client.get_json("/v1/thing")
    assert clock.sleeps == [40.0, 40.0]  # a third 40 s wait would pass 100 s


def test_timeouts_are_retried_then_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    clock = FakeClock()
    client, seen = make_client(handler, clock, max_retries=1)
    with pytest.raises(FetchError, match=r"GET /v1/thing: gave up after 2 attempts \(timed out"):
        client.get_json("/v1/thing")
    assert sum(1 for r in seen if r.url.path == "/v1/thing") == 2


def test_a_write_retried_after_a_timeout_reuses_its_idempotency_key() -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.headers["Idempotency-Key"])
        if len(attempts) == 1:
            raise httpx.ReadTimeout("lost the answer", request=request)
        return httpx.Response(200, json={"id": "key_a", "status": "revoked"})

    client, _ = make_client(handler)
    response = client.send_write(
        "POST", "/v1/api-keys/key_a/revoke", None, idempotency_key="idem-123"
    )
    assert response.status == 200
    assert attempts == ["idem-123", "idem-123"]


# --------------------------------------------------------------------------- redirects and origins


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://evil.example/collect",
        "https://api.example.test:8443/v1/api-keys",  # another port is another origin
        "http://api.example.test/v1/api-keys",  # a downgrade is another origin
        "//169.254.169.254/x",
    ],
)
def test_redirect_to_another_origin_is_refused_and_nothing_is_sent_there(location: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host != "api.example.test" or request.url.port not in (None, 443):
            pytest.fail(f"a request went to {request.url}")
        return httpx.Response(302, headers={"Location": location})

    client, seen = make_client(handler)
    with pytest.raises(FetchError, match=r"redirect to .* refused") as caught:
        client.get_json("/v1/api-keys")
    assert all(str(r.url).startswith(BASE + "/") for r in seen)
    assert CANARY_KEY not in str(caught.value) and TOKEN not in str(caught.value)


def test_same_origin_redirect_of_a_get_is_followed_with_the_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/old":
            return httpx.Response(301, headers={"Location": "/v1/new"})
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return httpx.Response(200, json={"moved": True})

    client, _ = make_client(handler)
    assert client.get_json("/v1/old") == {"moved": True}


def test_redirect_of_a_write_is_refused_even_on_the_same_origin() -> None:
    client, seen = make_client(
        lambda request: httpx.Response(307, headers={"Location": "/v1/elsewhere"})
    )
    with pytest.raises(FetchError, match="redirect of a change refused"):
        client.send_write("POST", "/v1/api-keys", {"name": "x"}, idempotency_key="k1")
    assert not any(r.url.path == "/v1/elsewhere" for r in seen)


def test_the_api_key_travels_only_to_the_token_path_and_the_token_only_in_authorization() -> None:
    client, seen = make_client(lambda request: httpx.Response(200, json={"ok": 1}))
    client.get_json("/v1/api-keys")
    token_calls = [r for r in seen if r.url.path == "/v1/auth/token"]
    data_calls = [r for r in seen if r.url.path == "/v1/api-keys"]
    assert len(token_calls) == 1 and "Authorization" not in token_calls[0].headers
    [call] = data_calls
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert CANARY_KEY not in str(call.url) and CANARY_KEY.encode() not in call.content
    assert all(
        TOKEN not in value
        for name, value in call.headers.items()
        if name.lower() != "authorization"
    )
    assert TOKEN not in str(call.url)


@pytest.mark.parametrize(
    "url",
    ["http://api.example.test", "http://10.0.0.5:8080", "http://169.254.169.254", "ftp://127.0.0.1",
     "https://user:pw@api.example.test", "https://api.example.test/?key=1", "not a url", "https://"],
)  # fmt: skip
def test_unsafe_base_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError):
        check_base_url(url)
    with pytest.raises(ConfigError, match=r"platform\.base_url"):
        parse_platform_settings({"base_url": url})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8785", "http://127.5.6.7", "http://localhost:9000", "http://[::1]:8080",
            "https://api.example.test", "https://10.0.0.5"],
)  # fmt: skip
def test_https_anywhere_and_plain_http_only_to_loopback(url: str) -> None:
    check_base_url(url)
    assert parse_platform_settings({"base_url": url}).base_url == url


def test_the_client_refuses_plain_http_to_a_remote_host_before_sending_anything() -> None:
    settings = live.PlatformSettings(base_url="http://api.example.test")
    sent: list[httpx.Request] = []
    with pytest.raises(FetchError, match="refusing plain http://"):
        PlatformClient(
            settings, ApiKeyCredential(CANARY_KEY, "env"),
            transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)),
        )  # fmt: skip
    assert sent == []


@pytest.mark.parametrize(
    "path", ["//evil.example/x", "https://evil.example/", "/v1/../../x", "v1/x", "/v1/x?y=1"]
)
def test_configured_paths_cannot_leave_the_origin(path: str) -> None:
    with pytest.raises(ConfigError, match=r"platform\.paths\.keys"):
        parse_platform_settings({"base_url": BASE, "paths": {"keys": path}})


def test_key_ids_are_encoded_into_paths() -> None:
    assert key_path("/v1/api-keys/{id}/revoke", "a/../b?c") == "/v1/api-keys/a%2F..%2Fb%3Fc/revoke"
    for bad in ("", ".", ".."):
        with pytest.raises(FetchError):
            key_path("/v1/api-keys/{id}", bad)


# --------------------------------------------------------------------------- pagination


def test_pagination_reads_every_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("cursor", "0"))
        assert request.url.params["limit"] == "2"
        return page([{"id": f"k{n}a"}, {"id": f"k{n}b"}], n < 2, str(n + 1) if n < 2 else None)

    client, _ = make_client(handler, page_limit=2)
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert result.complete and result.reasons == () and result.pages == 3
    assert [item["id"] for item in result.items] == ["k0a", "k0b", "k1a", "k1b", "k2a", "k2b"]


def test_the_same_cursor_forever_stops_and_marks_incomplete() -> None:
    client, seen = make_client(lambda request: page([{"id": "x"}], True, "same"))
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert not result.complete
    assert "cursor loop" in result.reasons[0] and result.reasons[0].startswith("keys:")
    assert result.pages == 2  # the second page repeated the cursor it was asked with
    assert sum(1 for r in seen if r.url.path == "/v1/api-keys") == 2


def test_a_cursor_cycle_stops_and_marks_incomplete() -> None:
    following = {None: "a", "a": "b", "b": "c", "c": "a"}

    def handler(request: httpx.Request) -> httpx.Response:
        return page(
            [{"id": request.url.params.get("cursor", "start")}],
            True,
            following[request.url.params.get("cursor")],
        )

    client, _ = make_client(handler)
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert not result.complete and "cursor loop" in result.reasons[0]
    assert result.pages == 4


@pytest.mark.parametrize("cursor", ["", None])
def test_has_more_without_a_next_cursor_marks_incomplete(cursor: str | None) -> None:
    client, _ = make_client(lambda request: page([{"id": "x"}], True, cursor))
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert not result.complete and result.pages == 1
    assert "has_more but gave no next_cursor" in result.reasons[0]
    assert len(result.items) == 1  # what was read is kept


def test_empty_pages_with_has_more_are_followed_up_to_a_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("cursor", "0"))
        if n < 3:
            return page([], True, str(n + 1))
        return page([{"id": "late"}], False, None)

    client, _ = make_client(handler, max_empty_pages=5)
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert result.complete and [i["id"] for i in result.items] == ["late"]

    client, seen = make_client(lambda request: page([], True, f"c{len(seen)}"), max_empty_pages=4)
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert not result.complete and "empty pages" in result.reasons[0]
    assert result.pages == 5


def test_the_page_cap_marks_incomplete_instead_of_a_silent_short_read() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("cursor", "0"))
        return page([{"id": n}], True, str(n + 1))

    client, _ = make_client(handler, max_pages=7)
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert not result.complete and result.pages == 7 and len(result.items) == 7
    assert "page cap (7 pages)" in result.reasons[0]


def test_a_malformed_page_is_an_error_naming_the_page() -> None:
    answers = iter([page([{"id": 1}], True, "2"), httpx.Response(200, json={"items": []})])
    client, _ = make_client(lambda request: next(answers))
    with pytest.raises(FetchError, match="page 2 is not a"):
        client.fetch_all("/v1/api-keys")


def test_non_object_entries_are_skipped_and_counted() -> None:
    client, _ = make_client(lambda request: page([{"id": 1}, "junk", 7], False, None))
    result = client.fetch_all("/v1/api-keys", what="keys")
    assert len(result.items) == 1 and not result.complete
    assert "skipped 2 list entries" in result.reasons[0]


# --------------------------------------------------------------------------- tokens


def test_a_401_refreshes_the_token_once_and_succeeds() -> None:
    tokens = iter(["tok_first_0000000000", "tok_second_000000000"])
    seen_auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/token":
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": 300})
        seen_auth.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer tok_first_0000000000":
            return httpx.Response(
                401, json={"error": {"code": "token_expired", "message": "expired"}}
            )
        return httpx.Response(200, json={"ok": True})

    client, seen = make_client(handler, _handles=("token",))
    assert client.get_json("/v1/api-keys") == {"ok": True}
    assert seen_auth == ["Bearer tok_first_0000000000", "Bearer tok_second_000000000"]
    assert sum(1 for r in seen if r.url.path == "/v1/auth/token") == 2


def test_a_second_401_after_the_refresh_is_a_clear_error_not_a_loop() -> None:
    client, seen = make_client(
        lambda request: httpx.Response(401, json={"error": {"message": "nope"}})
    )
    with pytest.raises(
        FetchError, match="401 again after refreshing the access token once"
    ) as caught:
        client.get_json("/v1/api-keys")
    assert sum(1 for r in seen if r.url.path == "/v1/auth/token") == 2
    assert sum(1 for r in seen if r.url.path == "/v1/api-keys") == 2
    assert caught.value.exit_code == 5


def test_a_rejected_api_key_is_named_by_source_never_by_value() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # A careless platform echoes the key in its error.
        return httpx.Response(401, json={"error": {"message": f"bad key {CANARY_KEY}"}})

    client, seen = make_client(handler, _handles=("token",))
    with pytest.raises(FetchError, match="rejected the API key from KEYSCOPE_API_KEY") as caught:
        client.get_json("/v1/api-keys")
    assert CANARY_KEY not in str(caught.value)
    assert [r.url.path for r in seen] == ["/v1/auth/token"]


def test_an_expiring_token_is_exchanged_again_before_use() -> None:
    issued = iter(["tok_a_000000000000", "tok_b_000000000000"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/token":
            return httpx.Response(200, json={"access_token": next(issued), "expires_in": 60})
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    clock = FakeClock()
    client, _ = make_client(handler, clock, _handles=("token",))
    assert client.get_json("/v1/x") == {"auth": "Bearer tok_a_000000000000"}
    clock.now += 58  # inside the refresh margin
    assert client.get_json("/v1/x") == {"auth": "Bearer tok_b_000000000000"}


def test_error_messages_never_carry_the_token_or_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": f"echo {TOKEN} and {CANARY_KEY}"}})

    client, _ = make_client(handler)
    with pytest.raises(FetchError) as caught:
        client.get_json("/v1/api-keys")
    text = str(caught.value)
    assert "HTTP 400" in text and TOKEN not in text and CANARY_KEY not in text
    assert "CANARYkeyDoNotLeak" not in text and "CANARYaccessTOKEN" not in text


# Opaque credentials (no type prefix the redactor knows): only scrub's own masking
# can catch a fragment of one.
OPAQUE_KEY = "9f3c2a7d1e8b4c6f0a5d2e9b7c1f4a8d3e6b0c2f"
FIRST_TOKEN = "AQ7x2Lm9Pz4Rt6Vw8Ny1Bk3Hj5Gf0Dc"
SECOND_TOKEN = "ZZ4q8Wn2Xe6Ty0Ui3Op5As7Df9Gh1Jk"


def scrubbing_client() -> PlatformClient:
    """A client holding OPAQUE_KEY, SECOND_TOKEN as its token and FIRST_TOKEN before it."""
    issued = iter([FIRST_TOKEN, SECOND_TOKEN])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": next(issued), "expires_in": 300})

    settings = parse_platform_settings({"base_url": BASE})
    client = PlatformClient(
        settings, ApiKeyCredential(OPAQUE_KEY, "test"), transport=httpx.MockTransport(handler)
    )
    client.exchange_token()
    client.exchange_token()
    return client


def assert_no_run_of(secret: str, text: str, length: int = 10) -> None:
    for start in range(len(secret) - length + 1):
        assert secret[start : start + length] not in text, (secret[start : start + length], text)


@pytest.mark.parametrize(
    ("fragment", "masked"),
    [
        (OPAQUE_KEY[:-2], "…"),  # the key minus its last two characters
        (OPAQUE_KEY[:30], "…"),  # a prefix
        (OPAQUE_KEY[12:], "…" + OPAQUE_KEY[-4:]),  # a suffix: no more than mask() shows
        (OPAQUE_KEY[9:21], "…"),  # from the middle
        (OPAQUE_KEY, "…" + OPAQUE_KEY[-4:]),  # whole: as before
        (SECOND_TOKEN[3:25], "…"),  # the current token
        (FIRST_TOKEN[:-1], "…"),  # a token held before the refresh
    ],
    ids=["key-minus-2", "prefix", "suffix", "middle", "whole", "token", "earlier-token"],
)
def test_scrub_masks_any_run_of_ten_characters_of_a_credential(fragment: str, masked: str) -> None:
    client = scrubbing_client()
    text = client.scrub(f'{{"error": "unknown credential {fragment}", "id": "req_81"}}')
    assert text == f'{{"error": "unknown credential {masked}", "id": "req_81"}}'
    for secret in (OPAQUE_KEY, FIRST_TOKEN, SECOND_TOKEN):
        assert_no_run_of(secret, text)


def test_scrub_masks_a_token_wrapped_across_lines_piece_by_piece() -> None:
    text = scrubbing_client().scrub(f"token {SECOND_TOKEN[:15]}\n{SECOND_TOKEN[15:]} expired")
    assert text == f"token …⏎…{SECOND_TOKEN[-4:]} expired"


def test_scrub_leaves_fragments_shorter_than_ten_characters_and_other_text_alone() -> None:
    client = scrubbing_client()
    short = OPAQUE_KEY[5:14]  # nine characters: too short to be told from chance
    assert client.scrub(f"request {short} failed") == f"request {short} failed"
    plain = "HTTP 400: invalid_request (field scopes[3] unknown; see docs/errors#scopes)"
    assert client.scrub(plain) == plain


def test_scrub_of_a_megabyte_is_fast() -> None:
    client = scrubbing_client()
    for text in ("9f3c2a7d1e" * 100_000, OPAQUE_KEY * 25_000, "a" * 1_000_000):
        started = time.perf_counter()
        scrubbed = client.scrub(text, limit=2_000_000)
        # About 0.1-0.3 s on a laptop; a quadratic scan would take minutes.
        assert time.perf_counter() - started < 1.0
        assert_no_run_of(OPAQUE_KEY, scrubbed)


def test_current_key_id_comes_from_the_token_or_the_current_endpoint() -> None:
    client, _ = make_client(lambda request: httpx.Response(404))
    assert client.current_key_id() == "key_self00000000001"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/token":
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 30})
        assert request.url.path == "/v1/api-keys/current"
        return httpx.Response(200, json={"id": "key_from_current_01"})

    client, _ = make_client(handler, _handles=("token",))
    assert client.current_key_id() == "key_from_current_01"


# --------------------------------------------------------------------------- bodies


def test_a_declared_oversized_body_is_refused_before_reading() -> None:
    client, _ = make_client(
        lambda request: httpx.Response(200, headers={"Content-Length": "999999999", **JSON},
                                       stream=httpx.ByteStream(b"{}")),
        max_response_bytes=1000,
    )  # fmt: skip
    with pytest.raises(FetchError, match="999999999 bytes, over the 1000-byte cap"):
        client.get_json("/v1/openapi.json")


class ChunkStream(httpx.SyncByteStream):
    """A body produced chunk by chunk, with a hook per chunk (to move the fake clock)."""

    def __init__(
        self, chunks: Iterator[bytes], on_chunk: Callable[[], None] = lambda: None
    ) -> None:
        self.chunks = chunks
        self.on_chunk = on_chunk
        self.produced = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.on_chunk()
            self.produced += 1
            yield chunk


def test_an_undeclared_endless_body_stops_at_the_cap() -> None:
    endless = ChunkStream(iter(lambda: b"x" * 4096, None))
    client, _ = make_client(
        lambda request: httpx.Response(200, headers=JSON, stream=endless),
        max_response_bytes=100_000,
    )  # fmt: skip
    with pytest.raises(FetchError, match="over the 100000-byte cap"):
        client.get_json("/v1/openapi.json")
    assert endless.produced < 40


def test_a_gzip_bomb_is_stopped_by_the_decompressed_size() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    assert len(bomb) < 50_000
    client, _ = make_client(
        lambda request: httpx.Response(
            200, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            stream=httpx.ByteStream(bomb),
        ),
        max_response_bytes=1_000_000,
    )  # fmt: skip
    with pytest.raises(FetchError, match="after decompression"):
        client.get_json("/v1/openapi.json")


def test_gzip_and_deflate_bodies_are_decoded() -> None:
    body = json.dumps({"hello": "world"}).encode()
    for encoding, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        client, _ = make_client(
            lambda request, e=encoding, d=data: httpx.Response(
                200,
                headers={"Content-Type": "application/json", "Content-Encoding": e},
                stream=httpx.ByteStream(d),
            )
        )
        assert client.get_json("/v1/x") == {"hello": "world"}


def test_a_truncated_gzip_body_is_a_clear_error() -> None:
    cut = gzip.compress(json.dumps({"data": list(range(1000))}).encode())[:-30]
    client, _ = make_client(
        lambda request: httpx.Response(
            200, headers={**JSON, "Content-Encoding": "gzip"}, stream=httpx.ByteStream(cut)
        ),
        max_retries=1,
    )  # fmt: skip
    with pytest.raises(FetchError, match="truncated"):
        client.get_json("/v1/x")


def test_a_slow_drip_body_ends_at_the_request_deadline() -> None:
    clock = FakeClock()

    def drip(request: httpx.Request) -> httpx.Response:
        def tick() -> None:
            clock.now += 4.0  # one byte every 4 s: never a read timeout, but endless

        return httpx.Response(200, headers={"Content-Type": "application/json"},
                              stream=ChunkStream(iter(lambda: b" ", None), tick))  # fmt: skip

    client, _ = make_client(drip, clock, request_deadline=30.0)
    started = clock.now
    with pytest.raises(FetchError, match="still arriving after the 30 s deadline"):
        client.get_json("/v1/api-keys")
    assert clock.now - started <= 30.0 + 4.0


def test_the_run_deadline_bounds_a_whole_run() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 10.0
        n = int(request.url.params.get("cursor", "0"))
        return page([{"id": n}], True, str(n + 1))

    client, _ = make_client(handler, clock, run_deadline=55.0)
    with pytest.raises(FetchError, match="run deadline"):
        client.fetch_all("/v1/api-keys")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", b"<html><form action='/login'>Sign in</form></html>"),
        ("text/plain", b"{}"),
        ("", b"{}"),
    ],
)
def test_a_non_json_answer_is_refused(content_type: str, body: bytes) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    client, _ = make_client(lambda request: httpx.Response(200, headers=headers, content=body))
    with pytest.raises(FetchError, match="expected JSON") as caught:
        client.get_json("/v1/openapi.json")
    if "html" in content_type:
        assert "login page" in str(caught.value)


@pytest.mark.parametrize("body", [b'{"a": NaN}', b"{" * 100_000, b'{"a": 1', b"\xff\xfe"])
def test_bad_json_is_an_error_not_a_traceback(body: bytes) -> None:
    client, _ = make_client(
        lambda request: httpx.Response(
            200, headers={"Content-Type": "application/json"}, content=body
        )
    )
    with pytest.raises(FetchError, match="not valid JSON"):
        client.get_json("/v1/x")


def test_problem_json_content_type_is_accepted() -> None:
    client, _ = make_client(
        lambda request: httpx.Response(
            200, headers={"Content-Type": "application/vnd.api+json"}, content=b"[]"
        )
    )
    assert client.get_json("/v1/x") == []


def test_unsupported_content_encoding_is_refused() -> None:
    client, _ = make_client(
        lambda request: httpx.Response(
            200,
            headers={"Content-Type": "application/json", "Content-Encoding": "br"},
            stream=httpx.ByteStream(b"x"),
        )
    )
    with pytest.raises(FetchError, match="unsupported Content-Encoding"):
        client.get_json("/v1/x")


# ------------------------------------------------------------------- credentials and logging


def test_httpx_loggers_are_quiet_once_a_client_exists(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    client, _ = make_client(lambda request: httpx.Response(200, json={}))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").setLevel(
            logging.WARNING
        )  # what make_http_client did, re-asserted below
        client.get_json("/v1/api-keys", {"cursor": "abc"})
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]


def test_make_http_client_sets_the_safe_defaults() -> None:
    logging.getLogger("httpx").setLevel(logging.INFO)
    settings = parse_platform_settings({"base_url": BASE, "connect_timeout": 2, "read_timeout": 7})
    with live.make_http_client(settings) as client:
        assert client.follow_redirects is False
        assert client.timeout.connect == 2 and client.timeout.read == 7
        assert client.timeout.write == 15 and client.timeout.pool == 5
        assert client.trust_env is True
    assert logging.getLogger("httpx").level == logging.WARNING
    no_env = parse_platform_settings({"base_url": BASE}, overrides={"trust_env": False})
    with live.make_http_client(no_env) as client:
        assert client.trust_env is False


def test_api_key_from_the_environment_first() -> None:
    settings = parse_platform_settings({"base_url": BASE, "api_key_file": "/nonexistent"})
    credential = resolve_api_key(settings, {"KEYSCOPE_API_KEY": f"  {CANARY_KEY}\n"})
    assert credential.reveal() == CANARY_KEY and credential.source == "KEYSCOPE_API_KEY"
    assert CANARY_KEY not in repr(credential) and CANARY_KEY not in str(credential)
    assert "CANARYkeyDoNotLeak" not in f"{credential!r} {credential}"


def test_api_key_file_must_be_private(tmp_path: Path) -> None:
    key_file = tmp_path / "platform.key"
    key_file.write_text(CANARY_KEY + "\n")
    key_file.chmod(0o644)
    settings = parse_platform_settings(
        {"base_url": BASE, "api_key_file": "platform.key"}, base=tmp_path
    )
    with pytest.raises(
        ConfigError, match=r"readable by others \(mode 644\); run chmod 600"
    ) as caught:
        resolve_api_key(settings, {})
    assert CANARY_KEY not in str(caught.value)
    key_file.chmod(0o600)
    credential = resolve_api_key(settings, {})
    assert credential.reveal() == CANARY_KEY and credential.source == str(key_file)


def test_api_key_file_refuses_symlinks_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "real.key"
    target.write_text(CANARY_KEY)
    target.chmod(0o600)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    settings = parse_platform_settings({"base_url": BASE, "api_key_file": str(link)})
    with pytest.raises(ConfigError, match="cannot open"):
        resolve_api_key(settings, {})
    folder = parse_platform_settings({"base_url": BASE, "api_key_file": str(tmp_path)})
    with pytest.raises(ConfigError):
        resolve_api_key(folder, {})


@pytest.mark.parametrize("value", ["", "   ", "ks_live_abc\r\nX-Evil: 1", "two words"])
def test_unusable_api_keys_are_refused_without_echo(value: str) -> None:
    settings = parse_platform_settings({"base_url": BASE})
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(settings, {"KEYSCOPE_API_KEY": value}, keyring_module=_FailKeyring())
    assert "X-Evil" not in str(caught.value)


class _FailKeyring:
    """Like keyring's fail backend: every lookup raises."""

    class NoKeyringError(RuntimeError):
        pass

    def get_password(self, service: str, user: str) -> str | None:
        raise self.NoKeyringError("No recommended backend was available.")


class _MemoryKeyring:
    def __init__(self, entries: dict[tuple[str, str], str]) -> None:
        self.entries = entries

    def get_password(self, service: str, user: str) -> str | None:
        return self.entries.get((service, user))


def test_keyring_is_used_when_nothing_else_is_set() -> None:
    settings = parse_platform_settings({"base_url": BASE})
    keyring = _MemoryKeyring({("keyscope", "api.example.test"): CANARY_KEY})
    credential = resolve_api_key(settings, {}, keyring_module=keyring)
    assert credential.reveal() == CANARY_KEY and credential.source == "keyring"


def test_a_failing_keyring_falls_back_to_the_environment_or_says_what_to_do() -> None:
    settings = parse_platform_settings({"base_url": BASE})
    credential = resolve_api_key(
        settings, {"KEYSCOPE_API_KEY": CANARY_KEY}, keyring_module=_FailKeyring()
    )
    assert credential.source == "KEYSCOPE_API_KEY"
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(settings, {}, keyring_module=_FailKeyring())
    message = str(caught.value)
    assert "set KEYSCOPE_API_KEY" in message and "api_key_file" in message
    assert "keyring: unavailable (NoKeyringError)" in message
    # Shown whole: "KEYSCOPE_API_KEY: no ..." once read to the redactor as a secret.
    assert message.startswith("platform API key: none found; set KEYSCOPE_API_KEY")
    assert "\u2026" not in message


def test_a_refused_base_url_names_where_it_came_from() -> None:
    with pytest.raises(ConfigError, match=r"^keyscope\.toml:platform\.base_url: platform\."):
        parse_platform_settings({"base_url": "http://example.com"})
    with pytest.raises(ConfigError, match=r"^KEYSCOPE_PLATFORM_URL: refusing plain http://"):
        parse_platform_settings({}, env={"KEYSCOPE_PLATFORM_URL": "http://example.com"})
    with pytest.raises(ConfigError, match=r"^--base-url: refusing plain http://"):
        parse_platform_settings({}, env={}, overrides={"base_url": "http://example.com"})


def test_without_the_keyring_package_the_message_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_keyring(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "keyring":
            raise ImportError("no keyring")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_keyring)
    with pytest.raises(
        ConfigError, match=r"keyring: not installed \(pip install 'keyscope\[keyring\]'\)"
    ):
        resolve_api_key(parse_platform_settings({"base_url": BASE}), {})


def test_platform_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'base_ulr'"):
        parse_platform_settings({"base_ulr": BASE})
    with pytest.raises(
        ConfigError, match=r"platform\.max_pages: expected a non-negative whole number"
    ):
        parse_platform_settings({"base_url": BASE, "max_pages": "many"})
    with pytest.raises(ConfigError, match=r"platform\.read_timeout"):
        parse_platform_settings({"base_url": BASE, "read_timeout": True})
    with pytest.raises(ConfigError, match=r"platform\.page_limit: must be at least 1"):
        parse_platform_settings({"base_url": BASE, "page_limit": 0})
    settings = parse_platform_settings(
        {"base_url": BASE + "/", "paths": {"keys": "/v2/keys"}, "max_pages": 3, "read_timeout": 2},
        env={"KEYSCOPE_PLATFORM_URL": "http://127.0.0.1:9999"},
    )
    assert settings.base_url == "http://127.0.0.1:9999" and settings.paths.keys == "/v2/keys"
    assert (
        settings.paths.token == "/v1/auth/token"
        and settings.max_pages == 3
        and settings.read_timeout == 2.0
    )
    assert settings.environment_name == "127.0.0.1"


def test_describe_network_masks_proxy_credentials() -> None:
    settings = parse_platform_settings({"base_url": BASE})
    lines = live.describe_network(
        settings, {"HTTPS_PROXY": "http://bob:hunter2@proxy:3128", "SSL_CERT_FILE": "/ca.pem"}
    )
    text = "\n".join(lines)
    assert (
        "hunter2" not in text
        and "HTTPS_PROXY=http://***@proxy:3128" in text
        and "SSL_CERT_FILE=/ca.pem" in text
    )
    assert "verification: always on" in text


def test_exported_names_are_locked() -> None:
    assert sorted(live.__all__) == live.__all__
    for name in live.__all__:
        assert hasattr(live, name)


def test_no_cli_option_could_carry_a_secret() -> None:
    """P2: secrets come from the environment, the keyring or a file, never argv."""
    from keyscope.cli import build_parser

    parser = build_parser()
    suspicious = (
        "token",
        "secret",
        "api-key",
        "api_key",
        "apikey",
        "password",
        "credential",
        "bearer",
    )
    offenders: list[str] = []

    visited: list[str] = []

    def walk(p: Any) -> None:
        visited.append(p.prog)
        for action in p._actions:
            for option in action.option_strings:
                name = option.lower()
                # --secrets-file names a FILE to write new secrets to; it carries no secret.
                if any(word in name for word in suspicious) and not name.endswith("-file"):
                    offenders.append(option)
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for sub in action.choices.values():
                    walk(sub)

    walk(parser)
    assert offenders == []
    # The walk really reached the commands that talk to the platform.
    for command in ("fetch", "sandbox", "plan", "apply", "audit"):
        assert f"keyscope {command}" in visited


# --------------------------------------------------------------------------- deadline transport


def test_network_transports_direct_and_proxied_are_deadline_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    import httpcore

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    settings = parse_platform_settings({"base_url": "https://api.example.test"}, env={})
    client = live.make_http_client(settings)
    try:
        direct = client._transport_for_url(httpx.URL("http://127.0.0.1:8080/"))  # no HTTP_PROXY
        proxied = client._transport_for_url(httpx.URL("https://api.example.test/v1/api-keys"))
        # trust_env still brings the proxy in (a custom transport must not lose it) ...
        assert isinstance(proxied, live._DeadlineTransport)
        assert isinstance(proxied._pool, httpcore.HTTPProxy)
        assert isinstance(proxied._pool._network_backend, live._DeadlineBackend)
        # ... and the direct route is bound by the deadline too.
        assert isinstance(client._transport, live._DeadlineTransport)
        assert isinstance(client._transport._pool._network_backend, live._DeadlineBackend)
        assert direct is client._transport
        # TLS verification is as strict as httpx's default transport would make it.
        for transport in (client._transport, proxied):
            context = transport._pool._ssl_context
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    finally:
        client.close()
    monkeypatch.delenv("HTTPS_PROXY")
    plain = live.make_http_client(replace(settings, trust_env=False))
    try:
        assert not plain._mounts or all(t is None for t in plain._mounts.values())
        assert isinstance(plain._transport, live._DeadlineTransport)
    finally:
        plain.close()


def test_a_socket_operation_waits_at_most_what_is_left_of_the_deadline() -> None:
    import time as clock

    assert live._bounded_timeout(5.0) == (5.0, False)  # no request in flight: unchanged
    token = live._EXCHANGE_DEADLINE.set(clock.monotonic() + 1.0)
    try:
        bounded, cut = live._bounded_timeout(5.0)
        assert cut and 0.0 < bounded <= 1.0
        assert live._bounded_timeout(0.5) == (0.5, False)
        bounded, cut = live._bounded_timeout(None)  # "no timeout" still gets the deadline
        assert cut and bounded is not None and bounded <= 1.0
    finally:
        live._EXCHANGE_DEADLINE.reset(token)
    token = live._EXCHANGE_DEADLINE.set(clock.monotonic() - 0.01)
    try:
        with pytest.raises(live._DeadlinePassed):
            live._bounded_timeout(5.0)
    finally:
        live._EXCHANGE_DEADLINE.reset(token)


def test_a_server_dripping_its_status_line_is_cut_off_at_the_deadline() -> None:
    """A raw loopback server: one header byte every 0.2 s, never silent for a read timeout."""
    import socket
    import threading
    import time as clock

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            head = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"a" * 400 + b"\r\n\r\n"
            for index in range(len(head)):
                if stop.is_set():
                    return
                try:
                    connection.sendall(head[index : index + 1])
                except OSError:
                    return  # the client hung up: what the deadline should make it do
                clock.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings = parse_platform_settings(
        {"base_url": f"http://127.0.0.1:{port}", "request_deadline": 1.0, "read_timeout": 5.0,
         "max_retries": 0},
        env={},
    )  # fmt: skip
    client = PlatformClient(settings, ApiKeyCredential(CANARY_KEY, "test"))
    started = clock.monotonic()
    try:
        with pytest.raises(FetchError) as caught:
            client.exchange_token()
        # The half-read connection was dropped, not kept in the pool for reuse.
        assert client._http._transport._pool.connections == []
    finally:
        elapsed = clock.monotonic() - started
        client.close()
        stop.set()
        listener.close()
        thread.join(timeout=5)
    assert "no response within the 1 s deadline" in str(caught.value)
    assert CANARY_KEY not in str(caught.value)
    # Bounded by the deadline (plus slack for a loaded machine), not 400+ bytes x 0.2 s.
    assert 0.9 <= elapsed < 4.0
    assert not thread.is_alive()
