"""P5/P12 (BAD-INPUTS #30, #33-#35) and P4: partial data never looks clean; exit codes.

Incomplete runs (truncated logs, unreadable lines over the threshold, logs covering 5%
of the window) must say so in every format: JSON ``complete: false`` with reasons, the
HTML banner, SARIF ``executionSuccessful: false`` with error notifications, Markdown and
text, and insufficient-data rows in the CSV.  No removal advice is made on missing data,
young keys are "too new to judge", 403s never add a scope, and ``--fail-on-incomplete``
exits 4 only after every report is written.  The exit-code table (P4) runs end to end:
an internal exception never exits 0.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    AS_OF,
    World,
    daily_lines,
    default_keys,
    default_usage,
    key_record,
)

REMOVAL_RULES = {"unused-scope", "dormant-key"}


@dataclass(frozen=True)
class Reports:
    code: int
    text: str
    err: str
    json: dict[str, Any]
    html: str
    md: str
    csv: list[dict[str, str]]
    sarif: dict[str, Any]


def audit_all(cli: Callable[..., Any], world: World, out: Path, *extra: str) -> Reports:
    """``keyscope audit`` with text on stdout and every other format in a file."""
    out.mkdir(exist_ok=True)
    files = {fmt: out / f"report.{fmt}" for fmt in ("json", "html", "md", "csv", "sarif")}
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]
    outcome = cli("audit", *world.flags(), *flags, *extra)
    read = {fmt: path.read_text(encoding="utf-8") for fmt, path in files.items()}
    return Reports(
        outcome.code,
        outcome.out,
        outcome.err,
        json.loads(read["json"]),
        read["html"],
        read["md"],
        list(csv.DictReader(io.StringIO(read["csv"], newline=""))),
        json.loads(read["sarif"]),
    )


def truncated_logs(world: World) -> None:
    """A log still being written (truncated last line), invalid UTF-8, CRLF, junk."""
    lines = [line.encode() for line in default_usage()]
    lines += [b"\xff\xfe not utf-8", b"{not json", b"[1, 2]"]
    body = b"\r\n".join(lines) + b'\r\n{"timestamp": "2026-10-31T10:00:00Z", "key_id": "key_acc'
    world.usage_path.write_bytes(b"\xef\xbb\xbf" + body)


def low_coverage(world: World) -> None:
    """Logs on 1 day of a 20-day window: 5% coverage."""
    world.window_days = 20
    lines = daily_lines("key_accountant01", [("GET", "/v1/customers")], days=1)
    lines += daily_lines("key_overpriv002", [("GET", "/v1/invoices")] * 50, days=1)
    world.usage_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


INCOMPLETE = {"truncated": truncated_logs, "coverage-5pct": low_coverage}


def assert_says_incomplete(reports: Reports, *, reason: str) -> None:
    data = reports.json
    assert data["complete"] is False
    assert data["incomplete_reasons"] and any(reason in text for text in data["incomplete_reasons"])
    # HTML: the banner, with the reason.
    banner = reports.html[reports.html.index('id="incomplete"') :]
    assert reason in banner[: banner.index("</div>")].replace("&#39;", "'")
    # SARIF: not a successful execution, with error notifications.
    invocation = reports.sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert any(n["level"] == "error" and reason in n["message"]["text"] for n in notes)
    assert reports.sarif["runs"][0]["properties"]["complete"] is False
    # Markdown and text.
    assert "Incomplete data" in reports.md and "Do not remove scopes" in reports.md
    assert "data: INCOMPLETE - no removal advice" in reports.text
    assert "data incomplete" in reports.err
    # CSV: every active key's row says why it cannot be judged.
    insufficient = [row for row in reports.csv if row["rule"] == "insufficient-data"]
    assert insufficient and all("incomplete" in row["message"] for row in insufficient)


def assert_no_removal_advice(data: dict[str, Any]) -> None:
    for key in data["keys"]:
        assert key["excess_scopes"] == [], key["id"]
        assert not REMOVAL_RULES & {finding["rule"] for finding in key["findings"]}, key["id"]
        if key["status"] == "active":
            assert key["confidence"] == "insufficient", key["id"]
            assert any("incomplete" in reason for reason in key["confidence_reasons"])
    assert not REMOVAL_RULES & {finding["rule"] for finding in data["findings"]}


@pytest.mark.parametrize("scenario", sorted(INCOMPLETE))
def test_incomplete_runs_say_so_in_every_format(
    world: World, cli: Callable[..., Any], tmp_path: Path, scenario: str
) -> None:
    world.write()
    INCOMPLETE[scenario](world)
    reports = audit_all(cli, world, tmp_path / "out")
    assert reports.code == 0, reports.err
    reason = "could not be read" if scenario == "truncated" else "window days"
    assert_says_incomplete(reports, reason=reason)
    assert_no_removal_advice(reports.json)


def test_the_complete_world_is_complete_and_advises_removal(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The control: the same audit with full coverage is complete and does advise."""
    world.write()
    reports = audit_all(cli, world, tmp_path / "out")
    assert reports.code == 0
    assert reports.json["complete"] is True and reports.json["incomplete_reasons"] == []
    assert reports.sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert 'id="incomplete"' not in reports.html
    assert "Incomplete data" not in reports.md
    rules = {finding["rule"] for finding in reports.json["findings"]}
    assert rules >= REMOVAL_RULES


