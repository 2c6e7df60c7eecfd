"""The suppressions file: reading, malformed entries (exit 3 material), appending."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from keyscope.errors import ConfigError
from keyscope.model import Suppression
from keyscope.sources.suppressions import append_suppression, load_suppressions

GOOD = """\
# Reviewed in the Q4 access review.
suppressions:
  - rule: unused-scope
    key: key_recon
    scope: payments:write   # quarter-end corrections
    reason: "Quarter-end correction job"
    owner: payments@example.com
    expires: 2026-12-31
  - rule: dormant-key
    key: key_legacy_dormant
    reason: Kept for the yearly audit export
    owner: finance@example.com
    expires: 2027-01-15
"""


def write(tmp_path: Path, text: str, name: str = "keyscope-suppressions.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_entries_in_file_order_with_their_source(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    first, second = load_suppressions(path)
    assert first == Suppression(
        "unused-scope",
        "key_recon",
        "payments:write",
        "Quarter-end correction job",
        "payments@example.com",
        date(2026, 12, 31),
        f"{path}#1",
    )
    assert second.scope == "" and second.expires == date(2027, 1, 15)
    assert second.source == f"{path}#2"


def test_bare_list_subject_alias_and_data_wide_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '- {rule: unmapped-route, key: "", subject: GET /legacy, reason: r, owner: o,'
        " expires: 2026-12-01}\n",
    )
    [entry] = load_suppressions(path)
    assert entry.key_id == "" and entry.scope == "GET /legacy"


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "suppressions:\n", "suppressions: []\n"]
)
def test_empty_registers(tmp_path: Path, text: str) -> None:
    assert load_suppressions(write(tmp_path, text)) == ()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("expires: 2024-13-01", "entry 1: expires: '2024-13-01' is not a real date"),
        ("expires: 2024-02-30", "is not a real date"),
        ("expires: next week", "expected a date like 2026-12-31"),
        ("expires: 20261231", "expected a date like 2026-12-31"),
        ("", "missing required field 'expires'"),
    ],
)
def test_bad_expiry_is_a_config_error_naming_file_and_entry(
    tmp_path: Path, entry: str, expected: str
) -> None:
    body = "suppressions:\n  - rule: unused-scope\n    key: k\n    reason: r\n    owner: o\n"
    path = write(tmp_path, body + (f"    {entry}\n" if entry else ""))
    with pytest.raises(ConfigError) as caught:
        load_suppressions(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "entry 1" in message and expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("rule: r\nkey: k\nowner: o\nexpires: 2026-12-01", "missing required field 'reason'"),
        (
            "rule: r\nkey: k\nreason: '  '\nowner: o\nexpires: 2026-12-01",
            "reason: must not be empty",
        ),
        (
            "rule: r\nkey: k\nreason: x\nowner: o\nexpires: 2026-12-01\nexpiry: 2027-01-01",
            "unknown field 'expiry'",
        ),
        (
            "rule: r\nkey: 12345\nreason: x\nowner: o\nexpires: 2026-12-01",
            "key: expected text, got int",
        ),
        (
            "rule: r\nkey: k\nreason: x\nowner: o\nexpires: 2026-12-01\nscope: a\nsubject: b",
            "not both",
        ),
    ],
)
def test_malformed_entries(tmp_path: Path, fields: str, expected: str) -> None:
    good = "  - rule: ok\n    key: k\n    reason: x\n    owner: o\n    expires: 2026-12-01\n"
    bad = "\n".join(
        ("  - " if i == 0 else "    ") + line for i, line in enumerate(fields.split("\n"))
    )
    path = write(tmp_path, "suppressions:\n" + good + bad + "\n")
    with pytest.raises(ConfigError) as caught:
        load_suppressions(path)
    assert "entry 2" in str(caught.value) and expected in str(caught.value)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_suppressions(write(tmp_path, "suppressions: [\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_suppressions(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="unknown top-level key 'supressions'"):
        load_suppressions(write(tmp_path, "supressions: []\n"))


NEW = Suppression(
    "denied-requests",
    "key_probed",
    "POST /v1/payouts",
    'Pen test "Q4" #2',
    "secops@example.com",
    date(2026, 11, 30),
)


def test_append_keeps_existing_text_and_comments_byte_for_byte(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    append_suppression(path, NEW)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(GOOD)
    entries = load_suppressions(path)
    assert len(entries) == 3
    assert (entries[2].rule, entries[2].key_id, entries[2].scope, entries[2].reason) == (
        NEW.rule,
        NEW.key_id,
        NEW.scope,
        NEW.reason,
    )
    assert list(tmp_path.iterdir()) == [path], "no temporary files left behind"


def test_append_creates_the_file_and_handles_column_zero_lists(tmp_path: Path) -> None:
    fresh = tmp_path / "new.yaml"
    append_suppression(fresh, NEW)
    assert load_suppressions(fresh)[0].owner == NEW.owner
    flush = write(
        tmp_path,
        "suppressions:\n- rule: a\n  key: k\n  reason: r\n  owner: o\n  expires: 2026-12-01\n",
        "flush.yaml",
    )
    append_suppression(flush, NEW)
    assert [e.rule for e in load_suppressions(flush)] == ["a", NEW.rule]


def test_append_to_a_flow_list_rewrites_and_keeps_every_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path, "suppressions: [{rule: a, key: k, reason: r, owner: o, expires: 2026-12-01}]\n"
    )
    append_suppression(path, NEW)
    assert [e.rule for e in load_suppressions(path)] == ["a", NEW.rule]


def test_append_refuses_a_malformed_file_and_leaves_it_untouched(tmp_path: Path) -> None:
    bad = (
        "suppressions:\n  - rule: a\n    key: k\n    reason: r\n    owner: o\n"
        "    expires: 2024-13-01\n"
    )
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError):
        append_suppression(path, NEW)
    assert path.read_text(encoding="utf-8") == bad


def test_append_refuses_an_entry_without_reason(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError, match="reason must not be empty"):
        append_suppression(path, Suppression("r", "k", "", " ", "o", date(2026, 12, 1)))
    assert path.read_text(encoding="utf-8") == GOOD
