"""Fixtures for the hardening tests: a small, fully controlled audit world.

Every test here builds its own inputs in ``tmp_path``: a compact OpenAPI spec (seven
scopes, a public route, a template route), a key inventory and JSON-lines request
logs covering every day of a short window, so the audit is *complete* unless a test
breaks it on purpose.  Free-text fields (spec title and descriptions, key names,
owners, log paths) can be filled with hostile payloads or canary secrets.

Nothing here reads the user's ``keyscope.toml`` or ``KEYSCOPE_*`` variables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_DAYS = 14

SCOPES = (
    "customers:read", "customers:write", "invoices:read", "invoices:write",
    "payments:read", "payments:write", "refunds:write",
)  # fmt: skip

# (method, path, scope or None for public)
OPERATIONS = (
    ("GET", "/health", None),
    ("GET", "/invoices", "invoices:read"),
    ("POST", "/invoices", "invoices:write"),
    ("GET", "/invoices/{invoice_id}", "invoices:read"),
    ("GET", "/payments", "payments:read"),
    ("POST", "/payments", "payments:write"),
    ("GET", "/customers", "customers:read"),
    ("POST", "/customers", "customers:write"),
    ("POST", "/refunds", "refunds:write"),
)


def spec_document(
    *,
    title: str = "Hardening API",
    description: str = "A small partner API.",
    scope_description: str = "",
    summary: str = "",
    version: str = "1.0",
) -> dict[str, Any]:
    """A compact OpenAPI 3.0 document; every free-text field can carry a payload."""
    scopes = {name: (scope_description or f"{name} access") for name in SCOPES}
    paths: dict[str, Any] = {}
    for method, path, scope in OPERATIONS:
        operation: dict[str, Any] = {
            "operationId": method.lower() + re.sub(r"[^A-Za-z]", "_", path),
            "summary": summary or f"{method} {path}",
            "description": description,
            "responses": {"200": {"description": "ok"}},
            "security": [] if scope is None else [{"oauth": [scope]}],
        }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "https://api.example.test/v1"}],
        "components": {
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "description": description,
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "https://api.example.test/v1/auth/token",
                            "scopes": scopes,
                        }
                    },
                }
            }
        },
        "paths": paths,
    }


def key_record(
    key_id: str,
    scopes: Sequence[str] | None = ("invoices:read",),
    *,
    name: str = "",
    created: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One inventory record (``scopes=None`` is a legacy full-access key)."""
    record: dict[str, Any] = {
        "id": key_id,
        "name": name or f"key {key_id}",
        "scopes": None if scopes is None else list(scopes),
        "created_at": (created or AS_OF - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": "active",
    }
    record.update(extra)
    return record


def log_line(
    key_id: str,
    method: str,
    path: str,
    status: int = 200,
    when: datetime | None = None,
    **extra: Any,
) -> str:
    """One JSON-lines request record."""
    moment = when or AS_OF - timedelta(hours=12)
    record = {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_id": key_id,
        "method": method,
        "path": path,
        "status": status,
        **extra,
    }
    return json.dumps(record, sort_keys=True)


def daily_lines(
    key_id: str,
    calls: Sequence[tuple[str, str]],
    *,
    days: int = WINDOW_DAYS,
    status: int = 200,
) -> list[str]:
    """``calls`` made once a day on each of the last ``days`` days of the window."""
    lines = []
    for day in range(days):
        when = AS_OF - timedelta(days=day + 1) + timedelta(hours=10)
        for index, (method, path) in enumerate(calls):
            lines.append(log_line(key_id, method, path, status, when + timedelta(minutes=index)))
    return lines


def default_keys() -> list[dict[str, Any]]:
    """Four keys: right-sized, over-privileged, legacy full access, dormant."""
    return [
        key_record("key_accountant01", ["customers:read", "invoices:read"], name="Accountant"),
        key_record(
            "key_overpriv002",
            ["invoices:write", "payments:write", "refunds:write"],
            name="Over-privileged sync",
        ),
        key_record("key_legacy00003", None, name="Legacy admin script"),
        key_record("key_dormant0004", ["payments:read"], name="Dormant reporter"),
    ]


def default_usage() -> list[str]:
    lines = daily_lines(
        "key_accountant01", [("GET", "/v1/customers"), ("GET", "/v1/invoices/inv_1")]
    )
    lines += daily_lines("key_overpriv002", [("GET", "/v1/invoices?limit=5")])
    lines += daily_lines("key_legacy00003", [("GET", "/v1/payments"), ("POST", "/v1/refunds")])
    return lines


@dataclass
class World:
    """Input files of one audit, and the flags that point ``keyscope audit`` at them."""

    folder: Path
    spec: dict[str, Any] = field(default_factory=spec_document)
    keys: list[dict[str, Any]] = field(default_factory=default_keys)
    usage: list[str] = field(default_factory=default_usage)
    as_of: str = "2026-11-01"
    window_days: int = WINDOW_DAYS
    usage_files: list[Path] = field(default_factory=list)
    """Extra usage files (beyond ``usage`` written as one JSON-lines file)."""

    @property
    def spec_path(self) -> Path:
        return self.folder / "spec.json"

    @property
    def keys_path(self) -> Path:
        return self.folder / "keys.json"

    @property
    def usage_path(self) -> Path:
        return self.folder / "requests.jsonl"

    @property
    def suppressions_path(self) -> Path:
        """Where a test may write a suppressions file (not passed unless asked)."""
        return self.folder / "suppressions.yaml"

    def write(self) -> World:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.spec_path.write_text(json.dumps(self.spec, indent=1), encoding="utf-8")
        self.keys_path.write_text(json.dumps({"keys": self.keys}, indent=1), encoding="utf-8")
        self.usage_path.write_text("".join(line + "\n" for line in self.usage), encoding="utf-8")
        self.config_path.write_text("", encoding="utf-8")
        return self

    @property
    def config_path(self) -> Path:
        """An empty ``keyscope.toml``, so no config file of the machine is read."""
        return self.folder / "empty.toml"

    def flags(self) -> list[str]:
        """Input flags for ``keyscope audit`` (no config file is read: ``--config`` points
        at an empty one)."""
        flags = [
            "--config", str(self.config_path), "--spec", str(self.spec_path),
            "--keys", str(self.keys_path), "--as-of", self.as_of,
            "--window-days", str(self.window_days), "--semantics", "all",
        ]  # fmt: skip
        usage = self.usage_files or ([self.usage_path] if self.usage else [])
        for path in usage:
            flags += ["--usage", str(path)]
        return flags


@pytest.fixture(autouse=True)
def _isolated_everywhere(isolated: Path) -> Path:
    """Every hardening test runs in the shared ``isolated`` working folder."""
    return isolated


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "inputs")


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """Run ``keyscope`` in-process: ``cli("audit", ...) -> Outcome(code, out, err)``."""
    from keyscope.cli import main

    def run(*argv: str) -> Outcome:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as stop:  # argparse errors
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYSCOPE_")}
    env.update(extra)
    return env


def run_keyscope(
    argv: Sequence[str], *, cwd: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m keyscope`` in a subprocess (bytes out, never raises on exit code)."""
    return subprocess.run(
        [PYTHON, "-m", "keyscope", *argv],
        capture_output=True,
        cwd=cwd,
        env=subprocess_env(**env),
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any attempt to open a socket connection; yields the attempts."""
    import socket

    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield attempts
