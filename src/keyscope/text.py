"""Making untrusted text safe to show on a terminal.

Key names, paths and descriptions come from outside.  On a terminal, control
characters (C0 except tab and newline, DEL, C1) become U+FFFD so no escape sequence
reaches it, and bidirectional overrides and zero-width characters become visible
markers (``⟨U+202E⟩``) so a name cannot hide what it says (Trojan Source).
Rich/Textual markup is never parsed from such text: callers pass it as ``Text`` or
``Content``; :func:`terminal_safe` only handles the characters.
"""

from __future__ import annotations

import re

from keyscope.redaction import redact

_INVISIBLE = (
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

SUSPICIOUS = re.compile(f"[{_INVISIBLE}]")
"""Characters that make a key name suspicious (a finding, not only a display fix)."""


def terminal_safe(text: str, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """Return ``text`` with nothing a terminal would interpret.

    Args:
        text: Untrusted text.
        keep_newlines: Keep ``\\n`` (multi-line widgets); otherwise it shows as ``⏎``.
        limit: Truncate to this many characters with an ellipsis.
    """
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = _SURROGATE.sub("\ufffd", text)
    text = _INVISIBLE_RE.sub(lambda m: f"⟨U+{ord(m.group(0)):04X}⟩", text)
    if not keep_newlines:
        text = text.replace("\r\n", "⏎").replace("\n", "⏎")
    return _CONTROL.sub("\ufffd", text.replace("\r", "\ufffd"))


def one_line(text: str, limit: int = 200) -> str:
    """A log- and terminal-safe single line (CR/LF cannot forge new log lines)."""
    return terminal_safe(text, limit=limit)


def safe_line(text: str, limit: int = 2000) -> str:
    """Untrusted text (a file name, a message) for stderr: secrets masked, one safe line."""
    return one_line(redact(text), limit=limit)
