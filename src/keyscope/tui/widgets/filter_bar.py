"""The filter bar: free text plus quick facets, clickable and bound to keys."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Static

from keyscope.model import SEVERITIES
from keyscope.tui.display import safe
from keyscope.tui.key_frame import KeyFilter

__all__ = ["FacetChip", "FilterBar", "FilterInput"]


class FacetChip(Static):
    """One facet: ``☐ legacy only`` / ``☒ legacy only``; a click asks to change it."""

    DEFAULT_CSS = """
    FacetChip { width: auto; padding: 0 1; margin-right: 1; }
    FacetChip:hover { background: $boost; }
    FacetChip.-on { text-style: bold; background: $accent 30%; }
    """

    @dataclass
    class Clicked(Message):
        facet: str

    def __init__(self, facet: str, *, tooltip: str) -> None:
        super().__init__(id=f"facet-{facet}")
        self.facet = facet
        self.tooltip = tooltip

    def on_click(self) -> None:
        self.post_message(self.Clicked(self.facet))


class FilterInput(Input):
    """The filter box, whose own editing keys act in the order they were typed.

    Textual inserts a printable key as soon as the Input sees it, but runs a key
    binding (Backspace, Delete, arrows, Home, End, ctrl+w) only once the key event has
    bubbled up to the app; keys that arrive in one burst (a fast typist, a paste,
    ``tmux send-keys``) were then typed before an earlier Backspace took effect.  The
    Input is first in the binding chain anyway, so running its own bindings here
    changes only the order, to the typed one.
    """

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable:
            return  # Input's own handler inserts it
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                # Stopped, and no default: Input's handler and the app must not act again.
                event.stop()
                event.prevent_default()
                self._restart_blink()
                return


class FilterBar(Widget):
    """Free-text filter and facets; posts :class:`FilterBar.FilterChanged`."""

    DEFAULT_CSS = """
    FilterBar { height: auto; }
    FilterBar > Input { height: 1; margin: 0 1; }
    FilterBar > Horizontal { height: 1; }
    FilterBar #filter-count { width: 1fr; text-align: right; padding-right: 1; }
    """

    key_filter: reactive[KeyFilter] = reactive(KeyFilter, init=False)
    """The current filter; setting it refreshes the chips and posts FilterChanged.

    Its ``text`` follows the filter box, never the other way round: the Input owns
    what the reviewer typed (see :meth:`_text_changed`).
    """

    @dataclass
    class FilterChanged(Message):
        key_filter: KeyFilter

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.areas: tuple[str, ...] = ()
        """Capability areas to cycle through with the area facet."""

    def compose(self) -> ComposeResult:
        yield FilterInput(
            placeholder="/ filter keys: name, id, owner, scope, rule…   (Esc back to the table)",
            id="filter-text",
            compact=True,
        )
        with Horizontal():
            yield FacetChip("legacy", tooltip="Only legacy full-access keys (l)")
            yield FacetChip("dormant", tooltip="Only keys with no successful use in the window (d)")
            yield FacetChip("excess", tooltip="Only keys holding scopes they never needed (x)")
            yield FacetChip("severity", tooltip="Only keys with a finding at least this severe (v)")
            yield FacetChip("area", tooltip="Only keys granted a scope of this capability area (a)")
            yield Static(id="filter-count")

    def on_mount(self) -> None:
        self._paint_chips()

    def watch_key_filter(self, old: KeyFilter, key_filter: KeyFilter) -> None:
        if old.with_changes(text="") != key_filter.with_changes(text=""):
            # Only facets have chips; a keystroke in the filter box repaints none.
            self._paint_chips()
        # Never written back into the Input: while keys arrive faster than the
        # Changed messages are handled, the filter's text is older than the box's,
        # and writing it back lost characters and moved the cursor.
        self.post_message(self.FilterChanged(key_filter))

    def show_counts(self, shown: int, total: int) -> None:
        """Show how many keys the filter leaves."""
        self.query_one("#filter-count", Static).update(Content(f"{shown:,}/{total:,} keys"))

    # ------------------------------------------------------------ facet changes

    def toggle(self, facet: str) -> None:
        """Flip a yes/no facet, or step a cycling one (severity, area)."""
        current = self.key_filter
        if facet == "legacy":
            self.key_filter = current.with_changes(legacy_only=not current.legacy_only)
        elif facet == "dormant":
            self.key_filter = current.with_changes(dormant=not current.dormant)
        elif facet == "excess":
            self.key_filter = current.with_changes(has_excess=not current.has_excess)
        elif facet == "severity":
            self.key_filter = current.with_changes(
                min_severity=_next(SEVERITIES, current.min_severity)
            )
        elif facet == "area":
            self.key_filter = current.with_changes(area=_next(self.areas, current.area))

    def clear(self) -> None:
        """No text, no facets: the one change that empties the filter box."""
        text_input = self.query_one("#filter-text", Input)
        with text_input.prevent(Input.Changed):
            text_input.value = ""
        self.key_filter = KeyFilter()

    @on(FacetChip.Clicked)
    def _chip_clicked(self, event: FacetChip.Clicked) -> None:
        event.stop()
        self.toggle(event.facet)

    @on(Input.Changed, "#filter-text")
    def _text_changed(self, event: Input.Changed) -> None:
        event.stop()
        # The box's text now, not the event's: several Changed messages may be queued
        # behind fast typing, and the older ones must not filter by an older text (the
        # reactive skips the repeats, so a burst costs one refresh, not one per key).
        self.key_filter = self.key_filter.with_changes(text=event.input.value)

    def _paint_chips(self) -> None:
        current = self.key_filter
        labels = {
            "legacy": (current.legacy_only, "legacy"),
            "dormant": (current.dormant, "dormant"),
            "excess": (current.has_excess, "excess"),
        }
        for facet, (on_, label) in labels.items():
            chip = self.query_one(f"#facet-{facet}", FacetChip)
            chip.update(Content(f"{'☒' if on_ else '☐'} {label}"))
            chip.set_class(on_, "-on")
        severity = self.query_one("#facet-severity", FacetChip)
        severity.update(Content(f"sev ≥ {current.min_severity or 'any'}"))
        severity.set_class(current.min_severity is not None, "-on")
        area = self.query_one("#facet-area", FacetChip)
        area.update(Content(f"area: {safe(current.area, 30) if current.area else 'all'}"))
        area.set_class(current.area is not None, "-on")


def _next(values: tuple[str, ...], current: str | None) -> str | None:
    """The value after ``current`` in ``values``, then None (off), then the first again."""
    if current is None:
        return values[0] if values else None
    try:
        position = values.index(current)
    except ValueError:
        return None
    return values[position + 1] if position + 1 < len(values) else None
