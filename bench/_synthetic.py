"""Synthetic inputs for the benchmarks: logs written by ``keyscope.sample_data`` (made
once, cached under ``bench/out/``), and the audit result the report benchmarks render,
sized from the command line::

    from _synthetic import synthetic_from_arguments, synthetic_log

    count, result = synthetic_from_arguments(__doc__, quick=1_000, full=10_000)
    log = synthetic_log(path, spec=SPEC, keys=1_000, lines=10**7, fmt="jsonl", ...)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyscope.model import AuditResult

ROOT = Path(__file__).resolve().parents[1]


def synthetic_log(
    path: Path,
    *,
    spec: Path,
    keys: int,
    lines: int,
    fmt: str,
    as_of: str,
    days: int,
    keys_output: Path | None = None,
) -> Path:
    """``path``, written by ``python -m keyscope.sample_data`` unless it exists already
    (and the key inventory of its keys at ``keys_output`` when given)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {path.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
    command = [
        sys.executable, "-m", "keyscope.sample_data", "--spec", str(spec),
        "--synthetic-keys", str(keys), "--lines", str(lines), "--format", fmt,
        "--as-of", as_of, "--days", str(days), "--output", str(path),
    ]  # fmt: skip
    if keys_output is not None:
        command += ["--keys-output", str(keys_output)]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return path


def synthetic_from_arguments(
    description: str | None, *, quick: int, full: int
) -> tuple[int, AuditResult]:
    """Parse ``--quick`` / ``--keys N`` and build a result of that many keys (timed)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from report._factory import synthetic_result

    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{quick:,} keys instead of {full:,}")
    parser.add_argument("--keys", type=int, help="number of keys (overrides --quick)")
    args = parser.parse_args()
    count = args.keys or (quick if args.quick else full)
    started = time.perf_counter()
    result = synthetic_result(count)
    print(f"synthetic result: {count:,} keys, {len(result.findings):,} findings "
          f"(built in {time.perf_counter() - started:.1f} s)")  # fmt: skip
    return count, result
