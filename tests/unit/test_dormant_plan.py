"""Time-boxed de-scoping of dormant keys in ``keyscope plan`` (ANCHORS #15), no network."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_remediation import AS_OF, audit_of, result_of

from keyscope.remediation import (
    PlanError,
    build_plan,
    describe_step,
    digest_inputs,
    dormant_expiry,
    due_steps,
    journal_path,
    load_plan,
    plan_to_json,
    refuse_stale,
)


@pytest.fixture
def inputs(tmp_path: Path):  # type: ignore[no-untyped-def]
    spec, keys, log = tmp_path / "spec.json", tmp_path / "keys.json", tmp_path / "a.jsonl"
    spec.write_text("{}")
    keys.write_text("{}")
    log.write_text("{}\n")
    return digest_inputs(spec, keys, [str(log)])


def idle(key_id: str = "key_idle", **changes: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"requests": 0, "suggested": (), "excess": ("invoices:write",)}
    values.update(changes)
    return audit_of(key_id, **values)  # type: ignore[arg-type]


def steps_by_id(plan):  # type: ignore[no-untyped-def]
    return {step.step_id: step for step in plan.steps}


def test_a_dormant_key_is_time_boxed_not_revoked_at_once(inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(idle()), inputs)
    assert [s.step_id for s in plan.steps] == [
        "expire:key_idle",
        "recheck:key_idle",
        "revoke:key_idle",
    ]
    expire, recheck, revoke = plan.steps
    assert expire.action == "expire" and expire.changes_platform
    assert expire.expires_at == datetime(2026, 12, 1, tzinfo=UTC)  # as_of + 30 days
    assert expire.expect is not None and expire.expect.scopes == ("invoices:write",)
    assert "dormant-key" in expire.reason and "keeps working until 2026-12-01" in expire.reason
    assert recheck.action == "recheck" and not recheck.changes_platform
    assert recheck.reason.startswith("re-run keyscope audit on 2026-11-30")
    assert "no successful request since 2026-11-01" in recheck.reason
    assert (recheck.after_step, recheck.wait_days) == ("expire:key_idle", 29)
    # The revoke waits for the expiry: never due before the time box is over.
    assert (revoke.after_step, revoke.wait_days) == ("expire:key_idle", 30)
    assert "expired on 2026-12-01" in revoke.reason
    assert plan.dormant == "expire" and plan.expire_after_days == 30
    assert describe_step(expire) == (
        "set key_idle to expire at 2026-12-01T00:00:00Z (it works until then)"
    )


def test_the_time_box_length_is_configurable(inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(idle()), inputs, expire_after_days=7)
    by_id = steps_by_id(plan)
    assert by_id["expire:key_idle"].expires_at == AS_OF + timedelta(days=7)
    assert "re-run keyscope audit on 2026-11-07" in by_id["recheck:key_idle"].reason
    assert by_id["revoke:key_idle"].wait_days == 7
    assert dormant_expiry(AS_OF, 7) == AS_OF + timedelta(days=7)


def test_revoke_mode_keeps_the_immediate_revoke(inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(idle()), inputs, dormant="revoke")
    assert [(s.step_id, s.after_step) for s in plan.steps] == [("revoke:key_idle", "")]


def test_downgrade_offers_the_read_scopes_it_held(inputs) -> None:  # type: ignore[no-untyped-def]
    writer = replace(
        idle(name="Ledger sync", scopes=("invoices:write", "payouts:write", "refunds:read")),
        granted_scopes=frozenset(
            {"invoices:read", "invoices:write", "payouts:read", "payouts:write", "refunds:read"}
        ),
    )
    plan = build_plan(result_of(writer), inputs, dormant="downgrade")
    assert [s.action for s in plan.steps] == ["create", "expire", "recheck", "revoke"]
    create = plan.steps[0]
    assert create.scopes == ("invoices:read", "payouts:read", "refunds:read")
    assert create.name == "Ledger sync (read-only)"
    assert "read-only replacement" in create.reason and "before 2026-12-01" in create.reason


@pytest.mark.parametrize(
    "audit",
    [
        idle(scopes=("invoices:read",), excess=("invoices:read",)),  # already read-only
        idle(scopes=(), full_access=True, excess=("x",)),  # full access: no scope list to halve
        idle(scopes=("payouts:write",)),  # holds no read scope at all (granted as listed here)
    ],
)
def test_downgrade_falls_back_to_the_expiry(audit, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(audit), inputs, dormant="downgrade")
    assert [s.action for s in plan.steps] == ["expire", "recheck", "revoke"]


def test_a_secret_in_a_dormant_keys_name_is_renamed_before_the_time_box(inputs) -> None:  # type: ignore[no-untyped-def]
    leaky = idle(name="batch sk_live_…WXYZ", redacted=("name",))
    plan = build_plan(result_of(leaky), inputs)
    assert [s.action for s in plan.steps] == ["rename", "expire", "recheck", "revoke"]


def test_bad_modes_and_lengths_are_refused(inputs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="dormant must be one of"):
        build_plan(result_of(idle()), inputs, dormant="delete")
    with pytest.raises(ValueError, match="1 or more"):
        build_plan(result_of(idle()), inputs, expire_after_days=0)


# --------------------------------------------------------------------------- when steps are due


def test_due_steps_expire_now_revoke_after_the_time_box(tmp_path: Path, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(idle()), inputs)
    journal = journal_path(tmp_path / "plan.json")
    due, report = due_steps(plan, journal, now=AS_OF + timedelta(hours=3))
    assert [s.step_id for s in due] == ["expire:key_idle"]
    assert report.waiting == [("revoke:key_idle", "waits for expire:key_idle")]
    assert [note.split(":")[0] for note in report.notes] == ["recheck"]

    applied = AS_OF + timedelta(days=2)
    journal.write_text(
        json.dumps({"event": "done", "step_id": "expire:key_idle", "time": "2026-11-03T00:00:00Z"})
        + "\n"
    )
    due, report = due_steps(plan, journal, now=applied + timedelta(days=29))
    assert due == [] and report.already == ["expire:key_idle"]
    assert report.waiting == [("revoke:key_idle", "due after 2026-12-03T00:00:00Z")]
    due, _ = due_steps(plan, journal, now=applied + timedelta(days=30))
    assert [s.step_id for s in due] == ["revoke:key_idle"]


def test_an_expiry_that_has_passed_is_refused_not_applied(tmp_path: Path, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(idle(), audit_of("key_busy")), inputs, expire_after_days=10)
    journal = journal_path(tmp_path / "plan.json")
    # Less than a day before the expiry: setting it now would cut the key off at once.
    due, report = due_steps(plan, journal, now=AS_OF + timedelta(days=9, hours=12))
    assert [s.step_id for s in due] == ["create:key_busy"]  # never the expiry
    assert [step_id for step_id, _ in report.stale] == ["expire:key_idle"]
    assert "would set an expiry (2026-11-11T00:00:00Z) that has passed" in report.stale[0][1]
    with pytest.raises(PlanError, match=re.escape("stale plan: step expire:key_idle would set")):
        refuse_stale(plan, report)
    # Left out with --skip, the rest of the plan can go ahead.
    due, report = due_steps(plan, journal, skip=["expire:key_idle"], now=AS_OF + timedelta(days=20))
    assert [s.step_id for s in due] == ["create:key_busy"] and report.stale == []
    refuse_stale(plan, report)
    assert ("revoke:key_idle", "waits for expire:key_idle") in report.waiting
    # Done already: nothing to refuse.
    journal.write_text(json.dumps({"event": "done", "step_id": "expire:key_idle"}) + "\n")
    assert due_steps(plan, journal, now=AS_OF + timedelta(days=20))[1].stale == []


# --------------------------------------------------------------------------- the plan file


def test_the_plan_file_round_trips_with_the_time_box(tmp_path: Path, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(idle()), inputs, dormant="downgrade", expire_after_days=45)
    path = tmp_path / "plan.json"
    path.write_text(plan_to_json(plan))
    data = json.loads(path.read_text())
    assert data["dormant"] == "downgrade" and data["expire_after_days"] == 45
    expire = next(step for step in data["steps"] if step["action"] == "expire")
    assert expire["expires_at"] == "2026-12-16T00:00:00Z"
    loaded = load_plan(path)
    assert loaded.steps == plan.steps
    assert (loaded.dormant, loaded.expire_after_days) == ("downgrade", 45)
    assert plan_to_json(loaded) == path.read_text()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda step: step.pop("expires_at"), "expires_at: expected the expiry to set"),
        (lambda step: step.update(expires_at="next week"), "expires_at: expected an RFC 3339"),
        (lambda step: step.update(expires_at="2026-12-01T00:00:00"), "with a zone"),
        (lambda step: step.update(expires_at=20261201), "expires_at: expected an RFC 3339"),
    ],
)
def test_a_malformed_expire_step_is_one_clear_error(
    tmp_path: Path, inputs, mutate, message
) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(plan_to_json(build_plan(result_of(idle()), inputs)))
    mutate(data["steps"][0])
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match=re.escape(message)) as caught:
        load_plan(path)
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("expire_after_days", 0, "expire_after_days: expected a whole number of days"),
        ("dormant", "nuke", "dormant: expected expire or downgrade or revoke"),
    ],
)
def test_bad_plan_settings_are_refused(tmp_path: Path, inputs, name, value, message) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(plan_to_json(build_plan(result_of(idle()), inputs)))
    data[name] = value
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match=re.escape(message)):
        load_plan(path)
