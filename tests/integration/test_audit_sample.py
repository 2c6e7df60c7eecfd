"""End to end: `keyscope audit` on the repository's keyscope.toml tells the sample's stories."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from keyscope.cli import main

REPO = Path(__file__).resolve().parents[2]

ACCOUNTANT = "key_fhzdcdorvij295fi"
RECONCILIATION = "key_awb5yg5algvpltub"
REFUNDS_OPERATOR = "key_kp0tvp307dd22kv5"
INVOICING_SYNC = "key_l53gyj955ahj8j4n"
ERP_LEGACY = "key_tuatww41kcywm881"
PAYOUT_BATCH_LEGACY = "key_i2h6767ck7f46kes"
OLD_PLUGIN_LEGACY = "key_rvh4llazukc6935q"
DORMANT = "key_73ej48w8rh8hyoeo"
REVOKED = "key_t5alncjd5yxlc4rz"
YOUNG = "key_0br6c7utckkx7g35"
PROBED = "key_8bdk6esj432y9qr0"
MARKUP_NAME = "key_y2060ibnvu50vuek"
UNKNOWN_SCOPE = "key_d79ckvkdzuwutevc"
ZAPIER_WRITER = "key_fi2jtw3n2j8c0twl"


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    """The JSON result of `keyscope audit` run in the repository (its keyscope.toml)."""
    saved_env = {k: v for k, v in os.environ.items() if k.startswith("KEYSCOPE_")}
    for name in saved_env:
        del os.environ[name]
    saved_cwd = Path.cwd()
    os.chdir(REPO)
    try:
        import io
        from contextlib import redirect_stdout

        buffer = io.StringIO()
        with redirect_stdout(buffer):
            code = main(["audit", "--format", "json"])
        assert code == 0
        return json.loads(buffer.getvalue())
    finally:
        os.chdir(saved_cwd)
        os.environ.update(saved_env)


def key(result: dict[str, Any], key_id: str) -> dict[str, Any]:
    (entry,) = [k for k in result["keys"] if k["id"] == key_id]
    return entry


def rules(entry: dict[str, Any]) -> set[str]:
    return {finding["rule"] for finding in entry["findings"]}


def test_the_sample_run_is_complete(result: dict[str, Any]) -> None:
    assert result["complete"] is True
    assert result["as_of"] == "2026-11-01T00:00:00Z"
    assert result["window"]["days"] == 90
    assert len(result["keys"]) >= 15
    assert result["data_quality"]["bad_lines"] > 0  # the sample's planted bad lines, counted


@pytest.mark.parametrize(
    ("key_id", "scopes"),
    [
        (ACCOUNTANT, ["customers:read", "invoices:read"]),
        (RECONCILIATION, ["payments:read"]),
        (REFUNDS_OPERATOR, ["refunds:write"]),
    ],
)
def test_right_sized_platform_examples_have_no_excess(
    result: dict[str, Any], key_id: str, scopes: list[str]
) -> None:
    entry = key(result, key_id)
    assert entry["suggested_scopes"] == scopes
    assert entry["excess_scopes"] == []
    assert entry["findings"] == []
    assert entry["confidence"] in ("high", "medium")


def test_over_privileged_sync_key(result: dict[str, Any]) -> None:
    entry = key(result, INVOICING_SYNC)
    assert entry["suggested_scopes"] == ["invoices:read"]
    assert entry["excess_scopes"] == ["invoices:write", "payouts:write", "webhooks:write"]
    severities = {f["subject"]: f["severity"] for f in entry["findings"]}
    assert severities["payouts:write"] == "high"
    assert entry["risk_score_after"] < entry["risk_score"]
    evidence = {e["scope"]: e for e in entry["evidence"]}
    assert evidence["invoices:read"]["requests"] > 0
    assert all(
        op["operation"].startswith("GET /invoices")
        for op in evidence["invoices:read"]["operations"]
    )


def test_legacy_erp_key_migrates_to_invoices_and_customers(result: dict[str, Any]) -> None:
    entry = key(result, ERP_LEGACY)
    assert entry["full_access"] is True
    assert entry["suggested_scopes"] == ["customers:write", "invoices:write"]
    assert "legacy-full-access" in rules(entry)
    assert "payouts:write" in entry["excess_scopes"]
    assert any(row["path"] == "/legacy/charges" for row in entry["unmatched"])


def test_legacy_payout_batch_is_periodic_not_dormant(result: dict[str, Any]) -> None:
    entry = key(result, PAYOUT_BATCH_LEGACY)
    assert entry["suggested_scopes"] == ["payouts:write"]
    assert "dormant-key" not in rules(entry)
    assert any("periodic" in reason for reason in entry["confidence_reasons"])


def test_unused_legacy_and_dormant_keys(result: dict[str, Any]) -> None:
    plugin = key(result, OLD_PLUGIN_LEGACY)
    assert {"legacy-full-access", "dormant-key"} <= rules(plugin)
    assert plugin["suggested_scopes"] == []
    dormant = key(result, DORMANT)
    assert rules(dormant) == {"dormant-key"}


def test_probed_key_gets_denied_requests_never_usage(result: dict[str, Any]) -> None:
    entry = key(result, PROBED)
    assert entry["suggested_scopes"] == ["customers:read", "payments:read"]
    assert entry["excess_scopes"] == []
    denied = [f for f in entry["findings"] if f["rule"] == "denied-requests"]
    subjects = {f["subject"] for f in denied}
    assert {"payouts:write", "payouts:read"} <= subjects
    assert any(f["severity"] == "high" for f in denied)
    assert "payouts:write" in entry["missing_scopes"]


def test_young_key_is_insufficient_and_keeps_grants(result: dict[str, Any]) -> None:
    entry = key(result, YOUNG)
    assert entry["confidence"] == "insufficient"
    assert entry["suggested_scopes"] == entry["assigned_scopes"]
    assert entry["excess_scopes"] == []
    assert rules(entry) == {"insufficient-data"}


def test_revoked_key_has_no_findings(result: dict[str, Any]) -> None:
    entry = key(result, REVOKED)
    assert entry["status"] == "revoked"
    assert entry["findings"] == []
    assert not any(f["key_id"] == REVOKED for f in result["findings"])


def test_other_stories(result: dict[str, Any]) -> None:
    assert rules(key(result, UNKNOWN_SCOPE)) == {"unknown-scope"}
    assert key(result, UNKNOWN_SCOPE)["suggested_scopes"] == ["invoices:read"]
    assert key(result, ZAPIER_WRITER)["suggested_scopes"] == ["customers:read"]
    markup = key(result, MARKUP_NAME)
    assert markup["name"].startswith("[bold]ops[/bold] </script>")
    assert markup["findings"] == []
    data_rules = {f["rule"] for f in result["findings"] if f["key_id"] == ""}
    assert {"unmapped-route", "unknown-key-usage"} <= data_rules


def test_sample_json_is_byte_identical_across_hash_seeds() -> None:
    import subprocess
    import sys

    outputs = []
    for seed in ("0", "977"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSCOPE_")}
        env["PYTHONHASHSEED"] = seed
        done = subprocess.run(
            [sys.executable, "-m", "keyscope", "audit", "--format", "json"],
            capture_output=True,
            env=env,
            cwd=REPO,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


def test_evidence_names_operations_as_the_spec_does(result: dict[str, Any]) -> None:
    evidence = key(result, ACCOUNTANT)["evidence"]
    operations = [op for scope in evidence for op in scope["operations"]]
    assert operations
    assert all(op["operation_id"] for op in operations)
