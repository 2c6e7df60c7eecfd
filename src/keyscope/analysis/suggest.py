"""The smallest scope set that would have served a key's real usage.

Input: one *need* per operation the key called successfully.  A need is the
operation's requirement: a tuple of alternatives, each a set of scopes required
together (``((invoices:write, payments:write),)``, or Xero-style
``((accounting.transactions,), (accounting.transactions.read,))``).  A scope set ``S``
meets a need when some alternative lies inside ``graph.expand(S)`` (its implication
closure: ``invoices:write`` also grants ``invoices:read``).

Output: the set ``S`` drawn from the candidates (the catalog) that meets every
satisfiable need, with the fewest scopes; among those, the lowest risk weight of what
``S`` grants (the sum over its closure, so ``customers:write`` weighs its own weight
plus the ``customers:read`` it implies); among those, the fewest operations naming the
scopes it grants (so Xero's narrow ``accounting.reports.tenninetynine.read``, named by
one operation, wins over ``accounting.reports.read``, named by eleven); among those,
the first by sorted scope names.

A key's suggestion is drawn from what the key already holds (``within``): when an
operation accepts any of several scopes, the one the key used is kept rather than an
equally small one it never held (Slack's ``chat:write:user`` is not swapped for
``chat:write:bot``).  Only a need that nothing the key holds meets (the platform let
the request through although the key seems to lack the scope: the inventory or the
spec is out of date) is met from the whole catalog.

How (see :class:`ScopeSolver`):

1. Each required scope ``r`` becomes its *provider set*: the candidates whose closure
   holds ``r``.  An alternative becomes a list of provider sets that must all be hit,
   and the problem is a hitting-set problem with alternatives.  Alternatives naming a
   scope no candidate provides are dropped; a need left with none is *unsatisfiable*
   (reported, not silently met).  An alternative requiring nothing makes its need free.
2. Duplicate needs, and needs implied by another need, are removed; scopes every
   solution must hold (a need with one alternative whose provider set has one member)
   are fixed up front.
3. **Exact** when at most :data:`EXACT_LIMIT` (64) candidates provide any required
   scope: a depth-first branch and bound.  It branches on the unmet need with the
   fewest ways to be met (one provider of one missing scope per alternative: every
   solution holds one of them), skips scope sets already explored, and prunes with a
   lower bound from pairwise-disjoint unmet needs (each needs its own scope).  It tries
   the lightest option first, so its first complete answer is a greedy one that then
   bounds the rest; the closure weight only grows as scopes are added, so a branch
   already heavier than the best answer of the same size is cut too.  A node budget
   (:data:`NODE_BUDGET`) guards against pathological inputs; when it runs out the best
   set found so far is returned and ``exact`` is false.  Real catalogs (16 scopes here,
   13-16 for Xero, 59 for Square) finish in well under a millisecond per distinct need
   set.
4. **Greedy** beyond 64 relevant candidates: repeatedly add the scope that meets the
   most remaining needs (then makes the most progress on partly met alternatives, then
   weighs least, then sorts first), then drop every scope the rest still covers.  Bound:
   when every alternative is a single scope (plain set cover), the result is at most
   ``H(k) <= 1 + ln k`` times the optimum for ``k`` needs (Johnson/Chvatal); with
   alternatives that require several scopes together the problem contains set cover
   with AND-constraints and no constant bound holds.  Either way the result meets every
   satisfiable need and no scope can be removed from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "EXACT_LIMIT",
    "NODE_BUDGET",
    "Need",
    "ScopeExpander",
    "ScopeSolver",
    "Suggestion",
    "meets_need",
    "suggest_minimal_scopes",
]

EXACT_LIMIT = 64
"""Largest number of relevant candidate scopes solved exactly."""
NODE_BUDGET = 200_000
"""Search nodes explored before the exact search gives up and returns its best so far."""

Need = tuple[frozenset[str], ...]
"""Alternatives of one used operation; each alternative is required as a whole."""


class ScopeExpander(Protocol):
    """Anything that applies scope implication (``ScopeGraph`` does)."""

    def expand(self, scopes: Iterable[str]) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The solver's answer with how it was reached."""

    scopes: frozenset[str]
    exact: bool
    """True when the exact search finished (always true for an empty need set)."""
    unsatisfiable: tuple[Need, ...] = ()
    """Needs no combination of candidates can meet (e.g. an undeclared scope)."""


