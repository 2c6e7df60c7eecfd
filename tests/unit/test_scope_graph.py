"""Scope implication closure: expand, implies, implied_by, minimal."""

from __future__ import annotations

import subprocess
import sys

from keyscope.analysis.scope_graph import ScopeGraph, build_scope_graph
from keyscope.model import ApiSpec, Scope


def spec_with(names: list[str], implications: list[tuple[str, str]]) -> ApiSpec:
    return ApiSpec(
        title="t",
        version="1",
        format="openapi 3.1.0",
        source="s",
        sha256="",
        base_paths=("",),
        operations=(),
        scopes=tuple(Scope(name) for name in sorted(names)),
        semantics="all",
        semantics_reason="",
        implications=tuple(implications),
    )


PLATFORM = spec_with(
    ["admin", "invoices:read", "invoices:write", "payments:read", "payments:write"],
    [
        ("invoices:write", "invoices:read"),
        ("payments:write", "payments:read"),
        ("admin", "invoices:write"),
        ("admin", "payments:write"),
    ],
)


def test_expand_is_transitive_and_keeps_the_held_scopes() -> None:
    graph = build_scope_graph(PLATFORM)
    assert graph.expand({"invoices:write"}) == {"invoices:write", "invoices:read"}
    assert graph.expand({"admin"}) == {
        "admin",
        "invoices:write",
        "invoices:read",
        "payments:write",
        "payments:read",
    }
    assert graph.expand(set()) == frozenset()
    assert isinstance(graph.expand(["payments:read"]), frozenset)


def test_unknown_scopes_pass_through_expand() -> None:
    assert build_scope_graph(PLATFORM).expand({"ghost:read"}) == {"ghost:read"}


def test_implies_and_implied_by() -> None:
    graph = build_scope_graph(PLATFORM)
    assert graph.implies("admin", "payments:read")
    assert graph.implies("invoices:read", "invoices:read")
    assert not graph.implies("invoices:read", "invoices:write")
    assert not graph.implies("invoices:write", "payments:read")
    assert graph.implied_by("invoices:read") == {"invoices:read", "invoices:write", "admin"}
    assert graph.implied_by("unknown") == {"unknown"}


def test_minimal_drops_implied_scopes() -> None:
    graph = build_scope_graph(PLATFORM)
    assert graph.minimal({"invoices:write", "invoices:read", "payments:read"}) == {
        "invoices:write",
        "payments:read",
    }
    assert graph.minimal({"admin", "invoices:read"}) == {"admin"}
    assert graph.minimal(set()) == frozenset()


def test_cycles_are_equivalences() -> None:
    graph = build_scope_graph(spec_with(["a", "b", "c"], [("a", "b"), ("b", "a"), ("b", "c")]))
    assert graph.expand({"b"}) == {"a", "b", "c"}
    assert graph.implies("a", "c")
    assert graph.minimal({"a", "b", "c"}) == {"a"}


def test_extra_edges_and_self_loops() -> None:
    graph = build_scope_graph(spec_with(["x", "y"], [("x", "x")]), extra=[("y", "x")])
    assert graph.expand({"y"}) == {"x", "y"}
    assert graph.edges == (("y", "x"),)


def test_edges_outside_the_catalog_still_count() -> None:
    graph = build_scope_graph(spec_with(["a"], [("root", "a")]))
    assert graph.expand({"root"}) == {"root", "a"}


def test_no_graph_objects_leak() -> None:
    graph = build_scope_graph(PLATFORM)
    assert isinstance(graph, ScopeGraph)
    for value in graph.grants.values():
        assert isinstance(value, frozenset)


def test_core_modules_import_no_parsers_or_ui() -> None:
    code = (
        "import sys, keyscope.analysis.scope_graph, keyscope.analysis.anomalies;"
        "heavy = ('yaml', 'textual', 'rich', 'httpx', 'jinja2', 'duckdb', 'keyscope.sources');"
        "bad = [m for m in heavy if m in sys.modules];"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
