"""Mixed-script key names (BAD-INPUTS #21) are found in linear time on whole names (#26).

Names are no longer cut at ingest, so the check runs over names of any length: it must
say exactly what the word-by-word reading says, and stay cheap on 10 MB.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyscope.analysis.audit import _has_mixed_scripts


def reference(text: str) -> bool:
    """The word-by-word reading: a run of letters holding more than one of Latin,
    Cyrillic and Greek (the straightforward version the linear one replaced)."""
    for word in "".join(ch if ch.isalpha() else " " for ch in text).split():
        scripts = set()
        for character in word:
            try:
                script = unicodedata.name(character).split(" ", 1)[0]
            except ValueError:
                continue
            if script in ("LATIN", "CYRILLIC", "GREEK"):
                scripts.add(script)
        if len(scripts) > 1:
            return True
    return False


# Latin (plain and accented), Cyrillic, Greek, letters of other scripts (Han, Arabic),
# digits of two kinds, a superscript, spaces, punctuation and an unnamed code point.
CHARACTERS = st.sampled_from(
    list("ao\u00e9\u0131\u043e\u0436\u03bf\u03a9\u4e2d\u0628 1\u0661\u00b2-_.\u0378")
)


@settings(max_examples=500, deadline=None)
@given(st.lists(CHARACTERS, max_size=30).map("".join))
@example("pr\u043ed")  # "prod" with a Cyrillic "o"
@example("pr\u043e d")  # the two scripts in different words: not mixed
@example("\u043e\u4e2d\u03bf")  # Cyrillic and Greek around a Han letter: one word, mixed
@example("a\u00b2\u043e")  # a superscript two is not a letter: two words
def test_the_linear_check_agrees_with_the_word_by_word_reading(text: str) -> None:
    assert _has_mixed_scripts(text) is reference(text)


@pytest.mark.timeout(120)  # a hang guard; the word-by-word reading took 4 s on each of these
@pytest.mark.parametrize(
    ("unit", "mixed"),
    [("\u00e9", False), ("\u0436 a ", False), ("\u0436 a \u043eo", True)],
)
def test_a_10mb_non_ascii_name_is_checked_whole(unit: str, mixed: bool) -> None:
    text = unit * ((10 << 20) // len(unit))
    assert _has_mixed_scripts(text) is mixed
    # The mix at the very end of 10 MB is found: nothing is cut before the check.
    assert _has_mixed_scripts(text + " pr\u043ed") is True
