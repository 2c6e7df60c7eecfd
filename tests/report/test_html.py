"""The HTML report: sections, escaping (BAD-INPUTS #22-#26, P6), CSP, determinism, golden file."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from keyscope.analysis.triage import Baseline, apply_baseline, apply_suppressions
from keyscope.analysis.whatif import starting_scopes
from keyscope.model import FINGERPRINT_VERSION, HistoryPoint, Suppression
from keyscope.report import get_renderer
from keyscope.report.html import render_html
from keyscope.report.templates import environment, template_folder

from ._factory import PAYLOADS, XSS_NAME, build_result, make_finding, make_key, standard_keys

TEMPLATES = template_folder()


class Collector(HTMLParser):
    """Every start tag with its attributes, script bodies, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)
        else:
            self.text.append(data)


def parse(document: str) -> Collector:
    collector = Collector()
    collector.feed(document)
    collector.close()
    return collector


def template_vocabulary() -> tuple[set[str], set[str]]:
    """Element and attribute names that appear in the HTML templates themselves."""
    sources = "".join(path.read_text(encoding="utf-8") for path in TEMPLATES.glob("*.j2"))
    elements = {name.lower() for name in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", sources)}
    attributes: set[str] = set()
    for tag in re.findall(r"<[a-zA-Z][^<>]*>", re.sub(r"\{[{%].*?[%}]\}", " ", sources)):
        # html.parser lower-cases attribute names (viewBox -> viewbox).
        attributes |= {
            name.lower() for name in re.findall(r"\s([a-zA-Z][a-zA-Z-]*)(?=[\s=>])", tag)
        }
    return elements, attributes


@pytest.fixture(scope="module")
def hostile_html() -> str:
    from ._factory import hostile

    return render_html(hostile())


def test_every_section_is_there(result) -> None:
    document = render_html(result)
    for anchor in (
        "summary",
        "keys",
        "migration",
        "anomalies",
        "quality",
        "suppressions",
        "inputs",
    ):
        assert f'<section id="{anchor}">' in document
    assert "Legacy full-access keys to migrate" in document
    assert 'id="incomplete"' not in document  # complete data: no banner
    assert result.spec.sha256 in document and "2026-08-03 to 2026-10-31 (90 days)" in document


def test_render_html_is_the_registered_renderer() -> None:
    assert get_renderer("html") is render_html


def row_html(document: str, key_id: str) -> str:
    """The keys-table row of one key (each row is one line)."""
    [line] = [
        line
        for line in document.splitlines()
        if line.startswith('<div class="r" role="row"') and f">{key_id}</button>" in line
    ]
    return line


def test_keys_table_marks_scopes_used_unused_missing_by_glyph_and_element(result) -> None:
    document = render_html(result)
    recon = row_html(document, "key_recon")
    assert recon.startswith('<div class="r" role="row" id="k5">')
    assert "<b>✓ payments:read</b>" in recon and "<s>✗ payments:write</s>" in recon
    assert "<u>+ payouts:write</u>" in row_html(document, "key_probed")
    busy = row_html(document, "key_legacy_busy")
    assert '<span class="tag fa">Full access</span>' in busy and "<i>✗ 14 unused</i>" in busy
    revoked = row_html(document, "key_revoked")
    assert (
        '<span class="tag rev">revoked</span>' in revoked and '<div role="cell">—</div>' in revoked
    )


def test_migration_plan_for_every_active_legacy_key_with_its_variant(result) -> None:
    section = render_html(result).split('<section id="migration">')[1].split("</section>")[0]
    assert section.count('class="kid" href="#k') == 3
    busy = section[section.index("key_legacy_busy") : section.index("key_legacy_dormant")]
    assert "Create the new key with the ticked scopes" in busy
    ticks = re.findall(r'<div class="tk">(.*?)</div>', busy)
    assert ticks == [
        '<span class="ar">Hosted Checkout</span> ☐ Read <strong>☑ Write</strong>',
        '<span class="ar">Payments</span> <strong>☑ Read</strong> ☐ Write',
    ]
    dormant = section[section.index("key_legacy_dormant") : section.index("key_legacy_new")]
    assert "No successful request in the window" in dormant and "expiry date" in dormant
    assert "Not enough data to narrow this key safely" in section.split("key_legacy_new")[-1]
    assert "zero 401/403" in section and "at least 14 days" in section


def test_incomplete_data_banner_lists_the_reasons() -> None:
    result = build_result(complete=False, incomplete_reasons=("12% of log lines unreadable",))
    document = render_html(result)
    banner = document[document.index('id="incomplete"') :]
    banner = banner[: banner.index("</div>")]
    assert 'role="alert"' in document
    assert "12% of log lines unreadable" in banner and "Incomplete data" in banner


def test_suppressions_register_and_warnings() -> None:
    result = build_result()
    entries = [
        Suppression(
            "unused-scope",
            "key_recon",
            "payments:write",
            "Quarter-end job",
            "ops@example.com",
            date(2026, 12, 31),
            "s.yaml#1",
        ),
        Suppression(
            "dormant-key",
            "key_recon",
            "",
            "stale one",
            "ops@example.com",
            date(2026, 12, 31),
            "s.yaml#2",
        ),
        Suppression(
            "legacy-full-access",
            "key_legacy_busy",
            "",
            "old",
            "web@example.com",
            date(2026, 10, 1),
            "s.yaml#3",
        ),
    ]
    triaged = apply_suppressions(result, entries, date(2026, 11, 1))
    document = render_html(triaged)
    register = document.split('<section id="suppressions">')[1].split("</section>")[0]
    rows = re.findall(r"<tr><td>(.*?)</tr>", register)
    statuses = [re.search(r'<span class="tag[^"]*">(\w+)</span>', row).group(1) for row in rows]
    assert statuses == ["applied", "stale", "expired"]
    assert "Quarter-end job" in rows[0] and '<td class="n">1</td>' in rows[0]
    warnings = document[document.index('id="suppression-warnings"') :]
    assert "s.yaml#2" in warnings and "s.yaml#3" in warnings
    blob = blob_of(document)
    recon = blob["keys"][5]
    suppressed = [f for f in recon["f"] if f[4] & 2]
    assert [blob["text"][f[2]] for f in suppressed] == ["payments:write"]


def test_baseline_difference_section() -> None:
    before = build_result()
    after = build_result([*standard_keys()[1:], make_key("key_new", scopes=("payouts:write",))])
    compared = apply_baseline(
        after,
        Baseline(
            "prev.json", datetime(2026, 10, 1, tzinfo=UTC), 1, FINGERPRINT_VERSION, before.findings
        ),
    )
    document = render_html(compared)
    section = document.split('<section id="baseline">')[1].split("</section>")[0]
    assert "prev.json as of 2026-10-01" in section
    assert "key_new" in section.split("Resolved findings")[0]
    assert "key_accountant" not in section  # it had no findings; nothing resolved for it
    assert '<option value="new">with new findings</option>' in document
    assert 'href="#baseline"' in document


def test_trend_section_draws_the_history() -> None:
    points = tuple(
        HistoryPoint(
            datetime(2026, 10, 1, tzinfo=UTC) + timedelta(weeks=i),
            40 - 5 * i,
            50.0 - i,
            4 - i // 2,
            30 - i,
        )
        for i in range(4)
    )
    document = render_html(replace(build_result(), history=points))
    section = document.split('<section id="trend">')[1].split("</section>")[0]
    assert section.count("<polyline") == 4
    assert "Excess scopes: 25" in section and "2026-10-01" in section and "2026-10-22" in section
    assert build_result().history == () and '<section id="trend">' not in render_html(
        build_result()
    )


def blob_of(document: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="ks-data">(.*?)</script>', document, re.S
    )
    assert match is not None
    return json.loads(match.group(1))


def test_detail_blob_carries_the_per_key_evidence(result) -> None:
    blob = blob_of(render_html(result))
    scopes = blob["scopes"]
    assert scopes == sorted(scopes) and "payouts:write" in scopes
    labels = [row[0] for row in blob["grid"]]
    assert labels == sorted(labels) and "Hosted Checkout" in labels
    accountant = blob["keys"][0]
    assert [scopes[i] for i in accountant["s"]] == ["customers:read", "invoices:read"]
    [[_scope, uses]] = [e for e in accountant["ev"] if scopes[e[0]] == "invoices:read"]
    assert blob["ops"][uses[0][0]] == "GET /invoices" and uses[0][1] == 1800
    assert uses[0][2:] == [3, 88]  # first/last seen as days from the window start
    probed = blob["keys"][4]
    assert [blob["text"][d[0]] for d in probed["dn"]] == [
        "GET /v1/admin/export",
        "POST /v1/payouts",
    ]
    assert probed["dn"][1][5] == [[scopes.index("payouts:write")]]
    assert len(accountant["d"]) <= 90 and accountant["dm"] > 0
    recon = blob["keys"][5]
    [[excess_scope, unlocked]] = recon["ex"]
    assert scopes[excess_scope] == "payments:write"
    assert [blob["ops"][i] for i in unlocked] == [
        "POST /payments",
        "POST /payments/{payment_id}/capture",
    ]


def test_csp_allows_only_the_reports_own_style_and_script(result) -> None:
    document = render_html(result)
    parsed = parse(document)
    [meta] = [
        dict(attrs)
        for tag, attrs in parsed.tags
        if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy"
    ]
    policy = meta["content"]
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    assert (
        "img-src data:" in policy
        and "'unsafe-inline'" not in policy
        and "base-uri 'none'" in policy
    )
    script = [body for attrs, body in parsed.scripts if "type" not in attrs]
    assert len(script) == 1
    style = re.search(r"<style>(.*?)</style>", document, re.S).group(1)
    for body, directive in ((script[0], "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy


def test_no_external_resources(result) -> None:
    parsed = parse(render_html(result))
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            if name in ("src", "href", "action", "formaction", "xlink:href", "srcset", "poster"):
                assert value is not None and value.startswith("#"), (tag, name, value)
    assert not any(
        tag in ("iframe", "object", "embed", "img", "form", "base") for tag, _ in parsed.tags
    )


def test_hostile_text_is_inert(hostile_html: str) -> None:
    """P6: no element or attribute that the templates do not have; payloads show as text."""
    elements, attributes = template_vocabulary()
    parsed = parse(hostile_html)
    for tag, attrs in parsed.tags:
        assert tag in elements, f"element {tag!r} is not in the templates"
        for name, value in attrs:
            assert name in attributes, f"attribute {name!r} on {tag} is not in the templates"
            assert not name.startswith("on")
            if name == "href":
                assert value is not None and (value.startswith("#") or value.startswith("https:"))
    assert sum(1 for tag, _ in parsed.tags if tag == "script") == 2
    [(_data_attrs, body)] = [
        (a, b) for a, b in parsed.scripts if a.get("type") == "application/json"
    ]
    assert "</" not in body and "<" not in body  # |tojson escapes < > & '
    json.loads(body)
    text = "".join(parsed.text)
    assert XSS_NAME in text
    assert "<img src=x onerror=alert(1)>" in text and "{{7*7}}{% for x in y %}" in text
    assert "⟨U+202E⟩" in text and "\u202e" not in hostile_html
    assert "\x1b" not in hostile_html and "\x00" not in hostile_html and "\x9b" not in hostile_html
    assert "[link=https://evil.example]rotate me[/link]" in text


def test_hostile_values_are_shortened_not_dropped(hostile_html: str) -> None:
    assert "x" * 1000 not in hostile_html
    assert "x" * 100 + "…" in hostile_html
    assert len(hostile_html.encode()) < 2_000_000


def test_secrets_in_names_are_masked() -> None:
    secret = "sk_live_" + "A1b2C3d4E5f6G7h8"
    key = make_key(
        "key_leaky",
        name=f"billing {secret}",
        owner=secret,
        scopes=("payments:read",),
        used={"payments:read": 1},
        extra_findings=(
            make_finding("secret-in-name", "high", "key_leaky", "", f"name holds {secret}"),
        ),
    )
    document = render_html(build_result([*standard_keys(), key]))
    assert secret[8:20] not in document and "sk_live_…G7h8" in document


def test_template_environment_is_strict_and_escaping() -> None:
    env = environment()
    assert env.autoescape is True
    from jinja2 import StrictUndefined

    assert env.undefined is StrictUndefined
    sources = "".join(path.read_text(encoding="utf-8") for path in TEMPLATES.iterdir())
    sources = re.sub(r"\{#.*?#\}|/\*.*?\*/", "", sources, flags=re.S)  # comments may name the rules
    assert "|safe" not in sources.replace(" ", "") and "Markup" not in sources
    assert (
        "innerHTML" not in sources
        and "outerHTML" not in sources
        and "insertAdjacentHTML" not in sources
    )
    assert "eval(" not in sources and "document.write" not in sources


def test_determinism_same_bytes_twice(result) -> None:
    assert render_html(result) == render_html(build_result())


def test_determinism_across_hash_seeds(tmp_path: Path) -> None:
    """P3: set iteration order must never leak into the bytes."""
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, 'tests');"
        "from report._factory import hostile; from keyscope.report.html import render_html;"
        "import hashlib; print(hashlib.sha256(render_html(hostile()).encode()).hexdigest())"
    )
    repo = Path(__file__).resolve().parents[2]
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("0", "1", "4242")
    }
    assert len(digests) == 1


