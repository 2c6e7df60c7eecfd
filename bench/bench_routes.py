"""Benchmark: route matching speed against the target of issue 2.

Target: the matcher resolves at least 500,000 distinct, uncached request paths per second
on the project's 2-core machine. The matcher keeps no cache, and every request in the run
is a distinct ``(method, path)`` pair, as usage ingestion hands them over after
aggregation.

Specs: Square's ``api.json`` from ``../shared/corpus`` (316 operations) and the bundled
``sample_specs/partner-api.yaml`` (base path ``/v1``). Both are loaded with
``keyscope.sources.openapi.load_spec`` when it exists, else read directly with json/yaml.

Requests: random ids in every parameter; about 10 % carry a query string, 5 % a
percent-encoded character, 3 % a trailing slash, 2 % a double slash, 2 % are full URLs,
5 % use a lower-case method, and about 14 % match nothing (an extra segment, an unknown
prefix, an unknown method or a ``..`` segment).

Baseline: the straightforward approach, a linear scan over one compiled regex per
template in concrete-first order, after the same normalization. It is measured on a
subset (it is about ten times slower) and its answers are compared with the
matcher's on that subset.

Run: ``python bench/bench_routes.py`` (1,000,000 requests per spec) or ``--quick``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import string
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from keyscope.analysis.routes import RouteMatcher, normalize_request_path  # noqa: E402
from keyscope.model import Operation  # noqa: E402

CORPUS = REPO / ".." / "shared" / "corpus"
SQUARE = CORPUS / "square" / "api.json"
PARTNER = REPO / "sample_specs" / "partner-api.yaml"
TARGET = 500_000
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ID_ALPHABET = string.ascii_letters + string.digits + "_-"


# --------------------------------------------------------------------------- loading


def _load_with_keyscope(path: Path) -> tuple[tuple[Operation, ...], tuple[str, ...]] | None:
    try:
        from keyscope.sources.openapi import load_spec  # type: ignore[attr-defined]
    except ImportError:
        return None
    spec = load_spec(path)
    return spec.operations, spec.base_paths


def _load_directly(path: Path) -> tuple[tuple[Operation, ...], tuple[str, ...]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
    else:
        import yaml

        document = yaml.safe_load(text)
    operations = tuple(
        Operation(method.upper(), template)
        for template, item in document.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    )
    bases = tuple(
        urlsplit(server.get("url", "")).path.rstrip("/") for server in document.get("servers", [])
    ) or (document.get("basePath", ""),)
    return operations, bases


def load(path: Path) -> tuple[tuple[Operation, ...], tuple[str, ...], str]:
    """Operations and base paths, through load_spec when it exists and accepts the file."""
    try:
        loaded = _load_with_keyscope(path)
    except Exception as error:  # the loader's failure is reported, the routes still measured
        print(f"note: load_spec failed on {path.name}: {error}; reading it directly")
        loaded = None
    if loaded is not None:
        return (*loaded, "load_spec")
    return (*_load_directly(path), "json/yaml")


# --------------------------------------------------------------------------- requests


def _random_id(rng: random.Random) -> str:
    prefix = rng.choice(("", "inv_", "pay_", "cus_", "re_", "po_", "ch_", "LOC"))
    return prefix + "".join(rng.choices(ID_ALPHABET, k=rng.randint(8, 22)))


def _fill(template: str, rng: random.Random) -> str:
    return re.sub(r"\{[^{}/]+\}", lambda _m: _random_id(rng), template)


def generate_requests(
    operations: tuple[Operation, ...], base_paths: tuple[str, ...], count: int, seed: int
) -> list[tuple[str, str]]:
    """``count`` distinct ``(method, raw path)`` pairs with the mix the module describes."""
    rng = random.Random(seed)
    base = next((base for base in base_paths if base), "")
    seen: set[tuple[str, str]] = set()
    requests: list[tuple[str, str]] = []
    while len(requests) < count:
        operation = rng.choice(operations)
        method = operation.method
        path = base + _fill(operation.path, rng)
        roll = rng.random()
        if roll < 0.10:
            path += f"?limit={rng.randint(1, 100)}&cursor={_random_id(rng)}"
        elif roll < 0.15:
            cut = path.rfind("/") + 1
            path = path[:cut] + "%5F" + path[cut:] if path[cut:] else path + "%7E"
        elif roll < 0.18:
            path += "/"
        elif roll < 0.20:
            path = path.replace("/", "//", 1)
        elif roll < 0.22:
            path = "https://api.example.test" + path
        elif roll < 0.25:
            path += "/" + _random_id(rng)  # one segment too many: usually unmatched
        elif roll < 0.28:
            path = "/internal/" + _random_id(rng) + path  # unknown prefix: unmatched
        elif roll < 0.30:
            path = base + "/charges/../" + path.lstrip("/")  # dot segment: unmatched
        elif roll < 0.32:
            method = "PROPFIND"  # unknown method: unmatched
        if rng.random() < 0.05:
            method = method.lower()
        pair = (method, path)
        if pair not in seen:
            seen.add(pair)
            requests.append(pair)
    return requests


# --------------------------------------------------------------------------- baseline


class RegexScanMatcher:
    """One compiled regex per template, scanned in concrete-first order."""

    def __init__(self, operations: tuple[Operation, ...], base_paths: tuple[str, ...]) -> None:
        self.base_paths = base_paths

        def segment_rank(segment: str) -> tuple[int, str]:
            if not re.search(r"\{[^{}/]+\}", segment):
                return (0, segment)
            if re.fullmatch(r"\{[^{}/]+\}", segment):
                return (2, "")
            return (1, segment)

        def template_regex(template: str) -> re.Pattern[str]:
            parts = []
            for segment in (s for s in template.split("/") if s):
                pieces = re.split(r"\{[^{}/]+\}", segment)
                parts.append("[^/]+".join(re.escape(piece) for piece in pieces))
            return re.compile("/" + "/".join(parts))

        templates: dict[str, dict[str, str]] = {}
        for operation in sorted(operations, key=lambda op: (op.path, op.method)):
            templates.setdefault(operation.path, {}).setdefault(operation.method, operation.key)
        ordered = sorted(
            templates,
            key=lambda template: [segment_rank(s) for s in template.split("/") if s],
        )
        self.table = [(template_regex(t), templates[t]) for t in ordered]

    def match(self, method: str, raw_path: str) -> str | None:
        path = normalize_request_path(raw_path, self.base_paths)
        if path is None:
            return None
        method = method.upper()
        for regex, methods in self.table:
            # The regex runs on the normalized text, where an encoded "/" stays "%2F".
            if regex.fullmatch(path):
                key = methods.get(method)
                if key is None and method == "HEAD":
                    key = methods.get("GET")
                if key is not None:
                    return key
        return None


# --------------------------------------------------------------------------- measuring


def best_rate(run, count: int, repeats: int) -> tuple[float, float, float]:
    """Items per second over ``repeats`` runs: best and median wall clock, best CPU time.

    The garbage collector stays on, as in a real run. CPU time (of this process) shows
    what the machine can do when other processes compete for its two cores.
    """
    rates = []
    cpu_rates = []
    for _ in range(repeats):
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        rates.append(count / elapsed)
        cpu_rates.append(count / max(elapsed_cpu, 1e-9))
    return max(rates), statistics.median(rates), max(cpu_rates)


def bench_spec(name: str, path: Path, count: int, baseline_count: int, repeats: int) -> list:
    started = time.perf_counter()
    operations, base_paths, loader = load(path)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    matcher = RouteMatcher.from_operations(operations, base_paths)
    build_ms = (time.perf_counter() - started) * 1000
    requests = generate_requests(operations, base_paths, count, seed=20261001)
    assert len(set(requests)) == count

    def per_call() -> None:
        match = matcher.match
        for method, raw_path in requests:
            match(method, raw_path)

    results = matcher.match_many(requests)
    unmatched = sum(result is None for result in results)
    call_best, call_median, call_cpu = best_rate(per_call, count, repeats)
    many_best, many_median, many_cpu = best_rate(
        lambda: matcher.match_many(requests), count, repeats
    )

    subset = requests[:baseline_count]
    baseline = RegexScanMatcher(operations, base_paths)
    baseline_best, _, baseline_cpu = best_rate(
        lambda: [baseline.match(m, p) for m, p in subset], len(subset), 1
    )
    agree = sum(baseline.match(m, p) == matcher.match(m, p) for m, p in subset)
    normalize_best, _, _ = best_rate(
        lambda: [normalize_request_path(p, base_paths) for _m, p in requests], count, 1
    )

    label = f"{name} ({len(operations)} ops, bases {list(base_paths)}, via {loader})"
    return [
        (label, "", "", ""),
        ("  distinct requests", f"{count:,}", "", f"{len(subset):,} (subset)"),
        ("  unmatched", f"{unmatched:,} ({unmatched / count:.1%})", "reported, not dropped", ""),
        (
            "  load spec + build matcher",
            f"{load_seconds * 1000:.0f} ms + {build_ms:.1f} ms",
            "",
            "",
        ),
        (
            "  match(), paths/s (best; median)",
            f"{call_best:,.0f}; {call_median:,.0f}",
            f">= {TARGET:,}",
            f"{baseline_best:,.0f}",
        ),
        (
            "  match_many(), paths/s (best; median)",
            f"{many_best:,.0f}; {many_median:,.0f}",
            f">= {TARGET:,}",
            "",
        ),
        (
            "  match(); match_many(), paths per CPU-second",
            f"{call_cpu:,.0f}; {many_cpu:,.0f}",
            f">= {TARGET:,}",
            f"{baseline_cpu:,.0f}",
        ),
        ("  normalize_request_path only, paths/s", f"{normalize_best:,.0f}", "", ""),
        ("  speed-up over regex scan", f"x{call_best / baseline_best:,.0f}", "", ""),
        ("  agreement with regex scan", f"{agree:,}/{len(subset):,}", "all", ""),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 requests per spec")
    args = parser.parse_args(argv)
    count, baseline_count, repeats = (20_000, 2_000, 3) if args.quick else (1_000_000, 20_000, 5)

    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str, str, str]] = []
    for name, path in (("square/api.json", SQUARE), ("partner-api.yaml", PARTNER)):
        if not path.exists():
            rows.append((f"{name}: not found at {path}, skipped", "", "", ""))
            continue
        rows.extend(bench_spec(name, path, count, baseline_count, repeats))

    header = ("measurement", "figure", "target", "baseline (regex scan)")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{'quick' if args.quick else 'full'} run, "
        f"load average {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end "
        "(other processes share the CPUs: compare best with median)"
    )
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
