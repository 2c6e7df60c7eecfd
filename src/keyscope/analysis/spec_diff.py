"""Catalog drift between two versions of a spec, and whose effective privilege it changes.

Platforms rename scopes, split one into two, move an operation behind a new scope, or
add and retire endpoints.  Every key minted under the old catalog then quietly means
something else.  :func:`diff_specs` compares two loaded specs (pure: stdlib, the model
and the scope graph) and answers:

- **Scopes** added, removed, or whose description changed.
- **Likely renames and splits**: an old scope some of whose operations (present in
  both versions) no longer name it and are now guarded by other scopes.  A removed
  scope whose operations all went to one new scope was probably *renamed*; to several,
  or a kept scope that lost operations to a new one, was *split*; a removed scope whose
  operations went to scopes that already existed was *merged*.  These are inferences
  from the operations, labelled as such.
- **Operations** added, removed, or whose requirement changed (alternatives compared
  as sets, ``public`` included).  An operation whose path only renamed a template
  parameter (``/invoices/{id}`` to ``/invoices/{invoice_id}``) is matched, not
  reported as removed and added, when the match is unambiguous.
- With keys: every active key **re-mapped**.  Its effective grants under each version
  (a legacy full-access key holds each version's whole catalog; implications of each
  version applied) and the non-public operations they reach; a key whose reach
  changed, or that holds scopes the new version no longer has, is reported with the
  operations gained and lost.  Revoked keys are counted, not re-mapped.

Everything returned is sorted, so the JSON written from it is deterministic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from keyscope.analysis.scope_graph import ScopeGraph, build_scope_graph
from keyscope.model import ApiKey, ApiSpec, Operation

__all__ = [
    "DescriptionChange",
    "KeyDrift",
    "LikelyRename",
    "OperationDrift",
    "PathRename",
    "Requirement",
    "SpecDiff",
    "VanishedScope",
    "diff_specs",
    "requirement_of",
]

_TEMPLATE = re.compile(r"\{[^}/]*\}")


@dataclass(frozen=True, slots=True)
class Requirement:
    """What an operation asks for, comparable between versions."""

    public: bool
    alternatives: tuple[tuple[str, ...], ...]
    """Each alternative sorted, the alternatives sorted; empty with ``public`` false
    means the spec states nothing."""


def requirement_of(operation: Operation) -> Requirement:
    """The operation's requirement in comparable form."""
    return Requirement(
        public=operation.public,
        alternatives=tuple(sorted({tuple(sorted(alt)) for alt in operation.requirements})),
    )


@dataclass(frozen=True, slots=True)
class DescriptionChange:
    scope: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class LikelyRename:
    """An old scope whose operations are now guarded by other scopes."""

    kind: Literal["rename", "split", "merge"]
    scope: str
    """The old scope."""
    removed: bool
    """True when the new version no longer has ``scope`` at all."""
    successors: tuple[str, ...]
    """Scopes that now guard the moved operations (``scope`` itself first for a split
    that keeps it), sorted after that."""
    operations: tuple[str, ...]
    """The moved operations (``Operation.key`` in the new version), sorted."""


