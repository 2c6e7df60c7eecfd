"""Triage: suppressions with expiry, baselines, history points and what fails a job.

These are pure functions over an :class:`~keyscope.model.AuditResult`: they never
re-run the analysis, they only mark its findings.  Reading the suppressions file,
the baseline and the history folder is the adapters' job (``keyscope.sources``).

Rules, in the order a scheduled job meets them:

- A suppression names a rule, a key id and optionally a subject (a scope or a
  route).  It applies up to and including its ``expires`` day; from the next day
  it stops applying, the finding is reported again and a warning says so (expiry
  fails open).  An entry that matches no finding is *stale* and is reported too.
  A suppressed finding stays in every list, marked, so the register is auditable.
- A baseline is an earlier result.  Each finding is ``new`` or ``unchanged`` by
  fingerprint; baseline findings that are gone are listed as resolved, unless this
  run could not have seen them: a finding of a key the run could not judge (too
  little data), or a data-wide one when the data is incomplete, is *carried*: kept,
  neither resolved nor new, so one incomplete night does not resolve a week-old
  finding and report it as new the next night.  When the
  baseline was written with another fingerprint scheme, findings are matched by
  their identity (rule, key id, subject) instead, which is what the fingerprint
  hashes, so an upgrade never turns every finding into a new one.
- ``--fail-on-new`` fails a job only on *new*, unsuppressed findings at or above
  ``--fail-on``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from keyscope.model import (
    FINGERPRINT_VERSION,
    SEVERITIES,
    AuditResult,
    Finding,
    HistoryPoint,
    KeyAudit,
    Suppression,
    severity_rank,
)

__all__ = [
    "Baseline",
    "SuppressionStatus",
    "apply_baseline",
    "apply_suppressions",
    "failing_findings",
    "finding_order",
    "history_point",
    "is_expired",
    "merge_history",
    "suppression_matches",
    "suppression_status",
]

SuppressionStatus = Literal["applied", "expired", "stale"]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The findings of an earlier run, read from its JSON result."""

    source: str
    """The file it was read from."""
    as_of: datetime | None
    schema_version: int
    fingerprint_version: int
    findings: tuple[Finding, ...]


def finding_order(finding: Finding) -> tuple[int, str, str, str, str]:
    """Sort key of findings everywhere: severity, rule, key id, subject, fingerprint."""
    return (
        severity_rank(finding.severity),
        finding.rule,
        finding.key_id,
        finding.subject,
        finding.fingerprint,
    )


# --------------------------------------------------------------------------- suppressions


def is_expired(suppression: Suppression, today: date) -> bool:
    """True from the day after ``expires``: the expiry day itself still applies."""
    return today > suppression.expires


def suppression_matches(suppression: Suppression, finding: Finding) -> bool:
    """True when the entry names this finding's rule, key and (if given) subject.

    Matching is exact: no wildcards, so one entry can never hide a class of findings.
    """
    return (
        suppression.rule == finding.rule
        and suppression.key_id == finding.key_id
        and (not suppression.scope or suppression.scope == finding.subject)
    )


