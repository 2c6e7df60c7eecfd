"""Turning untrusted values into text a widget shows literally.

Every value that came from an input (key names, owners, paths, descriptions, scope
names, messages) reaches a widget through these helpers: secrets are masked, control
characters and bidirectional overrides are made visible (:func:`keyscope.text.terminal_safe`),
and the result is a :class:`~textual.content.Content` or :class:`~rich.text.Text`,
which no widget parses as markup.  A plain ``str`` handed to ``Static``, ``Label`` or a
``DataTable`` cell would be parsed as markup: ``[link=...]`` would become a live link,
``[/b]`` would crash the app and ``[TODO]`` would vanish.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.content import Content

from keyscope.redaction import redact
from keyscope.text import terminal_safe

__all__ = ["safe", "safe_content", "safe_text", "when"]

NAME_LIMIT = 80
"""Characters of a free-text value shown in a cell before an ellipsis."""


def safe(value: str | None, limit: int | None = NAME_LIMIT) -> str:
    """Untrusted text made safe to show: secrets masked, invisible characters visible.

    The result is still a ``str``: pass it on only as ``Content``/``Text``.

    Args:
        value: Any untrusted text (None shows as empty).
        limit: Truncate to this many characters with an ellipsis; None keeps it all.
    """
    if not value:
        return ""
    # Truncate before the regexes run: a 10 MB name must not cost seconds per frame.
    if limit is not None and len(value) > limit * 4:
        value = value[: limit * 4]
    value = redact(value)
    if value.isprintable():
        # No control, format (bidi, zero-width) or surrogate character: nothing for
        # terminal_safe to replace, so skip its regexes (the common case).
        return value if limit is None or len(value) <= limit else value[: max(limit - 1, 0)] + "…"
    return terminal_safe(value, limit=limit)


def safe_content(value: str | None, style: str = "", limit: int | None = NAME_LIMIT) -> Content:
    """Untrusted text as literal Textual ``Content`` (never parsed as markup)."""
    return Content.styled(safe(value, limit), style)


def safe_text(value: str | None, style: str = "", limit: int | None = NAME_LIMIT) -> Text:
    """Untrusted text as a literal Rich ``Text`` (for Rich renderables and table cells)."""
    return Text(safe(value, limit), style=style, no_wrap=True, overflow="ellipsis")


def when(moment: datetime | None, empty: str = "never") -> str:
    """A timestamp as a reviewer reads it: ``2026-10-31 14:02`` (UTC), or ``empty``."""
    if moment is None:
        return empty
    return moment.isoformat(" ", "minutes")[:16]
