"""Presentation of an :class:`~keyscope.model.AuditResult` shared by the HTML and Markdown reports.

Nothing here re-runs the analysis: it counts, groups, sorts and formats what the
result already says.  Every piece of text that came from the inputs (key names,
owners, paths, messages, reasons) goes through :func:`clean` before any reporter sees
it: secrets are masked (``keyscope.redaction``), control, bidirectional and
zero-width characters are replaced by visible markers (``keyscope.text``) and long
values are shortened with an ellipsis.  The JSON report keeps the full values.
Escaping for the output format (HTML, Markdown) is the reporter's job on top of this.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from keyscope.analysis.triage import finding_order, is_expired
from keyscope.gc_pause import gc_paused  # noqa: F401 - reporters take it from here
from keyscope.model import (
    RISK_BANDS,
    SEVERITIES,
    AuditResult,
    Finding,
    KeyAudit,
    SourceStats,
    Window,
    risk_band,
    severity_rank,
)
from keyscope.redaction import redact
from keyscope.text import terminal_safe

NAME_LIMIT = 120
TEXT_LIMIT = 500
DUAL_RUN_DAYS = 14
"""Days to run the old and the new key side by side before revoking the old one:
two weeks covers weekly jobs; the plan says to extend it for monthly ones."""
LIST_LIMIT = 500
"""Longest list a section renders in full (the JSON and CSV reports have everything)."""

BAND_NAMES: tuple[str, ...] = (*(band for band, _ in RISK_BANDS), "none")
_AREA_LABELS = {"checkout": "Hosted Checkout", "api_keys": "API keys"}
_SCOPE_PARTS = re.compile(r"^(?P<area>[^:]+):(?P<access>read|write)$")
_SECRET_HINT = re.compile(
    r"_(?:live|test|prod)_|whsec_|gh[pousr]_|github_pat_|AKIA|xox|eyJ|(?i:bearer|basic|token)|="
)
"""A superset of what ``keyscope.redaction`` masks: text without any of these needs no masking."""


def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text made safe to show: secrets masked, invisible characters marked.

    Args:
        text: A value from the inputs.
        limit: Longest result; longer text ends with an ellipsis.
    """
    if not text:
        return ""
    if (
        len(text) <= limit
        and text.isascii()
        and text.isprintable()
        and not _SECRET_HINT.search(text)
    ):
        return text  # the common case: nothing to mask, mark or shorten (equal to the slow path)
    # Redact on a generous prefix first so a huge value costs little, then shorten.
    head = text[: limit * 4 + 256]
    return terminal_safe(redact(head), limit=limit)


def day(moment: datetime | date | None) -> str:
    """``2026-10-30`` (UTC day) or an empty string."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return moment.date().isoformat()
    return moment.isoformat()


def last_day(window: Window) -> str:
    """The last day the window covers: its end is exclusive (``as_of``), so the day before."""
    return (window.end - timedelta(microseconds=1)).date().isoformat()


def minute(moment: datetime | None) -> str:
    """``2026-10-30 14:05 UTC`` or an empty string."""
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def scope_parts(name: str) -> tuple[str, str] | None:
    """``("invoices", "read")`` for ``invoices:read``; None when the name has no such form."""
    match = _SCOPE_PARTS.match(name)
    return (match.group("area"), match.group("access")) if match else None


def area_label(area: str) -> str:
    """A capability area as the platform's scope picker names it."""
    return _AREA_LABELS.get(area, area.replace("_", " ").capitalize())


@dataclass(frozen=True, slots=True)
class Chip:
    """One scope of a key as the keys table shows it."""

    scope: str
    state: str
    """``used``, ``unused`` or ``missing`` (needed by a denied request, not granted)."""


def key_chips(audit: KeyAudit) -> tuple[Chip, ...]:
    """The key's scopes as the platform's key list shows them, each marked.

    Full-access keys have no scope list on the platform, so only the scopes they
    used are shown (their badge says the rest).
    """
    chips = [
        Chip(scope, "used" if scope in audit.used_scopes else "unused")
        for scope in sorted(audit.key.scopes)
    ]
    if audit.key.full_access:
        chips = [Chip(scope, "used") for scope in sorted(audit.used_scopes)]
    chips += [Chip(scope, "missing") for scope in sorted(audit.missing_scopes)]
    return tuple(chips)


