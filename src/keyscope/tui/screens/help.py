"""The help screen: what the symbols mean and which keys do what.

The key tables are generated from the bindings themselves, with the ``[keymap]`` of
keyscope.toml applied the way Textual applies it, so a remapped key shows as remapped
and every row names the binding id that ``[keymap]`` takes.  A fixed text went stale
as soon as a reviewer remapped a key or a binding changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from keyscope.tui.display import safe

__all__ = ["HelpScreen", "help_markdown"]

_ARROWS = ("up", "down", "left", "right")
"""The scope grid's arrow keys (fixed: they have no binding id)."""

KeyDisplay = Callable[[Binding], str]
"""Binding -> the key as the footer shows it (``App.get_key_display``)."""

_DETAILS = {
    "focus-filter": "Filter: every word must appear in the name, id, owner, environment,"
    " a scope or a finding rule",
    "leave-filter": "From the filter box back to the table",
    "facet-severity": "Step the minimum severity of an open finding (critical → … → info → any)",
    "facet-area": "Step the capability area (keys granted a scope of that area)",
    "open-key": "Open the key (or double-click it)",
    "toggle-scope": "Tick or untick the scope under the cursor (or click it)",
    "adopt-suggestion": "Tick exactly the suggested scopes (the starting point for a"
    " replacement key)",
    "triage-finding": "Triage the highlighted finding: accept or suppress, with reason,"
    " owner and expiry",
    "export-report": "Export the HTML, JSON, Markdown, CSV or SARIF report",
    "export-write": "Export: write the report (asks first if the file exists)",
    "export-cancel": "Export: close without writing",
    "triage-save": "Triage: write the entry to the suppressions file",
    "triage-cancel": "Triage: close without writing",
    "close-help": "Close this help",
    "help": "This help",
}
"""Binding id -> a fuller text than the footer's tooltip, where one helps."""


def _code(text: str, limit: int = 60) -> str:
    """``text`` as a Markdown code span: shown literally, never as a link or emphasis."""
    text = safe(text, limit).replace("|", "\\|")  # a bare | would end the table cell
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _rows(
    bindings: Sequence[BindingType], keymap: Mapping[str, str], key_display: KeyDisplay
) -> list[str]:
    """One table row per binding: its keys after the keymap, what it does, its id."""
    remapped = BindingsMap(bindings)
    remapped.apply_keymap(dict(keymap))
    keys_of: dict[str, list[str]] = {}
    for bound in remapped.key_to_bindings.values():
        for binding in bound:
            if binding.id:
                keys_of.setdefault(binding.id, []).append(key_display(binding))
    rows: list[str] = []
    seen: set[str] = set()
    # Declaration order; a binding on two keys ("space,enter") is one row.
    for bound in BindingsMap(bindings).key_to_bindings.values():
        for binding in bound:
            if binding.id is None or binding.id in seen:
                continue  # no id: not remappable, listed by hand where it matters
            seen.add(binding.id)
            # A keymap clash can leave a binding without a key: say so.
            keys = keys_of.get(binding.id, [])
            shown = " ".join(_code(key) for key in keys) or "(no key)"
            does = _DETAILS.get(binding.id or "", binding.tooltip or binding.description)
            rows.append(f"| {shown} | {does} | {_code(binding.id)} |")
    return rows


def _table(rows: Iterable[str]) -> str:
    return "\n".join(["| Key | Does | Id |", "|---|---|---|", *rows])


def help_markdown(
    *,
    app_bindings: Sequence[BindingType],
    keymap: Mapping[str, str],
    key_display: KeyDisplay,
    command_palette_key: str,
    suppressions: Path,
) -> str:
    """The help text for the bindings in effect.

    Args:
        app_bindings: The app's own bindings (quit, help, spec, export, reload).
        keymap: Binding id -> keys, as applied to the app (``[keymap]``, normalised).
        key_display: How the footer shows a key.
        command_palette_key: The key that opens the command palette.
        suppressions: Where triage decisions are written.
    """
    from keyscope.tui.screens.export import ExportDialog
    from keyscope.tui.screens.key_detail import KeyDetailScreen
    from keyscope.tui.screens.keys import KeysScreen
    from keyscope.tui.screens.spec import SpecScreen
    from keyscope.tui.screens.triage import TriageDialog
    from keyscope.tui.widgets.key_table import KeyTable
    from keyscope.tui.widgets.scope_grid import ScopeCell

    def table(*owners: Sequence[BindingType], first: str = "") -> str:
        rows = [row for owner in owners for row in _rows(owner, keymap, key_display)]
        return _table([first, *rows] if first else rows)

    arrows = " ".join(_code(key_display(Binding(key, "move"))) for key in _ARROWS)
    arrows_row = f"| {arrows} | Move between the scopes | |"

    palette = key_display(Binding(command_palette_key, "command_palette"))
    palette_row = (
        f"| {_code(palette)} | Command palette (facets, severities, spec, export, reload) | |"
    )
    return f"""\
# keyscope browse

Which of our API keys can do more than they need?  The keys below are the ones in
effect; the id is the name `[keymap]` in keyscope.toml uses to remap a key.

## Keys screen
{table(KeysScreen.BINDINGS, KeyTable.BINDINGS)}

Scope chips: `✓` used in the window, `✗` granted but never needed (excess),
`!` missing (denied requests needed it), `?` kept: too little data to judge.
`⚠ FULL ACCESS` marks a legacy key minted before scopes existed.
A click on a column header sorts by it; a second click reverses.

## Key screen: the what-if
The grid is the platform's scope picker: capability area by read and write.
`[x]` ticked, `[~]` implied by a ticked scope, `G` granted, `U` used,
`S` suggested, `!` missing.

{table(KeyDetailScreen.BINDINGS, ScopeCell.BINDINGS, first=arrows_row)}

The What-if tab lists the requests the key really made in the window that the
ticked scopes would have refused, busiest first; risk and reach update at once.

## Spec screen
{table(SpecScreen.BINDINGS)}

## Dialogs
{table(ExportDialog.BINDINGS, TriageDialog.BINDINGS, HelpScreen.BINDINGS)}

## Everywhere
{table(app_bindings, first=palette_row)}

Triage decisions are written to the suppressions file the scheduled audit reads,
here {_code(str(suppressions), limit=300)}: `suppressions` in keyscope.toml, else
keyscope-suppressions.yaml beside keyscope.toml (or in the working folder without one).
"""


class HelpScreen(ModalScreen[None]):
    """Key bindings and the meaning of every symbol."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="close-help"),
    ]

    def __init__(self) -> None:
        super().__init__(id="help-screen")

    def compose(self) -> ComposeResult:
        app = self.app
        text = help_markdown(
            app_bindings=type(app).BINDINGS,
            # The keymap as Textual applied it (ids -> normalised keys); no public getter.
            keymap=getattr(app, "_keymap", {}),
            key_display=app.get_key_display,
            command_palette_key=app.COMMAND_PALETTE_BINDING,
            suppressions=getattr(app, "suppressions_path", Path("keyscope-suppressions.yaml")),
        )
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Markdown(text, id="help-text")
