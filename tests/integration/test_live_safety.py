"""``apply`` and ``fetch`` against the sandbox turned hostile: a platform echoing
credentials into its errors, answers lost after a change, secrets in key fields.

The sandbox is the real HTTP server on loopback (see ``conftest.py``); a test that
needs it to misbehave in a way it has no fault for wraps this test's ``Sandbox.handle``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyscope.sandbox import Sandbox, _error

from .conftest import CANARY_API_KEY, write_config
from .test_sandbox import fetch, planned, run_cli

OWN_REVOKE = ("--skip", "revoke:key_keyscopeauditor1")


def only(plan: dict[str, Any], keep: str) -> list[str]:
    """``--skip`` arguments leaving out every change of ``plan`` but ``keep``."""
    skips: list[str] = []
    for step in plan["steps"]:
        if step["id"] != keep and step["action"] not in ("dual-run", "recheck"):
            skips += ["--skip", step["id"]]
    return skips


def journal_events(workdir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (workdir / "plan.journal.jsonl").read_text().splitlines()]


def test_a_platform_echoing_the_credentials_into_an_error_never_gets_them_shown(
    workdir: Path,
    snapshot_copy: Path,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    planned(snapshot_copy, capsys)
    tokens: list[str] = []
    answer = sandbox.handle

    def echoing(method: str, target: str, headers: Any, body: bytes) -> Any:
        if target.endswith("/revoke"):
            token = headers.get("authorization", "").removeprefix("Bearer ")
            tokens.append(token)
            # sbx_at_… tokens match no secret pattern: only the client's own scrub knows them.
            message = f"invalid credential {token} / {CANARY_API_KEY}"
            return _error(400, "invalid_credential", message), ""
        return answer(method, target, headers, body)

    monkeypatch.setattr(sandbox, "handle", echoing)
    code, out, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
        *OWN_REVOKE,
    )  # fmt: skip
    assert code == 5 and "HTTP 400: invalid credential" in err
    journal = (workdir / "plan.journal.jsonl").read_text()
    failed = [json.loads(line) for line in journal.splitlines() if '"failed"' in line]
    assert failed and failed[0]["error"].startswith("HTTP 400: invalid credential")
    assert tokens and tokens[0].startswith("sbx_at_")
    for text in (out, err, journal):
        assert CANARY_API_KEY not in text
        assert tokens[0] not in text


def test_a_create_whose_answer_was_lost_is_resumed_with_its_key_not_repeated(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    """Run 1: the key is made, every answer stalls past the read timeout, retries run
    out.  Run 2: the platform answers; the same Idempotency-Key gets the stored answer."""
    write_config(workdir, read_timeout=0.3, max_retries=1)
    plan = planned(snapshot_copy, capsys)
    step = "create:key_l53gyj955ahj8j4n"
    skips = only(plan, step)
    sandbox.lost_seconds = 1.0
    sandbox.add_fault("lost", "/v1/api-keys", count=2)  # both attempts of run 1
    keys_before = set(sandbox.data.keys)

    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl", *skips
    )
    assert code == 5 and f"step {step} failed" in err
    assert "may have been applied: the next run resends it with the same Idempotency-Key" in err
    events = journal_events(workdir)
    [intent] = [e for e in events if e["event"] == "intent"]
    [doubt] = [e for e in events if e["event"] == "in-doubt"]
    assert doubt["step_id"] == step and doubt["idempotency_key"] == intent["idempotency_key"]
    assert len(set(sandbox.data.keys) - keys_before) == 1  # made once, answer lost

    code, out, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl", *skips
    )
    assert code == 0, err
    assert f"done: {step}" in out
    created = set(sandbox.data.keys) - keys_before
    assert len(created) == 1  # no second key
    writes = sandbox.writes()
    assert {w.idempotency_key for w in writes} == {intent["idempotency_key"]}
    assert writes[-1].replayed
    [saved] = [json.loads(line) for line in (workdir / "s.jsonl").read_text().splitlines()]
    assert saved["key_id"] in created and saved["secret"]


def test_a_change_refused_with_a_4xx_is_failed_and_retried_under_a_new_key(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    plan = planned(snapshot_copy, capsys)
    step = "revoke:key_73ej48w8rh8hyoeo"
    answer = sandbox.handle
    refusals = [_error(422, "invalid_request", "try again later")]

    def refusing(method: str, target: str, headers: Any, body: bytes) -> Any:
        if target.endswith("/revoke") and refusals:
            return refusals.pop(), ""
        return answer(method, target, headers, body)

    monkeypatch.setattr(sandbox, "handle", refusing)
    args = ("apply", "plan.json", "--execute", "--yes", *only(plan, step))
    code, _, err = run_cli(capsys, *args)
    assert code == 5 and "may have been applied" not in err
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    events = journal_events(workdir)
    assert [e["event"] for e in events if e.get("step_id") == step] == [
        "intent", "failed", "intent", "done",
    ]  # fmt: skip
    first, second = [e["idempotency_key"] for e in events if e["event"] == "intent"]
    assert first != second


def test_secrets_in_any_key_field_are_masked_and_the_snapshot_still_audits(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    in_scope = "sk_live_SCOPEholdsAsecret00000001"
    in_status = "rk_live_STATUSholdsAsecret0000002"
    key = sandbox.data.keys["key_l53gyj955ahj8j4n"]
    key["scopes"] = [*key["scopes"], in_scope]
    sandbox.data.keys["key_73ej48w8rh8hyoeo"]["status"] = in_status
    code, out, err = fetch(capsys)
    assert code == 0, err
    text = (workdir / "snap" / "keys.json").read_text()
    assert in_scope not in text and in_status not in text
    manifest = json.loads((workdir / "snap" / "manifest.json").read_text())
    assert {"key_id": "key_l53gyj955ahj8j4n", "field": "scopes"} in manifest["redacted"]
    assert {"key_id": "key_73ej48w8rh8hyoeo", "field": "status"} in manifest["redacted"]

    code, out, err = run_cli(capsys, "audit", "--snapshot", "snap", "--format", "json")
    assert code in (0, 1), err
    assert in_scope not in out + err and in_status not in out + err
    findings = json.loads(out)["findings"]
    reported = {(f["rule"], f["key_id"], f.get("subject")) for f in findings}
    assert ("secret-in-name", "key_l53gyj955ahj8j4n", "scopes") in reported
    assert ("secret-in-name", "key_73ej48w8rh8hyoeo", "status") in reported
    assert any(
        f["rule"] == "unknown-scope" and f["key_id"] == "key_l53gyj955ahj8j4n" for f in findings
    )
