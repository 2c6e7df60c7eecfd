"""The one line every benchmark prints per figure, for ``bench/run_all.py`` to collect.

Each benchmark keeps printing its own table for people; besides, for every figure it
prints one machine-readable line::

    RESULT {"name": "x", "value": 1.23, "unit": "s", "target": "< 2 s", "met": true, ...}

Import it from a script in ``bench/`` (the script's folder is on ``sys.path``)::

    from _results import report

    report("route matching (Square)", 612_000, "paths/s", target=">= 500,000 paths/s",
           baseline=61_000, baseline_name="linear regex scan", met=rate >= 500_000)

See ``bench/README.md`` for the fields.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

PREFIX = "RESULT "
FIELDS = ("name", "value", "unit", "target", "baseline", "met")
"""Required keys of a result line, in order; extra keys are allowed and kept."""


def _number(value: float | int | None) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report(
    name: str,
    value: float | int | None,
    unit: str,
    *,
    target: str | None = None,
    baseline: float | int | None = None,
    met: bool | None = None,
    **extra: Any,
) -> None:
    """Print one ``RESULT`` line on stdout.

    Args:
        name: What was measured, unique within the script (``"ingest 10M JSON lines"``).
        value: The figure, in ``unit``; None when it could not be measured.
        unit: ``s``, ``ms``, ``MB``, ``lines/s``, ``x``...
        target: The goal as people read it (``"< 3 s"``), None when there is none.
        baseline: The straightforward baseline's figure in the same run, same unit.
        met: Whether the target was met; None when there is no target or no figure.
        **extra: More context (``baseline_name``, ``peak_rss_mb``, ``note``...).
    """
    record = {
        "name": name,
        "value": _number(value),
        "unit": unit,
        "target": target,
        "baseline": _number(baseline),
        "met": met,
        **extra,
    }
    print(PREFIX + json.dumps(record, sort_keys=False, default=str), flush=True)


def parse(line: str) -> dict[str, Any] | None:
    """The result on a ``RESULT`` line, or None when the line is not one (or is malformed)."""
    if not line.startswith(PREFIX):
        return None
    try:
        record = json.loads(line[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not all(field in record for field in FIELDS):
        return None
    if not isinstance(record["name"], str) or record["met"] not in (True, False, None):
        return None
    return record


if __name__ == "__main__":  # pragma: no cover - a tiny self-check: python bench/_results.py
    report("example", 1.5, "s", target="< 2 s", baseline=3.0, met=True, baseline_name="naive")
    sys.exit(0)
