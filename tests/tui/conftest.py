"""Fixtures for the TUI tests: a small, hand-made audit and an app factory.

The audit is built here from model objects (not by the pipeline) so that the TUI
tests pin the screens to known data: legacy keys, dormant keys, denied requests, and
key names that try to be markup or terminal escapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keyscope.analysis.risk import BlastRadiusCalculator, scope_weights
from keyscope.model import (
    Anomaly,
    ApiKey,
    ApiSpec,
    AuditResult,
    BlastRadius,
    DataQuality,
    DeniedRequests,
    ExcessScope,
    Finding,
    KeyAudit,
    Operation,
    OperationUse,
    Scope,
    ScopeEvidence,
    SpecSummary,
    Window,
)
from keyscope.settings import DEFAULT_RISK_WEIGHTS, Settings

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
AREAS = ("invoices", "payments", "customers", "refunds", "payouts", "webhooks", "checkout")

MARKUP_NAMES = (
    "[bold]x[/bold]",
    "[link=https://evil.example]rotate me[/link]",
    "[/b] prod",
    "[TODO] Q3 billing",
)


def _resource(area: str) -> str:
    return "api-keys" if area == "api_keys" else area


def build_spec() -> ApiSpec:
    """A partner API shaped like the sample: 8 areas, read and write each."""
    scopes: list[Scope] = []
    operations: list[Operation] = []
    for area in (*AREAS, "api_keys"):
        for access in ("read", "write"):
            scopes.append(
                Scope(
                    f"{area}:{access}",
                    f"{access.title()} {area.replace('_', ' ')}",
                    area=area,
                    access=access,
                )
            )
        path = f"/{_resource(area)}"
        read, write = frozenset({f"{area}:read"}), frozenset({f"{area}:write"})
        operations += [
            Operation("GET", path, f"list_{area}", requirements=(read,)),
            Operation("POST", path, f"create_{area}", requirements=(write,)),
            Operation("GET", f"{path}/{{id}}", f"get_{area}", requirements=(read,)),
            Operation("DELETE", f"{path}/{{id}}", f"delete_{area}", requirements=(write,)),
        ]
    # Two scopes together, and either of two.
    operations.append(
        Operation(
            "POST",
            "/refunds/{id}/reverse",
            "reverse_refund",
            requirements=(frozenset({"refunds:write", "payments:read"}),),
        )
    )
    operations.append(
        Operation(
            "GET",
            "/reports/balance",
            "balance",
            requirements=(frozenset({"payments:read"}), frozenset({"payouts:read"})),
        )
    )
    operations.append(Operation("GET", "/health", "health", public=True))
    operations.sort(key=lambda op: (op.path, op.method))
    return ApiSpec(
        title="Partner API",
        version="2026-10",
        format="openapi 3.1.0",
        source="sample_specs/partner-api.yaml",
        sha256="0" * 64,
        base_paths=("/v1",),
        operations=tuple(operations),
        scopes=tuple(sorted(scopes, key=lambda s: s.name)),
        semantics="all",
        semantics_reason="OpenAPI default",
        implications=tuple((f"{a}:write", f"{a}:read") for a in (*AREAS, "api_keys")),
        anomalies=(
            Anomaly(
                "read-scope-on-write",
                "DELETE guarded by a read scope [sic]",
                operation="DELETE /reports/{id}",
                severity="medium",
            ),
            Anomaly("declared-unused", "scope [TODO] never used", scope="checkout:read"),
        ),
    )


@dataclass
class FakeGraph:
    """Write implies read, like the platform's scope graph."""

    spec: ApiSpec

    def expand(self, scopes: frozenset[str]) -> frozenset[str]:
        out = set(scopes)
        for stronger, weaker in self.spec.implications:
            if stronger in out:
                out.add(weaker)
        return frozenset(out)


def blast_radius_of(spec: ApiSpec, graph: FakeGraph) -> Callable[[frozenset[str]], BlastRadius]:
    """The core's own blast-radius measure, so fixture numbers match the what-if's."""
    calculator = BlastRadiusCalculator(spec, scope_weights(spec.scopes, DEFAULT_RISK_WEIGHTS))
    return lambda scopes: calculator.measure(graph.expand(scopes))


@dataclass
class FakeRun:
    """Stands in for ``keyscope.pipeline.AuditRun`` (same field names)."""

    settings: Settings
    spec: ApiSpec
    graph: FakeGraph
    result: AuditResult
    keys: tuple[ApiKey, ...] = ()
    usage: Any = None


