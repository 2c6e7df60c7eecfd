"""Suspected repeats (BAD-INPUTS #39 without request ids) as every report shows them.

Ingestion finds them (``tests/unit/test_usage_bad_lines.py``); here the reporters only
render what :class:`~keyscope.model.SourceStats` says: one line when the count is not
zero, nothing otherwise, and the file names treated as untrusted text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from keyscope.model import AuditResult, SourceStats
from keyscope.report import _view
from keyscope.report.html import render_html
from keyscope.report.json_report import render_json
from keyscope.report.markdown import render_markdown
from keyscope.report.text import render_text

from ._factory import build_result

HOSTILE = "exports/<script>alert(1)</script>*b*\x1b[31m.jsonl"
SPAN = (datetime(2026, 9, 1, 10, 8, tzinfo=UTC), datetime(2026, 9, 1, 10, 11, tzinfo=UTC))


def _stats(count: int, files: tuple[str, ...], span=SPAN) -> SourceStats:
    return SourceStats(
        "exports/*.jsonl",
        "jsonl",
        120,
        0,
        120,
        suspected_duplicates=count,
        suspected_duplicate_files=files if count else (),
        suspected_duplicate_span=span if count else None,
    )


def _with_sources(*sources: SourceStats) -> AuditResult:
    result = build_result()
    return replace(result, data_quality=replace(result.data_quality, sources=sources))


def test_the_sentence_names_the_count_the_files_and_the_span() -> None:
    two = _view.repeats_sentence(_stats(4, ("a.jsonl", "b.jsonl")), str)
    assert two == (
        "4 requests look repeated: files a.jsonl and b.jsonl both cover 2026-09-01 10:08 UTC "
        "to 2026-09-01 10:11 UTC; no request id to tell repeats from real traffic "
        "(still counted as requests)."
    )
    same_minute = (SPAN[0], SPAN[0].replace(second=30))
    one = _view.repeats_sentence(_stats(1, ("a.jsonl", "b.jsonl"), same_minute), str)
    assert one.startswith("1 request looks repeated: files a.jsonl and b.jsonl both cover ")
    assert "cover 2026-09-01 10:08 UTC; no request id" in one
    many = _view.repeats_sentence(_stats(1_234, tuple(f"{n}.jsonl" for n in range(5))), str)
    assert many.startswith(
        "1,234 requests look repeated: files 0.jsonl, 1.jsonl, 2.jsonl and 2 more cover "
    )
    assert _view.repeats_sentence(_stats(0, ("a.jsonl", "b.jsonl")), str) == ""


def test_every_report_shows_the_line_only_when_there_are_suspects() -> None:
    quiet = _with_sources(_stats(0, ()))
    loud = _with_sources(_stats(7, ("exports/a.jsonl", "exports/b.jsonl")))
    for render in (render_text, render_markdown, render_html):
        assert "look repeated" not in render(quiet)
        assert "7 requests look repeated" in render(loud)
    assert "Suspected repeats" not in render_html(quiet)
    assert "Suspected repeats" in render_html(loud)
    [source] = json.loads(render_json(loud))["data_quality"]["sources"]
    assert source["suspected_duplicates"] == 7
    assert source["suspected_duplicate_files"] == ["exports/a.jsonl", "exports/b.jsonl"]
    assert source["suspected_duplicate_span"] == {
        "first": "2026-09-01T10:08:00Z",
        "last": "2026-09-01T10:11:00Z",
    }
    [quiet_source] = json.loads(render_json(quiet))["data_quality"]["sources"]
    assert quiet_source["suspected_duplicates"] == 0
    assert quiet_source["suspected_duplicate_files"] == []
    assert quiet_source["suspected_duplicate_span"] is None


def test_file_names_in_the_line_are_untrusted_text() -> None:
    result = _with_sources(_stats(3, (HOSTILE, "exports/b.jsonl")))
    html = render_html(result)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    text = render_text(result)
    assert "\x1b" not in text and "3 requests look repeated" in text
    markdown = render_markdown(result)
    assert "\x1b" not in markdown and "<script>" not in markdown and "\\*b\\*" in markdown
