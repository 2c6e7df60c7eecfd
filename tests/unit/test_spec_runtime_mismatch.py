"""``spec-runtime-mismatch``: refused although the spec says the grants are enough (ANCHORS #7)."""

from __future__ import annotations

import json
from dataclasses import replace

from test_audit import AS_OF, SPEC, WINDOW, audit, hit, key, only, op, rules, usage

from keyscope.analysis.audit import AuditOptions, audit_keys, finding_fingerprint
from keyscope.analysis.scope_graph import build_scope_graph
from keyscope.report.sarif import render_sarif


def mismatches(audit_):  # type: ignore[no-untyped-def]
    return [f for f in audit_.findings if f.rule == "spec-runtime-mismatch"]


def test_a_refusal_of_a_held_scope_is_a_mismatch_not_a_denial_nor_use() -> None:
    data = usage(
        hit("k", "GET /invoices", count=200),
        hit("k", "GET /invoices/{id}", status=403, count=3),
        hit("k", "GET /invoices/{id}", status=401, count=2),
    )
    a = only(audit([key("k", "invoices:read")], data), "k")
    assert rules(a) == {"spec-runtime-mismatch": [("GET /invoices/{id}", "medium")]}
    (finding,) = mismatches(a)
    assert finding.fingerprint == finding_fingerprint(
        "spec-runtime-mismatch", "k", "GET /invoices/{id}"
    )
    assert finding.message.startswith("5 denied requests (")
    assert "the key holds invoices:read, which the spec says is enough" in finding.message
    assert "probing" in finding.message and "Not counted as use" in finding.message
    # Never use: counts, suggestion and missing scopes are what the successes alone give.
    assert a.requests == 200
    assert a.suggested_scopes == {"invoices:read"}
    assert a.missing_scopes == frozenset()
    assert [d.operation for d in a.denied] == ["GET /invoices/{id}"]  # the traffic is kept


def test_an_implied_scope_counts_as_held() -> None:
    data = usage(hit("k", "POST /invoices"), hit("k", "GET /invoices", status=403, count=4))
    a = only(audit([key("k", "invoices:write")], data), "k")
    (finding,) = mismatches(a)
    assert finding.subject == "GET /invoices"
    assert "the key holds invoices:read" in finding.message
    assert "denied-requests" not in rules(a)


def test_one_alternative_held_is_enough() -> None:
    # GET /payments/{id}/refunds: refunds:read OR payments:read.
    data = usage(
        hit("k", "GET /payments"), hit("k", "GET /payments/{id}/refunds", status=403, count=2)
    )
    (finding,) = mismatches(only(audit([key("k", "payments:read")], data), "k"))
    assert "the key holds payments:read" in finding.message


def test_never_probing_even_for_a_dormant_key() -> None:
    data = usage(hit("k", "POST /payouts", status=403, count=30))
    a = only(audit([key("k", "payouts:write")], data), "k")
    assert set(rules(a)) == {"dormant-key", "spec-runtime-mismatch"}
    assert not any("leaked key" in f.message for f in a.findings)


def test_a_real_denial_and_a_mismatch_are_reported_once_each() -> None:
    data = usage(
        hit("k", "GET /customers", count=90),
        hit("k", "GET /customers", status=403, count=2),  # holds customers:read: mismatch
        hit("k", "POST /payouts", status=403, count=5),  # lacks payouts:write: probing
    )
    a = only(audit([key("k", "customers:read")], data), "k")
    assert rules(a) == {
        "denied-requests": [("payouts:write", "high")],
        "spec-runtime-mismatch": [("GET /customers", "medium")],
    }
    assert a.missing_scopes == {"payouts:write"}


def test_public_and_untagged_operations_refused_are_mismatches() -> None:
    untagged = op("GET", "/reports")  # the spec states nothing about its security
    spec = replace(
        SPEC,
        operations=tuple(sorted((*SPEC.operations, untagged), key=lambda o: (o.path, o.method))),
    )
    data = usage(
        hit("k", "GET /invoices", count=100),
        hit("k", "GET /health", status=403, count=2),
        hit("k", "GET /reports", status=403, count=3),
    )
    result = audit_keys(
        spec, build_scope_graph(spec), [key("k", "invoices:read")], data,
        as_of=AS_OF, window=WINDOW, options=AuditOptions(),
    )  # fmt: skip
    found = {f.subject: f.message for f in mismatches(only(result, "k"))}
    assert "the spec marks it public" in found["GET /health"]
    assert "the spec states no scope requirement for it" in found["GET /reports"]


def test_a_full_access_key_refused_is_a_mismatch() -> None:
    data = usage(hit("erp", "GET /invoices", count=100), hit("erp", "POST /refunds", status=403))
    a = only(audit([key("erp", full_access=True)], data), "erp")
    assert [f.subject for f in mismatches(a)] == ["POST /refunds"]
    assert "denied-requests" not in rules(a)


def test_revoked_keys_get_no_mismatch_finding() -> None:
    data = usage(hit("old", "GET /invoices", status=403))
    a = only(audit([key("old", "invoices:read", status="revoked")], data), "old")
    assert a.findings == ()


def test_sarif_describes_the_rule() -> None:
    data = usage(hit("k", "GET /invoices"), hit("k", "GET /invoices/{id}", status=403))
    sarif = json.loads(render_sarif(audit([key("k", "invoices:read")], data)))
    rules_by_id = {rule["id"]: rule for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert "spec's scope tag" in rules_by_id["spec-runtime-mismatch"]["fullDescription"]["text"]
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "spec-runtime-mismatch"]
    assert result["level"] == "warning"