def apply_suppressions(
    result: AuditResult, suppressions: Sequence[Suppression], today: date
) -> AuditResult:
    """Mark the findings that a live suppression covers, and report the rest.

    Calling it again with the same arguments gives the same result (earlier marks
    are cleared first).

    Args:
        result: The audit result.
        suppressions: Entries in file order; the first live entry that matches wins.
        today: The day expiry is judged on; the run's ``as_of`` day, so a re-run with
            the same ``--as-of`` gives the same answer.

    Returns:
        The result with findings marked ``suppressed`` (the entry attached), the
        register in ``suppressions`` and warnings for expired and stale entries in
        ``suppression_warnings``.
    """
    live = [entry for entry in suppressions if not is_expired(entry, today)]
    used: set[int] = set()
    # Entries by (rule, key): a finding is compared only with the entries that can match it.
    candidates: dict[tuple[str, str], list[tuple[int, Suppression]]] = {}
    for index, entry in enumerate(live):
        candidates.setdefault((entry.rule, entry.key_id), []).append((index, entry))

    def triaged(finding: Finding) -> Finding:
        for index, entry in candidates.get((finding.rule, finding.key_id), ()):
            if suppression_matches(entry, finding):
                used.add(index)
                return replace(finding, suppressed=True, suppression=entry)
        if finding.suppressed or finding.suppression is not None:
            return replace(finding, suppressed=False, suppression=None)
        return finding

    findings = tuple(triaged(finding) for finding in result.findings)
    keys = tuple(_with_findings(audit, triaged) for audit in result.keys)
    # Findings carried from the baseline are still this run's to suppress (or not).
    carried = tuple(triaged(finding) for finding in result.carried_findings)

    warnings: list[str] = []
    everything = (*result.findings, *result.carried_findings)
    for entry in suppressions:
        if is_expired(entry, today):
            matched = sum(1 for finding in everything if suppression_matches(entry, finding))
            verb = "is" if matched == 1 else "are"
            comeback = (
                f"its {_plural(matched, 'finding')} {verb} reported again"
                if matched
                else "it matches no finding either; remove it"
            )
            warnings.append(
                f"{_where(entry)}: expired on {entry.expires.isoformat()} "
                f"({_describe(entry)}); {comeback}"
            )
    for index, entry in enumerate(live):
        if index not in used:
            warnings.append(
                f"{_where(entry)}: matches no finding ({_describe(entry)}); "
                "stale: remove it or fix the rule, key or scope"
            )
    return replace(
        result,
        findings=findings,
        keys=keys,
        carried_findings=carried,
        suppressions=tuple(suppressions),
        suppression_warnings=tuple(warnings),
    )


def suppression_status(result: AuditResult, suppression: Suppression) -> SuppressionStatus:
    """Where a register entry stands in this result: applied, expired or stale."""
    if is_expired(suppression, result.as_of.date()):
        return "expired"
    for finding in (*result.findings, *result.carried_findings):
        if finding.suppression == suppression:
            return "applied"
    return "stale"


def _with_findings(audit: KeyAudit, change: Callable[[Finding], Finding]) -> KeyAudit:
    if not audit.findings:
        return audit
    return replace(audit, findings=tuple(change(finding) for finding in audit.findings))


def _where(entry: Suppression) -> str:
    return entry.source or "suppression"


def _describe(entry: Suppression) -> str:
    subject = f" {entry.scope}" if entry.scope else ""
    key = entry.key_id or "(data-wide)"
    return f"{entry.rule} for {key}{subject}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --------------------------------------------------------------------------- baseline


def apply_baseline(result: AuditResult, previous: Baseline) -> AuditResult:
    """Mark each finding new or unchanged against ``previous`` and list what was resolved.

    Args:
        result: This run's result.
        previous: The earlier run's findings.

    Returns:
        The result with ``baseline_state`` set on every finding (key findings too),
        ``resolved_findings`` holding the earlier findings this run no longer has,
        ``carried_findings`` those it could not re-check, and ``baseline_source``
        naming the earlier run.
    """
    migrated = previous.fingerprint_version != FINGERPRINT_VERSION
    identity: Callable[[Finding], Any] = _identity if migrated else _fingerprint
    # Another fingerprint scheme: compare what the fingerprint hashes instead.
    before = {identity(finding) for finding in previous.findings}
    before_open = {identity(finding) for finding in previous.findings if not finding.suppressed}
    now = {identity(finding) for finding in result.findings}
    # Baselines written before unknown key ids carried a digest name them masked only.
    legacy = [f for f in previous.findings if f.rule == _UNKNOWN_KEY and " #" not in f.subject]
    legacy_before = {_undigested(finding) for finding in legacy}
    legacy_open = {_undigested(finding) for finding in legacy if not finding.suppressed}
    now_undigested = {_undigested(f) for f in result.findings if f.rule == _UNKNOWN_KEY}

    def seen_before(finding: Finding) -> bool:
        # An open finding the baseline had only suppressed is new: its suppression expired
        # or was removed, and a --fail-on-new job must see it again, not call it known.
        if identity(finding) in (before if finding.suppressed else before_open):
            return True
        return finding.rule == _UNKNOWN_KEY and _undigested(finding) in (
            legacy_before if finding.suppressed else legacy_open
        )

    def still_present(finding: Finding) -> bool:
        if identity(finding) in now:
            return True
        return finding.rule == _UNKNOWN_KEY and _undigested(finding) in now_undigested

    def marked(finding: Finding) -> Finding:
        state: Literal["new", "unchanged"] = "unchanged" if seen_before(finding) else "new"
        return (
            finding if finding.baseline_state == state else replace(finding, baseline_state=state)
        )

    # Keys this run could not judge: their earlier findings are not re-checked.
    unjudged = {
        audit.key.key_id
        for audit in result.keys
        if audit.key.status == "active" and audit.confidence == "insufficient"
    }

    def rechecked(finding: Finding) -> bool:
        return finding.key_id not in unjudged if finding.key_id else result.complete

    resolved: dict[str, Finding] = {}
    carried: dict[str, Finding] = {}
    for finding in previous.findings:
        if not still_present(finding):
            name = finding.fingerprint or "|".join(_identity(finding))
            if rechecked(finding):
                resolved.setdefault(name, finding)
            else:
                carried.setdefault(name, replace(finding, baseline_state="unchanged"))
    when = f" as of {previous.as_of.date().isoformat()}" if previous.as_of else ""
    note = (
        f"; fingerprints v{previous.fingerprint_version} matched by rule, key and subject"
        if migrated
        else ""
    )
    return replace(
        result,
        findings=tuple(marked(finding) for finding in result.findings),
        keys=tuple(_with_findings(audit, marked) for audit in result.keys),
        resolved_findings=tuple(sorted(resolved.values(), key=finding_order)),
        carried_findings=tuple(sorted(carried.values(), key=finding_order)),
        baseline_source=f"{previous.source}{when}{note}",
    )


