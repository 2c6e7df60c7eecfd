"""``keyscope audit``: exit codes, outputs, determinism, escaping, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyscope.analysis.audit import finding_fingerprint, make_window
from keyscope.cli import main
from keyscope.commands.audit import decide_exit_code
from keyscope.model import (
    SEVERITIES,
    AuditResult,
    DataQuality,
    Finding,
    SpecSummary,
    severity_rank,
)

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "sample_specs" / "partner-api.yaml"
KEYS = REPO / "sample_specs" / "keys.yaml"


# Every test runs in an empty working folder with no KEYSCOPE_* variable.
pytestmark = pytest.mark.usefixtures("isolated")


def config(folder: Path, **extra: str) -> Path:
    """A keyscope.toml for the sample spec and keys, without usage unless given."""
    lines = [
        f'spec = "{SPEC}"',
        f'keys = "{extra.pop("keys", KEYS)}"',
        'as_of = "2026-11-01"',
        'semantics = "all"',
    ]
    lines += [f"{name} = {value}" for name, value in extra.items()]
    path = folder / "keyscope.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- exit codes


def result_with(*severities: str, complete: bool = True, **finding_changes: object) -> AuditResult:
    findings = tuple(
        Finding(
            rule="unused-scope",
            severity=severity,  # type: ignore[arg-type]
            key_id=f"k{index}",
            subject="payouts:write",
            message="m",
            fingerprint=finding_fingerprint("unused-scope", f"k{index}", "payouts:write"),
            **finding_changes,  # type: ignore[arg-type]
        )
        for index, severity in enumerate(severities)
    )
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    return AuditResult(
        tool_version="t",
        as_of=as_of,
        window=make_window(as_of, 90),
        complete=complete,
        incomplete_reasons=() if complete else ("x",),
        spec=SpecSummary("t", "1", "openapi 3.1.0", "s", "", 0, 0, "all"),
        keys=(),
        findings=findings,
        data_quality=DataQuality(),
    )


@pytest.mark.parametrize("fail_on", [None, *SEVERITIES])
@pytest.mark.parametrize("present", [None, *SEVERITIES])
def test_exit_code_table(present: str | None, fail_on: str | None) -> None:
    result = result_with(*([present] if present else []))
    expected = 1 if present and fail_on and severity_rank(present) <= severity_rank(fail_on) else 0
    assert decide_exit_code(result, fail_on=fail_on) == expected


def test_suppressed_findings_never_fail() -> None:
    result = result_with("critical", suppressed=True)
    assert decide_exit_code(result, fail_on="info") == 0


def test_fail_on_new_counts_only_new_findings() -> None:
    unchanged = result_with("critical", baseline_state="unchanged")
    new = result_with("low", baseline_state="new")
    assert decide_exit_code(unchanged, fail_on="info", fail_on_new=True) == 0
    assert decide_exit_code(new, fail_on="low", fail_on_new=True) == 1
    assert decide_exit_code(new, fail_on="high", fail_on_new=True) == 0
    assert decide_exit_code(new, fail_on=None, fail_on_new=True) == 1


def test_incomplete_is_4_only_when_asked_and_before_findings() -> None:
    result = result_with("critical", complete=False)
    assert decide_exit_code(result, fail_on="high") == 1
    assert decide_exit_code(result, fail_on="high", fail_on_incomplete=True) == 4
    assert decide_exit_code(result_with(), fail_on=None, fail_on_incomplete=True) == 0


# --------------------------------------------------------------------------- the command


def test_sample_without_usage_is_incomplete_and_gated(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(isolated)
    assert main(["audit", "--config", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert "data: INCOMPLETE" in out
    assert "legacy-full-access" in out
    assert "warning: data incomplete" in err
    # Legacy keys are high even without usage; nothing is critical without usage.
    assert main(["audit", "--config", str(cfg), "--fail-on", "high"]) == 1
    assert main(["audit", "--config", str(cfg), "--fail-on", "critical"]) == 0
    report = isolated / "out.json"
    code = main(
        [
            "audit",
            "--config",
            str(cfg),
            "--fail-on-incomplete",
            "--format",
            "json",
            "-o",
            str(report),
        ]
    )
    assert code == 4
    document = json.loads(report.read_text())  # written before the exit code was decided
    assert document["complete"] is False
    assert document["incomplete_reasons"]


def test_json_contract_shape(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--config", str(config(isolated)), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1
    assert document["as_of"] == "2026-11-01T00:00:00Z"
    assert document["window"] == {
        "start": "2026-08-03T00:00:00Z",
        "end": "2026-11-01T00:00:00Z",
        "days": 90,
    }
    ids = [entry["id"] for entry in document["keys"]]
    assert ids == sorted(ids)
    entry = document["keys"][0]
    for member in (
        "id", "name", "status", "full_access", "granted_scopes", "used_scopes",
        "suggested_scopes", "excess_scopes", "risk_score", "confidence", "findings",
        "evidence", "excess", "denied", "blast_radius", "confidence_reasons",
    ):  # fmt: skip
        assert member in entry
    for entry in document["keys"]:
        for member in ("granted_scopes", "suggested_scopes", "excess_scopes"):
            assert entry[member] == sorted(entry[member])
    assert set(document["data_quality"]) >= {"bad_lines", "unmatched_requests", "unknown_keys"}
    finding = document["findings"][0]
    assert set(finding) >= {"rule", "severity", "fingerprint", "subject", "message", "key_id"}


def test_several_outputs_in_one_run(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text_file, json_file = isolated / "summary.txt", isolated / "result.json"
    code = main(
        ["audit", "--config", str(config(isolated)), "-o", str(text_file), "--json", str(json_file)]
    )
    assert code == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert text_file.read_text().startswith("keyscope audit:")
    assert json.loads(json_file.read_text())["schema_version"] == 1
    assert f"wrote {text_file}" in err and f"wrote {json_file}" in err


def test_same_file_twice_is_a_usage_error(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(isolated / "x.json")
    code = main(["audit", "--config", str(config(isolated)), "-o", target, "--json", target])
    assert code == 2
    assert "asked for twice" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["keys", "spec", "usage", "config"])
def test_a_report_never_replaces_an_input_of_the_run(
    isolated: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    keys = isolated / "keys.yaml"
    keys.write_bytes(KEYS.read_bytes())
    spec = isolated / "spec.yaml"
    spec.write_bytes(SPEC.read_bytes())
    logs = isolated / "logs"
    logs.mkdir()
    log = logs / "a.jsonl"
    log.write_text("", encoding="utf-8")
    settings = config(isolated)
    target = {"keys": keys, "spec": spec, "usage": log, "config": settings}[what]
    before = target.read_bytes()
    code = main(
        [
            "audit", "--config", str(settings), "--spec", str(spec), "--keys", str(keys),
            "--usage", str(logs / "*.jsonl"), "--json", str(target),
        ]
    )  # fmt: skip
    assert code == 2
    assert "not writing a report over it" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_the_baseline_may_be_replaced_by_this_runs_json(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The rolling baseline of docs/scheduled-audits.md: --baseline X --json X, every week.
    settings = str(config(isolated))
    latest = isolated / "latest.json"
    assert main(["audit", "--config", settings, "--json", str(latest)]) == 0
    first = latest.read_bytes()
    code = main(
        ["audit", "--config", settings, "--baseline", str(latest), "--fail-on-new",
         "--as-of", "2026-11-02", "--json", str(latest)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert latest.read_bytes() != first
    assert json.loads(latest.read_bytes())["baseline_source"].startswith(str(latest))


def test_the_baseline_snapshot_spec_and_inventory_are_never_written_over(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only this run's JSON may replace the baseline; nothing is written into a snapshot
    folder, over the spec ``keyscope spec`` reads, or over the inventory a plan reads."""
    settings = str(config(isolated))
    latest = isolated / "latest.json"
    assert main(["audit", "--config", settings, "--json", str(latest)]) == 0
    before = latest.read_bytes()
    capsys.readouterr()
    code = main(["audit", "--config", settings, "--baseline", str(latest), "--html", str(latest)])
    assert code == 2 and "is this run's baseline" in capsys.readouterr().err
    assert latest.read_bytes() == before
    snapshot = isolated / "snap"
    snapshot.mkdir()
    code = main(
        ["audit", "--config", settings, "--snapshot", str(snapshot),
         "--json", str(snapshot / "keys.json")]
    )  # fmt: skip
    assert code == 2 and not (snapshot / "keys.json").exists()
    assert "is inside this run's snapshot folder" in capsys.readouterr().err
    # Nor its history; and a folder name is never read as a pattern ("snap[1]").
    code = main(["audit", "--config", settings, "--snapshot", str(snapshot),
                 "--history", str(snapshot / "history")])  # fmt: skip
    assert code == 2 and not (snapshot / "history").exists()
    odd = isolated / "snap[1]"
    odd.mkdir()
    code = main(["audit", "--config", settings, "--snapshot", str(odd),
                 "--json", str(odd / "r.json")])  # fmt: skip
    assert code == 2 and "is inside this run's snapshot folder" in capsys.readouterr().err
    spec = isolated / "spec.yaml"
    spec.write_bytes(SPEC.read_bytes())
    assert main(["spec", str(spec), "-o", str(spec)]) == 2
    assert spec.read_bytes() == SPEC.read_bytes()
    keys = isolated / "keys.yaml"
    keys.write_bytes(KEYS.read_bytes())
    assert main(["plan", "--config", settings, "--keys", str(keys), "-o", str(keys)]) == 2
    assert keys.read_bytes() == KEYS.read_bytes()
    assert capsys.readouterr().err.count("not writing a report over it") == 2


