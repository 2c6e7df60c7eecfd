"""Remediation plans: which keys get which steps, the plan file, staleness, the journal
and the secrets file (no network: applying against a server is tested in
tests/integration/test_sandbox.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyscope.errors import ReportError
from keyscope.model import (
    ApiKey,
    AuditResult,
    BlastRadius,
    DataQuality,
    Finding,
    KeyAudit,
    Replay,
    SpecSummary,
    Window,
)
from keyscope.remediation import (
    PlanError,
    SecretsFile,
    build_plan,
    check_inputs,
    describe_step,
    digest_inputs,
    due_steps,
    journal_path,
    load_plan,
    plan_to_json,
    read_journal,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
NONE = BlastRadius(0, 0, 0)


def audit_of(
    key_id: str,
    *,
    name: str = "a key",
    scopes: tuple[str, ...] = ("invoices:write",),
    full_access: bool = False,
    status: str = "active",
    suggested: tuple[str, ...] = ("invoices:read",),
    excess: tuple[str, ...] = ("invoices:write",),
    confidence: str = "high",
    requests: int = 120,
    rules: tuple[str, ...] = (),
    redacted: tuple[str, ...] = (),
) -> KeyAudit:
    key = ApiKey(
        key_id=key_id,
        name=name,
        scopes=frozenset(scopes),
        full_access=full_access,
        status=status,  # type: ignore[arg-type]
        redacted_fields=redacted,
    )
    findings = tuple(Finding(rule, "medium", key_id, "", "m", f"fp-{rule}") for rule in rules)
    return KeyAudit(
        key=key, granted_scopes=frozenset(scopes), used_scopes=frozenset(suggested),
        suggested_scopes=frozenset(suggested), excess_scopes=frozenset(excess),
        missing_scopes=frozenset(),
        evidence=(), excess=(), denied=(), unmatched=(), before=NONE, after=NONE,
        confidence=confidence, confidence_reasons=(), findings=findings,  # type: ignore[arg-type]
        requests=requests, last_seen=None,
    )  # fmt: skip


def result_of(*audits: KeyAudit) -> AuditResult:
    return AuditResult(
        tool_version="test", as_of=AS_OF, window=Window(AS_OF - timedelta(days=90), AS_OF, 90),
        complete=True, incomplete_reasons=(),
        spec=SpecSummary("t", "1", "openapi 3.1.0", "spec.yaml", "0" * 64, 1, 1, "all"),
        keys=tuple(sorted(audits, key=lambda a: a.key.key_id)), findings=(),
        data_quality=DataQuality(),
    )  # fmt: skip


@pytest.fixture
def inputs(tmp_path: Path):  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.json"
    keys = tmp_path / "keys.json"
    (tmp_path / "logs").mkdir()
    spec.write_text('{"openapi": "3.1.0"}')
    keys.write_text('{"keys": []}')
    (tmp_path / "logs" / "a.jsonl").write_text('{"x": 1}\n')
    (tmp_path / "logs" / "b.jsonl").write_text('{"x": 2}\n')
    return digest_inputs(spec, keys, [str(tmp_path / "logs" / "*.jsonl")])


# --------------------------------------------------------------------------- which steps


def test_an_over_privileged_key_gets_create_dual_run_and_a_late_revoke(inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(
        result_of(audit_of("key_sync", name="Invoicing sync")), inputs, dual_run_days=14
    )
    assert [s.step_id for s in plan.steps] == [
        "create:key_sync",
        "dual-run:key_sync",
        "revoke:key_sync",
    ]
    create, note, revoke = plan.steps
    assert create.scopes == ("invoices:read",) and create.name == "Invoicing sync (least privilege)"
    assert "unused-scope" in create.reason and "invoices:write" in create.reason
    assert note.changes_platform is False
    assert revoke.after_step == "create:key_sync" and revoke.wait_days == 14
    assert revoke.expect is not None and revoke.expect.scopes == ("invoices:write",)


def test_a_legacy_full_access_key_is_replaced(inputs) -> None:  # type: ignore[no-untyped-def]
    legacy = audit_of(
        "key_old", scopes=(), full_access=True, suggested=("payments:read",), excess=("x",)
    )
    plan = build_plan(result_of(legacy), inputs)
    assert plan.steps[0].action == "create" and "legacy-full-access" in plan.steps[0].reason
    assert plan.steps[0].expect is not None and plan.steps[0].expect.full_access is True


def test_a_key_whose_requests_need_no_scope_is_replaced_by_a_key_with_none(
    tmp_path: Path, inputs
) -> None:  # type: ignore[no-untyped-def]
    # Spotify's catalogue reads ask for a token and no scope: the key is in use, so it is
    # replaced (a key with no scopes), never time-boxed as dormant.
    legacy = dataclasses.replace(
        audit_of("key_cat", scopes=(), full_access=True, suggested=(), excess=("x", "y")),
        replay=Replay(requests=120, would_fail=0),
    )
    plan = build_plan(result_of(legacy), inputs)
    assert [s.action for s in plan.steps] == ["create", "dual-run", "revoke"]
    assert plan.steps[0].scopes == () and "need no scope" in plan.steps[0].reason
    assert "with no scopes" in describe_step(plan.steps[0])
    path = tmp_path / "plan.json"
    path.write_text(plan_to_json(plan))
    assert json.loads(path.read_text())["steps"][0]["scopes"] == []
    assert load_plan(path).steps == plan.steps
    # Traffic to routes the spec does not describe says nothing of what they need.
    unknown = dataclasses.replace(legacy, replay=Replay(requests=0, would_fail=0, unreplayable=9))
    assert build_plan(result_of(unknown), inputs).steps == ()


def test_a_dormant_key_is_revoked_without_replacement(inputs) -> None:  # type: ignore[no-untyped-def]
    # --dormant revoke: at once (the default time-boxes it: tests/unit/test_dormant_plan.py).
    plan = build_plan(
        result_of(audit_of("key_idle", requests=0, suggested=(), excess=("invoices:write",))),
        inputs,
        dormant="revoke",
    )
    assert [(s.step_id, s.after_step) for s in plan.steps] == [("revoke:key_idle", "")]
    assert "dormant-key" in plan.steps[0].reason


@pytest.mark.parametrize(
    "audit",
    [
        audit_of("key_young", confidence="insufficient"),
        audit_of("key_young_idle", confidence="insufficient", requests=0),
        audit_of("key_gone", status="revoked"),
        audit_of("key_gone_idle", status="revoked", requests=0),
        audit_of("key_fine", suggested=("invoices:write",), excess=()),
    ],
)
def test_keys_that_cannot_be_judged_or_need_nothing_get_no_step(audit: KeyAudit, inputs) -> None:  # type: ignore[no-untyped-def]
    assert build_plan(result_of(audit), inputs).steps == ()


def test_a_name_holding_a_secret_is_renamed_to_its_redacted_form(inputs) -> None:  # type: ignore[no-untyped-def]
    # The inventory loader already redacted the name; the plan never re-introduces it.
    audit = audit_of("key_leaky", name="deploy sk_live_…WXYZ", redacted=("name",))
    plan = build_plan(result_of(audit), inputs)
    rename = plan.steps[0]
    assert rename.step_id == "rename:key_leaky" and rename.action == "rename"
    assert "secret-in-name" in rename.reason
    assert plan.steps[1].name.endswith("(least privilege)")


def test_invisible_characters_and_empty_names_are_renamed(inputs) -> None:  # type: ignore[no-untyped-def]
    bidi = audit_of("key_bidi", name="pay\u202eouts\u200b", rules=("suspicious-key-name",))
    empty = audit_of("key_blank", name="  ")
    plan = build_plan(result_of(bidi, empty), inputs)
    renames = {s.key_id: s.name for s in plan.steps if s.action == "rename"}
    assert renames == {"key_bidi": "payouts", "key_blank": "unnamed key key_blank"}


def test_a_plain_name_is_never_renamed(inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(audit_of("key_a", name="[TODO] Q3 billing <b>")), inputs)
    assert "rename" not in {s.action for s in plan.steps}


def test_plans_are_deterministic_and_sorted(inputs) -> None:  # type: ignore[no-untyped-def]
    audits = [audit_of(f"key_{n}", requests=n % 2 * 10) for n in range(6)]
    first = plan_to_json(build_plan(result_of(*audits), inputs))
    second = plan_to_json(build_plan(result_of(*reversed(audits)), inputs))
    assert first == second
    ids = [s["id"] for s in json.loads(first)["steps"]]
    assert ids == sorted(
        ids,
        key=lambda i: (
            i.split(":")[1],
            ["rename", "create", "dual-run", "expire", "recheck", "revoke"].index(i.split(":")[0]),
        ),
    )


# --------------------------------------------------------------------------- the plan file


def test_the_plan_file_round_trips(tmp_path: Path, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(
        result_of(audit_of("key_a"), audit_of("key_b", requests=0)),
        inputs,
        base_url="https://api.x",
    )
    path = tmp_path / "plan.json"
    path.write_text(plan_to_json(plan))
    loaded = load_plan(path)
    assert (
        loaded.steps == plan.steps
        and loaded.inputs == plan.inputs
        and loaded.base_url == "https://api.x"
    )
    assert loaded.as_of == AS_OF and loaded.source == str(path)
    assert plan_to_json(loaded) == path.read_text()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(kind="something else"), "not a keyscope remediation plan"),
        (lambda d: d.update(schema_version=99), "unsupported plan schema_version 99"),
        (
            lambda d: d["steps"][0].update(action="delete-everything"),
            "steps[0].action: expected create",
        ),
        (
            lambda d: d["steps"][0].pop("expect"),
            "steps[0].expect: expected the key's expected state",
        ),
        (
            lambda d: d["steps"][0].pop("scopes"),
            "steps[0].scopes: expected a name and a list of scopes ([] for none)",
        ),
        (lambda d: d["steps"].append(dict(d["steps"][0])), "appears twice"),
        (lambda d: d["steps"][2].update(after_step="create:nobody"), "waits for unknown step"),
        (lambda d: d["inputs"].pop("digest"), "inputs.digest: expected a string"),
        (lambda d: d["steps"][2].update(wait_days=-1), "wait_days: expected a non-negative"),
    ],
)
def test_a_malformed_plan_is_one_clear_error(tmp_path: Path, inputs, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(plan_to_json(build_plan(result_of(audit_of("key_a")), inputs)))
    mutate(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match=re.escape(message)) as caught:
        load_plan(path)
    assert caught.value.exit_code == 3 and str(path) in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"{", b"[" * 50_000, b"\xff\xfe", b"null"])
def test_a_plan_that_is_not_json_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(PlanError):
        load_plan(path)


def test_a_plan_is_stale_once_any_input_changes(tmp_path: Path, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(result_of(audit_of("key_a")), inputs)
    check_inputs(plan)  # fresh
    (tmp_path / "logs" / "a.jsonl").rename(tmp_path / "logs" / "renamed.jsonl")
    check_inputs(plan)  # same contents under another name: still fresh
    (tmp_path / "logs" / "c.jsonl").write_text('{"x": 3}\n')  # a new log file matches the glob
    with pytest.raises(
        PlanError, match=r"stale plan: its inputs changed since it was made \(usage\)"
    ):
        check_inputs(plan)
    (tmp_path / "logs" / "c.jsonl").unlink()
    (tmp_path / "keys.json").write_text('{"keys": [{"id": "k"}]}')
    with pytest.raises(PlanError, match=r"\(keys\)"):
        check_inputs(plan)
    (tmp_path / "keys.json").unlink()
    with pytest.raises(PlanError, match="is gone"):
        check_inputs(plan)


# --------------------------------------------------------------------------- journal and due steps


def test_due_steps_follow_the_journal_and_the_dual_run(tmp_path: Path, inputs) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(
        result_of(audit_of("key_a"), audit_of("key_b", requests=0)),
        inputs,
        dual_run_days=14,
        dormant="revoke",
    )
    journal = journal_path(tmp_path / "plan.json")
    assert journal.name == "plan.journal.jsonl"
    due, report = due_steps(plan, journal, now=AS_OF)
    assert [s.step_id for s in due] == ["create:key_a", "revoke:key_b"]
    assert report.waiting == [("revoke:key_a", "waits for create:key_a")] and len(report.notes) == 1

    done_at = datetime(2026, 11, 2, tzinfo=UTC)
    lines = [
        {"event": "intent", "step_id": "create:key_a", "idempotency_key": "k1"},
        {
            "event": "done",
            "step_id": "create:key_a",
            "time": "2026-11-02T00:00:00Z",
            "new_key_id": "key_new",
        },
        {"event": "intent", "step_id": "revoke:key_b", "idempotency_key": "k2"},
    ]
    journal.write_text(
        "\n".join(json.dumps(line) for line in lines) + '\n{"event": "done", "step_'
    )  # torn last line
    records = read_journal(journal)
    assert (
        records["create:key_a"].state == "done" and records["create:key_a"].new_key_id == "key_new"
    )
    assert (
        records["revoke:key_b"].state == "in-doubt"
        and records["revoke:key_b"].idempotency_key == "k2"
    )

    due, report = due_steps(plan, journal, now=done_at + timedelta(days=13))
    assert [s.step_id for s in due] == ["revoke:key_b"]
    assert report.already == ["create:key_a"] and report.waiting == [
        ("revoke:key_a", "due after 2026-11-16T00:00:00Z")
    ]
    due, _ = due_steps(plan, journal, now=done_at + timedelta(days=14))
    assert [s.step_id for s in due] == ["revoke:key_a", "revoke:key_b"]
    due, report = due_steps(plan, journal, skip=["revoke:key_b"], now=done_at + timedelta(days=14))
    assert [s.step_id for s in due] == ["revoke:key_a"] and report.skipped == ["revoke:key_b"]


# --------------------------------------------------------------------------- the secrets file


def test_the_secrets_file_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new.secrets"
    secrets = SecretsFile(path)
    secrets.write({"key_id": "key_x", "secret": "ks_test_abc"})
    secrets.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"key_id": "key_x", "secret": "ks_test_abc"}


def test_an_empty_existing_secrets_file_is_reused_and_tightened(tmp_path: Path) -> None:
    path = tmp_path / "new.secrets"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    SecretsFile(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_non_empty_or_linked_secrets_file_is_refused(tmp_path: Path) -> None:
    full = tmp_path / "full.secrets"
    full.write_text("old secret\n")
    with pytest.raises(ReportError, match="is not empty"):
        SecretsFile(full)
    assert full.read_text() == "old secret\n"
    link = tmp_path / "link.secrets"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ReportError):
        SecretsFile(link)
    assert not (tmp_path / "elsewhere").exists()
