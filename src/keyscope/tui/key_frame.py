"""The keys screen's data: one Arrow table built once, filtered and sorted per keystroke.

An audit of 100,000 keys must paint within a second and answer a filter keystroke
within 100 ms, so the rows are prepared once, in the analysis worker, as an Arrow table
(the display strings, already made safe, plus hidden columns for search, facets,
sorting and display widths).  Filtering and sorting are then Arrow compute kernels,
never a Python loop over keys.  Nothing here recomputes the audit: every value is read
from the :class:`~keyscope.model.AuditResult`.

Columns starting with ``_`` are hidden; :data:`DISPLAY_COLUMNS` are shown, in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from rich.cells import cell_len

from keyscope.model import SEVERITIES, AuditResult, KeyAudit, severity_rank
from keyscope.redaction import mask_id
from keyscope.tui.display import safe, when

__all__ = [
    "CHIP_MISSING",
    "CHIP_UNJUDGED",
    "CHIP_UNUSED",
    "CHIP_USED",
    "DISPLAY_COLUMNS",
    "FULL_ACCESS_LABEL",
    "KeyFilter",
    "KeyFrame",
    "KeySort",
    "KeyView",
    "scope_chips",
]

CHIP_USED = "✓"
"""Granted and used in the window."""
CHIP_UNUSED = "✗"
"""Granted, not needed by the usage: an excess scope."""
CHIP_MISSING = "!"
"""Not granted, but denied requests needed it."""
CHIP_UNJUDGED = "?"
"""Granted and not used, but the data is too thin to call it excess (kept)."""
FULL_ACCESS_LABEL = "⚠ FULL ACCESS"
"""Shown first in a legacy key's scopes: it can do everything."""

ColumnId = Literal[
    "name", "key_id", "risk", "scopes", "status", "confidence", "last_used", "findings"
]


@dataclass(frozen=True, slots=True)
class DisplayColumn:
    """One visible column: its id, header, and the hidden column it sorts by."""

    id: ColumnId
    label: str
    sort_by: str
    max_width: int


DISPLAY_COLUMNS: tuple[DisplayColumn, ...] = (
    # What a reviewer judges a key by comes first (name, risk, scopes, findings): the
    # table keeps these four in view at 80 columns and the rest a scroll to the right.
    DisplayColumn("name", "Name", "_name_sort", 28),
    DisplayColumn("risk", "Risk", "risk", 4),
    # Full text in the tooltip when the column is narrowed to fit the terminal.
    DisplayColumn("scopes", "Scopes (✓ used ✗ unused ! missing)", "_scope_count", 48),
    DisplayColumn("findings", "Findings", "findings", 8),
    DisplayColumn("key_id", "Key id", "_id", 16),
    DisplayColumn("confidence", "Confidence", "_confidence_rank", 12),
    DisplayColumn("last_used", "Last used", "_last_used", 16),
    DisplayColumn("status", "Status", "status", 8),
)

_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2, "insufficient": 3}
_NO_FINDING = len(SEVERITIES)
"""``_severity`` of a key without open findings (less severe than ``info``)."""


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """What the reviewer narrowed the keys to: free text and facets, all AND-ed."""

    text: str = ""
    """Words that must each appear in the name, id, owner, scopes or finding rules."""
    legacy_only: bool = False
    dormant: bool = False
    has_excess: bool = False
    min_severity: str | None = None
    """Keep keys with an open finding at least this severe."""
    area: str | None = None
    """Keep keys granted a scope of this capability area."""

    @property
    def is_active(self) -> bool:
        return self != KeyFilter()

    def with_changes(self, **changes: object) -> KeyFilter:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class KeySort:
    """Which column the keys are sorted by, and which way."""

    column: ColumnId = "risk"
    descending: bool = True