def test_empty_inventory_renders() -> None:
    document = render_html(build_result([]))
    assert "No keys in the inventory." in document
    assert "No active legacy full-access keys" in document


def test_golden_html(result, snapshot_html) -> None:
    assert render_html(result) == snapshot_html


def test_payload_corpus_is_complete() -> None:
    assert XSS_NAME in PAYLOADS and any("\ud800" in p for p in PAYLOADS)


# ------------------------------------------------------------------ the suggestion without JS


class KeyRowParser(HTMLParser):
    """The keys table as a reader without JavaScript sees it, one entry per key row.

    For each row ``k<n>``: its key id, the scope chips of its Scopes cell as
    ``(element, text)`` and the text of its suggestion line (the cell's ``<p>``), or None.
    """

    CHIPS = frozenset({"b", "s", "u", "i"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, dict] = {}
        self._row: dict | None = None
        self._divs = 0  # open <div>s inside the current row
        self._cell = ""  # "key", "sc" (Scopes cell) or "sg" (its <p>) while inside one
        self._chip: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self._row is None:
            if tag == "div" and re.fullmatch(r"k\d+", attributes.get("id") or ""):
                self._row = {"key": "", "chips": [], "suggestion": None}
                self._divs = 1
            return
        if tag == "div":
            self._divs += 1
            if attributes.get("class") == "sc":
                self._cell = "sc"
        elif tag == "button" and attributes.get("class") == "kx":
            self._cell = "key"
        elif self._cell == "sc" and tag == "p":
            self._cell = "sg"
            self._row["suggestion"] = ""
        elif self._cell == "sc" and tag in self.CHIPS:
            self._chip = [tag, ""]

    def handle_endtag(self, tag: str) -> None:
        if self._row is None:
            return
        if tag == "button" and self._cell == "key":
            self._cell = ""
        elif tag == "p" and self._cell == "sg":
            self._cell = "sc"
        elif self._chip is not None and tag == self._chip[0]:
            self._row["chips"].append(tuple(self._chip))
            self._chip = None
        elif tag == "div":
            if self._cell == "sc":
                self._cell = ""
            self._divs -= 1
            if self._divs == 0:
                self.rows[self._row["key"]] = self._row
                self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is None:
            return
        if self._chip is not None:
            self._chip[1] += data
        elif self._cell == "key":
            self._row["key"] += data
        elif self._cell == "sg":
            self._row["suggestion"] += data


def key_rows(document: str) -> dict[str, dict]:
    parser = KeyRowParser()
    parser.feed(document)
    parser.close()
    return parser.rows


def assert_rows_state_the_suggestion(document: str, audits) -> None:
    """Every active key's row names its suggested scopes and shows its excess scopes
    (struck-through chips, or named after ``excess:``); a struck chip is always excess."""
    rows = key_rows(document)
    assert set(rows) == {audit.key.key_id for audit in audits}
    for audit in audits:
        row = rows[audit.key.key_id]
        struck = {text.split(" ", 1)[1] for element, text in row["chips"] if element == "s"}
        assert struck <= audit.excess_scopes, audit.key.key_id
        if audit.key.status != "active":
            assert row["suggestion"] is None and not struck, audit.key.key_id
            continue
        line = row["suggestion"]
        assert line is not None and line.startswith("Suggested: "), audit.key.key_id
        suggested, _, excess = line.removeprefix("Suggested: ").partition("; excess: ")
        note = " (not enough data: keeps its grants)"
        assert suggested.endswith(note) == (audit.confidence == "insufficient"), audit.key.key_id
        suggested = suggested.removesuffix(note)
        held = starting_scopes(audit)  # assigned_scopes; the catalog for a legacy key
        if suggested.startswith("all "):  # a legacy key that keeps full access
            assert audit.key.full_access and audit.suggested_scopes == held
            assert suggested == f"all {len(held)} scopes it holds"
        elif audit.suggested_scopes:
            assert suggested.split(", ") == sorted(audit.suggested_scopes), audit.key.key_id
        else:
            assert suggested == "none", audit.key.key_id
        everything = re.fullmatch(r"every other scope(?: except (.+))? \((\d+)\)", excess)
        if everything:  # a legacy key: the catalog but the suggestion and the exceptions
            spared = set(everything.group(1).split(", ")) if everything.group(1) else set()
            assert audit.key.full_access, audit.key.key_id
            assert audit.excess_scopes == held - audit.suggested_scopes - spared
            assert int(everything.group(2)) == len(audit.excess_scopes)
        else:
            unshown = audit.excess_scopes - struck
            assert sorted(unshown) == (excess.split(", ") if excess else []), audit.key.key_id


def invoicing_sync() -> object:
    """The sample's "Invoicing sync" key as the engine concludes it: holds three write
    scopes, only ever read invoices; ``excess_scopes`` is the assigned list minus the
    suggestion (the implied reads are neither held nor excess)."""
    from keyscope.model import ExcessScope

    writes = frozenset({"invoices:write", "payouts:write", "webhooks:write"})
    audit = make_key(
        "key_invoicing",
        name="Invoicing sync",
        scopes=sorted(writes),
        used={"invoices:read": 3338},
    )
    return replace(
        audit,
        assigned_scopes=writes,
        excess_scopes=writes,
        excess=tuple(ExcessScope(scope, ("POST /x",)) for scope in sorted(writes)),
    )


def test_rows_state_each_active_keys_suggestion_and_excess_without_javascript(result) -> None:
    """The suggestion is in the markup, not only in the script's data (print, no-JS)."""
    assert_rows_state_the_suggestion(render_html(result), result.keys)


def test_row_of_a_key_whose_suggestion_replaces_its_scopes() -> None:
    insufficient = replace(
        make_key(
            "key_young",
            scopes=("checkout:write", "invoices:write"),
            used={"invoices:write": 2},
            confidence="insufficient",
        ),
        assigned_scopes=frozenset({"checkout:write", "invoices:write"}),
        suggested_scopes=frozenset({"checkout:write", "invoices:write"}),
    )
    result = build_result([invoicing_sync(), insufficient])
    document = render_html(result)
    rows = key_rows(document)
    invoicing = rows["key_invoicing"]
    assert invoicing["chips"] == [
        ("s", "✗ invoices:write"),
        ("s", "✗ payouts:write"),
        ("s", "✗ webhooks:write"),
    ]
    assert invoicing["suggestion"] == "Suggested: invoices:read"
    # Not enough data: the audit keeps every grant, so nothing is struck through.
    young = rows["key_young"]
    assert young["chips"] == [("i", "✗ checkout:write"), ("b", "✓ invoices:write")]
    assert young["suggestion"] == (
        "Suggested: checkout:write, invoices:write (not enough data: keeps its grants)"
    )
    assert_rows_state_the_suggestion(document, result.keys)


def test_suggestion_text_is_escaped() -> None:
    audit = replace(
        make_key("key_x", scopes=("payments:read",), used={"payments:read": 5}),
        suggested_scopes=frozenset({XSS_NAME}),
    )
    document = render_html(build_result([audit]))
    [line] = [row["suggestion"] for row in key_rows(document).values()]
    assert line == f"Suggested: {XSS_NAME}"
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in row_html(document, "key_x")


def test_rows_state_the_suggestion_of_the_bundled_sample_audit() -> None:
    """The same, on what the engine concludes for the bundled sample data."""
    from keyscope.pipeline import run_audit
    from keyscope.settings import load_settings

    repo = Path(__file__).resolve().parents[2]
    settings = load_settings(config=repo / "keyscope.toml", env={}, cwd=repo)
    audited = run_audit(settings).result
    document = render_html(audited)
    assert_rows_state_the_suggestion(document, audited.keys)
    rows = key_rows(document)
    assert rows["key_l53gyj955ahj8j4n"]["suggestion"] == "Suggested: invoices:read"


def test_picker_data_keeps_only_held_scopes_the_audit_neither_suggests_nor_drops() -> None:
    """The replacement picker ticks what the key holds (its own list, not the reads its
    writes imply) and the audit does not drop: ``k`` in the blob, absent when empty."""
    kept = replace(invoicing_sync(), key=replace(invoicing_sync().key, key_id="key_kept"))
    kept = replace(
        kept, excess_scopes=frozenset({"payouts:write", "webhooks:write"}), excess=kept.excess[1:]
    )
    blob = blob_of(render_html(build_result([invoicing_sync(), kept])))
    scopes = blob["scopes"]
    invoicing, held = blob["keys"]
    assert "k" not in invoicing  # payouts:read, webhooks:read are implied, not held
    assert [scopes[i] for i in held["k"]] == ["invoices:write"]
