"""SARIF report at scale: render time, size and result count against GitHub's limits.

    python bench/bench_sarif.py            # 100,000 keys (about 280,000 findings)
    python bench/bench_sarif.py --quick    # 10,000 keys
    python bench/bench_sarif.py --keys N

GitHub code scanning rejects a run with more than 25,000 results or a file over 10 MB.
keyscope's SARIF aggregates findings (per rule and key, then per rule and level, least
severe rule first) until both hold.  The baseline, measured in the same run on the same
result, is the straightforward report: one result per finding, whatever the count (the
same renderer with the limits lifted).  There is no render-time target; the limits are
the targets, and render time is shown beside the baseline's.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _results import report  # noqa: E402
from _synthetic import synthetic_from_arguments  # noqa: E402

from keyscope.report import sarif  # noqa: E402


def timed(function: Callable[[], str]) -> tuple[float, float, str]:
    """Wall time, CPU time (immune to a busy machine) and the output of one call."""
    started, started_cpu = time.perf_counter(), time.process_time()
    output = function()
    return time.perf_counter() - started, time.process_time() - started_cpu, output


def main() -> int:
    count, result = synthetic_from_arguments(__doc__, quick=10_000, full=100_000)
    findings = len(result.findings)

    ours_time, ours_cpu, ours = timed(lambda: sarif.render_sarif(result))
    again = sarif.render_sarif(result)
    limits = (sarif.MAX_RESULTS, sarif.MAX_BYTES)
    sarif.MAX_RESULTS = sarif.MAX_BYTES = 10**15  # the baseline: one result per finding
    try:
        naive_time, naive_cpu, naive = timed(lambda: sarif.render_sarif(result))
    finally:
        sarif.MAX_RESULTS, sarif.MAX_BYTES = limits

    run = json.loads(ours)["runs"][0]
    results = len(run["results"])
    naive_results = len(json.loads(naive)["runs"][0]["results"])
    kinds = Counter(entry["properties"].get("aggregated", "finding") for entry in run["results"])
    covered = sum(
        entry["properties"]["findings"] if "aggregated" in entry["properties"] else 1
        for entry in run["results"]
    )
    size, naive_size = len(ours.encode()), len(naive.encode())
    within = results <= limits[0] and size <= limits[1]

    report("SARIF results", results, "results", target="<= 25,000", baseline=naive_results,
           baseline_name="one result per finding", met=results <= limits[0])  # fmt: skip
    report("SARIF size", round(size / 1e6, 2), "MB", target="<= 10 MB",
           baseline=round(naive_size / 1e6, 2), met=size <= limits[1])  # fmt: skip
    report("SARIF render time", round(ours_time, 2), "s", baseline=round(naive_time, 2),
           cpu_s=round(ours_cpu, 2), baseline_cpu_s=round(naive_cpu, 2))  # fmt: skip

    rows = [
        ("results", f"{results:,}", "<= 25,000", f"{naive_results:,}"),
        ("size", f"{size / 1e6:.2f} MB", "<= 10 MB", f"{naive_size / 1e6:.2f} MB"),
        ("render time", f"{ours_time:.2f} s", "", f"{naive_time:.2f} s"),
        ("render CPU time", f"{ours_cpu:.2f} s", "", f"{naive_cpu:.2f} s"),
        ("findings accounted for", f"{covered:,} of {findings:,}", "all", f"{findings:,}"),
        ("byte-identical on re-render", str(again == ours), "True", ""),
    ]
    header = ("measurement", "figure", "target", "baseline (one per finding)")
    width = [max(len(row[i]) for row in (*rows, header)) for i in range(4)]
    print()
    print("  ".join(text.ljust(width[i]) for i, text in enumerate(header)))
    print("  ".join("-" * width[i] for i in range(4)))
    for row in rows:
        print("  ".join(text.ljust(width[i]) for i, text in enumerate(row)))
    shape = ", ".join(f"{number:,} per {kind}" for kind, number in sorted(kinds.items()))
    print(f"\nresults: {shape}")
    for note in run["invocations"][0].get("toolExecutionNotifications", []):
        print(f"notification ({note['level']}): {note['message']['text']}")
    print(f"{count:,} keys; machine: {sys.platform}, Python {sys.version.split()[0]}")
    return 0 if within and covered == findings and again == ours else 1


if __name__ == "__main__":
    raise SystemExit(main())
