"""Network rows of BAD-INPUTS (#40-#46), P8 and P11, beyond the client's own tests.

Every guard of the live client is proven against ``httpx.MockTransport`` with a fake
clock in ``tests/unit/test_live_client.py`` and against the loopback sandbox in
``tests/integration/test_sandbox.py`` (pagination loops, Retry-After forms, redirects,
slow drip, token refresh, idempotent revokes, the current credential, stale plans): see
``catalog.py`` for the mapping.  This file adds properties over all inputs (any
``Retry-After`` text, any backoff attempt) and the TLS-configuration promises of #45
end to end.
"""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.sources.live import backoff_delay, parse_retry_after

from .conftest import run_keyscope

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        st.none(),
        st.text(max_size=40),
        st.integers(-(10**40), 10**40).map(str),
        st.datetimes(timezones=st.just(UTC)).map(
            lambda moment: moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
        ),
    ),
    cap=st.floats(0, 3600),
)
def test_41_any_retry_after_is_none_or_clamped(value: str | None, cap: float) -> None:
    """#41: whatever the header says, the wait is in [0, cap] or falls back to backoff."""
    wait = parse_retry_after(value, now=NOW, cap=cap)
    assert wait is None or 0.0 <= wait <= cap


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(0, 10_000),
    base=st.floats(0.01, 10),
    cap=st.floats(0.1, 120),
    draw=st.floats(0, 1),
)
def test_41_backoff_is_bounded_for_any_attempt(
    attempt: int, base: float, cap: float, draw: float
) -> None:
    delay = backoff_delay(attempt, base=base, cap=cap, rng=lambda: draw)
    assert 0.0 <= delay <= cap


def test_45_no_option_turns_tls_verification_off() -> None:
    """#45: verification is never disabled; there is no switch for it."""
    from keyscope.cli import build_parser

    words = ("insecure", "no-verify", "verify", "skip-tls", "no-tls", "unsafe")
    found: list[str] = []

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            found.extend(o for o in action.option_strings if any(w in o for w in words))

    walk(build_parser())
    assert found == []


def test_45_the_http_client_always_verifies(tmp_path: Path) -> None:
    from keyscope.sources.live import make_http_client, parse_platform_settings

    for raw in ({"base_url": "https://api.example.test"},
                {"base_url": "https://api.example.test", "trust_env": False}):  # fmt: skip
        client = make_http_client(parse_platform_settings(raw))
        try:
            pool = client._transport._pool  # type: ignore[attr-defined]
            context: ssl.SSLContext = pool._ssl_context
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname is True
            assert client.follow_redirects is False
        finally:
            client.close()


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_45_a_broken_ca_setting_in_the_environment_is_one_clear_line(
    tmp_path: Path, variable: str
) -> None:
    config = tmp_path / "keyscope.toml"
    config.write_text(
        '[platform]\nbase_url = "https://api.example.test"\nmax_retries = 0\n', encoding="utf-8"
    )
    done = run_keyscope(
        ["fetch", "--config", str(config), "-o", str(tmp_path / "snap")],
        cwd=tmp_path,
        timeout=60,
        KEYSCOPE_API_KEY="ks_live_cabundle00000000000",
        **{variable: str(tmp_path / "missing.pem")},
    )
    err = done.stderr.decode()
    if variable == "SSL_CERT_DIR" and done.returncode == 5:
        # OpenSSL only looks into the folder when it verifies: nothing to load up front,
        # so the run fails at the (unreachable) network instead. Still one line, not a crash.
        assert err.strip().splitlines()[-1].startswith("keyscope: error: ")
        return
    assert done.returncode == 3, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"keyscope: error: {variable}=") and "cannot load the CA bundle" in err
    assert "--no-trust-env" in err


def test_45_no_trust_env_ignores_the_broken_ca_setting(tmp_path: Path) -> None:
    config = tmp_path / "keyscope.toml"
    config.write_text(
        '[platform]\nbase_url = "http://127.0.0.1:9"\nmax_retries = 0\n', encoding="utf-8"
    )
    done = run_keyscope(
        ["--debug", "fetch", "--config", str(config), "-o", str(tmp_path / "snap"),
         "--no-trust-env"],
        cwd=tmp_path, timeout=60, KEYSCOPE_API_KEY="ks_live_cabundle00000000000",
        SSL_CERT_FILE=str(tmp_path / "missing.pem"), HTTPS_PROXY="http://proxy.invalid:3128",
    )  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 5, err  # the loopback port is closed: a network error
    assert "environment: ignored (--no-trust-env)" in err
    assert "Traceback" not in err


def test_p8_audit_of_local_files_opens_no_socket(
    cli: Callable[..., Any], world: Any, no_network: list[Any]
) -> None:
    """P8: without --live, an audit never touches the network."""
    world.write()
    assert cli("audit", *world.flags(), "--format", "json").code == 0
    assert no_network == []
