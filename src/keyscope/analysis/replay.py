"""Replay: would the suggested scopes have served every request the key really made?

A least-privilege suggestion is only as good as its proof.  For each key the audit
replays the window's successful requests, operation by operation, against the scopes
it suggests (implications applied) and counts the requests that would have failed.
For a sound suggestion that count is zero; anything else points at a bug, a spec whose
scope tags disagree with what the platform let through, or a key the audit kept its
grants for (too little data) although the spec says they do not cover its use.

Requests that cannot be checked are counted apart, **never** as passing: requests to
routes no spec operation describes, and to operations whose requirement the spec does
not state at all (no ``security`` anywhere).  Public operations (``security: []``)
pass under any scope set.

The replay works on the audit's per-key tally (successful requests per operation, with
first and last seen), not on the usage rows again, so it adds one subset test per
operation a key used.  Pure: stdlib and :mod:`keyscope.model` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from keyscope.model import Operation, OperationUse, Replay

__all__ = ["replay_requests"]


def replay_requests(
    uses: Iterable[OperationUse],
    operations: Mapping[str, Operation],
    effective: frozenset[str],
    successful_requests: int,
) -> Replay:
    """Replay a key's successful requests against a scope set.

    Args:
        uses: Successful requests per spec operation (``OperationUse.operation`` is an
            ``Operation.key``), each operation once.
        operations: The spec's operations by ``Operation.key``.
        effective: The scope set to replay against, with implications already applied
            (``ScopeGraph.expand`` of the suggestion).
        successful_requests: Every successful request of the key in the window,
            unmapped ones included; what the replay cannot check is this minus the
            requests it replayed.

    Returns:
        The replay: requests replayed, how many would have failed and on which
        operations (sorted by operation), and how many could not be replayed.
    """
    replayed = 0
    would_fail = 0
    failing: list[OperationUse] = []
    for use in uses:
        operation = operations.get(use.operation)
        if operation is None or (not operation.public and not operation.requirements):
            continue  # the requirement is unknown: cannot be replayed, counted below
        replayed += use.count
        if operation.public:
            continue
        requirements = operation.requirements
        # Operation.is_satisfied_by, inlined: one alternative is the common case.
        if len(requirements) == 1:
            allowed = requirements[0] <= effective
        else:
            allowed = any(alternative <= effective for alternative in requirements)
        if not allowed:
            would_fail += use.count
            failing.append(use)
    if len(failing) > 1:
        failing.sort(key=lambda use: use.operation)
    return Replay(
        requests=replayed,
        would_fail=would_fail,
        failing_operations=tuple(failing),
        unreplayable=max(successful_requests - replayed, 0),
    )
