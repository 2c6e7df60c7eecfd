"""The minimal-scope solver: known answers, and Hypothesis against brute force."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.analysis import suggest
from keyscope.analysis.suggest import ScopeSolver, meets_need, suggest_minimal_scopes


class FakeGraph:
    """Implication by transitive closure over explicit (stronger, weaker) edges."""

    def __init__(self, edges: Iterable[tuple[str, str]] = ()) -> None:
        self.edges: dict[str, set[str]] = {}
        for stronger, weaker in edges:
            self.edges.setdefault(stronger, set()).add(weaker)

    def expand(self, scopes: Iterable[str]) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(scopes)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(self.edges.get(name, ()))
        return frozenset(seen)


AREAS = ("invoices", "payments", "customers", "refunds", "payouts", "webhooks", "checkout")
CATALOG = frozenset(f"{area}:{access}" for area in AREAS for access in ("read", "write"))
WRITE_IMPLIES_READ = FakeGraph((f"{area}:write", f"{area}:read") for area in AREAS)
WEIGHTS = {
    **{scope: 5 if scope.endswith("write") else 2 for scope in CATALOG},
    "payouts:write": 30,
    "refunds:write": 25,
    "payments:write": 20,
    "customers:read": 12,
    "customers:write": 12,
}


def need(*alternatives: Iterable[str]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(alternative) for alternative in alternatives)


def test_reads_only_suggest_read_scopes() -> None:
    needs = [need(["invoices:read"]), need(["customers:read"])]
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, WEIGHTS, CATALOG) == {
        "invoices:read",
        "customers:read",
    }


def test_write_covers_read_of_same_area() -> None:
    needs = [need(["invoices:read"]), need(["invoices:write"])]
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, WEIGHTS, CATALOG) == {"invoices:write"}


def test_and_requirement_needs_both_scopes() -> None:
    needs = [need(["invoices:write", "payments:write"])]
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, WEIGHTS, CATALOG) == {
        "invoices:write",
        "payments:write",
    }


def test_alternatives_pick_the_lower_risk_one() -> None:
    # GET /payments/{id}/refunds accepts refunds:read OR payments:read: same size, so
    # the lighter scope wins.
    needs = [need(["refunds:read"], ["payments:read"])]
    weights = {**WEIGHTS, "refunds:read": 3, "payments:read": 4}
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, weights, CATALOG) == {"refunds:read"}
    weights = {**WEIGHTS, "refunds:read": 9, "payments:read": 4}
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, weights, CATALOG) == {"payments:read"}


def test_alternative_shared_with_another_need_is_preferred() -> None:
    # payments:read is needed anyway, and it also meets the OR need: one scope, not two.
    needs = [need(["payments:read"]), need(["refunds:read"], ["payments:read"])]
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, WEIGHTS, CATALOG) == {"payments:read"}


def test_ties_broken_by_name_when_weights_equal() -> None:
    needs = [need(["b"], ["a"], ["c"])]
    assert suggest_minimal_scopes(needs, FakeGraph(), {}, {"a", "b", "c"}) == {"a"}


def test_xero_any_semantics() -> None:
    # Xero lists X and X.read as alternatives of one operation; X implies X.read.
    graph = FakeGraph([("accounting.transactions", "accounting.transactions.read")])
    catalog = {"accounting.transactions", "accounting.transactions.read", "accounting.contacts"}
    read_need = need(["accounting.transactions"], ["accounting.transactions.read"])
    write_need = need(["accounting.transactions"])
    weights = {"accounting.transactions": 3, "accounting.transactions.read": 2}
    assert suggest_minimal_scopes([read_need], graph, weights, catalog) == {
        "accounting.transactions.read"
    }
    assert suggest_minimal_scopes([read_need, write_need], graph, weights, catalog) == {
        "accounting.transactions"
    }


def test_free_and_empty_needs_ask_for_nothing() -> None:
    # An authenticated operation that needs no scope, and one that names none at all.
    assert suggest_minimal_scopes([need([]), ()], WRITE_IMPLIES_READ, {}, CATALOG) == frozenset()


def test_unsatisfiable_need_is_reported_not_met() -> None:
    solver = ScopeSolver(WRITE_IMPLIES_READ, {}, CATALOG)
    result = solver.solve([need(["reports:read"]), need(["invoices:read"])])
    assert result.scopes == {"invoices:read"}
    assert result.unsatisfiable == (need(["reports:read"]),)
    assert result.exact


def test_greedy_beyond_exact_limit(monkeypatch) -> None:
    monkeypatch.setattr(suggest, "EXACT_LIMIT", 2)
    solver = ScopeSolver(WRITE_IMPLIES_READ, WEIGHTS, CATALOG)
    needs = [need(["invoices:read"]), need(["customers:read"]), need(["payments:write"])]
    result = solver.solve(needs)
    assert not result.exact
    assert result.scopes == {"invoices:read", "customers:read", "payments:write"}


def test_node_budget_exhaustion_is_reported(monkeypatch) -> None:
    monkeypatch.setattr(suggest, "NODE_BUDGET", 1)
    result = ScopeSolver(FakeGraph(), {}, "abcdef").solve(
        [need(["a"], ["b"]), need(["c"], ["d"]), need(["e"], ["f"], ["a"])]
    )
    assert not result.exact
    assert all(meets_need(n, frozenset(result.scopes)) for n in [need(["a"], ["b"])])


def test_solver_memoizes_per_need_set() -> None:
    solver = ScopeSolver(WRITE_IMPLIES_READ, {}, CATALOG)
    first = solver.solve([need(["invoices:read"])])
    assert solver.solve((need(["invoices:read"]),)) is first


# --------------------------------------------------------------------------- brute force


def brute_force(needs, graph, weights, candidates):
    """Every subset of the candidates, smallest first: the reference answer."""
    names = sorted(candidates)
    satisfiable = [
        n for n in needs if not n or any(meets_need((alt,), graph.expand(names)) for alt in n)
    ]
    for size in range(len(names) + 1):
        best = None
        for combo in itertools.combinations(names, size):
            closure = graph.expand(combo)
            if all(meets_need(n, closure) for n in satisfiable):
                key = (sum(weights.get(s, 0) for s in closure), combo)
                if best is None or key < best:
                    best = key
        if best is not None:
            return frozenset(best[1]), satisfiable
    raise AssertionError("the full candidate set always meets every satisfiable need")


SCOPE_NAMES = [f"s{i}" for i in range(7)]


@st.composite
def instances(draw):
    size = draw(st.integers(min_value=1, max_value=7))
    catalog = SCOPE_NAMES[:size]
    # Acyclic-or-not implication edges between catalog scopes and a few outside ones.
    universe = [*catalog, "x0", "x1"]
    edges = draw(
        st.lists(st.tuples(st.sampled_from(catalog), st.sampled_from(universe)), max_size=6)
    )
    alternative = st.frozensets(st.sampled_from(universe), max_size=3)
    needs = draw(st.lists(st.lists(alternative, max_size=3).map(tuple), max_size=6))
    weights = draw(st.dictionaries(st.sampled_from(catalog), st.integers(0, 30), max_size=size))
    return needs, FakeGraph(edges), weights, catalog


@settings(max_examples=400, deadline=None)
@given(instances())
def test_matches_brute_force(instance) -> None:
    needs, graph, weights, catalog = instance
    result = ScopeSolver(graph, weights, catalog).solve(needs)
    expected, satisfiable = brute_force(needs, graph, weights, catalog)
    closure = graph.expand(result.scopes)
    assert all(meets_need(n, closure) for n in satisfiable)
    assert len(result.unsatisfiable) == len({n for n in needs if n not in satisfiable})
    assert result.exact
    assert len(result.scopes) <= len(expected)
    assert result.scopes == expected


@settings(max_examples=200, deadline=None)
@given(instances())
def test_greedy_always_covers_and_is_irreducible(instance) -> None:
    needs, graph, weights, catalog = instance
    original = suggest.EXACT_LIMIT
    suggest.EXACT_LIMIT = 0
    try:
        result = ScopeSolver(graph, weights, catalog).solve(needs)
    finally:
        suggest.EXACT_LIMIT = original
    _, satisfiable = brute_force(needs, graph, weights, catalog)
    closure = graph.expand(result.scopes)
    assert all(meets_need(n, closure) for n in satisfiable)
    for scope in result.scopes:
        smaller = graph.expand(result.scopes - {scope})
        assert not all(meets_need(n, smaller) for n in satisfiable)


def brute_force_within(needs, graph, weights, catalog, mentions, held):
    """The reference for a key holding ``held``: each need met by held scopes when they
    can meet it at all, else by any; fewest scopes, then (weight, mentions), then names."""
    names = sorted(catalog)
    allowed = [name for name in names if name in held]
    reach_held = graph.expand(allowed)
    satisfiable = [
        n for n in needs if not n or any(meets_need((alt,), graph.expand(names)) for alt in n)
    ]

    def met(need, chosen):
        if not need:
            return True
        if any(alt <= reach_held for alt in need):
            held_closure = graph.expand([name for name in chosen if name in held])
            return any(alt <= reach_held and alt <= held_closure for alt in need)
        return meets_need(need, graph.expand(chosen))

    for size in range(len(names) + 1):
        best = None
        for combo in itertools.combinations(names, size):
            if all(met(n, combo) for n in satisfiable):
                closure = graph.expand(combo)
                cost = (
                    sum(weights.get(s, 0) for s in closure),
                    sum(mentions.get(s, 0) for s in closure),
                )
                key = (cost, combo)
                if best is None or key < best:
                    best = key
        if best is not None:
            return frozenset(best[1])
    raise AssertionError("the full candidate set always meets every satisfiable need")


@settings(max_examples=400, deadline=None)
@given(
    instances(),
    st.sets(st.sampled_from(SCOPE_NAMES)),
    st.dictionaries(st.sampled_from([*SCOPE_NAMES, "x0", "x1"]), st.integers(0, 12)),
)
def test_matches_brute_force_within_held_scopes(instance, held, mentions) -> None:
    needs, graph, weights, catalog = instance
    solver = ScopeSolver(graph, weights, catalog, mentions=mentions)
    result = solver.solve(needs, within=held)
    assert result.exact
    assert result.scopes == brute_force_within(needs, graph, weights, catalog, mentions, held)


def test_a_used_alternative_is_kept_over_an_equal_one_never_held() -> None:
    # Slack's chat.postMessage accepts chat:write:bot or chat:write:user; a user-token
    # key that holds only the second must not be told to swap it for the first.
    post = (frozenset({"chat:write:bot"}), frozenset({"chat:write:user"}))
    catalog = {"chat:write:bot", "chat:write:user"}
    solver = ScopeSolver(FakeGraph(), {}, catalog)
    assert solver.solve([post], within={"chat:write:user"}).scopes == {"chat:write:user"}
    assert solver.solve([post], within={"chat:write:bot"}).scopes == {"chat:write:bot"}
    # Nothing held meets it (the inventory is out of date): drawn from the catalog.
    assert solver.solve([post], within={"other"}).scopes == {"chat:write:bot"}


def test_fewer_operations_break_a_tie_of_equal_risk() -> None:
    # Xero's 1099 report accepts accounting.reports.read (named by 11 operations) or
    # accounting.reports.tenninetynine.read (named by 1): a full-access key gets the
    # narrow one.
    report = (
        frozenset({"accounting.reports.read"}),
        frozenset({"accounting.reports.tenninetynine.read"}),
    )
    catalog = {"accounting.reports.read", "accounting.reports.tenninetynine.read"}
    mentions = {"accounting.reports.read": 11, "accounting.reports.tenninetynine.read": 1}
    chosen = suggest_minimal_scopes([report], FakeGraph(), {}, catalog, mentions=mentions)
    assert chosen == {"accounting.reports.tenninetynine.read"}
    # Risk still comes first.
    risky = {"accounting.reports.tenninetynine.read": 1}
    chosen = suggest_minimal_scopes([report], FakeGraph(), risky, catalog, mentions=mentions)
    assert chosen == {"accounting.reports.read"}


def test_weight_counts_what_a_scope_grants() -> None:
    # The default table weighs customers:write (10) below customers:read (12), but
    # customers:write also grants customers:read: its real weight is 22.
    weights = {"customers:read": 12, "customers:write": 10}
    needs = [need(["customers:read"])]
    assert suggest_minimal_scopes(needs, WRITE_IMPLIES_READ, weights, CATALOG) == {"customers:read"}
