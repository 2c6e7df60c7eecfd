"""The export dialog: which report, and where to write it.

The report itself is rendered by the same reporters ``keyscope audit`` uses and
written atomically; this dialog only asks and checks the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from keyscope.tui.display import safe

__all__ = ["EXPORT_FORMATS", "ExportDialog", "ExportRequest", "check_export_path"]

EXPORT_FORMATS = {
    "html": "HTML report",
    "json": "JSON result (the scheduled job's contract)",
    "md": "Markdown summary (tickets, chat)",
    "csv": "CSV, one row per finding",
    "sarif": "SARIF 2.1.0 (code scanning)",
}
"""Format id -> label; the id is also the file extension."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    format: str
    path: Path
    overwrite: bool = False
    """The file exists and the reviewer confirmed replacing it."""


def check_export_path(text: str, cwd: Path) -> tuple[Path | None, str]:
    """Resolve and check the path typed in the dialog.

    Returns:
        ``(path, "")`` when it can be written, else ``(None, message)``.
    """
    if not text.strip():
        return None, "Type a file name."
    path = Path(text.strip()).expanduser()
    if not path.is_absolute():
        path = cwd / path
    if path.is_dir():
        return None, f"{text.strip()[:80]} is a folder; name a file."
    if not path.parent.is_dir():
        return None, f"Folder {str(path.parent)[:80]} does not exist."
    if path.is_symlink():
        return None, "Refusing to write through a symbolic link."
    return path, ""


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Asks for a format and a path; dismisses with an :class:`ExportRequest` or None.

    An existing file is never replaced on the first Export: the dialog says it exists
    and the button turns into Overwrite; a second Export (Enter, ctrl+s, the button)
    with the same format and path confirms.  Changing either asks again.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export-cancel"),
        Binding("ctrl+s", "export", "Export", tooltip="Write the report", id="export-write"),
    ]

    def __init__(self, cwd: Path, default_format: str = "html") -> None:
        super().__init__(id="export-dialog")
        self.cwd = cwd
        self.default_format = default_format
        self._suggested_path = f"keyscope-report.{default_format}"
        """The name the dialog proposed; it follows the format until the reviewer edits it."""
        self._asked: tuple[str, Path] | None = None
        """(format, path) the dialog asked about replacing; the next Export confirms it."""

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box", classes="dialog"):
            yield Static(Content.styled("Export the report", "bold"), classes="dialog-title")
            yield Label(Content("Format"))
            yield Select(
                [(label, fmt) for fmt, label in EXPORT_FORMATS.items()],
                value=self.default_format,
                allow_blank=False,
                id="export-format",
            )
            yield Label(Content("File (written atomically; relative to the working folder)"))
            yield Input(value=self._suggested_path, id="export-path")
            yield Static(id="export-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export-button")
                yield Button("Cancel", id="export-cancel-button")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @on(Select.Changed, "#export-format")
    def _format_changed(self, event: Select.Changed) -> None:
        self._ask_again()
        path_input = self.query_one("#export-path", Input)
        if event.value is Select.BLANK or path_input.value != self._suggested_path:
            return
        self._suggested_path = f"keyscope-report.{event.value}"
        path_input.value = self._suggested_path

    def action_export(self) -> None:
        fmt = str(self.query_one("#export-format", Select).value)
        path, problem = check_export_path(self.query_one("#export-path", Input).value, self.cwd)
        if path is None:
            self._ask_again()
            self.query_one("#export-error", Static).update(Content.styled(problem, "bold red"))
            return
        if not path.exists():
            self.dismiss(ExportRequest(fmt, path))
        elif self._asked == (fmt, path):
            self.dismiss(ExportRequest(fmt, path, overwrite=True))
        else:
            self._asked = (fmt, path)
            self.query_one("#export-button", Button).label = "Overwrite"
            self.query_one("#export-error", Static).update(
                Content.assemble(
                    (f"{safe(path.name, 60)} already exists.", "bold yellow"),
                    " Export again (Enter) to overwrite it, or change the name.",
                )
            )

    def _ask_again(self) -> None:
        """Forget a confirmation: the format or the path changed since it was given."""
        if self._asked is not None:
            self._asked = None
            self.query_one("#export-button", Button).label = "Export"
            self.query_one("#export-error", Static).update(Content(""))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export-button")
    def _export_pressed(self) -> None:
        self.action_export()

    @on(Button.Pressed, "#export-cancel-button")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Changed, "#export-path")
    def _path_changed(self) -> None:
        self._ask_again()

    @on(Input.Submitted, "#export-path")
    def _submitted(self) -> None:
        self.action_export()