def meets_need(need: Need, expanded: frozenset[str]) -> bool:
    """True when ``expanded`` (a closure) holds one alternative of ``need`` entirely.

    A need without alternatives asks for nothing and is always met.
    """
    if not need:
        return True
    return any(alternative <= expanded for alternative in need)


def suggest_minimal_scopes(
    needs: Iterable[Need],
    graph: ScopeExpander,
    weights: Mapping[str, int],
    candidates: Iterable[str],
    *,
    mentions: Mapping[str, int] | None = None,
    within: Iterable[str] | None = None,
) -> frozenset[str]:
    """The smallest set of candidate scopes meeting every satisfiable need.

    Args:
        needs: One entry per used operation: its alternatives.
        graph: Applies implication (``graph.expand(scopes)``).
        weights: Risk weight per scope, for tie-breaking (missing scopes weigh 0); a set
            weighs the sum over its implication closure.
        candidates: Scopes that may be suggested (the catalog).
        mentions: Operations naming each scope, the next tie-break (missing: 0).
        within: The key's effective grants, preferred over the other candidates.

    Returns:
        Fewest scopes; ties by lower closure weight, then fewer operations naming the
        closure's scopes, then by sorted names.
    """
    solver = ScopeSolver(graph, weights, candidates, mentions=mentions)
    return solver.solve(needs, within=within).scopes


# --------------------------------------------------------------------------- solver

# Internal representation: candidates are bits (index order = name order), a provider
# set is an int mask, an alternative is a tuple of masks that must all be hit, a need is
# a tuple of alternatives.  A set's cost is its closure's risk weight shifted above the
# count of operations naming the closure's scopes: one integer compares both in order.
_MENTIONS_BITS = 40
_Alternative = tuple[int, ...]
_Need = tuple[_Alternative, ...]
_UNSEEN = object()


def _alternative_met(alternative: _Alternative, chosen: int) -> bool:
    return all(chosen & mask for mask in alternative)


def _need_met(need: _Need, chosen: int) -> bool:
    return any(_alternative_met(alternative, chosen) for alternative in need)


def _alternative_implies(stronger: _Alternative, weaker: _Alternative) -> bool:
    """Meeting ``stronger`` always meets ``weaker``.

    True when each mask of ``weaker`` contains some mask of ``stronger``.
    """
    return all(any(mask & ~other == 0 for mask in stronger) for other in weaker)


def _need_implies(stronger: _Need, weaker: _Need) -> bool:
    if len(stronger) == 1 and len(weaker) == 1 and len(stronger[0]) == 1 and len(weaker[0]) == 1:
        # The common case: one scope (any of its providers) needed; a subset implies.
        return stronger[0][0] & ~weaker[0][0] == 0
    return all(
        any(_alternative_implies(alternative, other) for other in weaker)
        for alternative in stronger
    )


def _bits(mask: int) -> list[int]:
    indexes = []
    while mask:
        low = mask & -mask
        indexes.append(low.bit_length() - 1)
        mask ^= low
    return indexes


