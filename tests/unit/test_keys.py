"""The key inventory reader: shapes, fields, secrets, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyscope.errors import KeysFileError
from keyscope.sources.keys import load_keys

REPO = Path(__file__).resolve().parents[2]
CANARY = "sk_live_CANARYabcdefghijklmnop1234"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_inventory_loads_with_line_sources() -> None:
    keys = load_keys(REPO / "sample_specs" / "keys.yaml")
    assert len(keys) >= 15
    assert len({key.key_id for key in keys}) == len(keys)
    first = keys[0]
    # The source points at the line where the record starts ("- id: ...").
    line = int(first.source.rsplit(":", 1)[1])
    text = (REPO / "sample_specs" / "keys.yaml").read_text().splitlines()
    assert first.key_id in text[line - 1]
    assert any(key.full_access for key in keys)
    assert any(key.status == "revoked" for key in keys)


@pytest.mark.parametrize(
    "written", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1969-07-20"]
)
def test_timestamps_outside_the_years_keyscope_reasons_about_are_refused(
    tmp_path: Path, written: str
) -> None:
    # The first two overflowed converting to UTC: an internal error (exit 70) before.
    path = write(tmp_path, "keys.yaml", f"- id: key_a\n  scopes: []\n  created_at: '{written}'\n")
    with pytest.raises(KeysFileError) as caught:
        load_keys(path)
    assert "created_at" in str(caught.value)
    assert "keys.yaml:1" in str(caught.value)


def test_go_zero_time_means_never(tmp_path: Path) -> None:
    text = "- id: key_a\n  scopes: []\n  last_used_at: '0001-01-01T00:00:00Z'\n"
    (key,) = load_keys(write(tmp_path, "keys.yaml", text))
    assert key.last_used_at is None


def test_yaml_fields_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "keys.yaml",
        """
keys:
  - id: key_a
    name: Accounting
    scopes: [invoices:read, customers:read]
    created_at: "2025-01-02T03:04:05Z"
    last_used_at: 2026-10-30
    owner: finance
    environment: production
    description: ignored
  - id: key_b
""",
    )
    a, b = load_keys(path)
    assert a.key_id == "key_a"
    assert a.scopes == {"invoices:read", "customers:read"}
    assert a.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert a.last_used_at == datetime(2026, 10, 30, tzinfo=UTC)
    assert (a.owner, a.environment, a.status) == ("finance", "production", "active")
    assert a.source == f"{path}:3"
    assert b.scopes == frozenset() and not b.full_access and b.name == ""
    assert b.source == f"{path}:11"


def test_full_access_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "keys.yaml",
        """