def active_findings(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if not finding.suppressed]


def top_severity(findings: Iterable[Finding]) -> str:
    ranks = [severity_rank(finding.severity) for finding in active_findings(findings)]
    return SEVERITIES[min(ranks)] if ranks else ""


def summary(result: AuditResult) -> dict[str, Any]:
    """The numbers the summary section (and the Markdown report) shows."""
    active = [audit for audit in result.keys if audit.key.status == "active"]
    bands = Counter(risk_band(audit.risk_score) for audit in active)
    live = active_findings(result.findings)
    severities = Counter(finding.severity for finding in live)
    legacy = [audit for audit in active if audit.key.full_access]
    states = Counter(finding.baseline_state for finding in result.findings)
    replay = result.replay_totals
    return {
        "keys": len(result.keys),
        "active_keys": len(active),
        "revoked_keys": len(result.keys) - len(active),
        "bands": [(band, bands.get(band, 0)) for band in BAND_NAMES],
        "band_max": max(bands.values(), default=0),
        "severities": [(severity, severities.get(severity, 0)) for severity in SEVERITIES],
        "severity_max": max(severities.values(), default=0),
        "findings": len(live),
        "suppressed": len(result.findings) - len(live),
        "legacy_keys": len(legacy),
        "excess_scopes": sum(len(audit.excess_scopes) for audit in active),
        "keys_with_excess": sum(1 for audit in active if audit.excess_scopes),
        "operations_before": sum(audit.before.operations for audit in active),
        "operations_after": sum(audit.after.operations for audit in active),
        "sensitive_before": sum(audit.before.sensitive_operations for audit in active),
        "sensitive_after": sum(audit.after.sensitive_operations for audit in active),
        "denied_keys": sum(1 for audit in active if audit.denied),
        "has_baseline": bool(result.baseline_source),
        "new": states.get("new", 0),
        "unchanged": states.get("unchanged", 0),
        "resolved": len(result.resolved_findings),
        "carried": len(result.carried_findings),
        "replay_keys": replay.keys,
        "replayed": replay.requests,
        "would_fail": replay.would_fail,
        "failing_keys": replay.keys_with_failures,
        "unreplayable": replay.unreplayable,
    }


def replay_sentence(audit: KeyAudit, window_days: int) -> str:
    """``Replayed 3,338 requests of the last 90 days against the suggested scopes: 0
    would have failed.`` (plus what could not be replayed); empty without a replay.

    Operation names are not included (the caller lists the failing operations in its
    own format), so the sentence holds no untrusted text.
    """
    replay = audit.replay
    if replay is None:
        return ""
    if not replay.requests and not replay.unreplayable:
        return f"No successful request in the last {window_days} days to replay."
    text = (
        f"Replayed {replay.requests:,} request{'' if replay.requests == 1 else 's'} of the last "
        f"{window_days} days against the suggested scopes: {replay.would_fail:,} would have failed."
    )
    if replay.unreplayable:
        text += (
            f" {replay.unreplayable:,} could not be replayed (a route the spec does not describe, "
            "or an operation without a stated requirement)."
        )
    return text


def repeats_sentence(stats: SourceStats, show: Callable[[str], str]) -> str:
    """``1,000 requests look repeated: files a.jsonl and b.jsonl both cover 2026-08-20
    23:47 UTC to 2026-08-20 23:59 UTC; no request id to tell repeats from real traffic
    (still counted as requests).``, or an empty string when none are suspected.

    Args:
        stats: One usage source's statistics (the count, files and span ingestion found).
        show: Formats one file name for the output (the reporter's cleaning/escaping).
    """
    if not stats.suspected_duplicates:
        return ""
    files = [show(name) for name in stats.suspected_duplicate_files[:3]]
    more = len(stats.suspected_duplicate_files) - len(files)
    if more:
        named = f"{', '.join(files)} and {more} more"
    elif len(files) > 1:
        named = f"{', '.join(files[:-1])} and {files[-1]}"
    else:
        named = files[0] if files else "several files"
    cover = "both cover" if len(stats.suspected_duplicate_files) == 2 else "cover"
    span = ""
    if stats.suspected_duplicate_span is not None:
        first, last = (minute(moment) for moment in stats.suspected_duplicate_span)
        span = f" {first}" if first == last else f" {first} to {last}"
    count = stats.suspected_duplicates
    return (
        f"{count:,} request{' looks' if count == 1 else 's look'} repeated: files {named} "
        f"{cover}{span or ' the same time'}; no request id to tell repeats from real traffic "
        "(still counted as requests)."
    )


