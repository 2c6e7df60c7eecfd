"""P6 (BAD-INPUTS #17-#26): the payload corpus in every free-text field, checked at every sink.

One hostile audit puts each payload of :data:`payloads.PAYLOADS` (HTML and script
breakers, ``javascript:``, template syntax, Rich markup, ANSI/OSC/C1 sequences, bidi
overrides, spreadsheet formulas, CR/LF, NUL, a lone surrogate, a megabyte) into a key's
id, name, owner, environment and granted scope, an unmatched log path, an unknown log
key id, the spec's title, version, descriptions and summaries, and a suppression's reason
and owner.  ``keyscope audit`` then writes every format, and each sink is checked with
the rule that fits it:

- terminal text (stdout, stderr): no byte in ``\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f``;
- JSON: ASCII only, valid, and the raw values kept (escaped by the serializer);
- HTML (stdlib ``html.parser``): no element or attribute the templates do not have, no
  ``on*`` handler, every ``href`` ``https:`` or ``#``, the CSP meta present, exactly the
  template's two scripts, the data blob still JSON;
- CSV: no text cell starts with a spreadsheet trigger; numeric columns are numbers;
- SARIF: valid against the OASIS 2.1.0 schema, untrusted text never in a markdown field;
- Markdown: no raw HTML, link or image syntax survives;
- TUI: each rendered name is exactly the sanitized input, and no ``MarkupError`` ever.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.report.csv_report import COLUMNS, NUMERIC_COLUMNS

from .conftest import (
    REPO,
    World,
    daily_lines,
    key_record,
    log_line,
    run_keyscope,
    spec_document,
)
from .payloads import CSV_TRIGGERS, PAYLOADS, TERMINAL_FORBIDDEN

SCHEMA = REPO / ".." / "shared" / "schemas" / "sarif-schema-2.1.0.json"
TEMPLATES = REPO / "reports" / "templates"
FORMATS = ("json", "html", "md", "csv", "sarif")


def hostile_key_id(index: int, payload: str) -> str:
    return f"k{index:02d}-{payload[:40]}"


def hostile_world(folder: Path, payloads: dict[str, str] | None = None) -> World:
    world = World(folder)
    world.spec = spec_document(
        title=PAYLOADS["attr_breaker"] + PAYLOADS["bidi"],
        description=PAYLOADS["jinja"] + PAYLOADS["rich_link"] + PAYLOADS["crlf"],
        scope_description=PAYLOADS["script_close"] + PAYLOADS["ansi_clear"],
        summary=PAYLOADS["osc_title"] + PAYLOADS["textual_action"],
        version=PAYLOADS["csv_formula"],
    )
    keys, usage = [], []
    for index, payload in enumerate((payloads or PAYLOADS).values()):
        key_id = hostile_key_id(index, payload)
        scopes = ["invoices:read"] + ([payload[:60]] if payload.strip() else [])
        keys.append(
            key_record(key_id, scopes, name=payload or "", owner=payload, environment=payload)
        )
        if not payload:
            keys[-1]["name"] = ""
        usage += daily_lines(key_id, [("GET", "/v1/invoices")])
        usage.append(log_line(key_id, "GET", "/v1/zz/" + payload[:100]))
        usage.append(log_line("ghost-" + payload[:50], "GET", "/v1/invoices"))
    world.keys = keys
    world.usage = usage
    world.write()
    first = hostile_key_id(0, PAYLOADS["img_onerror"])
    world.suppressions_path.write_text(
        "suppressions:\n"
        f"  - rule: unknown-scope\n    key: {json.dumps(first)}\n"
        f"    reason: {json.dumps(PAYLOADS['crlf'] + PAYLOADS['ansi_clear'])}\n"
        f"    owner: {json.dumps(PAYLOADS['img_onerror'])}\n    expires: 2027-01-31\n"
        f"  - rule: dormant-key\n    key: {json.dumps(PAYLOADS['attr_breaker'])}\n"
        f"    reason: {json.dumps(PAYLOADS['rich_close'])}\n"
        "    owner: o\n    expires: 2027-01-31\n",
        encoding="utf-8",
    )
    return world


@dataclass(frozen=True)
class Hostile:
    world: World
    code: int
    stdout: bytes
    stderr: bytes
    files: dict[str, bytes]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """One ``keyscope audit`` over the hostile inputs, every format written."""
    folder = tmp_path_factory.mktemp("hostile")
    world = hostile_world(folder / "inputs")
    out = folder / "out"
    out.mkdir()
    files = {fmt: out / f"report.{fmt}" for fmt in FORMATS}
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]
    done = run_keyscope(
        ["audit", *world.flags(), "--suppressions", str(world.suppressions_path), *flags],
        cwd=folder,
        timeout=300,
    )
    return Hostile(
        world,
        done.returncode,
        done.stdout,
        done.stderr,
        {fmt: path.read_bytes() for fmt, path in files.items() if path.exists()},
    )


def test_the_hostile_audit_runs_and_writes_every_format(hostile: Hostile) -> None:
    assert hostile.code == 0, hostile.stderr.decode("utf-8", "replace")
    assert set(hostile.files) == set(FORMATS)
    assert b"Traceback" not in hostile.stderr


# --------------------------------------------------------------------------- terminal


def test_terminal_output_has_no_control_bytes(hostile: Hostile) -> None:
    for stream in (hostile.stdout, hostile.stderr):
        text = stream.decode("utf-8")  # also: valid UTF-8 (no lone surrogate got through)
        assert TERMINAL_FORBIDDEN.search(text) is None, TERMINAL_FORBIDDEN.findall(text)[:5]
        assert "\u202e" not in text and "\u2066" not in text and "\u200b" not in text
    text = hostile.stdout.decode()
    assert "⟨U+202E⟩" in text  # bidi overrides are shown, not obeyed
    assert "[link=https://evil.example]rotate me[/link]" in text  # literal, not interpreted
    # CR/LF in a name cannot forge a line: no line of the report starts with the payload's tail.
    assert not any(line.startswith("forged: log line") for line in text.splitlines())


# --------------------------------------------------------------------------- JSON


def test_json_is_ascii_and_keeps_raw_values(hostile: Hostile) -> None:
    raw = hostile.files["json"]
    assert raw.isascii()
    data = json.loads(raw)
    keys = {key["id"]: key for key in data["keys"]}
    for index, payload in enumerate(PAYLOADS.values()):
        key = keys[hostile_key_id(index, payload)]
        # Whole, megabyte included (BAD-INPUTS #26): only the displays shorten.
        assert key["name"] == key["owner"] == key["environment"] == payload


def test_no_display_shows_the_megabyte(hostile: Hostile) -> None:
    """BAD-INPUTS #26: the megabyte name, owner and environment are shortened with an
    ellipsis in every display; a spreadsheet cell holds up to its cell limit."""
    from keyscope.report.csv_report import CELL_LIMIT

    longest = {
        sink: max((len(run) for run in re.findall("M+", text)), default=0)
        for sink, text in {
            "stdout": hostile.stdout.decode(),
            "stderr": hostile.stderr.decode(),
            **{fmt: hostile.files[fmt].decode() for fmt in ("html", "md", "sarif", "csv")},
        }.items()
    }
    # 60 for a name in the text report, 100 for a log path; 120 in the HTML keys table;
    # 200 in a SARIF message; Markdown lists only the riskiest keys (not these).
    assert longest["stdout"] <= 100 and longest["stderr"] == 0
    assert longest["html"] <= 120 and longest["md"] <= 80 and longest["sarif"] <= 200
    assert longest["csv"] == CELL_LIMIT - 1
    assert "M" * 59 + "…" in hostile.stdout.decode()
    assert "M" * 119 + "…" in hostile.files["html"].decode()
    assert len(hostile.files["html"]) < 1 << 20 and len(hostile.files["sarif"]) < 1 << 20


def test_suspicious_names_are_findings(hostile: Hostile) -> None:
    """BAD-INPUTS #21: bidi overrides and zero-width characters raise a finding."""
    data = json.loads(hostile.files["json"])
    bidi_key = hostile_key_id(list(PAYLOADS).index("bidi"), PAYLOADS["bidi"])
    rules = {finding["rule"] for finding in data["findings"] if finding["key_id"] == bidi_key}
    assert any("suspicious" in rule or "name" in rule for rule in rules), rules


