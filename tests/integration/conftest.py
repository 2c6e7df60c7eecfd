"""Fixtures for the integration tests: the real sandbox server on loopback.

One server runs for the whole session (a thread on 127.0.0.1, port 0); every test gets
a fresh :class:`Sandbox` state swapped into it, so tests never see each other's keys,
faults or request log.  A snapshot of the untouched sample is fetched once and copied
into each test that starts from one (the server's address is the same all session).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyscope.sandbox import RunningSandbox, Sandbox, SandboxData, load_sample_data, serve_in_thread

CANARY_API_KEY = "ks_test_CANARYintegration0000000000042"
"""The credential under test: it must never show up in any output, file or argv."""


@pytest.fixture(scope="session")
def sample_data() -> SandboxData:
    """Generated once per session (about a second); each test gets a fresh copy."""
    return load_sample_data()


def fresh_copy(data: SandboxData) -> SandboxData:
    """Keys are mutated (create, rename, revoke); request lists are only ever added."""
    return SandboxData(
        spec_json=data.spec_json,
        keys={key_id: dict(key) for key_id, key in data.keys.items()},
        requests=dict(data.requests),
        catalog=data.catalog,
    )


def new_sandbox(data: SandboxData) -> Sandbox:
    return Sandbox(fresh_copy(data), api_key=CANARY_API_KEY, retry_after="0")


@pytest.fixture(scope="session")
def server(sample_data: SandboxData) -> Iterator[RunningSandbox]:
    with serve_in_thread(new_sandbox(sample_data), "127.0.0.1", 0) as running:
        yield running


@pytest.fixture
def sandbox(server: RunningSandbox, sample_data: SandboxData) -> Sandbox:
    """This test's platform state, served by the session's server."""
    state = new_sandbox(sample_data)
    server.server.sandbox = state
    server.sandbox = state
    return state


@pytest.fixture
def running(server: RunningSandbox, sandbox: Sandbox) -> RunningSandbox:
    return server


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, running: RunningSandbox) -> Path:
    """A clean working folder pointed at the sandbox, with the canary key in the environment.

    The folder has its own keyscope.toml (fast retries, short deadlines) so the
    repository's configuration never leaks in.
    """
    monkeypatch.chdir(tmp_path)
    for name in ("KEYSCOPE_CONFIG", "KEYSCOPE_SPEC", "KEYSCOPE_KEYS", "KEYSCOPE_USAGE",
                 "KEYSCOPE_AS_OF", "KEYSCOPE_SNAPSHOT", "HTTPS_PROXY", "HTTP_PROXY",
                 "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEYSCOPE_API_KEY", CANARY_API_KEY)
    monkeypatch.setenv("KEYSCOPE_PLATFORM_URL", running.base_url)
    write_config(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def pristine_snapshot(
    server: RunningSandbox, sample_data: SandboxData, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A snapshot of the untouched sample, fetched once through the real client."""
    from datetime import UTC, datetime

    from keyscope.sources.live import ApiKeyCredential, PlatformClient, parse_platform_settings
    from keyscope.sources.snapshot import fetch_snapshot

    state = new_sandbox(sample_data)
    server.server.sandbox = state
    server.sandbox = state
    folder = tmp_path_factory.mktemp("pristine") / "snap"
    settings = parse_platform_settings({"base_url": server.base_url})
    with PlatformClient(settings, ApiKeyCredential(CANARY_API_KEY, "test")) as client:
        fetch_snapshot(client, folder, as_of=datetime(2026, 11, 1, tzinfo=UTC), window_days=90)
    return folder


@pytest.fixture
def snapshot_copy(workdir: Path, pristine_snapshot: Path) -> Path:
    """``./snap`` in the test's folder: a copy of the pristine snapshot."""
    target = workdir / "snap"
    shutil.copytree(pristine_snapshot, target)
    return target


def write_config(folder: Path, **platform: float | int | str) -> Path:
    """``keyscope.toml`` with a ``[platform]`` table tuned for tests."""
    values = {
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "request_deadline": 10.0,
        "read_timeout": 5.0,
        "max_retries": 3,
        **platform,
    }
    lines = ["[platform]"]
    for name, value in values.items():
        lines.append(f"{name} = {value!r}" if not isinstance(value, str) else f'{name} = "{value}"')
    path = folder / "keyscope.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
