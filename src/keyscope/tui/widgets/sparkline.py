"""A one-line usage sparkline of a key's successful requests per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from textual.content import Content
from textual.widgets import Static

__all__ = ["UsageSparkline", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int], width: int) -> str:
    """Values as block characters, bucketed (summed) to at most ``width`` characters.

    A day with no request is a space, so gaps stand out from quiet days.
    """
    if not values or width <= 0:
        return ""
    buckets = min(width, len(values))
    sums = [0] * buckets
    for position, value in enumerate(values):
        sums[position * buckets // len(values)] += value
    highest = max(sums)
    if highest <= 0:
        return " " * buckets
    return "".join(
        " " if total <= 0 else _BARS[min(len(_BARS) - 1, total * len(_BARS) // (highest + 1))]
        for total in sums
    )


def _every_day(
    daily: Sequence[tuple[date, int]], start: date | None, end: date | None
) -> tuple[tuple[date, int], ...]:
    """The counts with every day from ``start`` to ``end`` present (missing days are 0)."""
    if not daily:
        return ()
    counts = dict(daily)
    first = min(start or min(counts), min(counts))
    last = max(end or max(counts), max(counts))
    days = (last - first).days
    return tuple(
        (first + timedelta(days=offset), counts.get(first + timedelta(days=offset), 0))
        for offset in range(days + 1)
    )


class UsageSparkline(Static):
    """``Usage 2026-08-03 ▁▂▅▇ 2026-10-31  max 1,234/day``; redraws to fit its width."""

    DEFAULT_CSS = """
    UsageSparkline { height: 1; padding: 0 1; }
    """

    def __init__(
        self,
        daily: Sequence[tuple[date, int]],
        *,
        start: date | None = None,
        end: date | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.daily = _every_day(daily, start, end)

    def on_resize(self) -> None:
        self._draw()

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.daily:
            self.update(Content.styled("Usage: no successful request in the window", "dim"))
            return
        first, last = self.daily[0][0], self.daily[-1][0]
        peak = max(count for _, count in self.daily)
        total = sum(count for _, count in self.daily)
        head = f"Usage {first:%m-%d} "
        tail = f" {last:%m-%d}  {total:,} req, peak {peak:,}/day"
        room = max(self.size.width - 2 - len(head) - len(tail), 10)
        line = sparkline([count for _, count in self.daily], room)
        self.update(Content.assemble(head, (line, "green"), tail))
