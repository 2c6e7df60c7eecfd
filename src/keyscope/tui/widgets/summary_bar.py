"""The summary bar above the keys table: the audit in one or two lines."""

from __future__ import annotations

from collections import Counter

from textual.content import Content
from textual.widgets import Static

from keyscope.model import SEVERITIES, AuditResult
from keyscope.tui.display import safe

__all__ = ["SEVERITY_STYLES", "SummaryBar", "summary_content"]

SEVERITY_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def summary_content(result: AuditResult) -> Content:
    """Keys, legacy keys, excess scopes, open findings by severity, the replay of the
    window's requests against the suggestions, and completeness."""
    active = [audit for audit in result.keys if audit.key.status == "active"]
    legacy = sum(1 for audit in active if audit.key.full_access)
    excess = sum(len(audit.excess_scopes) for audit in active)
    by_severity = Counter(f.severity for f in result.findings if not f.suppressed)
    suppressed = sum(1 for f in result.findings if f.suppressed)
    parts: list[str | tuple[str, str] | Content] = [
        (f"{len(result.keys):,}", "bold"),
        " keys  ",
        (f"{legacy:,}", "bold red" if legacy else "bold"),
        " legacy full-access  ",
        (f"{excess:,}", "bold yellow" if excess else "bold"),
        " excess scopes  ",
        "findings:",
    ]
    for severity in SEVERITIES:
        parts += [" ", (f"{by_severity.get(severity, 0):,} {severity}", SEVERITY_STYLES[severity])]
    if suppressed:
        parts.append(f"  ({suppressed:,} suppressed)")
    replay = result.replay_totals
    if replay.keys:
        # The reports' replay line: the window's requests against the suggested scopes.
        parts += [
            "  replay: ",
            (f"{replay.would_fail:,}", "bold red" if replay.would_fail else "green"),
            f" of {replay.requests:,} would fail",
        ]
    window = result.window
    parts.append(f"  window {window.start:%Y-%m-%d} → {window.end:%Y-%m-%d} ({window.days} d)")
    if not result.complete:
        reasons = "; ".join(safe(reason, 120) for reason in result.incomplete_reasons)
        parts += ["  ", ("⚠ INCOMPLETE DATA", "bold white on red"), f" {reasons}"]
    return Content.assemble(*parts)


class SummaryBar(Static):
    """Shows :func:`summary_content` for the audit it is given."""

    DEFAULT_CSS = """
    SummaryBar { height: auto; padding: 0 1; }
    """

    def show_result(self, result: AuditResult) -> None:
        self.update(summary_content(result))

    def show_status(self, status: Content) -> None:
        """A line in place of the summary (loading, or why loading failed)."""
        self.update(status)
