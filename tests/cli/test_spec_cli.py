"""``keyscope spec``: the JSON contract, text output, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from keyscope.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_specs" / "partner-api.yaml"
CANARY = "sk_live_CANARY0123456789abcdefXYZ"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No keyscope.toml and no KEYSCOPE_* variables from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("KEYSCOPE_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["spec", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def small_spec(tmp_path: Path, **overrides: Any) -> Path:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Partner", "version": "7"},
        "x-write-implies-read": True,
        "servers": [{"url": "https://api.example.com/v1"}],
        "components": {
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "https://x/t",
                            "scopes": {
                                "invoices:read": "Read invoices.",
                                "invoices:write": "Write invoices.",
                                "payments:read": "Read payments.",
                                "unused:read": "Nobody needs this.",
                            },
                        }
                    },
                }
            }
        },
        "paths": {
            "/invoices/{invoice_id}": {
                "get": {
                    "operationId": "getInvoice",
                    "security": [{"oauth": ["invoices:read"]}],
                    "responses": {},
                },
                "delete": {"security": [{"oauth": ["invoices:write"]}], "responses": {}},
            },
            "/invoices": {
                "get": {
                    "security": [{"oauth": ["invoices:read"]}, {"oauth": ["payments:read"]}],
                    "responses": {},
                }
            },
            "/health": {"get": {"security": [], "responses": {}}},
            "/export": {
                "get": {
                    "security": [{"oauth": ["invoices:write", "payments:read"]}],
                    "responses": {},
                }
            },
        },
    }
    document.update(overrides)
    path = tmp_path / "partner.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- JSON


def test_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(small_spec(tmp_path)), "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["info"]["title"] == "Partner"
    assert data["info"]["format"] == "openapi 3.1.0"
    assert len(data["info"]["sha256"]) == 64
    assert data["base_paths"] == ["/v1"]
    assert [(o["method"], o["path"]) for o in data["operations"]] == [
        ("GET", "/export"),
        ("GET", "/health"),
        ("GET", "/invoices"),
        ("DELETE", "/invoices/{invoice_id}"),
        ("GET", "/invoices/{invoice_id}"),
    ]
    get_invoice = data["operations"][4]
    assert get_invoice == {
        "method": "GET",
        "path": "/invoices/{invoice_id}",
        "operation_id": "getInvoice",
        "public": False,
        "requirements": [["invoices:read"]],
        "scope_source": "security",
        "multi_scope_list": False,
        "summary": "",
        "tags": [],
        "deprecated": False,
        "uncertain_scopes": [],
    }
    assert data["operations"][0]["requirements"] == [["invoices:write", "payments:read"]]
    assert data["operations"][1]["public"] is True
    assert data["operations"][2]["requirements"] == [["invoices:read"], ["payments:read"]]
    scopes = {s["name"]: s for s in data["scopes"]}
    assert scopes["invoices:read"]["declared"] is True
    assert scopes["invoices:read"]["description"] == "Read invoices."
    assert scopes["invoices:write"]["unlocks"] == [
        "GET /invoices",
        "DELETE /invoices/{invoice_id}",
        "GET /invoices/{invoice_id}",
    ]
    assert scopes["invoices:write"]["required_by"] == [
        "GET /export",
        "DELETE /invoices/{invoice_id}",
    ]
    assert data["implications"] == [["invoices:write", "invoices:read"]]
    assert data["implications_reason"] == "declared by the spec (x-write-implies-read: true)"
    assert data["semantics"] == "all"
    assert data["semantics_reason"]
    rules = {(a["rule"], a["operation"], a["scope"]) for a in data["anomalies"]}
    assert ("unused-scope", "", "unused:read") in rules
    assert (
        "read-method-needs-write",
        "GET /export",
        "invoices:write",
    ) in rules  # every alternative writes
    for anomaly in data["anomalies"]:
        assert set(anomaly) == {"rule", "severity", "operation", "scope", "message"}
    assert out.endswith("}\n")


def test_json_is_deterministic_ascii_and_sorted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = small_spec(tmp_path, info={"title": "Zahlungen \u2013 \u202eevil", "version": "1"})
    _, first, _ = run(capsys, str(spec), "--format", "json")
    _, second, _ = run(capsys, str(spec), "--format", "json")
    assert first == second
    assert first.isascii()
    assert "\\u202e" in first
    assert (
        json.dumps(json.loads(first), ensure_ascii=True, sort_keys=True, indent=2) + "\n" == first
    )


def test_semantics_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(small_spec(tmp_path)), "--format", "json", "--semantics", "any")
    data = json.loads(out)
    assert code == 0
    assert data["semantics"] == "any"
    export = next(o for o in data["operations"] if o["path"] == "/export")
    assert export["requirements"] == [["invoices:write"], ["payments:read"]]


def test_output_file_is_written_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.json"
    code, out, err = run(
        capsys, str(small_spec(tmp_path)), "--format", "json", "--output", str(target)
    )
    assert (code, out) == (0, "")
    assert "wrote" in err
    assert json.loads(target.read_text(encoding="utf-8"))["schema_version"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []


def test_spec_path_from_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = small_spec(tmp_path)
    (tmp_path / "keyscope.toml").write_text(
        f'spec = "{spec.name}"\nsemantics = "any"\n', encoding="utf-8"
    )
    code, out, _ = run(capsys, "--format", "json")
    assert code == 0
    assert json.loads(out)["semantics"] == "any"


def test_no_spec_at_all_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("keyscope: error:")


# --------------------------------------------------------------------------- text


def test_text_output_for_people(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(small_spec(tmp_path)))
    assert code == 0
    assert "Partner 7 (openapi 3.1.0)" in out
    assert "base path: /v1" in out
    assert (
        "  invoices:write  (write, area invoices)\n"
        "      Write invoices.\n"
        "      unlocks 3 operation(s)" in out
    )
    assert re.search(r"\n  GET +/invoices +invoices:read \| payments:read\n", out)
    assert re.search(r"\n  GET +/export +invoices:write \+ payments:read\n", out)
    assert re.search(r"\n  GET +/health +public\n", out)
    assert "invoices:write -> invoices:read" in out
    assert out.index("Scopes") < out.index("Operations") < out.index("Anomalies")


def test_text_output_is_terminal_safe_and_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = f"\x1b]0;pwned\x07\x1b[2J[bold]x[/bold] {CANARY} \u202e"
    spec = small_spec(
        tmp_path,
        info={"title": hostile, "version": "1"},
        paths={
            "/a": {
                "get": {
                    "summary": hostile,
                    "security": [{"oauth": ["invoices:read"]}],
                    "responses": {},
                }
            }
        },
    )
    document = json.loads(spec.read_text(encoding="utf-8"))
    document["components"]["securitySchemes"]["oauth"]["flows"]["clientCredentials"]["scopes"][
        "invoices:read"
    ] = hostile
    spec.write_text(json.dumps(document), encoding="utf-8")
    for fmt in ("text", "json"):
        code, out, err = run(capsys, str(spec), "--format", fmt)
        assert code == 0
        assert CANARY[8:20] not in out + err
        assert "\x1b" not in out
        assert "\x07" not in out
    _, text, _ = run(capsys, str(spec))
    assert "\u202e" not in text
    assert "⟨U+202E⟩" in text


def test_sample_spec_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(SAMPLE), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert len(data["operations"]) >= 40
    assert data["operations"] == sorted(data["operations"], key=lambda o: (o["path"], o["method"]))
    assert all(alt == sorted(alt) for o in data["operations"] for alt in o["requirements"])
    code, out, _ = run(capsys, str(SAMPLE))
    assert code == 0
    assert "GET     /health" in out


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("openapi: 3.0.0\npaths: [\n", "not valid YAML"),
        ('{"openapi": "3.0.0", "paths": {}', "not valid JSON"),
        ("- just\n- a list\n", "not an OpenAPI or Swagger document"),
        ("openapi: 9.9.9\npaths: {}\n", "unsupported OpenAPI version"),
        ("swagger: '1.2'\npaths: {}\n", "unsupported Swagger version"),
        ("title: not a spec\n", "no 'openapi' or 'swagger' field"),
    ],
)
def test_bad_specs_exit_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragment: str
) -> None:
    suffix = ".json" if content.startswith("{") else ".yaml"
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, str(path))
    assert (code, out) == (3, "")
    assert err.count("\n") == 1
    assert err.startswith(f"keyscope: error: {path}")
    assert fragment in err
    assert "Traceback" not in err


def test_missing_file_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "absent.yaml"))
    assert code == 3
    assert err == f"keyscope: error: {tmp_path / 'absent.yaml'}: file not found\n"


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["spec", str(small_spec(tmp_path)), "--format", "xml"])
    assert caught.value.code == 2


def test_allow_external_refs_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "items.yaml").write_text(
        "a:\n  get:\n    security: [{oauth: [invoices:read]}]\n    responses: {}\n",
        encoding="utf-8",
    )
    spec = small_spec(tmp_path, paths={"/a": {"$ref": "items.yaml#/a"}})
    code, _, err = run(capsys, str(spec))
    assert code == 3
    assert "external refs are disabled" in err
    code, out, _ = run(capsys, str(spec), "--allow-external-refs", "--format", "json")
    assert code == 0
    assert json.loads(out)["operations"][0]["requirements"] == [["invoices:read"]]
