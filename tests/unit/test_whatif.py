"""keyscope.analysis.whatif: judging a choice of scopes against a key's real requests."""

from __future__ import annotations

from datetime import UTC, datetime

from keyscope.analysis.whatif import evaluate_scopes, observed_operations, starting_scopes
from keyscope.model import ApiKey, BlastRadius, KeyAudit, Operation, OperationUse, ScopeEvidence

T0 = datetime(2026, 10, 1, tzinfo=UTC)
T1 = datetime(2026, 10, 30, tzinfo=UTC)

OPERATIONS = {
    op.key: op
    for op in (
        Operation("GET", "/invoices", requirements=(frozenset({"invoices:read"}),)),
        Operation("POST", "/invoices", requirements=(frozenset({"invoices:write"}),)),
        Operation("GET", "/customers", requirements=(frozenset({"customers:read"}),)),
        # Two scopes together.
        Operation(
            "POST",
            "/refunds/{id}/reverse",
            requirements=(frozenset({"refunds:write", "payments:read"}),),
        ),
        # Either of two.
        Operation(
            "GET",
            "/balance",
            requirements=(frozenset({"payments:read"}), frozenset({"payouts:read"})),
        ),
        Operation("GET", "/health", public=True),
    )
}


def expand(scopes: frozenset[str]) -> frozenset[str]:
    """Write implies read."""
    return scopes | {s.replace(":write", ":read") for s in scopes if s.endswith(":write")}


def radius(scopes: frozenset[str]) -> BlastRadius:
    reachable = [op for op in OPERATIONS.values() if not op.public and op.is_satisfied_by(scopes)]
    return BlastRadius(len(reachable), 0, 10 * len(scopes))


def use(operation: str, count: int) -> OperationUse:
    return OperationUse(operation, count, T0, T1)


def audit(**fields: object) -> KeyAudit:
    base: dict[str, object] = dict(
        key=ApiKey("key_1", scopes=frozenset({"invoices:write"})),
        granted_scopes=frozenset({"invoices:write", "invoices:read"}),
        used_scopes=frozenset(),
        suggested_scopes=frozenset(),
        excess_scopes=frozenset(),
        missing_scopes=frozenset(),
        evidence=(),
        excess=(),
        denied=(),
        unmatched=(),
        before=BlastRadius(0, 0, 0),
        after=BlastRadius(0, 0, 0),
        confidence="high",
        confidence_reasons=(),
        findings=(),
        requests=0,
        last_seen=None,
    )
    base.update(fields)
    return KeyAudit(**base)  # type: ignore[arg-type]


def test_nothing_breaks_when_every_used_operation_is_still_allowed() -> None:
    observed = [use("GET /invoices", 40), use("GET /balance", 3)]
    outcome = evaluate_scopes(
        frozenset({"invoices:write", "payouts:read"}), observed, OPERATIONS, expand, radius
    )
    assert outcome.blocked == ()
    assert outcome.served_requests == 43
    assert not outcome.breaks_usage
    assert outcome.effective == {"invoices:write", "invoices:read", "payouts:read"}


def test_blocked_operations_busiest_first_with_what_they_need() -> None:
    observed = [
        use("GET /invoices", 5),
        use("POST /refunds/{id}/reverse", 9),
        use("GET /customers", 9),
        use("GET /balance", 100),
    ]
    outcome = evaluate_scopes(frozenset({"refunds:write"}), observed, OPERATIONS, expand, radius)
    assert [(b.operation, b.count) for b in outcome.blocked] == [
        ("GET /balance", 100),
        ("GET /customers", 9),
        ("POST /refunds/{id}/reverse", 9),
        ("GET /invoices", 5),
    ]
    reverse = next(b for b in outcome.blocked if b.operation == "POST /refunds/{id}/reverse")
    assert reverse.needs == (("payments:read", "refunds:write"),)
    balance = outcome.blocked[0]
    assert balance.needs == (("payments:read",), ("payouts:read",))
    assert outcome.blocked_requests == 123
    assert outcome.served_requests == 0


def test_implied_scopes_count_and_the_blast_radius_is_measured_on_them() -> None:
    outcome = evaluate_scopes(
        frozenset({"invoices:write"}), [use("GET /invoices", 1)], OPERATIONS, expand, radius
    )
    assert not outcome.breaks_usage
    assert outcome.blast_radius == radius(frozenset({"invoices:write", "invoices:read"}))


def test_unknown_operations_are_reported_not_judged() -> None:
    outcome = evaluate_scopes(frozenset(), [use("GET /gone", 7)], OPERATIONS, expand, radius)
    assert outcome.unknown_operations == ("GET /gone",)
    assert outcome.blocked == () and outcome.served_requests == 0


def test_observed_operations_are_deduplicated_across_scopes() -> None:
    shared = use("POST /refunds/{id}/reverse", 9)
    key_audit = audit(
        evidence=(
            ScopeEvidence("payments:read", (shared, use("GET /balance", 2))),
            ScopeEvidence("refunds:write", (shared,)),
        )
    )
    assert observed_operations(key_audit) == (use("GET /balance", 2), shared)


def test_starting_scopes_prefer_the_assigned_list() -> None:
    assert starting_scopes(audit()) == {"invoices:write"}
    assert starting_scopes(audit(assigned_scopes=frozenset({"a", "b"}))) == {"a", "b"}
    legacy = audit(
        key=ApiKey("key_2", full_access=True),
        granted_scopes=frozenset({"invoices:read", "invoices:write", "customers:read"}),
    )
    assert starting_scopes(legacy) == {"invoices:read", "invoices:write", "customers:read"}