- {id: legacy1, full_access: true}
- {id: legacy2, scopes: null}
- {id: legacy3, full_access: true, scopes: [invoices:read]}
- {id: scoped, scopes: []}
""",
    )
    keys = {key.key_id: key for key in load_keys(path)}
    assert keys["legacy1"].full_access and keys["legacy2"].full_access
    assert keys["legacy3"].full_access and keys["legacy3"].scopes == frozenset()
    assert not keys["scoped"].full_access


@pytest.mark.parametrize("member", ["keys", "data"])
def test_json_object_with_list_member(tmp_path: Path, member: str) -> None:
    document = {member: [{"id": "key_1", "scopes": ["payments:read"]}], "has_more": False}
    path = write(tmp_path, "keys.json", json.dumps(document))
    (key,) = load_keys(path)
    assert key.scopes == {"payments:read"}
    assert key.source.startswith(str(path))


def test_json_plain_list(tmp_path: Path) -> None:
    path = write(
        tmp_path, "keys.json", json.dumps([{"id": "k1"}, {"id": "k2", "status": "revoked"}])
    )
    keys = load_keys(path)
    assert [key.key_id for key in keys] == ["k1", "k2"]
    assert keys[1].status == "revoked"


def test_csv_inventory(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "keys.csv",
        "id,name,scopes,full_access,status,created_at\n"
        'key_1,"Billing, EU",invoices:read customers:read,false,active,2025-01-01\n'
        "key_2,Legacy,,true,,\n"
        "\n"
        "key_3,,payments:read,,revoked,\n",
    )
    keys = load_keys(path)
    assert [key.key_id for key in keys] == ["key_1", "key_2", "key_3"]
    assert keys[0].name == "Billing, EU"
    assert keys[0].scopes == {"invoices:read", "customers:read"}
    assert keys[0].source == f"{path}:2"
    assert keys[1].full_access and keys[1].status == "active"
    assert keys[2].status == "revoked" and keys[2].source == f"{path}:5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # An unterminated quote used to swallow every later key into one name.
        (
            'id,name,scopes\nkey_1,"Billing export,customers:read\nkey_2,Refunds,refunds:write\n',
            r"keys\.csv:2: a quote opened on this line is never closed",
        ),
        (
            'id,name,scopes\nkey_1,"Billing,x\nkey_2,Refunds",refunds:write\nkey_3,P,payouts:read\n',
            r"keys\.csv:2: a cell runs over several lines",
        ),
        ("id,name,scopes\nkey_1,Billing\n", r"keys\.csv:2: row has 2 cells but the header has 3"),
    ],
)
def test_csv_rows_that_would_lose_keys_are_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "keys.csv", text)
    with pytest.raises(KeysFileError, match=message):
        load_keys(path)


def test_csv_bad_full_access_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.csv", "id,full_access\nk1,maybe\n")
    with pytest.raises(KeysFileError, match=r"keys\.csv:2: full_access"):
        load_keys(path)


def test_csv_without_id_column(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.csv", "name,scopes\nx,invoices:read\n")
    with pytest.raises(KeysFileError, match="no 'id' column"):
        load_keys(path)


@pytest.mark.parametrize(
    ("value", "got"),
    [("12345", "number"), ("true", "boolean"), ("null", "null"), ("[a]", "list")],
)
def test_id_must_be_a_string(tmp_path: Path, value: str, got: str) -> None:
    path = write(tmp_path, "keys.yaml", f"- id: {value}\n  name: x\n")
    with pytest.raises(KeysFileError, match=f"id: expected string, got {got}") as caught:
        load_keys(path)
    assert str(path) in str(caught.value)


def test_yaml_11_lookalikes_stay_text(tmp_path: Path) -> None:
    # 0777, 12:30, 1.10 and a date are kept as written, never converted.
    path = write(tmp_path, "keys.yaml", "- id: 0777\n- id: 12:30\n- id: 1.10\n- id: 2024-01-02\n")
    assert [key.key_id for key in load_keys(path)] == ["0777", "12:30", "1.10", "2024-01-02"]


def test_duplicate_ids_name_both_records(tmp_path: Path) -> None:
    path = write(
        tmp_path, "keys.yaml", "- id: dup\n  name: one\n- id: other\n- id: dup\n  name: two\n"
    )
    with pytest.raises(KeysFileError) as caught:
        load_keys(path)
    message = str(caught.value)
    assert "duplicate key id 'dup'" in message
    assert f"{path}:1" in message and f"{path}:4" in message


def test_missing_id(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.yaml", "- name: nameless\n")
    with pytest.raises(KeysFileError, match="missing required field 'id'"):
        load_keys(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: k\n  status: expired\n", "status: expected active or revoked"),
        ("- id: k\n  scopes: invoices:read\n", "scopes: expected a list"),
        ("- id: k\n  scopes: [true]\n", r"scopes\[0\]: expected string, got boolean"),
        ("- id: k\n  full_access: 'yes'\n", "full_access: expected true or false"),
        ("- id: k\n  created_at: 2024-13-01\n", "created_at: not an ISO 8601"),
        ("- id: k\n  name: {a: 1}\n", "name: expected string"),
        ("- just a string\n", "expected an object"),
        ("{items: []}\n", "under 'keys' or 'data'"),
        ("keys: 3\n", "'keys' is a number"),
        ("keys: [{id: a}]\ndata: [{id: b, full_access: true}]\n", "holds both 'keys' and 'data'"),
        ("- id: k\n- id: k2\n  id: again\n", "duplicate key 'id'"),
    ],
)
def test_bad_fields_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "keys.yaml", text)
    with pytest.raises(KeysFileError, match=message) as caught:
        load_keys(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_secret_fields_dropped_and_recorded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "keys.yaml",
        f"""
