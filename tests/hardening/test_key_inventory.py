"""Key inventory rows of BAD-INPUTS (#17-#29) through ``keyscope audit``.

Names are free text: the markup, escape, HTML, template, formula and control-character
rows (#17-#23, #25, #26) are checked at every sink by ``test_escaping.py`` and the
secret rows (#24, #28) by ``test_secrets_canary.py``.  This file adds what is specific to
the inventory: homoglyph and bidi names become findings (#21), a 10 MB name costs
nothing and never crashes (#26), the key id is the identity (#27), secret fields never
reach a value (#28), and secrets in names are classified by prefix (#29).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from keyscope.sources.keys import MAX_TEXT_CHARS, TRUNCATION_MARK, parse_keys

from .conftest import World, key_record
from .payloads import TERMINAL_FORBIDDEN


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


def test_26_a_10mb_name_is_cheap_and_shown_shortened(
    world: World, cli: Callable[..., Any], tmp_path: Any
) -> None:
    huge = "n" * (10 << 20)
    world.keys += [key_record("key_hugename009", ["invoices:read"], name=huge)]
    world.write()
    started = time.monotonic()
    html = tmp_path / "r.html"
    outcome = cli("audit", *world.flags(), "--format", "json", "--html", str(html))
    assert outcome.code == 0, outcome.err
    assert time.monotonic() - started < 30
    [key] = [key for key in json.loads(outcome.out)["keys"] if key["id"] == "key_hugename009"]
    # Documented at ingest (keys.py MAX_TEXT_CHARS): cut with a visible marker, not silently.
    assert key["name"] == "n" * MAX_TEXT_CHARS + TRUNCATION_MARK
    assert html.stat().st_size < 2 << 20
    text = cli("audit", *world.flags()).out
    assert max(len(line) for line in text.splitlines()) < 5000


def test_26_empty_nul_crlf_and_surrogate_names_never_crash(
    world: World, cli: Callable[..., Any]
) -> None:
    names = ["", "a\x00b", "line\r\nforged: entry", "lone\ud800", "\x1b]0;t\x07"]
    for index, name in enumerate(names):
        world.keys.append(key_record(f"key_oddname{index:04d}", ["invoices:read"]))
        world.keys[-1]["name"] = name
    world.write()
    outcome = cli("audit", *world.flags())
    assert outcome.code == 0
    assert TERMINAL_FORBIDDEN.search(outcome.out) is None
    assert not any(line.startswith("forged: entry") for line in outcome.out.splitlines())
    data = audit_json(cli, world)
    by_id = {key["id"]: key["name"] for key in data["keys"]}
    for index, name in enumerate(names):
        assert by_id[f"key_oddname{index:04d}"] == name  # raw in JSON, escaped by the serializer


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
