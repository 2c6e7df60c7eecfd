"""What a set of scopes can do: risk score and blast radius, weighted for payments.

A payments key is not dangerous in proportion to how many scopes it holds: one
``payouts:write`` can send money away, while five read scopes cannot.  So every scope
has a weight (``settings.DEFAULT_RISK_WEIGHTS``, overridable in ``keyscope.toml``):

- money movement first (payouts, refunds, payments write),
- then redirection of the event stream (webhooks write) and of payers (checkout write),
- then customer personal data (customers read),
- then everything else.

A scope with no configured weight gets a small one inferred from what it is:
:data:`DEFAULT_WRITE_WEIGHT` for a write scope, :data:`DEFAULT_READ_WEIGHT` for a read
scope, :data:`DEFAULT_UNKNOWN_WEIGHT` when neither the spec nor the name says.

The **risk score** of a key is the sum of the weights of its *effective* grants
(implications applied), capped at 100.  The **blast radius** is the number of spec
operations those grants reach, and how many of them are *sensitive*: an operation is
sensitive when one of the scopes it names weighs :data:`SENSITIVE_WEIGHT` or more, or is
a write scope of a money-movement, webhook or hosted-checkout area.

Everything here is pure: the same inputs give the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from keyscope.model import ApiSpec, BlastRadius, Operation, Scope

__all__ = [
    "DEFAULT_READ_WEIGHT",
    "DEFAULT_UNKNOWN_WEIGHT",
    "DEFAULT_WRITE_WEIGHT",
    "MAX_RISK_SCORE",
    "SENSITIVE_AREAS",
    "SENSITIVE_WEIGHT",
    "BlastRadiusCalculator",
    "infer_access",
    "infer_area",
    "infer_weight",
    "is_sensitive_scope",
    "risk_score",
    "scope_weights",
]

MAX_RISK_SCORE = 100
DEFAULT_WRITE_WEIGHT = 5
"""Weight of a write scope the weight table does not name."""
DEFAULT_READ_WEIGHT = 2
"""Weight of a read scope the weight table does not name."""
DEFAULT_UNKNOWN_WEIGHT = 3
"""Weight of a scope whose access (read or write) cannot be told."""
SENSITIVE_WEIGHT = 10
"""A scope weighing this much or more makes the operations that name it sensitive."""
SENSITIVE_AREAS = frozenset({"payouts", "refunds", "payments", "webhooks", "checkout"})
"""Areas whose *write* scopes are sensitive whatever their configured weight:
money movement, event-stream redirection and payer redirection."""

_WRITE_WORDS = re.compile(
    r"(?i)(?:^|[:._\-/ ])"
    r"(?:write|writes|manage|admin|delete|create|update|edit|full)"
    r"(?:$|[:._\-/ ])"
)
_READ_WORDS = re.compile(r"(?i)(?:^|[:._\-/ ])(?:read|readonly|read_only|view|list)(?:$|[:._\-/ ])")
_AREA_SPLIT = re.compile(r"[:./]")


def infer_access(name: str) -> str | None:
    """``"read"``, ``"write"`` or None from a scope's name alone (``invoices:write``)."""
    if _WRITE_WORDS.search(name):
        return "write"
    if _READ_WORDS.search(name):
        return "read"
    return None


def infer_area(name: str) -> str:
    """The capability area a scope name starts with (``invoices`` of ``invoices:read``)."""
    return _AREA_SPLIT.split(name, maxsplit=1)[0].lower()


def infer_weight(name: str, access: str | None = None) -> int:
    """The default weight of a scope the weight table does not name.

    Args:
        name: The scope name.
        access: ``"read"``/``"write"`` when the spec says; otherwise inferred from the name.

    Returns:
        :data:`DEFAULT_WRITE_WEIGHT`, :data:`DEFAULT_READ_WEIGHT` or :data:`DEFAULT_UNKNOWN_WEIGHT`.
    """
    access = access or infer_access(name)
    if access == "write":
        return DEFAULT_WRITE_WEIGHT
    if access == "read":
        return DEFAULT_READ_WEIGHT
    return DEFAULT_UNKNOWN_WEIGHT


def scope_weights(
    scopes: Iterable[Scope], configured: Mapping[str, int], extra_names: Iterable[str] = ()
) -> dict[str, int]:
    """A weight for every scope of the spec (and ``extra_names``, e.g. unknown grants).

    Args:
        scopes: The spec's scopes (their ``access`` refines the inferred default).
        configured: The weight table from the settings; it wins when it names a scope.
        extra_names: More scope names to weigh (granted scopes the spec does not know).

    Returns:
        Scope name -> weight, for every scope named by ``scopes``, ``extra_names`` and
        ``configured``.
    """
    weights: dict[str, int] = {}
    for scope in scopes:
        weights[scope.name] = infer_weight(scope.name, scope.access)
    for name in extra_names:
        weights.setdefault(name, infer_weight(name))
    for name, weight in configured.items():
        weights[name] = int(weight)
    return weights


