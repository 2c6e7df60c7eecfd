"""Run every benchmark, measure cold start, and print one table of figures and targets.

    python bench/run_all.py                  # full sizes: tens of minutes on 2 cores
    python bench/run_all.py --quick          # small sizes: a few minutes
    python bench/run_all.py --only routes --only ingest --quick

Every ``bench/bench_*.py`` present runs in its own process (``--quick`` passed through),
its output shown as it comes; the ``RESULT {...}`` lines it prints (``bench/README.md``)
are collected into the combined table.  A script that prints none still gets a row with
its exit status, wall time and peak memory, and its raw output stays above the table.

Then the cold start of ``keyscope --help`` (target: under 150 ms) is measured by spawning
``python -m keyscope --help`` and the console script several times each (median), next
to the interpreter's own start-up (``python -c pass``) in the same run, and the heavy
modules ``--help`` imports are listed (there should be none).

The machine (cores, memory, CPU model, Python, load average) is printed with the table,
and everything is written to ``bench/out/results.json`` (git-ignored).

Exit status: 0 when every script ran and no target was missed, 1 when a target was
missed, 2 when a script failed or timed out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OUT = BENCH / "out"
RESULTS = OUT / "results.json"
COLD_START_TARGET = 0.150
HEAVY_MODULES = ("textual", "duckdb", "jinja2", "sqlglot", "pyarrow", "pyspark", "httpx", "rich")

sys.path.insert(0, str(BENCH))
from _results import parse  # noqa: E402 - the folder goes on sys.path first


@dataclass
class ScriptRun:
    """One benchmark script's run."""

    script: str
    command: list[str]
    exit_code: int | None = None
    timed_out: bool = False
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    """Peak resident memory of the script and the children it waited for."""
    results: list[dict[str, Any]] = field(default_factory=list)
    malformed_result_lines: int = 0
    output: str = ""


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """Where the figures come from."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    memory_gb = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores_usable": usable,
        "cores_total": os.cpu_count(),
        "memory_gb": memory_gb,
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_start": _load(),
    }


def _load() -> list[float] | None:
    """1, 5 and 15-minute load averages: on a shared machine, figures vary with them."""
    if not hasattr(os, "getloadavg"):
        return None
    return [round(value, 2) for value in os.getloadavg()]


# --------------------------------------------------------------------------- processes


def _wait(process: subprocess.Popen[Any]) -> tuple[int, float, float]:
    """Reap ``process`` with wait4: (exit code, CPU seconds, peak RSS in MB)."""
    _pid, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code  # reaped here; Popen must not wait again
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / (1024 * 1024)
    return code, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * scale


def run_script(path: Path, quick: bool, timeout: float | None) -> ScriptRun:
    """Run one benchmark, echoing its output, and collect its RESULT lines."""
    command = [sys.executable, str(path.relative_to(ROOT))] + (["--quick"] if quick else [])
    run = ScriptRun(script=path.name, command=command)
    print(f"\n=== {' '.join(command)}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its own process group, so a timeout ends its children too
    )
    timer = None
    if timeout:

        def stop() -> None:
            run.timed_out = True
            # Only the group this script started (start_new_session above).
            os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, stop)
        timer.start()
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        print("  | " + line, end="", flush=True)
        lines.append(line)
        if line.startswith("RESULT "):
            record = parse(line.rstrip("\n"))
            if record is None:
                run.malformed_result_lines += 1
            else:
                run.results.append(record)
    run.exit_code, run.cpu_seconds, run.peak_rss_mb = _wait(process)
    if timer is not None:
        timer.cancel()
    run.wall_seconds = time.perf_counter() - started
    run.output = "".join(lines)
    return run


def time_commands(commands: dict[str, list[str]], runs: int) -> dict[str, dict[str, Any]]:
    """Median wall time of each command over ``runs`` spawns, after one warm-up each.

    The commands take turns (round robin), so a burst of load on a shared machine hits
    all of them alike instead of skewing the one that happened to run then.
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[float]] = {name: [] for name in commands}
    errors: dict[str, str] = {}
    for number in range(runs + 1):
        for name, command in commands.items():
            if name in errors:
                continue
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            code, _cpu, peak = _wait(process)
            elapsed = time.perf_counter() - started
            if code != 0:
                errors[name] = f"exit {code}"
            elif number:  # the first round warms the file cache
                times[name].append(elapsed)
                peaks[name].append(peak)
    measured = {}
    for name, command in commands.items():
        if name in errors:
            measured[name] = {"command": command, "error": errors[name]}
            continue
        measured[name] = {
            "command": command,
            "runs": runs,
            "median_seconds": statistics.median(times[name]),
            "min_seconds": min(times[name]),
            "max_seconds": max(times[name]),
            "peak_rss_mb": max(peaks[name]),
        }
    return measured


