"""Key inventory rows of BAD-INPUTS (#17-#29) through ``keyscope audit``.

Names are free text: the markup, escape, HTML, template, formula and control-character
rows (#17-#23, #25, #26) are checked at every sink by ``test_escaping.py`` and the
secret rows (#24, #28) by ``test_secrets_canary.py``.  This file adds what is specific to
the inventory: homoglyph and bidi names become findings (#21), a 10 MB name costs
nothing, is kept whole in the JSON report and shortened everywhere else, and odd
names never crash or forge a line (#26), the key id is the identity (#27), secret fields never
reach a value (#28), and secrets in names are classified by prefix (#29).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from keyscope.report.csv_report import CELL_LIMIT
from keyscope.sources.keys import parse_keys

from .conftest import World, key_record, run_keyscope
from .payloads import TERMINAL_FORBIDDEN

FILE_FORMATS = ("json", "html", "md", "csv", "sarif")


def audit_json(cli: Callable[..., Any], world: World, *extra: str) -> dict[str, Any]:
    outcome = cli("audit", *world.flags(), "--format", "json", *extra)
    assert outcome.code == 0, outcome.err
    return json.loads(outcome.out)


def rules_of(data: dict[str, Any], key_id: str) -> set[str]:
    [key] = [key for key in data["keys"] if key["id"] == key_id]
    return {finding["rule"] for finding in key["findings"]}


def test_21_homoglyph_bidi_and_zero_width_names_are_findings(
    world: World, cli: Callable[..., Any]
) -> None:
    world.keys += [
        key_record("key_homoglyph05", ["invoices:read"], name="pr\u043ed billing"),  # U+043E
        key_record("key_bidi0000006", ["invoices:read"], name="invoice\u202egnp.exe"),
        key_record("key_zerowidth07", ["invoices:read"], name="pay\u200bouts"),
        key_record("key_plain000008", ["invoices:read"], name="prod billing"),
    ]
    world.write()
    data = audit_json(cli, world)
    for key_id in ("key_homoglyph05", "key_bidi0000006", "key_zerowidth07"):
        assert "suspicious-key-name" in rules_of(data, key_id), key_id
    assert "suspicious-key-name" not in rules_of(data, "key_plain000008")
    text = cli("audit", *world.flags()).out
    assert "invoice⟨U+202E⟩gnp.exe" in text and "pay⟨U+200B⟩outs" in text


def audit_every_format(
    cli: Callable[..., Any], world: World, folder: Path, *extra: str
) -> tuple[Any, dict[str, str]]:
    """``keyscope audit`` with the text report on stdout and every other format in a file."""
    folder.mkdir(exist_ok=True)
    files = {fmt: folder / f"report.{fmt}" for fmt in FILE_FORMATS}
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]
    outcome = cli("audit", *world.flags(), *flags, *extra)
    assert outcome.code == 0, outcome.err
    return outcome, {fmt: path.read_text(encoding="utf-8") for fmt, path in files.items()}


def longest_run(text: str, character: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(character)}+", text)), default=0)


@pytest.mark.timeout(600)  # a hang guard only; the 10 MB case takes seconds
@pytest.mark.parametrize("length", [5_000, 10 << 20], ids=["5000-chars", "10MB"])
def test_26_a_10mb_name_is_cheap_and_shown_shortened(
    world: World, cli: Callable[..., Any], tmp_path: Path, length: int
) -> None:
    """The JSON report carries the whole name; every display shortens it with an ellipsis
    (text, Markdown, HTML, CSV at its cell limit, SARIF, the TUI) and stays small."""
    huge = "start " + "n" * (length - len("start  end")) + " end"
    owner = "o" * length
    world.keys += [key_record("key_hugename009", ["invoices:read"], name=huge, owner=owner)]
    world.write()
    outcome, files = audit_every_format(cli, world, tmp_path / "out")

    [key] = [key for key in json.loads(files["json"])["keys"] if key["id"] == "key_hugename009"]
    assert key["name"] == huge  # whole: nothing cut at ingest or in the JSON report
    assert key["owner"] == owner

    # Text report (stdout): the name at 60 characters, ending with an ellipsis.
    assert '"start ' + "n" * 53 + '…"' in outcome.out
    assert longest_run(outcome.out, "n") == 53 and len(outcome.out) < 64_000
    assert TERMINAL_FORBIDDEN.search(outcome.err) is None and len(outcome.err) < 4_000
    # Markdown: 80 characters.
    assert "start " + "n" * 73 + "…" in files["md"]
    assert longest_run(files["md"], "n") == 73 and len(files["md"]) < 64_000
    # HTML: 120 characters wherever a name or owner is shown (keys table, findings,
    # data blob); a 10 MB name adds nothing like 10 MB.
    assert "start " + "n" * 113 + "…" in files["html"]
    assert longest_run(files["html"], "n") == 113
    assert longest_run(files["html"], "o") < 200
    assert len(files["html"].encode()) < 2 << 20
    # CSV: a spreadsheet cell holds 32,767 characters; longer text ends at the cell limit.
    rows = [row for row in csv.DictReader(io.StringIO(files["csv"], newline=""))
            if row["key_id"] == "key_hugename009"]  # fmt: skip
    assert rows
    for row in rows:
        expected = huge if length < CELL_LIMIT else huge[: CELL_LIMIT - 1] + "…"
        assert row["key_name"] == expected
    assert len(files["csv"]) < len(rows) * 3 * CELL_LIMIT + 64_000
    # SARIF: a message names the key and 200 characters of its name, ellipsis included.
    assert "(start " + "n" * 193 + "…)" in repr(json.loads(files["sarif"]))
    assert longest_run(files["sarif"], "n") == 193
    assert len(files["sarif"].encode()) < 1 << 20


def test_26_the_tui_shows_a_10mb_name_shortened(world: World) -> None:
    """The keys table and the key's header shorten the whole name with an ellipsis."""
    from keyscope.pipeline import run_audit
    from keyscope.settings import load_settings
    from keyscope.tui.key_frame import KeyFilter, KeyFrame, KeySort

    huge = "start " + "n" * (10 << 20)
    world.keys += [key_record("key_hugename009", ["invoices:read"], name=huge)]
    world.write()
    settings = load_settings(
        {"spec": world.spec_path, "keys": world.keys_path, "usage": [str(world.usage_path)],
         "as_of": world.as_of, "window_days": world.window_days, "semantics": "all"},
        config=world.config_path,
    )  # fmt: skip
    result = run_audit(settings).result
    [audit] = [audit for audit in result.keys if audit.key.key_id == "key_hugename009"]
    assert audit.key.name == huge  # the result keeps it whole; only the display shortens
    frame = KeyFrame.from_result(result)
    shown = {str(name) for name in frame.view(KeyFilter(), KeySort()).column("name")}
    assert "start " + "n" * 73 + "…" in shown
    assert max(len(name) for name in shown) <= 80


