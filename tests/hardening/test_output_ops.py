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
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import World, daily_lines, key_record, subprocess_env


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


def test_47_devices_and_pipes_are_written_in_place_never_replaced(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """``-o /dev/null`` in a cron line must not turn the device into a file (as root,
    the rename would replace it for the whole machine), nor leave a lock file beside it."""
    import stat
    import threading

    world.write()
    if os.geteuid() == 0:  # a private null device, so a failure cannot break the machine's
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        device = Path("/dev/null")
    outcome = cli("audit", *world.flags(), "--json", str(device), "--sarif", str(device))
    assert outcome.code == 0, outcome.err
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert not (device.parent / ".keyscope.lock").exists() or device.parent == Path("/dev")

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    try:
        outcome = cli("audit", *world.flags(), "--json", str(pipe))
    finally:
        if reader.is_alive():  # the write failed: release the reader
            with open(pipe, "wb"):
                pass
        reader.join(timeout=30)
    assert outcome.code == 0, outcome.err
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert json.loads(received[0])["schema_version"] == 1
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []
    # Nobody reading: one clear error, not a hang.
    outcome = cli("audit", *world.flags(), "--json", str(pipe))
    assert outcome.code == 3 and "no process is reading this pipe" in outcome.err
    assert outcome.err.count("\n") == 1 and stat.S_ISFIFO(os.stat(pipe).st_mode)


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


def test_49_an_incomplete_night_carries_findings_instead_of_resolving_them(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A rolling baseline across a night whose logs were mostly unreadable: its findings
    are not re-checked, so they are carried (not resolved), and the next complete night
    sees them as unchanged, not new."""
    world.write()
    latest, history = tmp_path / "latest.json", tmp_path / "history"
    history.mkdir()

    def night(day: str, *extra: str) -> Any:
        return cli(
            "audit", *world.flags(), "--as-of", day, "--history", str(history),
            "--fail-on", "high", *extra,
        )  # fmt: skip

    rolling = ("--baseline", str(latest), "--json", str(latest), "--fail-on-new")
    assert night("2026-11-01", "--json", str(latest)).code == 1
    open_before = {f["fingerprint"] for f in json.loads(latest.read_text())["findings"]}
    assert open_before

    good = world.usage_path.read_text(encoding="utf-8")
    world.usage_path.write_text(good + "garbage\n" * 5000, encoding="utf-8")
    incomplete = night("2026-11-02", *rolling, "--sarif", str(tmp_path / "night.sarif"))
    assert incomplete.code == 0, incomplete.err  # nothing new at high or above
    report = json.loads(latest.read_text())
    assert report["complete"] is False
    carried = {f["fingerprint"] for f in report["carried_findings"]}
    assert carried and carried <= open_before
    assert not carried & {f["fingerprint"] for f in report["resolved_findings"]}
    assert all(f["baseline_state"] == "unchanged" for f in report["carried_findings"])
    sarif = json.loads((tmp_path / "night.sarif").read_text())
    states = {
        r["partialFingerprints"]["keyscopeFingerprint/v1"]: r.get("baselineState")
        for r in sarif["runs"][0]["results"]
    }
    assert all(states.get(fingerprint) == "unchanged" for fingerprint in carried)
    text = cli("audit", *world.flags(), "--as-of", "2026-11-02", "--baseline", str(latest)).out
    assert "not re-checked (too little data; carried)" in text

    world.usage_path.write_text(good, encoding="utf-8")
    assert night("2026-11-03", *rolling).code == 0  # the week-old findings are not new again
    report = json.loads(latest.read_text())
    states = {f["fingerprint"]: f["baseline_state"] for f in report["findings"]}
    assert all(states[fingerprint] == "unchanged" for fingerprint in carried)
    assert report["carried_findings"] == []
    # The trend marks the incomplete night, and only it.
    html = tmp_path / "report.html"
    night("2026-11-03", "--html", str(html))
    page = html.read_text(encoding="utf-8")
    assert page.count("(incomplete data)") == 1 and 'class="partial"' in page


def _run_keyscope(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """keyscope in its own process, so an input that hangs it fails the test instead."""
    return subprocess.run(
        [sys.executable, "-m", "keyscope", *flags],
        capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(), timeout=60,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize("flag", ["--spec", "--keys", "--suppressions", "--baseline", "--config"])
@pytest.mark.parametrize("kind", ["pipe", "loop of links", "name too long"])
def test_inputs_that_are_not_files_are_one_line_errors(
    world: World, tmp_path: Path, flag: str, kind: str
) -> None:
    """A named pipe nobody writes to used to hang the run; a loop of links or a name
    longer than the system allows used to be exit 70."""
    world.write()
    if kind == "pipe":
        target = tmp_path / "input.yaml"
        os.mkfifo(target)
    elif kind == "loop of links":
        target = tmp_path / "input.yaml"
        target.symlink_to(tmp_path / "other.yaml")
        (tmp_path / "other.yaml").symlink_to(target)
    else:
        target = tmp_path / ("a" * 300 + ".yaml")
    flags = [*world.flags(), flag, str(target)]
    if flag == "--config":  # replaces the empty config of world.flags()
        flags = flags[2:]
    outcome = _run_keyscope(tmp_path, "audit", *flags)
    assert outcome.returncode == 3, outcome.stderr
    assert outcome.stderr.count("\n") == 1 and "Traceback" not in outcome.stderr
    assert outcome.stderr.startswith("keyscope: error: ")


@pytest.mark.parametrize("flag", ["--json", "--history", "--snapshot", "--usage"])
def test_a_name_too_long_elsewhere_is_a_one_line_error(
    world: World, tmp_path: Path, flag: str
) -> None:
    world.write()
    outcome = _run_keyscope(tmp_path, "audit", *world.flags(), flag, "a" * 300)
    assert outcome.returncode == 3, outcome.stderr
    assert outcome.stderr.count("\n") == 1 and "Traceback" not in outcome.stderr


def test_a_nul_in_a_config_path_is_a_one_line_error(world: World, tmp_path: Path) -> None:
    world.write()
    for setting in ('spec = "a\\u0000b.yaml"', '[[usage]]\npath = "x\\u0000.jsonl"'):
        world.config_path.write_text(setting + "\n", encoding="utf-8")
        outcome = _run_keyscope(tmp_path, "audit", "--config", str(world.config_path))
        assert outcome.returncode == 3, outcome.stderr
        assert "NUL character" in outcome.stderr and outcome.stderr.count("\n") == 1


def test_49_carried_findings_follow_todays_suppressions(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A carried finding is judged by the suppressions of this run: an entry added since
    applies, an expired one does not, and neither is called stale."""
    world.write()
    latest = tmp_path / "latest.json"
    assert cli("audit", *world.flags(), "--json", str(latest)).code == 0
    good = world.usage_path.read_text(encoding="utf-8")
    world.usage_path.write_text(good + "garbage\n" * 5000, encoding="utf-8")
    first = json.loads(latest.read_text())
    # Not raised for a key too little data judges, so carried on the incomplete night.
    target = next(f for f in first["findings"] if f["rule"] in ("unused-scope", "dormant-key"))
    entry = (
        "suppressions:\n"
        f"  - rule: {target['rule']}\n    key: {target['key_id']}\n"
        f"    scope: {json.dumps(target['subject'])}\n    reason: accepted\n"
        "    owner: ops@example.com\n    expires: {expires}\n"
    )
    suppressions = tmp_path / "suppressions.yaml"
    night = [*world.flags(), "--as-of", "2026-11-02", "--baseline", str(latest)]
    for expires, suppressed in (("2027-01-31", True), ("2026-11-01", False)):
        suppressions.write_text(entry.format(expires=expires), encoding="utf-8")
        outcome = cli("audit", *night, "--suppressions", str(suppressions), "--format", "json")
        report = json.loads(outcome.out)
        fingerprint = target["fingerprint"]
        [carried] = [f for f in report["carried_findings"] if f["fingerprint"] == fingerprint]
        assert carried["suppressed"] is suppressed
        assert not any("stale" in warning for warning in report["suppression_warnings"])


def test_a_legacy_key_whose_traffic_goes_to_unknown_routes_is_not_told_it_needs_nothing(
    world: World, cli: Callable[..., Any]
) -> None:
    world.keys = [key_record("key_legacy000001", None)]
    world.usage = daily_lines(
        "key_legacy000001", [("GET", "/v1/health"), ("GET", "/v1/internal/metrics")] * 5
    )
    world.write()
    report = json.loads(cli("audit", *world.flags(), "--format", "json").out)
    [legacy] = [f for f in report["findings"] if f["rule"] == "legacy-full-access"]
    assert "need no scope" not in legacy["message"]
    assert "routes the spec does not describe" in legacy["message"]
    text = cli("audit", *world.flags()).out
    assert "needs:    unknown" in text and "needs:    no scope" not in text


def test_47_an_output_naming_an_open_descriptor_is_written_to_it(
    world: World, tmp_path: Path
) -> None:
    """``-o /dev/stdout`` (or ``/dev/fd/N``) writes to that open file where it stands, so
    ``>> keyscope.log`` appends; never a rename over the name, which as root would have
    replaced /dev/stdout for every process.  Checked with a descriptor of the test's own
    (a rename there cannot touch the machine's /dev)."""
    from keyscope.output import descriptor_of

    assert descriptor_of(Path("/dev/stdout")) == 1 and descriptor_of(Path("/dev/stderr")) == 2
    assert descriptor_of(Path("/proc/self/fd/7")) == 7 and descriptor_of(tmp_path) is None
    world.write()
    log = tmp_path / "keyscope.log"
    log.write_text("earlier\n", encoding="utf-8")
    with log.open("ab") as appending:
        number = appending.fileno()
        outcome = subprocess.run(
            [sys.executable, "-m", "keyscope", "audit", *world.flags(),
             "--format", "json", "-o", f"/dev/fd/{number}", "--force"],
            capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(), timeout=120,
            check=False, pass_fds=(number,),
        )  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    text = log.read_text(encoding="utf-8")
    assert text.startswith("earlier\n") and json.loads(text[len("earlier\n") :])["schema_version"]
    assert not list(tmp_path.glob(".keyscope*"))


def test_47_descriptor_outputs_closed_or_from_aggregate(world: World, tmp_path: Path) -> None:
    """A closed stdout is one clear error (it was exit 70), and ``aggregate -o
    /dev/fd/N`` writes there too (it was refused as a symbolic link)."""
    world.write()
    flags = " ".join(f"'{flag}'" for flag in world.flags())
    closed = subprocess.run(
        ["bash", "-c", f"'{sys.executable}' -m keyscope audit {flags} -o /dev/stdout >&-"],
        capture_output=False, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=subprocess_env(), timeout=120, check=False,
    )  # fmt: skip
    assert closed.returncode == 3, closed.stderr
    assert "cannot write" in closed.stderr and "Traceback" not in closed.stderr
    target = tmp_path / "agg.parquet"
    with target.open("wb") as sink:
        number = sink.fileno()
        done = subprocess.run(
            [sys.executable, "-m", "keyscope", "aggregate", "--spec", str(world.spec_path),
             "--usage", str(world.usage_path), "-o", f"/dev/fd/{number}"],
            capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(), timeout=120,
            check=False, pass_fds=(number,),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:4] == b"PAR1"
