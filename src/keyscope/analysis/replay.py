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
first and last seen), not on the usage rows again.  A :class:`Replayer` decides each
operation's outcome once per scope set, and keys share suggestions, so replaying a key
mostly costs one dictionary lookup per operation it used.  Pure: stdlib and
:mod:`keyscope.model` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from keyscope.model import Operation, OperationUse, Replay

__all__ = ["Replayer", "replay_requests"]

_UNDECIDED = object()


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
    return Replayer(operations).replay(uses, effective, successful_requests)


class Replayer:
    """Replays many keys against one spec's operations (see :func:`replay_requests`).

    Whether an operation can be replayed and passes is decided once per scope set and
    remembered: build one per audit.
    """

    __slots__ = ("_operations", "_outcomes")

    def __init__(self, operations: Mapping[str, Operation]) -> None:
        """Start with nothing decided.

        Args:
            operations: The spec's operations by ``Operation.key``.
        """
        self._operations = operations
        self._outcomes: dict[frozenset[str], dict[str, bool | None]] = {}

    def replay(
        self, uses: Iterable[OperationUse], effective: frozenset[str], successful_requests: int
    ) -> Replay:
        """:func:`replay_requests` with this replayer's operations."""
        outcomes = self._outcomes.get(effective)
        if outcomes is None:
            outcomes = self._outcomes[effective] = {}
        replayed = 0
        would_fail = 0
        failing: list[OperationUse] = []
        for use in uses:
            passes = outcomes.get(use.operation, _UNDECIDED)
            if passes is _UNDECIDED:
                passes = outcomes[use.operation] = self._outcome(use.operation, effective)
            if passes is None:
                continue  # the requirement is unknown: cannot be replayed, counted below
            replayed += use.count
            if not passes:
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

    def _outcome(self, operation_key: str, effective: frozenset[str]) -> bool | None:
        """True: the request passes; False: it would fail; None: it cannot be replayed
        (no such operation, or the spec states no requirement for it at all)."""
        operation = self._operations.get(operation_key)
        if operation is None or (not operation.public and not operation.requirements):
            return None
        if operation.public:
            return True
        return any(alternative <= effective for alternative in operation.requirements)
