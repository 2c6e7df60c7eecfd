"""The keys screen's data layer: rows, chips, filters, sorting (no app needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from keyscope.text import SUSPICIOUS
from keyscope.tui.display import safe, safe_content, safe_text
from keyscope.tui.key_frame import (
    DISPLAY_COLUMNS,
    FULL_ACCESS_LABEL,
    KeyFilter,
    KeyFrame,
    KeySort,
    scope_chips,
)
from keyscope.tui.widgets.chips import chips_text
from keyscope.tui.widgets.key_table import _cell_text

from .conftest import build_result, build_run


@pytest.fixture(scope="module")
def frame() -> KeyFrame:
    run = build_run()
    areas = {s.name: s.area for s in run.spec.scopes if s.area}
    return KeyFrame.from_result(run.result, areas)


EVERY_KEY = KeyFilter()
RISKIEST_FIRST = KeySort()


def names(
    frame: KeyFrame, key_filter: KeyFilter = EVERY_KEY, key_sort: KeySort = RISKIEST_FIRST
) -> list[str]:
    return [str(n) for n in frame.view(key_filter, key_sort).column("name")]


@pytest.mark.parametrize("column", [c.id for c in DISPLAY_COLUMNS])
@pytest.mark.parametrize("descending", [False, True])
def test_every_column_sorts_both_ways(frame: KeyFrame, column: str, descending: bool) -> None:
    view = frame.view(KeyFilter(), KeySort(column, descending))  # type: ignore[arg-type]
    assert view.row_count == 12
    sort_by = next(c.sort_by for c in DISPLAY_COLUMNS if c.id == column)
    keys = frame.table.column(sort_by).to_pylist()
    ids = frame.table.column("_id").to_pylist()
    shown = [keys[i] for i in view.indices.to_pylist()]
    assert shown == sorted(shown, reverse=descending)
    # Ties are broken by key id, ascending, whatever the direction.
    for a, b in zip(view.indices.to_pylist(), view.indices.to_pylist()[1:], strict=False):
        if keys[a] == keys[b]:
            assert ids[a] < ids[b]


def test_text_filter_is_case_insensitive_and_needs_every_word(frame: KeyFrame) -> None:
    assert names(frame, KeyFilter(text="LEGACY")) == ["Legacy billing", "Old dashboard"]
    assert names(frame, KeyFilter(text="refunds operator")) == ["Refunds operator"]
    assert names(frame, KeyFilter(text="no-such-thing")) == []
    # Ids, owners and finding rules are searchable too.
    assert names(frame, KeyFilter(text="key_payout0007")) == ["Payout bot"]
    assert names(frame, KeyFilter(text="finance")) == ["Accountant export"]
    assert names(frame, KeyFilter(text="dormant-key")) == ["Webhook relay"]


def test_facets_combine(frame: KeyFrame) -> None:
    assert names(frame, KeyFilter(legacy_only=True, min_severity="critical")) == [
        "Legacy billing",
        "Old dashboard",
    ]
    assert names(frame, KeyFilter(dormant=True)) == ["Webhook relay"]
    assert names(frame, KeyFilter(has_excess=True, area="payments"), KeySort("name", False)) == [
        "Legacy billing",
        "Old dashboard",
        "Reconciliation tool",
    ]
    assert names(frame, KeyFilter(min_severity="high")) == [
        "Legacy billing",
        "Old dashboard",
        "Payout bot",
    ]
    assert names(frame, KeyFilter(area="webhooks", legacy_only=False, dormant=True)) == [
        "Webhook relay"
    ]


def test_suppressed_findings_do_not_count() -> None:
    _spec, _graph, result = build_result()
    keys = []
    for audit in result.keys:
        if audit.key.name == "Payout bot":
            audit = replace(
                audit, findings=tuple(replace(f, suppressed=True) for f in audit.findings)
            )
        keys.append(audit)
    frame = KeyFrame.from_result(replace(result, keys=tuple(keys)))
    assert "Payout bot" not in names(frame, KeyFilter(min_severity="high"))
    view = frame.view(KeyFilter(text="payout bot"), KeySort())
    assert view.column("findings") == [0]


def test_chips_tell_states_apart_without_colour() -> None:
    _spec, _graph, result = build_result()
    by_name = {audit.key.name: audit for audit in result.keys}
    assert (
        scope_chips(by_name["Reconciliation tool"])
        == "✓payments:read ✗payments:write ✗refunds:read"
    )
    assert scope_chips(by_name["Payout bot"]) == "✓payouts:read !payouts:write"
    legacy = scope_chips(by_name["Old dashboard"])
    assert legacy.startswith(FULL_ACCESS_LABEL + " ✗15 unused")
    assert "✓customers:read" in legacy
    text = chips_text(legacy)
    assert text.plain == legacy
    assert any("on red" in str(span.style) for span in text.spans)


def test_widths_count_cells_not_characters() -> None:
    _spec, _graph, result = build_result(names={"key_acct0001": "請求書エクスポート"})
    frame = KeyFrame.from_result(result)
    name_width = frame.view(KeyFilter(), KeySort()).widths[0]
    assert name_width >= 18  # nine double-width characters


def test_rows_map_back_to_audits(frame: KeyFrame) -> None:
    run = build_run()
    view = frame.view(KeyFilter(text="payout"), KeySort())
    assert view.row_count == 1
    audit = run.result.keys[view.audit_index(0)]
    assert audit.key.name == "Payout bot"
    assert view.cell(0, 0) == "Payout bot"
    assert view.cell(0, [c.id for c in DISPLAY_COLUMNS].index("key_id")) == "key_…0007"


# ---------------------------------------------------------------- untrusted text

UNTRUSTED = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from(["[", "]", "/", "=", "\x1b", "\u202e", "\u2066", "\x9b", "\n", "\r", "\x00"]),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(UNTRUSTED)
def test_untrusted_text_is_shown_literally_and_safely(value: str) -> None:
    shown = safe(value, limit=None)
    # Nothing a terminal would interpret survives, and invisible characters are marked.
    assert not any(ch in shown for ch in "\x1b\x9b\x00\r\n")
    assert not SUSPICIOUS.search(shown)
    # Literal everywhere it is rendered: Content, Text and the table's cells.
    assert safe_content(value, limit=None).plain == shown
    assert safe_text(value, limit=None).plain == shown
    assert _cell_text("name", shown).plain == shown
    assert chips_text(shown).plain == shown


@pytest.mark.parametrize(
    "name",
    ["[bold]x[/bold]", "[link=https://evil.example]x[/link]", "[/b]", "[TODO]", "x[/]", "\\[b]"],
)
def test_markup_names_stay_literal(name: str) -> None:
    assert safe(name) == name
    assert _cell_text("name", name).plain == name
    assert isinstance(_cell_text("name", name), Text)
    assert all(
        not span.style or "link" not in str(span.style) for span in _cell_text("name", name).spans
    )


def test_huge_and_broken_names_do_not_break_the_frame() -> None:
    huge = "A" * 10_000_000
    _spec, _graph, result = build_result(
        names={"key_acct0001": huge, "key_recon0002": "\ud800 lone", "key_refund0003": ""}
    )
    frame = KeyFrame.from_result(result)
    shown = set(str(n) for n in frame.view(KeyFilter(), KeySort()).column("name"))
    assert "A" * 79 + "…" in shown
    assert "\ufffd lone" in shown
    assert "(unnamed)" in shown
