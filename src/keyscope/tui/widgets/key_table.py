"""The keys table: Arrow-backed, so 100,000 keys paint in a fraction of a second.

Built on ``textual-fastdatatable`` (the table Harlequin uses): rows live in an Arrow
table and only the visible ones are ever turned into renderables.  Every cell is
rendered as a Rich ``Text``, never as markup, whatever the key's name says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual_fastdatatable import ArrowBackend
from textual_fastdatatable.column import Column
from textual_fastdatatable.data_table import DataTable

from keyscope.model import risk_band
from keyscope.tui.key_frame import (
    DISPLAY_COLUMNS,
    ColumnId,
    KeyFilter,
    KeyFrame,
    KeySort,
    KeyView,
)
from keyscope.tui.widgets.chips import chips_text

__all__ = ["SORT_MARKERS", "KeyTable", "fit_widths", "risk_style"]

_BAND_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "", "none": "dim"}

_CELL_PADDING = 2
"""Cells of padding around each column's content (one each side)."""
_MIN_WIDTHS: dict[ColumnId, int] = {"name": 14, "scopes": 20}
"""The columns that narrow to fit the terminal, and how far (content cells)."""
_NARROW_NAME = 18
"""The name's width when the terminal cannot show every column."""
SORT_MARKERS = {False: "▲", True: "▼"}
"""Ascending / descending marker shown in the sorted column's header."""


