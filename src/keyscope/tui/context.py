"""What the screens need from an audit run, prepared once per run off the UI thread.

The TUI never recomputes the audit.  The detail screen's what-if calls the core's
own functions on the run's data: the scope graph's ``expand``, each operation's
``is_satisfied_by`` and the risk module's blast-radius calculator, through
:mod:`keyscope.analysis.whatif`.  This module only gathers them, plus the layout of
the platform's scope picker (capability area by read and write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keyscope.analysis.whatif import ExpandScopes, MeasureBlastRadius
from keyscope.model import ApiSpec, AuditResult, BlastRadius, Operation, Scope

__all__ = ["AuditContext", "GridRow"]

_AREA_ORDER = ("invoices", "payments", "customers", "refunds", "payouts", "webhooks", "checkout")
"""The platform's own order of capability areas; other areas follow alphabetically."""


@dataclass(frozen=True, slots=True)
class GridRow:
    """One row of the scope picker: a capability area and its read and write scopes."""

    area: str
    read: str | None
    write: str | None


@dataclass(frozen=True, slots=True)
class AuditContext:
    """An audit run, indexed for the screens."""

    run: Any
    """The :class:`keyscope.pipeline.AuditRun` it came from."""
    result: AuditResult
    spec: ApiSpec
    operations: Mapping[str, Operation]
    """``Operation.key`` -> operation."""
    expand: ExpandScopes
    blast_radius: MeasureBlastRadius
    scopes: Mapping[str, Scope]
    """Scope name -> the spec's scope (description, area, access)."""
    grid: tuple[GridRow, ...]
    """The scope picker's rows, in the platform's order."""
    other_scopes: tuple[str, ...]
    """Catalog scopes that fit no area x read/write cell, sorted."""

    @property
    def areas(self) -> dict[str, str]:
        """Scope name -> capability area, for every scope placed in the grid."""
        placed: dict[str, str] = {}
        for row in self.grid:
            for name in (row.read, row.write):
                if name:
                    placed[name] = row.area
        return placed

    @classmethod
    def from_run(cls, run: Any) -> AuditContext:
        """Index ``run`` (an AuditRun: ``settings``, ``spec``, ``graph``, ``result``)."""
        spec: ApiSpec = run.spec
        result: AuditResult = run.result
        return cls(
            run=run,
            result=result,
            spec=spec,
            operations={operation.key: operation for operation in spec.operations},
            expand=run.graph.expand,
            blast_radius=_blast_radius_of(run),
            scopes={scope.name: scope for scope in spec.scopes},
            grid=_grid_rows(spec.scopes),
            other_scopes=_other_scopes(spec.scopes),
        )

    def unlocked_by(self, scope: str) -> tuple[Operation, ...]:
        """Scoped operations a key holding only ``scope`` (and what it implies) can call.

        The same reading as ``keyscope spec``: operations open to any authenticated key
        (an empty alternative) are not counted as unlocked by a scope.
        """
        effective = self.expand(frozenset({scope}))
        return tuple(
            operation
            for operation in self.spec.operations
            if not operation.public
            and any(
                alternative and alternative <= effective for alternative in operation.requirements
            )
        )

    def needing(self, scope: str) -> tuple[Operation, ...]:
        """Operations whose requirement names ``scope`` (alone or with others)."""
        return tuple(op for op in self.spec.operations if scope in op.scopes)


def _blast_radius_of(run: Any) -> Callable[[frozenset[str]], BlastRadius]:
    """The audit's own blast-radius measure for this run's spec and weights."""
    from keyscope.analysis.risk import BlastRadiusCalculator, scope_weights

    granted = {name for audit in run.result.keys for name in audit.granted_scopes}
    weights = scope_weights(run.spec.scopes, run.settings.risk_weights, extra_names=granted)
    return BlastRadiusCalculator(run.spec, weights).measure


def _area_access(scope: Scope) -> tuple[str | None, str | None]:
    """The scope's cell in the picker: the spec's say, else what its name says."""
    from keyscope.analysis.risk import infer_access, infer_area

    access = scope.access or infer_access(scope.name)
    area = scope.area or (infer_area(scope.name) if access else None)
    return area, access


def _grid_rows(scopes: tuple[Scope, ...]) -> tuple[GridRow, ...]:
    cells: dict[str, dict[str, str]] = {}
    for scope in scopes:
        area, access = _area_access(scope)
        if area and access in ("read", "write") and scope.declared:
            cells.setdefault(area, {}).setdefault(access, scope.name)
    order = {area: index for index, area in enumerate(_AREA_ORDER)}
    areas = sorted(cells, key=lambda area: (order.get(area, len(order)), area))
    return tuple(GridRow(area, cells[area].get("read"), cells[area].get("write")) for area in areas)


def _other_scopes(scopes: tuple[Scope, ...]) -> tuple[str, ...]:
    placed = {name for row in _grid_rows(scopes) for name in (row.read, row.write) if name}
    return tuple(sorted(scope.name for scope in scopes if scope.name not in placed))
