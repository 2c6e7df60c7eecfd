"""P1/P2 (BAD-INPUTS #24, #28, #38, #44): no secret is ever shown, in any output.

Unique canary secrets are planted in every input field keyscope reads: key names and
owners, an inventory ``secret`` field and a nested unknown field, log URLs
(``?api_key=``), a log line's key id and ``Authorization`` field, an unmatched route's
path, HAR headers, cookies, bodies and URLs, spec titles, descriptions and summaries,
environment variables and mocked platform error bodies.  Then every command and
format runs, and no 8-character fragment of any canary's secret part may appear in
stdout, stderr, a written file, a traceback, the TUI's painted screen or an error.
(The type prefix, ``sk_live_``, is public: masks show it plus the last four characters.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.redaction import mask, redact

from .conftest import (
    AS_OF,
    World,
    default_keys,
    default_usage,
    log_line,
    spec_document,
)
from .payloads import (
    CANARY_GH,
    CANARY_KS,
    CANARY_RK,
    CANARY_SK,
    CANARY_SK2,
    leaks,
)

FORMATS = ("text", "json", "html", "md", "csv", "sarif")


def har_with_canaries(path: Path) -> Path:
    """A HAR capture whose headers, cookies, bodies and URLs carry canaries."""
    started = (AS_OF - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def entry(url: str, method: str = "GET", status: int = 200) -> dict[str, Any]:
        return {
            "startedDateTime": started,
            "time": 12,
            "request": {
                "method": method,
                "url": url,
                "httpVersion": "HTTP/1.1",
                "headers": [
                    {"name": "Authorization", "value": f"Bearer {CANARY_GH}"},
                    {"name": "X-Api-Key", "value": CANARY_KS},
                ],
                "cookies": [{"name": "session", "value": CANARY_RK}],
                "queryString": [{"name": "api_key", "value": CANARY_SK2}],
                "postData": {
                    "mimeType": "application/json",
                    "text": json.dumps({"api_key": CANARY_SK}),
                },
                "headersSize": -1,
                "bodySize": -1,
            },
            "response": {
                "status": status,
                "statusText": "OK",
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": "Set-Cookie", "value": f"token={CANARY_RK}"}],
                "cookies": [],
                "content": {"size": 20, "mimeType": "application/json", "text": CANARY_SK},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
            },
            "cache": {},
            "timings": {"send": 1, "wait": 10, "receive": 1},
        }

    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": CANARY_GH, "version": "1"},
            "entries": [
                entry(f"https://api.example.test/v1/invoices?api_key={CANARY_SK2}"),
                entry(f"https://api.example.test/v1/customers/{CANARY_SK}#{CANARY_RK}"),
                entry("https://api.example.test/v1/refunds", "POST", 403),
            ],
        }
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def canary_world(folder: Path) -> World:
    """The audit inputs with a canary in every field keyscope reads."""
    world = World(folder)
    world.spec = spec_document(
        title=f"Partner API {CANARY_SK2}",
        description=f"Use Bearer {CANARY_GH} to call it",
        scope_description=f"scope for {CANARY_SK}",
        summary=f"call with {CANARY_RK}",
        version=f"v-{CANARY_RK}",
    )
    keys = default_keys()
    keys[0]["name"] = f"rotate {CANARY_SK} asap"
    keys[0]["owner"] = f"owner token {CANARY_GH}"
    keys[1]["secret"] = CANARY_RK
    keys[1]["api_key"] = CANARY_KS
    keys[1]["metadata"] = {"note": f"the key is {CANARY_GH}", "nested": [{"secret": CANARY_SK2}]}
    keys[2]["environment"] = f"prod {CANARY_SK2}"
    keys[3]["token"] = CANARY_SK
    world.keys = keys
    world.usage = [
        *default_usage(),
        log_line("key_accountant01", "GET", f"/v1/invoices?api_key={CANARY_SK2}&limit=5"),
        log_line("key_accountant01", "GET", f"/v1/legacy/{CANARY_SK}/export"),
        log_line("key_accountant01", "POST", f"/v1/payments?token={CANARY_RK}", 403),
        log_line(CANARY_SK2, "GET", "/v1/invoices", authorization=f"Bearer {CANARY_GH}"),
        log_line(
            "key_overpriv002",
            "GET",
            f"/v1/invoices/{CANARY_GH}",
            200,
            headers={"Authorization": f"Bearer {CANARY_SK}", "X-Api-Key": CANARY_KS},
        ),
        '{"timestamp": "bad", "key_id": "'
        + CANARY_RK
        + '", "path": "/v1/x?api_key='
        + CANARY_SK
        + '"}',
        "not json at all " + CANARY_SK2,
    ]
    world.write()
    world.usage_files = [world.usage_path, har_with_canaries(folder / "capture.har")]
    # Suppressions: one applied, one stale (a warning), both carrying canaries.
    world.suppressions_path.write_text(
        "suppressions:\n"
        "  - rule: unused-scope\n    key: key_overpriv002\n    scope: refunds:write\n"
        f'    reason: "rotated {CANARY_SK} already"\n    owner: "ops {CANARY_GH}"\n'
        "    expires: 2027-01-31\n"
        "  - rule: dormant-key\n    key: key_nothere0000\n"
        f'    reason: "old {CANARY_RK}"\n    owner: o\n    expires: 2027-01-31\n',
        encoding="utf-8",
    )
    return world


@pytest.fixture
def planted(tmp_path: Path) -> World:
    return canary_world(tmp_path / "inputs")


def canary_flags(world: World) -> list[str]:
    return [*world.flags(), "--suppressions", str(world.suppressions_path)]


def assert_clean(*texts: str | bytes) -> None:
    for text in texts:
        assert leaks(text) == [], leaks(text)


def test_canary_check_catches_a_leak() -> None:
    """The detector itself: a raw canary or a fragment is caught, a mask is not."""
    assert leaks(f"x {CANARY_SK} y")
    assert leaks(CANARY_RK[3:14])
    assert leaks(mask(CANARY_SK)) == []
    assert leaks(redact(f"Bearer {CANARY_GH} and ?api_key={CANARY_KS}")) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_audit_stdout_and_stderr_never_show_a_canary(
    planted: World, cli: Callable[..., Any], fmt: str
) -> None:
    outcome = cli("audit", *canary_flags(planted), "--format", fmt)
    assert outcome.code == 0, outcome.err
    assert outcome.out  # the report was produced
    assert_clean(outcome.out, outcome.err)


def test_audit_written_files_never_show_a_canary(
    planted: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = {fmt: out / f"report.{fmt}" for fmt in ("json", "html", "md", "csv", "sarif")}
    history = tmp_path / "history"
    history.mkdir()
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]
    outcome = cli("audit", *canary_flags(planted), *flags, "--history", str(history))
    assert outcome.code == 0, outcome.err
    written = [*files.values(), *history.iterdir()]
    assert len(written) == 6
    for path in written:
        assert_clean(path.read_bytes())
    assert_clean(outcome.out, outcome.err)
    # The JSON says which fields were dropped, by name only.
    data = json.loads(files["json"].read_text())
    redacted = {key["id"]: key["redacted_fields"] for key in data["keys"]}
    assert set(redacted["key_overpriv002"]) >= {"api_key", "metadata", "secret"}
    assert "token" in redacted["key_dormant0004"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_spec_command_never_shows_a_canary(
    planted: World, cli: Callable[..., Any], fmt: str
) -> None:
    outcome = cli(
        "spec", str(planted.spec_path), "--format", fmt, "--config", str(planted.config_path)
    )
    assert outcome.code == 0, outcome.err
    assert "scope for" in outcome.out or fmt == "text"
    assert_clean(outcome.out, outcome.err)


def test_forced_exception_traceback_is_redacted_under_debug(
    planted: World, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An internal error carrying secrets (message, chained cause) exits 70, redacted."""
    import keyscope.analysis.audit

    def explode(*args: Any, **kwargs: Any) -> Any:
        try:
            raise KeyError(f"api_key={CANARY_KS} Bearer {CANARY_GH}")
        except KeyError as cause:
            raise RuntimeError(f"boom {CANARY_SK} {CANARY_RK} {CANARY_SK2}") from cause

    monkeypatch.setattr(keyscope.analysis.audit, "audit_keys", explode)
    outcome = cli("--debug", "audit", *planted.flags())
    assert outcome.code == 70
    assert (
        "Traceback" in outcome.err and "RuntimeError" in outcome.err and "KeyError" in outcome.err
    )
    assert_clean(outcome.out, outcome.err)
    outcome = cli("audit", *planted.flags())
    assert outcome.code == 70
    assert "Traceback" not in outcome.err
    assert outcome.err.strip().count("\n") == 0
    assert_clean(outcome.err)


