"""Benchmark: the analysis stage for 10,000 keys against the sample spec (issue 3).

Target: ``audit_keys`` (suggestions, excess, blast radius, confidence, findings) for
10,000 keys in under 2 s on the project's 2-core machine.  Loading and DuckDB
aggregation are not part of this stage: keys and ``UsageData`` are built directly.

Synthetic data (fixed seed): 10,000 keys against ``sample_specs/partner-api.yaml``;
10 % legacy full access, 4 % revoked, 3 % younger than ``min_key_age_days``, 6 %
dormant, the rest holding 1-5 random scopes.  Each used key calls 1-12 operations its
grants allow (a quarter of them with two or three path variants), 20 % also get
denied requests on operations they cannot call, 5 % send traffic to an unmapped route,
and a few hundred requests come from key ids absent from the inventory.  Usage is spread
over the 90-day window with daily counts for every active day.

Baseline, in the same run: the straightforward implementation a first version would
write: per key, expand grants by walking the implication edges, find the smallest
scope set by trying every subset of the relevant catalog scopes in order of size
(brute force), and measure blast radius and excess by scanning every operation, with
no sharing between keys.  It is measured on a sample of keys (it is far slower) and
scaled to the full count; its suggestions are compared with the engine's on the sample.

Also reported: the exact solver alone on a Square-sized 59-scope catalog (random need
sets), to back the "exact up to 64 scopes" claim with a time per distinct need set.

Run: ``python bench/bench_analysis.py`` (10,000 keys) or ``--quick`` (1,000 keys).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from keyscope.analysis.audit import AuditOptions, audit_keys, make_window  # noqa: E402
from keyscope.analysis.scope_graph import build_scope_graph  # noqa: E402
from keyscope.analysis.suggest import ScopeSolver  # noqa: E402
from keyscope.model import (  # noqa: E402
    ApiKey,
    ApiSpec,
    DailyCount,
    SourceStats,
    UsageData,
    UsageRow,
)
from keyscope.settings import DEFAULT_RISK_WEIGHTS  # noqa: E402
from keyscope.sources.openapi import SpecOptions, load_spec  # noqa: E402

try:  # the shared RESULT-line helper of bench/run_all.py, when it is there
    from _results import report  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - running the script on its own
    report = None

SPEC_PATH = REPO / "sample_specs" / "partner-api.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_DAYS = 90
TARGET_SECONDS = 2.0


# --------------------------------------------------------------------------- synthetic data


def synthetic_inputs(spec: ApiSpec, count: int, seed: int = 1) -> tuple[list[ApiKey], UsageData]:
    rng = random.Random(seed)
    graph = build_scope_graph(spec)
    catalog = sorted(spec.catalog)
    operations = [op for op in spec.operations if not op.public and op.requirements]
    window = make_window(AS_OF, WINDOW_DAYS)
    keys: list[ApiKey] = []
    rows: list[UsageRow] = []
    daily: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    days_with_data: set[date] = set()

    def add(key_id: str, method: str, path: str, operation: str | None, klass: str, n: int) -> None:
        first_day = rng.randrange(WINDOW_DAYS - 1)
        last_day = rng.randrange(first_day, WINDOW_DAYS)
        first = window.start + timedelta(days=first_day, seconds=rng.randrange(86_400))
        last = window.start + timedelta(days=last_day, seconds=rng.randrange(86_400))
        if last < first:
            first, last = last, first
        rows.append(UsageRow(key_id, method, path, operation, klass, n, first, last))  # type: ignore[arg-type]
        for offset in range(first_day, last_day + 1, max(1, (last_day - first_day) // 8 or 1)):
            day = (window.start + timedelta(days=offset)).date()
            counts = daily[(key_id, day)]
            if klass == "success":
                counts[0] += max(1, n // 9)
            elif klass == "denied":
                counts[1] += max(1, n // 9)
            days_with_data.add(day)

    for index in range(count):
        key_id = f"key_{index:06d}{rng.randrange(16**6):06x}"
        roll = rng.random()
        full_access = roll < 0.10
        status = "revoked" if 0.10 <= roll < 0.14 else "active"
        young = 0.14 <= roll < 0.17
        dormant = 0.17 <= roll < 0.23
        scopes = frozenset() if full_access else frozenset(rng.sample(catalog, rng.randint(1, 5)))
        created = AS_OF - timedelta(days=rng.randint(5, 25) if young else rng.randint(120, 1500))
        keys.append(
            ApiKey(
                key_id=key_id,
                name=f"Integration {index}",
                scopes=scopes,
                full_access=full_access,
                status=status,  # type: ignore[arg-type]
                created_at=created,
                source=f"keys.yaml#{index}",
            )
        )
        if dormant:
            continue
        effective = graph.expand(spec.catalog if full_access else scopes)
        allowed = [op for op in operations if op.is_satisfied_by(effective)]
        refused = [op for op in operations if not op.is_satisfied_by(effective)]
        for operation in rng.sample(allowed, min(len(allowed), rng.randint(1, 12))):
            variants = rng.choice((1, 1, 1, 2, 3))
            for variant in range(variants):
                path = operation.path.replace("{", f"v{variant}_").replace("}", "")
                add(key_id, operation.method, path, operation.key, "success", rng.randint(1, 3000))
        if refused and rng.random() < 0.20:
            for operation in rng.sample(refused, min(len(refused), rng.randint(1, 4))):
                add(
                    key_id,
                    operation.method,
                    operation.path,
                    operation.key,
                    "denied",
                    rng.randint(1, 80),
                )
        if rng.random() < 0.05:
            add(key_id, "GET", "/legacy/charges", None, "success", rng.randint(1, 50))
    for index in range(max(3, count // 100)):
        add(f"key_ghost{index:04d}ffff", "GET", "/invoices", "GET /invoices", "denied", 5)

    usage = UsageData(
        rows=tuple(rows),
        daily=tuple(DailyCount(k, d, v[0], v[1]) for (k, d), v in sorted(daily.items())),
        sources=(
            SourceStats(
                "synthetic", "aggregate", sum(r.count for r in rows), 0, sum(r.count for r in rows)
            ),
        ),
        days_with_data=frozenset(days_with_data),
    )
    return keys, usage


# --------------------------------------------------------------------------- baseline


def baseline_audit(
    spec: ApiSpec, keys: list[ApiKey], usage: UsageData
) -> dict[str, frozenset[str]]:
    """Per key, everything from scratch: expansion, brute-force suggestion, full scans."""
    edges = defaultdict(set)
    for stronger, weaker in spec.implications:
        edges[stronger].add(weaker)

    def expand(scopes: frozenset[str]) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(scopes)
        while todo:
            scope = todo.pop()
            if scope not in seen:
                seen.add(scope)
                todo.extend(edges[scope])
        return frozenset(seen)

    weights = {name: DEFAULT_RISK_WEIGHTS.get(name, 3) for name in spec.scope_names}
    by_key: dict[str, list[UsageRow]] = defaultdict(list)
    for row in usage.rows:
        by_key[row.key_id].append(row)
    operations = {op.key: op for op in spec.operations}
    catalog = sorted(spec.catalog)
    mentions: dict[str, int] = defaultdict(int)
    for op in spec.operations:
        for scope in {s for alt in op.requirements for s in alt}:
            mentions[scope] += 1
    suggestions: dict[str, frozenset[str]] = {}
    for key in keys:
        granted = frozenset(catalog) if key.full_access else key.scopes
        effective = expand(granted)
        held = [c for c in catalog if c in effective]
        reach_held = expand(frozenset(held))
        used = {
            r.operation for r in by_key[key.key_id] if r.status_class == "success" and r.operation
        }
        needs = [operations[name].requirements for name in used if operations[name].requirements]
        relevant = sorted(
            {
                c
                for need in needs
                for alt in need
                for s in alt
                for c in catalog
                if s in expand(frozenset({c}))
            }
        )

        def serves(
            combo: tuple[str, ...],
            need: tuple[frozenset[str], ...],
            effective: frozenset[str] = effective,
            reach_held: frozenset[str] = reach_held,
        ) -> bool:
            # Met with held scopes where held scopes can meet it at all, else with any.
            if any(alt <= reach_held for alt in need):
                mine = expand(frozenset(s for s in combo if s in effective))
                return any(alt <= reach_held and alt <= mine for alt in need)
            return any(alt <= expand(frozenset(combo)) for alt in need)

        best: tuple[int, int, int, tuple[str, ...]] | None = None
        for size in range(len(relevant) + 1):
            for combo in itertools.combinations(relevant, size):
                if all(serves(combo, need) for need in needs):
                    closure = expand(frozenset(combo))
                    candidate = (
                        size,
                        sum(weights.get(s, 0) for s in closure),
                        sum(mentions.get(s, 0) for s in closure),
                        combo,
                    )
                    if best is None or candidate < best:
                        best = candidate
            if best is not None:
                break
        suggested = frozenset(best[3]) if best else frozenset()
        suggestions[key.key_id] = suggested
        # Blast radius before/after and excess unlocks: full scans, no sharing.
        after = expand(suggested)
        _ = sum(1 for op in spec.operations if op.is_satisfied_by(effective))
        _ = sum(1 for op in spec.operations if op.is_satisfied_by(after))
        for scope in granted - suggested:
            wider = expand(suggested | {scope})
            _ = [
                op.key
                for op in spec.operations
                if op.is_satisfied_by(wider) and not op.is_satisfied_by(after)
            ]
    return suggestions


# --------------------------------------------------------------------------- solver on 59 scopes


def square_sized_solver(need_sets: int, seed: int = 3) -> tuple[float, int]:
    """Seconds per distinct need set for a 59-scope catalog (Square's size), and inexact count."""
    rng = random.Random(seed)
    areas = [f"AREA{i:02d}" for i in range(30)]
    catalog = [f"{a}_READ" for a in areas] + [f"{a}_WRITE" for a in areas[:29]]

    class Graph:
        def expand(self, scopes):  # type: ignore[no-untyped-def]
            out = set(scopes)
            out |= {s.replace("_WRITE", "_READ") for s in scopes if s.endswith("_WRITE")}
            return frozenset(out)

    weights = {name: (5 if name.endswith("WRITE") else 2) for name in catalog}
    solver = ScopeSolver(Graph(), weights, catalog)
    inexact = 0
    started = time.perf_counter()
    for _ in range(need_sets):
        needs = []
        for _ in range(rng.randint(3, 25)):
            alternatives = tuple(
                frozenset(rng.sample(catalog, rng.choice((1, 1, 1, 2))))
                for _ in range(rng.choice((1, 1, 2)))
            )
            needs.append(alternatives)
        inexact += not solver.solve(needs).exact
    return (time.perf_counter() - started) / need_sets, inexact


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 keys instead of 10,000")
    parser.add_argument("--keys", type=int, help="number of synthetic keys (e.g. 100000)")
    args = parser.parse_args()
    count = args.keys or (1_000 if args.quick else 10_000)
    baseline_sample = 100 if args.quick else 500

    spec = load_spec(SPEC_PATH, SpecOptions(semantics="all"))
    graph = build_scope_graph(spec)
    started = time.perf_counter()
    keys, usage = synthetic_inputs(spec, count)
    build_seconds = time.perf_counter() - started
    window = make_window(AS_OF, WINDOW_DAYS)

    runs = []
    cpu_runs = []
    result = None
    for _ in range(3):
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = audit_keys(
            spec, graph, keys, usage, as_of=AS_OF, window=window, options=AuditOptions()
        )
        runs.append(time.perf_counter() - started)
        cpu_runs.append(time.process_time() - cpu_started)
    assert result is not None
    # Best of 3: the machine is shared, and slower runs measure the neighbours.
    analysis = min(runs)
    analysis_cpu = min(cpu_runs)

    from keyscope.report.json_report import render_json

    started = time.perf_counter()
    rendered = render_json(result)
    json_seconds = time.perf_counter() - started

    sample = keys[:baseline_sample]
    sample_ids = {k.key_id for k in sample}
    sample_usage = UsageData(
        rows=tuple(r for r in usage.rows if r.key_id in sample_ids),
        sources=usage.sources,
        days_with_data=usage.days_with_data,
    )
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    reference = baseline_audit(spec, sample, sample_usage)
    baseline_wall = (time.perf_counter() - started) * count / baseline_sample
    baseline_cpu = (time.process_time() - cpu_started) * count / baseline_sample
    engine = {a.key.key_id: a.suggested_scopes for a in result.keys}
    audits = {a.key.key_id: a for a in result.keys}
    judged = [
        k.key_id
        for k in sample
        if k.status == "active" and audits[k.key_id].confidence != "insufficient"
    ]
    disagreements = sum(1 for key_id in judged if engine[key_id] != reference[key_id])

    per_need_set, inexact = square_sized_solver(200 if args.quick else 1_000)

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (shared; figures vary with it)")
    print(
        f"analysis stage: {count:,} keys, {len(usage.rows):,} usage rows, "
        f"{len(usage.daily):,} daily counts, {len(result.findings):,} findings"
    )
    print(
        f"(synthetic inputs built in {build_seconds:.2f} s, not measured; "
        f"baseline measured on {baseline_sample:,} keys and scaled)"
    )
    print()
    # The target is for 10,000 keys; other sizes are measured, not judged.
    target_text = "< 2 s" if count == 10_000 else "-"
    within_target = count != 10_000 or analysis < TARGET_SECONDS
    rows = [
        ("audit_keys, wall, best of 3", f"{analysis:.2f} s", target_text, f"{baseline_wall:.1f} s"),
        ("audit_keys, CPU time, best of 3", f"{analysis_cpu:.2f} s", "", f"{baseline_cpu:.1f} s"),
        ("  all runs, wall", ", ".join(f"{r:.2f}" for r in runs), "", ""),
        ("  speed-up over baseline (CPU time)", f"{baseline_cpu / analysis_cpu:.1f} x", "", ""),
        ("  keys per second (wall)", f"{count / analysis:,.0f}", "", ""),
        (
            "  suggestions equal to brute force",
            f"{len(judged) - disagreements}/{len(judged)}",
            "all",
            "",
        ),
        ("render_json of the result", f"{json_seconds:.2f} s", "", f"{len(rendered) / 1e6:.1f} MB"),
        ("exact solver, 59 scopes, per need set", f"{per_need_set * 1000:.2f} ms", "", ""),
        ("  need sets left inexact (node budget)", f"{inexact}", "0", ""),
    ]
    print(f"{'measurement':<42} {'figure':>18} {'target':>8} {'baseline':>12}")
    print("-" * 83)
    for name, figure, target, baseline in rows:
        print(f"{name:<42} {figure:>18} {target:>8} {baseline:>12}")
    ok = within_target and disagreements == 0
    if report is not None:  # machine-readable lines for bench/run_all.py
        report(
            f"analysis stage, {count:,} keys", round(analysis, 3), "s",
            target=target_text, baseline=round(baseline_wall, 3), met=within_target,
            baseline_name="per-key brute force, no sharing", cpu_s=round(analysis_cpu, 3),
            baseline_cpu_s=round(baseline_cpu, 3), load=load,
        )  # fmt: skip
        report(
            "suggestions equal to brute force", len(judged) - disagreements, "keys",
            target=f"{len(judged)} keys", met=disagreements == 0,
        )  # fmt: skip
        report("exact solver, 59-scope catalog, per need set", round(per_need_set * 1000, 3), "ms")
    print()
    if not ok and count == 10_000 and analysis_cpu < TARGET_SECONDS and disagreements == 0:
        print(f"wall time above target with CPU time under it: the machine is busy (load {load})")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