def finding_row(finding: Finding, names: dict[str, str]) -> dict[str, Any]:
    """A finding as list sections show it (all text cleaned)."""
    suppression = finding.suppression
    return {
        "severity": finding.severity,
        "rule": clean(finding.rule, 80),
        "key_id": clean(finding.key_id, NAME_LIMIT),
        "key_name": names.get(finding.key_id, ""),
        "subject": clean(finding.subject, 200),
        "message": clean(finding.message),
        "fingerprint": finding.fingerprint,
        "state": finding.baseline_state,
        "suppressed": finding.suppressed,
        "suppressed_by": clean(suppression.owner, 120) if suppression else "",
    }


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_order)


def register(result: AuditResult) -> list[dict[str, Any]]:
    """The suppressions register: every entry read, with where it stands."""
    matched = Counter(
        finding.suppression for finding in result.findings if finding.suppression is not None
    )
    today = result.as_of.date()
    rows = []
    for entry in result.suppressions:
        # The same answer as triage.suppression_status, without a pass over every finding.
        status = "expired" if is_expired(entry, today) else "applied" if matched[entry] else "stale"
        rows.append(
            {
                "rule": clean(entry.rule, 80),
                "key_id": clean(entry.key_id, NAME_LIMIT) if entry.key_id else "",
                "scope": clean(entry.scope, 200),
                "reason": clean(entry.reason, 1000),
                "owner": clean(entry.owner, 200),
                "expires": entry.expires.isoformat(),
                "status": status,
                "matched": matched.get(entry, 0),
                "source": clean(entry.source, 300),
            }
        )
    return rows


def day_ranges(days: Iterable[date]) -> list[str]:
    """``["2026-09-01 to 2026-09-03", "2026-09-07"]``: consecutive days joined."""
    ordered = sorted(set(days))
    ranges: list[str] = []
    start = previous = None
    for current in ordered:
        if previous is not None and (current - previous).days == 1:
            previous = current
            continue
        if start is not None and previous is not None:
            ranges.append(_span(start, previous))
        start = previous = current
    if start is not None and previous is not None:
        ranges.append(_span(start, previous))
    return ranges


def _span(first: date, last: date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"


def dormant_time_box(as_of: datetime) -> dict[str, Any]:
    """The expiry ``keyscope plan`` sets on a dormant key by default, and the re-check day.

    ``{"days": 30, "expires": "2026-12-01", "recheck": "2026-11-30"}``: the same dates the
    plan's ``expire`` and ``recheck`` steps carry (``--expire-after-days`` changes them).
    """
    from keyscope.remediation import DEFAULT_EXPIRE_AFTER_DAYS, dormant_expiry

    expires = dormant_expiry(as_of, DEFAULT_EXPIRE_AFTER_DAYS)
    return {
        "days": DEFAULT_EXPIRE_AFTER_DAYS,
        "expires": expires.date().isoformat(),
        "recheck": (expires - timedelta(days=1)).date().isoformat(),
    }


def migration_kind(audit: KeyAudit) -> str:
    """Which playbook a legacy full-access key follows.

    ``insufficient``: not enough data to narrow it safely; ``dormant``: no
    successful request in the window; ``replace``: create a scoped key and swap.
    """
    if audit.confidence in ("insufficient", "low"):
        return "insufficient"
    if audit.requests == 0:
        return "dormant"
    return "replace"
