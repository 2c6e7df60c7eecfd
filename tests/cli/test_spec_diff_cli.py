"""``keyscope spec-diff``: the sample spec against a copy where payments:read was split."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from keyscope.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_specs" / "partner-api.yaml"
KEYS = REPO / "sample_specs" / "keys.yaml"
SEARCH_SECURITY = 'security: [{partnerOAuth: ["payments:read"]}]'


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No keyscope.toml and no KEYSCOPE_* variables from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("KEYSCOPE_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["spec-diff", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def split_spec(tmp_path: Path) -> Path:
    """The sample with ``payments:read`` split: searching payments needs ``disputes:read``."""
    text = SAMPLE.read_text()
    start = text.index("operationId: searchPayments")
    at = text.index(SEARCH_SECURITY, start)
    text = (
        text[:at]
        + 'security: [{partnerOAuth: ["disputes:read"]}]'
        + text[at + len(SEARCH_SECURITY) :]
    )
    anchor = '            "payments:write": Create'
    assert anchor in text
    text = text.replace(anchor, '            "disputes:read": Read disputes.\n' + anchor, 1)
    target = tmp_path / "partner-api-next.yaml"
    target.write_text(text)
    return target


def test_the_split_and_whose_privilege_it_changes(
    capsys: pytest.CaptureFixture[str], split_spec: Path
) -> None:
    code, out, err = run(
        capsys, str(SAMPLE), str(split_spec), "--keys", str(KEYS), "--format", "json"
    )
    assert code == 0 and err == ""
    document = json.loads(out)
    assert document["schema_version"] == 1 and document["kind"] == "keyscope-spec-diff"
    assert document["changed"] is True
    assert document["scopes"]["added"] == [
        {"name": "disputes:read", "description": "Read disputes."}
    ]
    assert document["scopes"]["removed"] == []
    assert document["likely_renames"] == [
        {
            "kind": "split",
            "scope": "payments:read",
            "removed": False,
            "successors": ["payments:read", "disputes:read"],
            "operations": ["GET /payments/search"],
        }
    ]
    (changed,) = document["operations"]["requirement_changed"]
    assert changed == {
        "operation": "GET /payments/search",
        "operation_id": "searchPayments",
        "old": {"public": False, "requirements": [["payments:read"]]},
        "new": {"public": False, "requirements": [["disputes:read"]]},
    }
    keys = document["keys"]
    assert keys["active"] == 20 and keys["revoked_skipped"] == 1
    entries = {entry["id"]: entry for entry in keys["entries"]}
    # The reconciliation tool (payments:read only) loses payment search.
    recon = entries["key_awb5yg5algvpltub"]
    assert recon["lost"] == ["GET /payments/search"] and recon["gained"] == []
    assert recon["operations_before"] - recon["operations_after"] == 1
    # payments:write implies payments:read, not disputes:read: its holders lose it too.
    assert entries["key_u928iyd5xdotg7r5"]["lost"] == ["GET /payments/search"]
    # Legacy full-access keys hold each version's catalog: unchanged.
    assert not any(entry["full_access"] for entry in keys["entries"])
    # Every listed key really held a payments scope; no one else changed.
    for entry in keys["entries"]:
        assert {"payments:read", "payments:write"} & set(entry["scopes"]), entry["id"]
    assert keys["changed"] + keys["unchanged"] == keys["active"]


def test_text_output_and_fail_on_change(
    capsys: pytest.CaptureFixture[str], split_spec: Path
) -> None:
    code, out, _ = run(capsys, str(SAMPLE), str(split_spec), "--keys", str(KEYS))
    assert code == 0
    assert "scopes: 1 added, 0 removed, 0 re-described" in out
    assert "split  payments:read (kept) -> payments:read, disputes:read" in out
    assert "~ GET /payments/search  payments:read -> disputes:read" in out
    assert 'key_awb5yg5algvpltub "Reconciliation tool": 4 -> 3 operations' in out
    assert out.rstrip().endswith("changed.")
    code, _, _ = run(capsys, str(SAMPLE), str(split_spec), "--fail-on-change")
    assert code == 1


def test_the_same_spec_is_no_change_even_with_fail_on_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, str(SAMPLE), str(SAMPLE), "--keys", str(KEYS), "--fail-on-change")
    assert code == 0
    assert "keys: 20 active re-mapped (1 revoked skipped); 0 change effective privilege" in out
    assert out.rstrip().endswith("no change.")


def test_json_is_deterministic_and_written_atomically(
    capsys: pytest.CaptureFixture[str], split_spec: Path, tmp_path: Path
) -> None:
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    args = (str(SAMPLE), str(split_spec), "--keys", str(KEYS), "--format", "json")
    assert run(capsys, *args, "--output", str(first))[0] == 0
    code, out, err = run(capsys, *args, "-o", str(second))
    assert code == 0 and out == "" and f"wrote {second}" in err
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert text.endswith("\n") and text.isascii()
    assert json.loads(text)["keys"] is not None
    assert (
        json.loads(run(capsys, str(SAMPLE), str(split_spec), "--format", "json")[1])["keys"] is None
    )


def test_a_bad_spec_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.1.0\npaths: [\n")
    code, out, err = run(capsys, str(SAMPLE), str(broken))
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "broken.yaml" in err


def test_a_missing_inventory_is_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(SAMPLE), str(SAMPLE), "--keys", str(tmp_path / "none.yaml"))
    assert code == 3 and "none.yaml" in err and err.count("\n") == 1


def test_untrusted_names_are_terminal_safe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, split_spec: Path
) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        '- id: key_evil\n  name: "\\e[31mred\\u202e"\n  scopes: [payments:read]\n'
        "  created_at: 2024-01-01\n"
    )
    code, out, _ = run(capsys, str(SAMPLE), str(split_spec), "--keys", str(keys))
    assert code == 0 and "key_evil" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "spec-diff" in capsys.readouterr().out


@pytest.mark.parametrize("which", ["new", "keys"])
def test_the_diff_is_never_written_over_an_input(
    capsys: pytest.CaptureFixture[str], split_spec: Path, tmp_path: Path, which: str
) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_bytes(KEYS.read_bytes())
    target = {"new": split_spec, "keys": keys}[which]
    before = target.read_bytes()
    code, _, err = run(capsys, str(SAMPLE), str(split_spec), "--keys", str(keys), "-o", str(target))
    assert code == 2
    assert "not writing a report over it" in err
    assert target.read_bytes() == before
