"""Output and operations rows of BAD-INPUTS (#47-#50) and P9, through ``keyscope audit``.

Kill-and-overlap cases (#47 SIGKILL, #48) are in ``test_scheduled_runs.py``.  Here: a
full disk or a failing rename mid-write keeps the previous report and leaves no
temporary file (#47), symlinks and folders as outputs (#47), suppressions that expired,
match nothing or carry an impossible date (#49, P9), fingerprints that survive renames
and reordering (P9), and more findings than SARIF consumers accept (#50: aggregated).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import World, daily_lines, key_record


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name != ".keyscope.lock")


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_47_a_full_disk_keeps_the_previous_report(
    world: World,
    cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    world.write()
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.json"
    report.write_text("previous\n", encoding="utf-8")

    def no_space(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    if failing == "write":
        original = os.fdopen

        class FullDisk:
            """A file whose writes fail the way a full disk makes them fail."""

            def __init__(self, stream: Any) -> None:
                self.stream = stream

            def __enter__(self) -> FullDisk:
                return self

            def __exit__(self, *exc: object) -> None:
                self.stream.close()

            def write(self, data: bytes) -> int:
                raise OSError(28, "No space left on device")

            def __getattr__(self, name: str) -> Any:
                return getattr(self.stream, name)

        monkeypatch.setattr(os, "fdopen", lambda *a, **k: FullDisk(original(*a, **k)))
    else:
        monkeypatch.setattr(os, failing, no_space)
    outcome = cli("audit", *world.flags(), "--json", str(report))
    monkeypatch.undo()
    assert outcome.code == 3, outcome.err
    assert outcome.err.strip().splitlines()[-1].startswith(f"keyscope: error: {report}")
    assert "No space left on device" in outcome.err and "Traceback" not in outcome.err
    assert report.read_text() == "previous\n"
    assert names_in(out) == ["report.json"]


def test_47_symlinks_and_folders_are_refused_as_outputs(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    world.write()
    target = tmp_path / "elsewhere.txt"
    target.write_text("do not touch\n", encoding="utf-8")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    outcome = cli("audit", *world.flags(), "--json", str(link))
    assert outcome.code == 3 and "symbolic link" in outcome.err and "--force" in outcome.err
    assert target.read_text() == "do not touch\n" and link.is_symlink()
    outcome = cli("audit", *world.flags(), "--json", str(link), "--force")
    assert outcome.code == 0
    assert not link.is_symlink() and json.loads(link.read_text())["schema_version"] == 1
    assert target.read_text() == "do not touch\n"  # the link was replaced, not followed
    folder = tmp_path / "a-folder"
    folder.mkdir()
    outcome = cli("audit", *world.flags(), "--json", str(folder))
    assert outcome.code == 3 and "is a folder" in outcome.err
    outcome = cli("audit", *world.flags(), "--json", str(tmp_path / "missing" / "r.json"))
    assert outcome.code == 3 and outcome.err.count("\n") == 1
    assert f"{tmp_path / 'missing'}" in outcome.err


SUPPRESSIONS = """\
suppressions:
  - rule: unused-scope
    key: key_overpriv002
    scope: refunds:write
    reason: accepted until the migration
    owner: payments@example.com
    expires: {expires}
  - rule: dormant-key
    key: key_gone0000000
    reason: the key was deleted long ago
    owner: ops@example.com
    expires: 2027-06-30
