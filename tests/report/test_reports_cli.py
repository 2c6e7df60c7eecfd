"""``keyscope audit`` end to end on the sample data: every format, triage, history, safe writes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from keyscope.cli import main
from keyscope.output import output_lock

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "sample_specs" / "partner-api.yaml"
KEYS = REPO / "sample_specs" / "keys.yaml"
USAGE = REPO / "sample_specs" / "usage" / "requests.jsonl.gz"
SCHEMA = REPO / ".." / "shared" / "schemas" / "sarif-schema-2.1.0.json"


# Every test runs in an empty working folder with no KEYSCOPE_* variable.
pytestmark = pytest.mark.usefixtures("isolated")


def audit(*flags: str | Path, keys: Path = KEYS, as_of: str = "2026-11-01") -> int:
    argv = [
        "audit",
        "--spec",
        str(SPEC),
        "--keys",
        str(keys),
        "--usage",
        str(USAGE),
        "--as-of",
        as_of,
        "--semantics",
        "all",
        *map(str, flags),
    ]
    return main(argv)


def outputs(folder: Path, stem: str = "r") -> list[str]:
    return [f"--{fmt}={folder / f'{stem}.{fmt}'}" for fmt in ("json", "html", "md", "csv", "sarif")]


def test_every_format_in_one_run(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit("--format", "text", *outputs(isolated)) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("keyscope audit:")
    for fmt in ("json", "html", "md", "csv", "sarif"):
        assert f"(r.{fmt})" not in captured.err and f"r.{fmt} ({fmt})" in captured.err
    document = json.loads((isolated / "r.json").read_text())
    html = (isolated / "r.html").read_text()
    for key in document["keys"]:
        assert f">{key['id']}</button>" in html
    sarif = json.loads((isolated / "r.sarif").read_text())
    assert len(sarif["runs"][0]["results"]) == len(document["findings"])
    if SCHEMA.exists():
        import jsonschema

        jsonschema.validate(sarif, json.loads(SCHEMA.read_text()))
    csv_lines = (isolated / "r.csv").read_bytes().decode("utf-8").split("\r\n")
    assert len([line for line in csv_lines if line]) == len(document["findings"]) + 1
    assert (isolated / "r.md").read_text().startswith("## API key audit:")
    leftovers = [path.name for path in isolated.iterdir() if path.name.endswith(".tmp")]
    assert leftovers == [], "no temporary files are left behind"


@pytest.mark.parametrize("fmt", ["html", "md", "csv", "sarif"])
def test_format_flag_to_stdout_and_output_file(
    fmt: str, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit("--format", fmt) == 0
    stdout = capsys.readouterr().out
    assert audit("--format", fmt, "--output", isolated / f"out.{fmt}") == 0
    assert capsys.readouterr().out == ""
    assert (isolated / f"out.{fmt}").read_bytes().decode("utf-8") == stdout


def test_same_inputs_same_bytes(isolated: Path) -> None:
    first, second = isolated / "one", isolated / "two"
    first.mkdir()
    second.mkdir()
    assert audit(*outputs(first)) == 0
    assert audit(*outputs(second)) == 0
    for fmt in ("json", "html", "md", "csv", "sarif"):
        assert (first / f"r.{fmt}").read_bytes() == (second / f"r.{fmt}").read_bytes(), fmt


def findings_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["findings"]


def test_suppressions_expire_report_stale_and_show_in_every_format(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit("--json", isolated / "base.json") == 0
    target = next(f for f in findings_of(isolated / "base.json") if f["rule"] == "unused-scope")
    other = next(
        f for f in findings_of(isolated / "base.json") if f["rule"] == "legacy-full-access"
    )
    suppressions = isolated / "keyscope-suppressions.yaml"
    suppressions.write_text(
        "suppressions:\n"
        f"  - rule: {target['rule']}\n    key: {target['key_id']}\n    scope: {target['subject']}\n"
        "    reason: Needed by the quarter-end correction job\n    owner: payments@example.test\n"
        "    expires: 2026-11-01\n"
        f"  - rule: {other['rule']}\n    key: {other['key_id']}\n"
        "    reason: Migration booked for Q1\n    owner: web@example.test\n"
        "    expires: 2026-10-31\n"
        "  - rule: unused-scope\n    key: key_that_does_not_exist\n"
        "    reason: Left over\n    owner: nobody@example.test\n    expires: 2027-01-01\n",
        encoding="utf-8",
    )  # picked up from the working folder by default
    capsys.readouterr()
    assert audit(*outputs(isolated)) == 0
    # A job that keeps only stderr sees them too (the reports went to files).
    stderr = capsys.readouterr().err
    warned = [line for line in stderr.splitlines() if line.startswith("keyscope: warning: ")]
    assert len(warned) == 2
    assert "#2: expired on 2026-10-31" in warned[0]
    assert "#3: matches no finding" in warned[1]
    document = json.loads((isolated / "r.json").read_text())
    suppressed = [f for f in document["findings"] if f["suppressed"]]
    assert [(f["rule"], f["key_id"], f["subject"]) for f in suppressed] == [
        (target["rule"], target["key_id"], target["subject"])
    ]
    warnings = document["suppression_warnings"]
    assert len(warnings) == 2
    assert "#2: expired on 2026-10-31" in warnings[0] and "reported again" in warnings[0]
    assert "#3: matches no finding" in warnings[1]
    html = (isolated / "r.html").read_text()
    register = html.split('<section id="suppressions">')[1].split("</section>")[0]
    assert "Needed by the quarter-end correction job" in register
    assert [m for m in re.findall(r'<span class="tag[^"]*">(\w+)</span>', register)] == [
        "applied",
        "expired",
        "stale",
    ]
    sarif = json.loads((isolated / "r.sarif").read_text())
    [with_suppression] = [r for r in sarif["runs"][0]["results"] if "suppressions" in r]
    assert (
        with_suppression["suppressions"][0]["justification"]
        == "Needed by the quarter-end correction job"
    )
    # One day later the first entry has expired too: the finding is back, the run says so.
    assert audit("--json", isolated / "later.json", as_of="2026-11-02") == 0
    assert not any(f["suppressed"] for f in findings_of(isolated / "later.json"))


def test_malformed_suppressions_are_exit_3_naming_file_and_entry(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = isolated / "s.yaml"
    path.write_text(
        "suppressions:\n  - rule: unused-scope\n    key: k\n    reason: r\n    owner: o\n"
        "    expires: 2024-13-01\n",
        encoding="utf-8",
    )
    assert audit("--suppressions", path, "--html", isolated / "r.html") == 3
    err = capsys.readouterr().err.strip()
    assert err == f"keyscope: error: {path}:entry 1: expires: '2024-13-01' is not a real date"
    assert not (isolated / "r.html").exists()


def renamed_inventory(folder: Path, *, add_key: bool) -> Path:
    text = KEYS.read_text(encoding="utf-8").replace(
        "name: Reconciliation tool", "name: Recon (renamed)"
    )
    if add_key:
        text += (
            "\n  - id: key_newcomer000001\n    name: New integration\n"
            '    scopes: ["payouts:write", "invoices:read"]\n'
            '    created_at: "2025-01-01T00:00:00Z"\n'
            "    status: active\n"
        )
    path = folder / "keys.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_renaming_a_key_keeps_fingerprints(isolated: Path) -> None:
    assert audit("--json", isolated / "a.json") == 0
    renamed = renamed_inventory(isolated, add_key=False)
    assert audit("--json", isolated / "b.json", keys=renamed) == 0
    assert [f["fingerprint"] for f in findings_of(isolated / "a.json")] == [
        f["fingerprint"] for f in findings_of(isolated / "b.json")
    ]


def test_baseline_and_fail_on_new(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit("--json", isolated / "baseline.json") == 0
    # Nothing new: findings exist, but --fail-on-new only counts new ones.
    assert audit("--baseline", isolated / "baseline.json", "--fail-on", "low", "--fail-on-new") == 0
    assert audit("--fail-on", "low") == 1
    grown = renamed_inventory(isolated, add_key=True)
    code = audit(
        "--baseline",
        isolated / "baseline.json",
        "--fail-on",
        "medium",
        "--fail-on-new",
        *outputs(isolated),
        keys=grown,
    )
    assert code == 1
    document = json.loads((isolated / "r.json").read_text())
    new = [f for f in document["findings"] if f["baseline_state"] == "new"]
    assert new and {f["key_id"] for f in new} == {"key_newcomer000001"}
    assert all(f["baseline_state"] == "unchanged" for f in document["findings"] if f not in new)
    assert document["baseline_source"].startswith(str(isolated / "baseline.json"))
    html = (isolated / "r.html").read_text()
    assert (
        '<section id="baseline">' in html
        and "key_newcomer000001" in html.split('<section id="baseline">')[1]
    )
    assert {f["severity"] for f in new} == {"medium"}  # the unused new key is dormant
    # Older findings are high and critical, but only new ones count: --fail-on high passes.
    assert (
        audit(
            "--baseline",
            isolated / "baseline.json",
            "--fail-on",
            "high",
            "--fail-on-new",
            keys=grown,
        )
        == 0
    )
    assert audit("--fail-on", "high", keys=grown) == 1


def test_history_folder_feeds_the_trend(isolated: Path) -> None:
    history = isolated / "history"
    for day in ("2026-10-18", "2026-10-25", "2026-11-01"):
        assert audit("--history", history, "--html", isolated / f"{day}.html", as_of=day) == 0
    assert sorted(path.name for path in history.iterdir()) == [
        "2026-10-18T000000Z.json",
        "2026-10-25T000000Z.json",
        "2026-11-01T000000Z.json",
    ]
    html = (isolated / "2026-11-01.html").read_text()
    trend = html.split('<section id="trend">')[1].split("</section>")[0]
    assert trend.count("<tr><td>2026-") == 3 and trend.count("<polyline") == 4
    assert (
        '<section id="trend">' in (isolated / "2026-10-18.html").read_text()
    )  # one point still draws
    # Re-running a day replaces its file instead of adding a point.
    assert audit("--history", history, as_of="2026-11-01") == 0
    assert len(list(history.iterdir())) == 3


def test_interrupted_write_leaves_the_previous_report_intact(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = isolated / "report.html"
    report.write_text("previous report", encoding="utf-8")

    def refuse(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    assert audit("--html", report) == 3
    assert "No space left on device" in capsys.readouterr().err
    assert report.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in isolated.iterdir() if not p.name.endswith(".lock")] == ["report.html"]


def test_output_through_a_symlink_is_refused(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = isolated / "elsewhere.html"
    target.write_text("do not touch", encoding="utf-8")
    link = isolated / "report.html"
    link.symlink_to(target)
    assert audit("--html", link) == 3
    assert "symbolic link" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "do not touch"


def test_a_second_run_on_the_same_output_is_locked_out(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = isolated / "report.html"
    with output_lock(isolated / "keyscope"):  # what a run holds: one lock per output folder
        assert audit("--html", report) == 6
    assert "locked by another keyscope run" in capsys.readouterr().err
    assert not report.exists()
    assert audit("--html", report) == 0  # the lock died with its holder