def test_input_errors_never_echo_a_secret(
    planted: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """One-line errors about bad records name the place, never the secret value."""
    bad = tmp_path / "bad.json"
    cases = [
        [{"id": CANARY_SK, "name": "secret as id"}],
        [{"id": "k1", "scopes": [CANARY_RK]}],
        [{"id": "k1", "status": CANARY_GH}],
        [{"id": "k1", "created_at": f"when {CANARY_SK2}"}],
        [{"id": "k1"}, {"id": "k1", "name": CANARY_SK}],
    ]
    for records in cases:
        bad.write_text(json.dumps(records), encoding="utf-8")
        flags = planted.flags()
        flags[flags.index("--keys") + 1] = str(bad)
        outcome = cli("audit", *flags)
        assert outcome.code == 3, (records, outcome.err)
        assert outcome.err.startswith(f"keyscope: error: {bad}")
        assert_clean(outcome.out, outcome.err)


def test_help_never_shows_environment_secrets(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyscope.cli import COMMANDS

    monkeypatch.setenv("KEYSCOPE_API_KEY", CANARY_KS)
    monkeypatch.setenv("HTTPS_PROXY", f"http://bob:{CANARY_SK}@proxy.example:3128")
    texts = [cli("--help")]
    texts += [cli(command, "--help") for command in COMMANDS]
    for outcome in texts:
        assert outcome.code == 0
        assert outcome.out
        assert_clean(outcome.out, outcome.err)


def test_environment_secrets_stay_out_of_debug_output(tmp_path: Path) -> None:
    """``--debug`` prints the effective proxy and CA bundle, with credentials masked."""
    from .conftest import run_keyscope

    config = tmp_path / "keyscope.toml"
    config.write_text(
        '[platform]\nbase_url = "http://127.0.0.1:9"\nmax_retries = 0\n', encoding="utf-8"
    )
    bundle = tmp_path / f"{CANARY_RK}.pem"  # a real CA bundle under a secret-looking name
    bundle.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
    done = run_keyscope(
        ["--debug", "fetch", "--config", str(config), "-o", str(tmp_path / "snap")],
        cwd=tmp_path,
        timeout=60,
        KEYSCOPE_API_KEY=CANARY_KS,
        HTTPS_PROXY=f"http://bob:{CANARY_SK}@proxy.example:3128",
        SSL_CERT_FILE=str(bundle),
    )
    assert done.returncode == 5, done.stderr
    err = done.stderr.decode()
    assert "HTTPS_PROXY=http://***@proxy.example:3128" in err
    assert "SSL_CERT_FILE=" in err
    assert_clean(done.stdout, done.stderr)


def test_secrets_never_reach_argv(planted: World, tmp_path: Path) -> None:
    """P2: a running keyscope's /proc/<pid>/cmdline holds no canary (the key is in env)."""
    import subprocess
    import sys
    import time

    from .conftest import subprocess_env

    out_file, err_file = tmp_path / "out", tmp_path / "err"
    with out_file.open("wb") as out_stream, err_file.open("wb") as err_stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyscope", "audit", *planted.flags(), "--format", "json"],
            cwd=tmp_path,
            env=subprocess_env(KEYSCOPE_API_KEY=CANARY_KS),
            stdout=out_stream,
            stderr=err_stream,
        )
    cmdlines = []
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                cmdlines.append(Path(f"/proc/{process.pid}/cmdline").read_bytes())
            except OSError:
                break
            time.sleep(0.05)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    out, err = out_file.read_bytes(), err_file.read_bytes()
    assert process.returncode == 0, err
    assert any(b"audit" in cmdline for cmdline in cmdlines)
    assert_clean(*cmdlines, out, err)


def test_no_option_could_carry_a_secret() -> None:
    """P2: no option or positional that takes text is named like a secret (parser introspection).

    Options naming a *file* (``--api-key-file``, ``--secrets-file``) or a number
    (``--access-lifetime`` stored as ``token_ttl``) are fine: argv holds a path, not the secret.
    """
    import argparse

    from keyscope.cli import build_parser

    words = ("token", "secret", "password", "passwd", "api-key", "api_key", "apikey", "credential",
             "bearer", "private-key")  # fmt: skip
    offenders: list[str] = []

    def walk(parser: argparse.ArgumentParser, where: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{where} {name}")
                continue
            if action.nargs == 0 or action.type in (Path, int, float):
                continue  # a switch, a file name or a number cannot hold a secret's text
            names = [*action.option_strings, action.dest or "", str(action.metavar or "")]
            for name in names:
                if any(word in name.lower() for word in words):
                    offenders.append(f"{where}: {name}")

    walk(build_parser(), "keyscope")
    assert offenders == []


async def test_tui_screens_never_show_a_canary(planted: World, tmp_path: Path) -> None:
    """Every screen of the TUI (keys, each key's tabs, spec, help) over the canary inputs."""
    from keyscope.settings import load_settings
    from keyscope.tui.app import make_app
    from keyscope.tui.messages import AnalysisCompleted
    from keyscope.tui.screens.key_detail import KeyDetailScreen

    settings = load_settings(
        {
            "spec": planted.spec_path,
            "keys": planted.keys_path,
            "usage": [str(path) for path in planted.usage_files],
            "as_of": planted.as_of,
            "window_days": planted.window_days,
            "semantics": "all",
            "suppressions": planted.suppressions_path,
        },
        config=planted.config_path,
    )
    messages: list[Any] = []
    app = make_app(settings, cwd=tmp_path)
    painted: list[str] = []

    def paint() -> None:
        painted.append("\n".join(strip.text for strip in app.screen._compositor.render_strips()))

    async with app.run_test(size=(200, 60), message_hook=messages.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        [done] = [m for m in messages if isinstance(m, AnalysisCompleted)]
        paint()
        for audit in done.run.result.keys:
            app.push_screen(KeyDetailScreen(audit, app.context))
            await pilot.pause()
            for tab in ("whatif", "evidence", "excess", "denied", "findings"):
                app.screen.action_show_tab(tab)
                await pilot.pause()
                paint()
            app.pop_screen()
            await pilot.pause()
        await pilot.press("S")
        await pilot.pause()
        paint()
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        paint()
        notes = [note.message for note in app._notifications]
    assert len(painted) == 3 + 5 * len(done.run.result.keys)
    assert "rotate sk_live_" in painted[0]  # the planted name is on screen, masked
    assert_clean(*painted, *notes)


# --------------------------------------------------------------------------- live client


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    from keyscope.sources.live import ApiKeyCredential, PlatformClient, parse_platform_settings

    def recording(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/token":
            return httpx.Response(
                200,
                json={
                    "access_token": "tok_" + CANARY_GH[4:],
                    "expires_in": 300,
                    "key_id": "key_self0001",
                },
            )
        return handler(request)

    settings = parse_platform_settings({"base_url": "https://api.example.test", "max_retries": 0})
    return PlatformClient(
        settings, ApiKeyCredential(CANARY_KS, "KEYSCOPE_API_KEY"),
        transport=httpx.MockTransport(recording), sleep=lambda _s: None,
    )  # fmt: skip


ERROR_BODIES: list[tuple[int, dict[str, str], bytes]] = [
    (400, {"Content-Type": "application/json"},
     json.dumps({"error": {"message": f"invalid key {CANARY_KS}; you sent {CANARY_SK}"}}).encode()),
    (403, {"Content-Type": "application/json"},
     json.dumps({"error": f"token tok_{CANARY_GH[4:]} lacks scope; Bearer {CANARY_RK}"}).encode()),
    (404, {"Content-Type": "application/problem+json"},
     json.dumps({"code": f"no such key {CANARY_SK2}", "detail": CANARY_SK}).encode()),
    (500, {"Content-Type": "text/html"}, f"<pre>{CANARY_SK} {CANARY_KS}</pre>".encode()),
    (200, {"Content-Type": "application/json"}, f"{{not json {CANARY_SK}".encode()),
    (200, {"Content-Type": "text/plain"}, f"api_key={CANARY_KS}".encode()),
]  # fmt: skip


@pytest.mark.parametrize(("status", "headers", "body"), ERROR_BODIES)
def test_live_client_errors_never_carry_a_canary(
    status: int, headers: dict[str, str], body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    from keyscope.errors import FetchError

    caplog.set_level(logging.DEBUG)
    client = _client(lambda request: httpx.Response(status, headers=headers, content=body))
    with client, pytest.raises(FetchError) as caught:
        client.get_json("/v1/api-keys", params={"api_key": CANARY_SK2})
    message = str(caught.value)
    assert message.startswith("GET /v1/api-keys")
    assert "\n" not in message
    assert_clean(message, repr(caught.value), caplog.text)


def test_live_credentials_repr_and_token_errors(caplog: pytest.LogCaptureFixture) -> None:
    from keyscope.errors import FetchError
    from keyscope.sources.live import ApiKeyCredential, PlatformClient, parse_platform_settings

    credential = ApiKeyCredential(CANARY_KS, "KEYSCOPE_API_KEY")
    assert_clean(repr(credential), str(credential))
    caplog.set_level(logging.DEBUG)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": f"api key {CANARY_KS} was revoked"}})

    settings = parse_platform_settings({"base_url": "https://api.example.test", "max_retries": 0})
    client = PlatformClient(settings, credential, transport=httpx.MockTransport(refuse))
    with client, pytest.raises(FetchError) as caught:
        client.get_json("/v1/api-keys")
    assert "KEYSCOPE_API_KEY" in str(caught.value)
    assert_clean(str(caught.value), caplog.text)


# --------------------------------------------------------------------------- redaction property

_BODY = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    min_size=16,
    max_size=40,
)
_PREFIX = st.sampled_from(["sk_live_", "rk_live_", "sk_test_", "ks_live_", "ghp_", "whsec_"])
_AROUND = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30).map(
    lambda text: text + " "
)


@settings(max_examples=200, deadline=None)
@given(prefix=_PREFIX, body=_BODY, before=_AROUND, after=_AROUND)
def test_redaction_reveals_at_most_prefix_and_last_four(
    prefix: str, body: str, before: str, after: str
) -> None:
    """For any secret in any text, redaction leaves no 8-character run of its body."""
    if prefix == "ghp_":
        body = (body * 2)[:36]
    secret = prefix + body
    shown = redact(" " + before + secret + " " + after)
    for start in range(len(body) - 7):
        fragment = body[start : start + 8]
        if fragment not in before + " " + after:
            assert fragment not in shown
    assert mask(secret).endswith(body[-4:])


@pytest.mark.parametrize("length", [60, 80, 120, 500, 4096, 32_000, 1 << 20])
@pytest.mark.parametrize("offset", [1, 6, 12, 18, 27])
def test_a_long_name_is_redacted_whole_at_ingest(length: int, offset: int) -> None:
    """A secret anywhere in a long name, even where a display cuts it later: the whole
    value is redacted as it is read and kept whole, so no cut can leave a fragment."""
    from keyscope.sources.keys import parse_keys

    padding = length - offset
    name = "a " * (padding // 2) + " " * (padding % 2) + CANARY_SK + " tail"
    [key] = parse_keys([{"id": "k1", "name": name, "owner": name}], "keys.json")
    assert_clean(key.name, key.owner)
    assert set(key.redacted_fields) == {"name", "owner"}
    assert key.name == key.owner == name.replace(CANARY_SK, mask(CANARY_SK))


@pytest.mark.parametrize("cut", [60, 80, 120, 200, 300, 400, 500, 2000])
@pytest.mark.parametrize("offset", [6, 12, 18])
def test_no_sink_cuts_through_a_secret_in_free_text(
    world: World, cli: Callable[..., Any], tmp_path: Path, cut: int, offset: int
) -> None:
    """Every sink shortens long text at its own limit; a secret straddling any of those
    limits (in a suppression reason, which the inventory loader never sees, and in a key
    name, which it redacts whole) leaves no fragment in any format."""
    pad = cut - offset
    reason = "a " * (pad // 2) + " " * (pad % 2) + CANARY_SK + " end"
    world.keys[1]["name"] = world.keys[1]["owner"] = reason  # key_overpriv002
    world.write()
    world.suppressions_path.write_text(
        "suppressions:\n  - rule: unused-scope\n    key: key_overpriv002\n"
        f"    scope: refunds:write\n    reason: {json.dumps(reason)}\n"
        f"    owner: {json.dumps(reason)}\n    expires: 2027-01-31\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    out.mkdir()
    files = [out / f"r.{fmt}" for fmt in ("json", "html", "md", "csv", "sarif")]
    flags = [arg for path in files for arg in (f"--{path.suffix[1:]}", str(path))]
    outcome = cli("audit", *world.flags(), "--suppressions", str(world.suppressions_path), *flags)
    assert outcome.code == 0, outcome.err
    assert_clean(outcome.out, outcome.err, *(path.read_bytes() for path in files))


# --------------------------------------------------------------------------- shapes and sinks


def test_a_secret_after_a_quoted_control_character_stays_masked_in_errors(
    world: World, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages quote bad values with repr(): ``'…\\nsk_live_…'`` must still be masked."""
    world.write()
    flags = [flag for flag in world.flags() if flag not in ("--as-of", world.as_of)]
    monkeypatch.setenv("KEYSCOPE_AS_OF", f"2026-11-01\n{CANARY_SK}")
    outcome = cli("audit", *flags)
    assert outcome.code == 3 and "not a date" in outcome.err
    assert_clean(outcome.err)
    monkeypatch.delenv("KEYSCOPE_AS_OF")
    world.config_path.write_text(f'semantics = "all\\t{CANARY_RK}"\n', encoding="utf-8")
    outcome = cli(
        "audit", *[f for f in flags if f not in ("--semantics", "all")], "--as-of", "2026-11-01"
    )
    assert outcome.code == 3 and "semantics" in outcome.err
    assert_clean(outcome.err)
    world.config_path.write_text("", encoding="utf-8")
    world.spec["openapi"] = f"3.0\n{CANARY_GH}"
    world.write()
    for argv in (["audit", *world.flags()], ["spec", str(world.spec_path)]):
        outcome = cli(*argv, "--config", str(world.config_path))
        assert outcome.code == 3 and "unsupported OpenAPI version" in outcome.err
        assert_clean(outcome.err)


def test_typed_keys_glued_to_a_word_or_an_escape_code_are_masked(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    keys = default_keys()
    keys[0]["name"] = f"\x1b[1m{CANARY_SK}"
    keys[1]["owner"] = f"ops:x{CANARY_RK}"
    world.keys = keys
    world.write()
    out = tmp_path / "out"
    out.mkdir()
    files = {fmt: out / f"report.{fmt}" for fmt in ("json", "html", "csv")}
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]
    outcome = cli("audit", *world.flags(), *flags)
    assert outcome.code == 0, outcome.err
    for path in files.values():
        assert_clean(path.read_bytes())
    named = {
        key["id"]: key["redacted_fields"] for key in json.loads(files["json"].read_text())["keys"]
    }
    assert "name" in named[keys[0]["id"]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "k1", "status": f"x\x1b[2J{CANARY_SK2}"}]), encoding="utf-8")
    flags = world.flags()
    flags[flags.index("--keys") + 1] = str(bad)
    outcome = cli("audit", *flags)
    assert outcome.code == 3 and "status" in outcome.err
    assert_clean(outcome.err)


def test_secrets_in_path_templates_and_scheme_names_are_masked_in_json(
    world: World, cli: Callable[..., Any]
) -> None:
    world.spec["paths"][f"/x/{CANARY_SK}"] = {
        "get": {"responses": {}, "security": [{"oauth": ["invoices:read"]}]}
    }
    world.spec["paths"]["/invoices"]["get"]["security"] = [{CANARY_GH: []}]
    world.write()
    spec = cli("spec", str(world.spec_path), "--format", "json", "--config", str(world.config_path))
    audit = cli("audit", *world.flags(), "--format", "json")
    for outcome in (spec, audit):
        assert outcome.code == 0, outcome.err
        assert "is not defined" in outcome.out and "/x/sk_live_\\u2026" in outcome.out
        assert_clean(outcome.out, outcome.err)


def test_input_paths_holding_a_secret_are_masked_in_every_json(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    world = World(tmp_path / f"in_{CANARY_SK}").write()
    out = tmp_path / "out"
    history = tmp_path / "history"
    out.mkdir()
    history.mkdir()
    outcome = cli("audit", *world.flags(), "--json", str(out / "r.json"), "--history", str(history))
    assert outcome.code == 0, outcome.err
    new = world.folder / "new.json"
    new.write_text(world.spec_path.read_text(encoding="utf-8"), encoding="utf-8")
    diff = cli(
        "spec-diff",
        str(world.spec_path),
        str(new),
        "--format",
        "json",
        "--config",
        str(world.config_path),
    )
    assert diff.code == 0, diff.err
    plan = cli("plan", *world.flags(), "-o", str(out / "plan.json"))
    assert plan.code == 0, plan.err
    written = [out / "r.json", *history.iterdir(), out / "plan.json"]
    assert len(written) == 3
    for path in written:
        assert_clean(path.read_bytes())
        assert "in_sk_live_\\u2026" in path.read_text(encoding="utf-8")  # JSON is ASCII
    assert_clean(diff.out, outcome.err, plan.err)


URL_PASSWORD = "PWcanaryUSERINFO7x9q"
PARTIAL = "Supersecret-CANARYtail99"


def test_url_passwords_and_named_credentials_show_no_part_of_the_secret(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A log URL's password (even on an unusable path), a credential named in free text
    (``?secret_key=``, ``aws_secret_access_key=``...): nothing but the last four."""
    shapes = {
        "secret_key": "SKcanarySECRETKEY42zz",
        "private_key": "PKcanaryPRIVKEY9988yy",
        "refresh": "RTcanaryREFRESH7766xx",
        "aws": "wJalrXUtnFEMIcanaryAWS0bPxRfiCY",
        "asia": "ASIACANARYASIA123456",
        "bearer": "BEcanaryBEARENC5544ww",
    }
    keys = default_keys()
    keys[0]["name"] = f"rotate aws_secret_access_key={shapes['aws']}"
    keys[0]["owner"] = f"ops https://bob:{URL_PASSWORD}@vault.example"
    keys[1]["name"] = f"cb https://x.example/cb?refresh_token={shapes['refresh']}"
    keys[1]["environment"] = f"prod {shapes['asia']}"
    keys[2]["owner"] = (
        f"note ?secret_key={shapes['secret_key']}&private_key={shapes['private_key']}"
    )
    keys[3]["name"] = f"hook ?authorization=Bearer%20{shapes['bearer']}"
    keys[3]["owner"] = f"pw ?password={PARTIAL}"
    world.keys = keys
    world.usage = [
        *default_usage(),
        log_line(
            "key_accountant01", "GET", f"https://ops:{URL_PASSWORD}@api.example.test/v1/../admin"
        ),
    ]
    world.write()
    out = tmp_path / "out"
    out.mkdir()
    files = {fmt: out / f"report.{fmt}" for fmt in ("json", "html", "md", "csv", "sarif")}
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]
    outcome = cli("audit", *world.flags(), *flags)
    assert outcome.code == 0, outcome.err
    texts = [
        outcome.out,
        outcome.err,
        *(path.read_text(encoding="utf-8") for path in files.values()),
    ]
    assert "api.example.test" in texts[0]  # the unusable route is listed, masked
    for text in texts:
        for secret in (URL_PASSWORD, PARTIAL, *shapes.values()):
            assert secret[:-4] not in text and secret[:12] not in text, secret


def test_a_baseline_finding_is_masked_and_made_safe_on_the_way_in(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    world.write()
    first = tmp_path / "first.json"
    assert cli("audit", *world.flags(), "--json", str(first)).code == 0
    document = json.loads(first.read_text(encoding="utf-8"))
    document["findings"].append(
        {"rule": "dormant-key", "severity": "high", "key_id": "key_gone9999", "subject": "",
         "message": f"old key {CANARY_SK} \x1b]0;T\x07", "fingerprint": "0123456789abcdef",
         "suppressed": False}
    )  # fmt: skip
    first.write_text(json.dumps(document), encoding="utf-8")
    second = tmp_path / "second.json"
    outcome = cli("audit", *world.flags(), "--baseline", str(first), "--json", str(second))
    assert outcome.code == 0, outcome.err
    resolved = json.loads(second.read_text(encoding="utf-8"))["resolved_findings"]
    message = next(f["message"] for f in resolved if f["key_id"] == "key_gone9999")
    assert (
        message.startswith("old key sk_live_…") and "\x1b" not in message and "\x07" not in message
    )
    assert_clean(second.read_bytes())
