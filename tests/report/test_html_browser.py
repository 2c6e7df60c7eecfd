"""The HTML report in a real browser (headless Chromium over the DevTools pipe).

No console error, no CSP violation, no dialog; hostile names show as text; sorting,
filtering, per-key details, in-page links and printing work.  Needs Chromium
(``/usr/bin/chromium``); deselect with ``-m "not browser"`` on a machine without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyscope.report.html import render_html

from ._chromium import Chromium
from ._factory import XSS_NAME, build_result, hostile

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium() as chromium:
        yield chromium


def open_report(browser: Chromium, folder: Path, document: str, name: str = "report.html") -> None:
    path = folder / name
    path.write_text(document, encoding="utf-8")
    browser.events.clear()
    browser.open(path.as_uri())


def set_control(browser: Chromium, element: str, value: str, event: str) -> None:
    """Set a filter control as a user would and fire its event."""
    browser.evaluate(
        f"(() => {{ const c = document.getElementById({json.dumps(element)});"
        f" c.value = {json.dumps(value)};"
        f" c.dispatchEvent(new Event({json.dumps(event)})); }})()"
    )


def no_problems(browser: Chromium) -> None:
    assert browser.problems() == []
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]


def test_hostile_report_runs_clean_and_shows_names_as_text(
    browser: Chromium, tmp_path: Path
) -> None:
    open_report(browser, tmp_path, render_html(hostile()))
    no_problems(browser)
    buttons = browser.evaluate(
        "Array.from(document.querySelectorAll('button.kx')).map(b => b.textContent)"
    )
    assert XSS_NAME in buttons
    assert (
        browser.evaluate("document.querySelectorAll('img, iframe, object, embed, form').length")
        == 0
    )
    assert browser.evaluate("document.title").startswith("keyscope audit: </script><img")
    # Open every key's detail: built by the script from the data blob, still inert.
    browser.evaluate("document.getElementById('expand').click()")
    no_problems(browser)
    assert browser.evaluate("document.querySelectorAll('.detail').length") == browser.evaluate(
        "document.querySelectorAll('#key-rows .r[id]').length"
    )
    assert (
        browser.evaluate("document.querySelectorAll('img, iframe, object, embed, form').length")
        == 0
    )
    assert (
        browser.evaluate(
            "Array.from(document.querySelectorAll('*'))"
            ".filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length"
        )
        == 0
    )
    text = browser.evaluate("document.body.innerText")
    assert "GET /v1/<img src=x onerror=alert(1)>" in text  # a denied path, shown as text
    assert "⟨U+202E⟩" in text


def test_filtering_and_sorting(browser: Chromium, tmp_path: Path) -> None:
    open_report(browser, tmp_path, render_html(build_result()))
    no_problems(browser)
    visible = (
        "Array.from(document.querySelectorAll('#key-rows .r[id]')).filter(r => !r.hidden)"
        ".map(r => r.querySelector('button.kx').textContent)"
    )
    assert browser.evaluate("document.getElementById('count').textContent") == "Showing 8 of 8 keys"
    set_control(browser, "q", "recon", "input")
    browser.evaluate("new Promise(r => setTimeout(r, 300))")
    assert browser.evaluate(visible) == ["key_recon"]
    set_control(browser, "q", "", "input")
    browser.evaluate("new Promise(r => setTimeout(r, 300))")
    set_control(browser, "f-band", "critical", "change")
    assert browser.evaluate(visible) == ["key_legacy_busy", "key_legacy_dormant", "key_legacy_new"]
    set_control(browser, "f-band", "", "change")
    set_control(browser, "f-flag", "denied", "change")
    assert browser.evaluate(visible) == ["key_probed"]
    set_control(browser, "f-flag", "", "change")
    # Sort by requests (most first), then by key id again.
    browser.evaluate("document.querySelector('[data-sort=req] button').click()")
    order = browser.evaluate(visible)
    assert order[0] == "key_recon" and order[-1] in ("key_legacy_dormant", "key_revoked")
    assert (
        browser.evaluate("document.querySelector('[data-sort=req]').getAttribute('aria-sort')")
        == "descending"
    )
    browser.evaluate("document.querySelector('[data-sort=id] button').click()")
    assert browser.evaluate(visible) == sorted(order)
    no_problems(browser)


def test_detail_shows_picker_evidence_and_chart(browser: Chromium, tmp_path: Path) -> None:
    open_report(browser, tmp_path, render_html(build_result()))
    browser.evaluate("document.querySelector('#k5 button.kx').click()")  # key_recon
    detail = browser.evaluate("document.querySelector('#k5').nextElementSibling.innerText")
    assert "Tick for the replacement" in detail and "☐ drop" in detail
    assert "GET /payments" in detail and "9,000" in detail
    assert "payments:write" in detail and "POST /payments/{payment_id}/capture" in detail
    assert (
        browser.evaluate(
            "document.querySelector('#k5').nextElementSibling"
            ".querySelectorAll('svg.chart rect').length"
        )
        > 0
    )
    assert (
        browser.evaluate("document.querySelector('#k5 button.kx').getAttribute('aria-expanded')")
        == "true"
    )
    browser.evaluate("document.querySelector('#k5 button.kx').click()")
    assert browser.evaluate("document.querySelectorAll('.detail').length") == 0
    no_problems(browser)


def test_migration_link_opens_the_key(browser: Chromium, tmp_path: Path) -> None:
    open_report(browser, tmp_path, render_html(build_result()))
    browser.evaluate("document.querySelector('#migration a.kid').click()")
    assert browser.evaluate("location.hash") == "#k1"
    assert (
        browser.evaluate("document.querySelector('#k1 button.kx').getAttribute('aria-expanded')")
        == "true"
    )
    no_problems(browser)


def test_prints_with_details_and_to_pdf(browser: Chromium, tmp_path: Path) -> None:
    open_report(browser, tmp_path, render_html(build_result()))
    browser.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert browser.evaluate("document.querySelectorAll('.detail').length") == 8
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    assert (
        browser.evaluate("getComputedStyle(document.getElementById('controls')).display") == "none"
    )
    pdf = browser.call("Page.printToPDF", {"printBackground": True})["data"]
    import base64

    data = base64.b64decode(pdf)
    assert data.startswith(b"%PDF") and len(data) > 20_000
    browser.call("Emulation.setEmulatedMedia", {"media": ""})
    browser.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert browser.evaluate("document.querySelectorAll('.detail').length") == 0
    no_problems(browser)


def test_screenshot(browser: Chromium, tmp_path: Path) -> None:
    open_report(browser, tmp_path, render_html(build_result()))
    browser.evaluate("document.querySelector('#k1 button.kx').click()")
    shot = tmp_path / "report.png"
    browser.screenshot(shot, full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The HTML report of the bundled sample audit, and its JSON report's keys."""
    from keyscope.cli import main

    repo = Path(__file__).resolve().parents[2]
    folder = tmp_path_factory.mktemp("sample")
    report = folder / "sample.html"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        code = main(
            [
                "audit",
                "--spec",
                str(repo / "sample_specs" / "partner-api.yaml"),
                "--keys",
                str(repo / "sample_specs" / "keys.yaml"),
                "--usage",
                str(repo / "sample_specs" / "usage" / "requests.jsonl.gz"),
                "--as-of",
                "2026-11-01",
                "--html",
                str(report),
                "--format",
                "json",
                "--output",
                str(folder / "sample.json"),
            ]
        )
    assert code == 0
    return report, json.loads((folder / "sample.json").read_text())["keys"]