- id: key_1
  name: Billing
  secret: {CANARY}
  Token: whatever
  metadata:
    note: {CANARY}
""",
    )
    (key,) = load_keys(path)
    assert key.redacted_fields == ("Token", "metadata", "secret")
    assert CANARY[8:20] not in repr(key)


def test_secret_in_name_is_redacted(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.yaml", f"- id: key_1\n  name: 'prod {CANARY} key'\n  owner: ok\n")
    (key,) = load_keys(path)
    assert key.redacted_fields == ("name",)
    assert CANARY[8:20] not in key.name
    assert key.name.startswith("prod sk_live_") and key.name.endswith("1234 key")


def test_publishable_key_in_name_is_not_a_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.yaml", "- id: key_1\n  name: 'widget pk_live_abcdefghijkl1234'\n")
    (key,) = load_keys(path)
    assert key.redacted_fields == ()
    assert key.name == "widget pk_live_abcdefghijkl1234"


def test_secret_looking_id_is_refused_without_echo(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.yaml", f"- id: {CANARY}\n")
    with pytest.raises(KeysFileError, match="looks like a secret") as caught:
        load_keys(path)
    assert CANARY[8:20] not in str(caught.value)


def test_untrusted_names_are_kept_verbatim(tmp_path: Path) -> None:
    names = [
        "[link=https://evil.example]rotate me[/link]",
        "[/b] prod",
        "\x1b[2J\x1b]0;pwned\x07",
        "\u202eevil\u200b",
        "</script><img src=x onerror=alert(1)>",
        "{{7*7}}",
        '=HYPERLINK("https://x")',
        "a\r\nb\x00",
        "\ud800 lone",
    ]
    records = [{"id": f"k{i}", "name": name} for i, name in enumerate(names)]
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    assert [key.name for key in load_keys(path)] == names


def test_absurdly_long_free_text_is_kept_whole(tmp_path: Path) -> None:
    """No cut at ingest: the JSON report carries the whole value, displays shorten it."""
    name = "x" * 1_000_000 + " end"
    records = [{"id": "k", "name": name, "owner": "o" * 500_000, "environment": "e" * 70_000}]
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    (key,) = load_keys(path)
    assert (key.name, key.owner, key.environment) == (name, "o" * 500_000, "e" * 70_000)
    csv_path = tmp_path / "keys.csv"
    csv_path.write_text(f"id,name\nk,{name}\n", encoding="utf-8")
    (key,) = load_keys(csv_path)
    assert key.name == name


def test_a_secret_anywhere_in_a_long_name_is_redacted(tmp_path: Path) -> None:
    secret = "sk_live_LONGNAMEa1b2c3d4e5f6"
    name = "a " * 300_000 + secret + " tail"
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([{"id": "k", "name": name}]), encoding="utf-8")
    (key,) = load_keys(path)
    assert "LONGNAME" not in key.name
    assert key.name == "a " * 300_000 + "sk_live_…e5f6 tail"
    assert key.redacted_fields == ("name",)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeysFileError, match="file not found"):
        load_keys(tmp_path / "nope.yaml")


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    path = write(tmp_path, "keys.yaml", "\n".join(lines) + "\n")
    with pytest.raises(KeysFileError):
        load_keys(path)