# --------------------------------------------------------------------------- HTML


def _template_vocabulary() -> tuple[set[str], set[str]]:
    text = "".join(path.read_text(encoding="utf-8") for path in TEMPLATES.glob("*.j2"))
    text += (
        (TEMPLATES / "report.js").read_text(encoding="utf-8")
        if (TEMPLATES / "report.js").exists()
        else ""
    )
    text = text.lower()
    tags = set(re.findall(r"<([a-z][a-z0-9]*)", text))
    attributes = set(re.findall(r"\s([a-z][a-z0-9:-]*)=[\"'{]", text))
    attributes |= set(re.findall(r"\s([a-z][a-z0-9-]*)(?=[\s>])", text)) & {
        "hidden",
        "checked",
        "selected",
        "open",
        "disabled",
    }
    return tags, attributes


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def test_html_has_only_template_elements_and_safe_links(hostile: Hostile) -> None:
    html = hostile.files["html"].decode("utf-8")
    parser = _Collector()
    parser.feed(html)
    parser.close()
    tags, attributes = _template_vocabulary()
    seen_tags = {tag for tag, _ in parser.elements}
    assert seen_tags <= tags, seen_tags - tags
    for tag, attrs in parser.elements:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            assert name in attributes, (tag, name)
            if name in ("href", "src", "action", "xlink:href"):
                assert value is not None and (
                    value.startswith("https:") or value.startswith("#")
                ), value
    csp = [
        dict(attrs)
        for tag, attrs in parser.elements
        if tag == "meta" and ("http-equiv", "Content-Security-Policy") in attrs
    ]
    assert len(csp) == 1 and "connect-src 'none'" in (csp[0]["content"] or "")
    assert "script-src 'unsafe-inline'" not in (csp[0]["content"] or "")
    # The template's two scripts and no more: the JSON data blob and the report's code.
    assert len(parser.scripts) == 2
    data = json.loads(parser.scripts[0])
    assert data
    assert "\u202e" not in html and "\x1b" not in html and "\x00" not in html


