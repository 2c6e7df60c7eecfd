"""Pilot tests for bugs found by driving ``keyscope browse`` in a real terminal.

Each test failed before its fix: a screen opened twice (``DuplicateIds``, a crash), an
export that replaced a file unasked, a filter box that scrambled fast typing, a keys
list that kept the counts from before a triage, a help text that ignored ``[keymap]``,
and a triage dialog and what-if cut off at 80x24.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Markdown, Select, Static
from textual.worker import WorkerFailed

from keyscope.settings import Settings
from keyscope.tui.app import KeyscopeApp, make_app
from keyscope.tui.key_frame import KeyFilter, KeyFrame, KeySort
from keyscope.tui.messages import ReportExported
from keyscope.tui.screens.export import ExportDialog, ExportRequest
from keyscope.tui.screens.help import HelpScreen
from keyscope.tui.screens.key_detail import KeyDetailScreen
from keyscope.tui.screens.keys import KeysScreen
from keyscope.tui.screens.spec import SpecScreen
from keyscope.tui.screens.triage import TriageDialog
from keyscope.tui.widgets.key_table import KeyTable
from keyscope.tui.widgets.scope_grid import ScopeCell
from report._factory import synthetic_result

from .conftest import AS_OF, FakeRun, build_run
from .test_browse_app import TODAY, app_for, open_key, open_triage, settle


def stack_ids(app: KeyscopeApp) -> list[str | None]:
    return [screen.id for screen in app.screen_stack]


async def run_command(pilot: Pilot[Any], words: str) -> None:
    """ctrl+p, type ``words``, Enter: the first match runs."""
    await pilot.press("ctrl+p")
    await settle(pilot)
    assert isinstance(pilot.app.screen, CommandPalette)
    await pilot.press(*words)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


def type_without_pauses(app: KeyscopeApp, keys: list[str]) -> None:
    """Queue key presses the way a terminal delivers a paste or a fast typist.

    ``Pilot.press`` waits for the app to go idle after every key, so each keystroke is
    fully handled before the next; a terminal does not wait.  These events are all
    queued before the first is handled, as ``tmux send-keys -l`` delivers them.
    """
    driver = app._driver
    assert driver is not None
    for key in keys:
        if key == " ":
            event = events.Key("space", " ")
        elif len(key) == 1:
            event = events.Key(key, key)
        else:
            event = events.Key(key, None)
        event.set_sender(app)
        driver.send_message(event)


# ---------------------------------------------------------------- screens opened twice


async def test_show_spec_again_while_it_is_open(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        spec = app.screen
        assert isinstance(spec, SpecScreen)
        await pilot.press("S")
        await settle(pilot)
        await run_command(pilot, "spec scope catalog")
        assert app.screen is spec
        assert stack_ids(app).count("spec-screen") == 1
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, KeysScreen)
    assert app.return_code in (None, 0)


async def test_remapped_show_spec_pressed_twice(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path, keymap={"show-spec": "z"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("z", "z")
        await settle(pilot)
        assert isinstance(app.screen, SpecScreen)
        assert stack_ids(app).count("spec-screen") == 1
    assert app.return_code in (None, 0)


async def test_export_from_the_palette_while_the_dialog_is_open(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        await run_command(pilot, "export report")
        assert app.screen is dialog
        assert stack_ids(app).count("export-dialog") == 1
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert stack_ids(app).count("export-dialog") == 1
    assert app.return_code in (None, 0)


async def test_a_screen_lower_in_the_stack_is_brought_to_the_front(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        spec = app.screen
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        await run_command(pilot, "spec scope catalog")
        # The dialog above it is closed (cancelled), not a second spec pushed.
        assert app.screen is spec
        assert stack_ids(app) == ["_default", "keys-screen", "spec-screen"]
        await pilot.press("question_mark")
        await settle(pilot)
        app.action_help()
        await settle(pilot)
        assert stack_ids(app).count("help-screen") == 1
    assert app.return_code in (None, 0)


async def test_key_and_triage_screens_open_once(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(KeyTable)
        index = table.audit_index_at_cursor()
        assert index is not None
        # A double-click on the highlighted row selects it as well: two requests.
        table.post_message(KeyTable.KeySelected(index))
        table.post_message(KeyTable.KeySelected(index))
        await settle(pilot)
        assert stack_ids(app).count("key-detail") == 1
        await pilot.press("escape")
        await settle(pilot)
        await open_triage(pilot)
        detail = app.screen_stack[-2]
        assert isinstance(detail, KeyDetailScreen)
        detail.action_triage()
        await settle(pilot)
        assert isinstance(app.screen, TriageDialog)
        assert stack_ids(app).count("triage-dialog") == 1
    assert app.return_code in (None, 0)


# ---------------------------------------------------------------- export never overwrites unasked


async def test_export_asks_before_overwriting(fixture_run: FakeRun, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("keep me", encoding="utf-8")
    messages: list[Any] = []
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#export-format", Select).value = "json"
        await settle(pilot)
        path_box = dialog.query_one("#export-path", Input)
        path_box.value = "report.json"
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        # Asked, not written.
        assert app.screen is dialog
        assert target.read_text(encoding="utf-8") == "keep me"
        error = str(dialog.query_one("#export-error", Static).render())
        assert "report.json already exists" in error and "overwrite" in error
        assert str(dialog.query_one("#export-button", Button).label) == "Overwrite"
        # Another name and back: asked again.
        path_box.value = "report2.json"
        await settle(pilot)
        assert str(dialog.query_one("#export-button", Button).label) == "Export"
        path_box.value = "report.json"
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog
        assert target.read_text(encoding="utf-8") == "keep me"
        # The second Export with the same file confirms.
        await pilot.press("enter")
        await settle(pilot)
        [exported] = [m for m in messages if isinstance(m, ReportExported)]
        assert exported.path == target and exported.replaced
        assert '"schema_version"' in target.read_text(encoding="utf-8")
        assert any(n.message == f"Overwrote {target}" for n in app._notifications)


async def test_export_still_refuses_folders_and_symlinks(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    (tmp_path / "reports").mkdir()
    real = tmp_path / "real.html"
    real.write_text("real", encoding="utf-8")
    (tmp_path / "link.html").symlink_to(real)
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        for name, problem in (("reports", "is a folder"), ("link.html", "symbolic link")):
            dialog.query_one("#export-path", Input).value = name
            await settle(pilot)
            await pilot.press("enter", "enter")
            await settle(pilot)
            assert app.screen is dialog
            assert problem in str(dialog.query_one("#export-error", Static).render())
        assert real.read_text(encoding="utf-8") == "real"


async def test_export_worker_never_replaces_an_unconfirmed_file(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    target = tmp_path / "late.md"
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # The file appeared after the dialog looked: the request carries no consent.
        target.write_text("someone else's", encoding="utf-8")
        worker = app.export_report(ExportRequest("md", target))
        with pytest.raises(WorkerFailed):
            await worker.wait()
        await settle(pilot)
        assert target.read_text(encoding="utf-8") == "someone else's"
        notes = " ".join(n.message for n in app._notifications)
        assert "already exists" in notes


# ---------------------------------------------------------------- fast typing in the filter


def thousand_key_run() -> FakeRun:
    run = build_run()
    run.result = synthetic_result(1000)
    return run


async def test_fast_typing_in_the_filter_lands_as_typed(tmp_path: Path) -> None:
    run = thousand_key_run()
    app = make_app(Settings(as_of=AS_OF), lambda _settings: run, cwd=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        box = app.screen.query_one("#filter-text", Input)
        typed = "synthetic integration"
        type_without_pauses(app, [*typed, "X"])
        await settle(pilot)
        assert box.value == typed + "X"
        assert box.cursor_position == len(typed) + 1
        type_without_pauses(app, ["backspace"] * 13)
        await settle(pilot)
        assert box.value == "synthetic"
        assert box.cursor_position == len("synthetic")
        type_without_pauses(app, ["backspace"] * 9 + [*"integration 1"])
        await settle(pilot)
        assert box.value == "integration 1"
        assert box.cursor_position == len("integration 1")
        # The rows are the ones the final text selects.
        expected = KeyFrame.from_result(run.result).view(KeyFilter(text="integration 1"), KeySort())
        table = app.screen.query_one(KeyTable)
        assert table.view.row_count == expected.row_count > 0


async def test_clear_still_empties_the_filter_box(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"refund", "escape", "l", "c")
        await settle(pilot)
        assert app.screen.query_one("#filter-text", Input).value == ""
        assert app.screen.query_one(KeyTable).view.row_count == 12


# ---------------------------------------------------------------- triage refreshes the keys list


def findings_shown(app: KeyscopeApp, name: str) -> int:
    table = app.screen.query_one(KeyTable)
    names = table.view.column("name")
    return int(table.view.column("findings")[names.index(name)])  # type: ignore[call-overload]


async def test_triage_refreshes_the_keys_row_and_summary(
    fixture_run: FakeRun, tmp_path: Path
) -> None:
    calls: list[int] = []

    def loader(_settings: Settings) -> FakeRun:
        calls.append(1)
        return fixture_run

    app = make_app(
        Settings(as_of=AS_OF, suppressions=tmp_path / "s.yaml"),
        loader,
        today=lambda: TODAY,
        cwd=tmp_path,
    )
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        before = findings_shown(app, "Reconciliation tool")
        summary = str(app.screen.query_one("#summary", Static).render())
        assert "suppressed" not in summary
        dialog = await open_triage(pilot)
        dialog.query_one("#triage-reason", Input).value = "quarter-end job"
        dialog.query_one("#triage-owner", Input).value = "payments"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, KeysScreen)
        assert findings_shown(app, "Reconciliation tool") == before - 1
        summary = str(app.screen.query_one("#summary", Static).render())
        assert "(1 suppressed)" in summary
        # Reopened, the key still shows it suppressed; the audit was not run again.
        screen = await open_key(pilot, "reconciliation")
        states = [
            str(row[1]) for row in map(screen.query_one("#findings-table").get_row_at, (0, 1))
        ]
        assert "suppressed" in states
        assert len(calls) == 1


# ---------------------------------------------------------------- help from the bindings


async def test_help_follows_the_keymap_and_names_ids(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path, keymap={"facet-legacy": "L", "export-report": "ctrl+x"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one(Markdown).source
        assert "| `L` | Only legacy full-access keys | `facet-legacy` |" in text
        assert "| `^x` | Export the HTML, JSON, Markdown, CSV or SARIF report |" in text
        assert "`l`" not in text and "`^e`" not in text
        # Every id docs/browse.md lists is in the help.
        docs = (Path(__file__).parents[2] / "docs" / "browse.md").read_text(encoding="utf-8")
        ids_section = docs[docs.index("\nIds: ") :]
        for binding_id in re.findall(r"`([a-z-]+)`", ids_section):
            assert f"`{binding_id}` |" in text, binding_id
        # Where triage writes: no keyscope.toml here, so the working folder.
        assert f"`{tmp_path / 'keyscope-suppressions.yaml'}`" in text
        assert "./keyscope-suppressions.yaml" not in text
        await pilot.press("escape", "L")
        await settle(pilot)
        assert app.screen.query_one(KeyTable).view.row_count == 2


# ---------------------------------------------------------------- 80x24


async def test_triage_dialog_scrolls_at_80_by_24(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await open_triage(pilot)
        save = dialog.query_one("#triage-save-button", Button)
        save.focus()
        await settle(pilot)
        assert app.focused is save
        screen_region = dialog.region
        assert save.region.height > 0 and screen_region.contains_region(save.region)
        expires = dialog.query_one("#triage-expires", Input)
        expires.focus()
        await settle(pilot)
        assert expires.region.height > 0 and screen_region.contains_region(expires.region)


async def test_whatif_results_scroll_at_80_by_24(fixture_run: FakeRun, tmp_path: Path) -> None:
    app = app_for(fixture_run, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_key(pilot, "accountant")
        cell = next(c for c in screen.query(ScopeCell) if c.scope == "customers:read")
        cell.focus()
        await pilot.press("space")
        await settle(pilot)
        blocked = screen.query_one("#blocked-table", DataTable)
        assert blocked.display and blocked.row_count == 1
        blocked.focus()
        await settle(pilot)
        assert blocked.region.height > 0
        assert screen.region.contains_region(blocked.region)
        # The numbers' last row is reachable by scrolling too.
        scroll = screen.query_one("#whatif-scroll")
        assert scroll.focusable