def _finding(rule: str, severity: str, key_id: str, subject: str, message: str) -> Finding:
    return Finding(rule, severity, key_id, subject, message, f"{rule}:{key_id}:{subject}")  # type: ignore[arg-type]


def make_key_audit(
    spec: ApiSpec,
    graph: FakeGraph,
    key: ApiKey,
    uses: dict[str, int],
    *,
    denied: tuple[DeniedRequests, ...] = (),
    confidence: str = "high",
    extra_findings: tuple[Finding, ...] = (),
) -> KeyAudit:
    """A KeyAudit with consistent fields, for fixtures only (not the product's analysis)."""
    measure = blast_radius_of(spec, graph)
    catalog = frozenset(s.name for s in spec.scopes)
    granted = graph.expand(catalog if key.full_access else key.scopes)
    by_op = {op.key: op for op in spec.operations}
    start = AS_OF - timedelta(days=60)
    use_rows = {
        name: OperationUse(name, count, start + timedelta(days=i), AS_OF - timedelta(days=1 + i))
        for i, (name, count) in enumerate(sorted(uses.items()))
    }
    suggested: set[str] = set()
    for name in sorted(use_rows):
        alternatives = sorted(by_op[name].requirements, key=lambda alt: sorted(alt))
        fitting = [alt for alt in alternatives if alt <= granted]
        suggested |= (fitting or alternatives)[0]
    if confidence == "insufficient":
        suggested = set(key.scopes if not key.full_access else granted)
    suggested_f = frozenset(suggested)
    used = (
        frozenset(suggested_f)
        if confidence != "insufficient"
        else frozenset(s for name in use_rows for alt in by_op[name].requirements for s in alt)
    )
    evidence = tuple(
        ScopeEvidence(
            scope, tuple(use_rows[n] for n in sorted(use_rows) if scope in by_op[n].scopes)
        )
        for scope in sorted(suggested_f)
    )
    excess = graph.expand(key.scopes if not key.full_access else catalog) - graph.expand(
        suggested_f
    )
    excess_rows = tuple(
        ExcessScope(
            scope,
            tuple(
                op.key for op in spec.operations if scope in op.scopes and op.key not in use_rows
            ),
        )
        for scope in sorted(excess)
    )
    missing = frozenset(s for d in denied for alt in d.needed[:1] for s in alt) - granted
    findings: list[Finding] = list(extra_findings)
    if key.full_access:
        findings.append(
            _finding(
                "legacy-full-access",
                "critical",
                key.key_id,
                "",
                "Legacy key with full access; migrate to scoped key",
            )
        )
    for scope in sorted(excess):
        findings.append(
            _finding(
                "unused-scope",
                "medium",
                key.key_id,
                scope,
                f"Scope {scope} was not used in 90 days",
            )
        )
    if not uses and key.status == "active":
        findings.append(
            _finding("dormant-key", "low", key.key_id, "", "No successful use in 90 days")
        )
    if denied:
        findings.append(
            _finding(
                "denied-requests",
                "high",
                key.key_id,
                denied[0].path,
                f"{sum(d.count for d in denied)} denied requests",
            )
        )
    if key.status == "revoked":
        findings = []
        excess_rows = ()
        excess = frozenset()
    requests = sum(uses.values())
    # Spread the requests over the window's weekdays, busier mid-week.
    weights = [0 if d % 7 in (5, 6) else 1 + (d % 7) for d in range(90)]
    shares = [requests * w // sum(weights) for w in weights]
    shares[-3] += requests - sum(shares)
    daily = tuple(
        (date(2026, 8, 3) + timedelta(days=d), share) for d, share in enumerate(shares) if share
    )
    return KeyAudit(
        key=key,
        granted_scopes=granted,
        used_scopes=used,
        suggested_scopes=suggested_f,
        excess_scopes=frozenset(excess),
        missing_scopes=missing,
        evidence=evidence,
        excess=excess_rows,
        denied=denied,
        unmatched=(),
        before=measure(granted),
        after=measure(suggested_f),
        confidence=confidence,  # type: ignore[arg-type]
        confidence_reasons=("90 of 90 days with data",),
        findings=tuple(sorted(findings, key=lambda f: (f.severity, f.rule, f.subject))),
        requests=requests,
        last_seen=max((u.last_seen for u in use_rows.values()), default=None),
        daily=daily,
    )


def build_result(names: dict[str, str] | None = None) -> tuple[ApiSpec, FakeGraph, AuditResult]:
    """The fixture audit: 12 keys covering every kind of row the keys screen shows."""
    spec = build_spec()
    graph = FakeGraph(spec)
    created = AS_OF - timedelta(days=400)
    names = names or {}

    def key(key_id: str, name: str, scopes: tuple[str, ...] = (), **extra: Any) -> ApiKey:
        return ApiKey(
            key_id, names.get(key_id, name), frozenset(scopes), created_at=created, **extra
        )

    denied_payout = DeniedRequests(
        "POST",
        "/payouts",
        "POST /payouts",
        17,
        AS_OF - timedelta(days=9),
        AS_OF - timedelta(days=2),
        needed=(("payouts:write",),),
    )
    audits = [
        make_key_audit(
            spec,
            graph,
            key(
                "key_acct0001",
                "Accountant export",
                ("customers:read", "invoices:read"),
                owner="finance",
            ),
            {"GET /customers": 420, "GET /invoices": 1310, "GET /invoices/{id}": 96},
        ),
        make_key_audit(
            spec,
            graph,
            key(
                "key_recon0002",
                "Reconciliation tool",
                ("payments:read", "payments:write", "refunds:read"),
            ),
            {"GET /payments": 5000, "GET /reports/balance": 12},
        ),
        make_key_audit(
            spec,
            graph,
            key("key_refund0003", "Refunds operator", ("refunds:write",)),
            {"POST /refunds": 230, "GET /refunds": 88},
        ),
        make_key_audit(
            spec,
            graph,
            key("key_legacy0004", "Legacy billing", full_access=True),
            {"GET /invoices": 800, "POST /invoices": 120, "GET /payments/{id}": 33},
        ),
        make_key_audit(
            spec,
            graph,
            key("key_legacy0005", "Old dashboard", full_access=True),
            {"GET /customers/{id}": 3},
        ),
        make_key_audit(spec, graph, key("key_dormant06", "Webhook relay", ("webhooks:write",)), {}),
        make_key_audit(
            spec,
            graph,
            key("key_payout0007", "Payout bot", ("payouts:read",)),
            {"GET /payouts": 61},
            denied=(denied_payout,),
        ),
        make_key_audit(
            spec,
            graph,
            key("key_revoked08", "Retired CI key", ("checkout:write",), status="revoked"),
            {},
        ),
        make_key_audit(
            spec,
            graph,
            key("key_young0009", "New checkout app", ("checkout:write", "checkout:read")),
            {"POST /checkout": 9},
            confidence="insufficient",
        ),
        make_key_audit(
            spec,
            graph,
            key("key_mark0010", MARKUP_NAMES[0], ("refunds:write",)),
            {"POST /refunds": 4},
        ),
        make_key_audit(
            spec,
            graph,
            key("key_mark0011", MARKUP_NAMES[1], ("invoices:read",)),
            {"GET /invoices": 2},
        ),
        make_key_audit(
            spec,
            graph,
            key(
                "key_mark0012",
                f"{MARKUP_NAMES[2]} {MARKUP_NAMES[3]} \x1b[2J\u202eevil",
                ("customers:write",),
            ),
            {"POST /customers": 7},
        ),
    ]
    audits.sort(key=lambda a: a.key.key_id)
    findings = tuple(
        sorted(
            (f for a in audits for f in a.findings),
            key=lambda f: (
                ["critical", "high", "medium", "low", "info"].index(f.severity),
                f.rule,
                f.key_id,
                f.subject,
            ),
        )
    )
    result = AuditResult(
        tool_version="0.1.0",
        as_of=AS_OF,
        window=Window(AS_OF - timedelta(days=90), AS_OF, 90),
        complete=True,
        incomplete_reasons=(),
        spec=SpecSummary.of(spec),
        keys=tuple(audits),
        findings=findings,
        data_quality=DataQuality(total_lines=100_000, coverage_days=90, window_days=90),
        anomalies=spec.anomalies,
    )
    return spec, graph, result


def build_run(settings: Settings | None = None, **kwargs: Any) -> FakeRun:
    spec, graph, result = build_result(**kwargs)
    run = FakeRun(settings or Settings(as_of=AS_OF), spec, graph, result)
    return run


@pytest.fixture
def fixture_run() -> FakeRun:
    return build_run()


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Freeze the cursor blink so snapshots do not depend on timing."""
    from textual.widgets import Input

    # The reactive's default, not the attribute: replacing the descriptor would break it.
    monkeypatch.setattr(Input.__dict__["cursor_blink"], "_default", False)
    yield


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the user's keyscope.toml and suppressions out of the tests."""
    monkeypatch.chdir(tmp_path)
    for name in ("KEYSCOPE_CONFIG", "KEYSCOPE_SPEC", "KEYSCOPE_KEYS", "KEYSCOPE_SUPPRESSIONS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