@dataclass(frozen=True, slots=True)
class PathRename:
    """The same operation, a template parameter renamed."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class OperationDrift:
    """An operation added, removed, or with a changed requirement."""

    operation: str
    """``Operation.key`` (the new one for changed operations)."""
    operation_id: str | None
    old: Requirement | None
    """None for an added operation."""
    new: Requirement | None
    """None for a removed operation."""


@dataclass(frozen=True, slots=True)
class VanishedScope:
    """A scope a key holds that the new version no longer has."""

    scope: str
    likely_successors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeyDrift:
    """One key whose effective privilege differs between the versions."""

    key: ApiKey
    operations_before: int
    operations_after: int
    gained: tuple[str, ...]
    """Operations reachable under the new version only (new keys), sorted."""
    lost: tuple[str, ...]
    """Operations reachable under the old version only (new keys where they still
    exist, else old keys), sorted."""
    vanished_scopes: tuple[VanishedScope, ...]


@dataclass(frozen=True, slots=True)
class SpecDiff:
    """Everything that differs between two versions of a spec."""

    old: ApiSpec
    new: ApiSpec
    scopes_added: tuple[str, ...]
    scopes_removed: tuple[str, ...]
    descriptions_changed: tuple[DescriptionChange, ...]
    likely_renames: tuple[LikelyRename, ...]
    operations_added: tuple[OperationDrift, ...]
    operations_removed: tuple[OperationDrift, ...]
    requirements_changed: tuple[OperationDrift, ...]
    paths_renamed: tuple[PathRename, ...]
    keys_checked: bool = False
    """True when keys were given (``keys`` then lists every key whose privilege changed)."""
    keys: tuple[KeyDrift, ...] = ()
    active_keys: int = 0
    revoked_keys: int = 0

    @property
    def catalog_changed(self) -> bool:
        """Anything about scopes or operations differs."""
        return bool(
            self.scopes_added
            or self.scopes_removed
            or self.descriptions_changed
            or self.operations_added
            or self.operations_removed
            or self.requirements_changed
            or self.paths_renamed
        )

    @property
    def changed(self) -> bool:
        """The catalog changed, or (with keys) some key's effective privilege did."""
        return self.catalog_changed or bool(self.keys)


def diff_specs(old: ApiSpec, new: ApiSpec, keys: Sequence[ApiKey] | None = None) -> SpecDiff:
    """Compare two versions of a spec, and re-map keys when given.

    Args:
        old: The earlier version.
        new: The later version.
        keys: A key inventory to re-map, or None.

    Returns:
        The difference, every list sorted.
    """
    old_ops = {op.key: op for op in old.operations}
    new_ops = {op.key: op for op in new.operations}
    renamed = _match_renamed_paths(old_ops, new_ops)
    # Old operation key -> its key in the new version (itself, or the renamed path).
    identity = {key: key for key in old_ops if key in new_ops} | {r.old: r.new for r in renamed}

    old_scopes = {scope.name: scope for scope in old.scopes}
    new_scopes = {scope.name: scope for scope in new.scopes}
    added = tuple(sorted(set(new_scopes) - set(old_scopes)))
    removed = tuple(sorted(set(old_scopes) - set(new_scopes)))
    descriptions = tuple(
        DescriptionChange(name, old_scopes[name].description, new_scopes[name].description)
        for name in sorted(set(old_scopes) & set(new_scopes))
        if old_scopes[name].description != new_scopes[name].description
    )

    operations_added = tuple(
        OperationDrift(key, new_ops[key].operation_id, None, requirement_of(new_ops[key]))
        for key in sorted(set(new_ops) - set(identity.values()))
    )
    operations_removed = tuple(
        OperationDrift(key, old_ops[key].operation_id, requirement_of(old_ops[key]), None)
        for key in sorted(set(old_ops) - set(identity))
    )
    changed = []
    for old_key, new_key in sorted(identity.items(), key=lambda item: item[1]):
        before, after = requirement_of(old_ops[old_key]), requirement_of(new_ops[new_key])
        if before != after:
            changed.append(OperationDrift(new_key, new_ops[new_key].operation_id, before, after))

    renames = _likely_renames(old_ops, new_ops, identity, set(old_scopes), set(new_scopes))
    diff = SpecDiff(
        old=old,
        new=new,
        scopes_added=added,
        scopes_removed=removed,
        descriptions_changed=descriptions,
        likely_renames=renames,
        operations_added=operations_added,
        operations_removed=operations_removed,
        requirements_changed=tuple(changed),
        paths_renamed=tuple(sorted(renamed, key=lambda r: (r.new, r.old))),
    )
    if keys is None:
        return diff
    drifts, active, revoked = _remap_keys(old, new, keys, identity, renames)
    return replace(diff, keys_checked=True, keys=drifts, active_keys=active, revoked_keys=revoked)


# --------------------------------------------------------------------------- operations


def _shape(key: str) -> str:
    """``GET /invoices/{}``: the operation with its template parameters unnamed."""
    return _TEMPLATE.sub("{}", key)


