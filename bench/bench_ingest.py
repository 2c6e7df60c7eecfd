"""Usage ingestion benchmark: ``load_usage`` against a plain ``json.loads`` loop.

Run from the repository root::

    python bench/bench_ingest.py            # 10 million JSON lines + 1M-line format variants
    python bench/bench_ingest.py --quick    # 1 million lines
    python bench/bench_ingest.py --against a0e7ad2   # the whole audit, side by side with
                                                     # that revision's (median of five each)

Inputs are generated once by ``python -m keyscope.sample_data --synthetic-keys ...`` and
cached under ``bench/out/`` (git-ignored).  Every measurement runs in a fresh
subprocess, so peak memory (``ru_maxrss``) belongs to that measurement alone; wall time
and CPU time (user + system, all threads) are both reported, because on a shared
machine the wall time depends on what else is running.

Targets (issue 3): the whole ``keyscope audit`` of a 10-million-line log (1,000 keys,
JSON report) in at most 4 s, at least 10x faster than the ``json.loads`` loop over the
same file, peak memory under 2 GB; ingestion alone (``load_usage``) in about 3 s of those 4.
The whole audit is also timed reading the log with DuckDB alone (``KEYSCOPE_SCANNER=off``),
alternated with the default runs, and the reports of both must be byte-identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _resident import duckdb_library, resident
from _synthetic import synthetic_log

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SPEC = ROOT / "sample_specs" / "partner-api.yaml"
KEYS = 1_000
AS_OF = "2026-11-01"
WINDOW_DAYS = 90

AUDIT_TARGET_S = 4.0
INGEST_TARGET_S = 3.0
SPEEDUP_TARGET = 10.0
MEMORY_TARGET_MB = 2048


# --------------------------------------------------------------------------- children


def _child_load_usage(path: str, kind: str | None) -> dict:
    """Run load_usage on one file; report figures the parent prints."""
    import resource
    import time
    from datetime import UTC, datetime, timedelta

    from keyscope.analysis.routes import RouteMatcher
    from keyscope.settings import UsageSource
    from keyscope.sources.openapi import load_spec
    from keyscope.sources.usage import load_usage

    matcher = RouteMatcher(load_spec(SPEC))
    end = datetime.fromisoformat(AS_OF).replace(tzinfo=UTC)
    wall, cpu = time.perf_counter(), time.process_time()
    usage = load_usage(
        [UsageSource(path=path, kind=kind)],
        matcher,
        window_start=end - timedelta(days=WINDOW_DAYS),
        window_end=end,
    )
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "lines": usage.total_lines,
        "requests": sum(row.count for row in usage.rows),
        "rows": len(usage.rows),
    }


def _child_json_loop(path: str, kind: str | None) -> dict:
    """The straightforward baseline: json.loads per line, aggregation in a dict."""
    import gzip
    import resource
    import time
    from datetime import UTC, datetime, timedelta

    end = datetime.fromisoformat(AS_OF).replace(tzinfo=UTC)
    start = end - timedelta(days=WINDOW_DAYS)
    wall, cpu = time.perf_counter(), time.process_time()
    groups: dict[tuple[str, str, str, int], list] = {}
    lines = bad = 0
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
        for text in stream:
            if not text.strip():
                continue
            lines += 1
            try:
                item = json.loads(text)
                moment = datetime.fromisoformat(item["timestamp"])
                key = (
                    item["key_id"],
                    item["method"].upper(),
                    item["path"].split("?")[0],
                    int(item["status"]),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                bad += 1
                continue
            if not start <= moment < end:
                continue
            entry = groups.get(key)
            if entry is None:
                groups[key] = [1, moment, moment]
            else:
                entry[0] += 1
                entry[1] = min(entry[1], moment)
                entry[2] = max(entry[2], moment)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "lines": lines,
        "requests": sum(entry[0] for entry in groups.values()),
        "rows": len(groups),
    }


def _child_load_usage_checked(path: str, kind: str | None) -> dict:
    """load_usage without the scanner and the clean-file fast path: what a log with one
    bad line costs."""
    from keyscope.sources import usage

    # Measured on purpose: the path every log with a bad line takes.
    usage._jsonl_scan = None
    usage._LogReader._fast_jsonl = lambda self, counter: None
    return _child_load_usage(path, kind)


def _child_load_usage_duckdb(path: str, kind: str | None) -> dict:
    """load_usage without keyscope's scanner: DuckDB's JSON reader on the fast path."""
    from keyscope.sources import usage

    usage._jsonl_scan = None
    return _child_load_usage(path, kind)


CHILDREN = {
    "load_usage": _child_load_usage,
    "load_usage_checked": _child_load_usage_checked,
    "load_usage_duckdb": _child_load_usage_duckdb,
    "json_loop": _child_json_loop,
}


def _measure(child: str, path: Path, kind: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", child, str(path)]
    if kind:
        command += ["--kind", kind]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(f"{child} on {path.name} failed:\n{result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _stolen_seconds() -> float:
    """CPU time the hypervisor has given to other guests since boot, all cores (Linux).

    Read before and after each timed run: a run on a machine whose host is busy waits
    for its CPUs without using them, and this is the only trace of that inside the guest.
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _measure_audit(
    log: Path, inventory: Path, source: Path | None = None, *, scanner: bool = True
) -> dict:
    """The whole ``keyscope audit`` (start-up, spec, keys, usage, analysis, JSON report)
    as a scheduled job runs it, in its own process: wall time, CPU and peak memory.

    ``source``: another checkout's ``src`` folder to run instead of this one's;
    ``scanner``: false to read the log with DuckDB alone (``KEYSCOPE_SCANNER=off``).
    """
    import hashlib
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="keyscope-bench-") as folder:
        report = Path(folder) / "audit.json"
        command = [
            sys.executable, "-m", "keyscope", "audit",
            "--spec", str(SPEC), "--keys", str(inventory), "--usage", str(log),
            "--as-of", AS_OF, "--window-days", str(WINDOW_DAYS),
            "--format", "json", "--output", str(report),
        ]  # fmt: skip
        started, stolen = time.perf_counter(), _stolen_seconds()
        # Run from the temporary folder, so no keyscope.toml adds the sample logs.
        errors = Path(folder) / "stderr.txt"
        environment = dict(os.environ)
        if source is not None:
            environment["PYTHONPATH"] = str(source)  # ahead of the editable install
        environment.pop("KEYSCOPE_SCANNER", None)
        if not scanner:
            environment["KEYSCOPE_SCANNER"] = "off"
        with errors.open("wb") as sink:
            child = subprocess.Popen(
                command, cwd=folder, env=environment, stdout=subprocess.DEVNULL, stderr=sink
            )
            # wait4: this child's own CPU time and peak memory, not every child's so far.
            _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        stolen = _stolen_seconds() - stolen
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"keyscope audit exited {code}:\n{errors.read_text(errors='replace')}")
        text = report.read_bytes()
        result = json.loads(text)
    return {
        "sha256": hashlib.sha256(text).hexdigest(),
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "stolen": stolen,
        "rss_mb": usage.ru_maxrss / 1024,
        "lines": result["data_quality"]["total_lines"],
        "keys": len(result["keys"]),
    }


