"""The real client, ``keyscope fetch``, ``audit --snapshot``, ``plan`` and ``apply`` against
the real sandbox server on 127.0.0.1 (a thread in this process, port 0).

Nothing here leaves loopback: the client refuses plain http to anything else, and the
redirect test checks at the socket level that no other address is ever dialled.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyscope.cli import main
from keyscope.errors import UsageError
from keyscope.sandbox import SANDBOX_KEY_ID, Fault, RunningSandbox, Sandbox, make_server
from keyscope.sources.live import (
    ApiKeyCredential,
    PlatformClient,
    key_path,
    parse_platform_settings,
)

from .conftest import CANARY_API_KEY, write_config

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-01"
CANARY_PARTS = ("CANARYintegration", "0000000000042")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def client_for(running: RunningSandbox, **platform: Any) -> PlatformClient:
    settings = parse_platform_settings(
        {"base_url": running.base_url, "backoff_base": 0.01, **platform}
    )
    return PlatformClient(settings, ApiKeyCredential(CANARY_API_KEY, "test"))


def fetch(
    capsys: pytest.CaptureFixture[str], folder: str = "snap", *extra: str
) -> tuple[int, str, str]:
    return run_cli(capsys, "fetch", "--output", folder, "--as-of", AS_OF, "-q", *extra)


def fetch_week(capsys: pytest.CaptureFixture[str], folder: str = "snap") -> tuple[int, str, str]:
    """A 7-day window: a page or two per key, for tests about the transport."""
    return fetch(capsys, folder, "--window-days", "7")


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY_API_KEY not in text
        for part in CANARY_PARTS:
            assert part not in text


def all_file_text(folder: Path) -> str:
    chunks = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            chunks.append(data.decode("utf-8", "replace"))
    return "\n".join(chunks)


# --------------------------------------------------------------------------- the server itself


def test_the_sandbox_binds_to_loopback_only(sandbox: Sandbox) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.test"):
        with pytest.raises(UsageError, match="loopback addresses only"):
            make_server(sandbox, host, 0)


def test_faults_are_parsed_strictly() -> None:
    assert Fault.parse("error@2:/v1/api-keys") == Fault("error", "/v1/api-keys", 2)
    assert Fault.parse("drip") == Fault("drip", "", None)
    for bad in ("boom", "error@x", "error:v1"):
        with pytest.raises(UsageError):
            Fault.parse(bad)


def test_token_exchange_scopes_and_idempotency_over_http(
    running: RunningSandbox, sandbox: Sandbox
) -> None:
    with httpx.Client(base_url=running.base_url) as http:
        assert (
            http.post("/v1/auth/token", json={"api_key": "ks_test_wrong000000000000"}).status_code
            == 401
        )
        assert http.get("/v1/api-keys").status_code == 401  # no token
        token = http.post("/v1/auth/token", json={"api_key": CANARY_API_KEY}).json()
        assert token["key_id"] == SANDBOX_KEY_ID and token["expires_in"] > 0
        auth = {"Authorization": f"Bearer {token['access_token']}"}

        body = {"name": "reporting", "scopes": ["invoices:read"]}
        first = http.post("/v1/api-keys", json=body, headers={**auth, "Idempotency-Key": "k-1"})
        assert first.status_code == 201 and first.json()["secret"].startswith("ks_test_")
        replay = http.post("/v1/api-keys", json=body, headers={**auth, "Idempotency-Key": "k-1"})
        assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["id"] == first.json()["id"]  # no second key
        other = http.post(
            "/v1/api-keys",
            json={**body, "scopes": ["payouts:write"]},
            headers={**auth, "Idempotency-Key": "k-1"},
        )
        assert (
            other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        )

        new_id = first.json()["id"]
        shown = http.get(f"/v1/api-keys/{new_id}", headers=auth).json()
        assert "secret" not in shown  # returned once, at creation only
        assert (
            http.post(f"/v1/api-keys/{new_id}/revoke", headers=auth).json()["status"] == "revoked"
        )
        again = http.post(f"/v1/api-keys/{new_id}/revoke", headers=auth)
        assert (
            again.status_code == 200 and again.json()["status"] == "revoked"
        )  # documented: idempotent

        # The new key's own secret works, and its scope is enforced.
        narrow = http.post("/v1/auth/token", json={"api_key": first.json()["secret"]})
        assert narrow.status_code == 401  # revoked just now
        second = http.post(
            "/v1/api-keys", json={"name": "narrow", "scopes": ["invoices:read"]}, headers=auth
        )
        narrow_token = http.post("/v1/auth/token", json={"api_key": second.json()["secret"]}).json()
        denied = http.get(
            "/v1/api-keys", headers={"Authorization": f"Bearer {narrow_token['access_token']}"}
        )
        assert denied.status_code == 403 and denied.json()["error"]["required_scopes"] == [
            "api_keys:read"
        ]

        # A key with no scopes (what a key whose requests need none is replaced by) can be
        # created and exchanged; it reaches public routes only.  Full access cannot.
        bare = http.post("/v1/api-keys", json={"name": "bare", "scopes": []}, headers=auth)
        assert bare.status_code == 201 and bare.json()["scopes"] == []
        assert http.post("/v1/auth/token", json={"api_key": bare.json()["secret"]}).is_success
        legacy = http.post("/v1/api-keys", json={"name": "old", "scopes": None}, headers=auth)
        assert legacy.status_code == 422 and legacy.json()["error"]["code"] == "invalid_scopes"


def test_the_rate_limit_answers_429_with_retry_after(
    running: RunningSandbox, sandbox: Sandbox
) -> None:
    sandbox.rate_limit, sandbox.burst = 1.0, 2
    with httpx.Client(base_url=running.base_url) as http:
        token = http.post("/v1/auth/token", json={"api_key": CANARY_API_KEY}).json()["access_token"]
        statuses = [
            http.get("/v1/api-keys", headers={"Authorization": f"Bearer {token}"}) for _ in range(4)
        ]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(r.headers["Retry-After"].isdigit() for r in limited)


# ------------------------------------------------------------------- the client on real sockets


def test_the_client_reads_keys_and_usage_completely(running: RunningSandbox) -> None:
    with client_for(running) as client:
        keys = client.fetch_all(client.settings.paths.keys, what="keys")
        assert keys.complete and len(keys.items) == 22
        assert client.current_key_id() == SANDBOX_KEY_ID
        usage = client.fetch_all(
            key_path(client.settings.paths.requests, "key_fhzdcdorvij295fi"),
            {"since": "2026-08-03T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        )
        assert usage.complete and usage.pages > 1
        assert all("2026-08-03" <= event["timestamp"] < "2026-11-01" for event in usage.items)


def test_an_access_token_expiring_mid_pagination_is_refreshed_once(
    running: RunningSandbox, sandbox: Sandbox
) -> None:
    with client_for(running, page_limit=5) as client:
        result = client.fetch_all(
            client.settings.paths.keys,
            what="keys",
            on_page=lambda pages, items: sandbox.expire_tokens(),
        )
    assert result.complete and len(result.items) == 22
    exchanges = [r for r in sandbox.log if r.path == "/v1/auth/token"]
    unauthorized = [r for r in sandbox.log if r.status == 401]
    assert len(unauthorized) == result.pages - 1  # every page after the first met an expired token
    assert len(exchanges) == result.pages  # one refresh per 401, never a loop


def test_a_revoked_credential_fails_clearly_after_one_refresh(
    running: RunningSandbox, sandbox: Sandbox
) -> None:
    with client_for(running) as client:
        client.get_json(client.settings.paths.keys)
        sandbox.data.keys[SANDBOX_KEY_ID]["status"] = "revoked"
        sandbox.expire_tokens()
        with pytest.raises(Exception, match="rejected the API key from test") as caught:
            client.get_json(client.settings.paths.keys)
    assert caught.value.exit_code == 5  # type: ignore[attr-defined]
    assert_no_canary(str(caught.value))


# --------------------------------------------------------------------------- fetch + audit


def test_fetch_writes_a_complete_verified_snapshot(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = fetch(capsys)
    assert code == 0, err
    assert "22 keys" in out and "complete" in out
    snap = workdir / "snap"
    assert sorted(p.name for p in snap.iterdir()) == [
        "keys.json",
        "manifest.json",
        "spec.json",
        "usage.jsonl.gz",
    ]
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["incomplete_reasons"] == []
    assert manifest["window"] == {
        "start": "2026-08-03T00:00:00Z",
        "end": "2026-11-01T00:00:00Z",
        "days": 90,
    }
    assert manifest["counts"]["keys"] == 22 and manifest["counts"]["operations"] == 62
    lines = gzip.decompress((snap / "usage.jsonl.gz").read_bytes()).splitlines()
    assert len(lines) == manifest["counts"]["usage_events"] > 30_000
    assert manifest["base_url"].startswith("http://127.0.0.1:")
    import hashlib

    for name, entry in manifest["files"].items():
        assert hashlib.sha256((snap / name).read_bytes()).hexdigest() == entry["sha256"]
    assert not list(workdir.glob(".snap.*.tmp")) and not list(workdir.glob(".snap.*.old"))
    assert_no_canary(out, err, all_file_text(workdir))


def test_the_snapshot_audit_equals_the_audit_of_the_files(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same sample, through the platform API or from the committed files, gives the
    same suggestions for every key of the inventory."""
    code, _, err = run_cli(
        capsys, "audit", "--snapshot", "snap", "--format", "json", "-o", "live.json"
    )
    assert code == 0, err
    code, _, err = run_cli(
        capsys,
        "audit",
        "--config",
        str(REPO / "keyscope.toml"),
        "--format",
        "json",
        "-o",
        "files.json",
    )
    assert code == 0, err
    live = {key["id"]: key for key in json.loads((workdir / "live.json").read_text())["keys"]}
    files = {key["id"]: key for key in json.loads((workdir / "files.json").read_text())["keys"]}
    assert set(files) <= set(live) and set(live) - set(files) == {SANDBOX_KEY_ID}
    for key_id, expected in files.items():
        for field in ("suggested_scopes", "excess_scopes", "used_scopes", "confidence"):
            assert live[key_id][field] == expected[field], (key_id, field)