@dataclass(frozen=True, slots=True)
class KeyView:
    """The rows to show now, as positions into the frame: no row is copied.

    A filter keystroke over 100,000 keys must not copy 100,000 names; the view is the
    ordered list of matching positions, and the table reads the few visible cells
    through it (:meth:`cell`).
    """

    source: pa.Table
    """The display columns of every key, in :data:`DISPLAY_COLUMNS` order (frame order)."""
    indices: pa.Array
    """Row -> position in ``source``, which is also the key's position in ``AuditResult.keys``."""
    widths: tuple[int, ...]
    """Content width of each display column (cells), measured over every key so columns
    do not jump while the reviewer types."""
    total: int
    """Keys in the audit, before filtering."""

    @property
    def row_count(self) -> int:
        return len(self.indices)

    def audit_index(self, row: int) -> int:
        """Position in ``AuditResult.keys`` of the key shown on ``row``."""
        return int(self.indices[row].as_py())

    def row_of(self, audit_index: int) -> int | None:
        """The row showing the key at ``audit_index``, or None when it is filtered out."""
        position = pc.index(self.indices, pa.scalar(audit_index, type=self.indices.type)).as_py()
        return None if position < 0 else int(position)

    def cell(self, row: int, column: int) -> object:
        """The value shown at ``row`` (of this view) and display ``column``."""
        return self.source.column(column)[self.indices[row].as_py()].as_py()

    def column(self, name: str) -> list[object]:
        """Every value of one display column, in view order (tests, exports)."""
        return pc.take(self.source.column(name), self.indices).to_pylist()


def scope_chips(audit: KeyAudit) -> str:
    """The key's scopes as chips, each marked by a symbol so colour is not needed.

    A scoped key shows the scopes it was granted (as the platform lists them) plus the
    missing ones; a legacy full-access key shows the label, the scopes it used, the
    missing ones and how many scopes it holds without using them.
    """
    used = audit.used_scopes
    missing = audit.missing_scopes
    excess = audit.excess_scopes
    if audit.key.full_access:
        parts = [FULL_ACCESS_LABEL]
        unused = len(audit.granted_scopes - used)
        if unused:
            # Before the used ones: the count is what a narrow column must not cut off.
            parts.append(f"{CHIP_UNUSED}{unused} unused")
        parts += [f"{CHIP_USED}{safe(name, 40)}" for name in sorted(used)]
        parts += [f"{CHIP_MISSING}{safe(name, 40)}" for name in sorted(missing - used)]
        return " ".join(parts)
    chips: list[str] = []
    shown = audit.key.scopes or audit.granted_scopes
    for name in sorted(shown | missing):
        if name in missing and name not in shown:
            symbol = CHIP_MISSING
        elif name in used:
            symbol = CHIP_USED
        elif name in excess:
            symbol = CHIP_UNUSED
        elif name in audit.suggested_scopes:
            # Kept by the suggestion without direct use: implied or too new to judge.
            symbol = CHIP_UNJUDGED if audit.confidence == "insufficient" else CHIP_USED
        else:
            symbol = CHIP_UNJUDGED
        chips.append(f"{symbol}{safe(name, 40)}")
    return " ".join(chips) if chips else "(no scopes)"


_NOT_ONE_CELL = re.compile("[^\x20-\x7e✓✗⚠…⏎⟨⟩\ufffd]")
"""A character that may not be exactly one cell wide (keyscope's own symbols are)."""


_SEARCH_LIMIT = 1000
"""Characters of one free-text field that filtering looks at (a 10 MB name stays searchable
by its start without making every keystroke scan it)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """``text`` with lone surrogates replaced, so Arrow can store it as UTF-8."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _width(text: str) -> int:
    """Cells ``text`` takes: its length unless it holds wide or combining characters."""
    if text.isascii() or _NOT_ONE_CELL.search(text) is None:
        return len(text)
    return cell_len(text)


