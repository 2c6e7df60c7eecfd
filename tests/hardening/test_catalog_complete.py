"""The catalog covers every BAD-INPUTS row and promise, and names only tests that exist."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from .catalog import CATALOG, Entry
from .conftest import REPO

BAD_INPUTS = REPO / ".." / "shared" / "BAD-INPUTS.md"
EXPECTED: list[int | str] = [*range(1, 51), *(f"P{number}" for number in range(1, 13))]


@cache
def _tests_in(path: Path) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Test functions of a file by node-id suffix: ``name`` or ``Class::name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            found[node.name] = node
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}::{item.name}"] = item
    return found


def _is_strict_xfail(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True for ``@pytest.mark.xfail(strict=True, ...)`` on the function or a parameter."""
    return any(
        isinstance(node, ast.Call)
        and ast.unparse(node.func).endswith("mark.xfail")
        and any(k.arg == "strict" and ast.unparse(k.value) == "True" for k in node.keywords)
        for node in ast.walk(function)
    )


def _resolve(node_id: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    path_text, _, name = node_id.partition("::")
    path = REPO / path_text
    assert path_text.startswith("tests/") and path.name.startswith("test_"), node_id
    assert path.is_file(), f"{node_id}: no such file"
    functions = _tests_in(path)
    assert name in functions, f"{node_id}: no such test"
    return functions[name]


def test_every_row_and_promise_is_mapped() -> None:
    assert list(CATALOG) == EXPECTED


@pytest.mark.skipif(not BAD_INPUTS.exists(), reason="../shared/BAD-INPUTS.md is not present")
def test_the_catalog_matches_the_document() -> None:
    """The rows and promises the document lists are exactly the catalog's keys."""
    text = BAD_INPUTS.read_text(encoding="utf-8")
    rows = [int(number) for number in re.findall(r"^\| (\d+) \|", text, flags=re.MULTILINE)]
    promises = re.findall(r"^### (P\d+) ", text, flags=re.MULTILINE)
    assert [*rows, *promises] == EXPECTED


@pytest.mark.parametrize("key", EXPECTED, ids=str)
def test_each_entry_is_proven_or_explained(key: int | str) -> None:
    entry: Entry = CATALOG[key]
    assert bool(entry.tests) != bool(entry.not_applicable), key
    if entry.not_applicable:
        assert "\n" not in entry.not_applicable and len(entry.not_applicable) < 200
        return
    assert len(set(entry.tests)) == len(entry.tests), f"{key}: a test is listed twice"
    strict_xfails = [node_id for node_id in entry.tests if _is_strict_xfail(_resolve(node_id))]
    if entry.open:
        assert strict_xfails, f"{key}: open entries name their xfail(strict=True) test"
    # At least one named test proves the entry today (not only xfails).
    assert len(strict_xfails) < len(entry.tests), key


def test_every_strict_xfail_here_is_an_open_catalog_entry() -> None:
    """An xfail in this folder always says, in the catalog, which promise it keeps open."""
    open_tests = {test for entry in CATALOG.values() if entry.open for test in entry.tests}
    for path in sorted((REPO / "tests" / "hardening").glob("test_*.py")):
        for name, function in _tests_in(path).items():
            if _is_strict_xfail(function):
                node_id = f"tests/hardening/{path.name}::{name}"
                assert node_id in open_tests, node_id


def test_every_hardening_test_file_is_referenced() -> None:
    referenced = {node_id.split("::")[0] for entry in CATALOG.values() for node_id in entry.tests}
    for path in sorted((REPO / "tests" / "hardening").glob("test_*.py")):
        if path.name == "test_catalog_complete.py":
            continue
        assert f"tests/hardening/{path.name}" in referenced, path.name