def test_audit_live_fetches_then_audits(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "audit", "--live", "--as-of", AS_OF, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["complete"] is True and len(result["keys"]) == 22
    # Only keyscope.toml: the temporary snapshot is gone with its folder.
    assert sorted(p.name for p in workdir.iterdir()) == ["keyscope.toml"]
    assert_no_canary(out, err)


def test_a_cursor_loop_marks_the_snapshot_and_the_audit_incomplete(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    sandbox.add_fault("loop", "/v1/api-keys/key_fhzdcdorvij295fi/requests")
    code, out, err = fetch(capsys, "snap", "--window-days", "7", "--fail-on-incomplete")
    assert code == 4  # written anyway, then the exit says incomplete
    assert "INCOMPLETE" in out and "cursor loop" in err
    manifest = json.loads((workdir / "snap" / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert any(
        "requests of key_fhzdcdorvij295fi" in r and "cursor loop" in r
        for r in manifest["incomplete_reasons"]
    )
    code, out, err = run_cli(
        capsys, "audit", "--snapshot", "snap", "--format", "json", "--fail-on-incomplete"
    )
    assert code == 4
    result = json.loads(out)
    assert result["complete"] is False
    assert any("cursor loop" in reason for reason in result["incomplete_reasons"])
    code, _, err = run_cli(capsys, "plan", "--snapshot", "snap", "--output", "plan.json")
    assert code == 4 and "no remediation is planned from partial data" in err
    assert not (workdir / "plan.json").exists()


def test_a_secret_in_a_key_name_is_redacted_yet_reported_and_renamed(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    leaked = "sk_live_LEAKEDinTheName0000000099"
    sandbox.data.keys["key_l53gyj955ahj8j4n"]["name"] = f"Invoicing sync {leaked}"
    assert fetch(capsys)[0] == 0
    assert leaked not in all_file_text(workdir)
    code, out, _ = run_cli(capsys, "audit", "--snapshot", "snap", "--format", "json")
    findings = json.loads(out)["findings"]
    assert any(
        f["rule"] == "secret-in-name" and f["key_id"] == "key_l53gyj955ahj8j4n" for f in findings
    )
    code, out, err = run_cli(capsys, "plan", "--snapshot", "snap", "--output", "plan.json")
    assert code == 0, err
    steps = {s["id"]: s for s in json.loads((workdir / "plan.json").read_text())["steps"]}
    rename = steps["rename:key_l53gyj955ahj8j4n"]
    assert rename["name"].startswith("Invoicing sync sk_live_") and leaked not in rename["name"]
    assert leaked not in out + err


def test_a_tampered_snapshot_is_refused(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = snapshot_copy / "keys.json"
    keys.write_text(keys.read_text().replace("invoices:read", "invoices:write", 1))
    code, _, err = run_cli(capsys, "audit", "--snapshot", "snap")
    assert code == 3 and "keys.json: sha256 differs from the manifest" in err


def test_fetch_refuses_to_overwrite_a_folder_that_is_not_a_snapshot(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "precious").mkdir()
    (workdir / "precious" / "thesis.tex").write_text("do not delete")
    code, _, err = fetch_week(capsys, "precious")
    assert code == 3 and "refusing to replace it" in err
    assert (workdir / "precious" / "thesis.tex").read_text() == "do not delete"
    assert fetch_week(capsys, "snap")[0] == 0
    first = (workdir / "snap" / "manifest.json").read_text()
    assert fetch_week(capsys, "snap")[0] == 0  # an earlier snapshot is replaced
    assert (
        json.loads((workdir / "snap" / "manifest.json").read_text())["counts"]
        == json.loads(first)["counts"]
    )


# --------------------------------------------------------------------------- faults


def test_a_slow_drip_ends_at_the_deadline(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    write_config(workdir, request_deadline=1.5, read_timeout=5.0)
    sandbox.drip_interval = 0.25  # never silent long enough for the read timeout
    sandbox.add_fault("drip", "/v1/openapi.json")
    started = time.monotonic()
    code, _, err = fetch(capsys)
    elapsed = time.monotonic() - started
    assert code == 5 and "still arriving after the 1.5 s deadline" in err
    assert elapsed < 5.0
    assert not (workdir / "snap").exists()


def test_a_server_dripping_its_headers_ends_at_the_request_deadline(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    write_config(workdir, request_deadline=1.5, read_timeout=5.0)
    sandbox.drip_interval = 0.25  # ~100 header bytes: ~25 s if only the read timeout applied
    sandbox.add_fault("header-drip", "/v1/openapi.json")
    started = time.monotonic()
    code, out, err = fetch(capsys)
    elapsed = time.monotonic() - started
    assert code == 5, err
    assert "GET /v1/openapi.json: no response within the 1.5 s deadline" in err
    assert 1.4 <= elapsed < 6.0  # the deadline plus generous slack, not the drip's length
    assert [r.fault for r in sandbox.log if r.path == "/v1/openapi.json"] == ["header-drip"]
    assert not (workdir / "snap").exists()
    assert_no_canary(out, err)


def test_a_header_drip_is_also_bounded_by_the_run_deadline(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    write_config(workdir, request_deadline=60.0, run_deadline=2.0, read_timeout=5.0)
    sandbox.drip_interval = 0.25
    sandbox.add_fault("header-drip", "/v1/openapi.json")
    started = time.monotonic()
    code, _, err = fetch(capsys)
    elapsed = time.monotonic() - started
    assert code == 5, err
    assert "GET /v1/openapi.json" in err and "deadline" in err
    assert elapsed < 6.5  # within the 2 s run deadline plus slack, not a minute


def test_header_drip_fault_still_delivers_a_whole_answer_when_waited_for(
    running: RunningSandbox, sandbox: Sandbox
) -> None:
    sandbox.drip_interval = 0.001
    with client_for(running, request_deadline=30.0) as client:
        sandbox.add_fault("header-drip", "/v1/openapi.json", count=1)
        spec = client.get_json("/v1/openapi.json")
    assert isinstance(spec, dict) and "paths" in spec


def test_a_slow_answer_times_out_and_is_retried(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    write_config(workdir, read_timeout=0.5)
    sandbox.slow_seconds = 1.5
    sandbox.add_fault("slow", "/v1/openapi.json", count=1)
    code, _, err = fetch_week(capsys)
    assert code == 0, err
    assert [r.fault for r in sandbox.log if r.path == "/v1/openapi.json"] == ["slow", ""]


def test_5xx_and_429_are_retried(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    sandbox.add_fault("error", "/v1/api-keys", count=2)
    sandbox.add_fault("ratelimit", "/v1/openapi.json", count=1)
    code, _, err = fetch_week(capsys)
    assert code == 0, err
    statuses = [r.status for r in sandbox.log]
    assert statuses.count(503) == 2 and statuses.count(429) == 1


def test_retries_give_up_with_a_clear_error(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    sandbox.add_fault("error500", "/v1/api-keys")
    code, _, err = fetch(capsys)
    assert code == 5 and "GET /v1/api-keys: gave up after 4 attempts (HTTP 500)" in err


def test_a_truncated_body_is_a_clear_error(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    sandbox.add_fault("truncate", "/v1/openapi.json")
    code, _, err = fetch(capsys)
    assert code == 5 and "truncated response" in err and err.count("\n") == 1


def test_an_html_login_page_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    sandbox.add_fault("html", "/v1/api-keys")
    code, _, err = fetch(capsys)
    assert code == 5 and "expected JSON, got text/html (a login page" in err


def test_an_oversized_body_stops_at_the_cap(
    workdir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    write_config(workdir, max_response_bytes=1_000_000)
    sandbox.oversize_bytes = 50_000_000
    sandbox.add_fault("oversize", "/v1/openapi.json")
    code, _, err = fetch(capsys)
    assert code == 5 and "over the 1000000-byte cap" in err


def test_a_redirect_elsewhere_is_refused_without_dialling_it(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dialled: list[Any] = []
    real = socket.create_connection

    def recording(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        dialled.append(address[0])
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording)
    sandbox.add_fault("redirect", "/v1/api-keys")
    code, _, err = fetch(capsys)
    assert code == 5 and "redirect to http://169.254.169.254 refused" in err
    assert dialled and set(dialled) == {"127.0.0.1"}


# --------------------------------------------------------------------------- plan + apply


def planned(snapshot: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    """``keyscope plan`` over ``./snap`` (a copy of the session's pristine snapshot).

    Dormant keys are revoked at once here (``--dormant revoke``): these tests exercise
    immediate revokes; the default time box is tested in ``test_dormant_expiry.py``.
    """
    assert snapshot.name == "snap" and (snapshot / "manifest.json").is_file()
    code, out, err = run_cli(
        capsys, "plan", "--snapshot", "snap", "--output", "plan.json", "--dormant", "revoke",
        *extra,
    )  # fmt: skip
    assert code == 0, err
    assert "remediation plan as of 2026-11-01" in out
    return json.loads((snapshot.parent / "plan.json").read_text())


def test_plan_targets_only_keys_the_audit_could_judge(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = planned(snapshot_copy, capsys)
    _, out, _ = run_cli(capsys, "audit", "--snapshot", "snap", "--format", "json")
    keys = {key["id"]: key for key in json.loads(out)["keys"]}
    targeted = {step["key_id"] for step in plan["steps"]}
    for key_id in targeted:
        assert keys[key_id]["status"] == "active" and keys[key_id]["confidence"] != "insufficient"
    creates = {step["key_id"]: step for step in plan["steps"] if step["action"] == "create"}
    assert creates["key_l53gyj955ahj8j4n"]["scopes"] == ["invoices:read"]
    assert creates["key_l53gyj955ahj8j4n"]["name"] == "Invoicing sync (least privilege)"
    ids = [step["id"] for step in plan["steps"]]
    assert ids.index("create:key_l53gyj955ahj8j4n") < ids.index("revoke:key_l53gyj955ahj8j4n")
    assert "revoke:key_73ej48w8rh8hyoeo" in ids  # dormant
    assert plan["inputs"]["digest"] and plan["base_url"].startswith("http://127.0.0.1:")


def test_apply_without_execute_makes_no_request_at_all(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    before = len(sandbox.log)
    code, out, _ = run_cli(capsys, "apply", "plan.json")
    assert code == 0 and "would create key 'Invoicing sync (least privilege)'" in out
    assert "dry run: nothing was changed and no request was made" in out
    assert len(sandbox.log) == before and sandbox.writes() == []
    assert not (workdir / "plan.journal.jsonl").exists()


def test_execute_needs_confirmation_when_not_in_a_terminal(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    before = len(sandbox.log)
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--secrets-file", "new.secrets"
    )
    assert code == 2 and "without confirmation" in err
    assert len(sandbox.log) == before and not (workdir / "new.secrets").exists()


def test_execute_refuses_to_revoke_the_key_keyscope_is_using(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    plan = planned(snapshot_copy, capsys)
    assert "revoke:key_keyscopeauditor1" in [step["id"] for step in plan["steps"]]  # it is dormant
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "new.secrets"
    )
    assert code == 2 and "would revoke key_keyscopeauditor1, the key keyscope is using" in err
    assert sandbox.writes() == []
    assert sandbox.data.keys[SANDBOX_KEY_ID]["status"] == "active"


def test_execute_applies_journals_and_keeps_secrets_in_the_named_file_only(
    workdir: Path,
    snapshot_copy: Path,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = planned(snapshot_copy, capsys, "--dual-run-days", "0")
    journal = workdir / "plan.journal.jsonl"
    # Every change must already be in the journal, with its key, when it reaches the server.
    real_handle = sandbox.handle
    unjournaled: list[str] = []

    def checking(method: str, target: str, headers: Any, body: bytes) -> Any:
        key = headers.get("idempotency-key", "")
        if key and key not in (journal.read_text() if journal.exists() else ""):
            unjournaled.append(key)
        return real_handle(method, target, headers, body)

    monkeypatch.setattr(sandbox, "handle", checking)
    skip = ("--skip", "revoke:key_keyscopeauditor1")
    code, out, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "new.secrets", *skip
    )
    assert code == 0, err
    creates = [s for s in plan["steps"] if s["action"] == "create"]
    assert f"applied {len(creates) + 2} change(s)" in out  # creates + two dormant revokes
    assert unjournaled == []
    secrets_path = workdir / "new.secrets"
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    secrets = [json.loads(line) for line in secrets_path.read_text().splitlines()]
    assert len(secrets) == len(creates)
    for record in secrets:
        assert record["secret"].startswith("ks_test_")
        assert record["secret"] not in out + err + journal.read_text()
        assert sandbox.data.keys[record["key_id"]]["scopes"] == record["scopes"]
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    intents = [e for e in events if e["event"] == "intent"]
    assert len(intents) == len(creates) + 2 and all(e["idempotency_key"] for e in intents)
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600

    # The second run: the dual run (0 days) is over, the replaced keys get revoked.
    code, out, err = run_cli(capsys, "apply", "plan.json", "--execute", "--yes", *skip)
    assert code == 0, err
    for step in creates:
        assert sandbox.data.keys[step["key_id"]]["status"] == "revoked"
    # A third run has nothing left to do and makes no change.
    writes = len(sandbox.writes())
    code, out, _ = run_cli(capsys, "apply", "plan.json", "--execute", "--yes", *skip)
    assert code == 0 and "nothing is due now" in out and len(sandbox.writes()) == writes


def test_a_lost_answer_is_retried_with_the_same_idempotency_key(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    write_config(workdir, read_timeout=0.5)
    planned(snapshot_copy, capsys)
    sandbox.lost_seconds = 1.5
    sandbox.add_fault(
        "lost", "/v1/api-keys", count=1
    )  # the first change is made, its answer is late
    keys_before = len(sandbox.data.keys)
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
        "--skip", "revoke:key_keyscopeauditor1",
    )  # fmt: skip
    assert code == 0, err
    writes = sandbox.writes()
    first, replay = writes[0], writes[1]
    assert (
        first.fault == "lost"
        and replay.idempotency_key == first.idempotency_key
        and replay.replayed
    )
    created = len(sandbox.data.keys) - keys_before
    assert created == len((workdir / "s.jsonl").read_text().splitlines())  # one key per create step


def test_an_interrupted_step_is_resumed_with_its_journaled_key(
    workdir: Path,
    snapshot_copy: Path,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
    running: RunningSandbox,
) -> None:
    planned(snapshot_copy, capsys)
    # A previous run journaled its intent and sent the revoke, then died before the answer.
    with client_for(running) as client:
        client.send_write(
            "POST", "/v1/api-keys/key_73ej48w8rh8hyoeo/revoke", None, idempotency_key="crashed-1"
        )
    (workdir / "plan.journal.jsonl").write_text(
        json.dumps(
            {
                "event": "intent",
                "step_id": "revoke:key_73ej48w8rh8hyoeo",
                "idempotency_key": "crashed-1",
                "time": "2026-11-02T00:00:00Z",
            }
        )
        + "\n"
    )
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
        "--skip", "revoke:key_keyscopeauditor1",
    )  # fmt: skip
    assert code == 0, err
    resumed = [w for w in sandbox.writes() if w.path.endswith("key_73ej48w8rh8hyoeo/revoke")]
    assert [w.idempotency_key for w in resumed] == ["crashed-1", "crashed-1"]
    assert resumed[1].replayed


def test_already_revoked_counts_as_success_even_as_404(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    sandbox.revoked_status = 404
    sandbox.data.keys["key_73ej48w8rh8hyoeo"]["status"] = "revoked"  # someone was faster
    code, out, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
        "--skip", "revoke:key_keyscopeauditor1",
    )  # fmt: skip
    assert code == 0, err
    assert "done: revoke:key_73ej48w8rh8hyoeo (already revoked or gone (404))" in out


def test_a_stale_plan_is_refused(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    sandbox.data.keys["key_l53gyj955ahj8j4n"]["scopes"] = ["invoices:write"]
    assert fetch(capsys)[0] == 0  # a fresh snapshot into the same folder: the plan's inputs changed
    code, _, err = run_cli(capsys, "apply", "plan.json")
    assert code == 3 and "stale plan: its inputs changed since it was made (keys)" in err
    assert sandbox.writes() == []


def test_a_key_changed_on_the_platform_since_the_plan_is_refused(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    sandbox.data.keys["key_l53gyj955ahj8j4n"]["scopes"] = ["invoices:write"]
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
        "--skip", "revoke:key_keyscopeauditor1",
    )  # fmt: skip
    assert code == 3 and "key key_l53gyj955ahj8j4n changed on the platform" in err
    assert sandbox.writes() == []


def test_apply_stops_at_the_first_failure(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    sandbox.add_fault("error500", "/v1/api-keys/key_73ej48w8rh8hyoeo/revoke")
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
        "--skip", "revoke:key_keyscopeauditor1",
    )  # fmt: skip
    assert code == 5 and "step revoke:key_73ej48w8rh8hyoeo failed" in err and "stopped" in err
    events = [
        json.loads(line) for line in (workdir / "plan.journal.jsonl").read_text().splitlines()
    ]
    # A 500 may come after the change was made: the step stays in doubt with its key.
    assert [e["event"] for e in events if e.get("step_id") == "revoke:key_73ej48w8rh8hyoeo"] == [
        "intent",
        "in-doubt",
    ]
    attempted = {e["step_id"] for e in events if e["event"] == "intent"}
    ids = [s["step_id"] for s in events if "step_id" in s]
    assert ids[-1] == "revoke:key_73ej48w8rh8hyoeo"  # nothing after the failure
    assert "revoke:key_rvh4llazukc6935q" not in attempted


def test_the_secrets_file_must_be_new_or_empty(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    planned(snapshot_copy, capsys)
    (workdir / "old.secrets").write_text("someone's earlier secrets\n")
    code, _, err = run_cli(
        capsys, "apply", "plan.json", "--execute", "--yes", "--secrets-file", "old.secrets"
    )
    assert code == 2 and "must not exist yet, or be an empty regular file" in err
    assert (workdir / "old.secrets").read_text() == "someone's earlier secrets\n"
    assert sandbox.writes() == []


# --------------------------------------------------------------------------- the canary, end to end


def test_the_api_key_never_reaches_argv_output_or_files(
    workdir: Path, running: RunningSandbox
) -> None:
    """P1/P2 across processes: fetch, audit, plan and apply as real subprocesses."""
    env = {
        **os.environ,
        "KEYSCOPE_API_KEY": CANARY_API_KEY,
        "KEYSCOPE_PLATFORM_URL": running.base_url,
    }
    keyscope = [sys.executable, "-m", "keyscope", "--debug"]
    steps = [
        ["fetch", "--output", "snap", "--as-of", AS_OF],
        ["audit", "--snapshot", "snap", "--format", "json", "-o", "audit.json"],
        ["plan", "--snapshot", "snap", "--output", "plan.json", "--dormant", "revoke"],
        ["apply", "plan.json", "--execute", "--yes", "--secrets-file", "s.jsonl",
         "--skip", "revoke:key_keyscopeauditor1"],
        ["apply", "plan.json", "--execute", "--yes"],  # refused (self-revoke): an error path too
    ]  # fmt: skip
    outputs: list[str] = []
    for argv in steps:
        process = subprocess.Popen(
            [*keyscope, *argv], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode("utf-8", "replace")
        out, err = process.communicate(timeout=120)
        outputs += [cmdline, out.decode(), err.decode()]
        assert process.returncode in (0, 2), err.decode()
    files = all_file_text(workdir)
    secrets_file = (workdir / "s.jsonl").read_text()
    assert_no_canary(*outputs, files)
    assert "ks_test_" in secrets_file  # the new keys' secrets are there, and only there
    for record in secrets_file.splitlines():
        secret = json.loads(record)["secret"]
        assert all(secret not in text for text in outputs)
        assert secret not in files.replace(secrets_file, "")


# --------------------------------------------------------------------------- environment and CLI


def test_snapshot_audit_plan_and_dry_run_need_no_network(
    workdir: Path,
    snapshot_copy: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """P8: only fetch, --live and apply --execute open connections."""

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert run_cli(capsys, "audit", "--snapshot", "snap", "--format", "json")[0] == 0
    assert run_cli(capsys, "plan", "--snapshot", "snap", "--output", "plan.json")[0] == 0
    assert run_cli(capsys, "apply", "plan.json")[0] == 0


def test_no_trust_env_ignores_a_proxy_from_the_environment(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    monkeypatch.setenv("HTTP_PROXY", f"http://bob:hunter2@127.0.0.1:{dead.getsockname()[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        code, _, err = run_cli(
            capsys, "--debug", "fetch", "--output", "snap", "--as-of", AS_OF, "-q"
        )
        assert code == 5 and "connection failed" in err
        assert "HTTP_PROXY=http://***@127.0.0.1" in err and "hunter2" not in err
        code, _, err = run_cli(
            capsys, "--debug", "fetch", "--output", "snap", "--as-of", AS_OF, "-q",
            "--window-days", "7", "--no-trust-env",
        )  # fmt: skip
        assert code == 0, err
        assert "environment: ignored (--no-trust-env)" in err
    finally:
        dead.close()


def test_faults_can_be_asked_for_per_request(running: RunningSandbox) -> None:
    with httpx.Client(base_url=running.base_url) as http:
        page = http.get("/v1/health", headers={"X-Sandbox-Fault": "html"})
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert http.get("/v1/health", params={"sandbox_fault": "error"}).status_code == 503
        assert http.get("/v1/health").json()["status"] == "ok"


def test_the_sandbox_command_serves_and_never_prints_its_key(tmp_path: Path) -> None:
    key_file = tmp_path / "sandbox.key"
    env = {k: v for k, v in os.environ.items() if k != "KEYSCOPE_API_KEY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "keyscope", "sandbox", "--port", "0",
         "--api-key-file", str(key_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "serving the partner API at http://127.0.0.1:" in first
        url = first.split(" at ", 1)[1].split()[0]
        secret = key_file.read_text().strip()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and secret.startswith("ks_test_")
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/v1/health").json()["status"] == "ok"
            token = http.post("/v1/auth/token", json={"api_key": secret})
            assert token.status_code == 200 and token.json()["key_id"] == SANDBOX_KEY_ID
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert secret not in first + out + err


def test_the_sandbox_command_needs_a_key_to_accept(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KEYSCOPE_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "keyscope", "sandbox", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "set KEYSCOPE_API_KEY or pass --api-key-file" in done.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "keyscope", "sandbox", "--host", "0.0.0.0", "--port", "0"],
        env={**env, "KEYSCOPE_API_KEY": "ks_test_0000000000000000"}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "loopback addresses only" in refused.stderr


def test_in_a_terminal_the_environment_name_must_be_typed(
    workdir: Path, snapshot_copy: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    planned(snapshot_copy, capsys)
    prompts: list[str] = []
    answers = iter(["production", "127.0.0.1"])

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", typed)
    argv = ("apply", "plan.json", "--execute", "--secrets-file", "s.jsonl",
            "--skip", "revoke:key_keyscopeauditor1")  # fmt: skip
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "confirmation did not match; nothing was changed" in err
    assert sandbox.writes() == [] and "Type the environment name (127.0.0.1)" in prompts[0]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert sandbox.writes() and "applied" in out


def test_fetch_without_a_base_url_says_where_to_set_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KEYSCOPE_PLATFORM_URL", raising=False)
    monkeypatch.delenv("KEYSCOPE_CONFIG", raising=False)
    monkeypatch.setenv("KEYSCOPE_API_KEY", CANARY_API_KEY)
    code, _, err = run_cli(capsys, "fetch", "--output", "snap")
    assert code == 3 and "no platform base URL: set [platform] base_url" in err
    code, _, err = run_cli(
        capsys, "fetch", "--output", "snap", "--base-url", "http://10.1.2.3:8080"
    )
    assert code == 3 and "refusing plain http:// to 10.1.2.3" in err
    assert_no_canary(err)
