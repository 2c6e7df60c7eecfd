"""The SARIF report: schema-valid, one result per finding, stable fingerprints, honest runs."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from keyscope.analysis.audit import RULES as AUDIT_RULES
from keyscope.analysis.triage import Baseline, apply_baseline, apply_suppressions
from keyscope.model import FINGERPRINT_VERSION, AuditResult, Finding, Suppression
from keyscope.report import get_renderer, sarif
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
    generic = rules["brand-new-rule"]
    assert generic["shortDescription"]["text"] == "keyscope rule brand-new-rule"
    # Its level follows its only finding (low), like every rule's.
    assert generic["defaultConfiguration"]["level"] == "note"
    assert generic["properties"]["security-severity"] == "3.0"


def rule_texts(rule: dict) -> dict[str, str]:
    """A rule entry's texts with its own id replaced, to compare entries of different rules."""
    return {
        field: rule[field]["text"].replace(rule["id"], "<rule>")
        for field in ("shortDescription", "fullDescription", "help")
    }


def test_every_rule_the_audit_raises_has_a_real_entry_and_no_other_is_listed(result) -> None:
    run = validate(render_sarif(result))["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    # Exactly the audit's rules: no entry for a rule id nothing raises.
    assert set(rules) == set(AUDIT_RULES) == set(RULES)
    made_up = make_finding("zz-made-up-rule", "low", "key_recon", "x")
    odd = validate(render_sarif(build_result(extra_findings=(made_up,))))["runs"][0]
    [generic] = [r for r in odd["tool"]["driver"]["rules"] if r["id"] == "zz-made-up-rule"]
    placeholder = rule_texts(generic)
    for rule_id in AUDIT_RULES:
        texts = rule_texts(rules[rule_id])
        assert all(texts.values()), rule_id
        assert not texts.items() & placeholder.items(), (rule_id, texts)


def test_rule_severity_follows_the_most_severe_open_result() -> None:
    base = build_result()
    # A dormant full-access key is critical (docs/audit.md); the factory makes it high.
    [critical] = [
        replace(f, severity="critical")
        for f in base.findings
        if (f.rule, f.key_id) == ("legacy-full-access", "key_legacy_dormant")
    ]
    others = tuple(f for f in base.findings if f.fingerprint != critical.fingerprint)
    result = replace(base, findings=result_sorted((*others, critical)))

    def rules_of(audit_result: AuditResult) -> tuple[dict[str, dict], list[dict]]:
        run = validate(render_sarif(audit_result))["runs"][0]
        return {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}, run["results"]

    rules, results = rules_of(result)
    # legacy-full-access defaults to high, unused-scope to medium; this run has worse.
    assert rules["legacy-full-access"]["properties"]["security-severity"] == "9.5"
    assert rules["legacy-full-access"]["defaultConfiguration"]["level"] == "error"
    assert rules["unused-scope"]["properties"]["security-severity"] == "8.0"
    assert rules["unused-scope"]["defaultConfiguration"]["level"] == "error"
    assert rules["insufficient-data"]["properties"]["security-severity"] == "1.0"
    # Rules without a result keep their default.
    assert rules["secret-in-name"]["properties"]["security-severity"] == "8.0"
    assert rules["unmapped-route"]["properties"]["security-severity"] == "3.0"
    assert rules["unmapped-route"]["defaultConfiguration"]["level"] == "note"
    for rule_id in {r["ruleId"] for r in results}:
        worst = max(
            float(r["properties"]["security-severity"]) for r in results if r["ruleId"] == rule_id
        )
        assert float(rules[rule_id]["properties"]["security-severity"]) == worst, rule_id
    # A suppressed critical finding does not raise the rule above its open findings...
    accepted = Suppression(
        "legacy-full-access", "key_legacy_dormant", "", "Decommissioned in Q1", "ops",
        date(2026, 12, 31), "s#1",
    )  # fmt: skip
    suppressed, _ = rules_of(apply_suppressions(result, [accepted], date(2026, 11, 1)))
    assert suppressed["legacy-full-access"]["properties"]["security-severity"] == "8.0"
    # ...but a rule whose findings are all suppressed still says how severe they are.
    only = replace(base, findings=result_sorted((critical,)))
    alone, _ = rules_of(apply_suppressions(only, [accepted], date(2026, 11, 1)))
    assert alone["legacy-full-access"]["properties"]["security-severity"] == "9.5"


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


def test_unknown_key_usage_is_located_at_the_key_not_an_operation(result) -> None:
    masked = "key_\u20269f3a"  # the audit names a key missing from the inventory by its masked id
    seen = make_finding("unknown-key-usage", "medium", "", masked, f"key id {masked} made ...")
    rest = make_finding("unknown-key-usage", "low", "", "(others)", "3 more unknown key ids")
    run = validate(render_sarif(replace(result, findings=result_sorted((seen, rest)))))["runs"][0]
    located = {r["properties"]["subject"]: r["locations"][0] for r in run["results"]}
    [dormant] = [
        r
        for r in validate(render_sarif(result))["runs"][0]["results"]
        if r["ruleId"] == "dormant-key"
    ]
    [dormant_key] = dormant["locations"][0]["logicalLocations"]
    [key] = located[masked]["logicalLocations"]
    assert key == {"name": masked, "fullyQualifiedName": f"keys/{masked}", "kind": "resource"}
    assert set(key) == set(dormant_key) and key["kind"] == dormant_key["kind"]
    assert located[masked]["message"]["text"] == f"key {masked} (not in the inventory)"
    # The finding summing up the rest names no key, and no operation either.
    assert "logicalLocations" not in located["(others)"]
    assert located["(others)"]["message"]["text"] == "other keys not in the inventory"
    text = json.dumps(run["results"])
    assert "operations/" not in text and '"function"' not in text


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


def with_findings(*extra: Finding, keys: list | None = None) -> AuditResult:
    """The standard result (plus ``keys``) with ``extra`` findings, in finding order."""
    base = build_result(keys)
    return replace(base, findings=result_sorted(base.findings + extra))


def result_sorted(findings):
    from keyscope.analysis.triage import finding_order

    return tuple(sorted(findings, key=finding_order))


def findings_behind(result: dict) -> int:
    """How many findings a SARIF result stands for: its count when aggregated, else one."""
    return result["properties"]["findings"] if "aggregated" in result["properties"] else 1


def aggregation_notes(run: dict) -> dict[str, dict]:
    notes = run["invocations"][0].get("toolExecutionNotifications", [])
    return {
        note["properties"]["aggregation"]: note
        for note in notes
        if note["descriptor"]["id"] == "results-aggregated"
    }


def test_past_the_result_limit_findings_are_rolled_up_per_rule_with_a_notification() -> None:
    """25,007 keys with one finding each: one result per key is still too many, so that
    rule becomes one result per level; the more severe rules keep a result per finding."""
    many = tuple(
        make_finding("unused-scope", "low", f"key_{i:06d}", "payments:write")
        for i in range(MAX_RESULTS + 7)
    )
    result = with_findings(*many)
    text = render_sarif(result)
    assert len(text) <= MAX_BYTES
    run = validate(text)["runs"][0]
    assert len(run["results"]) <= MAX_RESULTS
    # Nothing is lost: the results stand for every finding, each counted once.
    assert sum(findings_behind(r) for r in run["results"]) == len(result.findings)
    assert run["properties"]["findingsTotal"] == len(result.findings)
    [low] = [r for r in run["results"] if r["level"] == "note" and r["ruleId"] == "unused-scope"]
    assert low["properties"]["aggregated"] == "rule"
    assert low["properties"]["findings"] == low["properties"]["keys"] == MAX_RESULTS + 7
    assert low["properties"]["exampleKeyIds"] == [f"key_{i:06d}" for i in range(5)]
    assert low["message"]["text"].startswith("25,007 unused-scope findings (low) on 25,007 keys")
    assert "and 25,002 more" in low["message"]["text"]
    notes = aggregation_notes(run)
    assert set(notes) == {"rule"}
    unused = [f for f in result.findings if f.rule == "unused-scope"]
    assert notes["rule"]["properties"] == {
        "aggregation": "rule",
        "findings": len(unused),
        "results": sum(r["ruleId"] == "unused-scope" for r in run["results"]),
        "rules": ["unused-scope"],
    }
    assert notes["rule"]["level"] == "warning"
    assert notes["rule"]["message"]["text"].startswith(
        f"{len(unused):,} findings of unused-scope reported as"
    )
    # Rules other than the rolled-up one keep one result per finding, fingerprints intact.
    others = [f.fingerprint for f in result.findings if f.rule != "unused-scope"]
    kept = [
        r["partialFingerprints"]["keyscopeFingerprint/v1"]
        for r in run["results"]
        if r["ruleId"] != "unused-scope"
    ]
    assert kept == others
    levels = [r["level"] for r in run["results"]]
    assert levels == sorted(levels, key=["error", "warning", "note"].index)
    assert not any(n["descriptor"]["id"] == "results-truncated" for n in notes.values())


def keys_with_unused_scopes(count: int, per_key: int = 3) -> list:
    """``count`` keys, each holding ``per_key`` read scopes it never used (medium findings)."""
    unused = ("invoices:read", "refunds:read", "webhooks:read", "payouts:read")
    return [
        make_key(
            f"key_bulk_{index:04d}",
            scopes=("payments:read", *unused[:per_key]),
            used={"payments:read": 3},
            source_line=1000 + index * 7,
        )
        for index in range(count)
    ]


def test_per_key_first_one_result_per_rule_and_key(monkeypatch) -> None:
    keys = keys_with_unused_scopes(30)
    result = build_result([*standard_keys(), *keys])
    per_finding = validate(render_sarif(result))["runs"][0]["results"]
    assert len(per_finding) == len(result.findings) > 90
    monkeypatch.setattr(sarif, "MAX_RESULTS", len(result.findings) - 1)
    run = validate(render_sarif(result))["runs"][0]
    assert sum(findings_behind(r) for r in run["results"]) == len(result.findings)
    bulk = [r for r in run["results"] if r["properties"]["keyId"].startswith("key_bulk_")]
    assert len(bulk) == 30
    first = bulk[0]
    assert first["properties"]["aggregated"] == "key"
    assert first["properties"]["findings"] == 3
    assert first["properties"]["subjects"] == ["invoices:read", "refunds:read", "webhooks:read"]
    assert first["level"] == "warning" and first["properties"]["severity"] == "medium"
    assert first["message"]["text"] == (
        "3 unused-scope findings for key key_bulk_0000: invoices:read, refunds:read, webhooks:read"
    )
    [location] = first["locations"]
    assert location["physicalLocation"]["region"] == {"startLine": 1000}
    assert location["logicalLocations"] == [
        {"name": "key_bulk_0000", "fullyQualifiedName": "keys/key_bulk_0000", "kind": "resource"}
    ]
    prints = {r["partialFingerprints"]["keyscopeFingerprint/v1"] for r in bulk}
    assert len(prints) == 30  # one per key
    assert set(aggregation_notes(run)) == {"key"}
    # Only as much is rolled up as needed: rules above unused-scope keep their findings' results.
    legacy = [r for r in run["results"] if r["ruleId"] == "legacy-full-access"]
    assert legacy and all("aggregated" not in r["properties"] for r in legacy)


def test_aggregate_fingerprints_follow_rule_and_key_not_subjects(monkeypatch) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", 40)

    def bulk_prints(per_key: int) -> dict[str, str]:
        result = build_result(keys_with_unused_scopes(30, per_key))
        run = json.loads(render_sarif(result))["runs"][0]
        return {
            r["properties"]["keyId"]: r["partialFingerprints"]["keyscopeFingerprint/v1"]
            for r in run["results"]
            if r["properties"].get("aggregated") == "key"
        }

    three, four = bulk_prints(3), bulk_prints(4)
    assert len(three) == 30 and three == four  # a subject more or less: the same alert


def test_when_per_key_is_still_too_many_rules_roll_up_per_rule_and_level(monkeypatch) -> None:
    keys = keys_with_unused_scopes(30)
    result = build_result([*standard_keys(), *keys])
    monkeypatch.setattr(sarif, "MAX_RESULTS", 20)
    run = validate(render_sarif(result))["runs"][0]
    assert len(run["results"]) <= 20
    assert sum(findings_behind(r) for r in run["results"]) == len(result.findings)
    [medium] = [
        r for r in run["results"] if r["ruleId"] == "unused-scope" and r["level"] == "warning"
    ]
    unused_medium = [
        f for f in result.findings if f.rule == "unused-scope" and f.severity == "medium"
    ]
    assert medium["properties"]["findings"] == len(unused_medium)
    assert medium["properties"]["keys"] == len({f.key_id for f in unused_medium})
    assert len(medium["properties"]["exampleKeyIds"]) == 5
    assert medium["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "sample_specs/keys.yaml"
    )
    assert "region" not in medium["locations"][0]["physicalLocation"]
    assert "rule" in aggregation_notes(run)


def test_the_most_severe_rules_keep_their_detail(monkeypatch) -> None:
    """A high rule with few findings stays one result per finding while a low rule with
    many is rolled up, even though the high rule was tried per key on the way."""
    highs = tuple(make_finding("secret-in-name", "high", f"key_s{i}", f"field{j}") for i in range(4)
                  for j in range(3))  # fmt: skip
    lows = tuple(make_finding("unknown-scope", "low", f"key_{i:03d}", "x:y") for i in range(60))
    result = with_findings(*highs, *lows)
    monkeypatch.setattr(sarif, "MAX_RESULTS", len(result.findings) - 40)
    run = validate(render_sarif(result))["runs"][0]
    secret = [r for r in run["results"] if r["ruleId"] == "secret-in-name"]
    assert len(secret) == 12 and all("aggregated" not in r["properties"] for r in secret)
    [unknown] = [r for r in run["results"] if r["ruleId"] == "unknown-scope"]
    assert unknown["properties"] == {
        "aggregated": "rule",
        "findings": 60,
        "keys": 60,
        "exampleKeyIds": ["key_000", "key_001", "key_002", "key_003", "key_004"],
        "severity": "low",
        "security-severity": "3.0",
    }
    assert aggregation_notes(run)["rule"]["properties"]["rules"] == ["unknown-scope"]


def test_the_byte_limit_alone_also_leads_to_aggregation(monkeypatch) -> None:
    result = build_result([*standard_keys(), *keys_with_unused_scopes(30)])
    full = render_sarif(result)
    compact = len(json.dumps(json.loads(full), sort_keys=True, separators=(",", ":"))) + 1
    monkeypatch.setattr(sarif, "MAX_BYTES", compact - 1)
    text = render_sarif(result)
    assert len(text.encode()) <= compact - 1
    run = validate(text)["runs"][0]
    assert len(run["results"]) < len(result.findings)
    assert sum(findings_behind(r) for r in run["results"]) == len(result.findings)
    assert aggregation_notes(run)


def test_as_a_last_resort_the_least_severe_are_cut_and_counted(monkeypatch) -> None:
    result = build_result([*standard_keys(), *keys_with_unused_scopes(30)])
    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    run = validate(render_sarif(result))["runs"][0]
    assert len(run["results"]) == 2
    notes = run["invocations"][0]["toolExecutionNotifications"]
    [cut] = [n for n in notes if n["descriptor"]["id"] == "results-truncated"]
    kept = sum(findings_behind(r) for r in run["results"])
    left_out = len(result.findings) - kept
    assert cut["properties"] == {"findings": left_out}
    assert cut["message"]["text"].startswith(
        f"{left_out:,} of {len(result.findings):,} findings left out"
    )
    assert [r["level"] for r in run["results"]] == ["error", "error"]
    assert set(aggregation_notes(run)) == {"rule"}


def test_aggregated_results_keep_suppressions_apart_and_baseline_state(monkeypatch) -> None:
    result = build_result([*standard_keys(), *keys_with_unused_scopes(30)])
    accepted = Suppression(
        "unused-scope", "key_bulk_0001", "", "Vendor migration", "ops@example.com",
        date(2026, 12, 31), "keyscope-suppressions.yaml#4",
    )  # fmt: skip
    partial = replace(accepted, key_id="key_bulk_0002", scope="invoices:read")
    triaged = apply_suppressions(result, [accepted, partial], date(2026, 11, 1))
    old = tuple(
        f for f in result.findings if (f.key_id, f.subject) != ("key_bulk_0003", "invoices:read")
    )
    when = datetime(2026, 10, 1, tzinfo=UTC)
    compared = apply_baseline(triaged, Baseline("b.json", when, 1, FINGERPRINT_VERSION, old))
    monkeypatch.setattr(sarif, "MAX_RESULTS", 60)
    run = validate(render_sarif(compared))["runs"][0]
    by_key: dict[str, list[dict]] = {}
    for entry in run["results"]:
        by_key.setdefault(entry["properties"]["keyId"], []).append(entry)
    [whole] = by_key["key_bulk_0001"]
    assert whole["properties"]["findings"] == 3
    [record] = whole["suppressions"]
    assert record["justification"] == "Vendor migration"
    assert whole["properties"]["suppressionsTotal"] == 1
    # A key with one suppressed finding: the suppressed one and the open ones are apart.
    split = sorted(by_key["key_bulk_0002"], key=lambda r: "suppressions" in r)
    assert [findings_behind(r) for r in split] == [2, 1]
    assert "suppressions" not in split[0] and split[1]["suppressions"]
    assert split[0]["partialFingerprints"] != split[1]["partialFingerprints"]
    [mixed] = by_key["key_bulk_0003"]
    assert mixed["baselineState"] == "updated" and mixed["properties"]["newFindings"] == 1
    assert by_key["key_bulk_0004"][0]["baselineState"] == "unchanged"


def test_aggregated_results_mask_secrets_and_show_no_control_characters(monkeypatch) -> None:
    secret = "sk_live_CANARYa1b2c3d4e5f6g7h8i9"
    nasty = ("evil\u202eexe\x1b[2J", f"token={secret}", "x" * 5000, "nul\x00byte")
    findings = tuple(
        make_finding("unmapped-route", "low", key, subject)
        for key in (f"key_{secret}", "key_\u202eevil")
        for subject in nasty
    ) + tuple(make_finding("unknown-scope", "low", f"key_{i}_{secret}", nasty[0]) for i in range(9))
    result = with_findings(*findings)
    for limit, kind in ((len(result.findings) - 3, "key"), (10, "rule")):
        monkeypatch.setattr(sarif, "MAX_RESULTS", limit)
        text = render_sarif(result)
        run = validate(text)["runs"][0]
        hostile_rules = [
            r for r in run["results"] if r["ruleId"] in ("unmapped-route", "unknown-scope")
        ]
        assert {r["properties"].get("aggregated") for r in hostile_rules} >= {kind}
        assert "CANARYa1b2c3d4e5f6g7h8i9" not in text and "CANARY" not in text
        assert "\\u001b" not in text and "\\u202e" not in text and "\\u0000" not in text
        for entry in run["results"]:
            assert len(entry["message"]["text"]) <= 2000


def test_100k_keys_stay_within_the_limits_and_render_identically() -> None:
    """100,000 keys with five unused scopes each (500,000 findings) plus 10,000 legacy keys."""
    scopes = ("customers:write", "invoices:write", "payouts:write", "refunds:write", "x:write")
    unused = [
        make_finding("unused-scope", "medium", f"key_{index:06d}", scope)
        for index in range(100_000)
        for scope in scopes
    ]
    legacy = [make_finding("legacy-full-access", "high", f"key_{i:06d}") for i in range(10_000)]
    findings = unused + legacy
    first = render_sarif(with_findings(*findings))
    random.Random(5).shuffle(findings)  # the input order does not matter
    assert render_sarif(with_findings(*findings)) == first
    assert len(first) <= MAX_BYTES
    run = json.loads(first)["runs"][0]
    assert len(run["results"]) <= MAX_RESULTS
    assert sum(findings_behind(r) for r in run["results"]) == len(findings) + len(
        build_result().findings
    )
    # The legacy keys keep a result each; the unused scopes are one result per level.
    assert sum(r["ruleId"] == "legacy-full-access" for r in run["results"]) >= 10_000
    assert set(aggregation_notes(run)) == {"rule"}


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
