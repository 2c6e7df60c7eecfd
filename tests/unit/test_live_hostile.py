"""The client and ``fetch`` against a hostile platform: a real HTTP server on loopback.

Each test scripts the server's answers (a function of method, path and query), so
what the client reads went through sockets, httpx and keyscope's own body decoding,
as it would from a real platform.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from keyscope.errors import FetchError
from keyscope.sources.live import ApiKeyCredential, PlatformClient, parse_platform_settings
from keyscope.sources.snapshot import fetch_snapshot, read_snapshot

CANARY_KEY = "ks_live_CANARYhostileKey0123456789"
TOKEN = "AT0123456789abcdefCANARYtoken"  # opaque: no prefix the redactor knows
SPEC = json.dumps({"openapi": "3.1.0", "paths": {"/a": {"get": {}}}}).encode()
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)

Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[str, str, dict[str, str]], Answer]


def json_answer(payload: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def key(key_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": key_id, "name": f"key {key_id}", "scopes": ["a:read"], "full_access": False,
            "status": "active", **fields}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        self.server.seen.append((self.command, parts.path, query))
        if parts.path == "/v1/auth/token" and self.server.token_script is not None:
            status, headers, body = self.server.token_script(self.command, parts.path, query)
        elif parts.path == "/v1/auth/token":
            status, headers, body = json_answer({"access_token": TOKEN, "expires_in": 300})
        else:
            status, headers, body = self.server.script(self.command, parts.path, query)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script, token_script: Script | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.token_script = token_script
        self.seen: list[tuple[str, str, dict[str, str]]] = []


@contextmanager
def hostile(
    script: Script, *, token_script: Script | None = None, api_key: str = CANARY_KEY,
    **platform: Any,
) -> Iterator[tuple[PlatformClient, _Server]]:  # fmt: skip
    """A scripted platform on 127.0.0.1 and a client holding ``api_key`` pointed at it.

    The token path answers a token, unless ``token_script`` answers it instead.
    """
    server = _Server(script, token_script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = parse_platform_settings(
        {"base_url": f"http://127.0.0.1:{server.server_address[1]}", "backoff_base": 0.01,
         "max_retries": 1, **platform},
        env={},
    )  # fmt: skip
    try:
        with PlatformClient(settings, ApiKeyCredential(api_key, "test")) as client:
            yield client, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def platform_of(keys_pages: Callable[[str | None], dict[str, Any]]) -> Script:
    """Spec, a paged key list (by cursor), and an empty request log for every key."""

    def script(method: str, path: str, query: dict[str, str]) -> Answer:
        if path == "/v1/openapi.json":
            return 200, {"Content-Type": "application/json"}, SPEC
        if path == "/v1/api-keys":
            return json_answer(keys_pages(query.get("cursor")))
        if path.endswith("/requests"):
            return json_answer({"data": [], "has_more": False, "next_cursor": None})
        return json_answer({"error": {"message": "no such route"}}, 404)

    return script


# --------------------------------------------------------------------------- echoed credentials


def test_a_token_error_echoing_most_of_an_opaque_key_shows_no_run_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opaque_key = "cd6db0a9c07d51fc6199817043d65119b5c73825"  # no prefix the redactor knows

    def token_script(method: str, path: str, query: dict[str, str]) -> Answer:
        return json_answer({"error": {"message": f"unknown credential {opaque_key[:-2]}"}}, 400)

    def assert_no_12_char_run(text: str) -> None:
        for start in range(len(opaque_key) - 11):
            assert opaque_key[start : start + 12] not in text, text

    with (
        hostile(platform_of(lambda cursor: {}), token_script=token_script, api_key=opaque_key) as (
            client,
            _,
        ),
        pytest.raises(FetchError) as caught,
    ):
        client.get_bytes("/v1/openapi.json")
    assert str(caught.value) == "POST /v1/auth/token: HTTP 400: unknown credential …"
    assert_no_12_char_run(str(caught.value))

    # The same through the command line: nothing of the key on stdout or stderr.
    from keyscope.cli import main

    with hostile(platform_of(lambda cursor: {}), token_script=token_script) as (_, server):
        monkeypatch.chdir(tmp_path)
        for name in ("KEYSCOPE_CONFIG", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy",
                     "http_proxy", "ALL_PROXY", "all_proxy"):  # fmt: skip
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("KEYSCOPE_API_KEY", opaque_key)
        monkeypatch.setenv("KEYSCOPE_PLATFORM_URL", f"http://127.0.0.1:{server.server_address[1]}")
        code = main(["fetch", "--output", "snap", "-q"])
    out, err = capsys.readouterr()
    assert code == 5
    assert "HTTP 400: unknown credential …" in err
    assert_no_12_char_run(out + err)


# --------------------------------------------------------------------------- Content-Encoding


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"\x1f\x8b\x08\x00garbage-not-gzip" * 10),
        ("gzip", b'{"plain": "json, not gzip"}'),
        ("deflate", b"\x78\x9cnot deflate at all"),
    ],
)
def test_a_body_that_is_not_its_content_encoding_is_a_one_line_network_error(
    encoding: str, body: bytes
) -> None:
    def script(method: str, path: str, query: dict[str, str]) -> Answer:
        return 200, {"Content-Type": "application/json", "Content-Encoding": encoding}, body

    with hostile(script) as (client, _), pytest.raises(FetchError) as caught:
        client.get_bytes("/v1/openapi.json")
    message = caught.value.message
    assert caught.value.exit_code == 5
    assert message.startswith("GET /v1/openapi.json: the body is not valid")
    assert "\n" not in message and CANARY_KEY not in message and TOKEN not in message


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_is_read_zlib_wrapped_or_raw_as_browsers_do(wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(SPEC) + packer.flush()

    def script(method: str, path: str, query: dict[str, str]) -> Answer:
        return 200, {"Content-Type": "application/json", "Content-Encoding": "deflate"}, body

    with hostile(script) as (client, _):
        assert client.get_bytes("/v1/openapi.json").body == SPEC


# --------------------------------------------------------------------------- list caps


def endless_pages(size: int) -> Callable[[str | None], dict[str, Any]]:
    """Pages of ``size`` bytes of padding each, forever."""

    def pages(cursor: str | None) -> dict[str, Any]:
        number = int(cursor or 0)
        return {"data": [key(f"key_{number:06d}", owner="x" * size)], "has_more": True,
                "next_cursor": str(number + 1)}  # fmt: skip

    return pages


def test_a_listing_stops_at_the_total_byte_cap_and_is_marked_incomplete() -> None:
    script = platform_of(endless_pages(20_000))
    with hostile(script, max_list_bytes=100_000) as (client, server):
        listing = client.fetch_all("/v1/api-keys", what="keys")
    # Each page is ~20 kB: the page that reaches 100 kB is the last one asked for.
    assert listing.pages == 5 and len(listing.items) == 5
    assert not listing.complete
    [reason] = listing.reasons
    assert reason.startswith("keys: stopped at the list cap after 5 pages")
    assert len([s for s in server.seen if s[1] == "/v1/api-keys"]) == 5


def test_a_listing_stops_at_the_total_item_cap_and_fetch_says_why(tmp_path: Path) -> None:
    def pages(cursor: str | None) -> dict[str, Any]:
        number = int(cursor or 0)
        data = [key(f"key_{number:04d}_{index:03d}") for index in range(40)]
        return {"data": data, "has_more": True, "next_cursor": str(number + 1)}

    with hostile(platform_of(pages), max_list_items=100) as (client, _):
        manifest = fetch_snapshot(client, tmp_path / "snap", as_of=AS_OF, window_days=7)
    assert manifest.counts["keys"] == 120 and manifest.counts["key_pages"] == 3
    assert not manifest.complete
    assert any("stopped at the list cap after 3 pages" in r for r in manifest.incomplete_reasons)


@pytest.mark.parametrize("name", ["max_list_items", "max_list_bytes"])
def test_list_caps_are_settings_of_at_least_one(name: str) -> None:
    from keyscope.errors import ConfigError

    assert getattr(parse_platform_settings({name: 5}, env={}), name) == 5
    with pytest.raises(ConfigError, match=f"platform.{name}: must be at least 1"):
        parse_platform_settings({name: 0}, env={})


# --------------------------------------------------------------------------- odd key lists


def test_one_key_id_refused_in_a_path_is_dropped_not_the_whole_fetch(tmp_path: Path) -> None:
    listed = [key("key_good"), key(".."), key(".")]

    def pages(cursor: str | None) -> dict[str, Any]:
        return {"data": listed, "has_more": False, "next_cursor": None}

    with hostile(platform_of(pages)) as (client, server):
        manifest = fetch_snapshot(client, tmp_path / "snap", as_of=AS_OF, window_days=7)
    keys = json.loads((tmp_path / "snap" / "keys.json").read_text())["keys"]
    assert [k["id"] for k in keys] == ["key_good"]
    assert not manifest.complete
    assert manifest.incomplete_reasons == (
        "keys: dropped 2 entries whose id cannot be used in a request path (such as '..'); "
        "their usage was not read",
    )
    assert [p for _, p, _ in server.seen if p.endswith("/requests")] == [
        "/v1/api-keys/key_good/requests"
    ]


def test_a_key_listed_twice_with_other_content_marks_the_snapshot_incomplete(
    tmp_path: Path,
) -> None:
    first = {"data": [key("key_a"), key("key_b")], "has_more": True, "next_cursor": "p2"}
    second = {
        "data": [key("key_b"), key("key_a", status="revoked", scopes=["a:write"]), key("key_c")],
        "has_more": False, "next_cursor": None,
    }  # fmt: skip

    with hostile(platform_of(lambda cursor: second if cursor else first)) as (client, _):
        manifest = fetch_snapshot(client, tmp_path / "snap", as_of=AS_OF, window_days=7)
    keys = json.loads((tmp_path / "snap" / "keys.json").read_text())["keys"]
    assert [k["id"] for k in keys] == ["key_a", "key_b", "key_c"]
    assert keys[0]["status"] == "active"  # the first listing is kept
    assert manifest.counts["duplicate_keys_dropped"] == 1  # key_b: identical, silent
    assert manifest.counts["conflicting_keys_dropped"] == 1
    assert manifest.incomplete_reasons == (
        "keys: 1 key ids were listed more than once with different content; the first "
        "listing of each was kept",
    )
    assert read_snapshot(tmp_path / "snap").complete is False