def fit_widths(natural: tuple[int, ...], available: int) -> tuple[int, ...]:
    """Column content widths for a table ``available`` cells wide.

    Every column fits when it can: the name and the scopes narrow (ellipsis, full text
    in the tooltip) before anything scrolls off.  When even that is too wide, the name,
    risk, scopes and findings fill the width and the rest is a scroll to the right.

    Args:
        natural: Each display column's content width (``KeyView.widths``).
        available: The table's width in cells (0 before the first layout).

    Returns:
        One content width per display column.
    """
    ids = [column.id for column in DISPLAY_COLUMNS]
    widths = list(natural)
    padding = _CELL_PADDING * len(widths)
    if available <= 0 or sum(widths) + padding <= available:
        return tuple(widths)
    name, scopes = ids.index("name"), ids.index("scopes")
    fixed = sum(w for i, w in enumerate(widths) if i not in (name, scopes)) + padding
    rest = available - fixed
    if rest >= _MIN_WIDTHS["name"] + _MIN_WIDTHS["scopes"]:
        widths[name] = min(natural[name], max(_MIN_WIDTHS["name"], rest * 2 // 5))
        widths[scopes] = min(natural[scopes], rest - widths[name])
        widths[name] = min(natural[name], rest - widths[scopes])
        return tuple(widths)
    risk, findings = ids.index("risk"), ids.index("findings")
    widths[name] = min(natural[name], _NARROW_NAME)
    in_view = widths[name] + widths[risk] + widths[findings] + 4 * _CELL_PADDING
    widths[scopes] = max(_MIN_WIDTHS["scopes"], available - in_view)
    return tuple(widths)


def risk_style(score: int) -> str:
    """The colour of a risk score, by the band every report uses (``model.risk_band``)."""
    return _BAND_STYLES.get(risk_band(score), "")


class _ViewBackend(ArrowBackend):
    """An Arrow backend that reads cells through a :class:`KeyView`'s positions.

    The stock backend holds its own copy of the rows and measures every value when
    the data changes; here the rows stay in the key frame, a filter only changes the
    list of positions, and the column widths come precomputed with the view.
    """

    def __init__(self, view: KeyView) -> None:
        super().__init__(view.source)
        self.render_markup = False
        self._view = view
        self._widths = list(view.widths)

    @property
    def row_count(self) -> int:
        return self._view.row_count

    @property
    def source_row_count(self) -> int:
        return self._view.row_count

    @property
    def column_content_widths(self) -> list[int]:
        return self._widths

    def get_cell_at(self, row_index: int, column_index: int) -> Any:
        return self._view.cell(row_index, column_index)

    def get_row_at(self, index: int) -> list[Any]:
        return [self._view.cell(index, column) for column in range(self.column_count)]

    def get_column_at(self, column_index: int) -> list[Any]:
        return self._view.column(self.columns[column_index])

    def sort(self, by: Any) -> None:
        raise NotImplementedError("KeyFrame.view sorts; the table only shows")


class KeyTable(DataTable):
    """Every key, one row each; posts :class:`KeyTable.KeySelected` on Enter or double-click."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "select_cursor", "Open key", tooltip="Open the key's detail", id="open-key"
        ),
    ]

    @dataclass
    class KeySelected(Message):
        """The reviewer opened a key."""

        index: int
        """Position of the key in ``AuditResult.keys``."""

    @dataclass
    class SortRequested(Message):
        """The reviewer clicked a column header."""

        column: ColumnId

    def __init__(self, *, id: str | None = None) -> None:
        view = KeyFrame.empty().view(KeyFilter(), KeySort())
        # Before the base class, which lays out the header (``ordered_columns``).
        self._view = view
        self.key_sort = KeySort()
        """The order the rows are in; its column's header carries a ▲/▼."""
        self.empty_message: Text | None = None
        """Shown where the rows would be when there are none (a filter matched nothing)."""
        self._fitted_for = Size(-1, -1)
        super().__init__(
            backend=_ViewBackend(view),
            column_labels=[Text(column.label) for column in DISPLAY_COLUMNS],
            cursor_type="row",
            render_markup=False,
            zebra_stripes=True,
            id=id,
        )
        self._paint_styles: dict[str, Style] | None = None

    @property
    def view(self) -> KeyView:
        return self._view

    def show(
        self,
        view: KeyView,
        key_sort: KeySort | None = None,
        empty_message: Text | None = None,
    ) -> None:
        """Replace the rows with ``view``; the cursor stays on the same key if it is still shown.

        Args:
            view: The rows to show.
            key_sort: The order ``view`` is in, marked in the header.
            empty_message: What to say when ``view`` has no rows (literal text).
        """
        highlighted = self.audit_index_at_cursor()
        self._view = view
        if key_sort is not None:
            self.key_sort = key_sort
        self.empty_message = empty_message
        self.backend = _ViewBackend(view)
        self._relayout()
        row = view.row_of(highlighted) if highlighted is not None else None
        if row is None:
            row = min(self.cursor_row, max(view.row_count - 1, 0))
        self.cursor_coordinate = Coordinate(row, 0)
        self.refresh()

    def _relayout(self) -> None:
        self._fitted_for = self.size
        self._ordered_columns = None
        self._clear_caches()
        self._update_count += 1
        self._require_update_dimensions = True
        # Recompute widths and the virtual size now, so the first paint is right.
        self._update_dimensions([])

    def on_resize(self) -> None:
        if self.size != self._fitted_for:
            self._relayout()
            self.refresh()

    @property
    def ordered_columns(self) -> list[Column]:
        if self._ordered_columns is None:
            columns = super().ordered_columns
            widths = fit_widths(self._view.widths, self._width_for_rows())
            for column, spec, width in zip(columns, DISPLAY_COLUMNS, widths, strict=True):
                column.label = _header_text(spec.label, self._sort_marker(spec.id))
                column.content_width = width
        return super().ordered_columns

    def _width_for_rows(self) -> int:
        """The width the rows get: less the vertical scrollbar when they will need one.

        Columns are fitted before the scrollbar appears (the rows arrive after the first
        layout), so its two cells are taken off here rather than from the last column.
        """
        if self._view.row_count + self.header_height > self.size.height:
            return self.size.width - self.styles.scrollbar_size_vertical
        return self.size.width

    def _sort_marker(self, column: ColumnId) -> str:
        return SORT_MARKERS[self.key_sort.descending] if column == self.key_sort.column else ""

    def audit_index_at_cursor(self) -> int | None:
        """Position in ``AuditResult.keys`` of the highlighted key, if any."""
        if self._view.row_count == 0:
            return None
        return self._view.audit_index(self.cursor_row)

    # ----------------------------------------------------------------- rendering

    def _get_cell_renderable(
        self, row_index: int, column_index: int, max_width: int | None = None
    ) -> Text:
        if row_index == -1:
            return self.ordered_columns[column_index].label
        value = self.backend.get_cell_at(row_index, column_index) if self.backend else None
        return _cell_text(DISPLAY_COLUMNS[column_index].id, value)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
        in_range: bool = False,
    ) -> list[list[Segment]]:
        """Render one data cell straight to segments.

        The stock path wraps every cell in ``Styled(Padding(...))`` and lets Rich lay it
        out, about half a millisecond a cell; a full repaint of the visible rows then
        costs more than the 100 ms a filter keystroke may take.  Every cell here is a
        single-line ``Text``, so cropping, padding and styling it directly gives the
        same segments (same styles, same mouse metadata) several times faster.
        """
        if row_index < 0 or column_index < 0:
            return super()._render_cell(
                row_index, column_index, base_style, width, cursor, hover, in_range
            )
        cache_key = (
            row_index,
            column_index,
            base_style,
            cursor,
            hover,
            in_range,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            row_index < self.fixed_rows or column_index < self.fixed_columns,
            hover,
            cursor,
            in_range,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_type == "range",
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        style = base_style + Style.from_meta({"row": row_index, "column": column_index})
        text = self._get_cell_renderable(row_index, column_index)
        inner = max(width - 2, 0)
        line = text.copy()
        line.end = ""
        if text.justify == "right" and line.cell_len < inner:
            line.pad_left(inner - line.cell_len)
        line.truncate(inner, overflow="ellipsis", pad=True)
        segments = [Segment(" "), *line.render(self.app.console), Segment(" ")]
        lines = [list(Segment.apply_style(segments, style + component_style, post_style))]
        self._cell_render_cache[cache_key] = lines
        return lines

    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles looked up from the DOM cost more than rendering a cell; during one
        # paint they cannot change, so each is looked up once per paint, not per line.
        self._paint_styles = {}
        try:
            return super().render_lines(crop)
        finally:
            self._paint_styles = None

    def _paint_style(self, name: str, lookup: Callable[[], Style]) -> Style:
        styles = self._paint_styles
        if styles is None:
            return lookup()
        style = styles.get(name)
        if style is None:
            style = styles[name] = lookup()
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        fixed_rows_height = self.fixed_rows + (self.header_height if self.show_header else 0)
        if y == fixed_rows_height and self._view.row_count == 0 and self.empty_message:
            line = self.empty_message.copy()
            line.truncate(max(self.size.width - 2, 0), overflow="ellipsis")
            base = self._paint_style("base", lambda: self.rich_style)
            segments = [Segment(" "), *line.render(self.app.console)]
            return Strip(Segment.apply_style(segments, base)).adjust_cell_length(
                self.size.width, base
            )
        if y >= fixed_rows_height:
            y += scroll_y
        base_style = self._paint_style("base", lambda: self.rich_style)
        return self._render_line(y, scroll_x, scroll_x + self.size.width, base_style)

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        if row_index == -1:
            component = "datatable--header"
        elif row_index < self.fixed_rows:
            component = "datatable--fixed"
        elif self.zebra_stripes:
            component = "datatable--odd-row" if row_index % 2 else "datatable--even-row"
        else:
            return base_style
        return self._paint_style(component, lambda: self.get_component_styles(component).rich_style)

    def _set_tooltip_from_cell_at(self, coordinate: Coordinate) -> None:
        # The stock tooltip renders strings as markup; a clipped cell shows in full here
        # as literal text instead.
        if coordinate.row < 0 or not self.is_valid_coordinate(coordinate) or not self.backend:
            self.tooltip = None
            return
        value = self.backend.get_cell_at(coordinate.row, coordinate.column)
        column = self.ordered_columns[coordinate.column]
        text = _cell_text(DISPLAY_COLUMNS[coordinate.column].id, value)
        self.tooltip = text if text.cell_len > column.render_width - 2 else None

    # ----------------------------------------------------------------- events

    @on(DataTable.RowSelected)
    def _open_row(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self._view.row_count:
            self.post_message(self.KeySelected(self._view.audit_index(event.cursor_row)))

    @on(DataTable.HeaderSelected)
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.post_message(self.SortRequested(DISPLAY_COLUMNS[event.column_index].id))

    def _on_click(self, event: events.Click) -> None:
        if event.chain >= 2 and self._view.row_count:
            self.post_message(self.KeySelected(self._view.audit_index(self.cursor_row)))


def _header_text(label: str, marker: str) -> Text:
    """A header label with the sort marker; the scopes legend stays after the marker."""
    head, space, legend = label.partition(" (")
    return Text(f"{head}{marker}{space}{legend}", no_wrap=True, overflow="ellipsis")


def _cell_text(column: ColumnId, value: object) -> Text:
    if value is None:
        return Text("")
    if column == "scopes":
        return chips_text(str(value))
    if column == "risk":
        score = int(value)  # type: ignore[call-overload]
        return Text(str(score), style=risk_style(score), justify="right")
    if column == "findings":
        return Text(str(value), style="bold" if value else "dim", justify="right")
    if column == "status":
        return Text(str(value), style="dim" if value == "revoked" else "")
    if column == "confidence":
        return Text(str(value), style="dim italic" if value == "insufficient" else "")
    return Text(str(value), no_wrap=True, overflow="ellipsis")
