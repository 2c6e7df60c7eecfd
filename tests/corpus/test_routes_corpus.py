"""The route matcher on the public specs of ../shared/corpus: every operation is reachable.

For each operation a concrete request is built from its template (under the spec's base
path), and variants of it as logs write them (query string, trailing slash, full URL,
percent-encoded id, lower-case method). Each must resolve to that operation, or, only where
the spec itself has two templates of the same shape (Xero's ``/Contacts/{ContactID}`` and
``/Contacts/{ContactNumber}``), to the same-shape sibling the matcher prefers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keyscope.analysis.routes import RouteMatcher, ambiguous_templates
from keyscope.sources.openapi import load_spec

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
SPEC_FILES = sorted(
    str(path.relative_to(CORPUS))
    for path in (CORPUS.glob("*/*") if CORPUS.exists() else [])
    if path.suffix in {".json", ".yaml", ".yml"}
)
PARAMETER = re.compile(r"\{[^{}/]+\}")

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is absent"),
]


def _variants(base: str, operation_path: str) -> list[tuple[str, str]]:
    plain = base + PARAMETER.sub("id_123", operation_path)
    encoded = base + PARAMETER.sub("id%5F123", operation_path)
    return [
        ("as is", plain),
        ("query", plain + "?limit=5&cursor=abc"),
        ("trailing slash", plain + "/"),
        ("full URL", "https://api.example.test" + plain),
        ("percent-encoded", encoded),
    ]


@pytest.mark.parametrize("name", SPEC_FILES or ["(none)"])
def test_every_corpus_operation_is_reachable(name: str) -> None:
    spec = load_spec(CORPUS / name)
    matcher = RouteMatcher(spec)
    base = next((base for base in spec.base_paths if base), "")
    same_shape: dict[str, set[str]] = {}
    for first, second in ambiguous_templates(spec.operations):
        same_shape.setdefault(first, set()).add(second)
        same_shape.setdefault(second, set()).add(first)

    problems = []
    for operation in spec.operations:
        for label, raw in _variants(base, operation.path):
            for method in (operation.method, operation.method.lower()):
                found = matcher.match(method, raw)
                if found == operation.key:
                    continue
                sibling = found is not None and found.split(" ", 1)[1] in same_shape.get(
                    operation.path, set()
                )
                if not (sibling and found.startswith(operation.method + " ")):
                    problems.append(f"{operation.key} ({label}, {method} {raw}) -> {found}")
    assert problems == []


def test_corpus_same_shape_templates_are_reported() -> None:
    if not SPEC_FILES:
        pytest.skip("../shared/corpus holds no specs")
    accounting = load_spec(CORPUS / "xero" / "xero_accounting.yaml")
    pairs = ambiguous_templates(accounting.operations)
    assert ("/Contacts/{ContactID}", "/Contacts/{ContactNumber}") in pairs
    assert ("/Journals/{JournalID}", "/Journals/{JournalNumber}") in pairs
    assert len(pairs) == 14
    # The matcher still answers deterministically: the first template by path wins.
    matcher = RouteMatcher(accounting)
    assert matcher.match("GET", "/api.xro/2.0/Contacts/42") == "GET /Contacts/{ContactID}"
    square = load_spec(CORPUS / "square" / "api.json")
    assert ambiguous_templates(square.operations) == []
