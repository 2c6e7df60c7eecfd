"""The JSON writer: valid, ASCII, deterministic, round-trips every value."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.report.json_report import dumps

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_round_trips_and_is_ascii(document: object) -> None:
    text = dumps(document)
    assert text.isascii()
    assert text.endswith("\n")
    assert json.loads(text) == document
    assert dumps(json.loads(text)) == text


def test_layout_sorted_keys_two_spaces_inline_scalar_arrays() -> None:
    document = {"b": [1, "x", None, True], "a": {"nested": [{"k": []}]}, "c": {}}
    assert dumps(document) == (
        "{\n"
        '  "a": {\n'
        '    "nested": [\n'
        "      {\n"
        '        "k": []\n'
        "      }\n"
        "    ]\n"
        "  },\n"
        '  "b": [1, "x", null, true],\n'
        '  "c": {}\n'
        "}\n"
    )


def test_untrusted_text_is_escaped() -> None:
    name = "\u202e\x1b[2J</script>\ud800\u200b"
    text = dumps({"name": name})
    assert "\\u202e" in text and "\\u001b" in text and "\\ud800" in text
    assert json.loads(text)["name"] == name


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        dumps({"x": math.inf})
