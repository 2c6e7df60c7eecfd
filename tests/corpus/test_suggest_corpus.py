"""The minimal-scope solver on the real public specs: exact, covering, and fast enough.

For random sets of operations of each spec (as a key's usage would be), the suggestion
must meet every operation's requirement, be proven minimal (no node-budget fallback),
and, on the smaller catalogs, equal the brute-force optimum over the relevant scopes.
The files are read in place; the tests skip when ../shared/corpus is absent.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from keyscope.analysis.risk import scope_weights
from keyscope.analysis.scope_graph import build_scope_graph
from keyscope.analysis.suggest import ScopeSolver, meets_need
from keyscope.settings import DEFAULT_RISK_WEIGHTS
from keyscope.sources.openapi import SpecOptions, load_spec

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
SPECS = {
    "square": CORPUS / "square" / "api.json",
    "xero-accounting": CORPUS / "xero" / "xero_accounting.yaml",
    "slack": CORPUS / "slack" / "slack_web_openapi_v2.json",
    "spotify": CORPUS / "spotify" / "official-spotify-open-api.yml",
}

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is absent"),
]


def brute_force(needs, graph, weights, candidates):
    """Smallest subsets first, over the candidates that provide some required scope."""
    relevant = sorted(
        {
            candidate
            for need in needs
            for alternative in need
            for scope in alternative
            for candidate in candidates
            if scope in graph.expand([candidate])
        }
    )
    for size in range(len(relevant) + 1):
        best = None
        for combo in itertools.combinations(relevant, size):
            closure = graph.expand(combo)
            if all(meets_need(need, closure) for need in needs):
                key = (sum(weights.get(s, 0) for s in closure), combo)
                best = key if best is None or key < best else best
        if best is not None:
            return frozenset(best[1])
    raise AssertionError("no subset meets the needs")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_suggestions_on_real_specs(name: str) -> None:
    spec = load_spec(SPECS[name], SpecOptions())
    graph = build_scope_graph(spec)
    weights = scope_weights(spec.scopes, DEFAULT_RISK_WEIGHTS)
    candidates = spec.scope_names
    solver = ScopeSolver(graph, weights, candidates)
    scoped = [op for op in spec.operations if not op.public and op.scopes]
    assert scoped, name
    rng = random.Random(name)
    checked_against_brute_force = 0
    for _ in range(60):
        used = rng.sample(scoped, min(len(scoped), rng.randint(1, 8)))
        needs = [op.requirements for op in used]
        result = solver.solve(needs)
        assert result.exact
        assert result.unsatisfiable == ()
        closure = graph.expand(result.scopes)
        assert all(meets_need(need, closure) for need in needs)
        assert result.scopes <= candidates
        # Brute force stays affordable while the relevant scopes are few.
        relevant = {s for need in needs for alt in need for s in alt}
        if len(relevant) <= 10:
            assert result.scopes == brute_force(needs, graph, weights, candidates)
            checked_against_brute_force += 1
    assert checked_against_brute_force > 0