def test_real_sample_run_opens_clean(browser: Chromium, sample_run) -> None:
    report, keys = sample_run
    browser.events.clear()
    browser.open(report.as_uri())
    browser.evaluate("document.getElementById('expand').click()")
    no_problems(browser)
    assert browser.evaluate("document.querySelectorAll('.detail').length") == len(keys)


REPLACEMENT_PICKER = """(() => {
  const data = JSON.parse(document.getElementById("ks-data").textContent);
  const row = Array.from(document.querySelectorAll("#key-rows .r[id]"))
    .find(r => r.querySelector("button.kx").textContent === %s);
  const button = row.querySelector("button.kx");
  if (button.getAttribute("aria-expanded") !== "true") { button.click(); }
  const pickers = row.nextElementSibling.querySelectorAll("table.picker");
  const picker = pickers[pickers.length - 1];
  const cells = {};
  Array.from(picker.tBodies[0].rows).forEach((tr, i) => {
    [1, 2].forEach(column => {
      const scope = data.grid[i][column];
      if (scope >= 0) { cells[data.scopes[scope]] = tr.cells[column].textContent; }
    });
  });
  return {caption: picker.caption.textContent, cells: cells};
})()"""


def replacement_picker(browser: Chromium, key_id: str) -> tuple[str, dict[str, str]]:
    """Open a key's detail; its replacement picker's caption and ``{scope: cell text}``."""
    answer = browser.evaluate(REPLACEMENT_PICKER % json.dumps(key_id))
    return answer["caption"], answer["cells"]


