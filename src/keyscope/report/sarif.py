"""The SARIF 2.1.0 report, for code-scanning dashboards.

One ``result`` per finding, with:

- ``ruleId`` and a rule in ``tool.driver.rules`` (id, short and full description,
  help text, default level and ``security-severity``).  GitHub ranks every alert of a
  rule by the rule's ``security-severity``, so both follow the rule's most severe open
  finding in this run (its most severe suppressed one when all are suppressed, the
  rule's default severity when it has none): a critical finding never shows as High;
- ``level`` from the finding's severity (critical and high: ``error``, medium:
  ``warning``, low and info: ``note``);
- ``message.text`` only: untrusted text (key names, paths) is never put in a
  ``markdown`` field, and secrets are masked;
- ``partialFingerprints`` ``{"keyscopeFingerprint/v1": fingerprint}``, stable across
  runs and renames (it hashes rule, key id and subject);
- locations: a physical location at the key's inventory entry (``ApiKey.source``,
  ``file:line``) and a logical location naming the key, or the spec file and the
  operation for findings about a route; usage by a key missing from the inventory
  names that (masked) key, never an operation;
- ``suppressions`` (``external``, ``accepted``, with the reason as justification) for
  suppressed findings, and ``baselineState`` (``new``/``unchanged``) with a baseline;
  findings of the baseline this run could not re-check (``carried_findings``) stay
  results, ``unchanged``, so one incomplete night closes no alert.

When the data was incomplete the invocation says ``executionSuccessful: false`` and
lists the reasons as error notifications, so a partial run never looks clean.

GitHub accepts at most 25,000 results per run (:data:`MAX_RESULTS`) and 10 MB per file
(:data:`MAX_BYTES`).  When one result per finding would break either limit, findings are
aggregated rather than dropped, a rule at a time, the least severe rule first:

1. per rule and key: one result lists the key's subjects (``properties.subjects``, the
   first :data:`SUBJECT_LIMIT`) and stands for ``properties.findings`` findings, at the
   most severe level among them and the key's inventory line, with a fingerprint of
   rule and key (so it survives subjects coming and going);
2. only when every rule per key is still too many: per rule and level, naming how many
   keys and findings and a few example key ids.

Rules rolled up further than needed get their detail back, most severe first; a group
of one finding is always that finding's own result.  Suppressed findings are never
merged with open ones; an aggregated result's ``baselineState`` is ``updated`` when it
mixes new and unchanged findings.  Each aggregation is a ``results-aggregated``
notification (findings -> results, the rules, in text and in ``properties``).  Only if
one result per rule and level still did not fit would the least severe be left out,
with a ``results-truncated`` notification counting the findings.  GitHub shows only the
5,000 most severe results (:data:`DISPLAY_LIMIT`): a larger run gets a ``display-limit``
note.  The JSON report always lists every finding.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from keyscope.analysis.triage import finding_order
from keyscope.model import FINGERPRINT_VERSION, AuditResult, Finding, KeyAudit, Suppression
from keyscope.report._view import clean, gc_paused

__all__ = ["DISPLAY_LIMIT", "MAX_BYTES", "MAX_RESULTS", "RULES", "render_sarif"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 25_000
MAX_BYTES = 10_000_000
DISPLAY_LIMIT = 5_000
"""GitHub code scanning stores and shows the 5,000 most severe results of a run."""
TEXT_LIMIT = 2000
"""Longest text field; the JSON report keeps full values."""
SUBJECT_TEXT = 200
"""Longest subject or key id listed in an aggregated result."""
SUBJECT_LIMIT = 20
"""Subjects an aggregated (rule, key) result lists; its count covers the rest."""
EXAMPLE_KEYS = 5
"""Example key ids an aggregated (rule, level) result names."""
SUPPRESSION_LIMIT = 10
"""Distinct suppressions an aggregated result lists; ``suppressionsTotal`` counts them all."""
_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "1.0",
}

RULES: dict[str, tuple[str, str, str, str]] = {
    # rule id: (default severity, short description, full description, help)
    "legacy-full-access": (
        "high",
        "Legacy full-access API key",
        "The key was minted before scopes existed and can call every operation.",
        "Create a new key with the suggested scopes, run both side by side, confirm the "
        "new key gets no 401/403, then expire and revoke the old key.",
    ),
    "unused-scope": (
        "medium",
        "Granted scope not used",
        "The key holds a scope that no successful request in the usage window needed.",
        "Replace the key with one that lacks this scope (scopes are fixed at creation), "
        "or suppress the finding with a reason, an owner and an expiry.",
    ),
    "dormant-key": (
        "medium",
        "Key not used in the window",
        "No successful request used the key in the usage window.",
        "Set an expiry date on the key, tell its owner, and revoke it when it expires.",
    ),
    "denied-requests": (
        "medium",
        "Requests denied for lack of a scope",
        "The key received 401/403 answers: either it is probed (a leak?) or it lacks a "
        "scope its integration needs. Denied requests never count as use.",
        "Check who sends these requests. If the integration needs the scope, issue a "
        "new key that includes it; otherwise rotate the key.",
    ),
    "spec-runtime-mismatch": (
        "medium",
        "Refused although the spec says the key may call it",
        "The key got 401/403 on an operation whose scope requirement its grants meet per the "
        "spec: the spec's scope tag for the operation is likely wrong, or the platform "
        "misbehaves. Never counted as use, never treated as probing.",
        "Check the operation's required scopes with the platform and correct the spec; until "
        "then, least-privilege suggestions for this operation rest on a wrong tag.",
    ),
    "unknown-scope": (
        "low",
        "Granted scope not in the catalog",
        "The key holds a scope the spec's scope catalog does not declare.",
        "Check the spelling against the platform's catalog; remove the scope if it is obsolete.",
    ),
    "unmapped-route": (
        "low",
        "Traffic to a route the spec does not describe",
        "Requests went to a path that matches no operation of the spec.",
        "Document the route in the spec (with its scopes), or find out who calls it.",
    ),
    "insufficient-data": (
        "info",
        "Not enough data to judge the key",
        "The key is too new or the usage data too thin to suggest removing scopes.",
        "Keep collecting usage and re-run the audit; no scope should be removed yet.",
    ),
    "secret-in-name": (
        "high",
        "A free-text field holds a secret",
        "A key name, owner or description looks like a live secret; it is masked in every report.",
        "Rotate the exposed secret and rename the key.",
    ),
    "suspicious-key-name": (
        "medium",
        "Key name hides or disguises text",
        "The key's name holds bidirectional overrides or zero-width characters, or mixes "
        "Latin with Cyrillic or Greek letters in one word (Trojan Source, homoglyphs): what "
        "it shows may not be what it says. Reports show such characters as visible markers.",
        "Rename the key and check who named it.",
    ),
    "unknown-key-usage": (
        "medium",
        "Usage by a key missing from the inventory",
        "The logs show requests by a key id the inventory does not list (the masked id is "
        "the finding's subject). Medium when some requests succeeded: the inventory is "
        "incomplete or a key outside it is in use; low when all failed: probably attempts "
        "with an invalid or deleted key.",
        "If requests succeeded, find the key on the platform and add it to the inventory, "
        "or revoke it if nobody owns it; if all failed, find out who sends them.",
    ),
}
"""Every finding rule of the audit (``keyscope.analysis.audit.RULES``, docs/audit.md);
findings of any other rule get a generic entry."""
_KEY_SUBJECT_RULES = frozenset({"unknown-key-usage"})
"""Data-wide rules whose subject is a (masked) key id: located at that key, not an operation."""
_OTHERS = "(others)"
"""The subject of the finding that sums up the rest past the audit's per-rule cap."""


