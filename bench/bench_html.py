"""HTML report at scale: render time, file size and browser load time for 10,000 keys.

    python bench/bench_html.py            # 10,000 keys
    python bench/bench_html.py --quick    # 1,000 keys

Targets (issue 4): render under 3 s, file under 10 MB, open in headless Chromium in
under 2 s.  The baseline, measured in the same run on the same result, is the
straightforward report: one <table>, every key's full detail (scope pickers, evidence,
excess scopes, denied requests, a bar chart) rendered as HTML by the template.
keyscope's report renders the table as a grid of row groups the browser lays out
only when scrolled into view, and builds a key's detail from one compact JSON blob
when it is opened.

Browser load time is the wall time from navigation to the load event (the report's
script runs before it), minus the same for a blank page, median of three, in one
headless Chromium (``tests/report/_chromium.py``, DevTools over a pipe).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _synthetic import synthetic_from_arguments  # noqa: E402

from keyscope.model import AuditResult  # noqa: E402
from keyscope.report.html import render_html  # noqa: E402
from report._chromium import Chromium, find_chromium  # noqa: E402

NAIVE_TEMPLATE = Path(__file__).resolve().parent / "naive_report.html.j2"
"""The straightforward report: everything rendered as HTML, one table (autoescaped too)."""


def render_naive(result: AuditResult) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(NAIVE_TEMPLATE.parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    areas = sorted({scope.split(":")[0] for audit in result.keys for scope in audit.granted_scopes})
    return env.get_template(NAIVE_TEMPLATE.name).render(
        title=result.spec.title, keys=result.keys, areas=areas
    )


def timed(function: Callable[[], str], repeat: int) -> tuple[float, float, str]:
    """Best wall time, the CPU time of that run (immune to a busy machine), and the output."""
    best, best_cpu = float("inf"), 0.0
    output = ""
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        output = function()
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best, best_cpu = elapsed, time.process_time() - started_cpu
    return best, best_cpu, output


def load_time(browser: Chromium, path: Path, blank: float, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        browser.open("about:blank")
        times.append(browser.open(path.as_uri(), timeout=120) - blank)
    return statistics.median(times)


def main() -> int:
    count, result = synthetic_from_arguments(__doc__, quick=1_000, full=10_000)
    render_html(result)  # warm the template cache, as a long-lived process would be
    with tempfile.TemporaryDirectory(prefix="keyscope-bench-") as temporary:
        folder = Path(temporary)
        ours_time, ours_cpu, ours = timed(lambda: render_html(result), 3)
        naive_time, naive_cpu, naive = timed(lambda: render_naive(result), 1)
        ours_path, naive_path = folder / "report.html", folder / "naive.html"
        ours_path.write_text(ours, encoding="utf-8")
        naive_path.write_text(naive, encoding="utf-8")
        rows = [
            ("HTML render time", f"{ours_time:.2f} s", "< 3 s", f"{naive_time:.2f} s"),
            ("HTML render CPU time", f"{ours_cpu:.2f} s", "", f"{naive_cpu:.2f} s"),
            (
                "HTML size",
                f"{len(ours.encode()) / 1e6:.2f} MB",
                "< 10 MB",
                f"{len(naive.encode()) / 1e6:.2f} MB",
            ),
        ]
        if find_chromium() is None:
            rows.append(("Chromium load time", "n/a (no Chromium)", "< 2 s", "n/a"))
        else:
            with Chromium() as browser:
                blank = statistics.median(browser.open("about:blank") for _ in range(3))
                ours_load = load_time(browser, ours_path, blank)
                problems = browser.problems()
                naive_load = load_time(browser, naive_path, blank)
            rows.append(
                ("Chromium load time", f"{ours_load:.2f} s", "< 2 s", f"{naive_load:.2f} s")
            )
            if problems:
                print("browser problems:", *problems, sep="\n  ")
    header = ("measurement", "figure", "target", "baseline (naive)")
    width = [max(len(row[i]) for row in (*rows, header)) for i in range(4)]
    print()
    print("  ".join(text.ljust(width[i]) for i, text in enumerate(header)))
    print("  ".join("-" * width[i] for i in range(4)))
    for row in rows:
        print("  ".join(text.ljust(width[i]) for i, text in enumerate(row)))
    print(f"\n{count:,} keys; machine: {sys.platform}, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