def _match_renamed_paths(
    old_ops: dict[str, Operation], new_ops: dict[str, Operation]
) -> list[PathRename]:
    """Pair a removed and an added operation that differ only in parameter names,
    when exactly one of each has that shape (otherwise the pairing would be a guess)."""
    only_old: dict[str, list[str]] = defaultdict(list)
    only_new: dict[str, list[str]] = defaultdict(list)
    for key in old_ops.keys() - new_ops.keys():
        only_old[_shape(key)].append(key)
    for key in new_ops.keys() - old_ops.keys():
        only_new[_shape(key)].append(key)
    return [
        PathRename(old=olds[0], new=only_new[shape][0])
        for shape, olds in only_old.items()
        if len(olds) == 1 and len(only_new.get(shape, ())) == 1
    ]


def _likely_renames(
    old_ops: dict[str, Operation],
    new_ops: dict[str, Operation],
    identity: dict[str, str],
    old_scopes: set[str],
    new_scopes: set[str],
) -> tuple[LikelyRename, ...]:
    moved: dict[str, set[str]] = defaultdict(set)
    successors: dict[str, set[str]] = defaultdict(set)
    for old_key, new_key in identity.items():
        before = old_ops[old_key].scopes
        after = new_ops[new_key].scopes
        for scope in before - after:
            replacing = after - before
            if replacing:
                moved[scope].add(new_key)
                successors[scope] |= replacing
    renames = []
    for scope in sorted(moved):
        taken_over = successors[scope]
        fresh = taken_over - old_scopes
        gone = scope not in new_scopes
        if gone and len(taken_over) == 1 and fresh:
            kind: Literal["rename", "split", "merge"] = "rename"
        elif gone and fresh:
            kind = "split"
        elif gone:
            kind = "merge"
        elif fresh:
            kind = "split"  # the scope stays, some of its operations went to new scopes
        else:
            continue  # a kept scope's operation now needs other existing scopes: a change
        ordered = ([scope] if not gone else []) + sorted(taken_over - {scope})
        renames.append(
            LikelyRename(
                kind=kind,
                scope=scope,
                removed=gone,
                successors=tuple(ordered),
                operations=tuple(sorted(moved[scope])),
            )
        )
    return tuple(renames)


# --------------------------------------------------------------------------- keys


def _reach(
    spec: ApiSpec, graph: ScopeGraph, key: ApiKey, rename: dict[str, str] | None = None
) -> frozenset[str]:
    """Non-public operations the key's effective grants allow under ``spec``."""
    granted = graph.expand(spec.full_access_scopes if key.full_access else key.scopes)
    names = rename or {}
    return frozenset(
        names.get(op.key, op.key)
        for op in spec.operations
        if not op.public and op.is_satisfied_by(granted)
    )


def _remap_keys(
    old: ApiSpec,
    new: ApiSpec,
    keys: Iterable[ApiKey],
    identity: dict[str, str],
    renames: tuple[LikelyRename, ...],
) -> tuple[tuple[KeyDrift, ...], int, int]:
    old_graph, new_graph = build_scope_graph(old), build_scope_graph(new)
    successors = {rename.scope: rename.successors for rename in renames if rename.removed}
    new_names = new.scope_names
    # Keys with the same grants reach the same operations: compute each set once.
    cache: dict[tuple[bool, frozenset[str]], tuple[frozenset[str], frozenset[str]]] = {}
    drifts = []
    active = revoked = 0
    for key in sorted(keys, key=lambda k: k.key_id):
        if key.status != "active":
            revoked += 1
            continue
        active += 1
        grants = (key.full_access, frozenset() if key.full_access else key.scopes)
        reach = cache.get(grants)
        if reach is None:
            reach = cache[grants] = (
                _reach(old, old_graph, key, identity),
                _reach(new, new_graph, key),
            )
        before, after = reach
        vanished = tuple(
            VanishedScope(scope, successors.get(scope, ()))
            for scope in sorted(key.scopes - new_names)
            if not key.full_access and scope in old.scope_names
        )
        if before == after and not vanished:
            continue
        drifts.append(
            KeyDrift(
                key=key,
                operations_before=len(before),
                operations_after=len(after),
                gained=tuple(sorted(after - before)),
                lost=tuple(sorted(before - after)),
                vanished_scopes=vanished,
            )
        )
    return tuple(drifts), active, revoked