def render_sarif(result: AuditResult) -> str:
    """Render the SARIF log of one audit result.

    Args:
        result: The triaged audit result.

    Returns:
        SARIF 2.1.0 JSON text (sorted keys, ASCII), indented when small and compact
        when large, ending with a newline; never more than :data:`MAX_RESULTS` results
        nor :data:`MAX_BYTES` bytes (findings are aggregated to fit, see the module).
    """
    with gc_paused():
        return _render(result)


_FINDING, _KEY, _RULE = 0, 1, 2
"""How finely a rule's findings become results: one each, one per key, one per level."""
_AGGREGATION = {_KEY: "key", _RULE: "rule"}


@dataclass(frozen=True, slots=True)
class _Entry:
    """One SARIF result: where it sorts, its compact size, how many findings it stands for."""

    order: tuple[int, str, str, str, str]
    result: dict[str, Any]
    size: int
    findings: int


class _Results:
    """The results of each rule at each granularity, each built and measured once."""

    def __init__(self, result: AuditResult) -> None:
        self.result = result
        self.audits = {audit.key.key_id: audit for audit in result.keys}
        self.by_rule: dict[str, list[Finding]] = {}
        # Carried findings (not re-checked this run) stay results, "unchanged": a code
        # scanning service would otherwise close them for one incomplete night.
        everything = (*result.findings, *result.carried_findings)
        for finding in sorted(everything, key=finding_order):
            self.by_rule.setdefault(finding.rule, []).append(finding)
        self.total = len(everything)
        rule_ids = sorted(set(self.by_rule) | set(RULES))
        self.rule_index = {rule: index for index, rule in enumerate(rule_ids)}
        self.rules = [
            _rule(rule, _worst(self.by_rule[rule]) if rule in self.by_rule else None)
            for rule in rule_ids
        ]
        self._groups: dict[tuple[str, int], list[list[Finding]]] = {}
        self._entries: dict[tuple[str, int], tuple[list[_Entry], int]] = {}

    def groups(self, rule: str, granularity: int) -> list[list[Finding]]:
        """The rule's findings split into results, each group in finding order."""
        cached = self._groups.get((rule, granularity))
        if cached is None:
            findings = self.by_rule[rule]
            if granularity == _FINDING:
                cached = [[finding] for finding in findings]
            else:
                grouped: dict[tuple[str, bool], list[Finding]] = {}
                for finding in findings:
                    part = finding.key_id if granularity == _KEY else _LEVELS[finding.severity]
                    # Suppressed findings stay apart: a result is either suppressed or not.
                    grouped.setdefault((part, finding.suppressed), []).append(finding)
                cached = list(grouped.values())
            self._groups[(rule, granularity)] = cached
        return cached

    def entries(self, rule: str, granularity: int) -> tuple[list[_Entry], int]:
        """The rule's results at this granularity and the sum of their compact sizes."""
        cached = self._entries.get((rule, granularity))
        if cached is None:
            entries = []
            for group in self.groups(rule, granularity):
                if len(group) == 1:  # a group of one is the finding's own result
                    body = _result(group[0], self.rule_index, self.audits, self.result)
                elif granularity == _KEY:
                    body = _key_result(group, self)
                else:
                    body = _rule_result(group, self)
                entries.append(
                    _Entry(finding_order(group[0]), body, len(_compact(body)), len(group))
                )
            cached = (entries, sum(entry.size for entry in entries))
            self._entries[(rule, granularity)] = cached
        return cached

    def count(self, plan: dict[str, int]) -> int:
        """How many results a plan (rule -> granularity) makes."""
        return sum(len(self.groups(rule, granularity)) for rule, granularity in plan.items())

    def fits(self, plan: dict[str, int]) -> bool:
        """True when the plan's document stays within both limits (exactly measured)."""
        count = self.count(plan)
        if count > MAX_RESULTS:
            return False  # decided before building any result
        size = sum(self.entries(rule, granularity)[1] for rule, granularity in plan.items())
        envelope = len(_compact(self.document([], self.notes(plan, count))))
        # The results array adds a comma between results; the text ends with a newline.
        return envelope + size + max(count - 1, 0) + 1 <= MAX_BYTES

    def notes(self, plan: dict[str, int], results: int) -> list[dict[str, Any]]:
        """Notifications saying which findings were aggregated, and into how many results."""
        notes = []
        for granularity, name in _AGGREGATION.items():
            rules = [rule for rule, chosen in plan.items() if chosen == granularity]
            if not rules:
                continue
            findings = sum(len(self.by_rule[rule]) for rule in rules)
            made = sum(len(self.groups(rule, granularity)) for rule in rules)
            per = "rule and key" if granularity == _KEY else "rule and level"
            notes.append(
                _notification(
                    "warning",
                    "results-aggregated",
                    f"{findings:,} findings of {', '.join(rules)} reported as {made:,} results, "
                    f"one per {per} (each says how many findings it stands for), to stay "
                    f"within {MAX_RESULTS:,} results and {MAX_BYTES:,} bytes; the JSON report "
                    "lists every finding",
                    {"aggregation": name, "findings": findings, "results": made, "rules": rules},
                )
            )
        if results > DISPLAY_LIMIT:
            notes.append(
                _notification(
                    "note",
                    "display-limit",
                    f"{results:,} results, most severe first: GitHub code scanning shows "
                    f"the {DISPLAY_LIMIT:,} most severe results of a run",
                )
            )
        return notes

    def document(
        self, results: list[dict[str, Any]], notes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return _document(self.result, self.rules, results, self.total, notes)


def _render(result: AuditResult) -> str:
    built = _Results(result)
    plan = _choose_plan(built)
    entries = sorted(
        (entry for rule, level in plan.items() for entry in built.entries(rule, level)[0]),
        key=lambda entry: entry.order,
    )
    if built.fits(plan):
        notes = built.notes(plan, len(entries))
    else:
        entries, notes = _cut(built, plan, entries)
    document = built.document([entry.result for entry in entries], notes)
    text = _compact(document)
    if len(text) < _INDENT_BELOW:
        text = json.dumps(document, sort_keys=True, ensure_ascii=True, indent=2)
    return text + "\n"


def _choose_plan(built: _Results) -> dict[str, int]:
    """Each rule's granularity: as fine as the limits allow, the least severe rolled up first.

    Every rule is first tried per finding; then rules are rolled up per key, least severe
    rule first, until the results fit; only when all of them per key are still too many
    are they rolled up per rule, again least severe first.  Rules that were rolled up
    further than needed (a later, more severe step made room) then get their detail back,
    most severe first.
    """
    rules = list(built.by_rule)  # most severe first: the order of their worst findings
    plan = dict.fromkeys(rules, _FINDING)
    if built.fits(plan):
        return plan
    for granularity in (_KEY, _RULE):
        for rule in reversed(rules):
            plan[rule] = granularity
            if built.fits(plan):
                return _refine(built, plan)
    return plan  # everything per rule and still too large: _cut keeps the most severe


def _refine(built: _Results, plan: dict[str, int]) -> dict[str, int]:
    for rule in list(plan):
        while plan[rule] > _FINDING:
            finer = {**plan, rule: plan[rule] - 1}
            if not built.fits(finer):
                break
            plan = finer
    return plan


def _cut(
    built: _Results, plan: dict[str, int], entries: list[_Entry]
) -> tuple[list[_Entry], list[dict[str, Any]]]:
    """Last resort, when even one result per rule and level is too large: keep the most
    severe results that fit and say how many findings the rest stood for."""
    most = min(len(entries), MAX_RESULTS)
    widest = [*built.notes(plan, most), _truncation_note(built.total, built.total)]
    budget = MAX_BYTES - len(_compact(built.document([], widest))) - 64
    kept = 0
    for entry in entries[:most]:
        budget -= entry.size + 1
        if budget < 0:
            break
        kept += 1
    left_out = sum(entry.findings for entry in entries[kept:])
    return entries[:kept], [*built.notes(plan, kept), _truncation_note(left_out, built.total)]


def _truncation_note(left_out: int, total: int) -> dict[str, Any]:
    return _notification(
        "warning",
        "results-truncated",
        f"{left_out:,} of {total:,} findings left out to stay within {MAX_RESULTS:,} results "
        f"and {MAX_BYTES:,} bytes (least severe first); the JSON report has them all",
        {"findings": left_out},
    )


_INDENT_BELOW = 1_000_000
"""Indent documents smaller than this for people; larger ones stay compact (and fast)."""


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def _worst(findings: list[Finding]) -> str:
    """The severity of the most severe open finding (findings come in finding order),
    else of the most severe suppressed one: a suppressed result is not an open alert."""
    return next((f.severity for f in findings if not f.suppressed), findings[0].severity)


def _document(
    result: AuditResult,
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    total: int,
    limit_notes: list[dict[str, Any]],
) -> dict[str, Any]:
    notifications = []
    for reason in result.incomplete_reasons:
        notifications.append(_notification("error", "incomplete-data", reason))
    if not result.complete and not result.incomplete_reasons:
        notifications.append(
            _notification("error", "incomplete-data", "the usage data was incomplete")
        )
    for warning in result.suppression_warnings:
        notifications.append(_notification("warning", "suppression", warning))
    notifications.extend(limit_notes)
    invocation: dict[str, Any] = {
        "executionSuccessful": result.complete,
        "endTimeUtc": _utc(result.as_of),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "keyscope",
                "version": result.tool_version,
                "semanticVersion": result.tool_version,
                "rules": rules,
            }
        },
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "asOf": _utc(result.as_of),
            "window": {
                "start": _utc(result.window.start),
                "end": _utc(result.window.end),
                "days": result.window.days,
            },
            "spec": {
                "title": _text(result.spec.title),
                "version": _text(result.spec.version),
                "source": _text(result.spec.source),
                "sha256": result.spec.sha256,
            },
            "complete": result.complete,
            "findingsTotal": total,
            "resolvedSinceBaseline": len(result.resolved_findings),
            "carriedSinceBaseline": len(result.carried_findings),
        },
    }
    if result.baseline_source:
        run["baselineGuid"] = _baseline_guid(result.baseline_source)
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rule(rule: str, severity: str | None) -> dict[str, Any]:
    """The rule's entry; ``severity`` is its most severe finding's (None: no finding)."""
    default, short, full, help_text = RULES.get(
        rule,
        (
            "medium",
            f"keyscope rule {rule}",
            f"A finding of the keyscope rule {rule}.",
            "See the keyscope documentation for this rule.",
        ),
    )
    severity = severity or default
    return {
        "id": rule,
        "name": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule) if part),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": {"security-severity": _SECURITY_SEVERITY[severity], "tags": ["security"]},
    }


