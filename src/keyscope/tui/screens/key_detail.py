"""One key in detail: the scope picker grid with a live what-if, and the evidence.

The grid starts ticked as the key is granted today.  Ticking and unticking scopes
(mouse, Space/Enter, arrows) re-evaluates at once which of the key's real requests in
the window would have failed and how risk and blast radius move, through
:func:`keyscope.analysis.whatif.evaluate_scopes`.  ``s`` adopts the suggestion as the
starting point, ``g`` goes back to the grants.  Findings can be triaged from here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from keyscope.analysis.whatif import (
    WhatIfOutcome,
    evaluate_scopes,
    observed_operations,
    starting_scopes,
)
from keyscope.model import Finding, KeyAudit, Replay, Suppression
from keyscope.redaction import mask_id
from keyscope.tui.context import AuditContext
from keyscope.tui.display import safe, safe_text, when
from keyscope.tui.key_frame import FULL_ACCESS_LABEL
from keyscope.tui.messages import TriageRequested
from keyscope.tui.widgets.chips import FULL_ACCESS_STYLE
from keyscope.tui.widgets.key_table import risk_style
from keyscope.tui.widgets.scope_grid import GRID_LEGEND, ScopeGrid, ScopeMarks
from keyscope.tui.widgets.sparkline import UsageSparkline
from keyscope.tui.widgets.summary_bar import SEVERITY_STYLES

__all__ = ["KeyDetailScreen"]


REPLAY_OPERATIONS_SHOWN = 5
"""Failing operations named on the replay line before ``… and N more``."""


def replay_content(replay: Replay | None, window_days: int) -> Content | None:
    """The audit's replay of the key's requests against its suggested scopes, or None.

    Rendered from :attr:`KeyAudit.replay` as the reports word it (never recomputed);
    None for a key the audit did not replay (revoked, or a result built without it),
    where the reports say nothing either.

    Args:
        replay: The key's replay from the audit.
        window_days: Length of the audit window, for the wording.
    """
    if replay is None:
        return None
    if not replay.requests and not replay.unreplayable:
        return Content.styled(
            f"Replay: no successful request in the last {window_days} days to replay", "dim"
        )
    parts: list[str | tuple[str, str]] = [
        ("Replay: ", "bold"),
        f"{replay.requests:,} successful request{'' if replay.requests == 1 else 's'}"
        " against the suggested scopes — ",
        (
            f"{replay.would_fail:,} would have failed",
            "bold red" if replay.would_fail else "green",
        ),
    ]
    if replay.unreplayable:
        parts.append(f", {replay.unreplayable:,} could not be replayed")
    if replay.failing_operations:
        shown = replay.failing_operations[:REPLAY_OPERATIONS_SHOWN]
        # Operation names come from the spec and the logs: safe() keeps them literal text.
        listed = ", ".join(f"{safe(use.operation, 60)} ({use.count:,})" for use in shown)
        more = len(replay.failing_operations) - len(shown)
        parts += ["\n", ("Would fail: ", "bold red"), listed]
        if more > 0:
            parts.append(f", … and {more:,} more")
    return Content.assemble(*parts)


def _needs(alternatives: tuple[tuple[str, ...], ...]) -> str:
    """``a + b`` for scopes needed together, ``|`` between alternatives."""
    if not alternatives:
        return "(unknown route)"
    return " | ".join(" + ".join(safe(s, 40) for s in alt) or "(no scope)" for alt in alternatives)


_MIN_FLEX_WIDTH = 20
"""Cells a line of a wrapped column keeps, however narrow the pane (then it scrolls)."""
_SCROLLBAR = 2
_PADDING = 2
"""Cells of padding around each column's content (one each side)."""