def test_26_empty_nul_crlf_and_surrogate_names_never_crash(
    world: World, cli: Callable[..., Any], tmp_path: Path
) -> None:
    names = ["", "a\x00b", "line\r\nforged: entry", "lone\ud800", "\x1b]0;t\x07", "cr\rforged: cr"]
    for index, name in enumerate(names):
        world.keys.append(key_record(f"key_oddname{index:04d}", ["invoices:read"]))
        world.keys[-1]["name"] = name
        world.keys[-1]["owner"] = name
    world.write()
    outcome, files = audit_every_format(cli, world, tmp_path / "out")
    for stream in (outcome.out, outcome.err, files["md"]):
        assert TERMINAL_FORBIDDEN.search(stream) is None
        assert "\ud800" not in stream
        lines = stream.splitlines()
        assert not any(line.lstrip("> ").startswith("forged:") for line in lines), stream
    assert "line⏎forged: entry" in outcome.out  # shown on its own line, marked, not obeyed
    data = json.loads(files["json"])
    by_id = {key["id"]: key for key in data["keys"]}
    for index, name in enumerate(names):
        key = by_id[f"key_oddname{index:04d}"]
        assert key["name"] == key["owner"] == name  # raw in JSON, escaped by the serializer
    # CSV: a line break stays inside its quoted cell, so no row is forged.
    rows = list(csv.reader(io.StringIO(files["csv"], newline="")))
    assert all(len(row) == len(rows[0]) for row in rows)
    assert not any(row[0].startswith("forged:") for row in rows)


def test_26_a_terminal_that_cannot_encode_a_name_gets_escapes(world: World, tmp_path: Path) -> None:
    """``errors="backslashreplace"`` on stdout: an ASCII or Latin-1 terminal gets ``\\u2615``
    for what it cannot show, never a crash halfway through the report."""
    world.keys += [key_record("key_cafe0000010", ["invoices:read"], name="caf\u00e9 \u2615 \ud800")]
    world.write()
    for encoding in ("ascii", "latin-1"):
        done = run_keyscope(
            ["audit", *world.flags()], cwd=tmp_path, timeout=300, PYTHONIOENCODING=encoding
        )
        err = done.stderr.decode(encoding)
        assert done.returncode == 0, err
        assert "Traceback" not in err and "internal error" not in err
        out = done.stdout.decode(encoding)
        assert "\\u2615" in out and "\\ufffd" in out  # the coffee; the lone surrogate, replaced
        assert ("\\xe9" if encoding == "ascii" else "\u00e9") in out


