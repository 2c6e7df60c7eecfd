"""The TUI on the real pipeline and the bundled sample (keyscope.toml at the repository root)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from keyscope.analysis.whatif import evaluate_scopes, observed_operations, starting_scopes
from keyscope.pipeline import run_audit
from keyscope.settings import load_settings
from keyscope.tui.app import make_app
from keyscope.tui.context import AuditContext
from keyscope.tui.messages import AnalysisCompleted
from keyscope.tui.screens.key_detail import KeyDetailScreen
from keyscope.tui.widgets.key_table import KeyTable

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "keyscope.toml"


@pytest.fixture(scope="module")
def sample_context() -> AuditContext:
    return AuditContext.from_run(run_audit(load_settings(config=CONFIG, env={}, cwd=REPO)))


def test_whatif_agrees_with_the_audit_on_every_sample_key(sample_context: AuditContext) -> None:
    context = sample_context
    assert len(context.result.keys) == 21
    for audit in context.result.keys:
        observed = observed_operations(audit)
        granted = evaluate_scopes(
            starting_scopes(audit),
            observed,
            context.operations,
            context.expand,
            context.blast_radius,
        )
        # Ticking what the key holds reproduces the audit's "before" exactly.
        assert granted.blast_radius == audit.before, audit.key.key_id
        assert granted.effective == audit.granted_scopes, audit.key.key_id
        if audit.confidence == "insufficient" or audit.key.status != "active":
            continue
        suggested = evaluate_scopes(
            audit.suggested_scopes,
            observed,
            context.operations,
            context.expand,
            context.blast_radius,
        )
        # The suggestion serves every observed request, and measures as the audit's "after".
        assert not suggested.breaks_usage, (audit.key.key_id, suggested.blocked)
        assert suggested.blast_radius == audit.after, audit.key.key_id


def test_dropping_a_suggested_scope_breaks_some_real_request(sample_context: AuditContext) -> None:
    """The suggestion is minimal, so the what-if must show a failure for each scope dropped."""
    context = sample_context
    checked = 0
    for audit in context.result.keys:
        if audit.confidence == "insufficient" or audit.key.status != "active":
            continue  # the suggestion keeps the grants: not minimal by design
        observed = observed_operations(audit)
        for scope in sorted(audit.suggested_scopes):
            chosen = audit.suggested_scopes - {scope}
            outcome = evaluate_scopes(
                chosen, observed, context.operations, context.expand, context.blast_radius
            )
            assert outcome.breaks_usage, (audit.key.key_id, scope)
            assert {b.operation for b in outcome.blocked} <= {u.operation for u in observed}
            assert outcome.blocked_requests + outcome.served_requests == sum(
                u.count for u in observed if u.operation in context.operations
            )
            checked += 1
    assert checked > 10


@contextlib.asynccontextmanager
async def _sample_app(tmp_path: Path) -> AsyncIterator[tuple[Any, Any, AnalysisCompleted]]:
    """The app on the repository's sample, its analysis done: (app, pilot, completion)."""
    settings = load_settings(config=CONFIG, env={}, cwd=REPO)
    messages: list[Any] = []
    app = make_app(settings, cwd=tmp_path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        [done] = [m for m in messages if isinstance(m, AnalysisCompleted)]
        yield app, pilot, done


async def test_app_loads_the_sample_through_the_pipeline(tmp_path: Path) -> None:
    async with _sample_app(tmp_path) as (app, pilot, done):
        assert len(done.run.result.keys) == 21
        table = app.screen.query_one(KeyTable)
        assert table.row_count == 21
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, KeyDetailScreen)
        assert screen.outcome is not None
        assert screen.outcome.blast_radius == screen.audit.before


async def test_detail_shows_the_audit_replay_of_a_sample_key(tmp_path: Path) -> None:
    """The replay line carries the audit's own numbers for the key (never recomputed)."""
    async with _sample_app(tmp_path) as (app, pilot, done):
        # The sample key whose requests partly could not be replayed: every number shows.
        audit = next(
            a for a in done.run.result.keys if a.replay is not None and a.replay.unreplayable
        )
        replay = audit.replay
        assert replay is not None
        await pilot.press("slash", *audit.key.key_id, "enter", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, KeyDetailScreen)
        assert screen.audit is audit
        line = str(screen.query_one("#replay-summary", Static).render())
        assert (
            f"Replay: {replay.requests:,} successful requests against the suggested scopes — "
            f"{replay.would_fail:,} would have failed, "
            f"{replay.unreplayable:,} could not be replayed"
        ) in line
        assert "Would fail" not in line