def _result(
    finding: Finding, rule_index: dict[str, int], audits: dict[str, KeyAudit], result: AuditResult
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": _LEVELS[finding.severity],
        "message": {"text": _text(finding.message) or finding.rule},
        "partialFingerprints": {"keyscopeFingerprint/v1": finding.fingerprint},
        "locations": [_location(finding, audits.get(finding.key_id), result)],
        "properties": {
            "severity": finding.severity,
            "keyId": _text(finding.key_id),
            "subject": _text(finding.subject),
            "security-severity": _SECURITY_SEVERITY[finding.severity],
        },
    }
    if finding.baseline_state:
        entry["baselineState"] = finding.baseline_state
    if finding.suppressed and finding.suppression is not None:
        entry["suppressions"] = [_suppression(finding.suppression)]
    return entry


def _key_result(group: list[Finding], built: _Results) -> dict[str, Any]:
    """One result for several findings of one rule on one key (or on the data)."""
    first = group[0]  # the most severe: groups keep finding order
    audit = built.audits.get(first.key_id)
    key = _text(first.key_id)
    subjects = list(dict.fromkeys(_text(f.subject, SUBJECT_TEXT) for f in group if f.subject))
    shown = subjects[:SUBJECT_LIMIT]
    about = f"key {key}" if first.key_id else "the usage data"
    message = f"{len(group):,} {first.rule} findings for {about}"
    if shown:
        message += ": " + _listing(shown, len(subjects))
    entry: dict[str, Any] = {
        "ruleId": first.rule,
        "ruleIndex": built.rule_index[first.rule],
        "level": _LEVELS[first.severity],
        "message": {"text": message},
        "partialFingerprints": {
            "keyscopeFingerprint/v1": _aggregate_fingerprint(
                "key", first.rule, first.key_id, first.suppressed
            )
        },
        "locations": [_key_location(first.key_id, audit, built.result)],
        "properties": {
            "aggregated": "key",
            "findings": len(group),
            "severity": first.severity,
            "security-severity": _SECURITY_SEVERITY[first.severity],
            "keyId": key,
            "subjects": shown,
            "subjectsTotal": len(subjects),
        },
    }
    _add_triage(entry, group)
    return entry


