"""The triage dialog: accept or suppress one finding, with reason, owner and expiry.

The entry goes to the suppressions file the scheduled audit reads, so a decision
taken here silences the finding in tomorrow's job too, until its expiry date.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from keyscope.model import Finding, Suppression
from keyscope.tui.display import safe

__all__ = ["DECISIONS", "TriageDialog", "validate_triage"]

DECISIONS = {
    "accept": "risk accepted",
    "suppress": "not a real problem",
}
"""Decision id -> the words that open the recorded reason."""

DEFAULT_EXPIRY_DAYS = 90


def validate_triage(
    decision: str, reason: str, owner: str, expires: str, today: date
) -> tuple[date | None, str]:
    """Check the dialog's fields.

    Returns:
        ``(expiry, "")`` when valid, else ``(None, message)`` naming the first problem.
    """
    if decision not in DECISIONS:
        return None, "Choose accept or suppress."
    if not reason.strip():
        return None, "A reason is required: the next reviewer needs to know why."
    if not owner.strip():
        return None, "An owner is required: someone answers for this decision."
    try:
        expiry = date.fromisoformat(expires.strip())
    except ValueError:
        return None, f"Expiry {expires.strip()[:20]!r} is not a date (YYYY-MM-DD)."
    if expiry <= today:
        return None, f"Expiry must be after today ({today.isoformat()})."
    return expiry, ""


class DecisionButton(RadioButton):
    """A radio button whose mark, not only its colour, says whether it is chosen."""

    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:
        return "●" if self.value else "○"


class TriageDialog(ModalScreen[Suppression | None]):
    """Asks for the decision, reason, owner and expiry; dismisses with the entry or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="triage-cancel"),
        Binding(
            "ctrl+s",
            "save",
            "Save",
            tooltip="Write the entry to the suppressions file",
            id="triage-save",
        ),
    ]

    def __init__(self, finding: Finding, *, today: date) -> None:
        super().__init__(id="triage-dialog")
        self.finding = finding
        self.today = today

    def compose(self) -> ComposeResult:
        finding = self.finding
        with VerticalScroll(id="triage-box", classes="dialog"):
            yield Static(Content.styled("Triage finding", "bold"), classes="dialog-title")
            yield Static(
                Content.assemble(
                    (finding.severity, "bold"),
                    "  ",
                    safe(finding.rule, 40),
                    "  ",
                    safe(finding.subject, 60),
                    "\n",
                    (safe(finding.message, 200), "italic"),
                ),
                id="triage-finding",
            )
            with RadioSet(id="triage-decision"):
                yield DecisionButton(Content("Accept the risk"), value=True, id="decision-accept")
                yield DecisionButton(
                    Content("Suppress: not a real problem"), id="decision-suppress"
                )
            yield Label(Content("Reason"))
            yield Input(placeholder="why this is acceptable", id="triage-reason")
            yield Label(Content("Owner"))
            yield Input(placeholder="team or person who answers for it", id="triage-owner")
            yield Label(Content("Expires (YYYY-MM-DD, last day it applies)"))
            yield Input(
                value=(self.today + timedelta(days=DEFAULT_EXPIRY_DAYS)).isoformat(),
                id="triage-expires",
            )
            yield Static(id="triage-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="triage-save-button")
                yield Button("Cancel", id="triage-cancel-button")

    def on_mount(self) -> None:
        self.query_one("#triage-reason", Input).focus()

    def _decision(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return "suppress" if pressed is not None and pressed.id == "decision-suppress" else "accept"

    def action_save(self) -> None:
        decision = self._decision()
        reason = self.query_one("#triage-reason", Input).value
        owner = self.query_one("#triage-owner", Input).value
        expires = self.query_one("#triage-expires", Input).value
        expiry, problem = validate_triage(decision, reason, owner, expires, self.today)
        if expiry is None:
            self.query_one("#triage-error", Static).update(Content.styled(problem, "bold red"))
            return
        finding = self.finding
        self.dismiss(
            Suppression(
                rule=finding.rule,
                key_id=finding.key_id,
                scope=finding.subject,
                reason=f"{DECISIONS[decision]}: {reason.strip()}",
                owner=owner.strip(),
                expires=expiry,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#triage-save-button")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#triage-cancel-button")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()
