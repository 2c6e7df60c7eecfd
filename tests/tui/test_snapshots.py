"""SVG snapshots of the main screens (pytest-textual-snapshot, Textual pinned in pyproject).

Read the report before running ``pytest --snapshot-update``: a changed snapshot is a
changed screen.  The fixture audit is fixed, the date is injected, and the cursor
blink is frozen (``conftest.no_cursor_blink``), so the pictures are stable.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from keyscope.settings import Settings
from keyscope.tui.app import KeyscopeApp, make_app
from keyscope.tui.widgets.scope_grid import ScopeCell

from .conftest import AS_OF, build_run


def snapshot_app(tmp_path: Path) -> KeyscopeApp:
    run = build_run()
    return make_app(
        Settings(as_of=AS_OF), lambda _settings: run, today=lambda: date(2026, 11, 2), cwd=tmp_path
    )


async def loaded(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_accountant_and_untick_customers(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("slash", *"accountant", "enter", "enter")
    await loaded(pilot)
    cell = next(c for c in pilot.app.screen.query(ScopeCell) if c.scope == "customers:read")
    cell.focus()
    await pilot.press("space")
    await pilot.pause()


async def open_spec(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("S")
    await loaded(pilot)


def test_keys_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(120, 40), run_before=loaded)


def test_keys_screen_at_80_by_24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(80, 24), run_before=loaded)


def test_key_detail_with_whatif(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(
        snapshot_app(tmp_path),
        terminal_size=(120, 40),
        run_before=open_accountant_and_untick_customers,
    )


def test_spec_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(120, 40), run_before=open_spec)
