"""Benchmark: usage aggregation inside the engine (the generated SQL) vs matching in Python.

Run from the repository root::

    python bench/bench_aggregate.py            # 10 million lines (Spark: 1 million)
    python bench/bench_aggregate.py --quick    # 1 million lines (Spark: 100,000)

The input is a synthetic Parquet request log from ``python -m keyscope.sample_data``
(1,000 keys, the sample spec's routes with random ids), generated once and cached under
``bench/out/`` (git-ignored).  Every measurement runs in a fresh subprocess, so its peak
memory (``ru_maxrss`` through ``wait4``) is its own; wall and CPU time are both shown,
because on a shared machine the wall time depends on what else runs.

Measurements:

* ``keyscope aggregate --engine duckdb``: read the log, normalize and match every
  distinct route inside DuckDB with the query generated from the spec, write the
  aggregate (Parquet).  Baseline, same run, same file: ``load_usage`` on the raw log, the
  audit's own path (DuckDB groups per key, method and path; the Python route matcher
  resolves each distinct route).  No target (issue 8 sets none): the SQL exists to run
  on engines that scale out, and it computes more than the baseline, one row per key,
  route, status class and UTC day.  The synthetic log is the worst case for that: each
  of its 1,000 keys calls ~24 routes on every one of the 90 days, so ten million lines
  still give two million rows; real logs repeat far more.
* Reading the aggregate for the audit (``load_usage`` on ``kind = "aggregate"``):
  target, faster than reading the raw log it summarizes (issue 8: "audits in seconds").
* Agreement: requests per key, method, operation and status class are the same in the
  aggregate and in ``load_usage``'s rows (unmatched requests counted together).
* Spark local mode (``--engine spark``, ``local[*]``) on 1 million lines (100,000 with
  ``--quick``), when PySpark and Java are installed; JVM start-up is shown apart.  The
  baseline is DuckDB on the same file.  No target: it shows the query runs there.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _results import report
from _synthetic import synthetic_log

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SPEC = ROOT / "sample_specs" / "partner-api.yaml"
KEYS = 1000
AS_OF = "2026-11-01"
WINDOW_DAYS = 90


# --------------------------------------------------------------------------- children


def _window() -> tuple[object, object]:
    from datetime import UTC, datetime, timedelta

    end = datetime.fromisoformat(AS_OF).replace(tzinfo=UTC)
    return end - timedelta(days=WINDOW_DAYS), end


def _digest(entries: dict[tuple[str, str, str, str], int]) -> str:
    text = "\n".join(f"{k}\t{m}\t{o}\t{c}\t{n}" for (k, m, o, c), n in sorted(entries.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _aggregate(engine: str, log: str, output: str, master: str = "local[*]") -> float:
    """What ``keyscope aggregate --engine ENGINE`` does, timed (argparse aside)."""
    from keyscope.aggregation import run_aggregation, write_aggregate
    from keyscope.settings import UsageSource
    from keyscope.sources.openapi import load_spec

    start, end = _window()
    started = time.perf_counter()
    result = run_aggregation(
        load_spec(SPEC),
        [UsageSource(path=log)],
        engine=engine,
        window_start=start,
        window_end=end,
        spark_master=master,
    )
    write_aggregate(result.table, Path(output))
    return time.perf_counter() - started


def child_sql(log: str, output: str) -> dict:
    """keyscope aggregate --engine duckdb: the generated SQL on the embedded DuckDB."""
    seconds = _aggregate("duckdb", log, output)
    import pyarrow.parquet as pq

    table = pq.read_table(output)
    entries: dict[tuple[str, str, str, str], int] = {}
    for key_id, method, operation, klass, count in zip(
        *(
            table.column(name).to_pylist()
            for name in ("key_id", "method", "operation", "status_class", "count")
        ),
        strict=True,
    ):
        entry = (key_id, method, operation or "-", klass)
        entries[entry] = entries.get(entry, 0) + count
    return {
        "seconds": seconds,
        "rows": table.num_rows,
        "bytes": Path(output).stat().st_size,
        "digest": _digest(entries),
        "requests": sum(entries.values()),
    }


def child_python(log: str, kind: str | None = None) -> dict:
    """load_usage: the audit's path (raw log: Python matcher; aggregate: reader)."""
    from keyscope.analysis.routes import RouteMatcher
    from keyscope.settings import UsageSource
    from keyscope.sources.openapi import load_spec
    from keyscope.sources.usage import load_usage

    spec = load_spec(SPEC)
    start, end = _window()
    started = time.perf_counter()
    usage = load_usage(
        [UsageSource(path=log, kind=kind)], RouteMatcher(spec), window_start=start, window_end=end
    )
    seconds = time.perf_counter() - started
    entries: dict[tuple[str, str, str, str], int] = {}
    for row in usage.rows:
        entry = (row.key_id, row.method, row.operation or "-", row.status_class)
        entries[entry] = entries.get(entry, 0) + row.count
    return {
        "seconds": seconds,
        "rows": len(usage.rows),
        "digest": _digest(entries),
        "requests": sum(entries.values()),
    }


def child_spark(log: str, output: str) -> dict:
    """keyscope aggregate --engine spark in local mode; JVM start-up timed apart."""
    from keyscope.aggregation import spark_session

    started = time.perf_counter()
    session = spark_session("local[*]")
    startup = time.perf_counter() - started
    seconds = _aggregate("spark", log, output)
    session.stop()
    return {"seconds": seconds, "startup": startup}


CHILDREN = {"sql": child_sql, "python": child_python, "spark": child_spark}


