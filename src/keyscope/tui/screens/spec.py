"""The spec screen: the scope catalog, what each scope unlocks, and the spec's anomalies."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from keyscope.model import severity_rank
from keyscope.tui.context import AuditContext
from keyscope.tui.display import safe, safe_text
from keyscope.tui.widgets.summary_bar import SEVERITY_STYLES

__all__ = ["SpecScreen"]


def _requirement(alternatives: tuple[frozenset[str], ...], public: bool) -> str:
    if public:
        return "public"
    if not alternatives:
        return "(no security declared)"
    return " | ".join(
        " + ".join(safe(s, 40) for s in sorted(alt)) or "(any key)" for alt in alternatives
    )


class SpecScreen(Screen[None]):
    """What the API description says, for the reviewer checking the audit's footing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the keys", id="spec-back"),
    ]

    def __init__(self, context: AuditContext) -> None:
        super().__init__(id="spec-screen")
        self.context = context
        self.catalog = tuple(sorted(context.spec.scopes, key=lambda scope: scope.name))

    def compose(self) -> ComposeResult:
        spec = self.context.spec
        yield Static(
            Content.assemble(
                (safe(spec.title, 80), "bold"),
                f"  {safe(spec.version, 30)}  ",
                safe(spec.format, 30),
                "  ",
                (safe(spec.source, 120), "dim"),
                f"  {len(spec.operations)} operations, {len(spec.scopes)} scopes,"
                f" semantics {spec.semantics} ({safe(spec.semantics_reason, 80)})",
            ),
            id="spec-header",
        )
        with TabbedContent(id="spec-tabs"):
            with TabPane("Catalog", id="catalog"), Vertical():
                yield DataTable(id="catalog-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="scope-operations")
            with TabPane("Operations", id="operations"):
                yield DataTable(id="operations-table", cursor_type="row", zebra_stripes=True)
            with TabPane(
                f"Anomalies ({len(self.context.result.anomalies or spec.anomalies)})",
                id="anomalies",
            ):
                yield DataTable(id="anomalies-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        catalog = self.query_one("#catalog-table", DataTable)
        catalog.add_columns("Scope", "Declared", "Unlocks", "Description")
        for scope in self.catalog:
            catalog.add_row(
                safe_text(scope.name, "bold", limit=40),
                Text(
                    "yes" if scope.declared else "NO (undeclared)",
                    style="" if scope.declared else "bold yellow",
                ),
                Text(f"{len(self.context.unlocked_by(scope.name))} ops", justify="right"),
                safe_text(scope.description, limit=100),
            )
        operations = self.query_one("#operations-table", DataTable)
        operations.add_columns("Method", "Path", "Needs", "Operation id")
        for operation in self.context.spec.operations:
            operations.add_row(
                Text(operation.method, style="bold"),
                safe_text(operation.path, limit=80),
                Text(_requirement(operation.requirements, operation.public)),
                safe_text(operation.operation_id or "", style="dim", limit=40),
            )
        anomalies = self.query_one("#anomalies-table", DataTable)
        anomalies.add_columns("Severity", "Rule", "Where", "Message")
        listed = self.context.result.anomalies or self.context.spec.anomalies
        for anomaly in sorted(
            listed, key=lambda a: (severity_rank(a.severity), a.rule, a.operation, a.scope)
        ):
            anomalies.add_row(
                Text(anomaly.severity, style=SEVERITY_STYLES.get(anomaly.severity, "")),
                safe_text(anomaly.rule, limit=40),
                safe_text(anomaly.operation or anomaly.scope or "(spec)", limit=60),
                safe_text(anomaly.message, limit=160),
            )
        if not listed:
            anomalies.add_row(Text("—"), Text("no anomaly", style="dim"), Text(""), Text(""))
        self._show_scope(0)
        catalog.focus()

    @on(DataTable.RowHighlighted, "#catalog-table")
    def _scope_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_scope(event.cursor_row)

    def _show_scope(self, row: int) -> None:
        if not self.catalog or not 0 <= row < len(self.catalog):
            return
        scope = self.catalog[row]
        unlocked = self.context.unlocked_by(scope.name)
        needing = [op for op in self.context.needing(scope.name) if op not in unlocked]
        lines: list[str | tuple[str, str]] = [
            (safe(scope.name, 60), "bold"),
            f" alone unlocks {len(unlocked)} operations:\n",
        ]
        lines += [f"  {safe(op.key, 100)}\n" for op in unlocked] or [("  (none)\n", "dim")]
        if needing:
            lines.append((f"and is needed, together with another scope, by {len(needing)}:\n", ""))
            lines += [
                f"  {safe(op.key, 100)}  needs {_requirement(op.requirements, op.public)}\n"
                for op in needing
            ]
        self.query_one("#scope-operations", Static).update(Content.assemble(*lines))
