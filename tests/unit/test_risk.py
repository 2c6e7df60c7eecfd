"""Risk weights, risk score and blast radius."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyscope.analysis.risk import (
    DEFAULT_READ_WEIGHT,
    DEFAULT_UNKNOWN_WEIGHT,
    DEFAULT_WRITE_WEIGHT,
    BlastRadiusCalculator,
    infer_access,
    infer_weight,
    is_sensitive_scope,
    risk_score,
    scope_weights,
)
from keyscope.model import ApiSpec, Operation, Scope
from keyscope.settings import DEFAULT_RISK_WEIGHTS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "access"),
    [
        ("invoices:write", "write"),
        ("invoices:read", "read"),
        ("accounting.transactions.read", "read"),
        ("accounting.transactions", None),
        ("PAYMENTS_WRITE", "write"),
        ("MERCHANT_PROFILE_READ", "read"),
        ("channels:manage", "write"),
        ("reads", None),
    ],
)
def test_infer_access(name: str, access: str | None) -> None:
    assert infer_access(name) == access


def test_default_weights_by_access() -> None:
    assert infer_weight("x:write") == DEFAULT_WRITE_WEIGHT
    assert infer_weight("x:read") == DEFAULT_READ_WEIGHT
    assert infer_weight("accounting.transactions") == DEFAULT_UNKNOWN_WEIGHT
    assert infer_weight("accounting.transactions", "write") == DEFAULT_WRITE_WEIGHT


def test_scope_weights_configured_wins_and_unknown_names_get_defaults() -> None:
    scopes = [Scope("payouts:write", access="write"), Scope("reports", access="read")]
    weights = scope_weights(scopes, {"payouts:write": 30}, ["made:up:write"])
    assert weights == {"payouts:write": 30, "reports": DEFAULT_READ_WEIGHT, "made:up:write": 5}


def test_payments_weights_order_money_movement_first() -> None:
    w = DEFAULT_RISK_WEIGHTS
    assert w["payouts:write"] > w["refunds:write"] > w["payments:write"]
    assert w["payments:write"] > w["webhooks:write"] > w["checkout:write"] > w["customers:read"]
    assert w["customers:read"] > w["invoices:read"]


def test_risk_score_sums_effective_grants_and_caps_at_100() -> None:
    weights = dict(DEFAULT_RISK_WEIGHTS)
    assert risk_score({"customers:read", "invoices:read"}, weights) == 15
    assert risk_score({"refunds:write", "refunds:read"}, weights) == 28
    assert risk_score(set(DEFAULT_RISK_WEIGHTS), weights) == 100
    assert risk_score(set(), weights) == 0
    assert risk_score({"unknown:write"}, weights) == DEFAULT_WRITE_WEIGHT


def test_sensitive_scopes() -> None:
    weights = dict(DEFAULT_RISK_WEIGHTS)
    assert is_sensitive_scope("payouts:write", weights)
    assert is_sensitive_scope("customers:read", weights)  # personal data
    assert not is_sensitive_scope("invoices:read", weights)
    # A money-movement write stays sensitive even when configured light.
    assert is_sensitive_scope("refunds:write", {"refunds:write": 1})


def test_blast_radius_counts_reachable_and_sensitive_operations() -> None:
    operations = (
        Operation("GET", "/health", public=True),
        Operation("GET", "/invoices", requirements=(frozenset({"invoices:read"}),)),
        Operation("POST", "/payouts", requirements=(frozenset({"payouts:write"}),)),
        Operation("GET", "/customers", requirements=(frozenset({"customers:read"}),)),
        Operation("GET", "/me", requirements=(frozenset(),)),
    )
    spec = ApiSpec(
        title="t", version="1", format="openapi 3.1.0", source="s", sha256="", base_paths=(),
        operations=operations,
        scopes=tuple(Scope(n) for n in ("customers:read", "invoices:read", "payouts:write")),
        semantics="all", semantics_reason="",
    )  # fmt: skip
    calculator = BlastRadiusCalculator(spec, dict(DEFAULT_RISK_WEIGHTS))
    nothing = calculator.measure(frozenset())
    assert (nothing.operations, nothing.sensitive_operations, nothing.risk_score) == (1, 0, 0)
    reader = calculator.measure(frozenset({"invoices:read"}))
    assert (reader.operations, reader.sensitive_operations, reader.risk_score) == (2, 0, 3)
    everything = calculator.measure(frozenset({"invoices:read", "payouts:write", "customers:read"}))
    assert (everything.operations, everything.sensitive_operations) == (4, 2)
    assert everything.risk_score == 45
    assert calculator.measure(frozenset({"invoices:read"})) is reader  # memoized
    assert [o.key for o in calculator.reachable(frozenset({"payouts:write"}))] == [
        "POST /payouts",
        "GET /me",
    ]


def test_sample_spec_full_access_is_maximal() -> None:
    from keyscope.sources.openapi import load_spec

    spec = load_spec(REPO / "sample_specs" / "partner-api.yaml")
    calculator = BlastRadiusCalculator(spec, dict(DEFAULT_RISK_WEIGHTS))
    full = calculator.measure(spec.catalog)
    assert full.risk_score == 100
    assert full.operations == sum(1 for o in spec.operations if not o.public)
    reader = calculator.measure(frozenset({"payments:read"}))
    assert reader.sensitive_operations == 0 < full.sensitive_operations
