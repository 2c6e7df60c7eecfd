"""The CSV report: one row per finding, safe to open in a spreadsheet.

Spreadsheet formula injection (CWE-1236): a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab, a carriage return or a NUL is read as a formula by Excel,
LibreOffice and Google Sheets.  Every *text* column is neutralized by a leading
apostrophe, which spreadsheets show as nothing and treat as "this is text".  Numeric
columns (``risk_score``, ``requests``) are written as plain numbers and never touched.
Rows end with CRLF (RFC 4180); a value holding a line break is quoted, so it cannot
start a forged row.  Secrets are masked (``keyscope.redaction``).  Text longer than a
spreadsheet cell holds (32,767 characters in Excel) is shortened with an ellipsis, so
a huge key name cannot spill into other cells; the JSON report keeps full values.
"""

from __future__ import annotations

import csv
import io
import re

from keyscope.analysis.triage import finding_order
from keyscope.model import AuditResult, KeyAudit
from keyscope.redaction import redact

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
_SURROGATE = re.compile("[\ud800-\udfff]")


def neutralize(text: str) -> str:
    """A text cell a spreadsheet will not evaluate: a leading ``'`` before a trigger.

    Also masks secrets, shortens text past :data:`CELL_LIMIT` and replaces lone
    surrogates (which cannot be encoded) with U+FFFD.
    """
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    text = _SURROGATE.sub("\ufffd", redact(text))
    if text.startswith(_TRIGGERS):
        return "'" + text
    return text


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
