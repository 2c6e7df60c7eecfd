"""The platform's scope picker as a grid: capability area by read and write.

Each cell shows whether the scope is ticked in the what-if (``[x]``, or ``[~]`` when a
ticked scope implies it), and letters for what the audit found: ``G`` granted, ``U``
used, ``S`` suggested, ``!`` missing (denied requests needed it).  Letters and boxes,
not colours, carry the meaning.  A click, Space or Enter toggles a cell; the arrow
keys move between cells.  The grid only displays: it posts
:class:`ScopeGrid.ScopeToggled` and the screen decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from keyscope.tui.context import GridRow
from keyscope.tui.display import safe

__all__ = ["GRID_LEGEND", "ScopeCell", "ScopeGrid", "ScopeMarks"]

GRID_LEGEND = "[x] ticked [~] implied  G granted U used S suggested !missing"


@dataclass(frozen=True, slots=True)
class ScopeMarks:
    """What the audit and the what-if say about every scope of one key."""

    granted: frozenset[str] = frozenset()
    used: frozenset[str] = frozenset()
    suggested: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()
    chosen: frozenset[str] = frozenset()
    """Ticked in the what-if."""
    effective: frozenset[str] = frozenset()
    """``chosen`` plus what it implies."""


def cell_content(scope: str, label: str, marks: ScopeMarks) -> Content:
    """The text of one cell: box, label, and the G/U/S/! letters (``·`` when absent)."""
    if scope in marks.chosen:
        box = ("[x]", "bold")
    elif scope in marks.effective:
        box = ("[~]", "italic")
    else:
        box = ("[ ]", "dim")
    letters: list[str | tuple[str, str]] = []
    for letter, held, style in (
        ("G", scope in marks.granted, "bold"),
        ("U", scope in marks.used, "bold green"),
        ("S", scope in marks.suggested, "bold cyan"),
        ("!", scope in marks.missing, "bold yellow"),
    ):
        letters += [" ", (letter, style) if held else ("·", "dim")]
    return Content.assemble(box, " ", (label.ljust(5), ""), *letters)


class ScopeCell(Static, can_focus=True):
    """One scope of the grid."""

    DEFAULT_CSS = """
    ScopeCell { width: 1fr; height: 1; padding: 0 1; }
    ScopeCell:focus { background: $accent 40%; text-style: bold; }
    ScopeCell:hover { background: $boost; }
    ScopeCell.-changed { border-left: outer $warning; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space,enter",
            "toggle",
            "Toggle",
            tooltip="Tick or untick this scope",
            id="toggle-scope",
        ),
    ]

    def __init__(self, scope: str, label: str, *, position: tuple[int, int]) -> None:
        super().__init__(classes="scope-cell")
        self.scope = scope
        self.label = label
        self.position = position
        self.tooltip = Content(safe(scope, 60))

    def show_marks(self, marks: ScopeMarks) -> None:
        self.update(cell_content(self.scope, self.label, marks))
        changed = (self.scope in marks.chosen) != (self.scope in marks.granted)
        self.set_class(changed, "-changed")

    def on_click(self) -> None:
        self.focus()
        self.action_toggle()

    def action_toggle(self) -> None:
        self.post_message(ScopeGrid.ScopeToggled(self.scope))


class ScopeGrid(Widget):
    """Area x read/write cells for one key; set :attr:`marks` to repaint."""

    DEFAULT_CSS = """
    ScopeGrid { height: auto; }
    ScopeGrid > Grid { grid-size: 3; grid-columns: 12 1fr 1fr; grid-rows: 1; height: auto; }
    ScopeGrid .grid-head { text-style: bold underline; height: 1; padding: 0 1; }
    ScopeGrid .grid-area { height: 1; padding: 0 1; }
    ScopeGrid .grid-none { height: 1; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1, 0)", show=False),
        Binding("down", "move(1, 0)", show=False),
        Binding("left", "move(0, -1)", show=False),
        Binding("right", "move(0, 1)", show=False),
    ]

    @dataclass
    class ScopeToggled(Message):
        """The reviewer ticked or unticked ``scope``."""

        scope: str

    def __init__(
        self, rows: tuple[GridRow, ...], others: tuple[str, ...], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.rows = rows
        self.others = others
        self._marks = ScopeMarks()

    def compose(self) -> ComposeResult:
        with Grid():
            yield Static(Content("area"), classes="grid-head")
            yield Static(Content("read"), classes="grid-head")
            yield Static(Content("write"), classes="grid-head")
            for row_index, row in enumerate(self.rows):
                yield Static(Content(safe(row.area, 11)), classes="grid-area")
                for column_index, (scope, label) in enumerate(
                    ((row.read, "read"), (row.write, "write"))
                ):
                    if scope is None:
                        yield Static(Content("—"), classes="grid-none")
                    else:
                        yield ScopeCell(scope, label, position=(row_index, column_index))
            for offset, scope in enumerate(self.others):
                row_index = len(self.rows) + offset // 2
                if offset % 2 == 0:
                    yield Static(Content("other" if offset == 0 else ""), classes="grid-area")
                yield ScopeCell(scope, safe(scope, 14), position=(row_index, offset % 2))
            if len(self.others) % 2:
                yield Static(Content(""), classes="grid-none")

    @property
    def marks(self) -> ScopeMarks:
        return self._marks

    @marks.setter
    def marks(self, marks: ScopeMarks) -> None:
        self._marks = marks
        for cell in self.query(ScopeCell):
            cell.show_marks(marks)

    def on_mount(self) -> None:
        self.marks = self._marks

    def action_move(self, rows: int, columns: int) -> None:
        cells = list(self.query(ScopeCell))
        focused = self.screen.focused
        if not cells:
            return
        if not isinstance(focused, ScopeCell):
            cells[0].focus()
            return
        row, column = focused.position
        target = (row + rows, column + columns)
        by_position = {cell.position: cell for cell in cells}
        # Skip over empty cells (an area with no write scope) in the direction of travel.
        for _ in range(len(cells)):
            if target in by_position:
                by_position[target].focus()
                return
            target = (target[0] + rows, target[1] + columns)
            if (
                not (0 <= target[1] <= 1)
                or target[0] < 0
                or target[0] > max(p[0] for p in by_position)
            ):
                return