def _rule_result(group: list[Finding], built: _Results) -> dict[str, Any]:
    """One result for the findings of one rule at one level, on however many keys."""
    first = group[0]
    level = _LEVELS[first.severity]
    severities = ", ".join(dict.fromkeys(finding.severity for finding in group))
    keys = list(dict.fromkeys(finding.key_id for finding in group if finding.key_id))
    examples = [_text(key, SUBJECT_TEXT) for key in keys[:EXAMPLE_KEYS]]
    if keys:
        about = f"{len(keys):,} keys (e.g. {_listing(examples, len(keys))})"
    else:
        about = "the usage data"
    entry: dict[str, Any] = {
        "ruleId": first.rule,
        "ruleIndex": built.rule_index[first.rule],
        "level": level,
        "message": {
            "text": f"{len(group):,} {first.rule} findings ({severities}) on {about}; one result "
            "stands for all of them, the JSON report lists each"
        },
        "partialFingerprints": {
            "keyscopeFingerprint/v1": _aggregate_fingerprint(
                "rule", first.rule, level, first.suppressed
            )
        },
        "locations": [_rule_location(group, len(keys), built)],
        "properties": {
            "aggregated": "rule",
            "findings": len(group),
            "keys": len(keys),
            "exampleKeyIds": examples,
            "severity": first.severity,
            "security-severity": _SECURITY_SEVERITY[first.severity],
        },
    }
    _add_triage(entry, group)
    return entry