class ScopeSolver:
    """Solves minimal-scope problems against one graph, weight table and catalog.

    Building the solver expands every candidate once; :meth:`solve` memoizes per
    distinct need set, and the search per distinct problem those reduce to, so auditing
    thousands of keys with similar usage stays cheap.
    """

    __slots__ = (
        "_all",
        "_closures",
        "_implies_memo",
        "_memo",
        "_names",
        "_need_cache",
        "_problem_memo",
        "_providers_of",
        "_universe_weights",
        "_weight_memo",
        "_weights",
    )

    def __init__(
        self,
        graph: ScopeExpander,
        weights: Mapping[str, int],
        candidates: Iterable[str],
        *,
        mentions: Mapping[str, int] | None = None,
    ) -> None:
        """Index the candidates.

        Args:
            graph: Applies implication.
            weights: Risk weight per scope (missing scopes weigh 0).
            candidates: Scopes that may be suggested.
            mentions: How many operations name each scope (missing: 0), the tie-break
                after the weight.
        """
        self._names: tuple[str, ...] = tuple(sorted(set(candidates)))
        providers: dict[str, int] = {}
        closures: list[frozenset[str]] = []
        for index, name in enumerate(self._names):
            closure = graph.expand(frozenset((name,))) | {name}
            closures.append(closure)
            for granted in closure:
                providers[granted] = providers.get(granted, 0) | (1 << index)
        self._providers_of = providers
        # Weights count what a set grants: the union of its members' closures.
        universe = sorted(set().union(*closures)) if closures else []
        position = {name: bit for bit, name in enumerate(universe)}
        mentions = mentions or {}

        def cost(name: str) -> int:
            return (int(weights.get(name, 0)) << _MENTIONS_BITS) + int(mentions.get(name, 0))

        self._universe_weights = tuple(cost(name) for name in universe)
        self._closures = tuple(sum(1 << position[name] for name in closure) for closure in closures)
        self._weights: tuple[int, ...] = tuple(
            sum(cost(name) for name in closure) for closure in closures
        )
        """Each candidate's own closure cost (for ordering choices)."""
        self._all = (1 << len(self._names)) - 1
        self._weight_memo: dict[int, int] = {}
        self._need_cache: dict[Need, _Need | None] = {}
        # Keys using the same operations compare the same pairs of needs again.
        self._implies_memo: dict[tuple[_Need, _Need], bool] = {}
        self._memo: dict[tuple[frozenset[Need], int], Suggestion] = {}
        # Different need sets often reduce to the same problem (a need implied by another
        # one drops out): the search runs once per reduced problem.
        self._problem_memo: dict[tuple[tuple[_Need, ...], tuple[Need, ...]], Suggestion] = {}

    # ------------------------------------------------------------------ public

    def solve(self, needs: Iterable[Need], *, within: Iterable[str] | None = None) -> Suggestion:
        """The minimal scope set for ``needs`` (see the module docstring).

        Args:
            needs: One entry per used operation: its alternatives.
            within: The key's effective grants: each need is met from these candidates
                when any of them can; None draws every need from all candidates.

        Returns:
            The suggestion, whether it is proven minimal, and the unsatisfiable needs.
        """
        distinct = frozenset(needs)
        best = self._solve_within(distinct, self._all)
        if within is None:
            return best
        held = within if isinstance(within, frozenset | set) else frozenset(within)
        # The best answer over every candidate is also the best over the held ones when
        # it lies inside them (a smaller feasible set holding the optimum): the common
        # case, and then keys with the same usage share one search whatever they hold.
        if best.scopes <= held:
            return best
        allowed = self._mask_of(held)
        # Still the answer when it meets every need the held scopes could meet with held
        # providers (it may add others only for needs nothing held meets).
        chosen = self._mask_of(best.scopes)
        if all(
            not compiled or _need_met(compiled, chosen)
            for compiled in (self._compile_need(need, allowed) for need in distinct)
        ):
            return best
        return self._solve_within(distinct, allowed)

    def _solve_within(self, needs: frozenset[Need], allowed: int) -> Suggestion:
        cached = self._memo.get((needs, allowed))
        if cached is None:
            cached = self._memo[(needs, allowed)] = self._solve(needs, allowed)
        return cached

    # ------------------------------------------------------------------ internals

    def _mask_of(self, scopes: Iterable[str]) -> int:
        """The candidates among ``scopes``, as a mask."""
        names = self._names
        held = set(scopes)
        mask = 0
        for index, name in enumerate(names):
            if name in held:
                mask |= 1 << index
        return mask

    def _weight(self, chosen: int) -> int:
        """Cost of everything ``chosen`` grants (the union of the closures): the risk
        weight, then the operations naming those scopes."""
        cached = self._weight_memo.get(chosen)
        if cached is None:
            granted = 0
            for index in _bits(chosen):
                granted |= self._closures[index]
            cached = sum(self._universe_weights[bit] for bit in _bits(granted))
            self._weight_memo[chosen] = cached
        return cached

    def _key(self, chosen: int) -> tuple[int, int, tuple[int, ...]]:
        """Objective: fewest scopes, then lowest cost (weight, then operations naming its
        scopes), then first sorted names."""
        indexes = _bits(chosen)
        return (len(indexes), self._weight(chosen), tuple(indexes))

    def _compile_need(self, need: Need, allowed: int) -> _Need | None:
        """A need as provider masks; ``()`` when it asks for nothing, None when unsatisfiable.

        Providers are the ``allowed`` candidates; a need they cannot meet is compiled
        with every candidate instead (see the module docstring).
        """
        full = self._need_cache.get(need, _UNSEEN)
        if full is _UNSEEN:
            full = self._need_cache[need] = self._compile_all(need)
        if allowed == self._all or not full:
            return full  # type: ignore[return-value]
        # Each provider set cut to the allowed candidates; an alternative left with an
        # empty one cannot be met by them.  (A mask pruned as a superset of a kept one
        # stays a superset after the cut, so the kept masks still decide.)
        restricted = {
            tuple(sorted({mask & allowed for mask in alternative}))
            for alternative in full  # type: ignore[union-attr]
            if all(mask & allowed for mask in alternative)
        }
        return tuple(sorted(restricted)) if restricted else full  # type: ignore[return-value]

    def _compile_all(self, need: Need) -> _Need | None:
        alternatives: set[_Alternative] = set()
        free = not need
        for alternative in need:
            masks: list[int] = []
            possible = True
            for required in alternative:
                mask = self._providers_of.get(required, 0)
                if not mask:
                    possible = False
                    break
                masks.append(mask)
            if not possible:
                continue
            if not masks:
                free = True
                break
            # Within one alternative a mask that contains another is redundant.
            unique = sorted(set(masks), key=lambda m: (m.bit_count(), m))
            kept: list[int] = []
            for mask in unique:
                if not any(mask & ~smaller == 0 for smaller in kept):
                    kept.append(mask)
            alternatives.add(tuple(sorted(kept)))
        if free:
            return ()
        if not alternatives:
            return None
        return tuple(sorted(alternatives))

    def _compile(self, needs: frozenset[Need], allowed: int) -> tuple[list[_Need], list[Need]]:
        compiled: set[_Need] = set()
        unsatisfiable: list[Need] = []
        for need in needs:
            masks = self._compile_need(need, allowed)
            if masks is None:
                unsatisfiable.append(need)
            elif masks:
                compiled.add(masks)
        ordered = sorted(compiled)
        kept_needs: list[_Need] = []
        dropped = [False] * len(ordered)
        implies_memo = self._implies_memo
        for i, need in enumerate(ordered):
            for j, other in enumerate(ordered):
                if i == j or dropped[j]:
                    continue
                implied = implies_memo.get((other, need))
                if implied is None:
                    implied = implies_memo[(other, need)] = _need_implies(other, need)
                if implied:
                    dropped[i] = True
                    break
            if not dropped[i]:
                kept_needs.append(need)
        unsatisfiable.sort(key=lambda need: sorted(sorted(a) for a in need))
        return kept_needs, unsatisfiable

    def _solve(self, needs: frozenset[Need], allowed: int) -> Suggestion:
        compiled, unsatisfiable = self._compile(needs, allowed)
        problem = (tuple(compiled), tuple(unsatisfiable))
        cached = self._problem_memo.get(problem)
        if cached is None:
            cached = self._problem_memo[problem] = self._search(compiled, unsatisfiable)
        return cached

    def _search(self, compiled: list[_Need], unsatisfiable: list[Need]) -> Suggestion:
        forced = 0
        for need in compiled:
            if len(need) == 1:
                for mask in need[0]:
                    if mask.bit_count() == 1:
                        forced |= mask
        remaining = [need for need in compiled if not _need_met(need, forced)]
        relevant = 0
        for need in remaining:
            for alternative in need:
                for mask in alternative:
                    relevant |= mask
        exact = True
        chosen = forced
        if remaining:
            if relevant.bit_count() <= EXACT_LIMIT:
                chosen, exact = self._branch_and_bound(forced, remaining)
            else:
                chosen, exact = self._greedy(forced, remaining), False
        names = frozenset(self._names[index] for index in _bits(chosen))
        return Suggestion(scopes=names, exact=exact, unsatisfiable=tuple(unsatisfiable))

    def _greedy(self, start: int, needs: list[_Need]) -> int:
        chosen = start
        remaining = [need for need in needs if not _need_met(need, chosen)]
        while remaining:
            pool = 0
            for need in remaining:
                for alternative in need:
                    for mask in alternative:
                        if not chosen & mask:
                            pool |= mask
            best_index = -1
            best_score: tuple[int, float, int, int] | None = None
            for index in _bits(pool):
                trial = chosen | (1 << index)
                met = 0
                progress = 0.0
                for need in remaining:
                    if _need_met(need, trial):
                        met += 1
                    else:
                        progress += max(
                            sum(1 for mask in alt if trial & mask) / len(alt) for alt in need
                        ) - max(sum(1 for mask in alt if chosen & mask) / len(alt) for alt in need)
                score = (met, progress, -self._weight(trial), -index)
                if best_score is None or score > best_score:
                    best_score, best_index = score, index
            assert best_score is not None
            if best_score[0] == 0 and best_score[1] <= 0:
                # No single scope advances any need's best alternative: complete the
                # first need's most advanced alternative with its cheapest providers.
                need = remaining[0]
                alternative = max(
                    need, key=lambda alt: sum(1 for m in alt if chosen & m) / len(alt)
                )
                for mask in alternative:
                    if not chosen & mask:
                        cheapest = min(_bits(mask), key=lambda i: (self._weights[i], i))
                        chosen |= 1 << cheapest
            else:
                chosen |= 1 << best_index
            remaining = [need for need in remaining if not _need_met(need, chosen)]
        # Drop scopes the others already cover, heaviest first.
        for index in sorted(_bits(chosen & ~start), key=lambda i: (-self._weights[i], -i)):
            trial = chosen & ~(1 << index)
            if all(_need_met(need, trial) for need in needs):
                chosen = trial
        return chosen

    def _branch_options(self, need: _Need, chosen: int) -> int:
        """Candidates of which every solution meeting ``need`` holds at least one."""
        options = 0
        for alternative in need:
            missing = [mask for mask in alternative if not chosen & mask]
            if not missing:
                return 0  # already met
            options |= min(missing, key=lambda mask: (mask.bit_count(), mask))
        return options

    @staticmethod
    def _lower_bound(option_sets: list[int]) -> int:
        """Scopes still needed at least: one per pairwise-disjoint option set."""
        used = 0
        count = 0
        for options in sorted(option_sets, key=lambda mask: (mask.bit_count(), mask)):
            if options and not options & used:
                used |= options
                count += 1
        return count

    def _branch_and_bound(self, start: int, needs: list[_Need]) -> tuple[int, bool]:
        # Depth-first, lightest option first: the first complete answer is the greedy
        # one, which then bounds the rest of the search.
        best = -1
        best_key: tuple[int, int, tuple[int, ...]] = (1 << 30, 0, ())
        visited: set[int] = set()
        nodes = 0
        exhausted = False
        # Explicit stack: (chosen scopes, needs still unmet).
        stack: list[tuple[int, list[_Need]]] = [(start, needs)]
        while stack:
            chosen, remaining = stack.pop()
            nodes += 1
            if nodes > NODE_BUDGET and best >= 0:
                exhausted = True
                break
            if not remaining:
                key = self._key(chosen)
                if key < best_key:
                    best, best_key = chosen, key
                continue
            size = chosen.bit_count()
            weight = self._weight(chosen)
            # One option set per unmet need, for both the bound and the branching.
            option_sets = [self._branch_options(need, chosen) for need in remaining]
            more = self._lower_bound(option_sets)
            if (size + more, weight) > best_key[:2]:
                continue
            options = min(option_sets, key=int.bit_count)  # the need with the fewest ways
            # Push the most promising option last so it is explored first.
            ordered = sorted(_bits(options), key=lambda i: (self._weights[i], i), reverse=True)
            for index in ordered:
                following = chosen | (1 << index)
                if following in visited:
                    continue
                visited.add(following)
                stack.append(
                    (following, [need for need in remaining if not _need_met(need, following)])
                )
        if best < 0:  # cannot happen (every compiled need is satisfiable); stay safe
            return self._greedy(start, needs), False
        return best, not exhausted