def test_26_a_crlf_in_a_bad_value_cannot_forge_an_error_line(
    world: World, cli: Callable[..., Any]
) -> None:
    world.keys.append(key_record("key_badstatus11", ["invoices:read"]))
    world.keys[-1]["status"] = "nope\r\nkeyscope: error: forged\x1b[2J"
    world.write()
    outcome = cli("audit", *world.flags())
    assert outcome.code == 3
    assert outcome.err.count("\n") == 1 and outcome.err.startswith("keyscope: error: ")
    assert TERMINAL_FORBIDDEN.search(outcome.err) is None


def test_27_names_are_not_identities_but_ids_are(
    world: World, cli: Callable[..., Any], tmp_path: Any
) -> None:
    world.keys += [
        key_record("key_twin0000005", ["payments:write"], name="Twin"),
        key_record("key_twin0000006", ["refunds:write"], name="Twin"),
    ]
    world.write()
    data = audit_json(cli, world)
    assert [key["name"] for key in data["keys"]].count("Twin") == 2
    assert rules_of(data, "key_twin0000005") and rules_of(data, "key_twin0000006")
    # Rename one key to another's name: with a baseline, nothing is new or resolved.
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(data), encoding="utf-8")
    world.keys[0]["name"] = world.keys[1]["name"]
    world.write()
    again = audit_json(cli, world, "--baseline", str(baseline))
    assert {finding["baseline_state"] for finding in again["findings"]} == {"unchanged"}
    assert again["resolved_findings"] == []


def test_27_duplicate_ids_are_an_input_error_naming_both_records(
    world: World, cli: Callable[..., Any], tmp_path: Any
) -> None:
    world.write()
    inventory = tmp_path / "keys.yaml"
    inventory.write_text(
        "keys:\n"
        "  - id: key_a\n    name: first\n    scopes: [invoices:read]\n"
        "  - id: key_b\n    name: other\n    scopes: [invoices:read]\n"
        "  - id: key_a\n    name: second\n    scopes: [payments:read]\n",
        encoding="utf-8",
    )
    outcome = cli("audit", *world.flags(), "--keys", str(inventory))
    assert outcome.code == 3
    assert outcome.err.count("\n") == 1
    assert f"records at {inventory}:2 and {inventory}:8" in outcome.err


def test_28_secret_fields_are_dropped_at_ingest() -> None:
    [key] = parse_keys(
        [{"id": "k1", "name": "n", "secret": "sk_live_DROPPEDxxxxxxxxxxxx",
          "api_key": "rk_live_DROPPEDyyyyyyyyyyyy", "token": "anything at all"}],
        "keys.json",
    )  # fmt: skip
    shown = repr(key) + str(key)
    assert "DROPPED" not in shown and "anything at all" not in shown
    assert set(key.redacted_fields) == {"api_key", "secret", "token"}


def test_29_secrets_in_names_are_classified_by_prefix(
    world: World, cli: Callable[..., Any]
) -> None:
    """Publishable ``pk_`` keys are public (masked, no finding); ``sk_test_``/``rk_live_`` are
    secrets (finding); an unknown prefix is not guessed at."""
    world.keys += [
        key_record("key_pk000000005", ["invoices:read"], name="widget pk_live_PUBLISHABLE1234abcd"),
        key_record("key_sktest00006", ["invoices:read"], name="ci sk_test_TESTSECRETabcd1234"),
        key_record("key_rklive00007", ["invoices:read"], name="ops rk_live_RESTRICTEDabcd1234"),
        key_record("key_unknown0008", ["invoices:read"], name="misc zz_live_UNKNOWNTYPEabcd1234"),
    ]
    world.write()
    outcome = cli("audit", *world.flags(), "--format", "json")
    data = json.loads(outcome.out)
    assert "secret-in-name" not in rules_of(data, "key_pk000000005")
    assert "secret-in-name" in rules_of(data, "key_sktest00006")
    assert "secret-in-name" in rules_of(data, "key_rklive00007")
    assert "secret-in-name" not in rules_of(data, "key_unknown0008")
    for secret in ("TESTSECRET", "RESTRICTED"):
        assert secret not in outcome.out
    names = {key["id"]: key["name"] for key in data["keys"]}
    assert names["key_sktest00006"] == "ci sk_test_…1234"
    # A publishable key is public by design: kept as written, no finding.
    assert names["key_pk000000005"] == "widget pk_live_PUBLISHABLE1234abcd"
