"""Pilot tests: the real app, driven by keys and clicks, asserting on messages and widgets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from keyscope.errors import SpecError
from keyscope.model import OperationUse, Replay
from keyscope.settings import Settings
from keyscope.sources.suppressions import load_suppressions
from keyscope.tui.app import KeyscopeApp, make_app
from keyscope.tui.messages import AnalysisCompleted, AnalysisFailed, FindingTriaged, ReportExported
from keyscope.tui.screens.export import ExportDialog
from keyscope.tui.screens.help import HelpScreen
from keyscope.tui.screens.key_detail import KeyDetailScreen
from keyscope.tui.screens.keys import KeysScreen
from keyscope.tui.screens.spec import SpecScreen
from keyscope.tui.screens.triage import TriageDialog
from keyscope.tui.widgets.key_table import KeyTable
from keyscope.tui.widgets.scope_grid import ScopeCell

from .conftest import AS_OF, MARKUP_NAMES, FakeRun, build_run

TODAY = date(2026, 11, 2)


def app_for(run: FakeRun, tmp_path: Path, **settings: Any) -> KeyscopeApp:
    return make_app(
        Settings(as_of=AS_OF, **settings), lambda _settings: run, today=lambda: TODAY, cwd=tmp_path
    )


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and the screen catch up (no sleeping)."""
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):
        await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def names_shown(app: KeyscopeApp) -> list[str]:
    table = app.screen.query_one(KeyTable)
    return [str(value) for value in table.view.column("name")]


def rendered_table_text(table: KeyTable) -> str:
    """The table's painted lines, as a reviewer would read them."""
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