def test_html_shows_payloads_as_text(hostile: Hostile) -> None:
    html = hostile.files["html"].decode("utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{7*7}}" in html or "{{ 7*7 }}" not in html  # never evaluated to 49
    assert ">49<" not in html
    assert "⟨U+202E⟩" in html


# --------------------------------------------------------------------------- CSV


def test_csv_cells_never_start_with_a_trigger(hostile: Hostile) -> None:
    text = hostile.files["csv"].decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) > 1
    for row in rows[1:]:
        assert len(row) == len(COLUMNS)
        for name, cell in zip(COLUMNS, row, strict=True):
            if name in NUMERIC_COLUMNS:
                assert cell == "" or re.fullmatch(r"-?\d+(\.\d+)?", cell), (name, cell)
            else:
                assert not cell.startswith(CSV_TRIGGERS), (name, cell[:40])
    formulas = [cell for row in rows[1:] for cell in row if cell.startswith("'=HYPERLINK")]
    assert formulas  # the payload is kept, neutralized


# --------------------------------------------------------------------------- SARIF


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_sarif_is_schema_valid_with_text_only_messages(hostile: Hostile) -> None:
    import jsonschema

    raw = hostile.files["sarif"]
    assert raw.isascii()
    document = json.loads(raw)
    jsonschema.validate(document, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert not [value for key, value in _walk(document) if key == "markdown"]
    assert document["runs"][0]["results"]


# --------------------------------------------------------------------------- Markdown


def test_markdown_has_no_live_html_links_or_images(hostile: Hostile) -> None:
    text = hostile.files["md"].decode("utf-8")
    assert TERMINAL_FORBIDDEN.search(text) is None
    assert re.search(r"(?<!\\)<[A-Za-z/!]", text) is None  # no raw HTML tag
    assert re.search(r"(?<!\\)\]\((?!#)", text) is None  # no link or image target
    assert "![i]" not in text
    assert "\u202e" not in text


# --------------------------------------------------------------------------- TUI


def test_tui_names_render_exactly_the_sanitized_input(tmp_path: Path) -> None:
    import asyncio

    asyncio.run(_tui_check(hostile_world(tmp_path / "inputs"), tmp_path))


async def _tui_check(world: World, tmp_path: Path) -> None:
    from keyscope.settings import load_settings
    from keyscope.tui.app import make_app
    from keyscope.tui.display import NAME_LIMIT, safe
    from keyscope.tui.screens.key_detail import KeyDetailScreen
    from keyscope.tui.widgets.key_table import KeyTable

    settings = load_settings(
        {"spec": world.spec_path, "keys": world.keys_path, "usage": [str(world.usage_path)],
         "as_of": world.as_of, "window_days": world.window_days, "semantics": "all"},
        config=world.config_path,
    )  # fmt: skip
    app = make_app(settings, cwd=tmp_path)
    async with app.run_test(size=(220, 70)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(KeyTable)
        audits = app.context.result.keys
        assert table.row_count == len(audits)
        shown = {table._get_cell_renderable(row, 0).plain for row in range(table.row_count)}
        expected = {safe(audit.key.name, NAME_LIMIT) or "(unnamed)" for audit in audits}
        assert shown == expected
        if any("[TODO]" in audit.key.name for audit in audits):
            assert "[TODO] Q3 billing [IMPORTANT]" in shown  # Textual 8 must not eat it
        for y in range(table.size.height):
            for segment in table.render_line(y):
                assert not (segment.style and segment.style.link), segment
        painted = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert TERMINAL_FORBIDDEN.search(painted) is None
        for audit in audits:
            app.push_screen(KeyDetailScreen(audit, app.context))
            await pilot.pause()
            header = str(app.screen.query_one("#key-header").render())
            assert (safe(audit.key.name, 60) or "(unnamed)") in header
            painted = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            assert TERMINAL_FORBIDDEN.search(painted) is None
            app.pop_screen()
            await pilot.pause()
        await pilot.press("S")
        await pilot.pause()
        painted = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert TERMINAL_FORBIDDEN.search(painted) is None
        assert app.is_running


_TOKENS = [*"[]/=@:.'\"$ab \\\x1b\x9b\u202e\n\ud800", "[b]", "[/]", "[link=", "[@click=", "[/b]"]
MARKUPISH = st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(MARKUPISH | st.text(max_size=60))
def test_no_markup_error_is_possible(text: str) -> None:
    """BAD-INPUTS #19: any text through the TUI's display helpers renders literally."""
    from rich.console import Console

    from keyscope.tui.display import safe, safe_content, safe_text

    expected = safe(text)
    content = safe_content(text)
    rich_text = safe_text(text)
    assert content.plain == expected == rich_text.plain
    assert TERMINAL_FORBIDDEN.search(expected) is None
    console = Console(file=io.StringIO(), width=200, color_system=None, legacy_windows=False)
    console.print(rich_text)
    list(content.render_segments())


def test_aggregate_warnings_show_file_names_terminal_safe(tmp_path: Path) -> None:
    """A log file's name reaches stderr only as safe text (as audit's own warning)."""
    world = World(tmp_path / "inputs").write()
    name = "a" + PAYLOADS["osc52"] + PAYLOADS["c1_csi"] + PAYLOADS["bidi"] + ".jsonl"
    log = world.folder / name
    log.write_text("".join(line + "\n" for line in [*world.usage, *["garbage"] * 20]))
    config = world.folder / "k.toml"
    config.write_text(
        f'spec = "spec.json"\nkeys = "keys.json"\n[[usage]]\npath = {json.dumps(str(log))}\n',
        encoding="utf-8",
    )
    output = tmp_path / "agg.parquet"
    done = run_keyscope(["aggregate", "--config", str(config), "-o", str(output)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode("utf-8")
    assert "could not be read" in err and "⟨U+202E⟩" in err
    assert not TERMINAL_FORBIDDEN.search(err) and "\u202e" not in err