def risk_score(effective_scopes: Iterable[str], weights: Mapping[str, int]) -> int:
    """The risk score 0-100 of a set of effective grants: the capped sum of their weights."""
    total = 0
    for name in effective_scopes:
        weight = weights.get(name)
        total += infer_weight(name) if weight is None else weight
    return min(total, MAX_RISK_SCORE)


def is_sensitive_scope(name: str, weights: Mapping[str, int], scope: Scope | None = None) -> bool:
    """True when holding ``name`` puts money, the event stream, payers or PII at stake."""
    weight = weights.get(name)
    if weight is None:
        weight = infer_weight(name, scope.access if scope else None)
    if weight >= SENSITIVE_WEIGHT:
        return True
    area = (scope.area if scope and scope.area else infer_area(name)).lower()
    access = (scope.access if scope and scope.access else None) or infer_access(name)
    return area in SENSITIVE_AREAS and access == "write"


class BlastRadiusCalculator:
    """Blast radius and risk of scope sets against one spec, memoized per scope set.

    Build it once per audit; :meth:`measure` is called for every key, before and after,
    and keys share scope sets often, so results are cached.
    """

    __slots__ = (
        "_cache",
        "_keys",
        "_operations",
        "_operations_by_alternative",
        "_reach_cache",
        "_sensitive",
        "_weights",
    )

    def __init__(self, spec: ApiSpec, weights: Mapping[str, int]) -> None:
        """Index the spec's non-public operations and which of them are sensitive.

        Args:
            spec: The API description.
            weights: Scope weights (see :func:`scope_weights`).
        """
        self._weights = dict(weights)
        scopes_by_name = {scope.name: scope for scope in spec.scopes}
        sensitive_names = {
            name
            for operation in spec.operations
            for name in operation.scopes
            if is_sensitive_scope(name, self._weights, scopes_by_name.get(name))
        }
        # Public operations are reachable without any key: they are no key's blast radius.
        self._operations: tuple[Operation, ...] = tuple(
            operation for operation in spec.operations if not operation.public
        )
        self._keys = tuple(operation.key for operation in self._operations)
        self._sensitive = frozenset(
            index
            for index, operation in enumerate(self._operations)
            if operation.scopes & sensitive_names
        )
        # Operations (by index) per distinct alternative: specs reuse a few requirements
        # for many operations, so each is tested once per scope set.  No requirement at
        # all reads as "any key".
        by_alternative: dict[frozenset[str], list[int]] = {}
        for index, operation in enumerate(self._operations):
            for alternative in operation.requirements or (frozenset(),):
                by_alternative.setdefault(alternative, []).append(index)
        self._operations_by_alternative = tuple(by_alternative.items())
        self._cache: dict[frozenset[str], BlastRadius] = {}
        self._reach_cache: dict[frozenset[str], tuple[frozenset[str], int]] = {}

    def _reach(self, effective_scopes: frozenset[str]) -> tuple[frozenset[str], int]:
        cached = self._reach_cache.get(effective_scopes)
        if cached is None:
            reached: set[int] = set()
            for alternative, indexes in self._operations_by_alternative:
                if alternative <= effective_scopes:
                    reached.update(indexes)
            keys = frozenset(map(self._keys.__getitem__, reached))
            cached = (keys, len(reached & self._sensitive))
            self._reach_cache[effective_scopes] = cached
        return cached

    def reachable(self, effective_scopes: frozenset[str]) -> tuple[Operation, ...]:
        """The non-public operations a key holding ``effective_scopes`` can call (spec order)."""
        reached = self._reach(effective_scopes)[0]
        return tuple(op for op in self._operations if op.key in reached)

    def reachable_keys(self, effective_scopes: frozenset[str]) -> frozenset[str]:
        """``Operation.key`` of every operation :meth:`reachable` returns (memoized)."""
        return self._reach(effective_scopes)[0]

    def measure(self, effective_scopes: frozenset[str]) -> BlastRadius:
        """Operations and sensitive operations reachable, and the risk score.

        Args:
            effective_scopes: Grants with implications already applied.
        """
        cached = self._cache.get(effective_scopes)
        if cached is not None:
            return cached
        reached, sensitive = self._reach(effective_scopes)
        result = BlastRadius(
            operations=len(reached),
            sensitive_operations=sensitive,
            risk_score=risk_score(effective_scopes, self._weights),
        )
        self._cache[effective_scopes] = result
        return result
