"""Spec lint rules over the normalized model."""

from __future__ import annotations

from keyscope.analysis.anomalies import RULES, anomaly, lint_spec, sort_anomalies
from keyscope.model import Anomaly, ApiSpec, Operation, Scope

PLATFORM_SCOPES = tuple(
    Scope(f"{area}:{access}", declared=True, area=area, access=access)  # type: ignore[arg-type]
    for area in ("invoices", "payments", "refunds")
    for access in ("read", "write")
)


def spec_of(*operations: Operation, scopes: tuple[Scope, ...] = PLATFORM_SCOPES) -> ApiSpec:
    return ApiSpec(
        title="t",
        version="1",
        format="openapi 3.1.0",
        source="s",
        sha256="",
        base_paths=("/v1",),
        operations=tuple(sorted(operations, key=lambda o: (o.path, o.method))),
        scopes=scopes,
        semantics="all",
        semantics_reason="",
    )


def needs(*alternatives: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(alternative) for alternative in alternatives)


def found(spec: ApiSpec, rule: str, **kwargs: str) -> list[Anomaly]:
    return [a for a in lint_spec(spec, **kwargs) if a.rule == rule]


def everything_used(*extra: Operation) -> tuple[Operation, ...]:
    """One GET per read scope and one POST per write scope, so no unused-scope noise."""
    base = [
        Operation("GET", f"/{s.area}", requirements=needs((s.name,)))
        if s.access == "read"
        else Operation("POST", f"/{s.area}", requirements=needs((s.name,)))
        for s in PLATFORM_SCOPES
    ]
    return (*base, *extra)


def test_clean_spec_has_no_anomalies() -> None:
    assert lint_spec(spec_of(*everything_used(Operation("GET", "/health", public=True)))) == ()


def test_rule_ids_are_stable() -> None:
    assert sorted(RULES) == sorted(
        [
            "missing-security",
            "no-scope-requirement",
            "undeclared-scope",
            "unused-scope",
            "read-method-needs-write",
            "write-method-read-only",
            "ambiguous-scope-semantics",
            "ambiguous-scope-list",
            "mixed-scope-list",
            "ambiguous-path-template",
            "anonymous-alternative",
            "null-scope-list",
            "malformed-scope-list",
            "unknown-security-scheme",
            "scope-area-mismatch",
            "scope-tag-mismatch",
            "scope-name-variant",
            "unresolved-ref",
            "external-ref-not-followed",
            "invalid-path-key",
        ]
    )


def test_missing_security_and_no_scope() -> None:
    spec = spec_of(
        *everything_used(Operation("GET", "/a"), Operation("GET", "/b", requirements=needs(())))
    )
    assert [a.operation for a in found(spec, "missing-security")] == ["GET /a"]
    assert [a.operation for a in found(spec, "no-scope-requirement")] == ["GET /b"]
    # A public operation is neither.
    assert lint_spec(spec_of(*everything_used(Operation("GET", "/p", public=True)))) == ()


def test_undeclared_and_unused_scopes() -> None:
    scopes = (*PLATFORM_SCOPES, Scope("ghost:read", declared=False, area="ghost", access="read"))
    spec = spec_of(
        Operation("GET", "/ghosts", requirements=needs(("ghost:read",))),
        Operation("GET", "/ghosts/{id}", requirements=needs(("ghost:read",))),
        scopes=scopes,
    )
    [undeclared] = found(spec, "undeclared-scope")
    assert (undeclared.scope, undeclared.operation) == ("ghost:read", "GET /ghosts")
    assert "and 1 more" in undeclared.message
    assert sorted(a.scope for a in found(spec, "unused-scope")) == sorted(
        s.name for s in PLATFORM_SCOPES
    )


def test_get_needing_write() -> None:
    flagged = Operation("GET", "/invoices/export", requirements=needs(("invoices:write",)))
    either = Operation(
        "GET", "/invoices/x", requirements=needs(("invoices:write",), ("invoices:read",))
    )
    spec = spec_of(*everything_used(flagged, either))
    assert [a.operation for a in found(spec, "read-method-needs-write")] == ["GET /invoices/export"]


def test_write_method_guarded_only_by_read() -> None:
    mutating = Operation("DELETE", "/refunds/{id}", requirements=needs(("refunds:read",)))
    search = Operation("POST", "/payments/search", requirements=needs(("payments:read",)))
    fine = Operation(
        "POST", "/invoices/{id}/pay", requirements=needs(("invoices:write", "payments:read"))
    )
    spec = spec_of(*everything_used(mutating, search, fine))
    flagged = {a.operation: a.severity for a in found(spec, "write-method-read-only")}
    assert flagged == {"DELETE /refunds/{id}": "medium", "POST /payments/search": "info"}