def _identity(finding: Finding) -> tuple[str, str, str]:
    return (finding.rule, finding.key_id, finding.subject)


_UNKNOWN_KEY = "unknown-key-usage"


def _undigested(finding: Finding) -> tuple[str, str, str]:
    """An unknown-key-usage finding's identity without the digest of its key id."""
    return (finding.rule, finding.key_id, finding.subject.split(" #", 1)[0])


def _fingerprint(finding: Finding) -> str:
    return finding.fingerprint


# --------------------------------------------------------------------------- gating


def failing_findings(
    result: AuditResult, fail_on: str | None, *, new_only: bool = False
) -> tuple[Finding, ...]:
    """The findings that make a run exit 1.

    Args:
        result: The triaged result.
        fail_on: The ``--fail-on`` severity; None means "never" unless ``new_only``,
            where it means "any severity".
        new_only: ``--fail-on-new``: only findings the baseline did not have count.

    Returns:
        Unsuppressed findings at or above the threshold (and new, if asked), in
        report order; carried findings count too (they were not shown to be fixed),
        though never as new.
    """
    if fail_on is None and not new_only:
        return ()
    threshold = severity_rank(fail_on) if fail_on is not None else len(SEVERITIES) - 1
    return tuple(
        finding
        for finding in (*result.findings, *result.carried_findings)
        if not finding.suppressed
        and severity_rank(finding.severity) <= threshold
        and (not new_only or finding.baseline_state == "new")
    )


# --------------------------------------------------------------------------- history


def history_point(result: AuditResult) -> HistoryPoint:
    """The totals of one run that the trend chart plots.

    Only active keys count: revoked keys are listed in reports, never flagged.
    """
    active = [audit for audit in result.keys if audit.key.status == "active"]
    mean_risk = round(sum(audit.risk_score for audit in active) / len(active), 1) if active else 0.0
    return HistoryPoint(
        as_of=result.as_of,
        excess_scopes=sum(len(audit.excess_scopes) for audit in active),
        mean_risk=mean_risk,
        legacy_keys=sum(1 for audit in active if audit.key.full_access),
        findings=sum(1 for finding in result.findings if not finding.suppressed),
        complete=result.complete,
    )


def merge_history(
    earlier: Iterable[HistoryPoint], current: HistoryPoint, limit: int = 120
) -> tuple[HistoryPoint, ...]:
    """Earlier points plus this run's, oldest first, one per ``as_of``, the last ``limit``.

    A re-run for the same ``as_of`` replaces the earlier point instead of doubling it.
    """
    by_time = {point.as_of: point for point in earlier}
    by_time[current.as_of] = current
    ordered = [by_time[moment] for moment in sorted(by_time)]
    return tuple(ordered[-limit:])
