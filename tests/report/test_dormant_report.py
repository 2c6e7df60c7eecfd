"""Dormant legacy keys in the reports carry the concrete time box ``keyscope plan`` proposes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from keyscope.remediation import DEFAULT_EXPIRE_AFTER_DAYS
from keyscope.report.html import render_html
from keyscope.report.markdown import render_markdown
from keyscope.report.text import render_text

from ._factory import build_result


def migration(document: str) -> str:
    return document[document.index('id="migration"') : document.index('id="anomalies"')]


def test_the_dates_follow_the_audit_date() -> None:
    assert DEFAULT_EXPIRE_AFTER_DAYS == 30
    result = build_result()
    html = migration(render_html(result))
    assert "set its expiry date to <strong>2026-12-01</strong>" in html
    assert "On 2026-11-30 re-run <code>keyscope audit</code>" in html

    later = replace(result, as_of=datetime(2027, 1, 15, tzinfo=UTC))
    html = migration(render_html(later))
    assert "<strong>2027-02-14</strong>" in html and "On 2027-02-13 re-run" in html
    assert "2026-12-01" not in html
    assert "expire it on 2027-02-14, re-check on 2027-02-13, then revoke" in render_markdown(later)
    text = render_text(later)
    assert (
        "needs:    nothing (no successful request in the window): expire it on 2027-02-14, "
        "re-check on 2027-02-13, then revoke" in text
    )
