"""The terminal summary of an audit: findings by severity, then what to change per key.

Plain text, no colour codes and no markup: every value that came from the inputs (key
names, ids, routes) goes through :func:`keyscope.text.terminal_safe`, so control
characters, escape sequences and bidirectional overrides cannot reach the terminal,
and ids that look like secrets are masked.  Deterministic like every reporter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from keyscope.analysis.audit import display_key_id
from keyscope.model import SEVERITIES, AuditResult, Finding, KeyAudit
from keyscope.report._view import dormant_time_box, repeats_sentence
from keyscope.text import terminal_safe

__all__ = ["render_text"]

_NAME_LIMIT = 60
_MESSAGE_LIMIT = 400
_MAX_PER_SEVERITY = 200


def render_text(result: AuditResult) -> str:
    """A readable summary of the audit for a terminal (ends with a newline)."""
    lines: list[str] = []
    names = {audit.key.key_id: audit.key.name for audit in result.keys}
    _header(result, lines)
    _findings(result, names, lines)
    _suggestions(result.keys, lines, result.window.days, dormant_time_box(result.as_of))
    _captures(result.keys, lines)
    _quality(result, lines)
    return "\n".join(lines).rstrip("\n") + "\n"


def _safe(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    return terminal_safe(text, limit=limit)


def _key_label(key_id: str, names: dict[str, str]) -> str:
    shown = _safe(display_key_id(key_id), 80)
    name = names.get(key_id, "")
    return f'{shown} "{_safe(name, _NAME_LIMIT)}"' if name else shown


def _scopes(scopes: Iterable[str]) -> str:
    listed = sorted(scopes)
    return _safe(" ".join(listed), 2000) if listed else "(none)"


def _header(result: AuditResult, lines: list[str]) -> None:
    spec = result.spec
    window = result.window
    last_day = (window.end - timedelta(microseconds=1)).date()
    lines.append(
        f"keyscope audit: {_safe(spec.title, 120)} {_safe(spec.version, 40)} "
        f"({spec.operations} operations, {spec.scopes} scopes, sha256 {spec.sha256[:12]})"
    )
    lines.append(
        f"as of {result.as_of.date().isoformat()}; window {window.start.date().isoformat()} "
        f"to {last_day.isoformat()} ({window.days} days)"
    )
    if result.complete:
        lines.append("data: complete")
    else:
        lines.append("data: INCOMPLETE - no removal advice for the keys it affects:")
        lines.extend(f"  - {_safe(reason)}" for reason in result.incomplete_reasons)
    inventory = [audit for audit in result.keys if not audit.capture]
    active = [audit for audit in inventory if audit.key.status == "active"]
    legacy = sum(1 for audit in active if audit.key.full_access)
    over = sum(1 for audit in active if audit.excess_scopes)
    lines.append(
        f"keys: {len(inventory)} ({len(active)} active, {len(inventory) - len(active)} "
        f"revoked); {legacy} legacy full-access; {over} hold scopes they do not need"
    )
    live = [finding for finding in result.findings if not finding.suppressed]
    counts = ", ".join(
        f"{sum(1 for f in live if f.severity == severity)} {severity}" for severity in SEVERITIES
    )
    suppressed = len(result.findings) - len(live)
    extra = f"; {suppressed} suppressed" if suppressed else ""
    lines.append(f"findings: {counts}{extra}")
    if result.baseline_source:
        states = Counter(finding.baseline_state for finding in result.findings)
        carried = len(result.carried_findings)
        lines.append(
            f"since the baseline: {states.get('new', 0)} new, {states.get('unchanged', 0)} "
            f"unchanged, {len(result.resolved_findings)} resolved"
            + (f", {carried} not re-checked (too little data; carried)" if carried else "")
        )
    replay = result.replay_totals
    if replay.keys:
        lines.append(
            f"replay: {replay.requests:,} successful requests of the last {window.days} days "
            f"replayed against the suggested scopes: {replay.would_fail:,} would have failed"
            + (f" (on {replay.keys_with_failures} keys)" if replay.would_fail else "")
            + (f"; {replay.unreplayable:,} could not be replayed" if replay.unreplayable else "")
        )
    lines.append("")


def _finding_line(finding: Finding, names: dict[str, str]) -> list[str]:
    where = _key_label(finding.key_id, names) if finding.key_id else "(data)"
    subject = f" [{_safe(finding.subject, 120)}]" if finding.subject else ""
    marks = []
    if finding.suppressed:
        marks.append("suppressed")
    if finding.baseline_state == "new":
        marks.append("new")
    mark = f" ({', '.join(marks)})" if marks else ""
    return [
        f"  {finding.rule}{subject}{mark}  {where}",
        f"      {_safe(finding.message)}",
    ]


def _findings(result: AuditResult, names: dict[str, str], lines: list[str]) -> None:
    if not result.findings:
        lines.append("No findings.")
        lines.append("")
        return
    for severity in SEVERITIES:
        group = [finding for finding in result.findings if finding.severity == severity]
        if not group:
            continue
        lines.append(f"{severity.upper()} ({len(group)})")
        for finding in group[:_MAX_PER_SEVERITY]:
            lines.extend(_finding_line(finding, names))
        if len(group) > _MAX_PER_SEVERITY:
            lines.append(f"  ... and {len(group) - _MAX_PER_SEVERITY} more (see --format json)")
        lines.append("")


def _replay_line(audit: KeyAudit, window_days: int) -> str:
    """``N requests of the last 90 days against the suggested scopes: 0 would have
    failed``, with the failing operations and what could not be replayed."""
    replay = audit.replay
    if replay is None:
        return ""
    text = (
        f"{replay.requests:,} requests of the last {window_days} days against the "
        f"suggested scopes: {replay.would_fail:,} would have failed"
    )
    if replay.failing_operations:
        shown = ", ".join(use.operation for use in replay.failing_operations[:5])
        more = len(replay.failing_operations) - 5
        text += f" ({_safe(shown, 400)}{f' and {more} more' if more > 0 else ''})"
    if replay.unreplayable:
        text += f"; {replay.unreplayable:,} could not be replayed (route or requirement unknown)"
    return text


def _suggestions(
    audits: Iterable[KeyAudit], lines: list[str], window_days: int, time_box: dict[str, Any]
) -> None:
    changes = [
        audit
        for audit in audits
        if audit.key.status == "active"
        and not audit.capture
        and audit.excess_scopes
        and audit.confidence != "insufficient"
    ]
    if not changes:
        lines.append("Suggested scope changes: none.")
        lines.append("")
        return
    changes.sort(key=lambda audit: (-audit.before.risk_score, audit.key.key_id))
    lines.append(f"Suggested scope changes ({len(changes)} keys, riskiest first)")
    for audit in changes:
        key = audit.key
        names = {key.key_id: key.name}
        holds = "FULL ACCESS (every scope)" if key.full_access else _scopes(audit.assigned_scopes)
        lines.append(
            f"  {_key_label(key.key_id, names)}  risk {audit.before.risk_score} -> "
            f"{audit.after.risk_score}, confidence {audit.confidence}"
        )
        lines.append(f"      holds:    {holds}")
        if audit.suggested_scopes:
            lines.append(f"      needs:    {_scopes(audit.suggested_scopes)}")
        elif audit.requests and audit.replay is not None and not audit.replay.unreplayable:
            lines.append(
                f"      needs:    no scope (its {audit.requests:,} successful requests need none)"
            )
        elif audit.requests:
            lines.append(
                "      needs:    unknown (its successful requests went to routes the spec "
                "does not describe)"
            )
        else:
            lines.append(
                "      needs:    nothing (no successful request in the window): expire it on "
                f"{time_box['expires']}, re-check on {time_box['recheck']}, then revoke"
            )
        lines.append(f"      remove:   {_scopes(audit.excess_scopes)}")
        reach = (
            f"{audit.before.operations} -> {audit.after.operations} operations, "
            f"{audit.before.sensitive_operations} -> {audit.after.sensitive_operations} sensitive"
        )
        lines.append(f"      reach:    {reach}")
        if audit.replay is not None and audit.replay.requests + audit.replay.unreplayable:
            lines.append(f"      replayed: {_replay_line(audit, window_days)}")
    lines.append("")


def _captures(audits: Iterable[KeyAudit], lines: list[str]) -> None:
    captures = [audit for audit in audits if audit.capture]
    if not captures:
        return
    lines.append("Scopes a new key needs for captured traffic (HAR)")
    for audit in captures:
        lines.append(
            f"  {_safe(audit.key.key_id, 120)}  {audit.requests:,} successful requests, "
            f"confidence {audit.confidence}"
        )
        lines.append(f"      needs:    {_scopes(audit.suggested_scopes)}")
        for evidence in audit.evidence:
            operations = ", ".join(use.operation for use in evidence.operations[:6])
            more = len(evidence.operations) - 6
            tail = f" and {more} more" if more > 0 else ""
            lines.append(f"      {_safe(evidence.scope, 80)}: {_safe(operations, 400)}{tail}")
        if audit.missing_scopes:
            lines.append(f"      denied:   {_scopes(audit.missing_scopes)} (not added)")
    lines.append("")


def _quality(result: AuditResult, lines: list[str]) -> None:
    quality = result.data_quality
    lines.append(
        f"Data quality: {quality.total_lines:,} lines read, {quality.bad_lines:,} unreadable; "
        f"{quality.unmatched_requests:,} requests matched no operation; "
        f"{quality.unknown_keys:,} unknown key ids; "
        f"logs on {quality.coverage_days} of {quality.window_days} window days"
    )
    for example in quality.bad_line_examples[:5]:
        lines.append(
            f"  bad line {_safe(example.source, 200)}:{example.line}: {_safe(example.reason, 200)}"
        )
    for stats in sorted(quality.sources, key=lambda source: (source.source, source.kind)):
        sentence = repeats_sentence(stats, lambda name: _safe(name, 200))
        if sentence:
            lines.append(f"  {sentence}")
    if quality.missing_days:
        shown = ", ".join(day.isoformat() for day in quality.missing_days[:10])
        more = (
            f" and {len(quality.missing_days) - 10} more" if len(quality.missing_days) > 10 else ""
        )
        lines.append(f"  days without any data: {shown}{more}")
    if result.suppression_warnings:
        lines.append("Suppressions:")
        lines.extend(f"  - {_safe(warning)}" for warning in result.suppression_warnings)
