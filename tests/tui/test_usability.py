"""Pilot tests for the usability round: empty-filter message, sort markers, tab keys,
column fitting and readable finding messages."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Markdown, TabbedContent

from keyscope.tui.key_frame import DISPLAY_COLUMNS
from keyscope.tui.screens.help import HelpScreen
from keyscope.tui.screens.key_detail import KeyDetailScreen
from keyscope.tui.screens.keys import KeysScreen
from keyscope.tui.widgets.key_table import KeyTable

from .conftest import FakeRun
from .test_browse_app import app_for, open_key, rendered_table_text, settle


def header_text(table: KeyTable) -> str:
    return table.render_line(0).text


async def test_a_filter_that_matches_nothing_says_so(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        await pilot.press("slash", *"[bold]zz")
        await settle(pilot)
        assert table.row_count == 0
        painted = rendered_table_text(table)
        # Literal, as typed: the brackets are text, not markup.
        assert "No key matches '[bold]zz'" in painted
        await pilot.press("backspace")
        await settle(pilot)
        painted = rendered_table_text(table)
        assert "No key matches '[bold]z'" in painted
        assert "'[bold]zz'" not in painted
        await pilot.press(*["backspace"] * 7)
        await settle(pilot)
        assert table.row_count == 12
        assert "No key matches" not in rendered_table_text(table)


async def test_facets_that_match_nothing_say_so(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        await pilot.press("l", "d")  # legacy and dormant: none in the fixture
        await settle(pilot)
        assert table.row_count == 0
        assert "No key matches the facets" in rendered_table_text(table)
        await pilot.press("c")
        await settle(pilot)
        assert "No key matches" not in rendered_table_text(table)


async def test_the_sorted_column_is_marked_in_the_header(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        table = screen.query_one(KeyTable)
        assert "Risk▼" in header_text(table)  # the default: riskiest first
        assert header_text(table).count("▲") + header_text(table).count("▼") == 1
        await pilot.press("O")
        await settle(pilot)
        assert "Risk▲" in header_text(table)
        await pilot.press("o")
        await settle(pilot)
        assert screen.key_sort.column == "scopes"
        assert "Scopes▲" in header_text(table) or "Scopes▼" in header_text(table)
        assert "Risk▲" not in header_text(table)
        await pilot.click(KeyTable, offset=(3, 0))  # the "Name" header
        await settle(pilot)
        assert "Name▲" in header_text(table)


async def test_every_tab_has_a_key_in_the_footer_and_help(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "payout bot")
        tabs = screen.query_one(TabbedContent)
        for key, tab in (("e", "evidence"), ("x", "excess"), ("d", "denied"), ("f", "findings")):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == tab
            assert app.focused is screen.query_one(f"#{tab}-table", DataTable)
        await pilot.press("w")
        await pilot.pause()
        assert tabs.active == "whatif"
        assert app.focused is screen.query_one("#whatif-scroll")
        footer = {b.id for _, b, enabled, _ in screen.active_bindings.values() if b.show}
        assert {"tab-whatif", "tab-evidence", "tab-excess", "tab-denied", "tab-findings"} <= footer
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one(Markdown).source
        for key, tab in (("e", "Evidence"), ("x", "Excess"), ("d", "Denied")):
            assert f"| `{key}` | Show the {tab} tab | `tab-{tab.lower()}` |" in text


async def test_all_columns_fit_at_120_and_the_key_ones_at_80(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    for width, must_show in ((120, [c.label.split(" (")[0] for c in DISPLAY_COLUMNS]), (80, None)):
        app = app_for(fixture_run, tmp_path)
        async with app.run_test(size=(width, 40 if width == 120 else 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one(KeyTable)
            total = sum(column.render_width for column in table.ordered_columns)
            header = header_text(table)
            if must_show is not None:
                assert total <= table.scrollable_content_region.width
                for label in must_show:
                    assert label in header, label
            else:
                for label in ("Name", "Risk", "Scopes", "Findings"):
                    assert label in header, label
                scopes = next(c for c in table.ordered_columns if str(c.label).startswith("Scopes"))
                assert scopes.render_width >= 30


async def test_finding_messages_wrap_in_the_pane(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "reconciliation")
        assert isinstance(screen, KeyDetailScreen)
        await pilot.press("f")
        await settle(pilot)
        table = screen.query_one("#findings-table", DataTable)
        # Nothing to scroll sideways for the message: its column ends inside the pane.
        columns = list(table.columns.values())
        message_end = sum(c.get_render_width(table) for c in columns[:3])
        assert message_end <= table.size.width
        painted = " ".join(
            " ".join(table.render_line(y).text.split()) for y in range(table.size.height)
        )
        for finding in screen.findings:
            words = finding.message.split()
            assert " ".join(words[:4]) in painted, finding.message
            assert words[-1] in painted


async def test_evidence_headers_fit_beside_the_grid(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "reconciliation")
        await pilot.press("e")
        await settle(pilot)
        table = screen.query_one("#evidence-table", DataTable)
        header = table.render_line(0).text
        for label in ("Scope / operation", "Requests", "Last seen"):
            assert label in header, header
        painted = "\n".join(table.render_line(y).text for y in range(4))
        assert "GET /reports/balance" in painted
        assert "2026-10-30 00:00" in painted  # the last-seen column is whole, not cut


async def test_findings_stay_in_view_beside_a_scrollbar(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(80, 14)) as pilot:  # too short for the 12 keys
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        assert table.show_vertical_scrollbar
        in_view = table.ordered_columns[:4]
        assert [str(c.label).split(" ")[0] for c in in_view][3] == "Findings"
        assert sum(c.render_width for c in in_view) <= table.scrollable_content_region.width