@pytest.mark.parametrize(("days", "advised"), [(14, True), (12, True), (7, False), (1, False)])
def test_recommendations_only_above_the_coverage_threshold(
    world: World, cli: Callable[..., Any], days: int, advised: bool
) -> None:
    """P12: 100% and 86% coverage advise removals; 50% and 7% label INSUFFICIENT_DATA."""
    world.usage = daily_lines("key_overpriv002", [("GET", "/v1/invoices")] * 10, days=days)
    world.write()
    outcome = cli("audit", *world.flags(), "--format", "json")
    data = json.loads(outcome.out)
    [key] = [key for key in data["keys"] if key["id"] == "key_overpriv002"]
    if advised:
        assert data["complete"] is True
        assert key["excess_scopes"] == ["invoices:write", "payments:write", "refunds:write"]
        assert key["confidence"] in ("high", "medium")
    else:
        assert data["complete"] is False
        assert key["excess_scopes"] == [] and key["confidence"] == "insufficient"
        assert "insufficient-data" in {finding["rule"] for finding in key["findings"]}


def test_young_keys_are_too_new_to_judge(world: World, cli: Callable[..., Any]) -> None:
    """BAD-INPUTS #34: a key created 2 days ago gets no unused/dormant finding."""
    world.keys = [
        *default_keys(),
        key_record("key_young000005", ["payments:write", "invoices:read"],
                   created=AS_OF - timedelta(days=2)),
        key_record("key_youngidle06", ["refunds:write"], created=AS_OF - timedelta(days=2)),
    ]  # fmt: skip
    world.usage = [
        *default_usage(),
        *daily_lines("key_young000005", [("GET", "/v1/invoices")], days=2),
    ]
    world.write()
    data = json.loads(cli("audit", *world.flags(), "--format", "json").out)
    assert data["complete"] is True
    for key_id in ("key_young000005", "key_youngidle06"):
        [key] = [key for key in data["keys"] if key["id"] == key_id]
        assert key["confidence"] == "insufficient"
        assert any("too new to judge" in reason for reason in key["confidence_reasons"])
        assert key["excess_scopes"] == []
        assert {f["rule"] for f in key["findings"]} == {"insufficient-data"}
    # The old keys in the same run are still judged.
    assert "unused-scope" in {finding["rule"] for finding in data["findings"]}


def test_only_403s_never_add_a_scope(world: World, cli: Callable[..., Any]) -> None:
    """BAD-INPUTS #35: denied requests are attempts, never usage; no scope is added for them."""
    world.keys = [*default_keys(), key_record("key_denied00006", ["invoices:read"])]
    world.usage = [
        *default_usage(),
        *daily_lines("key_denied00006", [("POST", "/v1/refunds"), ("GET", "/v1/payments")],
                     status=403),
    ]  # fmt: skip
    world.write()
    data = json.loads(cli("audit", *world.flags(), "--format", "json").out)
    [key] = [key for key in data["keys"] if key["id"] == "key_denied00006"]
    assert key["used_scopes"] == []
    assert "refunds:write" not in key["suggested_scopes"]
    assert "payments:read" not in key["suggested_scopes"]
    assert set(key["missing_scopes"]) == {"refunds:write", "payments:read"}
    assert key["requests"] == 0
    denied = {(row["method"], row["path"]): row["count"] for row in key["denied"]}
    assert denied == {("POST", "/refunds"): 14, ("GET", "/payments"): 14}
    assert "denied-requests" in {finding["rule"] for finding in key["findings"]}


# --------------------------------------------------------------------------- --fail-on-incomplete


@pytest.mark.parametrize("fail_on", [None, "info"])
def test_fail_on_incomplete_exits_4_after_writing_every_report(
    world: World, cli: Callable[..., Any], tmp_path: Path, fail_on: str | None
) -> None:
    world.write()
    truncated_logs(world)
    gate = ["--fail-on-incomplete", *(["--fail-on", fail_on] if fail_on else [])]
    reports = audit_all(cli, world, tmp_path / "out", *gate)
    assert reports.code == 4  # before 1: incomplete wins over findings
    assert_says_incomplete(reports, reason="could not be read")
    assert reports.text.endswith("\n") and "Data quality" in reports.text


