"""The keys screen: every key, a summary, a filter bar with facets, sortable columns."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, LoadingIndicator

from keyscope.tui.context import AuditContext
from keyscope.tui.display import safe
from keyscope.tui.key_frame import DISPLAY_COLUMNS, KeyFilter, KeyFrame, KeySort
from keyscope.tui.widgets.filter_bar import FilterBar
from keyscope.tui.widgets.key_table import KeyTable
from keyscope.tui.widgets.summary_bar import SummaryBar

__all__ = ["KeysScreen"]


class KeysScreen(Screen[None]):
    """Lists the keys of the audit; Enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash", "focus_filter", "Filter", tooltip="Type to filter the keys", id="focus-filter"
        ),
        Binding("escape", "leave_filter", "Back to table", show=False, id="leave-filter"),
        Binding(
            "l",
            "facet('legacy')",
            "Legacy",
            tooltip="Only legacy full-access keys",
            id="facet-legacy",
        ),
        Binding(
            "d", "facet('dormant')", "Dormant", tooltip="Only dormant keys", id="facet-dormant"
        ),
        Binding(
            "x",
            "facet('excess')",
            "Excess",
            tooltip="Only keys with excess scopes",
            id="facet-excess",
        ),
        Binding(
            "v",
            "facet('severity')",
            "Severity≥",
            tooltip="Step the minimum finding severity",
            id="facet-severity",
        ),
        Binding("a", "facet('area')", "Area", tooltip="Step the capability area", id="facet-area"),
        Binding(
            "c",
            "clear_filter",
            "Clear",
            tooltip="Clear the filter and facets",
            id="clear-filter",
            show=False,
        ),
        Binding("o", "cycle_sort", "Sort", tooltip="Sort by the next column", id="cycle-sort"),
        Binding(
            "O",
            "reverse_sort",
            "Reverse",
            tooltip="Reverse the sort order",
            id="reverse-sort",
            show=False,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(id="keys-screen")
        self.context: AuditContext | None = None
        self.frame = KeyFrame.empty()
        self.key_sort = KeySort()
        self._ticker: Timer | None = None
        self._phase = ""
        self._loading_since = time.monotonic()

    def compose(self) -> ComposeResult:
        yield SummaryBar(Content.styled("keyscope: starting…", "dim"), id="summary")
        yield FilterBar(id="filter-bar")
        # Beside the table, not over it: an overlay would take the table's focus, and
        # giving it back would repaint every visible row a second time.
        yield LoadingIndicator(id="keys-loading")
        yield KeyTable(id="key-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(KeyTable).focus()

    # ------------------------------------------------------------------ data down

    def show_loading(self, description: str) -> None:
        """Show that the audit is being read: a spinner and a ticking clock."""
        self.query_one("#keys-loading").display = True
        self._phase = f"Reading and auditing {safe(description, 200)}"
        self._loading_since = time.monotonic()
        self._tick()
        if self._ticker is None:
            self._ticker = self.set_interval(0.5, self._tick)

    def show_progress(self, phase: str, elapsed: float) -> None:
        self._phase = safe(phase, 100)
        self._tick()

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._loading_since
        self.query_one(SummaryBar).show_status(
            Content.styled(f"{self._phase}… {elapsed:.1f} s", "italic")
        )

    def show_failure(self, message: str) -> None:
        """Loading failed: say why where the summary goes, and stop the spinner."""
        self._stop_loading()
        self.query_one(SummaryBar).show_status(
            Content.assemble(
                ("Could not load the audit: ", "bold red"),
                safe(message, 300),
                ("   ctrl+r retries", "dim"),
            )
        )

    def show_audit(self, context: AuditContext, frame: KeyFrame, summary: Content) -> None:
        """Show a finished audit; ``frame`` and ``summary`` were prepared off the UI thread."""
        self.context = context
        self.frame = frame
        filter_bar = self.query_one(FilterBar)
        filter_bar.areas = tuple(row.area for row in context.grid)
        self.query_one(SummaryBar).show_status(summary)
        self._stop_loading()
        self._refresh_rows(filter_bar.key_filter)

    def _stop_loading(self) -> None:
        self.query_one("#keys-loading").display = False
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _refresh_rows(self, key_filter: KeyFilter) -> None:
        view = self.frame.view(key_filter, self.key_sort)
        empty = _no_match_message(key_filter) if view.total and not view.row_count else None
        self.query_one(KeyTable).show(view, self.key_sort, empty)
        self.query_one(FilterBar).show_counts(view.row_count, view.total)

    # ------------------------------------------------------------------ messages up

    @on(FilterBar.FilterChanged)
    def _filter_changed(self, event: FilterBar.FilterChanged) -> None:
        self._refresh_rows(event.key_filter)

    @on(KeyTable.SortRequested)
    def _sort_requested(self, event: KeyTable.SortRequested) -> None:
        if event.column == self.key_sort.column:
            self.key_sort = KeySort(event.column, not self.key_sort.descending)
        else:
            self.key_sort = KeySort(event.column, event.column in ("risk", "findings", "last_used"))
        self._refresh_rows(self.query_one(FilterBar).key_filter)

    @on(KeyTable.KeySelected)
    def _key_selected(self, event: KeyTable.KeySelected) -> None:
        if self.context is None or not self.is_active:
            # A double-click also selects the row: the second request arrives when the
            # key is already open, and must not open it again.
            return
        from keyscope.tui.screens.key_detail import KeyDetailScreen

        audit = self.context.result.keys[event.index]
        context = self.context
        self.app.open_screen(  # type: ignore[attr-defined]
            "key-detail", lambda: KeyDetailScreen(audit, context)
        )

    @on(Input.Submitted, "#filter-text")
    def _filter_submitted(self) -> None:
        self.query_one(KeyTable).focus()

    # ------------------------------------------------------------------ actions

    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(KeyTable).focus()

    def action_facet(self, facet: str) -> None:
        self.query_one(FilterBar).toggle(facet)

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).clear()

    def action_cycle_sort(self) -> None:
        ids = [column.id for column in DISPLAY_COLUMNS]
        following = ids[(ids.index(self.key_sort.column) + 1) % len(ids)]
        self._sort_requested(KeyTable.SortRequested(following))
        self.notify(f"Sorted by {following.replace('_', ' ')}", timeout=1.5)

    def action_reverse_sort(self) -> None:
        self._sort_requested(KeyTable.SortRequested(self.key_sort.column))

    def action_min_severity(self, severity: str) -> None:
        filter_bar = self.query_one(FilterBar)
        filter_bar.key_filter = filter_bar.key_filter.with_changes(min_severity=severity)


def _no_match_message(key_filter: KeyFilter) -> Text:
    """Why the table is empty: the typed text (literal, made safe) and any facets."""
    facets = key_filter.with_changes(text="").is_active
    text = key_filter.text.strip()
    if not text:
        reason = "No key matches the facets"
    else:
        reason = f"No key matches '{safe(text, 60)}'" + (" with the facets on" if facets else "")
    # Text, never markup: the reviewer may have typed "[bold]".
    return Text.assemble((reason, "italic"), ("   c clears the filter and facets", "dim"))
