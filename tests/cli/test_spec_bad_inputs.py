"""Every spec row of /work/shared/BAD-INPUTS.md (#1-#14, #16), end to end.

Rows that are errors run through ``keyscope spec`` and must give exit 3 and exactly one
stderr line naming the file and the place, with no traceback, in bounded time.  Rows
that are about modelling (#5, #6, #10, #12, #13, #14) check what the loader makes of
them.  Bad files are generated in ``tmp_path``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from keyscope.cli import main
from keyscope.sources.openapi import SpecOptions, load_spec

HEAD = "openapi: 3.0.3\ninfo: {title: T, version: '1'}\n"
SCHEMES = (
    "components:\n  securitySchemes:\n    oauth:\n      type: oauth2\n      flows:\n"
    "        clientCredentials:\n          tokenUrl: https://x/t\n"
    "          scopes: {a:read: A, a:write: B}\n"
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("KEYSCOPE_"):
            monkeypatch.delenv(name)


def fails_cleanly(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> str:
    """Run ``keyscope spec``; assert exit 3 and one clean line; return that line."""
    code = main(["spec", str(path), *flags])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"keyscope: error: {path}")
    assert "Traceback" not in captured.err
    return captured.err


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# #1 billion laughs: 306 bytes, 9 alias levels.
@pytest.mark.timeout(10)
def test_01_alias_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    assert len(path.read_bytes()) < 600
    err = fails_cleanly(capsys, path)
    assert "alias bomb" in err
    assert f"{path}:" in err  # with a line:col


# #2 self-referential alias.
@pytest.mark.timeout(10)
def test_02_self_referential_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails_cleanly(capsys, write(tmp_path, "self.yaml", "a: &x [*x]\n"))
    assert ":1:8: alias *x refers to a node that contains it (a cycle)" in err


# #3 deep nesting.
@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.yaml", "[" * 20000),
        ("deep.json", '{"a":' * 100000),
        ("deep-block.yaml", "- " * 50000 + "x\n"),
    ],
)
def test_03_deep_nesting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str
) -> None:
    err = fails_cleanly(capsys, write(tmp_path, name, content))
    assert "nest" in err
    assert "RecursionError" not in err


# #4 duplicate path and duplicate scope key.
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "paths.yaml",
            HEAD + "paths:\n  /a: {}\n  /b: {}\n  /a: {}\n",
            ":6:3: duplicate key '/a' (first at line 4, again at line 6)",
        ),
        (
            "scopes.yaml",
            HEAD + "paths: {}\ncomponents:\n  securitySchemes:\n    o:\n      type: oauth2\n"
            "      flows:\n        implicit:\n          authorizationUrl: u\n          scopes:\n"
            "            a:read: one\n            a:read: two\n",
            "duplicate key 'a:read' (first at line 12, again at line 13)",
        ),
        (
            "paths.json",
            '{"openapi": "3.0.0",\n "paths": {\n  "/a": {},\n  "/a": {}}}',
            "duplicate key '/a' (first at line 3, again at line 4)",
        ),
    ],
)
def test_04_duplicate_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, expected: str
) -> None:
    assert expected in fails_cleanly(capsys, write(tmp_path, name, content))


# #5 on/no/yes/off stay strings.
def test_05_norway_values_stay_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "norway.yaml",
        HEAD + "paths:\n  /a:\n    get:\n      operationId: no\n      tags: [on, off, NO]\n"
        "      security: [{k: [yes]}]\n      responses: {}\n",
    )
    spec = load_spec(path)
    operation = spec.operation("GET /a")
    assert operation.operation_id == "no"
    assert operation.tags == ("on", "off", "NO")
    assert operation.requirements == (frozenset({"yes"}),)


def test_05_real_booleans_where_names_belong_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "bool.yaml",
        HEAD + "paths:\n  /a:\n    get:\n      security: [{k: [true]}]\n      responses: {}\n",
    )
    err = fails_cleanly(capsys, path)
    assert "expected a scope name (string), got a boolean" in err
    assert "#/paths/~1a/get/security/0/k/0" in err


# #6 ids and versions keep their text.
def test_06_versions_and_ids_keep_their_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ids.yaml",
        "openapi: 3.0.3\ninfo: {title: T, version: 1.10}\npaths:\n  /a:\n    get:\n"
        "      operationId: 0777\n"
        "      tags: [12:30, 2024-01-02]\n      responses: {}\n",
    )
    spec = load_spec(path)
    assert spec.version == "1.10"
    assert spec.operation("GET /a").operation_id == "0777"
    assert spec.operation("GET /a").tags == ("12:30", "2024-01-02")


# #7 non-string keys.
def test_07_non_string_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails_cleanly(
        capsys, write(tmp_path, "keys.yaml", HEAD + "paths: {}\nx-map:\n  1: a\n  true: b\n")
    )
    assert ":6:3: mapping key 'true' is read as bool, not a string; quote it" in err


# #8 URL references are never fetched.
@pytest.mark.parametrize(
    "reference",
    ["http://169.254.169.254/latest/meta-data/", "https://intranet.example/spec.yaml#/a"],
)
def test_08_url_refs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    path = write(tmp_path, "url.yaml", HEAD + f"paths:\n  /a:\n    $ref: '{reference}'\n")
    err = fails_cleanly(capsys, path, "--allow-external-refs")
    assert "never fetches references" in err
    assert "#/paths/~1a" in err
    unneeded = write(
        tmp_path,
        "url-schema.yaml",
        HEAD + f"paths: {{}}\ncomponents:\n  schemas:\n    A: {{$ref: '{reference}'}}\n",
    )
    assert main(["spec", str(unneeded), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["rule"] for a in data["anomalies"]] == ["external-ref-not-followed"]


# #9 local files outside the folder, file:// URLs.
@pytest.mark.parametrize("reference", ["../../.env#/x", "../outside.yaml#/x", "file:///etc/passwd"])
def test_09_file_refs_outside_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: str
) -> None:
    folder = tmp_path / "api"
    folder.mkdir()
    write(tmp_path, "outside.yaml", "x: {get: {responses: {}}}\n")
    path = write(folder, "spec.yaml", HEAD + f"paths:\n  /x:\n    $ref: '{reference}'\n")
    is_url = reference.startswith("file:")
    err = fails_cleanly(capsys, path)
    assert ("never fetches" if is_url else "external refs are disabled") in err
    err = fails_cleanly(capsys, path, "--allow-external-refs")
    assert ("never fetches" if is_url else "leaves the spec's folder; refused") in err


# #10 recursive schemas and oneOf/allOf cycles.
def test_10_recursive_schemas_analyze_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "tree.yaml",
        HEAD + SCHEMES + "  schemas:\n"
        "    Node: {type: object, properties: {children: {type: array,\n"
        "      items: {$ref: '#/components/schemas/Node'}}}}\n"
        "    A: {oneOf: [{$ref: '#/components/schemas/B'}]}\n"
        "    B: {allOf: [{$ref: '#/components/schemas/A'}]}\n"
        "paths:\n  /tree:\n    get:\n      security: [{oauth: [a:read]}]\n      responses:\n"
        "        '200': {description: ok, content: {application/json:\n"
        "          {schema: {$ref: '#/components/schemas/Node'}}}}\n",
    )
    assert main(["spec", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["operations"][0]["requirements"] == [["a:read"]]
    assert "unresolved-ref" not in {a["rule"] for a in data["anomalies"]}


def test_10_pure_ref_cycle_where_needed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "cycle.yaml",
        HEAD + "x-a: {$ref: '#/x-b'}\nx-b: {$ref: '#/x-a'}\npaths:\n  /a: {$ref: '#/x-a'}\n",
    )
    err = fails_cleanly(capsys, path)
    assert "$ref cycle: #/x-a -> #/x-b -> #/x-a" in err
    assert "#/paths/~1a" in err


# #10 (continued): every self-referential, cyclic or dangling reference shape, where the
# scope model needs the target (one line, exit 3) and where it does not (an anomaly).
HEAD31 = "openapi: 3.1.0\ninfo: {title: T, version: '1'}\n"
SWAGGER = "swagger: '2.0'\ninfo: {title: T, version: '1'}\n"
LONG_CHAIN = "".join(f"x-r{i}: {{$ref: '#/x-r{i + 1}'}}\n" for i in range(70)) + (
    "x-r70: {get: {responses: {}}}\n"
)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("content", "place", "expected"),
    [
        pytest.param(
            HEAD + "paths:\n  /a: {$ref: '#/paths/~1a'}\n",
            "#/paths/~1a",
            "$ref cycle: #/paths/~1a -> #/paths/~1a",
            id="path-item-names-itself",
        ),
        pytest.param(
            HEAD + "paths:\n  /a: {$ref: '#/paths'}\n",
            "#/paths/~1a",
            "$ref cycle: #/paths names #/paths, which contains this reference",
            id="path-item-names-its-parent",
        ),
        pytest.param(
            HEAD + "paths:\n  /a: {$ref: '#'}\n",
            "#/paths/~1a",
            "$ref cycle: # names the whole document, which contains this reference",
            id="path-item-names-the-root-hash",
        ),
        pytest.param(
            HEAD + "paths:\n  /a: {$ref: ''}\n",
            "#/paths/~1a",
            "$ref cycle: # names the whole document, which contains this reference",
            id="path-item-names-the-root-empty",
        ),
        pytest.param(
            HEAD + "paths:\n  /a: {$ref: '#/'}\n",
            "#/paths/~1a",
            "$ref target not found: '#/' (no '' in #)",
            id="path-item-names-the-empty-key",
        ),
        pytest.param(
            HEAD + "x-items: {$ref: '#/x-items/a'}\npaths:\n  /a: {$ref: '#/x-items/a'}\n",
            "#/paths/~1a",
            "$ref cycle: #/x-items/a -> #/x-items/a (a pointer runs through its own reference)",
            id="pointer-through-its-own-reference",
        ),
        pytest.param(
            HEAD + "x-items: {$ref: '#/paths'}\npaths:\n  /a: {$ref: '#/x-items/~1a'}\n",
            "#/paths/~1a",
            "$ref cycle: #/x-items/~1a -> #/x-items/~1a",
            id="pointer-back-to-the-path-item-itself",
        ),
        pytest.param(
            HEAD + "x-a: {$ref: '#/x-b'}\nx-b: {$ref: '#/x-c'}\nx-c: {$ref: '#/x-a'}\n"
            "paths:\n  /a: {$ref: '#/x-a'}\n",
            "#/paths/~1a",
            "$ref cycle: #/x-a -> #/x-b -> #/x-c -> #/x-a",
            id="refs-to-refs-in-a-ring",
        ),
        pytest.param(
            HEAD + "x-a: {$ref: '#/x-b'}\nx-b: {$ref: '#/x-a'}\n"
            "paths:\n  /a: {$ref: '#/x-a/get'}\n",
            "#/paths/~1a",
            "$ref cycle: #/x-b -> #/x-a -> #/x-b (met looking up '#/x-a/get' at #/x-a)",
            id="pointer-into-a-ring",
        ),
        pytest.param(
            HEAD + "components:\n  securitySchemes:\n"
            "    oauth: {$ref: '#/components/securitySchemes/oauth'}\npaths: {}\n",
            "#/components/securitySchemes/oauth",
            "$ref cycle: #/components/securitySchemes/oauth -> #/components/securitySchemes/oauth",
            id="scheme-names-itself",
        ),
        pytest.param(
            HEAD + "components:\n  securitySchemes:\n"
            "    oauth: {$ref: '#/components/securitySchemes'}\npaths: {}\n",
            "#/components/securitySchemes/oauth",
            "names #/components/securitySchemes, which contains this reference",
            id="scheme-names-its-parent",
        ),
        pytest.param(
            HEAD + "components:\n  securitySchemes:\n"
            "    oauth: {$ref: '#/components'}\npaths: {}\n",
            "#/components/securitySchemes/oauth",
            "names #/components, which contains this reference",
            id="scheme-names-components",
        ),
        pytest.param(
            SWAGGER + "securityDefinitions:\n  o: {$ref: '#/x-o'}\n"
            "x-o: {$ref: '#/securityDefinitions/o'}\npaths: {}\n",
            "#/securityDefinitions/o",
            "$ref cycle: #/x-o -> #/securityDefinitions/o -> #/x-o",
            id="swagger-scheme-ring",
        ),
        pytest.param(
            HEAD + LONG_CHAIN + "paths:\n  /a: {$ref: '#/x-r0'}\n",
            "#/paths/~1a",
            "$ref chain longer than 64 references (#/x-r0 -> ... -> #/x-r64)",
            id="chain-over-the-bound",
        ),
    ],
)
def test_10_self_referential_refs_where_needed_stop_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, place: str, expected: str
) -> None:
    path = write(tmp_path, "refs.yaml", content)
    err = fails_cleanly(capsys, path)
    assert err.startswith(f"keyscope: error: {path}:{place}: ")
    assert expected in err
    assert "Recursion" not in err


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            HEAD31 + "$ref: '#/x'\n",
            "$ref cycle: #/x -> #/x (a pointer runs through its own reference) at #/$ref",
            id="root-pointer-through-itself",
        ),
        pytest.param(HEAD31 + "$ref: '#'\n", "$ref cycle: # -> # at #/$ref", id="root-hash"),
        pytest.param(HEAD31 + "$ref: ''\n", "$ref cycle: '' -> '' at #/$ref", id="root-empty"),
        pytest.param(
            HEAD31 + "$ref: '#/'\n",
            "$ref cycle: #/ -> #/ (a pointer runs through its own reference) at #/$ref",
            id="root-slash",
        ),
        pytest.param(
            HEAD31 + "components:\n  parameters:\n    P: {$ref: '#/components/parameters/P'}\n",
            "$ref cycle: #/components/parameters/P -> #/components/parameters/P at "
            "#/components/parameters/P/$ref",
            id="parameter-names-itself",
        ),
        pytest.param(
            HEAD31 + "paths:\n  /a:\n    get:\n      responses: {}\n"
            "      parameters: [{$ref: '#/paths/~1a/get/parameters/0'}]\n",
            "$ref cycle: #/paths/~1a/get/parameters/0 -> #/paths/~1a/get/parameters/0 at "
            "#/paths/~1a/get/parameters/0/$ref",
            id="operation-parameter-names-itself",
        ),
        pytest.param(
            HEAD31 + "x-a: {$ref: '#/x-b'}\nx-b: {$ref: '#/x-a'}\n"
            "components:\n  schemas:\n    S: {$ref: '#/x-a/properties'}\n",
            "$ref cycle: #/x-b -> #/x-a -> #/x-b (met looking up '#/x-a/properties' at #/x-a) "
            "at #/components/schemas/S/$ref",
            id="schema-pointer-into-a-ring",
        ),
        pytest.param(
            HEAD31 + "components:\n  schemas:\n    S: {$ref: '#/components/schemas/T'}\n"
            "    T: {$ref: '#/components/schemas/Gone'}\n",
            "$ref target not found: '#/components/schemas/Gone' (no 'Gone' in "
            "#/components/schemas) at #/components/schemas/S/$ref",
            id="schema-ref-to-a-dangling-ref",
        ),
        pytest.param(
            HEAD31 + "x-list: [1]\ncomponents:\n  schemas:\n    S: {$ref: '#/x-list/\u00b2'}\n",
            "$ref target not found: '#/x-list/\u00b2' (no '\u00b2' in #/x-list)",
            id="index-that-is-not-ascii",
        ),
        pytest.param(
            HEAD31
            + "x-list: [1]\ncomponents:\n  schemas:\n    S: {$ref: '#/x-list/"
            + "9" * 5000
            + "'}\n",
            "$ref target not found: '#/x-list/999",
            id="index-too-long-for-int",
        ),
    ],
)
def test_10_self_referential_refs_elsewhere_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = write(tmp_path, "refs.yaml", content)
    assert main(["spec", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    anomalies = json.loads(captured.out)["anomalies"]
    matching = [a for a in anomalies if expected in a["message"]]
    assert [a["rule"] for a in matching] == ["unresolved-ref"], anomalies


@pytest.mark.timeout(10)
def test_10_the_issue_two_line_spec_is_one_clean_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "two.yaml", "openapi: 3.0.0\n$ref: '#/x'\n")
    err = fails_cleanly(capsys, path)
    assert err == f"keyscope: error: {path}:#: no 'paths' in the document\n"


@pytest.mark.timeout(20)
def test_10_legal_long_chains_and_ancestor_refs_in_schemas_load_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    links = 20_000  # cubic before the fix (3,000 links took over a minute)
    chain = "".join(f"    S{i}: {{$ref: '#/components/schemas/S{i + 1}'}}\n" for i in range(links))
    path = write(
        tmp_path,
        "chain.yaml",
        HEAD + SCHEMES + "  schemas:\n" + chain + f"    S{links}: {{type: string}}\n"
        "    Tree: {type: object, properties: {up: {$ref: '#/components/schemas'},\n"
        "      all: {$ref: '#'}, me: {$ref: '#/components/schemas/Tree'}}}\n"
        "paths:\n  /a: {get: {security: [{oauth: [a:read]}], responses: {}}}\n",
    )
    assert main(["spec", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["operations"][0]["requirements"] == [["a:read"]]
    assert "unresolved-ref" not in {a["rule"] for a in data["anomalies"]}


@pytest.mark.timeout(20)
def test_03_a_path_item_at_the_nesting_cap_resolves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    depth = 490  # the YAML reader refuses 500 levels; everything below must work
    path = write(
        tmp_path,
        "deep-ref.yaml",
        HEAD
        + SCHEMES
        + "x-deep: "
        + "{a: " * depth
        + "{get: {security: [{oauth: [a:write]}], responses: {}}}"
        + "}" * depth
        + "\npaths:\n  /a: {$ref: '#/x-deep"
        + "/a" * depth
        + "'}\n",
    )
    assert main(["spec", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(o["method"], o["path"], o["requirements"]) for o in data["operations"]] == [
        ("GET", "/a", [["a:write"]])
    ]


# #11 missing target, escaped pointers.
def test_11_missing_ref_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "missing.yaml",
        HEAD + SCHEMES + "paths:\n  /a: {$ref: '#/components/pathItems/a~1b'}\n",
    )
    err = fails_cleanly(capsys, path)
    assert (
        "$ref target not found: '#/components/pathItems/a~1b' (no 'pathItems' in #/components)"
        in err
    )
    assert "missing.yaml:#/paths/~1a:" in err


def test_11_escaped_pointers_resolve(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "escaped.yaml",
        HEAD
        + SCHEMES
        + "x-items:\n  a/b~c:\n    get:\n      security: [{oauth: [a:read]}]\n      responses: {}\n"
        "paths:\n  /a: {$ref: '#/x-items/a~1b~0c'}\n",
    )
    assert load_spec(path).operation("GET /a").requirements == (frozenset({"a:read"}),)


# #12 security: [], {} alternative, missing security.
def test_12_security_shapes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "shapes.yaml",
        HEAD + SCHEMES + "paths:\n"
        "  /public: {get: {security: [], responses: {}}}\n"
        "  /anonymous: {get: {security: [{}, {oauth: [a:read]}], responses: {}}}\n"
        "  /unstated: {get: {responses: {}}}\n",
    )
    spec = load_spec(path)
    assert spec.operation("GET /public").public and spec.operation("GET /public").requirements == ()
    anonymous = spec.operation("GET /anonymous")
    assert anonymous.public and anonymous.requirements == (frozenset({"a:read"}),)
    unstated = spec.operation("GET /unstated")
    assert not unstated.public and unstated.requirements == ()
    rules = {(a.rule, a.operation) for a in spec.anomalies}
    assert ("anonymous-alternative", "GET /anonymous") in rules
    assert ("missing-security", "GET /unstated") in rules


# #13 concrete vs template, same-shape templates.
def test_13_same_shape_templates_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "shapes.yaml",
        HEAD + SCHEMES + "paths:\n"
        "  /v1/keys/{id}: {get: {security: [{oauth: [a:read]}], responses: {}}}\n"
        "  /v1/keys/current: {get: {security: [{oauth: [a:read]}], responses: {}}}\n"
        "  /a/{x}: {get: {security: [{oauth: [a:read]}], responses: {}}}\n"
        "  /a/{y}: {get: {security: [{oauth: [a:write]}], responses: {}}}\n",
    )
    ambiguous = [a for a in load_spec(path).anomalies if a.rule == "ambiguous-path-template"]
    assert [a.message for a in ambiguous] == [
        "paths /a/{x} and /a/{y} have the same shape; both answer GET"
    ]


# #14 unknown scopes, unused ones, case and space variants: exact match, reported.
def test_14_scope_names_match_exactly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "names.json",
        json.dumps(
            {
                "openapi": "3.0.0",
                "info": {"title": "T", "version": "1"},
                "components": {
                    "securitySchemes": {
                        "o": {
                            "type": "oauth2",
                            "flows": {
                                "implicit": {
                                    "authorizationUrl": "u",
                                    "scopes": {
                                        "read:charges": "",
                                        "Read:Charges": "",
                                        "unused": "",
                                    },
                                }
                            },
                        }
                    }
                },
                "paths": {
                    "/c": {
                        "get": {
                            "security": [
                                {"o": ["read:charges", "Read:Charges", "read:charges ", "ghost"]}
                            ],
                            "responses": {},
                        }
                    }
                },
            }
        ),
    )
    spec = load_spec(path, SpecOptions(semantics="all"))
    assert spec.operation("GET /c").requirements == (
        frozenset({"read:charges", "Read:Charges", "read:charges ", "ghost"}),
    )
    rules = {(a.rule, a.scope) for a in spec.anomalies}
    assert ("undeclared-scope", "ghost") in rules
    assert ("undeclared-scope", "read:charges ") in rules
    assert ("unused-scope", "unused") in rules
    assert ("scope-name-variant", "Read:Charges") in rules


# #16 multi-document, BOM, tabs, invalid UTF-8.
def test_16_multi_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails_cleanly(capsys, write(tmp_path, "multi.yaml", HEAD + "paths: {}\n---\nmore: 1\n"))
    assert ":4:1: more than one YAML document" in err


def test_16_bom_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bom.yaml", b"\xef\xbb\xbf" + (HEAD + "paths: {}\n").encode())
    assert main(["spec", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["info"]["title"] == "T"


def test_16_tabs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails_cleanly(capsys, write(tmp_path, "tabs.yaml", HEAD + "paths:\n\t/a: {}\n"))
    assert ":4:1: not valid YAML" in err


def test_16_invalid_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails_cleanly(
        capsys, write(tmp_path, "latin1.yaml", HEAD.encode() + b"x-note: caf\xe9\npaths: {}\n")
    )
    assert "not valid UTF-8 (bad byte 0xe9 at byte offset" in err
    assert ":3:12:" in err