def test_fail_on_incomplete_is_0_on_complete_data(world: World, cli: Callable[..., Any]) -> None:
    world.write()
    assert cli("audit", *world.flags(), "--fail-on-incomplete").code == 0


# --------------------------------------------------------------------------- P4 exit codes


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [(None, 0), ("critical", 0), ("high", 1), ("medium", 1), ("low", 1), ("info", 1)],
)
def test_exit_code_by_threshold_end_to_end(
    world: World, cli: Callable[..., Any], fail_on: str | None, expected: int
) -> None:
    """The world has high and medium findings and nothing critical."""
    world.write()
    outcome = cli("audit", *world.flags(), *(["--fail-on", fail_on] if fail_on else []))
    assert outcome.code == expected, outcome.err


def test_usage_errors_exit_2(world: World, cli: Callable[..., Any]) -> None:
    world.write()
    assert cli("audit", *world.flags(), "--no-such-flag").code == 2
    assert cli("audit", *world.flags(), "--format", "pdf").code == 2
    assert cli("audit", *world.flags(), "--fail-on", "severe").code == 2
    assert cli("audit", *world.flags(), "--fail-on-new").code == 2
    assert cli("no-such-command").code == 2


def test_input_errors_exit_3_with_one_line(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    world.write()
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("openapi: 3.0.0\npaths:\n  /a: {}\n  /a: {}\n", encoding="utf-8")
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("spec = [not toml\n", encoding="utf-8")
    variants = {
        "spec": ("--spec", str(bad_spec)),
        "missing keys": ("--keys", str(tmp_path / "nope.yaml")),
        "usage glob": ("--usage", str(tmp_path / "none-*.jsonl")),
        "config": ("--config", str(bad_config)),
    }
    for label, (flag, value) in variants.items():
        flags = world.flags()
        if flag in flags:
            flags[flags.index(flag) + 1] = value
        else:
            flags += [flag, value]
        outcome = cli("audit", *flags)
        assert outcome.code == 3, (label, outcome.err)
        assert outcome.err.startswith("keyscope: error: ") and outcome.err.count("\n") == 1, label
        assert "Traceback" not in outcome.err


def test_network_failure_exits_5(
    world: World, cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYSCOPE_API_KEY", "ks_live_exitcode5abcdefgh")
    world.write()
    config = tmp_path / "platform.toml"
    config.write_text(
        '[platform]\nbase_url = "http://127.0.0.1:9"\nmax_retries = 0\n', encoding="utf-8"
    )
    flags = world.flags()
    flags[flags.index("--config") + 1] = str(config)
    outcome = cli("audit", *flags, "--live")
    assert outcome.code == 5, outcome.err
    assert outcome.err.strip().splitlines()[-1].startswith("keyscope: error: ")


def test_locked_output_exits_6(world: World, cli: Callable[..., Any], tmp_path: Path) -> None:
    from keyscope.output import output_lock

    world.write()
    target = tmp_path / "report.json"
    # keyscope audit holds one lock per output folder (``.keyscope.lock``).
    with output_lock(tmp_path / "keyscope"):
        outcome = cli("audit", *world.flags(), "--json", str(target))
    assert outcome.code == 6
    assert "locked" in outcome.err
    assert not target.exists()


@pytest.mark.parametrize(
    ("module", "attribute"),
    [
        ("keyscope.sources.openapi", "load_spec"),
        ("keyscope.sources.keys", "load_keys"),
        ("keyscope.sources.usage", "load_usage"),
        ("keyscope.analysis.audit", "audit_keys"),
        ("keyscope.report.sarif", "render_sarif"),
        ("keyscope.report.html", "render_html"),
        ("keyscope.output", "write_atomic"),
    ],
)
def test_an_internal_exception_never_exits_0(
    world: World,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    module: str,
    attribute: str,
) -> None:
    import importlib

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(importlib.import_module(module), attribute, broken)
    world.write()
    outcome = cli(
        "audit",
        *world.flags(),
        "--sarif",
        str(tmp_path / "r.sarif"),
        "--html",
        str(tmp_path / "r.html"),
    )
    assert outcome.code == 70, outcome.err
    assert outcome.err.strip().endswith("(run with --debug for details)")
    assert "Traceback" not in outcome.err


def test_an_internal_exception_in_spec_never_exits_0(
    world: World, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyscope.sources.openapi

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(keyscope.sources.openapi, "load_spec", broken)
    world.write()
    outcome = cli("spec", str(world.spec_path), "--config", str(world.config_path))
    assert outcome.code == 70