class KeyFrame:
    """Every key of an audit as one Arrow table; hands out filtered, sorted views."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._display = table.select([column.id for column in DISPLAY_COLUMNS])
        self._widths = _widths(table)
        self._sort: KeySort | None = None
        self._order: pa.Array | None = None
        """Row positions in the current sort order (``_index`` is the row position)."""

    @property
    def table(self) -> pa.Table:
        return self._table

    @property
    def total(self) -> int:
        return self._table.num_rows

    @classmethod
    def empty(cls) -> KeyFrame:
        """A frame with no keys (shown while the audit loads)."""
        return cls(_SCHEMA.empty_table())

    @classmethod
    def from_result(cls, result: AuditResult, areas: Mapping[str, str] | None = None) -> KeyFrame:
        """Prepare the rows of every key in ``result``.

        Args:
            result: The audit.
            areas: Scope name -> capability area (from the spec's catalog); scopes not
                in it count for no area.

        Returns:
            The frame; build it off the UI thread for large audits.
        """
        areas = areas or {}
        rows: list[tuple[object, ...]] = []
        append = rows.append
        # Keys share scope sets far more often than not: everything derived from the
        # scopes alone (chips, their width, areas) is computed once per distinct set.
        by_scopes: dict[tuple[object, ...], tuple[str, int, str, int]] = {}
        for index, audit in enumerate(result.keys):
            key = audit.key
            signature = (
                key.full_access,
                key.scopes,
                audit.granted_scopes,
                audit.used_scopes,
                audit.missing_scopes,
                audit.excess_scopes,
                audit.suggested_scopes,
                audit.confidence,
                audit.assigned_scopes,
            )
            derived = by_scopes.get(signature)
            if derived is None:
                chips = scope_chips(audit)
                key_areas = sorted({areas[s] for s in audit.granted_scopes if s in areas})
                derived = by_scopes[signature] = (
                    chips,
                    _width(chips),
                    "|" + "|".join(key_areas) + "|",
                    len(audit.granted_scopes) + (1000 if key.full_access else 0),
                )
            chips, chips_width, key_areas_text, scope_count = derived
            name = safe(key.name, 80) or "(unnamed)"
            masked = safe(mask_id(key.key_id), 24)
            severity = _NO_FINDING
            open_count = 0
            dormant = key.status == "active" and audit.requests == 0
            rules: set[str] = set()
            for finding in audit.findings:
                rules.add(finding.rule)
                if finding.suppressed:
                    continue
                open_count += 1
                severity = min(severity, severity_rank(finding.severity))
                dormant = dormant or finding.rule == "dormant-key"
            last_used = audit.last_seen
            last_used_text = when(last_used)
            search = " ".join(
                (
                    key.name[:_SEARCH_LIMIT],
                    key.key_id[:_SEARCH_LIMIT],
                    key.owner[:_SEARCH_LIMIT],
                    key.environment[:_SEARCH_LIMIT],
                    key.status,
                    chips,
                    audit.confidence,
                    " ".join(rules),
                    "full access legacy" if key.full_access else "",
                )
            ).lower()
            search = _encodable(search)
            append(
                (
                    name,
                    masked,
                    audit.risk_score,
                    chips,
                    open_count,
                    audit.confidence,
                    last_used_text,
                    key.status,
                    index,
                    _encodable(key.key_id),
                    name.casefold(),
                    scope_count,
                    _CONFIDENCE_RANK.get(audit.confidence, 9),
                    int(last_used.timestamp()) if last_used else -1,
                    search,
                    key.full_access,
                    dormant,
                    len(audit.excess_scopes),
                    severity,
                    key_areas_text,
                    _width(name),
                    _width(masked),
                    chips_width,
                    len(last_used_text),
                )
            )
        return cls(_to_table(rows))

    def view(self, key_filter: KeyFilter, key_sort: KeySort) -> KeyView:
        """The rows matching ``key_filter``, in ``key_sort`` order.

        The sort order (row positions) is computed only when the sort changes; a filter
        keystroke computes a mask over the frame and keeps the sorted positions it
        allows: a few Arrow kernels, no string copied.
        """
        if key_sort != self._sort or self._order is None:
            self._order = self._sort_order(key_sort)
            self._sort = key_sort
        order = self._order
        mask = _filter_mask(self._table, key_filter)
        if mask is not None:
            order = order.filter(pc.take(mask, order))
        return KeyView(source=self._display, indices=order, widths=self._widths, total=self.total)

    def _sort_order(self, key_sort: KeySort) -> pa.Array:
        column = next(c for c in DISPLAY_COLUMNS if c.id == key_sort.column)
        order = "descending" if key_sort.descending else "ascending"
        # The key id breaks ties so equal rows never swap between keystrokes.
        keys = [(column.sort_by, order)]
        if column.sort_by != "_id":
            keys.append(("_id", "ascending"))
        if self._table.num_rows == 0:
            return pa.array([], type=pa.uint64())
        return pc.sort_indices(self._table.select([name for name, _ in keys]), sort_keys=keys)


def _filter_mask(table: pa.Table, key_filter: KeyFilter) -> pa.ChunkedArray | None:
    conditions: list[pa.ChunkedArray] = []
    for word in key_filter.text.lower().split():
        conditions.append(pc.match_substring(table.column("_search"), pattern=word))
    if key_filter.legacy_only:
        conditions.append(table.column("_legacy"))
    if key_filter.dormant:
        conditions.append(table.column("_dormant"))
    if key_filter.has_excess:
        conditions.append(pc.greater(table.column("_excess"), 0))
    if key_filter.min_severity is not None:
        limit = severity_rank(key_filter.min_severity)
        conditions.append(pc.less_equal(table.column("_severity"), limit))
    if key_filter.area is not None:
        pattern = f"|{key_filter.area}|"
        conditions.append(pc.match_substring(table.column("_areas"), pattern=pattern))
    if not conditions:
        return None
    mask = conditions[0]
    for condition in conditions[1:]:
        mask = pc.and_(mask, condition)
    return mask


def _widths(table: pa.Table) -> tuple[int, ...]:
    widths: list[int] = []
    for column in DISPLAY_COLUMNS:
        # One more cell for the sort marker (▲/▼) the header shows after the label.
        label_width = _width(column.label) + 1
        if table.num_rows == 0:
            content = 0
        elif f"_w_{column.id}" in table.column_names:
            content = pc.max(table.column(f"_w_{column.id}")).as_py() or 0
        elif column.id in ("risk", "findings"):
            content = len(str(pc.max(table.column(column.id)).as_py() or 0))
        else:  # short ASCII vocabularies: status, confidence
            content = pc.max(pc.utf8_length(table.column(column.id))).as_py() or 0
        widths.append(
            min(
                max(content, label_width if column.id != "scopes" else 7),
                max(column.max_width, label_width if column.id != "scopes" else 0),
            )
        )
    return tuple(widths)


_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("key_id", pa.string()),
        ("risk", pa.int64()),
        ("scopes", pa.string()),
        ("findings", pa.int64()),
        ("confidence", pa.string()),
        ("last_used", pa.string()),
        ("status", pa.string()),
        ("_index", pa.int64()),
        ("_id", pa.string()),
        ("_name_sort", pa.string()),
        ("_scope_count", pa.int64()),
        ("_confidence_rank", pa.int8()),
        ("_last_used", pa.int64()),
        ("_search", pa.string()),
        ("_legacy", pa.bool_()),
        ("_dormant", pa.bool_()),
        ("_excess", pa.int32()),
        ("_severity", pa.int8()),
        ("_areas", pa.string()),
        ("_w_name", pa.int32()),
        ("_w_key_id", pa.int32()),
        ("_w_scopes", pa.int32()),
        ("_w_last_used", pa.int32()),
    ]
)


def _to_table(rows: Sequence[tuple[object, ...]]) -> pa.Table:
    """Rows (in ``_SCHEMA`` order) to an Arrow table, one column at a time."""
    if not rows:
        return _SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(column, type=f.type) for column, f in zip(columns, _SCHEMA, strict=True)],
        schema=_SCHEMA,
    )
