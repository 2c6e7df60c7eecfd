"""The SARIF report: schema-valid, one result per finding, stable fingerprints, honest runs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from keyscope.analysis.triage import Baseline, apply_baseline, apply_suppressions
from keyscope.model import FINGERPRINT_VERSION, Suppression
from keyscope.report import get_renderer
from keyscope.report.sarif import MAX_BYTES, MAX_RESULTS, RULES, render_sarif

from ._factory import build_result, hostile, make_finding, make_key, standard_keys

SCHEMA = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "schemas" / "sarif-schema-2.1.0.json"
)


def validate(text: str) -> dict:
    """Validate against the OASIS schema when ../shared is present, else check the structure."""
    document = json.loads(text)
    if SCHEMA.exists():
        import jsonschema

        jsonschema.validate(document, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert document["version"] == "2.1.0" and len(document["runs"]) == 1
    run = document["runs"][0]
    assert run["tool"]["driver"]["name"] == "keyscope"
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert set(result["message"]) == {"text"}
        assert set(result["partialFingerprints"]) == {"keyscopeFingerprint/v1"}
        assert result["locations"]
    return document


def test_one_result_per_finding_valid_against_the_schema(result) -> None:
    document = validate(render_sarif(result))
    run = document["runs"][0]
    assert len(run["results"]) == len(result.findings)
    assert [r["partialFingerprints"]["keyscopeFingerprint/v1"] for r in run["results"]] == [
        f.fingerprint for f in result.findings
    ]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert "toolExecutionNotifications" not in run["invocations"][0]
    assert get_renderer("sarif") is render_sarif


def test_rules_carry_descriptions_help_and_levels(result) -> None:
    rules = {
        rule["id"]: rule
        for rule in validate(render_sarif(result))["runs"][0]["tool"]["driver"]["rules"]
    }
    assert set(RULES) <= set(rules)
    legacy = rules["legacy-full-access"]
    assert legacy["defaultConfiguration"]["level"] == "error"
    assert legacy["shortDescription"]["text"] and legacy["help"]["text"]
    assert legacy["properties"]["security-severity"] == "8.0"
    assert rules["insufficient-data"]["defaultConfiguration"]["level"] == "note"


def test_unknown_rules_get_a_generic_entry() -> None:
    odd = make_finding("brand-new-rule", "low", "key_recon", "x")
    document = validate(render_sarif(build_result(extra_findings=(odd,))))
    rules = {rule["id"]: rule for rule in document["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["brand-new-rule"]["defaultConfiguration"]["level"] == "warning"


def test_locations_point_at_the_inventory_entry_and_name_the_key(result) -> None:
    run = validate(render_sarif(result))["runs"][0]
    recon = next(r for r in run["results"] if r["properties"]["keyId"] == "key_recon")
    [location] = recon["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": "sample_specs/keys.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert location["physicalLocation"]["region"] == {"startLine": 12}
    assert location["logicalLocations"] == [
        {"name": "key_recon", "fullyQualifiedName": "keys/key_recon", "kind": "resource"}
    ]
    assert (
        recon["level"] == "error"
        if recon["properties"]["severity"] in ("critical", "high")
        else "warning"
    )


def test_data_wide_findings_point_at_the_spec_operation() -> None:
    route = make_finding(
        "unmapped-route", "low", "", "GET /v1/admin/export", "3 requests matched no operation"
    )
    run = validate(render_sarif(build_result(extra_findings=(route,))))["runs"][0]
    [entry] = [r for r in run["results"] if r["ruleId"] == "unmapped-route"]
    [location] = entry["locations"]
    assert (
        location["physicalLocation"]["artifactLocation"]["uri"] == "sample_specs/partner-api.yaml"
    )
    assert (
        location["logicalLocations"][0]["fullyQualifiedName"] == "operations/GET /v1/admin/export"
    )


def test_incomplete_data_marks_the_run_unsuccessful_with_notifications() -> None:
    result = build_result(
        complete=False, incomplete_reasons=("3% of lines unreadable", "10 days missing")
    )
    invocation = validate(render_sarif(result))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert texts == ["3% of lines unreadable", "10 days missing"]
    assert {n["level"] for n in invocation["toolExecutionNotifications"]} == {"error"}


def test_suppressed_findings_carry_the_justification_and_baseline_state() -> None:
    result = build_result()
    entry = Suppression(
        "unused-scope",
        "key_recon",
        "payments:write",
        "Quarter-end job",
        "ops@example.com",
        date(2026, 12, 31),
        "sample/keyscope-suppressions.yaml#1",
    )
    stale = replace(entry, rule="dormant-key", source="sample/keyscope-suppressions.yaml#2")
    triaged = apply_suppressions(result, [entry, stale], date(2026, 11, 1))
    compared = apply_baseline(
        triaged,
        Baseline(
            "b.json", datetime(2026, 10, 1, tzinfo=UTC), 1, FINGERPRINT_VERSION, result.findings[1:]
        ),
    )
    run = validate(render_sarif(compared))["runs"][0]
    recon = next(
        r
        for r in run["results"]
        if r["properties"]["keyId"] == "key_recon" and r["ruleId"] == "unused-scope"
    )
    [suppression] = recon["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert suppression["justification"] == "Quarter-end job"
    assert suppression["properties"] == {"owner": "ops@example.com", "expires": "2026-12-31"}
    states = [r["baselineState"] for r in run["results"]]
    assert states.count("new") == 1 and states.count("unchanged") == len(states) - 1
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("#2" in n["message"]["text"] and n["level"] == "warning" for n in notes)
    assert run["invocations"][0]["executionSuccessful"] is True
    assert "baselineGuid" in run


def test_untrusted_text_only_in_text_fields() -> None:
    document = validate(render_sarif(hostile()))
    text = json.dumps(document)
    assert '"markdown"' not in text
    assert "\\u001b" not in text and "\\u202e" not in text and "\\u0000" not in text
    assert "\\u27e8U+202E\\u27e9" in text  # the bidi override is shown as a visible marker
    for result in document["runs"][0]["results"]:
        assert len(result["message"]["text"]) <= 2000
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_truncates_past_the_result_limit_with_a_notification() -> None:
    many = tuple(
        make_finding("unused-scope", "low", f"key_{i:06d}", "payments:write")
        for i in range(MAX_RESULTS + 7)
    )
    result = replace(build_result(), findings=result_sorted(build_result().findings + many))
    text = render_sarif(result)
    assert len(text) <= MAX_BYTES
    document = json.loads(text)
    run = document["runs"][0]
    assert len(run["results"]) <= MAX_RESULTS
    notes = run["invocations"][0]["toolExecutionNotifications"]
    [note] = [n for n in notes if n["descriptor"]["id"] == "results-truncated"]
    left_out = len(result.findings) - len(run["results"])
    assert note["message"]["text"].startswith(
        f"{left_out} of {len(result.findings)} findings left out"
    )
    kept_severities = {r["properties"]["severity"] for r in run["results"]}
    assert "high" in kept_severities  # the most severe are kept
    assert run["properties"]["findingsTotal"] == len(result.findings)


def result_sorted(findings):
    from keyscope.analysis.triage import finding_order

    return tuple(sorted(findings, key=finding_order))


def test_fingerprints_are_stable_across_runs_and_renames() -> None:
    first = json.loads(render_sarif(build_result()))
    renamed = [
        replace(a, key=replace(a.key, name=a.key.name + " (renamed)")) for a in standard_keys()
    ]
    second = json.loads(render_sarif(build_result(renamed)))
    prints = lambda d: [r["partialFingerprints"] for r in d["runs"][0]["results"]]  # noqa: E731
    assert prints(first) == prints(second)


def test_deterministic(result) -> None:
    assert render_sarif(result) == render_sarif(build_result())


def test_golden_sarif(result, snapshot_sarif) -> None:
    assert render_sarif(result) == snapshot_sarif


def test_revoked_and_new_keys(result) -> None:
    keys = [*standard_keys(), make_key("key_plain", scopes=())]
    validate(render_sarif(build_result(keys)))
