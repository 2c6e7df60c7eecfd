"""Benchmark: loading and indexing a large real spec, against the target of issue 2.

Target: Square's 3.1 MB ``api.json`` (from ``../shared/corpus``) is loaded and indexed in
under 0.5 s on the project's 2-core machine.  "Loaded and indexed" means everything a
run needs before it can match a request: read the bytes, parse them safely (duplicate
keys, caps), normalize every operation's scope requirement, check every ``$ref``, lint
the spec, build the implication graph and compile the route matcher.

Baselines, measured in the same run on the same file:

* ``json.load`` + full recursive ``$ref`` dereferencing: what a tool does when it
  expands the document before reading it (prance, jsonref used eagerly).  Cycles are
  left as references so it terminates.
* ``yaml.safe_load`` with libyaml (``CSafeLoader``), parse only: "a spec is YAML, JSON
  is YAML".
* ``yaml.safe_load`` with PyYAML's pure-Python loader, parse only: what an install
  without libyaml gets (skipped with ``--quick``: it takes several seconds).

A second table does the same for Xero's 0.93 MB accounting YAML, where the YAML path
(libyaml events, our own builder) is what is measured.

Run: ``python bench/bench_spec_load.py`` (7 timed runs per measurement, median shown) or
``--quick`` (3 runs, slow baselines once or skipped).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import yaml  # noqa: E402 - after the path set-up, like the package imports

from keyscope.analysis.scope_graph import build_scope_graph  # noqa: E402
from keyscope.sources.openapi import load_spec  # noqa: E402
from keyscope.sources.yamlsafe import LIBYAML, load_document  # noqa: E402

CORPUS = REPO / ".." / "shared" / "corpus"
SQUARE = CORPUS / "square" / "api.json"
XERO = CORPUS / "xero" / "xero_accounting.yaml"
TARGET_SECONDS = 0.5


def _matcher_factory() -> Callable[[Any], Any] | None:
    try:
        from keyscope.analysis.routes import RouteMatcher
    except ImportError:  # the matcher is built by another part of issue 2
        return None
    return RouteMatcher


def timed(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls (after one warm-up call), and the last result."""
    result = action()
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def once(action: Callable[[], Any]) -> float:
    gc.collect()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def load_and_index(path: Path) -> Any:
    spec = load_spec(path)
    graph = build_scope_graph(spec)
    matcher_class = _matcher_factory()
    matcher = matcher_class(spec) if matcher_class is not None else None
    return spec, graph, matcher


def _pointer_lookup(root: Any, reference: str) -> Any:
    node = root
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def json_full_dereference(path: Path) -> int:
    """The baseline: json.load, then replace every local $ref by its expanded target."""
    document = json.loads(path.read_text(encoding="utf-8"))
    nodes = 0

    def expand(node: Any, active: frozenset[str]) -> Any:
        nonlocal nodes
        nodes += 1
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/"):
                if reference in active:
                    return node  # a cycle: leave it, or this never ends
                try:
                    target = _pointer_lookup(document, reference)
                except (KeyError, IndexError, TypeError, ValueError):
                    return node
                return expand(target, active | {reference})
            return {key: expand(value, active) for key, value in node.items()}
        if isinstance(node, list):
            return [expand(value, active) for value in node]
        return node

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        expand(document, frozenset())
    finally:
        sys.setrecursionlimit(limit)
    return nodes


def yaml_parse(path: Path, loader: Any) -> Any:
    with path.open("rb") as stream:
        return yaml.load(stream, Loader=loader)  # SafeLoader/CSafeLoader only


def row(
    name: str, figure: float | None, target: str, baseline: str, baseline_figure: float | None
) -> str:
    def seconds(value: float | None, absent: str) -> str:
        return absent if value is None else f"{value * 1000:,.0f} ms"

    shown = seconds(baseline_figure, "-" if baseline == "-" else "skipped (--quick)")
    return f"| {name} | {seconds(figure, 'n/a')} | {target} | {baseline} | {shown} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs; skip the slowest baseline"
    )
    args = parser.parse_args()
    if not SQUARE.exists():
        print(
            f"skipped: {SQUARE} not found (the corpus lives beside the project in ../shared/corpus)"
        )
        return 0
    runs = 3 if args.quick else 7
    print(
        f"python {sys.version.split()[0]}, PyYAML {yaml.__version__} (libyaml: {LIBYAML}), "
        f"runs per figure: {runs}"
    )
    print(f"Square api.json: {SQUARE.stat().st_size:,} bytes")

    total, (spec, _, matcher) = timed(lambda: load_and_index(SQUARE), runs)
    parse, _ = timed(lambda: load_document(SQUARE), runs)
    normalize, _ = timed(lambda: load_spec(SQUARE), runs)
    graph_time, _ = timed(lambda: build_scope_graph(spec), runs)
    matcher_class = _matcher_factory()
    matcher_time = timed(lambda: matcher_class(spec), runs)[0] if matcher_class else None
    dereference = once(lambda: json_full_dereference(SQUARE))
    c_yaml = (
        timed(lambda: yaml_parse(SQUARE, yaml.CSafeLoader), 1 if args.quick else 3)[0]
        if LIBYAML
        else None
    )
    pure_yaml = None if args.quick else once(lambda: yaml_parse(SQUARE, yaml.SafeLoader))

    print(
        f"{len(spec.operations)} operations, {len(spec.scopes)} scopes, "
        f"semantics {spec.semantics}, "
        f"route matcher: {'built' if matcher is not None else 'not available'}"
    )
    print()
    print("| measurement | keyscope | target | baseline | baseline figure |")
    print("|---|---|---|---|---|")
    verdict = "met" if total < TARGET_SECONDS else "MISSED"
    print(
        row(
            "Square: load + index (total)",
            total,
            f"< 500 ms ({verdict})",
            "json.load + full $ref dereference",
            dereference,
        )
    )
    print(row("Square: parse only", parse, "-", "yaml.safe_load (libyaml)", c_yaml))
    print(
        row(
            "Square: parse + normalize + lint",
            normalize,
            "-",
            "yaml.safe_load (pure Python)",
            pure_yaml,
        )
    )
    print(row("Square: implication graph", graph_time, "-", "-", None))
    print(row("Square: route matcher compile", matcher_time, "-", "-", None))

    if XERO.exists():
        xero_total, _ = timed(lambda: load_and_index(XERO), runs)
        xero_parse, _ = timed(lambda: load_document(XERO), runs)
        xero_c = timed(lambda: yaml_parse(XERO, yaml.CSafeLoader), runs)[0] if LIBYAML else None
        xero_pure = None if args.quick else once(lambda: yaml_parse(XERO, yaml.SafeLoader))
        print()
        print(f"Xero xero_accounting.yaml: {XERO.stat().st_size:,} bytes")
        print()
        print("| measurement | keyscope | target | baseline | baseline figure |")
        print("|---|---|---|---|---|")
        print(
            row(
                "Xero: load + index (total)",
                xero_total,
                "-",
                "yaml.safe_load (pure Python), parse only",
                xero_pure,
            )
        )
        print(
            row("Xero: parse only", xero_parse, "-", "yaml.safe_load (libyaml), parse only", xero_c)
        )
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