# --------------------------------------------------------------------------- inputs


def _generate(lines: int, suffix: str, fmt: str) -> Path:
    """A synthetic log and its key inventory, generated once and cached."""
    path = OUT / f"synthetic-{KEYS}keys-{lines}lines{suffix}"
    return synthetic_log(
        path, spec=SPEC, keys=KEYS, lines=lines, fmt=fmt, as_of=AS_OF, days=WINDOW_DAYS,
        keys_output=_inventory(),
    )  # fmt: skip


def _report_results(
    label: str, audit: dict, ours: dict, baseline: dict, duckdb_audit: dict
) -> None:
    """The figures as RESULT lines for bench/run_all.py."""
    from _results import report

    loop = baseline["wall"]
    report(
        f"whole audit, {label} JSON lines, DuckDB alone (no scanner)", duckdb_audit["wall"], "s",
        baseline=loop, baseline_name="json.loads loop", cpu_s=round(duckdb_audit["cpu"], 2),
    )  # fmt: skip
    report(
        f"whole audit, {label} JSON lines", audit["wall"], "s",
        target=f"<= {AUDIT_TARGET_S:g} s", baseline=loop, met=audit["wall"] <= AUDIT_TARGET_S,
        baseline_name="json.loads loop", cpu_s=round(audit["cpu"], 2),
    )  # fmt: skip
    report(
        f"whole audit speed-up over the json.loads loop, {label}", loop / audit["wall"], "x",
        target=f">= {SPEEDUP_TARGET:g}x", met=loop / audit["wall"] >= SPEEDUP_TARGET,
    )  # fmt: skip
    report(
        f"whole audit peak memory, {label}", audit["rss_mb"], "MB",
        target=f"< {MEMORY_TARGET_MB:,} MB", baseline=baseline["rss_mb"],
        met=audit["rss_mb"] < MEMORY_TARGET_MB,
    )  # fmt: skip
    report(
        f"load_usage, {label} JSON lines", ours["wall"], "s",
        target=f"<= {INGEST_TARGET_S:g} s", baseline=loop, met=ours["wall"] <= INGEST_TARGET_S,
        cpu_s=round(ours["cpu"], 2),
    )  # fmt: skip


def _wall(figures: dict) -> float:
    return figures["wall"]


def _walls(runs: list[dict]) -> str:
    return " / ".join(f"{run['wall']:.2f}" for run in runs)


