"""The replay in the HTML report: summary card, migration plans, per-key detail (in Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from keyscope.report.html import render_html
from keyscope.report.markdown import render_markdown

from ._factory import build_result, make_key, standard_keys

FAILING = "POST /payouts/</script><i id=pwn>x</i>"


def with_a_failing_replay() -> list:  # type: ignore[type-arg]
    keys = [audit for audit in standard_keys() if audit.key.key_id != "key_legacy_busy"]
    keys.append(
        make_key(
            "key_legacy_busy",
            name="Old checkout plugin",
            full_access=True,
            used={"checkout:write": 5000, "payments:read": 1200},
            replay_failing=((FAILING, 7),),
            source_line=30,
        )
    )
    return keys


def blob(document: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/json" id="ks-data">(.*?)</script>', document)
    assert match
    return json.loads(match.group(1))


def test_the_summary_card_and_the_migration_plan_carry_the_replay() -> None:
    document = render_html(build_result())
    card = document[document.index('id="replay"') :][:700]
    assert "0 <span" in card and "would have failed" in card
    assert "Replayed 17,560 successful requests of the last 90 days" in card
    assert "3 could not be replayed" in card
    migration = document[document.index('id="migration"') :]
    assert (
        "Replayed 6,200 requests of the last 90 days against the suggested scopes: "
        "0 would have failed." in migration
    )


def test_failing_operations_are_listed_escaped() -> None:
    document = render_html(build_result(with_a_failing_replay()))
    card = document[document.index('id="replay"') :][:700]
    assert "7 <span" in card and "1 keys would lose requests" in card
    migration = document[document.index('id="migration"') :]
    assert "7 would have failed" in migration
    assert "<code>POST /payouts/&lt;/script&gt;&lt;i id=pwn&gt;x&lt;/i&gt;</code>" in migration
    assert "<i id=pwn>" not in document
    data = blob(document)
    busy = data["keys"][
        [a.key.key_id for a in build_result(with_a_failing_replay()).keys].index("key_legacy_busy")
    ]
    requests, would_fail, unreplayable, failing = busy["rp"]
    assert (requests, would_fail, unreplayable) == (6200, 7, 0)
    assert [data["ops"][entry[0]] for entry in failing] == [FAILING]
    assert "POST /payouts" in render_markdown(build_result(with_a_failing_replay()))


def test_revoked_keys_have_no_replay_in_the_detail() -> None:
    result = build_result()
    data = blob(render_html(result))
    for audit, detail in zip(result.keys, data["keys"], strict=True):
        assert ("rp" in detail) == (audit.key.status == "active")
        if "rp" in detail and audit.replay is not None:
            # Compact when every request was replayed and none failed; else in full.
            clean = not (audit.replay.unreplayable or audit.replay.would_fail)
            assert (detail["rp"] == 1) == clean, audit.key.key_id
    probed = data["keys"][[a.key.key_id for a in result.keys].index("key_probed")]
    assert probed["rp"] == [60, 0, 3, []]  # 3 requests to an unmapped route


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_the_detail_shows_the_replay_in_a_browser(tmp_path: Path) -> None:
    from ._chromium import Chromium

    path = tmp_path / "report.html"
    path.write_text(render_html(build_result(with_a_failing_replay())), encoding="utf-8")
    with Chromium() as browser:
        browser.open(path.as_uri())
        index = browser.evaluate(
            "Array.from(document.querySelectorAll('button.kx'))"
            ".findIndex(b => b.textContent === 'key_legacy_busy')"
        )
        browser.evaluate(f"document.querySelector('#k{index} button.kx').click()")
        detail = browser.evaluate(
            f"document.querySelector('#k{index}').nextElementSibling.innerText"
        )
        assert "Replay against the suggested scopes" in detail
        assert (
            "Replayed 6,200 requests of the last 90 days against the suggested scopes: "
            "7 would have failed." in detail
        )
        assert FAILING in detail  # shown as text, never markup
        assert browser.evaluate("document.getElementById('pwn') === null")
        # The compact form (everything replayed, nothing failed) reads the same way.
        recon = browser.evaluate(
            "Array.from(document.querySelectorAll('button.kx'))"
            ".findIndex(b => b.textContent === 'key_recon')"
        )
        browser.evaluate(f"document.querySelector('#k{recon} button.kx').click()")
        detail = browser.evaluate(
            f"document.querySelector('#k{recon}').nextElementSibling.innerText"
        )
        assert (
            "Replayed 9,000 requests of the last 90 days against the suggested scopes: "
            "0 would have failed." in detail
        )
        assert browser.problems() == []
