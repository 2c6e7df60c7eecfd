"""The Markdown summary: what to do, escaped so a key name cannot become markup."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from keyscope.analysis.triage import Baseline, apply_baseline
from keyscope.model import FINGERPRINT_VERSION
from keyscope.report import get_renderer
from keyscope.report.markdown import md_text, render_markdown

from ._factory import build_result, hostile, make_key, standard_keys


def test_summary_legacy_keys_and_riskiest(result) -> None:
    text = render_markdown(result)
    assert text.startswith("## API key audit: Partner API 2026\\-09\\-01\n")
    assert "| Legacy full-access keys to migrate | 3 |" in text
    assert (
        "| key\\_legacy\\_busy | Old checkout plugin | 6,200 | checkout\\:write, payments\\:read |"
        in text
    )
    assert (
        "unused in the window: expire it on 2026-12-01, re-check on 2026-11-30, then revoke"
        in text
    )
    assert "not enough data (insufficient)" in text
    riskiest = text.split("### Riskiest over-privileged keys")[1]
    assert riskiest.index("key\\_legacy\\_dormant") < riskiest.index("key\\_recon")
    assert "Incomplete data" not in text
    assert get_renderer("md") is render_markdown


def test_incomplete_and_baseline_sections() -> None:
    before = build_result()
    after = build_result(
        [*standard_keys(), make_key("key_new", scopes=("payouts:write",))],
        complete=False,
        incomplete_reasons=("5% of lines unreadable",),
    )
    text = render_markdown(
        apply_baseline(
            after,
            Baseline(
                "b", datetime(2026, 10, 1, tzinfo=UTC), 1, FINGERPRINT_VERSION, before.findings
            ),
        )
    )
    assert "> **Incomplete data.**" in text and "> - 5% of lines unreadable" in text
    new = text.split("### New since the baseline")[1].split("###")[0]
    assert "key\\_new" in new and "key\\_recon" not in new
    assert "| New since baseline |" in text


def test_escapes_markup_links_images_mentions_and_html() -> None:
    assert md_text("[click](https://evil.example)") == "\\[click\\]\\(https\\://evil\\.example\\)"
    assert md_text("![x](https://t.example/p.png)").startswith("\\!\\[x\\]")
    assert md_text("<img src=x onerror=alert(1)>") == "\\<img src\\=x onerror\\=alert\\(1\\)\\>"
    assert md_text("@security-team *urgent* _x_ `code` # h | c ~~s~~ &amp;") == (
        "\\@security\\-team \\*urgent\\* \\_x\\_ \\`code\\` \\# h \\| c \\~\\~s\\~\\~ \\&amp;"
    )
    assert md_text("two\nlines\r\n# heading") == "two⏎lines⏎\\# heading"


def test_hostile_report_has_no_live_markup() -> None:
    text = render_markdown(hostile())
    # Every markup character in a value is escaped: no bare [, < or ` outside our own syntax.
    for line in text.splitlines():
        body = re.sub(r"\\.", "", line)  # drop escaped characters
        assert "<" not in body and "[" not in body and "`" not in body, line[:80]
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert all(len(line) < 4000 for line in text.splitlines())


def test_deterministic(result) -> None:
    assert render_markdown(result) == render_markdown(build_result())


def test_golden_markdown(result, snapshot_md) -> None:
    assert render_markdown(result) == snapshot_md