def measure_with_usage(child: str, *arguments: str) -> dict:
    """Like :func:`measure`, reaping the child with wait4 to get its own rusage."""
    command = [sys.executable, __file__, "--child", child, *arguments]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{child} failed:\n{stderr.strip()[-2000:]}")
    answer = json.loads(stdout.strip().splitlines()[-1])
    answer["cpu"] = usage.ru_utime + usage.ru_stime
    answer["peak_mb"] = usage.ru_maxrss / 1024
    return answer


# --------------------------------------------------------------------------- inputs


def generate(lines: int) -> Path:
    """A synthetic Parquet log, generated once and cached."""
    path = OUT / f"aggregate-input-{KEYS}k-{lines}.parquet"
    return synthetic_log(
        path, spec=SPEC, keys=KEYS, lines=lines, fmt="parquet", as_of=AS_OF, days=WINDOW_DAYS
    )


def spark_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java") or (java_home and (Path(java_home) / "bin" / "java").is_file())
    return importlib.util.find_spec("pyspark") is not None and bool(java)


# --------------------------------------------------------------------------- report


def _print_table(rows: list[list[str]]) -> None:
    header = ["measurement", "figure", "target", "baseline"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print("  ".join(name.ljust(width) for name, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _timing(answer: dict) -> str:
    return f"{answer['seconds']:.2f} s wall, {answer['cpu']:.1f} s CPU, {answer['peak_mb']:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 million lines instead of 10")
    parser.add_argument("--no-spark", dest="spark", action="store_false", help="skip Spark")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("arguments", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](*args.arguments)))
        return 0

    lines = 1_000_000 if args.quick else 10_000_000
    spark_lines = 100_000 if args.quick else 1_000_000
    log = generate(lines)
    aggregate = OUT / f"aggregate-{lines}.parquet"
    rows: list[list[str]] = []

    sql = measure_with_usage("sql", str(log), str(aggregate))
    python = measure_with_usage("python", str(log))
    read = measure_with_usage("python", str(aggregate), "aggregate")
    agree = sql["digest"] == python["digest"] == read["digest"]
    label = f"{lines:,} lines"

    ratio = sql["seconds"] / python["seconds"]
    rows.append(
        [
            f"aggregate {label}: generated SQL on DuckDB",
            _timing(sql),
            "none set",
            f"{python['seconds']:.2f} s (load_usage, Python matcher); x{ratio:.1f}",
        ]
    )
    report(
        f"aggregate {label} (generated SQL, DuckDB)",
        round(sql["seconds"], 2),
        "s",
        target=None,
        baseline=round(python["seconds"], 2),
        met=None,
        baseline_name="load_usage with the Python matcher",
        ratio=round(ratio, 2),
        cpu_s=round(sql["cpu"], 1),
        peak_rss_mb=round(sql["peak_mb"]),
        baseline_peak_rss_mb=round(python["peak_mb"]),
    )
    rows.append(
        [
            "  lines per second (SQL; baseline)",
            f"{lines / sql['seconds']:,.0f}",
            "",
            f"{lines / python['seconds']:,.0f}",
        ]
    )
    rows.append(
        [
            "  aggregate size",
            f"{sql['rows']:,} rows, {sql['bytes'] / 1e6:.1f} MB",
            "",
            f"{python['rows']:,} usage rows (no day)",
        ]
    )
    report(f"aggregate {label}: rows written", sql["rows"], "rows", note=f"{sql['bytes']} bytes")

    read_met = read["seconds"] < python["seconds"]
    rows.append(
        [
            f"audit reads the aggregate of {label}",
            _timing(read),
            "< baseline",
            f"{python['seconds']:.2f} s (the raw log)",
        ]
    )
    report(
        f"audit reads the aggregate of {label}",
        round(read["seconds"], 2),
        "s",
        target="< baseline (the raw log)",
        baseline=round(python["seconds"], 2),
        met=read_met,
        baseline_name="load_usage on the raw log",
        peak_rss_mb=round(read["peak_mb"]),
    )

    rows.append(
        [
            "requests per key/method/operation/class agree",
            "yes" if agree else "NO",
            "yes",
            f"{sql['requests']:,} vs {python['requests']:,} requests",
        ]
    )
    report(
        "aggregate agrees with load_usage",
        int(agree),
        "bool",
        target="1",
        met=agree,
        requests=sql["requests"],
        baseline_requests=python["requests"],
    )

    if args.spark and spark_available():
        small = generate(spark_lines)
        spark = measure_with_usage(
            "spark", str(small), str(OUT / f"aggregate-spark-{spark_lines}.parquet")
        )
        duck = measure_with_usage(
            "sql", str(small), str(OUT / f"aggregate-duckdb-{spark_lines}.parquet")
        )
        rows.append(
            [
                f"Spark local[*], {spark_lines:,} lines (JVM start apart)",
                f"{spark['seconds']:.1f} s + {spark['startup']:.1f} s start, "
                f"{spark['peak_mb']:,.0f} MB driver",
                "-",
                f"{duck['seconds']:.2f} s (DuckDB)",
            ]
        )
        report(
            f"aggregate {spark_lines:,} lines on Spark local mode",
            round(spark["seconds"], 1),
            "s",
            baseline=round(duck["seconds"], 2),
            baseline_name="DuckDB, same file",
            jvm_start_s=round(spark["startup"], 1),
        )
    else:
        rows.append(["Spark local mode", "skipped (no PySpark or Java, or --no-spark)", "-", "-"])
        report("aggregate on Spark local mode", None, "s", note="skipped")

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\nusage aggregation, {len(os.sched_getaffinity(0))} cores, load average {load} "
        "at the end\n"
    )
    _print_table(rows)
    # Ran: exit 0 even when a target is missed; the verdicts are in the RESULT lines.
    return 0


if __name__ == "__main__":
    sys.exit(main())