def _listing(shown: list[str], total: int) -> str:
    """``a, b, c`` or ``a, b, c and 7 more``, never longer than a text field allows."""
    parts: list[str] = []
    length = 0
    for item in shown:
        if length + len(item) > TEXT_LIMIT // 2:
            break
        parts.append(item)
        length += len(item) + 2
    more = total - len(parts)
    return ", ".join(parts) + (f" and {more:,} more" if more else "")


def _add_triage(entry: dict[str, Any], group: list[Finding]) -> None:
    """Baseline state and suppressions of an aggregated result, from its findings."""
    states = {finding.baseline_state for finding in group}
    if "" not in states:  # compared with a baseline
        # SARIF's "updated": present in the baseline, but not the same as there.
        entry["baselineState"] = states.pop() if len(states) == 1 else "updated"
        entry["properties"]["newFindings"] = sum(f.baseline_state == "new" for f in group)
    if group[0].suppressed:  # groups are all suppressed or all not
        records: dict[str, dict[str, Any]] = {}
        for finding in group:
            if finding.suppression is not None:
                record = _suppression(finding.suppression)
                records.setdefault(_compact(record), record)
        if records:
            entry["suppressions"] = list(records.values())[:SUPPRESSION_LIMIT]
            entry["properties"]["suppressionsTotal"] = len(records)


