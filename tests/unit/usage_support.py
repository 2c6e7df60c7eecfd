"""Shared helpers for the usage-ingestion tests (files are made in tmp_path)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyscope.analysis.routes import RouteMatcher
from keyscope.model import Operation, UsageData
from keyscope.settings import UsageSource
from keyscope.sources.usage import load_usage

WINDOW_START = datetime(2026, 8, 3, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
IN_WINDOW = "2026-09-01T10:00:00Z"

OPERATIONS = (
    Operation("GET", "/invoices"),
    Operation("POST", "/invoices"),
    Operation("GET", "/invoices/{invoice_id}"),
    Operation("GET", "/invoices/search"),
    Operation("GET", "/customers/{customer_id}"),
    Operation("POST", "/refunds"),
    Operation("GET", "/payments"),
)


def make_matcher() -> RouteMatcher:
    return RouteMatcher.from_operations(OPERATIONS, base_paths=("/v1",))


class CountingMatcher:
    """A real matcher that records every ``match`` call (to prove one call per route)."""

    def __init__(self) -> None:
        self.inner = make_matcher()
        self.calls: Counter[tuple[str, str]] = Counter()

    def match(self, method: str, raw_path: str) -> str | None:
        self.calls[(method, raw_path)] += 1
        return self.inner.match(method, raw_path)

    def normalize(self, raw_path: str) -> str | None:
        return self.inner.normalize(raw_path)


def record(
    timestamp: Any = IN_WINDOW,
    key_id: Any = "key_a",
    method: Any = "GET",
    path: Any = "/v1/invoices",
    status: Any = 200,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "timestamp": timestamp,
        "key_id": key_id,
        "method": method,
        "path": path,
        "status": status,
        **extra,
    }


def line(**fields: Any) -> str:
    return json.dumps(record(**fields))


def write_bytes(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def write_lines(path: Path, lines: Iterable[str | bytes], *, ending: bytes = b"\n") -> Path:
    encoded = [item if isinstance(item, bytes) else item.encode() for item in lines]
    return write_bytes(path, b"".join(item + ending for item in encoded))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    text = ",".join(header) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)
    return write_bytes(path, text.encode())


def load(
    *sources: Path | str | UsageSource,
    matcher: Any = None,
    threshold: float = 0.01,
    start: datetime = WINDOW_START,
    end: datetime = WINDOW_END,
) -> UsageData:
    resolved = [
        item if isinstance(item, UsageSource) else UsageSource(path=str(item)) for item in sources
    ]
    return load_usage(
        resolved,
        matcher or make_matcher(),
        window_start=start,
        window_end=end,
        bad_line_threshold=threshold,
    )


def assert_accounted(usage: UsageData) -> None:
    """No line is silently lost: every source adds up."""
    for stats in usage.sources:
        assert stats.lines == (
            stats.bad_lines + stats.in_window + stats.out_of_window + stats.duplicates
        ), stats
        assert min(stats.bad_lines, stats.in_window, stats.out_of_window, stats.duplicates) >= 0


def counts(usage: UsageData) -> dict[tuple[str, str, str, str | None, str], int]:
    """(key, method, path, operation, status class) -> requests."""
    return {
        (row.key_id, row.method, row.path, row.operation, row.status_class): row.count
        for row in usage.rows
    }


def total_requests(usage: UsageData) -> int:
    return sum(row.count for row in usage.rows)
