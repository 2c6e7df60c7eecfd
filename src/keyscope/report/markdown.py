"""The Markdown report: a short summary for a ticket or a chat message.

It says what needs doing (legacy keys to migrate, the riskiest keys, new findings
since the baseline, data problems) and points to the full report for the rest.  It
is written with Python, not a template: Markdown has no autoescaping, so every value
goes through one of two escapers here instead.

- :func:`md_text` for prose and table cells: every ASCII punctuation character that
  Markdown, GitHub or chat tools give a meaning to is backslash-escaped
  (CommonMark guarantees ``\\`` + punctuation is that character, literally), so a
  key name cannot make a link, an image (which would load a tracking URL), emphasis,
  a heading, a table column, a mention (``@team``), an emoji (``:x:``) or raw HTML.
  ``<``, ``>`` and ``&`` are escaped too, so nothing is ever read as HTML.
- Line breaks and control characters are already gone (``_view.clean``), so a value
  cannot start a new block.
"""

from __future__ import annotations

import re
from typing import Any

from keyscope.model import AuditResult, KeyAudit
from keyscope.report import _view
from keyscope.report._view import clean

__all__ = ["md_text", "render_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&@:$^=\"'])")
_TOP_KEYS = 10
_LIST = 20


def md_text(text: str, limit: int = _view.TEXT_LIMIT) -> str:
    """Untrusted text as literal Markdown (cleaned, then every special character escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text, limit))


def render_markdown(result: AuditResult) -> str:
    """Render the ticket/chat summary of one audit result.

    Args:
        result: The triaged audit result.

    Returns:
        GitHub-flavoured Markdown text ending with a newline.
    """
    summary = _view.summary(result)
    lines: list[str] = []
    title = md_text(result.spec.title, 120)
    lines.append(f"## API key audit: {title} {md_text(result.spec.version, 60)}")
    lines.append("")
    window = result.window
    lines.append(
        f"As of {_view.minute(result.as_of)}, usage window {_view.day(window.start)} "
        f"to {_view.last_day(window)} ({window.days} days), "
        f"keyscope {md_text(result.tool_version, 40)}."
    )
    lines.append("")
    if not result.complete:
        lines.append(
            "> **Incomplete data.** Do not remove scopes on the strength of this report alone:"
        )
        for reason in result.incomplete_reasons:
            lines.append(f"> - {md_text(reason)}")
        lines.append("")
    lines.append("| | |")
    lines.append("|---|---:|")
    lines.append(f"| Active keys | {summary['active_keys']} |")
    for band, count in summary["bands"]:
        if count:
            lines.append(f"| Risk {band} | {count} |")
    lines.append(f"| Open findings | {summary['findings']} |")
    for severity, count in summary["severities"]:
        if count:
            lines.append(f"| … {severity} | {count} |")
    if summary["suppressed"]:
        lines.append(f"| Suppressed findings | {summary['suppressed']} |")
    lines.append(f"| Legacy full-access keys to migrate | {summary['legacy_keys']} |")
    lines.append(f"| Excess scopes | {summary['excess_scopes']} |")
    if summary["replay_keys"]:
        lines.append(
            f"| Requests replayed against the suggested scopes (last {window.days} days) | "
            f"{summary['replayed']:,} |"
        )
        lines.append(f"| … would have failed | {summary['would_fail']:,} |")
        if summary["unreplayable"]:
            lines.append(f"| … could not be replayed | {summary['unreplayable']:,} |")
    if summary["has_baseline"]:
        lines.append(f"| New since baseline | {summary['new']} |")
        lines.append(f"| Resolved since baseline | {summary['resolved']} |")
        if summary["carried"]:
            lines.append(f"| Not re-checked (too little data), carried | {summary['carried']} |")
    lines.append("")

    active = [audit for audit in result.keys if audit.key.status == "active"]
    legacy = [audit for audit in active if audit.key.full_access]
    if legacy:
        lines.append(f"### Legacy full-access keys ({len(legacy)})")
        lines.append("")
        lines.append(
            "Replace each one: create a key with the suggested scopes, run both for "
            f"{_view.DUAL_RUN_DAYS} days, confirm zero 401/403 on the new key, then expire "
            "and revoke the old one."
        )
        lines.append("")
        lines.append("| Key | Name | Requests | Suggested scopes | Replay |")
        lines.append("|---|---|---:|---|---|")
        time_box = _view.dormant_time_box(result.as_of)
        for audit in legacy[:_LIST]:
            lines.append(_legacy_row(audit, time_box))
        if len(legacy) > _LIST:
            lines.append("")
            lines.append(f"…and {len(legacy) - _LIST} more in the full report.")
        lines.append("")

    risky = sorted(
        (audit for audit in active if audit.excess_scopes),
        key=lambda audit: (-audit.risk_score, -len(audit.excess_scopes), audit.key.key_id),
    )[:_TOP_KEYS]
    if risky:
        lines.append("### Riskiest over-privileged keys")
        lines.append("")
        lines.append("| Key | Name | Risk | Confidence | Excess scopes |")
        lines.append("|---|---|---:|---|---|")
        for audit in risky:
            excess = ", ".join(md_text(scope, 100) for scope in sorted(audit.excess_scopes))
            lines.append(
                f"| {md_text(audit.key.key_id, 80)} | {md_text(audit.key.name, 80)} | "
                f"{audit.risk_score} | {audit.confidence} | {excess} |"
            )
        lines.append("")

    if summary["has_baseline"]:
        new = _view.sorted_findings(
            finding for finding in result.findings
            if finding.baseline_state == "new" and not finding.suppressed
        )  # fmt: skip
        lines.append(f"### New since the baseline ({len(new)})")
        lines.append("")
        if new:
            for finding in new[:_LIST]:
                rule, message = md_text(finding.rule, 80), md_text(finding.message, 300)
                lines.append(f"- **{finding.severity}** {rule}: {message}")
            if len(new) > _LIST:
                lines.append(f"- …and {len(new) - _LIST} more")
        else:
            lines.append("Nothing new.")
        lines.append("")

    quality = result.data_quality
    problems = []
    if quality.bad_lines:
        problems.append(f"{quality.bad_lines:,} unreadable log lines of {quality.total_lines:,}")
    if quality.unmatched_requests:
        problems.append(f"{quality.unmatched_requests:,} requests matched no spec operation")
    if quality.unknown_keys:
        problems.append(f"{quality.unknown_keys:,} key ids in the logs are not in the inventory")
    if quality.missing_days:
        problems.append(f"{len(quality.missing_days)} days of the window have no usage at all")
    for stats in sorted(quality.sources, key=lambda source: (source.source, source.kind)):
        sentence = _view.repeats_sentence(stats, lambda name: md_text(name, 200))
        if sentence:
            problems.append(sentence)
    if problems:
        lines.append("### Data quality")
        lines.append("")
        lines.extend(f"- {problem}" for problem in problems)
        lines.append("")
    if result.suppression_warnings:
        lines.append("### Suppressions needing attention")
        lines.append("")
        lines.extend(f"- {md_text(warning, 400)}" for warning in result.suppression_warnings)
        lines.append("")
    failing = [audit for audit in active if audit.replay is not None and audit.replay.would_fail]
    if failing:
        lines.append(f"### Replay: requests the suggested scopes would refuse ({len(failing)})")
        lines.append("")
        for audit in failing[:_LIST]:
            assert audit.replay is not None
            operations = ", ".join(
                md_text(use.operation, 200) for use in audit.replay.failing_operations[:10]
            )
            lines.append(
                f"- {md_text(audit.key.key_id, 80)}: {audit.replay.would_fail:,} requests "
                f"({operations}); check the spec's scopes for these operations before replacing "
                "the key."
            )
        lines.append("")
    lines.append(
        f"Spec {md_text(result.spec.source, 200)} sha256 {result.spec.sha256[:16]}…, "
        f"{result.spec.operations} operations, {result.spec.scopes} scopes."
    )
    return "\n".join(lines) + "\n"


def _legacy_row(audit: KeyAudit, time_box: dict[str, Any]) -> str:
    kind = _view.migration_kind(audit)
    if kind == "replace":
        plan = (
            ", ".join(md_text(scope, 100) for scope in sorted(audit.suggested_scopes))
            or "no scope (its requests need none)"
        )
    elif kind == "dormant":
        plan = (
            f"unused in the window: expire it on {time_box['expires']}, re-check on "
            f"{time_box['recheck']}, then revoke"
        )
    else:
        plan = f"not enough data ({audit.confidence}): re-run before replacing"
    replay = audit.replay
    if replay is None or kind != "replace":
        proof = "n/a"
    else:
        proof = f"{replay.would_fail:,} of {replay.requests:,} would fail"
    return (
        f"| {md_text(audit.key.key_id, 80)} | {md_text(audit.key.name, 80)} | "
        f"{audit.requests:,} | {plan} | {proof} |"
    )
