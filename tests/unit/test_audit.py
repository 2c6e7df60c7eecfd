"""The audit engine on small specs and usage built in code: every rule, confidence, determinism."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from keyscope.analysis.audit import (
    AuditOptions,
    audit_keys,
    finding_fingerprint,
    make_window,
    sort_findings,
)
from keyscope.analysis.replay import Replayer, replay_requests
from keyscope.analysis.scope_graph import build_scope_graph
from keyscope.model import (
    ApiKey,
    ApiSpec,
    AuditResult,
    DailyCount,
    KeyAudit,
    Operation,
    OperationUse,
    Scope,
    SourceStats,
    UsageData,
    UsageRow,
    severity_rank,
    status_class,
)
from keyscope.report.json_report import render_json

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = make_window(AS_OF, 90)
OLD = datetime(2024, 1, 1, tzinfo=UTC)
AREAS = ("invoices", "payments", "customers", "refunds", "payouts", "webhooks", "checkout")


def op(method: str, path: str, *alternatives: tuple[str, ...], public: bool = False) -> Operation:
    return Operation(
        method=method,
        path=path,
        operation_id=f"{method.lower()}{path.replace('/', '_')}",
        public=public,
        requirements=tuple(frozenset(alternative) for alternative in alternatives),
    )


OPERATIONS = [
    op("GET", "/health", public=True),
    op("GET", "/invoices", ("invoices:read",)),
    op("POST", "/invoices", ("invoices:write",)),
    op("GET", "/invoices/{id}", ("invoices:read",)),
    op("POST", "/invoices/{id}/pay", ("invoices:write", "payments:write")),
    op("GET", "/customers", ("customers:read",)),
    op("POST", "/customers", ("customers:write",)),
    op("GET", "/payments", ("payments:read",)),
    op("GET", "/payments/{id}/refunds", ("refunds:read",), ("payments:read",)),
    op("POST", "/refunds", ("refunds:write",)),
    op("GET", "/payouts", ("payouts:read",)),
    op("POST", "/payouts", ("payouts:write",)),
    op("GET", "/webhooks", ("webhooks:read",)),
    op("POST", "/webhooks", ("webhooks:write",)),
    op("POST", "/checkout/sessions", ("checkout:write",)),
    op("GET", "/me", ()),  # authenticated, no scope needed
]
SCOPES = tuple(
    Scope(name=f"{area}:{access}", area=area, access=access)  # type: ignore[arg-type]
    for area in AREAS
    for access in ("read", "write")
)
SPEC = ApiSpec(
    title="Partner",
    version="1",
    format="openapi 3.1.0",
    source="spec.yaml",
    sha256="0" * 64,
    base_paths=("/v1",),
    operations=tuple(sorted(OPERATIONS, key=lambda o: (o.path, o.method))),
    scopes=tuple(sorted(SCOPES, key=lambda s: s.name)),
    semantics="all",
    semantics_reason="test",
    implications=tuple((f"{area}:write", f"{area}:read") for area in AREAS),
)
GRAPH = build_scope_graph(SPEC)
CATALOG = frozenset(scope.name for scope in SCOPES)


def key(key_id: str, *scopes: str, **changes: object) -> ApiKey:
    values: dict[str, object] = {
        "key_id": key_id,
        "name": f"name of {key_id}",
        "scopes": frozenset(scopes),
        "created_at": OLD,
        "source": f"keys.yaml#{key_id}",
    }
    values.update(changes)
    return ApiKey(**values)  # type: ignore[arg-type]


def hit(key_id: str, operation: str | None, status: int = 200, count: int = 40, **kw: object):
    """One group of requests; ``operation`` is an Operation.key or None (unmatched)."""
    method, _, path = (operation or kw.pop("route", "GET /unknown")).partition(" ")  # type: ignore[operator]
    days = kw.get("days", 60)
    return {
        "key_id": key_id,
        "method": method,
        "path": path,
        "operation": operation,
        "status": status,
        "count": count,
        "days": days,
        "start": kw.get("start", WINDOW.start + timedelta(hours=1)),
    }


def usage(
    *hits: dict, coverage: float = 1.0, bad_lines: int = 0, lines: int = 100_000
) -> UsageData:
    """Aggregate hits the way the usage loader does: rows, daily counts, covered days."""
    rows: dict[tuple, list] = {}
    daily: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for group in hits:
        spread = max(1, min(group["days"], group["count"]))
        for index in range(group["count"]):
            moment = group["start"] + timedelta(days=index % spread, minutes=index)
            klass = status_class(group["status"])
            row_key = (group["key_id"], group["method"], group["path"], group["operation"], klass)
            entry = rows.setdefault(row_key, [0, moment, moment])
            entry[0] += 1
            entry[1] = min(entry[1], moment)
            entry[2] = max(entry[2], moment)
            counts = daily[(group["key_id"], moment.date())]
            if klass == "success":
                counts[0] += 1
            elif klass == "denied":
                counts[1] += 1
    all_days = [WINDOW.start.date() + timedelta(days=i) for i in range(WINDOW.days)]
    covered = frozenset(all_days[: round(len(all_days) * coverage)])
    return UsageData(
        rows=tuple(
            UsageRow(k[0], k[1], k[2], k[3], k[4], v[0], v[1], v[2]) for k, v in rows.items()
        ),
        daily=tuple(DailyCount(k[0], k[1], v[0], v[1]) for k, v in daily.items()),
        sources=(SourceStats("logs.jsonl", "jsonl", lines, bad_lines, lines - bad_lines),),
        days_with_data=covered,
    )


def audit(keys: list[ApiKey], data: UsageData, **options: object) -> AuditResult:
    return audit_keys(
        SPEC, GRAPH, keys, data, as_of=AS_OF, window=WINDOW, options=AuditOptions(**options)
    )


def only(result: AuditResult, key_id: str) -> KeyAudit:
    (found,) = [a for a in result.keys if a.key.key_id == key_id]
    return found


def rules(audit_: KeyAudit) -> dict[str, list[tuple[str, str]]]:
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for finding in audit_.findings:
        grouped[finding.rule].append((finding.subject, finding.severity))
    return dict(grouped)


# --------------------------------------------------------------------------- suggestions


def test_right_sized_accountant_key_has_no_findings() -> None:
    data = usage(
        hit("acct", "GET /invoices", count=300),
        hit("acct", "GET /invoices/{id}", count=120),
        hit("acct", "GET /customers", count=90),
    )
    result = audit([key("acct", "customers:read", "invoices:read")], data)
    a = only(result, "acct")
    assert a.suggested_scopes == {"customers:read", "invoices:read"}
    assert a.excess_scopes == frozenset()
    assert a.findings == ()
    assert a.confidence == "high"
    assert a.requests == 510
    evidence = {e.scope: e for e in a.evidence}
    assert [u.operation for u in evidence["invoices:read"].operations] == [
        "GET /invoices",
        "GET /invoices/{id}",
    ]
    assert evidence["invoices:read"].count == 420
    assert evidence["customers:read"].count == 90
    assert evidence["customers:read"].first_seen == WINDOW.start + timedelta(hours=1)
    assert a.before == a.after


def test_write_scope_only_reading_becomes_read_scope() -> None:
    data = usage(hit("sync", "GET /invoices", count=200))
    a = only(
        audit([key("sync", "invoices:write", "payouts:write", "webhooks:write")], data), "sync"
    )
    assert a.suggested_scopes == {"invoices:read"}
    assert a.excess_scopes == {"invoices:write", "payouts:write", "webhooks:write"}
    assert a.assigned_scopes == {"invoices:write", "payouts:write", "webhooks:write"}
    assert a.granted_scopes >= {"invoices:read", "payouts:read", "webhooks:read"}
    assert a.used_scopes == {"invoices:read"}
    found = rules(a)["unused-scope"]
    assert ("payouts:write", "high") in found
    assert ("webhooks:write", "high") in found
    assert ("invoices:write", "medium") in found
    unlocks = {e.scope: e.unlocks_never_called for e in a.excess}
    assert unlocks["payouts:write"] == ("GET /payouts", "POST /payouts")
    assert unlocks["invoices:write"] == ("POST /invoices",)  # /pay also needs payments:write
    assert a.after.risk_score < a.before.risk_score
    assert a.after.operations < a.before.operations
    assert a.after.sensitive_operations == 0 < a.before.sensitive_operations
    message = next(f.message for f in a.findings if f.subject == "invoices:write")
    assert "replace it with invoices:read" in message


def test_write_used_keeps_write_and_no_excess() -> None:
    data = usage(hit("k", "GET /invoices"), hit("k", "POST /invoices"))
    a = only(audit([key("k", "invoices:write")], data), "k")
    assert a.suggested_scopes == {"invoices:write"}
    assert a.excess_scopes == frozenset() and a.findings == ()


def test_redundant_read_next_to_write_is_info() -> None:
    data = usage(hit("k", "POST /invoices"))
    a = only(audit([key("k", "invoices:write", "invoices:read")], data), "k")
    assert a.excess_scopes == {"invoices:read"}
    assert rules(a) == {"unused-scope": [("invoices:read", "info")]}
    assert a.excess[0].unlocks_never_called == ()


def test_and_requirement_keeps_both_scopes() -> None:
    data = usage(hit("coll", "POST /invoices/{id}/pay"))
    a = only(audit([key("coll", "invoices:write", "payments:write")], data), "coll")
    assert a.suggested_scopes == {"invoices:write", "payments:write"}
    assert a.findings == ()
    evidence = {e.scope: [u.operation for u in e.operations] for e in a.evidence}
    assert evidence == {
        "invoices:write": ["POST /invoices/{id}/pay"],
        "payments:write": ["POST /invoices/{id}/pay"],
    }


def test_or_requirement_uses_scope_already_needed() -> None:
    data = usage(hit("rec", "GET /payments"), hit("rec", "GET /payments/{id}/refunds"))
    a = only(audit([key("rec", "payments:read", "refunds:read")], data), "rec")
    assert a.suggested_scopes == {"payments:read"}
    assert a.excess_scopes == {"refunds:read"}


def test_operations_without_scopes_need_nothing() -> None:
    data = usage(hit("k", "GET /me"), hit("k", "GET /health"), hit("k", "GET /invoices"))
    a = only(audit([key("k", "invoices:read")], data), "k")
    assert a.suggested_scopes == {"invoices:read"}


def test_xero_any_semantics() -> None:
    scopes = (
        Scope("accounting.transactions", access="write"),
        Scope("accounting.transactions.read", access="read"),
    )
    operations = (
        op("GET", "/Invoices", ("accounting.transactions",), ("accounting.transactions.read",)),
        op("POST", "/Invoices", ("accounting.transactions",)),
    )
    spec = replace(
        SPEC,
        operations=operations,
        scopes=scopes,
        semantics="any",
        implications=(("accounting.transactions", "accounting.transactions.read"),),
    )
    data = usage(hit("xero", "GET /Invoices"))
    result = audit_keys(
        spec,
        build_scope_graph(spec),
        [key("xero", "accounting.transactions")],
        data,
        as_of=AS_OF,
        window=WINDOW,
        options=AuditOptions(),
    )
    a = only(result, "xero")
    assert a.suggested_scopes == {"accounting.transactions.read"}
    assert a.excess_scopes == {"accounting.transactions"}
    assert a.used_scopes == {"accounting.transactions.read"}


# --------------------------------------------------------------------------- full access


def test_full_access_expands_to_catalog_and_migrates() -> None:
    data = usage(hit("erp", "GET /invoices"), hit("erp", "POST /customers"))
    a = only(audit([key("erp", full_access=True)], data), "erp")
    assert a.granted_scopes == CATALOG
    assert a.assigned_scopes == CATALOG
    assert a.suggested_scopes == {"invoices:read", "customers:write"}
    assert a.excess_scopes == CATALOG - {"invoices:read", "customers:write"}
    assert a.before.risk_score == 100
    # The legacy finding carries the plan; no per-scope unused-scope noise.
    assert rules(a) == {"legacy-full-access": [("", "critical")]}
    message = a.findings[0].message
    assert "2 scopes of 14" in message and "86% excess" in message and "revoke" in message


def test_full_access_that_moves_money_is_high_not_critical() -> None:
    data = usage(hit("batch", "POST /payouts", count=3, days=3), hit("batch", "GET /payouts"))
    a = only(audit([key("batch", full_access=True)], data), "batch")
    assert a.suggested_scopes == {"payouts:write"}
    assert rules(a)["legacy-full-access"] == [("", "high")]


def test_dormant_keys() -> None:
    result = audit([key("old", "invoices:read"), key("god", full_access=True)], usage())
    scoped = only(result, "old")
    assert scoped.suggested_scopes == frozenset()
    assert scoped.excess_scopes == {"invoices:read"}
    assert rules(scoped) == {"dormant-key": [("", "medium")]}
    god = only(result, "god")
    assert rules(god) == {
        "legacy-full-access": [("", "critical")],
        "dormant-key": [("", "high")],
    }
    # The advice is the time-box `keyscope plan` carries out, not an immediate revocation.
    for finding in (*scoped.findings, *god.findings):
        assert "set an expiry on it and tell its owner, then revoke it" in finding.message.lower()


# --------------------------------------------------------------------------- denied


def test_denied_requests_are_never_usage() -> None:
    data = usage(
        hit("support", "GET /customers", count=300),
        hit("support", "POST /payouts", status=403, count=20),
        hit("support", "GET /payouts", status=401, count=70),
    )
    a = only(audit([key("support", "customers:read")], data), "support")
    assert a.suggested_scopes == {"customers:read"}
    assert a.excess_scopes == frozenset()
    assert a.requests == 300
    assert a.missing_scopes == {"payouts:write", "payouts:read"}
    denied = {d.operation: d for d in a.denied}
    assert denied["POST /payouts"].count == 20
    assert denied["POST /payouts"].needed == (("payouts:write",),)
    found = rules(a)["denied-requests"]
    assert ("payouts:write", "high") in found  # probing for money movement
    assert ("payouts:read", "medium") in found
    message = next(f.message for f in a.findings if f.subject == "payouts:write")
    assert "probing" in message and "never counted as use" in message


def test_denied_in_used_area_is_under_scoping() -> None:
    data = usage(hit("k", "GET /invoices"), hit("k", "POST /invoices", status=403, count=4))
    a = only(audit([key("k", "invoices:read")], data), "k")
    assert rules(a) == {"denied-requests": [("invoices:write", "low")]}
    assert a.suggested_scopes == {"invoices:read"}


def test_denied_while_holding_the_scope_is_a_spec_mismatch() -> None:
    data = usage(hit("k", "GET /invoices"), hit("k", "GET /invoices/{id}", status=403, count=3))
    a = only(audit([key("k", "invoices:read")], data), "k")
    assert rules(a) == {"spec-runtime-mismatch": [("GET /invoices/{id}", "medium")]}
    assert a.missing_scopes == frozenset()


def test_only_denied_requests_make_a_dormant_key() -> None:
    data = usage(hit("k", "POST /payouts", status=403, count=30))
    a = only(audit([key("k", "invoices:read")], data), "k")
    assert a.requests == 0 and a.suggested_scopes == frozenset()
    assert set(rules(a)) == {"dormant-key", "denied-requests"}


# --------------------------------------------------------------------------- confidence


def test_young_key_is_insufficient_and_keeps_grants() -> None:
    young = key("new", "checkout:write", "invoices:write", created_at=AS_OF - timedelta(days=10))
    data = usage(hit("new", "GET /invoices", count=60, days=9, start=AS_OF - timedelta(days=9)))
    a = only(audit([young], data), "new")
    assert a.confidence == "insufficient"
    assert a.suggested_scopes == {"checkout:write", "invoices:write"}
    assert a.excess_scopes == frozenset()
    assert rules(a) == {"insufficient-data": [("", "info")]}
    assert "too new to judge" in a.confidence_reasons[0]


def test_key_younger_than_window_gets_lower_confidence() -> None:
    created = AS_OF - timedelta(days=40)
    data = usage(hit("k", "GET /invoices", count=200, days=35, start=created + timedelta(days=1)))
    a = only(audit([key("k", "invoices:read", created_at=created)], data), "k")
    assert a.confidence == "low"
    assert any("observed for only 40 of 90 days" in r for r in a.confidence_reasons)
    created = AS_OF - timedelta(days=60)
    a = only(audit([key("k", "invoices:read", created_at=created)], data), "k")
    assert a.confidence == "medium"


def test_revoked_key_is_listed_never_flagged() -> None:
    data = usage(hit("gone", "GET /invoices"), hit("gone", "POST /payouts", status=401))
    a = only(
        audit([key("gone", "invoices:write", "payouts:write", status="revoked")], data), "gone"
    )
    assert a.findings == ()
    assert a.excess_scopes == frozenset()
    assert a.suggested_scopes == a.assigned_scopes
    assert a.confidence == "insufficient"
    assert len(a.denied) == 1


@pytest.mark.parametrize(("coverage", "complete"), [(1.0, True), (0.5, False), (0.05, False)])
def test_coverage_gates_removal_advice(coverage: float, complete: bool) -> None:
    data = usage(hit("sync", "GET /invoices", count=300), coverage=coverage)
    result = audit([key("sync", "invoices:write", "payouts:write")], data)
    a = only(result, "sync")
    assert result.complete is complete
    if complete:
        assert a.excess_scopes == {"invoices:write", "payouts:write"}
        assert result.data_quality.missing_days == ()
    else:
        assert a.confidence == "insufficient"
        assert a.excess_scopes == frozenset()
        assert a.suggested_scopes == {"invoices:write", "payouts:write"}
        assert "unused-scope" not in rules(a)
        assert "insufficient-data" in rules(a)
        assert any("window days" in reason for reason in result.incomplete_reasons)
        assert len(result.data_quality.missing_days) == 90 - round(90 * coverage)


def test_a_few_missing_days_lower_confidence_to_medium() -> None:
    data = usage(hit("k", "GET /invoices", count=300), coverage=0.9)
    a = only(audit([key("k", "invoices:read", "payouts:write")], data), "k")
    assert a.confidence == "medium"
    assert a.excess_scopes == {"payouts:write"}
    assert any("without any log data" in reason for reason in a.confidence_reasons)


def test_too_many_bad_lines_make_the_run_incomplete() -> None:
    data = usage(hit("k", "GET /invoices", count=300), bad_lines=5_000, lines=100_000)
    result = audit([key("k", "invoices:read", "payouts:write")], data, bad_line_threshold=0.01)
    assert not result.complete
    assert "5,000 of 100,000 usage lines could not be read" in result.incomplete_reasons[0]
    assert only(result, "k").excess_scopes == frozenset()
    # Below the threshold the run is complete.
    data = usage(hit("k", "GET /invoices", count=300), bad_lines=10, lines=100_000)
    assert audit([key("k", "invoices:read")], data).complete


def test_no_usage_source_is_incomplete() -> None:
    result = audit([key("k", "invoices:read")], UsageData())
    assert not result.complete
    assert only(result, "k").confidence == "insufficient"
    assert "dormant-key" not in rules(only(result, "k"))


def test_inventory_use_without_logs_is_not_dormant() -> None:
    recently = key("k", "invoices:read", last_used_at=AS_OF - timedelta(days=3))
    a = only(audit([recently], usage(hit("other", "GET /invoices"))), "k")
    assert a.confidence == "insufficient"
    assert "dormant-key" not in rules(a)
    assert any("the logs hold no successful request" in r for r in a.confidence_reasons)


def test_low_volume_and_periodic_use() -> None:
    data = usage(hit("few", "GET /invoices", count=3))
    assert only(audit([key("few", "invoices:read")], data), "few").confidence == "low"
    monthly = [
        hit("batch", "POST /payouts", count=5, days=1, start=WINDOW.start + timedelta(days=d))
        for d in (10, 40, 70)
    ]
    a = only(audit([key("batch", "payouts:write")], usage(*monthly)), "batch")
    assert a.confidence == "medium"
    assert any("periodic use (about every 30 days)" in r for r in a.confidence_reasons)


def _periodic_reason(active_days: list[date]) -> str | None:
    """The seasonality rule written out plainly: the median gap between active days."""
    if len(active_days) < 2:
        return None
    period = statistics.median((b - a).days for a, b in itertools.pairwise(active_days))
    if period < 7:
        return None
    if WINDOW.days < 2 * period:
        return f"periodic use (about every {period:.0f} days): the window covers fewer"
    if period >= 20:
        return f"periodic use (about every {period:.0f} days): rarely used"
    return None


def test_periodic_use_follows_the_median_gap_between_active_days() -> None:
    first = WINDOW.start.date()
    rng = random.Random(11)
    patterns: list[list[int]] = [
        list(range(90)),  # every day
        list(range(0, 90, 3)),
        list(range(0, 90, 7)),  # weekly: a 7-day period, which is not reported
        list(range(0, 90, 20)),
        list(range(0, 90, 46)),  # fewer than two periods in the window
        [0, 1, 8, 15],  # gaps 1, 7, 7: median exactly 7
        [0, 1, 2, 22, 42],  # gaps 1, 1, 20, 20: median 10.5
        [0, 1, 21, 41],  # gaps 1, 20, 20: median 20
        [0, 20, 21, 41, 42, 62],  # gaps 20, 1, 20, 1, 20
    ]
    for _ in range(40):
        density = rng.choice((0.03, 0.05, 0.1, 0.3, 0.8))
        patterns.append(sorted(d for d in range(90) if rng.random() < density) or [5, 60])
    base = usage(hit("k", "GET /invoices", count=300))
    for offsets in patterns:
        days = [first + timedelta(days=offset) for offset in offsets]
        daily = tuple(
            DailyCount("k", day, 1 + offset % 4, 0)
            for day, offset in zip(days, offsets, strict=True)
        )
        a = only(audit([key("k", "invoices:read")], replace(base, daily=daily)), "k")
        periodic = [r for r in a.confidence_reasons if r.startswith("periodic use")]
        expected = _periodic_reason(days)
        assert (periodic[0][: len(expected)] if periodic else None) == expected, offsets
        assert len(periodic) <= 1


def test_an_operation_reached_through_several_rows_is_one_use() -> None:
    early, late = WINDOW.start + timedelta(days=3), AS_OF - timedelta(days=2)

    def success(path: str, operation: str, count: int, first: datetime, last: datetime):
        return UsageRow("k", "GET", path, operation, "success", count, first, last)

    rows = (  # three routes the spec maps to GET /invoices, in the loader's row order
        success("/invoices", "GET /invoices", 30, early + timedelta(days=1), late),
        success("/invoices/", "GET /invoices", 5, early, late - timedelta(days=3)),
        success("/v1/invoices", "GET /invoices", 7, late, late),
        success("/customers", "GET /customers", 4, early, early),
    )
    data = replace(usage(hit("k", "GET /invoices", count=1)), rows=rows)
    a = only(audit([key("k", "invoices:read", "customers:read")], data), "k")
    evidence = {e.scope: e.operations for e in a.evidence}
    (invoices,) = evidence["invoices:read"]
    assert (invoices.operation, invoices.count) == ("GET /invoices", 42)
    assert (invoices.first_seen, invoices.last_seen) == (early, late)
    assert [use.count for use in evidence["customers:read"]] == [4]
    assert a.requests == 46
    assert a.last_seen == late
    assert a.replay is not None and a.replay.requests == 46


def test_one_replayer_over_many_scope_sets_agrees_with_fresh_replays() -> None:
    operations = {operation.key: operation for operation in SPEC.operations}
    uses = [
        OperationUse(operation.key, 1 + index, OLD, OLD + timedelta(days=index))
        for index, operation in enumerate(SPEC.operations)
    ]
    replayer = Replayer(operations)
    rng = random.Random(5)
    for _ in range(60):
        held = GRAPH.expand(frozenset(rng.sample(sorted(CATALOG), rng.randint(0, 4))))
        some_uses = sorted(rng.sample(uses, rng.randint(0, len(uses))), key=lambda u: u.operation)
        requests = sum(u.count for u in some_uses) + rng.randint(0, 5)
        fresh = replay_requests(some_uses, operations, held, requests)
        assert replayer.replay(some_uses, held, requests) == fresh


def test_unmatched_success_lowers_confidence_and_is_reported() -> None:
    data = usage(
        hit("erp", "GET /invoices", count=100),
        hit("erp", None, route="GET /legacy/charges", count=20),
        hit("erp", None, route="GET /nope", status=404, count=5),
    )
    result = audit([key("erp", "invoices:read")], data)
    a = only(result, "erp")
    assert a.confidence == "low"
    assert result.data_quality.unmatched_requests == 25
    assert result.data_quality.unmatched_routes[0] == ("GET", "/legacy/charges", 20)
    route_findings = [f for f in result.findings if f.rule == "unmapped-route"]
    assert [(f.subject, f.key_id) for f in route_findings] == [("GET /legacy/charges", "")]
    assert len(a.unmatched) == 2


# --------------------------------------------------------------------------- other rules


def test_unknown_scope() -> None:
    data = usage(hit("k", "GET /invoices"))
    a = only(audit([key("k", "invoices:read", "reports:read", "Invoices:Read ")], data), "k")
    assert sorted(rules(a)["unknown-scope"]) == [("Invoices:Read ", "low"), ("reports:read", "low")]
    assert "unused-scope" not in rules(a)
    assert a.excess_scopes == {"reports:read", "Invoices:Read "}


def test_unknown_key_usage_is_masked() -> None:
    data = usage(
        hit("key", "GET /invoices"),
        hit("key_zzzzzzzzzzzz1234", "GET /invoices", count=7),
        hit("key_probe000000009999", "GET /invoices", status=401, count=3),
    )
    result = audit([key("key", "invoices:read")], data)
    found = [(f.subject, f.severity) for f in result.findings if f.rule == "unknown-key-usage"]
    # Masked, plus the first six hex digits of the whole id's SHA-256.
    assert found == [("key_…1234 #00f55d", "medium"), ("key_…9999 #4fb151", "low")]
    assert result.data_quality.unknown_keys == 2
    assert result.data_quality.unknown_key_ids == ("key_…1234 #00f55d", "key_…9999 #4fb151")


def test_unknown_keys_that_mask_alike_stay_apart() -> None:
    # Two different ids with the same last four characters: two findings, two counts.
    data = usage(
        hit("key", "GET /invoices"),
        hit("key_aaaaaaaaaaaaz9zz", "GET /invoices", count=3),
        hit("key_bbbbbbbbbbbbz9zz", "GET /invoices", count=3),
    )
    result = audit([key("key", "invoices:read")], data)
    found = [f for f in result.findings if f.rule == "unknown-key-usage"]
    assert len(found) == 2 and result.data_quality.unknown_keys == 2
    assert len({f.fingerprint for f in found}) == 2
    assert all(f.subject.startswith("key_…z9zz #") for f in found)
    assert all("made 3 requests" in f.message for f in found)


def test_secret_looking_unknown_key_ids_that_mask_alike_stay_apart(tmp_path: Path) -> None:
    """The usage loader masks a secret-looking key id; a digest of the raw id keeps two
    such keys apart (they were summed into one)."""
    from keyscope.analysis.routes import RouteMatcher
    from keyscope.settings import UsageSource
    from keyscope.sources.usage import load_usage

    path = tmp_path / "log.jsonl"
    lines = [
        f'{{"timestamp":"2026-10-01T00:00:00Z","key_id":"{key}","method":"GET",'
        f'"path":"/invoices","status":200}}'
        for key in ("sk_live_4eC39HqLyjWDarjtT1zdp7dcXYZ1", "sk_live_ZZZZ9HqLyjWDarjtT1zdpXYZ1")
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_usage(
        [UsageSource(path=str(path))], RouteMatcher(SPEC),
        window_start=datetime(2026, 9, 1, tzinfo=UTC), window_end=datetime(2026, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    ids = sorted({row.key_id for row in data.rows})
    assert len(ids) == 2 and all(i.startswith("sk_live_…XYZ1 #") for i in ids)
    result = audit([key("key", "invoices:read")], data)
    assert result.data_quality.unknown_keys == 2
    assert sorted(result.data_quality.unknown_key_ids) == ids


def test_secret_in_name_and_suspicious_names() -> None:
    keys = [
        key("a", "invoices:read", name="prod sk_live_…WXYZ", redacted_fields=("name", "secret")),
        key("b", "invoices:read", name="billing\u202eftxt.exe"),
        key("c", "invoices:read", name="pr\u043ed billing"),  # Cyrillic o
        key("d", "invoices:read", name="[bold]ops[/bold] </script>"),
    ]
    data = usage(*(hit(k.key_id, "GET /invoices") for k in keys))
    result = audit(keys, data)
    assert rules(only(result, "a")) == {"secret-in-name": [("name", "high")]}
    assert rules(only(result, "b")) == {"suspicious-key-name": [("name", "medium")]}
    assert rules(only(result, "c")) == {"suspicious-key-name": [("name", "medium")]}
    assert only(result, "d").findings == ()


# --------------------------------------------------------------------------- identity and order


def test_fingerprints_ignore_names_order_and_messages() -> None:
    data = usage(hit("sync", "GET /invoices"))
    first = audit([key("sync", "invoices:write", name="A")], data)
    renamed = audit([key("sync", "invoices:write", name="B")], data)
    assert [f.fingerprint for f in first.findings] == [f.fingerprint for f in renamed.findings]
    finding = first.findings[0]
    assert finding.fingerprint == finding_fingerprint("unused-scope", "sync", "invoices:write")
    assert len(finding.fingerprint) == 16 and int(finding.fingerprint, 16) >= 0
    assert finding_fingerprint("unused-scope", "sync", "x") != finding.fingerprint


def test_findings_are_sorted_and_complete() -> None:
    keys = [
        key("b", "invoices:write", "payouts:write"),
        key("a", full_access=True),
        key("c", "invoices:read"),
    ]
    data = usage(hit("b", "GET /invoices"), hit("a", "GET /invoices"))
    result = audit(keys, data)
    assert [a.key.key_id for a in result.keys] == ["a", "b", "c"]
    ordered = [(severity_rank(f.severity), f.rule, f.key_id, f.subject) for f in result.findings]
    assert ordered == sorted(ordered)
    assert result.findings == sort_findings(f for a in result.keys for f in a.findings)


def test_same_inputs_in_any_order_give_identical_results() -> None:
    keys = [
        key("sync", "invoices:write", "payouts:write", "webhooks:write"),
        key("erp", full_access=True),
        key("support", "customers:read"),
        key("new", "checkout:write", created_at=AS_OF - timedelta(days=3)),
    ]
    data = usage(
        hit("sync", "GET /invoices", count=100),
        hit("erp", "POST /customers", count=80),
        hit("erp", None, route="GET /legacy", count=3),
        hit("support", "GET /customers", count=50),
        hit("support", "POST /payouts", status=403, count=9),
        hit("ghost_key_00001234", "GET /invoices", count=2),
    )
    baseline = audit(keys, data)
    rng = random.Random(7)
    for _ in range(5):
        shuffled_keys = keys[:]
        rng.shuffle(shuffled_keys)
        rows = list(data.rows)
        rng.shuffle(rows)
        daily = list(data.daily)
        rng.shuffle(daily)
        again = audit(shuffled_keys, replace(data, rows=tuple(rows), daily=tuple(daily)))
        assert again == baseline
        assert render_json(again) == render_json(baseline)


def test_ten_keys_sharing_usage_patterns_reuse_work() -> None:
    keys = [key(f"k{i:02}", "invoices:write", "payouts:write") for i in range(10)]
    data = usage(*(hit(k.key_id, "GET /invoices") for k in keys))
    result = audit(keys, data)
    assert {a.suggested_scopes for a in result.keys} == {frozenset({"invoices:read"})}
    assert len([f for f in result.findings if f.rule == "unused-scope"]) == 20


def test_known_incomplete_reasons_block_removal_advice() -> None:
    data = usage(hit("k", "GET /invoices", count=300))
    from_usage = replace(data, incomplete_reasons=("gateway.csv: 40% unreadable",))
    result = audit([key("k", "invoices:read", "payouts:write")], from_usage)
    assert not result.complete
    assert result.incomplete_reasons == ("gateway.csv: 40% unreadable",)
    assert only(result, "k").excess_scopes == frozenset()
    from_caller = audit(
        [key("k", "invoices:read", "payouts:write")],
        data,
        incomplete_reasons=("snapshot: key list truncated",),
    )
    assert from_caller.incomplete_reasons == ("snapshot: key list truncated",)
    assert only(from_caller, "k").confidence == "insufficient"


def test_har_capture_gets_a_suggestion_not_findings() -> None:
    data = usage(
        hit("har:onboarding", "GET /invoices", count=12, days=1, start=AS_OF - timedelta(days=2)),
        hit("har:onboarding", "POST /customers", count=3, days=1, start=AS_OF - timedelta(days=2)),
        hit(
            "har:onboarding", "POST /payouts", status=403, count=1, start=AS_OF - timedelta(days=2)
        ),
        hit("acct", "GET /invoices"),
    )
    result = audit(
        [key("acct", "invoices:read")], data, capture_key_ids=frozenset({"har:onboarding", "har:x"})
    )
    capture = only(result, "har:onboarding")
    assert capture.capture
    assert capture.suggested_scopes == {"invoices:read", "customers:write"}
    assert capture.assigned_scopes == capture.granted_scopes == capture.excess_scopes == frozenset()
    assert capture.findings == ()
    assert capture.missing_scopes == {"payouts:write"}  # denied, never added
    assert capture.confidence == "medium"  # 15 requests; coverage and age do not apply
    assert [a.key.key_id for a in result.keys] == ["acct", "har:onboarding"]
    assert not any(f.rule == "unknown-key-usage" for f in result.findings)
    assert result.data_quality.unknown_keys == 0
    # A capture id that is an inventory key is simply that key's usage.
    again = audit([key("har:onboarding", "invoices:read")], data,
                  capture_key_ids=frozenset({"har:onboarding"}))  # fmt: skip
    assert not only(again, "har:onboarding").capture


def test_daily_counts_are_merged_and_ordered() -> None:
    data = usage(hit("k", "GET /invoices", count=30, days=3))
    day = WINDOW.start.date()
    shuffled = (
        DailyCount("k", day + timedelta(days=2), 5, 0),
        DailyCount("k", day, 7, 0),
        DailyCount("k", day, 3, 1),  # a second source's count for the same day
    )
    a = only(audit([key("k", "invoices:read")], replace(data, daily=shuffled)), "k")
    assert a.daily == ((day, 10), (day + timedelta(days=2), 5))


def test_every_rule_is_documented_and_no_other_is_emitted() -> None:
    from pathlib import Path

    from keyscope.analysis.audit import RULES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    for rule in RULES:
        assert f"| `{rule}` |" in docs, rule
    keys = [
        key("sync", "invoices:write", "payouts:write", "reports:read"),
        key("erp", full_access=True, name="pr\u043ed", redacted_fields=("name",)),
        key("old", "invoices:read"),
        key("new", "invoices:read", created_at=AS_OF - timedelta(days=2)),
    ]
    data = usage(
        hit("sync", "GET /invoices"),
        hit("sync", "POST /payouts", status=403),  # holds payouts:write: spec mismatch
        hit("sync", "POST /refunds", status=403),  # lacks refunds:write: denied-requests
        hit("erp", "GET /invoices"),
        hit("erp", None, route="GET /legacy"),
        hit("stranger_0000000001", "GET /invoices"),
    )
    emitted = {f.rule for f in audit(keys, data).findings}
    assert emitted == set(RULES)