def test_replacement_picker_ticks_the_suggested_scopes_not_implied_grants(
    browser: Chromium, sample_run
) -> None:
    """ "Invoicing sync" holds invoices, payouts and webhooks write and only read invoices:
    the picker ticks invoices:read alone; the reads its writes imply are not "kept"."""
    report, keys = sample_run
    browser.events.clear()
    browser.open(report.as_uri())
    [invoicing] = [key for key in keys if key["id"] == "key_l53gyj955ahj8j4n"]
    assert invoicing["suggested_scopes"] == ["invoices:read"]
    caption, cells = replacement_picker(browser, "key_l53gyj955ahj8j4n")
    assert caption == "Tick for the replacement"
    assert sorted(scope for scope, text in cells.items() if text.startswith("☑")) == [
        "invoices:read"
    ]
    assert cells["payouts:read"] == "☐" and cells["webhooks:read"] == "☐"
    assert cells["invoices:write"] == "☐ drop" and cells["payouts:write"] == "☐ drop"
    # Every active key: the ticked boxes are its suggestion, and nothing else is "kept".
    for key in keys:
        if key["status"] != "active":
            continue
        _caption, cells = replacement_picker(browser, key["id"])
        ticked = sorted(scope for scope, text in cells.items() if text in ("☑", "☑ keep"))
        assert ticked == sorted(set(key["suggested_scopes"]) & set(cells)), key["id"]
        implied = {scope for scope, text in cells.items() if text == "☑ implied"}
        assert implied <= set(key["excess_scopes"]), key["id"]
    no_problems(browser)


def test_without_javascript_each_row_states_its_suggestion(browser: Chromium, sample_run) -> None:
    """Scripts off (a locked-down viewer, some print pipelines): no detail can be opened,
    yet each active key's row names its suggested scopes and strikes only excess ones."""
    report, keys = sample_run
    browser.call("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.events.clear()
        browser.open(report.as_uri())
        assert browser.evaluate("document.getElementById('controls').hidden") is True
        rows = browser.evaluate(
            "Object.fromEntries(Array.from(document.querySelectorAll('#key-rows .r[id]'))"
            ".map(r => [r.querySelector('button.kx').textContent, {"
            " line: (r.querySelector('.sc > p') || {}).textContent || null,"
            " struck: Array.from(r.querySelectorAll('.sc > s')).map(s => s.textContent)}]))"
        )
        browser.call("Emulation.setEmulatedMedia", {"media": "print"})
        printed = browser.evaluate(
            "Array.from(document.querySelectorAll('.sc > p'))"
            ".every(p => getComputedStyle(p).display !== 'none')"
        )
        browser.call("Emulation.setEmulatedMedia", {"media": ""})
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", {"value": False})
    assert printed
    assert rows["key_l53gyj955ahj8j4n"] == {
        "line": "Suggested: invoices:read",
        "struck": ["✗ invoices:write", "✗ payouts:write", "✗ webhooks:write"],
    }
    for key in keys:
        row = rows[key["id"]]
        assert {text.split(" ", 1)[1] for text in row["struck"]} <= set(key["excess_scopes"])
        if key["status"] != "active":
            assert row["line"] is None
            continue
        line = row["line"]
        if key["full_access"] and key["suggested_scopes"] == key["assigned_scopes"]:
            assert line.startswith(f"Suggested: all {len(key['assigned_scopes'])} scopes")
        else:
            suggested = ", ".join(key["suggested_scopes"]) or "none"
            assert line.startswith(f"Suggested: {suggested}"), key["id"]
