"""Scope implication: which scopes a grant really carries.

Holding a stronger scope grants the weaker ones it implies (Xero: ``X`` grants
``X.read``; the partner platform: ``invoices:write`` grants ``invoices:read``).  The
edges come from :attr:`ApiSpec.implications` (detected by the spec loader plus any
configured ones); this module answers questions about the graph they form and hands
back frozensets.  Implication is transitive and may contain cycles (two scopes that
imply each other are equivalent).

The closure is a search from every scope over at most a few hundred scopes, so it is
written here rather than taken from networkx: importing networkx (about 400 modules)
cost every ``keyscope audit`` 0.04-0.1 s with its files in memory and 0.17 s when a
scheduled run found them paged out, as much as the whole analysis of a thousand keys.
The tests check this closure against networkx's ``descendants`` and ``ancestors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from keyscope.model import ApiSpec

__all__ = ["ScopeGraph", "build_scope_graph"]


@dataclass(frozen=True, slots=True)
class ScopeGraph:
    """The transitive closure of scope implication, precomputed for fast lookups."""

    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Scope -> every scope holding it grants, itself included."""
    granted_by: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Scope -> every scope that grants it, itself included."""
    edges: tuple[tuple[str, str], ...] = ()
    """The direct ``(stronger, weaker)`` edges, sorted."""

    def expand(self, scopes: Iterable[str]) -> frozenset[str]:
        """Everything a set of held scopes grants (the scopes themselves included).

        Scopes the graph does not know are kept as they are.
        """
        granted: set[str] = set()
        for scope in scopes:
            granted |= self.grants.get(scope, frozenset((scope,)))
        return frozenset(granted)

    def implies(self, stronger: str, weaker: str) -> bool:
        """True when holding ``stronger`` grants ``weaker`` (every scope implies itself)."""
        return stronger == weaker or weaker in self.grants.get(stronger, frozenset())

    def implied_by(self, scope: str) -> frozenset[str]:
        """Every scope that grants ``scope``, itself included."""
        return self.granted_by.get(scope, frozenset((scope,)))

    def minimal(self, scopes: Iterable[str]) -> frozenset[str]:
        """The smallest subset that still grants everything ``scopes`` grant.

        A scope is dropped when another kept scope implies it; of scopes that imply
        each other, the alphabetically first is kept, so the answer is deterministic.
        """
        pending = sorted(set(scopes))
        kept: list[str] = []
        for scope in pending:
            covered = any(
                self.implies(other, scope)
                for other in pending
                if other != scope and not self.implies(scope, other)
            )
            equivalent_kept = any(
                self.implies(other, scope) and self.implies(scope, other) for other in kept
            )
            if not covered and not equivalent_kept:
                kept.append(scope)
        return frozenset(kept)


def build_scope_graph(spec: ApiSpec, extra: Iterable[tuple[str, str]] = ()) -> ScopeGraph:
    """Build the implication closure for a spec.

    Args:
        spec: The loaded spec; its scopes are the nodes and its implications the edges.
        extra: More ``(stronger, weaker)`` edges (already in ``spec.implications`` when
            they came from the settings through the loader).

    Returns:
        The closure, as frozensets.
    """
    # Nodes in a fixed order (the catalog's, then edges' as given), so every mapping
    # iterates the same way on every run.
    weaker: dict[str, list[str]] = {scope.name: [] for scope in spec.scopes}
    stronger: dict[str, list[str]] = {scope: [] for scope in weaker}
    edges: dict[tuple[str, str], None] = {}
    for high, low in (*spec.implications, *extra):
        if high == low or (high, low) in edges:
            continue
        edges[high, low] = None
        weaker.setdefault(high, []).append(low)
        stronger.setdefault(high, [])
        weaker.setdefault(low, [])
        stronger.setdefault(low, []).append(high)
    return ScopeGraph(
        grants={scope: _reachable(scope, weaker) for scope in weaker},
        granted_by={scope: _reachable(scope, stronger) for scope in stronger},
        edges=tuple(sorted(edges)),
    )


def _reachable(start: str, neighbours: Mapping[str, list[str]]) -> frozenset[str]:
    """``start`` and every node reachable from it (cycles are fine: each is seen once)."""
    seen = {start}
    pending = [start]
    while pending:
        for following in neighbours[pending.pop()]:
            if following not in seen:
                seen.add(following)
                pending.append(following)
    return frozenset(seen)