def test_unknown_access_is_not_guessed() -> None:
    scopes = (Scope("ledger"),)
    spec = spec_of(Operation("DELETE", "/ledger", requirements=needs(("ledger",))), scopes=scopes)
    assert found(spec, "write-method-read-only") == []


def test_ambiguous_path_templates() -> None:
    spec = spec_of(
        *everything_used(
            Operation("GET", "/keys/{id}", requirements=needs(("invoices:read",))),
            Operation("GET", "/keys/{key_id}", requirements=needs(("invoices:read",))),
            Operation("GET", "/keys/current", requirements=needs(("invoices:read",))),
            Operation("GET", "/files/{a}/", requirements=needs(("invoices:read",))),
            Operation("DELETE", "/files/{b}", requirements=needs(("invoices:write",))),
        )
    )
    by_message = {
        a.message: (a.operation, a.severity) for a in found(spec, "ambiguous-path-template")
    }
    assert by_message == {
        "paths /keys/{id} and /keys/{key_id} have the same shape; both answer GET": (
            "GET /keys/{key_id}",
            "medium",
        ),
        "paths /files/{a}/ and /files/{b} have the same shape": ("", "low"),
    }


def test_scope_tags_compared_with_security_and_path() -> None:
    mismatch = Operation(
        "GET",
        "/invoices",
        requirements=needs(("invoices:read",)),
        tags=("scope:payments:read",),
    )
    agreeing = Operation(
        "GET",
        "/refunds/{id}",
        requirements=needs(("refunds:read",)),
        tags=("scope:refunds:read", "Refunds"),
    )
    spec = spec_of(*everything_used(mismatch, agreeing))
    [tag_mismatch] = found(spec, "scope-tag-mismatch")
    assert tag_mismatch.operation == "GET /invoices"
    [area] = found(spec, "scope-area-mismatch")
    assert (area.operation, area.scope) == ("GET /invoices", "payments:read")
    assert found(spec, "scope-tag-mismatch", scope_tag_prefix="") == []


def test_tag_sourced_scope_in_wrong_area() -> None:
    operation = Operation(
        "GET",
        "/customers/{id}/invoices",
        requirements=needs(("refunds:read",)),
        tags=("scope:refunds:read",),
        scope_source="tag",
    )
    spec = spec_of(*everything_used(operation))
    assert [a.scope for a in found(spec, "scope-area-mismatch")] == ["refunds:read"]
    assert found(spec, "scope-tag-mismatch") == []
    nested = Operation(
        "GET",
        "/customers/{id}/invoices",
        requirements=needs(("invoices:read",)),
        tags=("scope:invoices:read",),
        scope_source="tag",
    )
    assert found(spec_of(*everything_used(nested)), "scope-area-mismatch") == []


def test_scope_name_variants() -> None:
    scopes = (
        *PLATFORM_SCOPES,
        Scope("Read:Charges"),
        Scope("read:charges"),
        Scope("read:charges "),
    )
    spec = spec_of(*everything_used(), scopes=scopes)
    [variant] = found(spec, "scope-name-variant")
    assert "'Read:Charges', 'read:charges', 'read:charges '" in variant.message


def test_output_is_sorted_and_deduplicated() -> None:
    spec = spec_of(
        Operation("GET", "/b"),
        Operation("GET", "/a"),
        Operation("GET", "/c", requirements=needs(())),
    )
    result = lint_spec(spec)
    assert list(result) == sorted(
        result,
        key=lambda a: (
            ["critical", "high", "medium", "low", "info"].index(a.severity),
            a.rule,
            a.operation,
            a.scope,
            a.message,
        ),
    )
    duplicate = anomaly("null-scope-list", "x", operation="GET /a")
    assert sort_anomalies([duplicate, duplicate]) == (duplicate,)
    assert duplicate.severity == "low"


def test_every_rule_is_documented_with_its_severity() -> None:
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "spec-json.md"
    text = docs.read_text(encoding="utf-8")
    rules_table = text[text.index("### Rules") : text.index("## How requirements are read")]
    documented = dict(re.findall(r"^\| `([a-z-]+)` \| (\w+) \|", rules_table, re.M))
    assert documented == {rule.rule_id: rule.severity for rule in RULES.values()}
