"""AuditResult.replay_totals: the one sum of the replays that every summary shows."""

from __future__ import annotations

import json
from dataclasses import replace

from keyscope.model import Replay, ReplayTotals
from keyscope.report._view import summary
from keyscope.report.json_report import render_json
from keyscope.report.text import render_text

from ._factory import build_result, make_key, standard_keys


def _with_odd_keys() -> list:  # type: ignore[type-arg]
    """The standard keys, one failing replay, plus a revoked key and a HAR capture that
    carry replays (the audit gives them none; the totals must leave them out anyway)."""
    keys = [audit for audit in standard_keys() if audit.key.key_id != "key_legacy_busy"]
    keys.append(
        make_key(
            "key_legacy_busy",
            full_access=True,
            used={"checkout:write": 5000, "payments:read": 1200},
            replay_failing=(("POST /payouts", 7), ("POST /refunds", 2)),
        )
    )
    stray = Replay(requests=1_000_000, would_fail=999, unreplayable=5)
    revoked = make_key("key_zz_revoked", status="revoked", used={"payments:read": 3})
    keys.append(replace(revoked, replay=stray))
    capture = make_key("har:checkout", used={"checkout:write": 40})
    keys.append(replace(capture, capture=True, replay=stray))
    return keys


def test_totals_add_up_the_active_inventory_keys_only() -> None:
    result = build_result(_with_odd_keys())
    counted = [
        audit.replay
        for audit in result.keys
        if audit.key.status == "active" and not audit.capture and audit.replay is not None
    ]
    assert len(counted) < len([audit for audit in result.keys if audit.replay is not None])
    totals = result.replay_totals
    assert totals == ReplayTotals(
        keys=len(counted),
        requests=sum(replay.requests for replay in counted),
        would_fail=9,
        keys_with_failures=1,
        unreplayable=sum(replay.unreplayable for replay in counted),
    )
    assert totals.requests < 1_000_000  # the stray replays stayed out


def test_no_replay_gives_zero_totals() -> None:
    keys = [replace(audit, replay=None) for audit in standard_keys()]
    assert build_result(keys).replay_totals == ReplayTotals()


def test_json_text_and_html_show_the_same_totals() -> None:
    result = build_result(_with_odd_keys())
    totals = result.replay_totals
    assert json.loads(render_json(result))["summary"]["replay"] == {
        "keys": totals.keys,
        "requests": totals.requests,
        "would_fail": 9,
        "keys_with_failures": 1,
        "unreplayable": totals.unreplayable,
    }
    line = next(line for line in render_text(result).splitlines() if line.startswith("replay:"))
    assert f"{totals.requests:,} successful requests" in line
    assert "9 would have failed (on 1 keys)" in line
    view = summary(result)
    assert (view["replayed"], view["would_fail"], view["failing_keys"]) == (
        totals.requests,
        9,
        1,
    )
