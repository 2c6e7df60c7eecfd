"""Time-boxed dormant keys end to end: ``plan`` proposes an expiry, ``apply`` sets it on
the real sandbox over loopback, the sandbox refuses a key once its expiry has passed.

The expiry a plan sets is ``as_of`` (2026-11-01) plus ``--expire-after-days``; ``apply``
refuses one that is not at least a day ahead of the wall clock, so the tests that apply
use a long time box (ten years) to stay independent of the day they run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyscope.cli import main
from keyscope.sandbox import SANDBOX_KEY_ID, RunningSandbox, Sandbox

from .conftest import CANARY_API_KEY

DORMANT = ("key_73ej48w8rh8hyoeo", "key_rvh4llazukc6935q")
"""The sample's dormant keys (a scoped one and a legacy full-access one)."""
OWN = ("--skip", f"expire:{SANDBOX_KEY_ID}", "--skip", f"revoke:{SANDBOX_KEY_ID}")
"""keyscope's own key is dormant in the sample; apply refuses to expire or revoke it."""
LONG = ("--expire-after-days", "3650")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, _, err = run_cli(capsys, "plan", "--snapshot", "snap", "-o", "plan.json", *extra)
    assert code == 0, err
    return json.loads(Path("plan.json").read_text())


def test_the_default_plan_time_boxes_dormant_keys(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = plan(capsys)
    assert data["dormant"] == "expire" and data["expire_after_days"] == 30
    steps = {step["id"]: step for step in data["steps"]}
    for key_id in (*DORMANT, SANDBOX_KEY_ID):
        assert steps[f"expire:{key_id}"]["expires_at"] == "2026-12-01T00:00:00Z"
        assert steps[f"recheck:{key_id}"]["reason"].startswith(
            "re-run keyscope audit on 2026-11-30"
        )
        assert steps[f"revoke:{key_id}"]["after_step"] == f"expire:{key_id}"
        assert steps[f"revoke:{key_id}"]["wait_days"] == 30
    # Used keys keep their replacement plan.
    assert steps["create:key_l53gyj955ahj8j4n"]["scopes"] == ["invoices:read"]


def test_apply_sets_the_expiry_and_leaves_the_revoke_for_later(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    data = plan(capsys, *LONG)
    expiry = next(s for s in data["steps"] if s["id"] == f"expire:{DORMANT[0]}")["expires_at"]
    code, out, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl", *OWN
    )
    assert code == 0, err
    for key_id in DORMANT:
        key = sandbox.data.keys[key_id]
        assert key["expires_at"] == expiry and key["status"] == "active"  # works until then
        assert f"done: expire:{key_id} (expires {expiry})" in out
        assert f"later: revoke:{key_id} (waits for expire:{key_id})" in out  # not in this run
    patches = [w for w in sandbox.writes() if w.method == "PATCH"]
    assert sorted(w.path for w in patches) == sorted(f"/v1/api-keys/{k}" for k in DORMANT)
    assert all(w.idempotency_key for w in patches)
    assert "expires_at" not in sandbox.data.keys[SANDBOX_KEY_ID]  # skipped: keyscope's own key
    # A second dry run: the expiries are done, the revokes wait for the time box.
    code, out, _ = run_cli(capsys, "apply", "plan.json", *OWN)
    assert code == 0
    for key_id in DORMANT:
        assert f"done already: expire:{key_id}" in out
        assert f"later: revoke:{key_id} (due after " in out
        assert f"note: recheck:{key_id}: re-run keyscope audit on 2036-" in out


def test_the_key_keyscope_uses_is_never_given_an_expiry(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    plan(capsys, *LONG)
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl"
    )
    assert code == 2
    assert f"would set an expiry on {SANDBOX_KEY_ID}, the key keyscope is using" in err
    assert sandbox.writes() == []


def test_an_expiry_already_passed_is_refused_before_any_request(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    data = plan(capsys)
    for step in data["steps"]:
        if step["action"] == "expire":
            step["expires_at"] = "2020-01-01T00:00:00Z"  # a plan applied far too late
    Path("plan.json").write_text(json.dumps(data))
    before = len(sandbox.log)
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl", *OWN
    )
    assert code == 3 and "would set an expiry (2020-01-01T00:00:00Z) that has passed" in err
    assert len(sandbox.log) == before


def test_downgrade_creates_a_read_only_key_beside_the_expiry(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = plan(capsys, "--dormant", "downgrade")
    actions = [s["action"] for s in data["steps"] if s["key_id"] == DORMANT[0]]
    # key_73ej… holds only read scopes: nothing to downgrade, the expiry alone.
    assert actions == ["expire", "recheck", "revoke"]
    own = [s for s in data["steps"] if s["key_id"] == SANDBOX_KEY_ID]
    assert [s["action"] for s in own] == ["create", "expire", "recheck", "revoke"]
    assert own[0]["scopes"] == ["api_keys:read"] and own[0]["name"].endswith("(read-only)")


def test_the_sandbox_sets_and_enforces_expiries(running: RunningSandbox, sandbox: Sandbox) -> None:
    with httpx.Client(base_url=running.base_url) as http:
        token = http.post("/v1/auth/token", json={"api_key": CANARY_API_KEY}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        key = DORMANT[0]
        for body, code in (
            ({}, "invalid_request"),
            ({"expires_at": "soon"}, "invalid_expires_at"),
            ({"expires_at": "2030-01-01T00:00:00"}, "invalid_expires_at"),  # no zone
            ({"expires_at": "2020-01-01T00:00:00Z"}, "invalid_expires_at"),  # the past
        ):
            answer = http.patch(f"/v1/api-keys/{key}", json=body, headers=auth)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == code
        answer = http.patch(
            f"/v1/api-keys/{key}", json={"expires_at": "2036-01-01T00:00:00+02:00"}, headers=auth
        )
        assert answer.status_code == 200
        assert answer.json()["expires_at"] == "2035-12-31T22:00:00Z"
        assert answer.json()["name"] == "Quarterly reporting dashboard"  # unchanged
        renamed = http.patch(f"/v1/api-keys/{key}", json={"name": "Q reports"}, headers=auth)
        assert renamed.json()["expires_at"] == "2035-12-31T22:00:00Z"  # kept by a rename

        # Once the expiry has passed, the key and its tokens are refused.
        sandbox.data.keys[SANDBOX_KEY_ID]["expires_at"] = "2020-01-01T00:00:00Z"
        refused = http.get("/v1/api-keys", headers=auth)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "key_expired"
        again = http.post("/v1/auth/token", json={"api_key": CANARY_API_KEY})
        assert again.status_code == 401 and again.json()["error"]["code"] == "key_expired"
