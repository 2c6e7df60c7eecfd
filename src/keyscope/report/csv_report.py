"""The CSV report: one row per finding, safe to open in a spreadsheet.

Spreadsheet formula injection (CWE-1236): a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab, a carriage return or a NUL is read as a formula by Excel,
LibreOffice and Google Sheets.  Every *text* column is neutralized by a leading
apostrophe, which spreadsheets show as nothing and treat as "this is text".  Numeric
columns (``risk_score``, ``requests``) are written as plain numbers and never touched.
Rows end with CRLF (RFC 4180); a value holding a line break is quoted, so it cannot
start a forged row.  Secrets are masked (``keyscope.redaction``).  As in every other
report (``keyscope.text.terminal_safe``), bidirectional overrides and zero-width
characters show as visible markers (``⟨U+202E⟩``) so a name cannot hide what it says,
and other control characters (a lone CR, NUL, ESC) as U+FFFD; line breaks stay, quoted.
Text longer than a spreadsheet cell holds (32,767 characters in Excel) is shortened
with an ellipsis, so a huge key name cannot spill into other cells; the JSON report
keeps full values.
"""

from __future__ import annotations

import csv
import io

from keyscope.analysis.triage import finding_order
from keyscope.model import AuditResult, KeyAudit
from keyscope.redaction import redact
from keyscope.text import terminal_safe

__all__ = ["COLUMNS", "neutralize", "render_csv"]

COLUMNS = (
    "severity", "rule", "key_id", "key_name", "subject", "message", "full_access",
    "risk_score", "confidence", "requests", "last_seen", "owner", "environment",
    "key_source", "fingerprint", "baseline_state", "suppressed", "suppression_reason",
    "suppression_owner", "suppression_expires",
)  # fmt: skip
NUMERIC_COLUMNS = frozenset({"risk_score", "requests"})

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
CELL_LIMIT = 32_000
"""Longest text cell, under Excel's 32,767-character cell limit."""
_HEAD = CELL_LIMIT * 4 + 256
"""How much of a value is masked and marked: masks shorten text, markers lengthen it."""


def neutralize(text: str) -> str:
    """A text cell a spreadsheet will not evaluate: a leading ``'`` before a trigger.

    Also masks secrets, shows bidirectional overrides and zero-width characters as
    markers (``⟨U+202E⟩``) and other control characters and lone surrogates (which
    cannot be encoded) as U+FFFD, like every other report, and shortens text past
    :data:`CELL_LIMIT`.  Line breaks stay (the cell is quoted); CRLF becomes LF.
    """
    head = text[:_HEAD]
    cut = len(text) > len(head)
    text = redact(head)
    # Decided before marking, so a leading CR or NUL (shown as U+FFFD) still gets one.
    trigger = text.startswith(_TRIGGERS)
    text = terminal_safe(text.replace("\r\n", "\n"), keep_newlines=True)
    if cut or len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    return "'" + text if trigger else text


def render_csv(result: AuditResult) -> str:
    """Render one row per finding (suppressed ones included, marked), in report order.

    Args:
        result: The triaged audit result.

    Returns:
        CSV text with a header row and CRLF line ends.
    """
    audits: dict[str, KeyAudit] = {audit.key.key_id: audit for audit in result.keys}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for finding in sorted(result.findings, key=finding_order):
        audit = audits.get(finding.key_id)
        key = audit.key if audit else None
        suppression = finding.suppression
        text = {
            "severity": finding.severity,
            "rule": finding.rule,
            "key_id": finding.key_id,
            "key_name": key.name if key else "",
            "subject": finding.subject,
            "message": finding.message,
            "full_access": ("true" if key.full_access else "false") if key else "",
            "confidence": audit.confidence if audit else "",
            "last_seen": audit.last_seen.isoformat() if audit and audit.last_seen else "",
            "owner": key.owner if key else "",
            "environment": key.environment if key else "",
            "key_source": key.source if key else "",
            "fingerprint": finding.fingerprint,
            "baseline_state": finding.baseline_state,
            "suppressed": "true" if finding.suppressed else "false",
            "suppression_reason": suppression.reason if suppression else "",
            "suppression_owner": suppression.owner if suppression else "",
            "suppression_expires": suppression.expires.isoformat() if suppression else "",
        }
        numbers: dict[str, int | str] = {
            "risk_score": audit.risk_score if audit else "",
            "requests": audit.requests if audit else "",
        }
        writer.writerow(
            [
                numbers[name] if name in NUMERIC_COLUMNS else neutralize(text[name])
                for name in COLUMNS
            ]
        )
    return buffer.getvalue()
