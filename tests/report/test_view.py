"""Presentation helpers shared by the HTML and Markdown reports."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.model import risk_band
from keyscope.redaction import redact
from keyscope.report import _view
from keyscope.text import terminal_safe


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.sampled_from("abcxyz_:=&?/ -.sk_live_ghp_AKIA0123456789XYZ\u202e\x1b")),
        st.from_regex(r"(sk|rk|pk)_(live|test)_[A-Za-z0-9]{6,20}( tail)?", fullmatch=True),
    ),
    st.integers(min_value=1, max_value=300),
)
def test_clean_fast_path_equals_the_full_treatment(text: str, limit: int) -> None:
    slow = terminal_safe(redact(text[: limit * 4 + 256]), limit=limit)
    assert _view.clean(text, limit) == slow


def test_clean_masks_secrets_marks_invisibles_and_shortens() -> None:
    assert _view.clean("key sk_live_" + "Q" * 20 + " here") == "key sk_live_…QQQQ here"
    assert _view.clean("a\u202eb") == "a⟨U+202E⟩b"
    assert _view.clean("x" * 50, limit=10) == "x" * 9 + "…"
    assert _view.clean("") == ""


def test_day_ranges_join_consecutive_days() -> None:
    days = [
        date(2026, 9, 3),
        date(2026, 9, 1),
        date(2026, 9, 2),
        date(2026, 9, 7),
        date(2026, 9, 7),
    ]
    assert _view.day_ranges(days) == ["2026-09-01 to 2026-09-03", "2026-09-07"]
    assert _view.day_ranges([]) == []


def test_risk_bands() -> None:
    assert [risk_band(score) for score in (0, 1, 24, 25, 49, 50, 74, 75, 100)] == [
        "none",
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "critical",
        "critical",
    ]


def test_scope_parts_and_area_labels() -> None:
    assert _view.scope_parts("invoices:read") == ("invoices", "read")
    assert _view.scope_parts("read:org") is None and _view.scope_parts("admin") is None
    assert _view.area_label("checkout") == "Hosted Checkout"
    assert _view.area_label("api_keys") == "API keys"
    assert _view.area_label("bank_accounts") == "Bank accounts"
