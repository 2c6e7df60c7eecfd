"""Benchmark: the keys screen with 100,000 keys (issue 5's speed targets).

Targets, on this 2-core machine:

* the keys screen painted within 1 s after ``AnalysisCompleted`` reaches the app;
* a filter keystroke answered (rows filtered and the table repainted) within 100 ms.

What is measured, in one headless Textual app at 120x40 driven by Pilot:

* **rows prepared** (in the analysis worker, off the UI thread, before the message is
  posted): :meth:`KeyFrame.from_result` plus :meth:`AuditContext.from_run`; reported,
  not part of the paint target;
* **first paint**: from the moment the app starts handling ``AnalysisCompleted``
  (Pilot's message hook) to the end of the first repaint of the key table that shows
  the new rows, after layout has settled;
* **filter keystroke**: from a key press in the filter box to the end of the table's
  repaint with the narrowed rows; the median and the worst of a typed word.

Baseline, in the same run: Textual's own ``DataTable`` given the same rows (as the
straightforward implementation would: ``add_rows`` with the display strings), timed
from ``add_rows`` to its settled paint, and a filter keystroke done the plain way
(``clear()`` and ``add_rows`` with the rows a Python loop keeps). With 100,000 rows the
baseline takes seconds, so it is measured once.

The keys are synthetic but realistic: the bundled sample spec's scopes, 1 in 50
legacy full-access, random grants, usage and findings; built as model objects, so the
benchmark measures the TUI, not the audit.

Run: ``python bench/bench_tui.py`` (100,000 keys) or ``--quick`` (10,000).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from keyscope.analysis.risk import BlastRadiusCalculator, scope_weights  # noqa: E402
from keyscope.analysis.scope_graph import build_scope_graph  # noqa: E402
from keyscope.model import (  # noqa: E402
    ApiKey,
    AuditResult,
    DataQuality,
    ExcessScope,
    Finding,
    KeyAudit,
    OperationUse,
    ScopeEvidence,
    SpecSummary,
    Window,
)
from keyscope.settings import DEFAULT_RISK_WEIGHTS, Settings  # noqa: E402
from keyscope.sources.openapi import load_spec, spec_options_from  # noqa: E402

SPEC = REPO / "sample_specs" / "partner-api.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
SIZE = (120, 40)
PAINT_TARGET = 1.0
KEYSTROKE_TARGET = 0.100
WORDS = (
    "billing",
    "export",
    "sync",
    "payout",
    "ledger",
    "webhook",
    "checkout",
    "crm",
    "refunds",
    "recon",
    "partner",
    "legacy",
    "mobile",
    "batch",
    "invoice",
    "ops",
)


@dataclass
class SyntheticRun:
    settings: Settings
    spec: Any
    graph: Any
    result: AuditResult
    keys: tuple[ApiKey, ...] = ()
    usage: Any = None


def synthetic_run(count: int, seed: int = 5) -> SyntheticRun:
    """``count`` audited keys against the sample spec (model objects, no pipeline)."""
    rng = random.Random(seed)
    settings = Settings(semantics="all", as_of=AS_OF)
    spec = load_spec(SPEC, spec_options_from(settings))
    graph = build_scope_graph(spec)
    calculator = BlastRadiusCalculator(spec, scope_weights(spec.scopes, DEFAULT_RISK_WEIGHTS))
    catalog = sorted(spec.catalog)
    single = {
        scope: [op.key for op in spec.operations if frozenset({scope}) in op.requirements]
        for scope in catalog
    }
    start = AS_OF - timedelta(days=90)
    audits: list[KeyAudit] = []
    for index in range(count):
        key_id = f"key_{index:07d}{rng.randrange(16**6):06x}"
        legacy = index % 50 == 0
        assigned = (
            frozenset(catalog) if legacy else frozenset(rng.sample(catalog, rng.randint(1, 5)))
        )
        granted = graph.expand(assigned)
        dormant = rng.random() < 0.05
        used = (
            frozenset()
            if dormant
            else frozenset(
                s for s in assigned if single.get(s) and rng.random() < (0.15 if legacy else 0.6)
            )
        )
        evidence = tuple(
            ScopeEvidence(
                scope,
                tuple(
                    OperationUse(
                        op,
                        rng.randint(1, 5000),
                        start + timedelta(days=3),
                        AS_OF - timedelta(days=1),
                    )
                    for op in single[scope][:2]
                ),
            )
            for scope in sorted(used)
        )
        excess = assigned - used
        findings = [
            Finding(
                "unused-scope",
                "medium",
                key_id,
                scope,
                f"{scope} unused in 90 days",
                f"u{index}{scope}",
            )
            for scope in sorted(excess)[:3]
        ]
        if legacy:
            findings.append(
                Finding("legacy-full-access", "critical", key_id, "", "legacy key", f"l{index}")
            )
        if dormant:
            findings.append(Finding("dormant-key", "low", key_id, "", "dormant", f"d{index}"))
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {index}"
        audits.append(
            KeyAudit(
                key=ApiKey(
                    key_id,
                    name,
                    frozenset() if legacy else assigned,
                    full_access=legacy,
                    created_at=start - timedelta(days=200),
                    owner=rng.choice(WORDS),
                ),
                granted_scopes=granted,
                used_scopes=used,
                suggested_scopes=used,
                excess_scopes=excess,
                missing_scopes=frozenset(),
                evidence=evidence,
                excess=tuple(ExcessScope(s, tuple(single.get(s, ()))) for s in sorted(excess)),
                denied=(),
                unmatched=(),
                before=calculator.measure(granted),
                after=calculator.measure(graph.expand(used)),
                confidence="high",
                confidence_reasons=(),
                findings=tuple(findings),
                requests=sum(u.count for e in evidence for u in e.operations),
                last_seen=None if dormant else AS_OF - timedelta(days=rng.randint(1, 80)),
                assigned_scopes=assigned,
            )
        )
    result = AuditResult(
        tool_version="bench",
        as_of=AS_OF,
        window=Window(start, AS_OF, 90),
        complete=True,
        incomplete_reasons=(),
        spec=SpecSummary.of(spec),
        keys=tuple(audits),
        findings=(),
        data_quality=DataQuality(),
    )
    return SyntheticRun(settings, spec, graph, result)


# --------------------------------------------------------------------------- keyscope


class PaintClock:
    """Records every time a widget class finishes painting lines, and with how many rows."""

    def __init__(self, widget_class: type, rows: Any) -> None:
        self.paints: list[tuple[float, float, int, float]] = []
        """(start, end, rows shown, process CPU time at the end) of every ``render_lines`` call."""
        original = widget_class.render_lines
        clock = self

        def timed(widget: Any, crop: Any) -> Any:
            begun = time.perf_counter()
            lines = original(widget, crop)
            clock.paints.append((begun, time.perf_counter(), rows(widget), time.process_time()))
            return lines

        widget_class.render_lines = timed  # type: ignore[method-assign]
        self._restore = (widget_class, original)

    def restore(self) -> None:
        widget_class, original = self._restore
        widget_class.render_lines = original  # type: ignore[method-assign]

    def first_paint(self, rows: int, since: float) -> tuple[float, float] | None:
        """End (wall clock, CPU) of the first paint after ``since`` that showed ``rows`` rows."""
        return next(
            (
                (end, cpu)
                for begun, end, shown, cpu in self.paints
                if begun >= since and shown == rows
            ),
            None,
        )


async def settle_painted(
    pilot: Any, clock: PaintClock, rows: int, since: float
) -> tuple[tuple[float, float], float]:
    """Wait for the table to paint ``rows`` rows after ``since`` and then to go quiet.

    Returns:
        The end (wall clock, CPU time) of the first such paint, and the wall-clock end
        of the last paint before the table stopped repainting (focus and cursor changes
        repaint it once more).
    """
    quiet = 0
    seen = len(clock.paints)
    for _ in range(500):
        await pilot.pause()
        first = clock.first_paint(rows, since)
        if first is not None:
            quiet = quiet + 1 if len(clock.paints) == seen else 0
            if quiet >= 3:
                return first, clock.paints[-1][1]
        seen = len(clock.paints)
    raise RuntimeError(f"table never painted {rows} rows")


async def measure_keyscope(run: SyntheticRun, word: str) -> dict[str, Any]:
    from textual import events

    from keyscope.tui.app import make_app
    from keyscope.tui.context import AuditContext
    from keyscope.tui.key_frame import KeyFilter, KeyFrame, KeySort
    from keyscope.tui.messages import AnalysisCompleted
    from keyscope.tui.widgets.key_table import KeyTable

    # Rows prepared (worker side), measured on their own first.
    started = time.perf_counter()
    context = AuditContext.from_run(run)
    frame = KeyFrame.from_result(run.result, context.areas)
    prepared = time.perf_counter() - started
    expected = {
        prefix: frame.view(KeyFilter(text=word[: len(prefix)]), KeySort()).row_count
        for prefix in (word[:n] for n in range(1, len(word) + 1))
    }

    completed_at: list[tuple[float, float]] = []
    keys_at: list[tuple[float, float]] = []

    def hook(message: Any) -> None:
        if isinstance(message, AnalysisCompleted):
            completed_at.append((time.perf_counter(), time.process_time()))
        elif isinstance(message, events.Key):
            # The moment the app starts handling the key press (it then reaches the filter box).
            keys_at.append((time.perf_counter(), time.process_time()))

    clock = PaintClock(KeyTable, lambda table: table.row_count)
    app = make_app(run.settings, lambda _settings: run)
    try:
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            for _ in range(6000):
                if completed_at:
                    break
                await asyncio.sleep(0.01)
            (first, first_cpu), settled = await settle_painted(
                pilot, clock, len(run.result.keys), completed_at[0][0]
            )
            await pilot.press("slash")
            await settle_painted(pilot, clock, len(run.result.keys), 0.0)
            keystrokes = []
            keystrokes_cpu = []
            for position, char in enumerate(word):
                keys_at.clear()
                await pilot.press(char)
                rows = expected[word[: position + 1]]
                (end, end_cpu), _ = await settle_painted(pilot, clock, rows, keys_at[0][0])
                keystrokes.append(end - keys_at[0][0])
                keystrokes_cpu.append(end_cpu - keys_at[0][1])
    finally:
        clock.restore()
    return {
        "prepared": prepared,
        "first_paint": first - completed_at[0][0],
        "first_paint_cpu": first_cpu - completed_at[0][1],
        "settled": settled - completed_at[0][0],
        "keystrokes": keystrokes,
        "keystrokes_cpu": keystrokes_cpu,
        "rows_after": expected[word],
    }


# --------------------------------------------------------------------------- baseline


async def measure_plain_datatable(run: SyntheticRun, word: str) -> dict[str, Any]:
    """Textual's DataTable with the same display strings, the straightforward way."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from keyscope.tui.key_frame import DISPLAY_COLUMNS, KeyFilter, KeyFrame, KeySort

    view = KeyFrame.from_result(run.result).view(KeyFilter(), KeySort())
    columns = [column.id for column in DISPLAY_COLUMNS]
    rows = list(zip(*(view.column(c) for c in columns), strict=True))
    search = [" ".join(str(v) for v in row).lower() for row in rows]

    class PlainApp(App[None]):
        def compose(self) -> ComposeResult:
            table: DataTable[Any] = DataTable(cursor_type="row")
            table.add_columns(*(column.label for column in DISPLAY_COLUMNS))
            yield table

    clock = PaintClock(DataTable, lambda table: table.row_count)
    app = PlainApp()
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(DataTable)
            await pilot.pause()
            started = time.perf_counter()
            table.add_rows(rows)
            (first, _), settled = await settle_painted(pilot, clock, len(rows), started)
            # One keystroke the plain way: a Python loop keeps the matching rows.
            needle = word[:1]
            before = time.perf_counter()
            kept = [row for row, text in zip(rows, search, strict=True) if needle in text]
            table.clear()
            table.add_rows(kept)
            (end, _), _ = await settle_painted(pilot, clock, len(kept), before)
            keystroke = end - before
    finally:
        clock.restore()
    return {"first_paint": first - started, "settled": settled - started, "keystroke": keystroke}


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 keys instead of 100,000")
    parser.add_argument("--keys", type=int, help="number of keys (overrides --quick)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain DataTable")
    args = parser.parse_args(argv)
    count = args.keys or (10_000 if args.quick else 100_000)
    word = "ledger"

    started = time.perf_counter()
    run = synthetic_run(count)
    print(f"built {count:,} synthetic keys in {time.perf_counter() - started:.1f} s", flush=True)
    gc.collect()
    ours = asyncio.run(measure_keyscope(run, word))
    gc.collect()
    base = None if args.no_baseline else asyncio.run(measure_plain_datatable(run, word))

    strokes = ours["keystrokes"]
    strokes_cpu = ours["keystrokes_cpu"]
    rows = [
        ("rows prepared (worker, off the UI thread)", f"{ours['prepared']:.3f} s", "-", "-"),
        (
            "first paint after AnalysisCompleted",
            f"{ours['first_paint']:.3f} s",
            f"< {PAINT_TARGET:.1f} s",
            f"{base['first_paint']:.3f} s" if base else "skipped",
        ),
        (
            "  CPU time of the first paint",
            f"{ours['first_paint_cpu']:.3f} s",
            "-",
            "-",
        ),
        (
            "settled (last repaint before idle)",
            f"{ours['settled']:.3f} s",
            f"< {PAINT_TARGET:.1f} s",
            f"{base['settled']:.3f} s" if base else "skipped",
        ),
        (
            f"filter keystroke, median of {len(strokes)} ('{word}')",
            f"{statistics.median(strokes) * 1000:.0f} ms",
            f"< {KEYSTROKE_TARGET * 1000:.0f} ms",
            f"{base['keystroke'] * 1000:.0f} ms (1 keystroke)" if base else "skipped",
        ),
        (
            "filter keystroke, worst",
            f"{max(strokes) * 1000:.0f} ms",
            f"< {KEYSTROKE_TARGET * 1000:.0f} ms",
            "-",
        ),
        (
            "  CPU time of a keystroke, median / worst",
            f"{statistics.median(strokes_cpu) * 1000:.0f} / {max(strokes_cpu) * 1000:.0f} ms",
            "-",
            "-",
        ),
    ]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\nkeys screen, {count:,} keys, {SIZE[0]}x{SIZE[1]} headless; baseline: Textual DataTable;"
        f" {os.cpu_count()} CPUs, load average {load} (wall clock grows with the load, CPU time"
        " does not)"
    )
    header = ("measurement", "keyscope", "target", "baseline")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(4)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    print("keystrokes, wall clock (ms):", [round(k * 1000) for k in strokes])
    print("keystrokes, CPU time (ms):  ", [round(k * 1000) for k in strokes_cpu])
    print(f"\nrows left after typing '{word}': {ours['rows_after']:,}")
    ok = ours["settled"] < PAINT_TARGET and max(strokes) < KEYSTROKE_TARGET
    print("targets met" if ok else "TARGET MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