"""


def audit_with(cli: Callable[..., Any], world: World, suppressions: Path, *extra: str) -> Any:
    return cli("audit", *world.flags(), "--suppressions", str(suppressions), *extra)


def test_49_expired_suppressions_bring_the_finding_back_with_a_warning(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    world.write()
    path = tmp_path / "suppressions.yaml"
    path.write_text(SUPPRESSIONS.format(expires="2026-12-31"), encoding="utf-8")
    live = json.loads(audit_with(cli, world, path, "--format", "json").out)
    [refunds] = [f for f in live["findings"] if f["subject"] == "refunds:write"]
    assert refunds["suppressed"] is True
    assert any("stale" in warning for warning in live["suppression_warnings"])
    # The same file after the expiry date (as judged on --as-of): the finding is back.
    path.write_text(SUPPRESSIONS.format(expires="2026-10-31"), encoding="utf-8")
    outcome = audit_with(cli, world, path, "--format", "json", "--fail-on", "high")
    expired = json.loads(outcome.out)
    [refunds] = [f for f in expired["findings"] if f["subject"] == "refunds:write"]
    assert refunds["suppressed"] is False
    assert any("expired on 2026-10-31" in warning for warning in expired["suppression_warnings"])
    assert outcome.code == 1  # the returning high finding fails the gate again


@pytest.mark.parametrize(
    ("expires", "expected"),
    [("2024-13-01", "is not a real date"), ("next week", "expected a date"), ("", "expected")],
)
def test_49_a_malformed_expiry_is_a_config_error_naming_the_entry(
    world: World, cli: Callable[..., Any], tmp_path: Path, expires: str, expected: str
) -> None:
    world.write()
    path = tmp_path / "suppressions.yaml"
    path.write_text(SUPPRESSIONS.format(expires=f'"{expires}"'), encoding="utf-8")
    outcome = audit_with(cli, world, path)
    assert outcome.code == 3
    assert outcome.err.startswith(f"keyscope: error: {path}:entry 1:")
    assert expected in outcome.err and outcome.err.count("\n") == 1


def test_p9_fingerprints_survive_renames_and_reordering(
    world: World, cli: Callable[..., Any]
) -> None:
    world.write()
    first = json.loads(cli("audit", *world.flags(), "--format", "sarif").out)
    world.keys = [dict(key, name=f"renamed {index}") for index, key in enumerate(world.keys)]
    world.keys.reverse()
    world.usage.reverse()
    world.write()
    second = json.loads(cli("audit", *world.flags(), "--format", "sarif").out)

    def prints(document: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted(
            (result["ruleId"], result["partialFingerprints"]["keyscopeFingerprint/v1"])
            for result in document["runs"][0]["results"]
        )

    assert prints(first) == prints(second)
    assert len(prints(first)) >= 4


@pytest.mark.timeout(300)
def test_50_more_findings_than_sarif_allows_are_aggregated_with_a_notification(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """27,000 findings: one SARIF result per finding would break GitHub's limits (25,000
    results, 10 MB), so they become one result per rule and key, each saying how many
    findings it stands for, and the run says so; the JSON report keeps every finding."""
    count = 9000
    world.keys = [
        key_record(f"key_{index:06d}",
                   ["invoices:read", "payments:write", "refunds:write", "customers:write"])
        for index in range(count)
    ]  # fmt: skip
    world.usage = [
        line
        for index in range(count)
        for line in daily_lines(f"key_{index:06d}", [("GET", "/v1/invoices")])
    ]
    world.write()
    sarif, report = tmp_path / "r.sarif", tmp_path / "r.json"
    outcome = cli("audit", *world.flags(), "--sarif", str(sarif), "--json", str(report))
    assert outcome.code == 0, outcome.err
    findings = json.loads(report.read_text())["findings"]
    assert len(findings) == 3 * count
    assert sarif.stat().st_size <= 10_000_000
    run = json.loads(sarif.read_text())["runs"][0]
    assert 0 < len(run["results"]) <= 25_000
    # Nothing is lost: each result stands for a counted number of findings.
    assert sum(result["properties"]["findings"] for result in run["results"]) == 3 * count
    per_key = {(r["ruleId"], r["properties"]["keyId"]) for r in run["results"]}
    assert per_key == {(f["rule"], f["key_id"]) for f in findings}
    assert all(r["properties"]["aggregated"] == "key" for r in run["results"])
    sample = run["results"][0]
    assert sample["properties"]["findings"] == 3 and len(sample["properties"]["subjects"]) == 3
    assert sample["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    notes = run["invocations"][0]["toolExecutionNotifications"]
    [aggregated] = [n for n in notes if n["descriptor"]["id"] == "results-aggregated"]
    assert aggregated["properties"]["findings"] == 3 * count
    assert aggregated["properties"]["results"] == len(run["results"]) == count
    assert f"{3 * count:,} findings of" in aggregated["message"]["text"]
    assert not [n for n in notes if n["descriptor"]["id"] == "results-truncated"]
    levels = [result["level"] for result in run["results"]]
    assert levels == sorted(levels, key=["error", "warning", "note"].index)