def test_window_and_as_of_outside_the_calendar_are_errors_not_crashes(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = str(config(isolated))
    assert main(["audit", "--config", settings, "--window-days", "800000"]) == 2
    assert "from 1 to 36600" in capsys.readouterr().err
    assert main(["audit", "--config", settings, "--as-of", "9999-12-31T23:59:59Z"]) == 3
    err = capsys.readouterr().err
    assert "between 1970-01-01 and 9000-01-01" in err
    assert "internal error" not in err


def test_unknown_format_is_a_usage_error(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--config", str(config(isolated)), "--format", "pdf"]) == 2
    err = capsys.readouterr().err
    assert "unknown report format 'pdf'" in err and "json" in err


def test_missing_spec_and_keys_hint_at_config(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit"]) == 2
    assert "keyscope.toml" in capsys.readouterr().err
    assert main(["audit", "--spec", str(SPEC)]) == 2
    assert "no key inventory given" in capsys.readouterr().err


def test_fail_on_new_needs_a_baseline(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--config", str(config(isolated)), "--fail-on-new"]) == 2
    assert "--baseline" in capsys.readouterr().err


def test_bad_inventory_is_exit_3_one_line(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = isolated / "keys.yaml"
    keys.write_text("- id: a\n- id: a\n", encoding="utf-8")
    assert main(["audit", "--config", str(config(isolated, keys=str(keys)))]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "duplicate key id 'a'" in err and "Traceback" not in err


def test_output_symlink_needs_force(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = isolated / "real.json"
    real.write_text("old", encoding="utf-8")
    link = isolated / "link.json"
    link.symlink_to(real)
    cfg = str(config(isolated))
    assert main(["audit", "--config", cfg, "--format", "json", "-o", str(link)]) == 3
    assert "symbolic link" in capsys.readouterr().err
    assert real.read_text() == "old"
    assert main(["audit", "--config", cfg, "--format", "json", "-o", str(link), "--force"]) == 0
    assert json.loads(link.read_text())["schema_version"] == 1


def test_internal_error_never_exits_0(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import keyscope.pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("sk_live_CANARYabcdefghijklmnop")

    monkeypatch.setattr(keyscope.pipeline, "run_audit", broken)
    assert main(["audit", "--config", str(config(isolated))]) == 70
    assert "CANARY" not in capsys.readouterr().err


def test_untrusted_names_reach_the_terminal_defused(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = isolated / "keys.json"
    names = ["\x1b[2J\x1b]0;pwned\x07", "[link=https://evil.example]x[/link]", "a\u202eb", "\x9bc"]
    keys.write_text(
        json.dumps(
            [{"id": f"k{i}", "name": name, "full_access": True} for i, name in enumerate(names)]
        ),
        encoding="utf-8",
    )
    assert main(["audit", "--config", str(config(isolated, keys=str(keys)))]) == 0
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x1b\x07\x9b\u202e")
    assert "⟨U+202E⟩" in out
    assert "[link=https://evil.example]x[/link]" in out  # shown as text, never interpreted
    assert (
        main(["audit", "--config", str(config(isolated, keys=str(keys))), "--format", "json"]) == 0
    )
    raw = capsys.readouterr().out
    assert raw.isascii()
    assert [k["name"] for k in json.loads(raw)["keys"]] == names


def test_json_is_byte_identical_across_runs_and_hash_seeds(isolated: Path) -> None:
    cfg = config(isolated)
    outputs = []
    for seed in ("0", "1", "4242"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSCOPE_")}
        env["PYTHONHASHSEED"] = seed
        done = subprocess.run(
            [sys.executable, "-m", "keyscope", "audit", "--config", str(cfg), "--format", "json"],
            capture_output=True,
            env=env,
            cwd=isolated,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0].endswith(b"\n")


def test_overlapping_run_is_refused_with_exit_6(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from keyscope.output import output_lock

    target = isolated / "result.json"
    with output_lock(isolated / "keyscope"):
        code = main(["audit", "--config", str(config(isolated)), "--json", str(target)])
    assert code == 6
    assert "locked by another keyscope run" in capsys.readouterr().err
    assert not target.exists()
    assert main(["audit", "--config", str(config(isolated)), "--json", str(target)]) == 0
    assert sorted(p.name for p in isolated.iterdir() if p.name.startswith(".")) == [
        ".keyscope.lock"
    ]


def test_history_and_baseline_gating(
    isolated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = str(config(isolated))
    history = isolated / "history"
    history.mkdir()
    first = isolated / "first.json"
    assert main(["audit", "--config", cfg, "--json", str(first), "--history", str(history)]) == 0
    assert [p.name for p in history.iterdir()] == ["2026-11-01T000000Z.json"]
    capsys.readouterr()
    # Same inputs against their own result: nothing is new, so --fail-on-new passes...
    args = ["audit", "--config", cfg, "--baseline", str(first), "--fail-on", "info"]
    assert main([*args, "--fail-on-new"]) == 0
    # ...while the plain gate still sees the (unchanged) high findings.
    assert main(args) == 1
    # The baseline may come from the environment or the config file too.
    args = ["audit", "--config", cfg, "--fail-on", "info", "--fail-on-new"]
    with monkeypatch.context() as patch:
        patch.setenv("KEYSCOPE_BASELINE", str(first))
        assert main(args) == 0
    from_file = str(config(isolated, baseline=f'"{first}"'))
    assert main(["audit", "--config", from_file, "--fail-on", "info", "--fail-on-new"]) == 0


def test_har_capture_answers_what_a_new_key_needs(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = REPO / "sample_specs" / "integration.har"
    cfg = str(config(isolated))
    assert main(["audit", "--config", cfg, "--usage", str(har), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (capture,) = [k for k in document["keys"] if k["capture"]]
    assert capture["id"] == "har:integration"
    assert capture["suggested_scopes"]
    assert capture["findings"] == []
    assert document["summary"]["captures"] == 1
    assert document["summary"]["keys"] == len(document["keys"]) - 1
    assert main(["audit", "--config", cfg, "--usage", str(har)]) == 0
    assert "Scopes a new key needs for captured traffic (HAR)" in capsys.readouterr().out


CANARIES = (
    "sk_live_CANARYinventory000000000001",
    "rk_live_CANARYname00000000000000002",
    "sk_live_CANARYlogpath000000000000003",
    "ghp_CANARYquery0000000000000000000004",
)


def test_no_secret_reaches_any_output(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = isolated / "keys.yaml"
    keys.write_text(
        "- id: key_canary_one\n"
        "  scopes: [invoices:read]\n"
        f"  secret: {CANARIES[0]}\n"
        f"  name: 'billing {CANARIES[1]}'\n"
        "  created_at: '2024-01-01'\n",
        encoding="utf-8",
    )
    log = isolated / "requests.jsonl"
    lines = []
    for day in range(1, 31):
        stamp = f"2026-10-{day:02d}T10:00:00Z"
        lines.append({"timestamp": stamp, "key_id": "key_canary_one", "method": "GET",
                      "path": "/v1/invoices", "status": 200})  # fmt: skip
        lines.append({"timestamp": stamp, "key_id": "key_canary_one", "method": "GET",
                      "path": f"/v1/keys/{CANARIES[2]}", "status": 404})  # fmt: skip
        lines.append({"timestamp": stamp, "key_id": "key_canary_one", "method": "GET",
                      "path": f"/v1/invoices?api_key={CANARIES[3]}", "status": 403})  # fmt: skip
    log.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    cfg = str(config(isolated, keys=str(keys), window_days="30"))
    outputs = {fmt: isolated / f"out.{fmt}" for fmt in ("json", "html", "md", "csv", "sarif")}
    flags = [item for fmt, path in outputs.items() for item in (f"--{fmt}", str(path))]
    assert main(["audit", "--config", cfg, "--usage", str(log), *flags]) == 0
    texts = [path.read_text(encoding="utf-8") for path in outputs.values()]
    out, err = capsys.readouterr()
    texts += [out, err]
    for canary in CANARIES:
        fragments = {canary[i : i + 12] for i in range(8, len(canary) - 12)}
        for text in texts:
            assert not any(fragment in text for fragment in fragments), canary
    document = json.loads(outputs["json"].read_text())
    (entry,) = document["keys"]
    assert entry["redacted_fields"] == ["name", "secret"]
    assert {f["rule"] for f in entry["findings"]} >= {"secret-in-name"}