def _compare_with(revision: str, log: Path, rounds: int) -> int:
    """The whole audit of this checkout against ``revision``'s, alternated in one run.

    On a machine whose speed drifts by 10-20% within minutes, only runs taken side by
    side say whether a change made the audit faster.  ``revision`` is checked out in a
    temporary git worktree (this checkout is left alone) and byte-compiled like this one.
    """
    import statistics
    import tempfile

    with tempfile.TemporaryDirectory(prefix="keyscope-against-") as folder:
        other = Path(folder) / "checkout"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(other), revision],
            cwd=ROOT, check=True,
        )  # fmt: skip
        try:
            import compileall

            compileall.compile_dir(other / "src" / "keyscope", quiet=1)
            _compile_keyscope()
            runs: dict[str, list[dict]] = {revision: [], "this checkout": []}
            for _ in range(rounds):
                runs[revision].append(_measure_audit(log, _inventory(), other / "src"))
                runs["this checkout"].append(_measure_audit(log, _inventory()))
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False
            )
    for name, measured in runs.items():
        walls = sorted(run["wall"] for run in measured)
        cpus = [run["cpu"] for run in measured]
        print(
            f"{name:>16}: median {statistics.median(walls):.2f} s wall "
            f"({' / '.join(f'{wall:.2f}' for wall in walls)}), "
            f"median {statistics.median(cpus):.2f} CPU-s, "
            f"{sum(run['stolen'] for run in measured):.2f} s stolen by the host in all"
        )
    same = {run["sha256"] for measured in runs.values() for run in measured}
    print("JSON reports byte-identical" if len(same) == 1 else "JSON reports DIFFER")
    return 0 if len(same) == 1 else 1


def _compile_keyscope() -> None:
    """Byte-compile keyscope's sources, as installing a wheel does.

    An editable checkout run with PYTHONDONTWRITEBYTECODE set (as on this project's
    machines) would otherwise compile every module it imports on every run, about 0.1 s
    of start-up that an installed keyscope, or any second run, does not pay.
    """
    import compileall

    compileall.compile_dir(ROOT / "src" / "keyscope", quiet=1)


def _inventory() -> Path:
    """The synthetic logs' key inventory (the same keys whatever the number of lines)."""
    return OUT / f"synthetic-{KEYS}keys.yaml"


# --------------------------------------------------------------------------- report


def _row(measurement: str, figure: str, target: str, baseline: str) -> list[str]:
    return [measurement, figure, target, baseline]


def _print_table(rows: list[list[str]]) -> None:
    header = ["measurement", "figure", "target", "baseline"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * width for width in widths)
    print("  ".join(name.ljust(width) for name, width in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 million lines instead of 10")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="only time the whole audit, alternating with git revision REV's (median of 5)",
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.path, args.kind)))
        return 0

    big = 1_000_000 if args.quick else 10_000_000
    variant_lines = 1_000_000
    main_log = _generate(big, ".jsonl", "jsonl")
    inputs = [main_log, _inventory(), SPEC, *filter(None, [duckdb_library()])]
    if args.against:
        with resident(inputs) as residency:
            print(residency)
            return _compare_with(args.against, main_log, rounds=5)
    variants = [
        ("JSON lines", _generate(variant_lines, ".jsonl", "jsonl")),
        ("JSON lines, gzip", _generate(variant_lines, ".jsonl.gz", "jsonl")),
        ("CSV", _generate(variant_lines, ".csv", "csv")),
        ("CSV, gzip", _generate(variant_lines, ".csv.gz", "csv")),
        ("Parquet", _generate(variant_lines, ".parquet", "parquet")),
    ]

    if not _inventory().exists():  # logs cached by an older run, without their keys
        _generate(1, ".jsonl", "jsonl")
    _compile_keyscope()
    with resident([*inputs, *(path for _, path in variants)]) as residency:
        return _measure_and_print(big, main_log, variants, residency)