async def open_key(pilot: Pilot[Any], name_filter: str) -> KeyDetailScreen:
    await pilot.press("slash", *name_filter, "enter", "enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, KeyDetailScreen)
    return screen


# ---------------------------------------------------------------- loading


async def test_ui_first_then_analysis_completed(fixture_run: FakeRun, tmp_path: Path) -> None:
    messages: list[Any] = []
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await settle(pilot)
        [done] = [m for m in messages if isinstance(m, AnalysisCompleted)]
        assert done.run is fixture_run
        assert isinstance(app.screen, KeysScreen)
        table = app.screen.query_one(KeyTable)
        assert table.row_count == len(fixture_run.result.keys) == 12
        assert not app.screen.query_one("#keys-loading").display
        summary = str(app.screen.query_one("#summary", Static).render())
        assert "12 keys" in summary and "2 legacy full-access" in summary
        # Default order: riskiest first.
        risks = table.view.column("risk")
        assert risks == sorted(risks, reverse=True)


async def test_loading_error_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    def broken(_settings: Settings) -> Any:
        raise SpecError("partner-api.yaml", "duplicate key 'paths'", "12:3")

    messages: list[Any] = []
    app = make_app(Settings(), broken, cwd=tmp_path)
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await settle(pilot)
        [failed] = [m for m in messages if isinstance(m, AnalysisFailed)]
        assert failed.exit_code == 3
        assert "partner-api.yaml:12:3: duplicate key 'paths'" in failed.message
        notes = [n.message for n in app._notifications]
        assert any("partner-api.yaml:12:3" in note for note in notes)
        summary = str(app.screen.query_one("#summary", Static).render())
        assert "Could not load the audit" in summary
        assert app.is_running
        await pilot.press("slash", "x")  # the UI still answers
        assert app.screen.query_one("#filter-text", Input).value == "x"


async def test_unexpected_error_names_only_its_kind(tmp_path: Path) -> None:
    def buggy(_settings: Settings) -> Any:
        raise RuntimeError("sk_live_CANARYCANARY1234 in a place it should not be")

    app = make_app(Settings(), buggy, cwd=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        notes = " ".join(n.message for n in app._notifications)
        assert "internal error: RuntimeError" in notes
        assert "CANARY" not in notes


async def test_reload_runs_the_loader_again(fixture_run: FakeRun, tmp_path: Path) -> None:
    calls: list[int] = []

    def loader(_settings: Settings) -> FakeRun:
        calls.append(1)
        return fixture_run

    app = make_app(Settings(as_of=AS_OF), loader, cwd=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(calls) == 2


# ---------------------------------------------------------------- keys screen


async def test_filter_narrows_rows_per_keystroke(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"refund")
        await pilot.pause()
        # Matches names and scopes: two keys hold a refunds scope without the word in the name.
        assert sorted(names_shown(app)) == [
            "Reconciliation tool",
            "Refunds operator",
            "[bold]x[/bold]",
        ]
        count = str(app.screen.query_one("#filter-count", Static).render())
        assert count == f"{len(names_shown(app))}/12 keys"
        # Two words must both match.
        await pilot.press("space", *"operator")
        await pilot.pause()
        assert names_shown(app) == ["Refunds operator"]
        await pilot.press("escape", "c")
        await pilot.pause()
        assert len(names_shown(app)) == 12


async def test_facets_by_key_and_by_click(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert sorted(names_shown(app)) == ["Legacy billing", "Old dashboard"]
        chip = str(app.screen.query_one("#facet-legacy", Static).render())
        assert chip.startswith("☒")
        await pilot.press("l", "d")
        await pilot.pause()
        assert names_shown(app) == ["Webhook relay"]
        await pilot.press("d")
        await pilot.click("#facet-excess")
        await pilot.pause()
        excess = set(names_shown(app))
        assert "Reconciliation tool" in excess and "Accountant export" not in excess
        await pilot.press("x", "v")  # severity >= critical
        await pilot.pause()
        assert sorted(names_shown(app)) == ["Legacy billing", "Old dashboard"]
        await pilot.press("v")  # >= high: adds the probed payout bot
        await pilot.pause()
        assert "Payout bot" in names_shown(app)
        await pilot.press("c", "a")  # first area: invoices
        await pilot.pause()
        assert str(app.screen.query_one("#facet-area", Static).render()) == "area: invoices"
        shown = set(names_shown(app))
        assert {"Accountant export", "Legacy billing"} <= shown
        assert "Refunds operator" not in shown


async def test_sort_by_column_key_and_header_click(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        await pilot.click(KeyTable, offset=(3, 0))  # the "Name" header
        await pilot.pause()
        names = names_shown(app)
        assert names == sorted(names, key=str.casefold)
        await pilot.click(KeyTable, offset=(3, 0))  # again: descending
        await pilot.pause()
        assert names_shown(app) == sorted(names, key=str.casefold, reverse=True)
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        while screen.key_sort.column != "findings":
            await pilot.press("o")
        await pilot.pause()
        findings = table.view.column("findings")
        assert findings == sorted(findings, reverse=True)
        await pilot.press("O")
        await pilot.pause()
        assert table.view.column("findings") == sorted(findings)


async def test_untrusted_names_render_literally(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        painted = rendered_table_text(table)
        for name in MARKUP_NAMES[:3]:
            assert name[:25] in painted, name
        assert "[/b] prod [TODO] Q3 billing" in painted
        # Escapes never reach the terminal; the bidi override is shown, not obeyed.
        assert "\x1b" not in painted and "\u202e" not in painted
        assert "⟨U+202E⟩" in "".join(
            table._get_cell_renderable(row, 0).plain for row in range(table.row_count)
        )
        # A clipped cell shows in full, still literally, in its tooltip.
        from rich.text import Text
        from textual.coordinate import Coordinate

        row = next(r for r in range(table.row_count) if table.view.cell(r, 0) == MARKUP_NAMES[1])
        table._set_tooltip_from_cell_at(Coordinate(row, 0))
        assert isinstance(table.tooltip, Text) and table.tooltip.plain == MARKUP_NAMES[1]
        # No cell became a hyperlink.
        for y in range(table.size.height):
            for segment in table.render_line(y):
                assert not (segment.style and segment.style.link), segment


async def test_markup_name_in_detail_header_is_literal(tmp_path: Path) -> None:
    run = build_run()
    app = app_for(run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "evil.example")
        header = screen.query_one("#key-header", Static).render()
        assert MARKUP_NAMES[1] in str(header)


# ---------------------------------------------------------------- detail and what-if


async def test_detail_opens_for_the_highlighted_key(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        index = table.audit_index_at_cursor()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        assert app.screen.audit is fixture_run.result.keys[index]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, KeysScreen)


async def test_double_click_opens_a_key(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.double_click(KeyTable, offset=(3, 2))  # second data row
        await settle(pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        table_names = [a.key.name for a in fixture_run.result.keys]
        assert app.screen.audit.key.name in table_names


async def test_whatif_toggle_lists_requests_that_would_fail(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "accountant")
        assert screen.outcome is not None and not screen.outcome.breaks_usage
        cell = next(c for c in screen.query(ScopeCell) if c.scope == "customers:read")
        cell.focus()
        await pilot.press("space")
        await pilot.pause()
        blocked = {b.operation: b.count for b in screen.outcome.blocked}
        assert blocked == {"GET /customers": 420}
        rows = screen.query_one("#blocked-table", DataTable)
        assert rows.row_count == 1
        assert str(rows.get_row_at(0)[0]) == "GET /customers"
        summary = str(screen.query_one("#whatif-summary", Static).render())
        assert "420 requests to 1 operations would have failed" in summary
        # Risk falls: customers:read weighs 12 in the default table.
        assert screen.outcome.blast_radius.risk_score == screen.audit.before.risk_score - 12
        # Untick invoices:read with the mouse too: more requests break.
        await pilot.click("ScopeCell.scope-cell", offset=(2, 0))  # invoices read
        await pilot.pause()
        assert {b.operation for b in screen.outcome.blocked} == {
            "GET /customers",
            "GET /invoices",
            "GET /invoices/{id}",
        }
        assert screen.outcome.blocked[0].operation == "GET /invoices"  # busiest first
        await pilot.press("g")  # reset to granted
        await pilot.pause()
        assert not screen.outcome.breaks_usage
        assert screen.chosen == frozenset({"customers:read", "invoices:read"})


async def test_whatif_adopt_suggestion_on_a_legacy_key(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "legacy billing")
        before = screen.outcome
        assert before is not None and before.blast_radius == screen.audit.before
        await pilot.press("s")
        await pilot.pause()
        after = screen.outcome
        assert after is not None
        assert after.chosen == screen.audit.suggested_scopes
        assert not after.breaks_usage
        assert after.blast_radius == screen.audit.after
        assert after.blast_radius.risk_score < before.blast_radius.risk_score
        # Then dropping a needed scope from the suggestion breaks real traffic.
        cell = next(c for c in screen.query(ScopeCell) if c.scope == "invoices:write")
        cell.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert [b.operation for b in screen.outcome.blocked] == ["POST /invoices"]


async def test_arrow_keys_move_between_cells(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_key(pilot, "accountant")
        assert app.focused.scope == "invoices:read"  # type: ignore[union-attr]
        await pilot.press("down", "right")
        assert app.focused.scope == "payments:write"  # type: ignore[union-attr]
        await pilot.press("up", "left")
        assert app.focused.scope == "invoices:read"  # type: ignore[union-attr]


# ---------------------------------------------------------------- triage and export


async def open_triage(pilot: Pilot[Any]) -> TriageDialog:
    screen = await open_key(pilot, "reconciliation")
    await pilot.press("t")  # jumps to the findings tab
    await pilot.pause()
    table = screen.query_one("#findings-table", DataTable)
    assert table.row_count == 2
    await pilot.press("t")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, TriageDialog)
    return dialog


async def test_triage_writes_the_suppressions_file(fixture_run: FakeRun, tmp_path: Path) -> None:
    target = tmp_path / "audit" / "keyscope-suppressions.yaml"
    target.parent.mkdir()
    messages: list[Any] = []
    app = app_for(fixture_run, tmp_path, suppressions=target)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await settle(pilot)
        dialog = await open_triage(pilot)
        finding = dialog.finding
        await pilot.press(*"quarter-end job writes payments")
        await pilot.click("#triage-owner")
        await pilot.press(*"payments-platform")
        await pilot.press("ctrl+s")
        await settle(pilot)
        [written] = [m for m in messages if isinstance(m, FindingTriaged)]
        assert written.path == target
        entries = load_suppressions(target)
        assert len(entries) == 1
        entry = entries[0]
        assert (entry.rule, entry.key_id, entry.scope) == (
            finding.rule,
            finding.key_id,
            finding.subject,
        )
        assert entry.reason == "risk accepted: quarter-end job writes payments"
        assert entry.owner == "payments-platform"
        assert entry.expires == date(2027, 1, 31)  # today + 90 days
        screen = app.screen
        assert isinstance(screen, KeyDetailScreen)
        # [1]: the State column
        states = [
            str(screen.query_one("#findings-table", DataTable).get_row_at(r)[1]) for r in range(2)
        ]
        assert "suppressed" in states


async def test_triage_rejects_a_bad_expiry_and_writes_nothing(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dialog = await open_triage(pilot)
        dialog.query_one("#triage-reason", Input).value = "ok"
        dialog.query_one("#triage-owner", Input).value = "me"
        dialog.query_one("#triage-expires", Input).value = "2024-13-01"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog
        error = str(dialog.query_one("#triage-error", Static).render())
        assert "not a date" in error
        dialog.query_one("#triage-expires", Input).value = "2026-11-01"  # before today
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "after today" in str(dialog.query_one("#triage-error", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        assert not (tmp_path / "keyscope-suppressions.yaml").exists()


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        ("json", '"schema_version"'),
        ("html", "<html"),
        ("md", "# "),
        ("sarif", '"2.1.0"'),
        ("csv", "rule"),
    ],
)
async def test_export_writes_the_report(
    fixture_run: FakeRun, tmp_path: Path, fmt: str, marker: str
) -> None:
    messages: list[Any] = []
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#export-format", Select).value = fmt
        await pilot.pause()
        assert dialog.query_one("#export-path", Input).value == f"keyscope-report.{fmt}"
        dialog.query_one("#export-path", Input).value = f"out/report.{fmt}"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "does not exist" in str(dialog.query_one("#export-error", Static).render())
        (tmp_path / "out").mkdir()
        await pilot.press("ctrl+s")
        await settle(pilot)
        [exported] = [m for m in messages if isinstance(m, ReportExported)]
        assert exported.path == tmp_path / "out" / f"report.{fmt}"
        text = exported.path.read_text(encoding="utf-8")
        assert marker in text
        assert not list((tmp_path / "out").glob(".*.tmp"))


# ---------------------------------------------------------------- spec, help, palette


async def test_spec_screen_lists_catalog_and_anomalies(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SpecScreen)
        catalog = screen.query_one("#catalog-table", DataTable)
        assert catalog.row_count == len(fixture_run.spec.scopes) == 16
        details = str(screen.query_one("#scope-operations", Static).render())
        assert details.startswith("api_keys:read alone unlocks 2 operations")
        await pilot.press("down", "down")  # checkout:read
        await pilot.pause()
        assert "checkout:read alone unlocks" in str(
            screen.query_one("#scope-operations", Static).render()
        )
        anomalies = screen.query_one("#anomalies-table", DataTable)
        assert anomalies.row_count == 2
        assert str(anomalies.get_row_at(0)[3]) == "DELETE guarded by a read scope [sic]"
        assert str(anomalies.get_row_at(1)[3]) == "scope [TODO] never used"


async def test_help_and_command_palette(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"only legacy")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeysScreen)
        assert sorted(names_shown(app)) == ["Legacy billing", "Old dashboard"]


async def test_footer_bindings_have_ids_and_tooltips() -> None:
    from keyscope.tui.screens.key_detail import KeyDetailScreen as Detail

    for owner in (KeyscopeApp, KeysScreen, Detail, KeyTable):
        for binding in owner.BINDINGS:
            assert binding.id, (owner.__name__, binding.key)  # type: ignore[union-attr]
            if binding.show:  # type: ignore[union-attr]
                assert binding.description  # type: ignore[union-attr]


async def test_works_at_80_by_24(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        painted = rendered_table_text(table)
        # The legacy label is in view without scrolling sideways.
        assert "⚠ FULL ACCESS" in painted
        screen = await open_key(pilot, "payout")
        assert "narrow" in " ".join(screen.classes) or "-narrow" in app.screen.classes
        grid_cells = list(screen.query(ScopeCell))
        assert all(cell.region.width > 0 for cell in grid_cells[:4])


# ---------------------------------------------------------------- progress, failures, secrets


async def test_progress_is_shown_while_the_loader_runs(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    import threading

    release = threading.Event()

    def slow(_settings: Settings) -> FakeRun:
        release.wait(timeout=30)
        return fixture_run

    app = make_app(Settings(as_of=AS_OF), slow, cwd=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.8)
        assert app.screen.query_one("#keys-loading").display
        status = str(app.screen.query_one("#summary", Static).render())
        assert status.startswith("Reading and auditing") and status.endswith(" s")
        # The UI answers while the worker is busy.
        await pilot.press("slash", *"abc")
        assert app.screen.query_one("#filter-text", Input).value == "abc"
        release.set()
        await settle(pilot)
        assert not app.screen.query_one("#keys-loading").display
        assert "12 keys" in str(app.screen.query_one("#summary", Static).render())
        # The text typed meanwhile already filters the rows.
        assert names_shown(app) == []


async def test_triage_into_a_malformed_file_notifies_and_keeps_it(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    target = tmp_path / "keyscope-suppressions.yaml"
    original = "suppressions:\n  - rule: unused-scope\n    key: k\n    expires: 2024-13-01\n"
    target.write_text(original, encoding="utf-8")
    messages: list[Any] = []
    app = app_for(fixture_run, tmp_path, suppressions=target)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await settle(pilot)
        dialog = await open_triage(pilot)
        dialog.query_one("#triage-reason", Input).value = "ok"
        dialog.query_one("#triage-owner", Input).value = "me"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not [m for m in messages if isinstance(m, FindingTriaged)]
        notes = " ".join(n.message for n in app._notifications)
        assert str(target) in notes
        assert target.read_text(encoding="utf-8") == original
        assert isinstance(app.screen, KeyDetailScreen)


async def test_a_secret_in_a_key_name_is_never_shown(tmp_path: Path) -> None:
    canary = "sk_live_CANARYCANARY0123456789wxyz"
    run = build_run(names={"key_acct0001": f"export job {canary}"})
    app = app_for(run, tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        painted = rendered_table_text(app.screen.query_one(KeyTable))
        assert "export job sk_live_…wxyz" in painted
        await pilot.press("slash", *"export job", "enter", "enter")
        await settle(pilot)
        screen_text = app.export_screenshot()
        assert "CANARY" not in screen_text and "CANARY" not in painted
        assert "sk_live_…wxyz" in str(app.screen.query_one("#key-header", Static).render())


async def test_cursor_stays_on_the_same_key_while_filtering(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        await pilot.press("down", "down", "down", "down")  # Reconciliation tool (5th by risk)
        chosen = fixture_run.result.keys[table.audit_index_at_cursor()].key.name
        assert chosen == "Reconciliation tool"
        await pilot.press("x")  # has excess: the key stays, on another row
        await pilot.pause()
        assert fixture_run.result.keys[table.audit_index_at_cursor()].key.name == chosen
        assert table.cursor_row != 4


# ---------------------------------------------------------------- replay


HOSTILE_OPERATION = "GET /x/[b]y[/b]/[link=https://evil.example]z[/link]\x1b[2J\u202e"


def run_with_replay(key_id: str, replay: Replay | None) -> FakeRun:
    """The fixture audit with ``replay`` given to one key (as the audit would set it)."""
    run = build_run()
    keys = tuple(
        replace(audit, replay=replay) if audit.key.key_id == key_id else audit
        for audit in run.result.keys
    )
    run.result = replace(run.result, keys=keys)
    return run


async def test_replay_lists_the_operations_that_would_fail(tmp_path: Path) -> None:
    seen = AS_OF - timedelta(days=3)
    failing = tuple(
        OperationUse(name, count, seen, seen)
        for name, count in (
            ("DELETE /invoices/{id}", 2),
            (HOSTILE_OPERATION, 7),
            ("GET /customers", 420),
            ("GET /invoices", 1310),
            ("GET /invoices/{id}", 96),
            ("POST /invoices", 5),
        )
    )
    replay = Replay(requests=1826, would_fail=1840, failing_operations=failing, unreplayable=3)
    app = app_for(run_with_replay("key_acct0001", replay), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "accountant")
        line = screen.query_one("#replay-summary", Static)
        assert line.display
        text = str(line.render())
        assert (
            "Replay: 1,826 successful requests against the suggested scopes — "
            "1,840 would have failed, 3 could not be replayed"
        ) in text
        # The first five failing operations with their counts, then how many more.
        assert "DELETE /invoices/{id} (2), GET /x/" in text
        assert "GET /customers (420), GET /invoices (1,310), GET /invoices/{id} (96)" in text
        assert "POST /invoices" not in text and "… and 1 more" in text
        # The hostile path stays text: markup literal, escape and bidi override made visible.
        assert "GET /x/[b]y[/b]/[link=https://evil.example]z[/link]\ufffd[2J⟨U+202E⟩ (7)" in text
        assert "\x1b" not in text and "\u202e" not in text
        # As painted: the markup is on screen as text, nothing became a link or an escape.
        strips = [line.render_line(y) for y in range(line.size.height)]
        painted = "".join(strip.text for strip in strips)
        assert "[link=" in painted and "\x1b" not in painted and "\u202e" not in painted
        for strip in strips:
            for segment in strip:
                assert not (segment.style and segment.style.link), segment


async def test_summary_bar_shows_the_replay_totals(tmp_path: Path) -> None:
    replay = Replay(requests=1826, would_fail=1840, unreplayable=3)
    run = run_with_replay("key_acct0001", replay)
    totals = run.result.replay_totals
    assert totals.would_fail >= 1840 and totals.keys_with_failures >= 1
    app = app_for(run, tmp_path)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        summary = str(app.screen.query_one("#summary", Static).render())
        assert f"replay: {totals.would_fail:,} of {totals.requests:,} would fail" in summary


async def test_replay_line_for_a_key_with_nothing_to_replay_and_none(tmp_path: Path) -> None:
    app = app_for(run_with_replay("key_dormant06", Replay(requests=0, would_fail=0)), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "webhook relay")
        text = str(screen.query_one("#replay-summary", Static).render())
        assert text == "Replay: no successful request in the last 90 days to replay"
        await pilot.press("escape")
        await pilot.pause()
        # No replay (a revoked key, not judged): the reports say nothing, and so does the screen.
        screen = await open_key(pilot, "retired ci")
        assert screen.audit.replay is None
        assert not screen.query_one("#replay-summary", Static).display