def _suppression(suppression: Suppression) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "external",
        "status": "accepted",
        "justification": _text(suppression.reason),
        "properties": {
            "owner": _text(suppression.owner),
            "expires": suppression.expires.isoformat(),
        },
    }
    if suppression.source:
        source_file = suppression.source.split("#", 1)[0]
        record["location"] = {"physicalLocation": {"artifactLocation": _artifact(source_file)}}
    return record


def _aggregate_fingerprint(kind: str, rule: str, part: str, suppressed: bool) -> str:
    """A stable fingerprint for an aggregated result: rule and key (or level), not subjects,
    so it survives findings coming and going within the group."""
    text = "\x1f".join(
        ("sarif-" + kind, str(FINGERPRINT_VERSION), rule, part, "suppressed" if suppressed else "")
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _location(finding: Finding, audit: KeyAudit | None, result: AuditResult) -> dict[str, Any]:
    location: dict[str, Any] = {}
    physical = _physical(audit, result)
    if physical:
        location["physicalLocation"] = physical
    logical: list[dict[str, Any]] = []
    if finding.key_id:
        logical.append(_key_logical(finding.key_id))
    elif finding.rule in _KEY_SUBJECT_RULES:
        # The subject is the masked id of a key the inventory lacks: located as a key, like
        # every other key finding; the finding summing up the rest names no key at all.
        if finding.subject != _OTHERS:
            logical.append(_key_logical(finding.subject))
    elif finding.subject:
        subject = _text(finding.subject)
        logical.append(
            {"name": subject, "fullyQualifiedName": f"operations/{subject}", "kind": "function"}
        )
    if logical:
        location["logicalLocations"] = logical
    location["message"] = {"text": _where_text(finding, audit)}
    return location


def _key_location(key_id: str, audit: KeyAudit | None, result: AuditResult) -> dict[str, Any]:
    """The key's inventory line (or the spec, for findings about the data) and its name."""
    location: dict[str, Any] = {}
    physical = _physical(audit, result)
    if physical:
        location["physicalLocation"] = physical
    if key_id:
        location["logicalLocations"] = [_key_logical(key_id)]
        name = f" ({_text(audit.key.name, 200)})" if audit is not None and audit.key.name else ""
        location["message"] = {"text": f"key {_text(key_id)}{name}"}
    else:
        location["message"] = {"text": "the usage data"}
    return location


def _key_logical(key_id: str) -> dict[str, Any]:
    """The logical location naming a key."""
    key = _text(key_id)
    return {"name": key, "fullyQualifiedName": f"keys/{key}", "kind": "resource"}


def _rule_location(group: list[Finding], keys: int, built: _Results) -> dict[str, Any]:
    """The key inventory file (no line: many keys), or the spec when no key is listed."""
    audit = next(
        (
            audit
            for finding in group
            if (audit := built.audits.get(finding.key_id)) is not None and audit.key.source
        ),
        None,
    )
    location: dict[str, Any] = {}
    physical = _physical(audit, built.result, line=False)
    if physical:
        location["physicalLocation"] = physical
    location["message"] = {"text": f"{keys:,} keys" if keys else "the usage data"}
    return location


def _physical(
    audit: KeyAudit | None, result: AuditResult, *, line: bool = True
) -> dict[str, Any] | None:
    """The key's inventory entry (``file:line``), else the spec file, else nothing."""
    if audit is not None and audit.key.source:
        path, number = _split_source(audit.key.source)
        physical: dict[str, Any] = {"artifactLocation": _artifact(path)}
        if number and line:
            physical["region"] = {"startLine": number}
        return physical
    if result.spec.source:
        return {"artifactLocation": _artifact(result.spec.source)}
    return None


def _where_text(finding: Finding, audit: KeyAudit | None) -> str:
    if audit is not None:
        name = f" ({_text(audit.key.name, 200)})" if audit.key.name else ""
        return f"key {_text(finding.key_id)}{name}"
    if finding.rule in _KEY_SUBJECT_RULES:
        if finding.subject == _OTHERS:
            return "other keys not in the inventory"
        return f"key {_text(finding.subject)} (not in the inventory)"
    if finding.subject:
        return _text(finding.subject)
    return "the usage data"


def _split_source(source: str) -> tuple[str, int]:
    """``keys.yaml:12`` -> (``keys.yaml``, 12); ``keys.csv#3`` or a bare path -> line 0."""
    match = re.fullmatch(r"(.+):(\d+)", source)
    if match and int(match.group(2)) > 0:
        return match.group(1), int(match.group(2))
    return source.split("#", 1)[0], 0


def _artifact(path: str) -> dict[str, Any]:
    """An artifactLocation: relative paths stay relative to the source root."""
    path = _text(path)
    if path.startswith("/"):
        return {"uri": "file://" + quote(path)}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def _notification(
    level: str, descriptor: str, text: str, properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    note: dict[str, Any] = {
        "level": level,
        "descriptor": {"id": descriptor},
        "message": {"text": _text(text)},
    }
    if properties:
        note["properties"] = properties
    return note


def _text(text: str, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text for a SARIF ``text`` field: secrets masked, control, bidirectional
    and zero-width characters made visible, not huge (``keyscope.report._view.clean``)."""
    return clean(text, limit)


def _utc(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _baseline_guid(source: str) -> str:
    """A stable GUID naming the baseline (SARIF wants a GUID, not a path)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "keyscope-baseline:" + _text(source)))