def heavy_modules_after_help() -> list[str] | None:
    """Heavy packages that building ``keyscope --help`` imports (there should be none)."""
    probe = (
        "import sys\n"
        "from keyscope.cli import build_parser\n"
        "build_parser().format_help()\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    text = result.stdout.strip()
    return text.split(",") if text else []


def cold_start(runs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """RESULT-shaped records for ``keyscope --help`` and the raw measurements."""
    commands = {
        "baseline": [sys.executable, "-c", "pass"],
        "module": [sys.executable, "-m", "keyscope", "--help"],
    }
    script = Path(sys.executable).with_name("keyscope")
    if script.exists():
        commands["console"] = [str(script), "--help"]
    measured = time_commands(commands, runs)
    baseline, module, console = measured["baseline"], measured["module"], measured.get("console")
    heavy = heavy_modules_after_help()
    raw = {"python -c pass": baseline, "python -m keyscope --help": module}
    if console is not None:
        raw["keyscope --help"] = console
    raw["heavy modules imported by --help"] = heavy
    base = baseline.get("median_seconds")
    records = []
    for name, measured in (("python -m keyscope --help", module), ("keyscope --help", console)):
        if measured is None:
            continue
        value = measured.get("median_seconds")
        records.append(
            {
                "name": f"cold start: {name} (median of {runs})",
                "value": None if value is None else round(value * 1000, 1),
                "unit": "ms",
                "target": "< 150 ms",
                "baseline": None if base is None else round(base * 1000, 1),
                "met": None if value is None else value < COLD_START_TARGET,
                "baseline_name": "python -c pass",
                "peak_rss_mb": round(measured.get("peak_rss_mb", 0), 1),
                "note": measured.get("error", ""),
            }
        )
    records.append(
        {
            "name": "heavy modules imported by --help",
            "value": None if heavy is None else len(heavy),
            "unit": "modules",
            "target": "0",
            "baseline": None,
            "met": None if heavy is None else not heavy,
            "note": ", ".join(heavy or []) or "checked: " + " ".join(HEAVY_MODULES),
        }
    )
    return records, raw


# --------------------------------------------------------------------------- report


def _figure(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value} {unit}".strip()
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 10 or float(value).is_integer():
        text = f"{value:,.1f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def table_rows(runs: list[ScriptRun], start_records: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for run in runs:
        short = run.script.removeprefix("bench_").removesuffix(".py")
        status = (
            "timed out"
            if run.timed_out
            else "ok"
            if run.exit_code == 0
            else f"exit {run.exit_code}"
        )
        for record in run.results:
            baseline = _figure(record.get("baseline"), record.get("unit", ""))
            if record.get("baseline_name") and baseline != "-":
                baseline += f" ({record['baseline_name']})"
            rows.append(
                [
                    f"{short}: {record['name']}",
                    _figure(record.get("value"), record.get("unit", "")),
                    record.get("target") or "-",
                    baseline,
                    _verdict(record.get("met")),
                ]
            )
        note = "" if run.results else "; no RESULT lines, see its output above"
        if run.malformed_result_lines:
            note += f"; {run.malformed_result_lines} malformed RESULT lines"
        rows.append(
            [
                f"{short}: whole script ({status}{note})",
                f"{run.wall_seconds:,.1f} s, peak {run.peak_rss_mb:,.0f} MB",
                "-",
                "-",
                "-" if run.exit_code == 0 and not run.timed_out else "NO",
            ]
        )
    for record in start_records:
        baseline = _figure(record.get("baseline"), record["unit"])
        if record.get("baseline_name") and baseline != "-":
            baseline += f" ({record['baseline_name']})"
        figure = _figure(record["value"], record["unit"])
        if record.get("note"):
            figure += f" [{record['note']}]"
        rows.append([record["name"], figure, record["target"], baseline, _verdict(record["met"])])
    return rows


def print_table(rows: list[list[str]]) -> None:
    header = ["measurement", "figure", "target", "baseline", "met?"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print("  ".join(name.ljust(width) for name, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _selected(paths: list[Path], only: list[str], skip: list[str]) -> list[Path]:
    def names(path: Path) -> set[str]:
        stem = path.stem
        return {path.name, stem, stem.removeprefix("bench_")}

    chosen = [path for path in paths if not only or names(path) & set(only)]
    return [path for path in chosen if not names(path) & set(skip)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="exit status: 0 all met, 1 a target missed, 2 a script failed or timed out",
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="run only this benchmark (routes, bench_routes or bench_routes.py); repeatable",
    )  # fmt: skip
    parser.add_argument("--skip", action="append", default=[], metavar="NAME", help="skip one")
    parser.add_argument(
        "--runs", type=int, help="spawns per cold-start measurement (default 20, --quick 7)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, metavar="SECONDS",
        help="stop a benchmark after this long (default 3600; 0 for none)",
    )  # fmt: skip
    parser.add_argument(
        "--no-cold-start", dest="cold_start", action="store_false", help="skip the --help timing"
    )
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    host = machine()
    scripts = _selected(sorted(BENCH.glob("bench_*.py")), args.only, args.skip)
    runs = [run_script(path, args.quick, args.timeout or None) for path in scripts]
    start_records: list[dict[str, Any]] = []
    start_raw: dict[str, Any] = {}
    if args.cold_start:
        print("\n=== cold start of keyscope --help", flush=True)
        start_records, start_raw = cold_start(args.runs or (7 if args.quick else 20))
    host["load_average_end"] = _load()

    print()
    print(
        f"machine: {host['cores_usable']} usable cores of {host['cores_total']}, "
        f"{host['memory_gb']} GB, {host['cpu_model']}; Python {host['python']} "
        f"({host['platform']}); load average {host['load_average_start']} at start, "
        f"{host['load_average_end']} at the end"
    )
    print(f"mode: {'--quick' if args.quick else 'full sizes'}; started {started_at}\n")
    print_table(table_rows(runs, start_records))

    OUT.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": started_at,
        "quick": args.quick,
        "machine": host,
        "benchmarks": [asdict(run) for run in runs],
        "cold_start": {"results": start_records, "raw": start_raw},
    }
    temporary = RESULTS.with_name(RESULTS.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    temporary.replace(RESULTS)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")

    if any(run.timed_out or run.exit_code != 0 for run in runs):
        return 2
    every = [record for run in runs for record in run.results] + start_records
    return 1 if any(record.get("met") is False for record in every) else 0


if __name__ == "__main__":
    sys.exit(main())
