"""The synthetic audit result the report benchmarks render, sized from the command line.

from _synthetic import synthetic_from_arguments

count, result = synthetic_from_arguments(__doc__, quick=1_000, full=10_000)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from keyscope.model import AuditResult
from report._factory import synthetic_result


def synthetic_from_arguments(
    description: str | None, *, quick: int, full: int
) -> tuple[int, AuditResult]:
    """Parse ``--quick`` / ``--keys N`` and build a result of that many keys (timed)."""
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