def _fill_fitted(
    table: DataTable[Text],
    labels: tuple[str, ...],
    rows: list[tuple[Text, ...]],
    *,
    flex: int,
    in_view: int,
    width: int,
    height: int,
    keys: list[str] | None = None,
) -> None:
    """Fill ``table`` so that column ``flex`` wraps in the width the others leave.

    A right-hand pane is narrow: rather than cut a message or a header at the pane's
    edge, the ``flex`` column takes the width left over and its rows grow taller.  When
    the pane cannot show every column, the first ``in_view`` stay in view and the rest
    are a scroll to the right.

    Args:
        table: An empty table (no columns, no rows).
        labels: Column headers.
        rows: The cells, one tuple per row; the flex column's ``Text`` must be allowed
            to wrap.
        flex: Index of the column that takes the remaining width and wraps.
        in_view: How many columns, from the left, must fit the pane.
        width: The pane's width in cells (0 before the first layout).
        height: The pane's height in lines (a taller table has a scrollbar).
        keys: Row keys, if any.
    """
    widths = [
        max([len(label), *(row[i].cell_len for row in rows)]) for i, label in enumerate(labels)
    ]
    natural = widths[flex]
    for scrollbar in (0, _SCROLLBAR):
        available = width - scrollbar
        others = sum(widths[i] + _PADDING for i in range(len(labels)) if i != flex)
        leaves = available - others - _PADDING
        if leaves >= _MIN_FLEX_WIDTH:
            widths[flex] = min(natural, leaves)
        else:
            # Exactly the pane: the columns a scroll away start at its edge, not in it.
            others = sum(widths[i] + _PADDING for i in range(in_view) if i != flex)
            widths[flex] = max(available - others - _PADDING, _MIN_FLEX_WIDTH)
        lines = 1 + sum(-(-max(row[flex].cell_len, 1) // widths[flex]) for row in rows)
        if lines <= height:
            break  # no vertical scrollbar takes its two cells
    for label, width in zip(labels, widths, strict=True):
        table.add_column(label, width=width)
    for index, row in enumerate(rows):
        table.add_row(*row, key=keys[index] if keys else None, height=None)


_TABS_GROUP = Binding.Group("Tabs", compact=True)
"""The tab keys' single footer entry."""


class KeyDetailScreen(Screen[None]):
    """Everything about one key, with the what-if grid."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the keys", id="back"),
        Binding(
            "s",
            "adopt_suggestion",
            "Adopt suggestion",
            tooltip="Tick exactly the suggested scopes",
            id="adopt-suggestion",
        ),
        Binding(
            "g",
            "reset_to_granted",
            "Reset to granted",
            tooltip="Tick the scopes the key holds today",
            id="reset-granted",
        ),
        Binding(
            "t",
            "triage",
            "Triage finding",
            tooltip="Accept or suppress the highlighted finding",
            id="triage-finding",
        ),
        # One key per tab, so no tab is a walk through the grid's cells away; grouped,
        # the footer shows them as one entry ("w e x d f Tabs") that fits at 80 columns.
        *(
            Binding(
                key,
                f"show_tab('{tab}')",
                title,
                tooltip=f"Show the {title} tab",
                id=f"tab-{tab}",
                group=_TABS_GROUP,
            )
            for key, tab, title in (
                ("w", "whatif", "What-if"),
                ("e", "evidence", "Evidence"),
                ("x", "excess", "Excess"),
                ("d", "denied", "Denied"),
                ("f", "findings", "Findings"),
            )
        ),
    ]

    def __init__(self, audit: KeyAudit, context: AuditContext) -> None:
        super().__init__(id="key-detail")
        self.audit = audit
        self.context = context
        self.observed = observed_operations(audit)
        self.chosen = starting_scopes(audit)
        self.outcome: WhatIfOutcome | None = None
        self.findings: tuple[Finding, ...] = audit.findings
        """The key's findings as shown (a triaged one is marked suppressed)."""
        self._fitted_size = Size(0, 0)
        """The tabs' content size when the wrapping tables were last filled."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        audit = self.audit
        yield Static(self._header(), id="key-header")
        window = self.context.result.window
        yield UsageSparkline(
            audit.daily,
            start=window.start.date(),
            end=(window.end - timedelta(microseconds=1)).date(),
            id="sparkline",
        )
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="grid-pane"):
                yield ScopeGrid(self.context.grid, self.context.other_scopes, id="scope-grid")
                yield Static(Content.styled(GRID_LEGEND, "dim"), id="grid-legend")
            with TabbedContent(id="detail-tabs", initial="whatif"):
                # Scrolls (and takes focus) as a whole: at 80x24 the tab has a few rows,
                # and the numbers and the blocked requests must still be reachable.
                with TabPane("What-if", id="whatif"), VerticalScroll(id="whatif-scroll"):
                    yield Static(id="replay-summary")
                    yield Static(id="whatif-summary")
                    yield Static(id="blocked-title")
                    yield DataTable(id="blocked-table", cursor_type="row", zebra_stripes=True)
                with TabPane("Evidence", id="evidence"):
                    yield DataTable(id="evidence-table", cursor_type="row", zebra_stripes=True)
                with TabPane("Excess", id="excess"):
                    yield DataTable(id="excess-table", cursor_type="row", zebra_stripes=True)
                with TabPane("Denied", id="denied"):
                    yield DataTable(id="denied-table", cursor_type="row", zebra_stripes=True)
                with TabPane("Findings", id="findings"):
                    yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self._show_replay()
        self._fill_evidence()
        self._fill_excess()
        self._fill_denied()
        self.fill_findings()
        self.query_one("#blocked-table", DataTable).add_columns(
            "Operation", "Requests", "Last seen", "Needs"
        )
        self._evaluate()
        first = self.query("ScopeCell")
        if first:
            first.first().focus()

    def _header(self) -> Content:
        audit, key = self.audit, self.audit.key
        parts: list[str | tuple[str, str] | Content] = []
        if key.full_access:
            parts += [(FULL_ACCESS_LABEL, FULL_ACCESS_STYLE), "  "]
        parts += [
            (safe(key.name, 60) or "(unnamed)", "bold"),
            "  ",
            (safe(mask_id(key.key_id), 24), "dim"),
            "  ",
            (key.status, "dim" if key.status == "revoked" else "bold"),
            "  risk ",
            (str(audit.before.risk_score), risk_style(audit.before.risk_score)),
            " → ",
            (str(audit.after.risk_score), risk_style(audit.after.risk_score)),
            f"  confidence {audit.confidence}",
        ]
        details = []
        if key.owner:
            details.append(f"owner {safe(key.owner, 40)}")
        if key.environment:
            details.append(f"env {safe(key.environment, 20)}")
        if key.created_at:
            details.append(f"created {key.created_at:%Y-%m-%d}")
        details.append(f"last used {when(audit.last_seen)}")
        details.append(f"{audit.requests:,} requests")
        if audit.confidence_reasons:
            details.append("; ".join(safe(r, 80) for r in audit.confidence_reasons))
        parts += ["\n", ("  ·  ".join(details), "dim")]
        return Content.assemble(*parts)

    def _show_replay(self) -> None:
        line = replay_content(self.audit.replay, self.context.result.window.days)
        replay = self.query_one("#replay-summary", Static)
        replay.display = line is not None
        if line is not None:
            replay.update(line)

    # ------------------------------------------------------------------ what-if

    def _evaluate(self) -> None:
        context = self.context
        outcome = evaluate_scopes(
            self.chosen, self.observed, context.operations, context.expand, context.blast_radius
        )
        self.outcome = outcome
        self.query_one(ScopeGrid).marks = ScopeMarks(
            granted=starting_scopes(self.audit),
            used=self.audit.used_scopes,
            suggested=self.audit.suggested_scopes,
            missing=self.audit.missing_scopes,
            chosen=outcome.chosen,
            effective=outcome.effective,
        )
        self.query_one("#whatif-summary", Static).update(self._summary(outcome))
        self._fill_blocked(outcome)

    def _summary(self, outcome: WhatIfOutcome) -> Content:
        audit = self.audit
        now, ticked, suggested = audit.before, outcome.blast_radius, audit.after
        if outcome.breaks_usage:
            verdict: tuple[str, str] = (
                f"✗ {outcome.blocked_requests:,} requests to {len(outcome.blocked)}"
                " operations would have failed",
                "bold red",
            )
        else:
            verdict = (
                # Requests that need a scope: public routes make the replay's count larger.
                f"✓ all {outcome.served_requests:,} scoped requests still succeed",
                "bold green",
            )
        rows = (
            ("risk score", now.risk_score, ticked.risk_score, suggested.risk_score),
            ("operations", now.operations, ticked.operations, suggested.operations),
            (
                "sensitive",
                now.sensitive_operations,
                ticked.sensitive_operations,
                suggested.sensitive_operations,
            ),
        )
        parts: list[str | tuple[str, str]] = [
            verdict,
            "\n",
            ("              now  ticked  suggested", "bold"),
        ]
        for label, before, chosen, after in rows:
            style = risk_style(chosen) if label == "risk score" else ""
            parts += ["\n", f"{label:<12}{before:>5}", (f"{chosen:>8}", style), f"{after:>11}"]
        return Content.assemble(*parts)

    def _fill_blocked(self, outcome: WhatIfOutcome) -> None:
        title = self.query_one("#blocked-title", Static)
        if not self.observed:
            title.update(
                Content.styled("No successful request in the window: nothing can break.", "dim")
            )
        else:
            # The verdict above already says whether anything breaks.
            title.update(Content(""))
        table = self.query_one("#blocked-table", DataTable)
        table.display = bool(outcome.blocked or outcome.unknown_operations)
        table.clear()
        for blocked in outcome.blocked:
            table.add_row(
                safe_text(blocked.operation, limit=60),
                Text(f"{blocked.count:,}", justify="right"),
                Text(when(blocked.last_seen)),
                Text(_needs(blocked.needs)),
                key=blocked.operation,
            )
        for name in outcome.unknown_operations:
            table.add_row(safe_text(name, limit=60), Text("?"), Text(""), Text("(not in the spec)"))

    @on(ScopeGrid.ScopeToggled)
    def _toggled(self, event: ScopeGrid.ScopeToggled) -> None:
        event.stop()
        self.chosen = self.chosen ^ {event.scope}
        self._evaluate()

    def action_adopt_suggestion(self) -> None:
        self.chosen = frozenset(self.audit.suggested_scopes)
        self._evaluate()
        self.notify("Ticked the suggested scopes", timeout=2)

    def action_reset_to_granted(self) -> None:
        self.chosen = starting_scopes(self.audit)
        self._evaluate()
        self.notify("Ticked the scopes the key holds today", timeout=2)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        # Focus follows, so the arrows scroll what the reviewer asked to see.
        pane = self.query_one(f"#{tab}", TabPane)
        target = pane.query("#whatif-scroll, DataTable").first()
        target.focus()

    # ------------------------------------------------------------------ tables

    def _fill_evidence(self) -> None:
        table = self.query_one("#evidence-table", DataTable)
        table.clear(columns=True)
        # Scope, then its operations under it: one column fewer than a Scope column on
        # every row, so the counts and dates fit the pane next to the grid.
        rows: list[tuple[Text, ...]] = []
        for evidence in self.audit.evidence:
            rows.append((safe_text(evidence.scope, "bold", limit=40), Text(""), Text(""), Text("")))
            for use in evidence.operations:
                rows.append(
                    (
                        Text("  " + safe(use.operation, 60)),
                        Text(f"{use.count:,}", justify="right"),
                        Text(when(use.last_seen)),
                        Text(when(use.first_seen)),
                    )
                )
        if not self.audit.evidence:
            rows.append(
                (Text("no successful use in the window", style="dim"), Text(""), Text(""), Text(""))
            )
        _fill_fitted(
            table,
            ("Scope / operation", "Requests", "Last seen", "First seen"),
            rows,
            flex=0,
            in_view=3,
            width=self._pane_size().width,
            height=self._pane_size().height,
        )

    def _fill_excess(self) -> None:
        table = self.query_one("#excess-table", DataTable)
        table.add_columns("Excess scope", "Never-called operations it unlocks")
        for excess in self.audit.excess:
            operations = excess.unlocks_never_called
            shown = ", ".join(safe(op, 60) for op in operations[:6])
            if len(operations) > 6:
                shown += f", … ({len(operations)} in all)"
            table.add_row(safe_text(excess.scope, "bold red", limit=40), Text(shown or "—"))
        if not self.audit.excess:
            table.add_row(Text("—"), Text("no excess scope", style="dim"))

    def _fill_denied(self) -> None:
        table = self.query_one("#denied-table", DataTable)
        table.add_columns("Request", "Denied", "Last seen", "Would have needed")
        for denied in self.audit.denied:
            table.add_row(
                safe_text(f"{denied.method} {denied.path}", limit=60),
                Text(f"{denied.count:,}", justify="right"),
                Text(when(denied.last_seen)),
                Text(_needs(denied.needed)),
            )
        if not self.audit.denied:
            table.add_row(Text("—"), Text(""), Text(""), Text("no denied request", style="dim"))

    def fill_findings(self, findings: tuple[Finding, ...] | None = None) -> None:
        """(Re)fill the findings table, e.g. after a triage marked one suppressed."""
        if findings is not None:
            self.findings = findings
        table = self.query_one("#findings-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        rows = [
            (
                Text(finding.severity, style=SEVERITY_STYLES.get(finding.severity, "")),
                Text(
                    "suppressed" if finding.suppressed else (finding.baseline_state or "open"),
                    style="dim" if finding.suppressed else "",
                ),
                Text(safe(finding.message, 1000)),
                safe_text(finding.rule, limit=30),
                safe_text(finding.subject, limit=40),
            )
            for finding in self.findings
        ]
        # The message wraps: it is what the reviewer reads the row for.  The rule and
        # subject (which the message names anyway) are the ones a narrow pane scrolls to.
        _fill_fitted(
            table,
            ("Severity", "State", "Message", "Rule", "Subject"),
            rows,
            flex=2,
            in_view=3,
            width=self._pane_size().width,
            height=self._pane_size().height,
            keys=[finding.fingerprint for finding in self.findings],
        )
        if self.findings:
            table.move_cursor(row=min(max(cursor, 0), len(self.findings) - 1))

    def _pane_size(self) -> Size:
        """Size of the tabs' content, which every tab's table fills (0 before layout)."""
        return self.query_one("#detail-tabs ContentSwitcher").size

    def _fit_tables(self) -> None:
        """Refill the wrapping tables once their pane has a (new) width."""
        size = self._pane_size()
        if size.width and size != self._fitted_size:
            self._fitted_size = size
            self._fill_evidence()
            self.fill_findings()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_tables)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self.call_after_refresh(self._fit_tables)

    # ------------------------------------------------------------------ triage

    def highlighted_finding(self) -> Finding | None:
        """The finding under the cursor of the findings table, if any."""
        table = self.query_one("#findings-table", DataTable)
        if not self.findings or table.cursor_row < 0 or table.cursor_row >= len(self.findings):
            return None
        return self.findings[table.cursor_row]

    def action_triage(self) -> None:
        finding = self.highlighted_finding()
        tabs = self.query_one(TabbedContent)
        if tabs.active != "findings":
            tabs.active = "findings"
            self.query_one("#findings-table", DataTable).focus()
            if finding is None:
                self.notify("This key has no finding to triage", severity="warning")
            else:
                self.notify("Pick a finding, then press t again", timeout=2)
            return
        if finding is None:
            self.notify("This key has no finding to triage", severity="warning")
            return
        if finding.suppressed:
            self.notify("This finding is already suppressed", severity="warning")
            return
        from keyscope.tui.screens.triage import TriageDialog

        today = self.app.today()  # type: ignore[attr-defined]

        def written(suppression: Suppression | None) -> None:
            if suppression is not None:
                self.post_message(TriageRequested(suppression, finding.fingerprint))

        self.app.open_screen(  # type: ignore[attr-defined]
            "triage-dialog", lambda: TriageDialog(finding, today=today), written
        )

    def mark_suppressed(self, fingerprint: str, suppression: Suppression) -> None:
        """Show a finding as suppressed once its entry is written."""
        self.fill_findings(
            tuple(
                replace(f, suppressed=True, suppression=suppression)
                if f.fingerprint == fingerprint
                else f
                for f in self.findings
            )
        )
