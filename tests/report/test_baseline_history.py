"""Reading earlier results: baselines (schema and fingerprint versions) and the history folder."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyscope.analysis.audit import finding_fingerprint
from keyscope.analysis.triage import apply_baseline, history_point
from keyscope.errors import ConfigError, ReportError
from keyscope.model import FINGERPRINT_VERSION, SCHEMA_VERSION, Finding
from keyscope.report.json_report import render_json
from keyscope.sources.baseline import load_baseline
from keyscope.sources.history import history_file_name, load_history, store_history

from ._factory import build_result, make_key, standard_keys


def test_baseline_round_trips_through_the_json_contract(tmp_path: Path) -> None:
    result = build_result()
    path = tmp_path / "previous.json"
    path.write_text(render_json(result), encoding="utf-8")
    baseline = load_baseline(path)
    assert baseline.schema_version == SCHEMA_VERSION
    assert baseline.fingerprint_version == FINGERPRINT_VERSION
    assert baseline.as_of == result.as_of
    assert {f.fingerprint for f in baseline.findings} == {f.fingerprint for f in result.findings}
    compared = apply_baseline(result, baseline)
    assert {f.baseline_state for f in compared.findings} == {"unchanged"}
    assert compared.resolved_findings == ()


def test_key_findings_missing_from_the_top_level_are_still_read(tmp_path: Path) -> None:
    document = json.loads(render_json(build_result()))
    document["findings"] = []
    path = tmp_path / "b.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    baseline = load_baseline(path)
    assert baseline.findings and all(f.key_id for f in baseline.findings)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"keys": []}', "not a keyscope audit result"),
        ('{"schema_version": 99, "findings": []}', "newer keyscope (schema 99"),
        ('{"schema_version": 1, "findings": [{"severity": "high"}]}', "finding without a rule"),
        (
            '{"schema_version": 1, "findings": [{"rule": "x", "severity": "urgent"}]}',
            "unknown severity",
        ),
        ('{"schema_version": 1, "findings": "many"}', "'findings' must be a list"),
        ('{"schema_version": 1, "as_of": 5}', "expected an ISO timestamp"),
    ],
)
def test_bad_baselines_are_config_errors_naming_the_file(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_baseline(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_baseline(tmp_path / "nope.json")


def test_renaming_a_key_keeps_every_fingerprint(tmp_path: Path) -> None:
    """P9: the fingerprint hashes rule, key id and subject, never the name."""
    from keyscope.analysis.audit import finding_fingerprint

    first = [
        replace(f, fingerprint=finding_fingerprint(f.rule, f.key_id, f.subject))
        for f in build_result().findings
    ]
    renamed_keys = [
        replace(audit, key=replace(audit.key, name="Renamed " + audit.key.name))
        for audit in standard_keys()
    ]
    second = [
        replace(f, fingerprint=finding_fingerprint(f.rule, f.key_id, f.subject))
        for f in build_result(renamed_keys).findings
    ]
    assert [f.fingerprint for f in first] == [f.fingerprint for f in second]


def test_history_store_and_load(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    base = build_result()
    runs = []
    for weeks in range(3):
        keys = standard_keys()[: 8 - weeks]
        run = replace(build_result(keys), as_of=base.as_of - timedelta(weeks=2 - weeks))
        runs.append(run)
        written = store_history(folder, run.as_of, render_json(run))
        assert written.name == history_file_name(run.as_of)
    (folder / "README.md").write_text("not a run", encoding="utf-8")
    points = load_history(folder)
    assert [p.as_of for p in points] == [run.as_of for run in runs]
    assert points == tuple(history_point(run) for run in runs)
    assert [p.as_of for p in load_history(folder, exclude=runs[-1].as_of)] == [
        r.as_of for r in runs[:2]
    ]
    assert sorted(path.name for path in folder.iterdir()) == [
        "2026-10-18T000000Z.json",
        "2026-10-25T000000Z.json",
        "2026-11-01T000000Z.json",
        "README.md",
    ]


def test_history_rerun_replaces_its_file(tmp_path: Path) -> None:
    result = build_result()
    store_history(tmp_path, result.as_of, "{}")
    store_history(tmp_path, result.as_of, render_json(result))
    assert len(list(tmp_path.iterdir())) == 1
    assert load_history(tmp_path) == (history_point(result),)


def test_corrupt_history_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "2026-10-01T000000Z.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"2026-10-01T000000Z\.json"):
        load_history(tmp_path)


def test_history_folder_problems(tmp_path: Path) -> None:
    assert load_history(tmp_path / "absent") == ()
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a folder"):
        load_history(a_file)
    with pytest.raises(ReportError, match="parent folder does not exist"):
        store_history(tmp_path / "no" / "such", datetime(2026, 1, 1, tzinfo=UTC), "{}")
    (tmp_path / "link").symlink_to(tmp_path / "absent", target_is_directory=True)
    with pytest.raises(ReportError, match="symbolic link"):
        store_history(tmp_path / "link", datetime(2026, 1, 1, tzinfo=UTC), "{}")
    # A link to an existing folder is a deployment's layout (history -> /srv/...): used.
    (tmp_path / "kept").mkdir()
    (tmp_path / "to-kept").symlink_to(tmp_path / "kept", target_is_directory=True)
    written = store_history(tmp_path / "to-kept", datetime(2026, 1, 1, tzinfo=UTC), "{}")
    assert written.parent == tmp_path / "kept" and written.read_text(encoding="utf-8") == "{}"


def test_history_file_name_is_utc_and_colon_free() -> None:
    from datetime import timezone

    moment = datetime(2026, 11, 1, 2, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert history_file_name(moment) == "2026-11-01T003005Z.json"
    assert ":" not in history_file_name(moment)


def test_new_keys_make_new_findings_against_a_stored_baseline(tmp_path: Path) -> None:
    before = build_result()
    path = tmp_path / "b.json"
    path.write_text(render_json(before), encoding="utf-8")
    after = build_result([*standard_keys(), make_key("key_zz_new", scopes=("payouts:write",))])
    compared = apply_baseline(after, load_baseline(path))
    assert {f.key_id for f in compared.findings if f.baseline_state == "new"} == {"key_zz_new"}


def test_a_baseline_from_before_the_id_digest_still_knows_unknown_keys(tmp_path: Path) -> None:
    # Written when an unknown key id was shown masked only ("key_…e09m"): the same
    # key, now "key_…e09m #0dc874", is unchanged, not new, and not resolved either.
    now = build_result()
    finding = Finding(
        "unknown-key-usage", "medium", "", "key_…e09m #0dc874", "m",
        finding_fingerprint("unknown-key-usage", "", "key_…e09m #0dc874"),
    )  # fmt: skip
    now = replace(now, findings=(*now.findings, finding))
    old = replace(
        finding,
        subject="key_…e09m",
        fingerprint=finding_fingerprint("unknown-key-usage", "", "key_…e09m"),
    )
    before = replace(now, findings=(*now.findings[:-1], old), keys=())
    path = tmp_path / "b.json"
    path.write_text(render_json(before), encoding="utf-8")
    compared = apply_baseline(now, load_baseline(path))
    [unknown] = [f for f in compared.findings if f.rule == "unknown-key-usage"]
    assert unknown.baseline_state == "unchanged"
    assert not [f for f in compared.resolved_findings if f.rule == "unknown-key-usage"]


def test_a_finding_open_again_after_its_suppression_expired_is_new(tmp_path: Path) -> None:
    # Taken while a suppression covered one finding; that finding is open in this run.
    # Matched by fingerprint alone it was "unchanged", and a --fail-on-new job never
    # failed on it: the expiry had no teeth.
    now = build_result()
    target = next(f for f in now.findings if f.key_id)
    suppressed = replace(target, suppressed=True)
    before = replace(
        now,
        findings=tuple(suppressed if f is target else f for f in now.findings),
        keys=(),
    )
    path = tmp_path / "b.json"
    path.write_text(render_json(before), encoding="utf-8")
    compared = apply_baseline(now, load_baseline(path))
    states = {f.fingerprint: f.baseline_state for f in compared.findings}
    assert states[target.fingerprint] == "new"
    assert {state for print_, state in states.items() if print_ != target.fingerprint} == {
        "unchanged"
    }
    # Still suppressed now: known, not new.
    still = replace(now, findings=before.findings)
    again = apply_baseline(still, load_baseline(path))
    assert {f.baseline_state for f in again.findings} == {"unchanged"}


def test_history_removes_what_killed_writes_left_and_nothing_else(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    folder.mkdir()
    leftover = folder / ".2026-10-01T000000Z.json.k2f9a1.tmp"  # another as_of's, killed
    live = folder / ".2026-10-08T000000Z.json.b7c4d2.tmp"  # a write still going on
    someone_elses = folder / ".notes.json.k2f9a1.tmp"
    for path in (leftover, live, someone_elses):
        path.write_text("{", encoding="utf-8")
    hour_ago = time.time() - 3600
    os.utime(leftover, (hour_ago, hour_ago))
    os.utime(someone_elses, (hour_ago, hour_ago))
    store_history(folder, datetime(2026, 11, 1, tzinfo=UTC), render_json(build_result()))
    assert not leftover.exists()
    assert live.exists() and someone_elses.exists()
    assert (folder / "2026-11-01T000000Z.json").exists()
