"""Audit results built directly, for the reporters' tests (no spec, logs or engine needed).

``build_result`` makes a small, realistic result: the platform's least-privilege
examples (accountant, reconciliation tool, refunds operator), legacy full-access keys
(one in use, one dormant, one with too little data), a revoked key, a probed key with
denied requests, and whatever extra keys a test adds.  ``synthetic_result`` makes a
large one for size and determinism checks.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from keyscope.model import (
    Anomaly,
    ApiKey,
    AuditResult,
    BadLine,
    BlastRadius,
    DataQuality,
    DeniedRequests,
    ExcessScope,
    Finding,
    KeyAudit,
    OperationUse,
    Replay,
    ScopeEvidence,
    SourceStats,
    SpecSummary,
    UsageRow,
    Window,
    severity_rank,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
START = AS_OF - timedelta(days=90)
AREAS = (
    "invoices",
    "payments",
    "customers",
    "refunds",
    "payouts",
    "webhooks",
    "checkout",
    "api_keys",
)
CATALOG = tuple(sorted(f"{area}:{access}" for area in AREAS for access in ("read", "write")))
WEIGHTS = {
    "payouts:write": 30,
    "refunds:write": 25,
    "payments:write": 20,
    "webhooks:write": 18,
    "checkout:write": 15,
    "customers:read": 12,
    "customers:write": 10,
    "invoices:write": 8,
    "api_keys:write": 30,
    "api_keys:read": 6,
}

OPERATIONS = {
    "invoices:read": ("GET /invoices", "GET /invoices/{invoice_id}"),
    "invoices:write": ("POST /invoices", "POST /invoices/{invoice_id}/void"),
    "payments:read": ("GET /payments", "GET /payments/{payment_id}"),
    "payments:write": ("POST /payments", "POST /payments/{payment_id}/capture"),
    "customers:read": ("GET /customers", "GET /customers/{customer_id}"),
    "customers:write": ("POST /customers", "DELETE /customers/{customer_id}"),
    "refunds:read": ("GET /refunds",),
    "refunds:write": ("POST /refunds",),
    "payouts:read": ("GET /payouts",),
    "payouts:write": ("POST /payouts",),
    "webhooks:read": ("GET /webhooks",),
    "webhooks:write": ("POST /webhooks", "PATCH /webhooks/{webhook_id}"),
    "checkout:read": ("GET /checkout/sessions",),
    "checkout:write": ("POST /checkout/sessions",),
    "api_keys:read": ("GET /api-keys",),
    "api_keys:write": ("POST /api-keys", "DELETE /api-keys/{key_id}"),
}
SENSITIVE = {
    "payouts:write",
    "refunds:write",
    "payments:write",
    "webhooks:write",
    "checkout:write",
    "api_keys:write",
    "customers:read",
}

XSS_NAME = "</script><img src=x onerror=alert(1)>"

PAYLOADS: tuple[str, ...] = (
    XSS_NAME,
    "\"'><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}{% for x in y %}",
    "[link=https://evil.example]rotate me[/link]",
    "[/b] prod [TODO] [@click=app.quit]",
    "\x1b[2J\x1b]0;pwned\x07\x9b31m",
    "evil\u202eexe.txt\u200b",
    '=HYPERLINK("https://x?"&A1)',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "line\r\nforged: yes",
    "nul\x00byte",
    "lone \ud800 surrogate",
    "<!--",
    "]]><svg onload=alert(1)>",
    "x" * 1_000_000,
)
"""BAD-INPUTS P6 corpus: markup, template, Rich, terminal, bidi, CSV and size attacks."""


def fingerprint(rule: str, key_id: str, subject: str) -> str:
    """The tests' stand-in for the engine's fingerprint: a hash of rule, key and subject."""
    text = f"1|{rule}|{key_id}|{subject}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def make_finding(
    rule: str, severity: str, key_id: str, subject: str = "", message: str = ""
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,  # type: ignore[arg-type]
        key_id=key_id,
        subject=subject,
        message=message or f"{rule} on {key_id or 'the data'} {subject}".strip(),
        fingerprint=fingerprint(rule, key_id, subject),
    )


def _radius(scopes: frozenset[str]) -> BlastRadius:
    operations = sum(len(OPERATIONS.get(scope, ())) for scope in scopes)
    sensitive = sum(len(OPERATIONS.get(scope, ())) for scope in scopes if scope in SENSITIVE)
    risk = min(100, sum(WEIGHTS.get(scope, 3) for scope in scopes))
    return BlastRadius(operations=operations, sensitive_operations=sensitive, risk_score=risk)


def _expand(scopes: frozenset[str]) -> frozenset[str]:
    return scopes | {
        scope.replace(":write", ":read") for scope in scopes if scope.endswith(":write")
    }


def make_key(
    key_id: str,
    *,
    name: str = "",
    scopes: Sequence[str] = (),
    full_access: bool = False,
    used: dict[str, int] | None = None,
    denied: Sequence[tuple[str, str, str | None, int, tuple[tuple[str, ...], ...]]] = (),
    status: str = "active",
    confidence: str = "high",
    confidence_reasons: Sequence[str] = (),
    owner: str = "",
    environment: str = "live",
    source_line: int = 1,
    extra_findings: Sequence[Finding] = (),
    unmatched: Sequence[tuple[str, str, int]] = (),
    replay_failing: Sequence[tuple[str, int]] = (),
) -> KeyAudit:
    """A key's audit as the engine would conclude it, from what it holds and used.

    ``used`` maps scope -> successful requests; the suggestion is exactly the used
    scopes (or the grants when confidence is insufficient).  The replay passes every
    used request, except the ``replay_failing`` ``(operation, count)`` pairs; unmatched
    requests cannot be replayed.
    """
    used = used or {}
    granted = frozenset(CATALOG) if full_access else _expand(frozenset(scopes))
    used_scopes = frozenset(used)
    suggested = granted if confidence == "insufficient" else frozenset(used)
    excess = granted - _expand(suggested)
    missing = (
        frozenset(
            scope
            for *_, alternatives in denied
            for alternative in alternatives
            for scope in alternative
        )
        - granted
    )
    evidence = tuple(
        ScopeEvidence(
            scope,
            tuple(
                OperationUse(op, count, START + timedelta(days=3), AS_OF - timedelta(days=2))
                for op in OPERATIONS[scope][:1]
            ),
        )
        for scope, count in sorted(used.items())
    )
    excess_rows = tuple(ExcessScope(scope, OPERATIONS.get(scope, ())) for scope in sorted(excess))
    denied_rows = tuple(
        DeniedRequests(
            method,
            path,
            operation,
            count,
            START + timedelta(days=10),
            AS_OF - timedelta(days=1),
            needed,
        )
        for method, path, operation, count, needed in denied
    )
    requests = sum(used.values())
    daily = (
        tuple(
            (START.date() + timedelta(days=offset), (requests // 30) + offset % 3)
            for offset in range(0, 90, 3)
        )
        if requests
        else ()
    )
    findings: list[Finding] = []
    if status == "active":
        if full_access:
            findings.append(
                make_finding(
                    "legacy-full-access",
                    "high",
                    key_id,
                    "",
                    f"{key_id} has full access (legacy key)",
                )
            )
        if confidence == "insufficient":
            findings.append(make_finding("insufficient-data", "info", key_id))
        elif not requests:
            findings.append(make_finding("dormant-key", "medium", key_id))
        else:
            for scope in sorted(excess):
                findings.append(
                    make_finding(
                        "unused-scope",
                        "high" if scope in SENSITIVE else "medium",
                        key_id,
                        scope,
                        f"{scope} was not used in 90 days",
                    )
                )
        if denied_rows:
            findings.append(
                make_finding(
                    "denied-requests",
                    "medium",
                    key_id,
                    f"{denied_rows[0].method} {denied_rows[0].path}",
                )
            )
    findings += extra_findings
    findings.sort(key=lambda f: (severity_rank(f.severity), f.rule, f.key_id, f.subject))
    key = ApiKey(
        key_id=key_id,
        name=name,
        scopes=frozenset() if full_access else frozenset(scopes),
        full_access=full_access,
        status=status,  # type: ignore[arg-type]
        created_at=START - timedelta(days=400),
        owner=owner,
        environment=environment,
        source=f"sample_specs/keys.yaml:{source_line}",
    )
    return KeyAudit(
        key=key,
        granted_scopes=granted,
        used_scopes=used_scopes,
        suggested_scopes=suggested,
        excess_scopes=excess,
        missing_scopes=missing,
        evidence=evidence,
        excess=excess_rows,
        denied=denied_rows,
        unmatched=tuple(
            UsageRow(key_id, method, path, None, "success", count, START, AS_OF)
            for method, path, count in unmatched
        ),
        before=_radius(granted),
        after=_radius(_expand(suggested)),
        confidence=confidence,  # type: ignore[arg-type]
        confidence_reasons=tuple(confidence_reasons),
        findings=tuple(findings),
        requests=requests,
        last_seen=AS_OF - timedelta(days=2) if requests else None,
        daily=daily,
        replay=None
        if status != "active"
        else Replay(
            requests=requests,
            would_fail=sum(count for _, count in replay_failing),
            failing_operations=tuple(
                OperationUse(op, count, START + timedelta(days=5), AS_OF - timedelta(days=3))
                for op, count in sorted(replay_failing)
            ),
            unreplayable=sum(count for *_, count in unmatched),
        ),
    )


def standard_keys() -> list[KeyAudit]:
    return [
        make_key(
            "key_accountant",
            name="Accountant (Xero sync)",
            scopes=("customers:read", "invoices:read"),
            used={"customers:read": 420, "invoices:read": 1800},
            owner="finance@example.com",
            source_line=3,
        ),
        make_key(
            "key_recon",
            name="Reconciliation tool",
            scopes=("payments:read", "payments:write"),
            used={"payments:read": 9000},
            owner="ops@example.com",
            source_line=12,
        ),
        make_key(
            "key_refunds",
            name="Refunds operator",
            scopes=("refunds:write", "customers:write"),
            used={"refunds:write": 77},
            source_line=21,
        ),
        make_key(
            "key_legacy_busy",
            name="Old checkout plugin",
            full_access=True,
            used={"checkout:write": 5000, "payments:read": 1200},
            owner="web@example.com",
            source_line=30,
        ),
        make_key("key_legacy_dormant", name="2019 import script", full_access=True, source_line=38),
        make_key(
            "key_legacy_new",
            name="Partner pilot",
            full_access=True,
            used={"invoices:read": 3},
            confidence="insufficient",
            confidence_reasons=("created 12 days before as_of (minimum 30)",),
            source_line=44,
        ),
        make_key(
            "key_revoked",
            name="Revoked 2025",
            scopes=("payouts:write",),
            status="revoked",
            source_line=50,
        ),
        make_key(
            "key_probed",
            name="Support dashboard",
            scopes=("customers:read",),
            used={"customers:read": 60},
            denied=(
                ("POST", "/v1/payouts", "POST /payouts", 14, (("payouts:write",),)),
                ("GET", "/v1/admin/export", None, 3, ()),
            ),
            unmatched=(("GET", "/v1/admin/export", 3),),
            source_line=55,
        ),
    ]


def build_result(
    keys: Sequence[KeyAudit] | None = None,
    *,
    complete: bool = True,
    incomplete_reasons: Sequence[str] = (),
    extra_findings: Sequence[Finding] = (),
    anomalies: Sequence[Anomaly] = (),
    quality: DataQuality | None = None,
    spec_title: str = "Partner API",
) -> AuditResult:
    """An AuditResult as the engine would return it (untriaged)."""
    audits = sorted(keys if keys is not None else standard_keys(), key=lambda a: a.key.key_id)
    findings = [finding for audit in audits for finding in audit.findings] + list(extra_findings)
    findings.sort(key=lambda f: (severity_rank(f.severity), f.rule, f.key_id, f.subject))
    return AuditResult(
        tool_version="0.1.0",
        as_of=AS_OF,
        window=Window(start=START, end=AS_OF, days=90),
        complete=complete,
        incomplete_reasons=tuple(incomplete_reasons),
        spec=SpecSummary(
            title=spec_title,
            version="2026-09-01",
            format="openapi 3.1.0",
            source="sample_specs/partner-api.yaml",
            sha256="3f" * 32,
            operations=62,
            scopes=16,
            semantics="all",
        ),
        keys=tuple(audits),
        findings=tuple(findings),
        data_quality=quality
        or DataQuality(
            total_lines=120_000,
            bad_lines=12,
            bad_line_examples=(BadLine("logs/day1.jsonl", 17, "not JSON: truncated line"),),
            unmatched_requests=3,
            unmatched_routes=(("GET", "/v1/admin/export", 3),),
            unknown_keys=1,
            unknown_key_ids=("key_…9f2a",),
            coverage_days=88,
            window_days=90,
            missing_days=(date(2026, 9, 1), date(2026, 9, 2)),
            sources=(SourceStats("logs/day1.jsonl", "jsonl", 120_000, 12, 119_000, 988),),
        ),
        anomalies=tuple(anomalies)
        or (
            Anomaly(
                "get-requires-write",
                "GET /webhooks/{webhook_id}/secret needs webhooks:write",
                "GET /webhooks/{webhook_id}/secret",
                "webhooks:write",
                "medium",
            ),
        ),
    )


def synthetic_result(count: int, seed: int = 7) -> AuditResult:
    """``count`` keys with a realistic mix (a tenth legacy), deterministic for a seed."""
    chooser = random.Random(seed)
    audits = []
    for index in range(count):
        key_id = f"key_{index:06d}"
        if index % 10 == 0:
            used = {scope: chooser.randint(1, 5000) for scope in chooser.sample(CATALOG, 2)}
            audits.append(
                make_key(
                    key_id,
                    name=f"Legacy integration {index}",
                    full_access=True,
                    used=used,
                    source_line=index * 8 + 1,
                )
            )
            continue
        scopes = chooser.sample(CATALOG, chooser.randint(1, 6))
        used_scopes = scopes[: chooser.randint(0, len(scopes))]
        used = {scope: chooser.randint(1, 20000) for scope in used_scopes}
        audits.append(
            make_key(
                key_id,
                name=f"Integration {index} ({chooser.choice(AREAS)})",
                scopes=scopes,
                used=used,
                owner=f"team{index % 40}@example.com",
                source_line=index * 8 + 1,
            )
        )
    return build_result(audits)


def hostile() -> AuditResult:
    """Every P6 payload in key names, owners, paths, messages, anomalies and data quality."""
    keys = standard_keys()
    for index, payload in enumerate(PAYLOADS):
        key = make_key(
            f"key_evil_{index:02d}",
            name=payload,
            scopes=("payments:read",),
            used={"payments:read": 5},
            owner=payload[:200],
            denied=(("GET", "/v1/" + payload[:300], None, 2, ()),),
            extra_findings=(
                make_finding(
                    "secret-in-name", "high", f"key_evil_{index:02d}", "", "name: " + payload[:500]
                ),
            ),
        )
        keys.append(key)
    keys.append(
        make_key(XSS_NAME, name=XSS_NAME, scopes=("refunds:write",), used={"refunds:write": 1})
    )
    anomalies = tuple(
        Anomaly("weird-scope", payload[:400], "GET /" + payload[:200], payload[:100], "low")
        for payload in PAYLOADS
    )
    quality = DataQuality(
        total_lines=10,
        bad_lines=len(PAYLOADS),
        bad_line_examples=tuple(
            BadLine("logs/" + p[:100], n, p[:300]) for n, p in enumerate(PAYLOADS)
        ),
        unmatched_requests=len(PAYLOADS),
        unmatched_routes=tuple(("GET", "/" + p[:300], 1) for p in PAYLOADS),
        unknown_keys=len(PAYLOADS),
        unknown_key_ids=tuple(p[:50] for p in PAYLOADS),
        sources=tuple(SourceStats(p[:100], "jsonl", 1, 1, 0) for p in PAYLOADS[:3]),
    )
    built = build_result(
        keys,
        complete=False,
        incomplete_reasons=tuple(p[:300] for p in PAYLOADS),
        anomalies=anomalies,
        quality=quality,
        spec_title=XSS_NAME,
    )
    return replace(built, suppression_warnings=tuple(p[:300] for p in PAYLOADS))
