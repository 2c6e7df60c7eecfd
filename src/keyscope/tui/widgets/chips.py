"""Scope chips: a scope with a symbol for its state, readable without colour."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content

from keyscope.tui.key_frame import (
    CHIP_MISSING,
    CHIP_UNJUDGED,
    CHIP_UNUSED,
    CHIP_USED,
    FULL_ACCESS_LABEL,
)

__all__ = ["CHIP_LEGEND", "CHIP_STYLES", "FULL_ACCESS_STYLE", "chips_content", "chips_text"]

CHIP_STYLES = {
    CHIP_USED: "green",
    CHIP_UNUSED: "bold red",
    CHIP_MISSING: "bold yellow",
    CHIP_UNJUDGED: "dim",
}
FULL_ACCESS_STYLE = "bold white on red"

CHIP_LEGEND = (
    (CHIP_USED, "used in the window"),
    (CHIP_UNUSED, "granted, never needed (excess)"),
    (CHIP_MISSING, "missing: denied requests needed it"),
    (CHIP_UNJUDGED, "kept: too little data to judge"),
    (FULL_ACCESS_LABEL, "legacy key minted before scopes: can do everything"),
)


def chips_text(value: str) -> Text:
    """Style a chips string (from :func:`keyscope.tui.key_frame.scope_chips`) as Rich text.

    Only styles are added; the symbols already tell the states apart, and the text
    is never parsed as markup.
    """
    text = Text(no_wrap=True, overflow="ellipsis")
    rest = value
    if value.startswith(FULL_ACCESS_LABEL):
        text.append(FULL_ACCESS_LABEL, FULL_ACCESS_STYLE)
        rest = value[len(FULL_ACCESS_LABEL) :]
    for position, token in enumerate(rest.split(" ")):
        if position:
            text.append(" ")
        text.append(token, CHIP_STYLES.get(token[:1], ""))
    return text


def chips_content(value: str) -> Content:
    """The same as :func:`chips_text`, as Textual ``Content`` for Textual widgets."""
    return Content.from_rich_text(chips_text(value))