def _measure_and_print(
    big: int, main_log: Path, variants: list[tuple[str, Path]], residency: str
) -> int:
    """Every measurement of the full run (``big`` lines in ``main_log``), the table and the
    RESULT lines."""
    # The median of three runs: one audit on a shared 2-core machine varies by 10-20%.
    # The same audit reading the log with DuckDB alone (no scanner) alternates with it,
    # so the two are compared at the same moment of the machine.
    audits, duckdb_audits = [], []
    for _ in range(3):
        audits.append(_measure_audit(main_log, _inventory()))
        duckdb_audits.append(_measure_audit(main_log, _inventory(), scanner=False))
    audits.sort(key=_wall)
    duckdb_audits.sort(key=_wall)
    audit, duckdb_audit = audits[1], duckdb_audits[1]
    if {run["sha256"] for run in audits + duckdb_audits} != {audit["sha256"]}:
        sys.exit("the JSON reports differ between runs, or with DuckDB alone")
    ours = _measure("load_usage", main_log)
    ours_duckdb = _measure("load_usage_duckdb", main_log)
    checked = _measure("load_usage_checked", main_log)
    baseline = _measure("json_loop", main_log)
    if not ours["requests"] == ours_duckdb["requests"] == checked["requests"] == baseline[
        "requests"
    ]:
        sys.exit(
            f"results differ: load_usage {ours['requests']}, DuckDB alone "
            f"{ours_duckdb['requests']}, checked path {checked['requests']}, "
            f"loop {baseline['requests']}"
        )
    if audit["lines"] != baseline["lines"]:
        sys.exit(f"keyscope audit read {audit['lines']} lines, the loop {baseline['lines']}")
    speedup = baseline["wall"] / ours["wall"]
    size_mb = main_log.stat().st_size / 1e6
    label = f"{big / 1e6:g}M lines"
    rows = [
        _row(
            f"whole keyscope audit, {label} JSON lines, {audit['keys']:,} keys, JSON report, wall",
            f"{audit['wall']:.2f} s",
            f"<= {AUDIT_TARGET_S:g} s (10M)",
            f"{baseline['wall']:.2f} s",
        ),
        _row(
            "  same, CPU time (all threads) / peak memory",
            f"{audit['cpu']:.2f} s / {audit['rss_mb']:,.0f} MB",
            f"/ < {MEMORY_TARGET_MB:,} MB",
            f"{baseline['cpu']:.2f} s / {baseline['rss_mb']:,.0f} MB",
        ),
        _row(
            "  all three runs, wall",
            " / ".join(f"{run['wall']:.2f} s" for run in audits),
            "",
            "",
        ),
        _row(
            "  same runs, CPU / CPU time stolen by the host",
            " / ".join(f"{run['cpu']:.2f} s" for run in audits)
            + " ; "
            + " / ".join(f"{run['stolen']:.2f} s" for run in audits),
            "",
            "",
        ),
        _row(
            "  same audit, DuckDB alone (KEYSCOPE_SCANNER=off): median wall / CPU",
            f"{duckdb_audit['wall']:.2f} s / {duckdb_audit['cpu']:.2f} s "
            f"(runs {_walls(duckdb_audits)} s)",
            "",
            "byte-identical report",
        ),
        _row(
            "  speed-up of the whole audit over the json.loads loop",
            f"{baseline['wall'] / audit['wall']:.1f}x",
            f">= {SPEEDUP_TARGET:g}x",
            "1x",
        ),
        _row(
            f"load_usage, {label} JSON lines ({size_mb:,.0f} MB), wall",
            f"{ours['wall']:.2f} s",
            f"<= {INGEST_TARGET_S:g} s (10M)",
            f"{baseline['wall']:.2f} s",
        ),
        _row(
            "  same, CPU time (all threads)", f"{ours['cpu']:.2f} s", "", f"{baseline['cpu']:.2f} s"
        ),
        _row(
            "  DuckDB alone (no scanner), wall / CPU",
            f"{ours_duckdb['wall']:.2f} s / {ours_duckdb['cpu']:.2f} s",
            "",
            "",
        ),
        _row(
            "  checked path (a log with a bad line), wall / CPU",
            f"{checked['wall']:.2f} s / {checked['cpu']:.2f} s",
            "",
            "",
        ),
        _row(
            "  speed-up over json.loads loop (wall)",
            f"{speedup:.1f}x",
            f">= {SPEEDUP_TARGET:g}x",
            "1x",
        ),
        _row(
            "  peak memory (RSS)",
            f"{ours['rss_mb']:,.0f} MB",
            f"< {MEMORY_TARGET_MB:,} MB",
            f"{baseline['rss_mb']:,.0f} MB",
        ),
        _row(
            "  lines / usage rows",
            f"{ours['lines']:,} / {ours['rows']:,}",
            "",
            f"{baseline['lines']:,} / {baseline['rows']:,} groups",
        ),
    ]
    loop_rate = baseline["lines"] / baseline["wall"]
    for name, path in variants:
        figures = _measure("load_usage", path)
        rate = figures["lines"] / figures["wall"]
        detail = f"{figures['wall']:.2f} s, {figures['rss_mb']:,.0f} MB"
        rows.append(
            _row(
                f"ingestion rate, 1M lines, {name}",
                f"{rate / 1e6:.2f} M lines/s ({detail})",
                "",
                f"{loop_rate / 1e6:.2f} M lines/s (loop, JSON)" if name == "JSON lines" else "",
            )
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nusage ingestion, {cores} cores, load average {load:.1f} at the end; {residency}\n")
    _print_table(rows)
    _report_results(label, audit, ours, baseline, duckdb_audit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
