"""Untrusted text never reaches a terminal as escape sequences or hidden direction changes."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from keyscope.text import SUSPICIOUS, one_line, terminal_safe

FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_escape_sequences_are_neutralized() -> None:
    for payload in [
        "\x1b[2J",
        "\x1b]0;pwned\x07",
        "\x1b]52;c;ZXZpbA==\x07",
        "\x1b[?1049h",
        "\x9b31m",
    ]:
        shown = terminal_safe(f"name {payload} end")
        assert not FORBIDDEN.search(shown)
        assert shown.startswith("name ")
        assert shown.endswith(" end")


def test_bidi_overrides_and_zero_width_become_visible() -> None:
    shown = terminal_safe("admin\u202etxt.exe\u200b")
    assert "⟨U+202E⟩" in shown
    assert "⟨U+200B⟩" in shown
    assert SUSPICIOUS.search("a\u2066b")
    assert not SUSPICIOUS.search("plain name")


def test_newlines_cannot_forge_log_lines() -> None:
    assert "\n" not in one_line("ok\nERROR fake line\r\nmore")
    assert terminal_safe("a\nb", keep_newlines=True) == "a\nb"


def test_truncation_and_lone_surrogates() -> None:
    assert terminal_safe("x" * 50, limit=10) == "x" * 9 + "…"
    shown = terminal_safe("bad \ud800 surrogate")
    shown.encode("utf-8")  # would raise on a lone surrogate


@given(st.text())
def test_any_text_is_safe_and_encodable(text: str) -> None:
    shown = terminal_safe(text)
    assert not FORBIDDEN.search(shown)
    shown.encode("utf-8")
