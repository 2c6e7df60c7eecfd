"""What-if: what would happen if a key held a different set of scopes.

A reviewer toggles scopes in the TUI's scope grid and wants to know at once which of
the requests the key really made in the window would have failed, and how the risk and
blast radius move.  This module answers that from data the audit already produced
(``KeyAudit.evidence``) and the core's own functions (the scope graph's expansion,
:meth:`Operation.is_satisfied_by`, the risk function); it decides nothing new.

Pure: stdlib and :mod:`keyscope.model` only, so the TUI can call it on every keypress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from keyscope.model import BlastRadius, KeyAudit, Operation, OperationUse

__all__ = [
    "BlockedOperation",
    "WhatIfOutcome",
    "evaluate_scopes",
    "observed_operations",
    "starting_scopes",
]

ExpandScopes = Callable[[frozenset[str]], frozenset[str]]
"""Scopes -> scopes with every implied scope added (``ScopeGraph.expand``)."""

MeasureBlastRadius = Callable[[frozenset[str]], BlastRadius]
"""Scopes -> what they can reach, as the audit measures it."""


@dataclass(frozen=True, slots=True)
class BlockedOperation:
    """An operation the key called that the chosen scopes would not allow."""

    operation: str
    """``Operation.key``."""
    count: int
    """Successful requests in the window that would have failed."""
    first_seen: datetime
    last_seen: datetime
    needs: tuple[tuple[str, ...], ...]
    """The operation's alternatives (each sorted): holding any one would allow it."""


@dataclass(frozen=True, slots=True)
class WhatIfOutcome:
    """The consequences of one choice of scopes for one key."""

    chosen: frozenset[str]
    """The scopes as ticked, before implications."""
    effective: frozenset[str]
    """``chosen`` with every implied scope added."""
    blocked: tuple[BlockedOperation, ...]
    """Busiest first, then by operation name."""
    blocked_requests: int
    served_requests: int
    unknown_operations: tuple[str, ...]
    """Observed operations the spec does not describe: they cannot be judged."""
    blast_radius: BlastRadius

    @property
    def breaks_usage(self) -> bool:
        """True when at least one observed request would have failed."""
        return self.blocked_requests > 0


def observed_operations(audit: KeyAudit) -> tuple[OperationUse, ...]:
    """Every operation the key called successfully, once each, sorted by name.

    The evidence lists an operation under each kept scope it needed, so an operation
    that needs two scopes together appears twice; the counts are the same, so the
    first listing is kept.

    Args:
        audit: The key's audit.

    Returns:
        One :class:`OperationUse` per operation.
    """
    seen: dict[str, OperationUse] = {}
    for evidence in audit.evidence:
        for use in evidence.operations:
            seen.setdefault(use.operation, use)
    return tuple(seen[name] for name in sorted(seen))


def starting_scopes(audit: KeyAudit) -> frozenset[str]:
    """The scopes the key holds today, as the scope picker would show them ticked.

    That is the audit's ``assigned_scopes`` (the key's own list, or the whole catalog
    for a legacy full-access key); for results without it, the key's list, or the
    effective grants when the key has no list.
    """
    if audit.assigned_scopes:
        return audit.assigned_scopes
    if audit.key.full_access or not audit.key.scopes:
        return audit.granted_scopes
    return audit.key.scopes


def evaluate_scopes(
    chosen: frozenset[str],
    observed: Iterable[OperationUse],
    operations: Mapping[str, Operation],
    expand: ExpandScopes,
    blast_radius: MeasureBlastRadius,
) -> WhatIfOutcome:
    """Judge ``chosen`` against the requests a key really made.

    Args:
        chosen: The scopes a reviewer is considering for the key.
        observed: The key's successful operations (see :func:`observed_operations`).
        operations: The spec's operations by ``Operation.key``.
        expand: Adds implied scopes (``ScopeGraph.expand``).
        blast_radius: The audit's measure of what a set of scopes can reach.

    Returns:
        Which observed requests would have failed, and the resulting blast radius.
    """
    effective = expand(frozenset(chosen))
    blocked: list[BlockedOperation] = []
    unknown: list[str] = []
    served = 0
    for use in observed:
        operation = operations.get(use.operation)
        if operation is None:
            unknown.append(use.operation)
            continue
        if operation.is_satisfied_by(effective):
            served += use.count
            continue
        blocked.append(
            BlockedOperation(
                operation=use.operation,
                count=use.count,
                first_seen=use.first_seen,
                last_seen=use.last_seen,
                needs=tuple(sorted(tuple(sorted(alt)) for alt in operation.requirements)),
            )
        )
    blocked.sort(key=lambda item: (-item.count, item.operation))
    return WhatIfOutcome(
        chosen=frozenset(chosen),
        effective=effective,
        blocked=tuple(blocked),
        blocked_requests=sum(item.count for item in blocked),
        served_requests=served,
        unknown_operations=tuple(sorted(unknown)),
        blast_radius=blast_radius(effective),
    )
