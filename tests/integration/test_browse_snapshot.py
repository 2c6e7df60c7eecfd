"""``keyscope browse`` on a fetched snapshot and with ``--live`` (the sandbox on loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keyscope.cli import build_parser
from keyscope.commands.browse import build_app
from keyscope.tui.messages import AnalysisCompleted
from keyscope.tui.widgets.key_table import KeyTable

from .conftest import CANARY_API_KEY

AS_OF = "2026-11-01"


async def load(args: list[str]) -> tuple[Any, str]:
    app = build_app(build_parser().parse_args(["browse", *args]))
    messages: list[Any] = []
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        [done] = [m for m in messages if isinstance(m, AnalysisCompleted)]
        table = app.screen.query_one(KeyTable)
        assert table.row_count == len(done.run.result.keys) >= 21
        painted = "\n".join(table.render_line(y).text for y in range(table.size.height))
        return done.run, painted + app.export_screenshot()


async def test_browse_reads_a_snapshot(snapshot_copy: Path) -> None:
    run, screen = await load(["--snapshot", "snap", "--as-of", AS_OF])
    assert run.settings.snapshot == snapshot_copy.resolve()
    assert "⚠ FULL ACCESS" in screen


async def test_browse_live_fetches_in_the_worker(workdir: Path) -> None:
    run, screen = await load(["--live", "--as-of", AS_OF])
    assert run.settings.snapshot is not None  # the temporary snapshot it audited
    assert "⚠ FULL ACCESS" in screen
    assert CANARY_API_KEY not in screen and CANARY_API_KEY[-12:] not in screen
