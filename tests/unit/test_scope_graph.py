"""Scope implication closure: expand, implies, implied_by, minimal."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

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


_NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])


@settings(max_examples=300, deadline=None)
@given(
    catalog=st.lists(_NAMES, unique=True, max_size=7),
    implications=st.lists(st.tuples(_NAMES, _NAMES), max_size=14),
)
def test_the_closure_is_networkx_reachability(
    catalog: list[str], implications: list[tuple[str, str]]
) -> None:
    """The closure agrees with networkx's descendants and ancestors, cycles included."""
    graph = build_scope_graph(spec_with(catalog, implications))
    reference: nx.DiGraph[str] = nx.DiGraph()
    reference.add_nodes_from(sorted(catalog))
    reference.add_edges_from(edge for edge in implications if edge[0] != edge[1])
    assert list(graph.grants) == list(reference.nodes)
    for node in reference.nodes:
        assert graph.grants[node] == nx.descendants(reference, node) | {node}
        assert graph.granted_by[node] == nx.ancestors(reference, node) | {node}
    assert graph.edges == tuple(sorted(reference.edges))


def test_the_audit_does_not_import_networkx() -> None:
    """networkx is the tests' reference only: importing it cost every audit 0.1-0.2 s."""
    code = (
        "import sys, keyscope.cli, keyscope.pipeline, keyscope.analysis.audit;"
        "print('networkx' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
