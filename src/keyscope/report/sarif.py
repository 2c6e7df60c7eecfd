"""The SARIF 2.1.0 report, for code-scanning dashboards.

One ``result`` per finding, with:

- ``ruleId`` and a rule in ``tool.driver.rules`` (id, short and full description,
  help text, default level, ``security-severity`` for dashboards that rank by it);
- ``level`` from the finding's severity (critical and high: ``error``, medium:
  ``warning``, low and info: ``note``);
- ``message.text`` only: untrusted text (key names, paths) is never put in a
  ``markdown`` field, and secrets are masked;
- ``partialFingerprints`` ``{"keyscopeFingerprint/v1": fingerprint}``, stable across
  runs and renames (it hashes rule, key id and subject);
- locations: a physical location at the key's inventory entry (``ApiKey.source``,
  ``file:line``) and a logical location naming the key, or the spec file and the
  operation for findings about a route;
- ``suppressions`` (``external``, ``accepted``, with the reason as justification) for
  suppressed findings, and ``baselineState`` (``new``/``unchanged``) with a baseline.

When the data was incomplete the invocation says ``executionSuccessful: false`` and
lists the reasons as error notifications, so a partial run never looks clean.
GitHub accepts at most 25,000 results per run and 10 MB per file: beyond that the
least severe results are left out (findings are in severity order) and a
notification says how many, pointing to the JSON report, which has them all.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import quote

from keyscope.analysis.triage import finding_order
from keyscope.model import AuditResult, Finding, KeyAudit
from keyscope.report._view import clean, gc_paused

__all__ = ["MAX_BYTES", "MAX_RESULTS", "RULES", "render_sarif"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 25_000
MAX_BYTES = 10_000_000
TEXT_LIMIT = 2000
"""Longest text field; the JSON report keeps full values."""
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
    "unknown-key": (
        "medium",
        "Usage by a key missing from the inventory",
        "The logs show requests by a key id the inventory does not list.",
        "Add the key to the inventory or find and revoke it.",
    ),
}
"""The rules keyscope documents; findings of any other rule get a generic entry."""


def render_sarif(result: AuditResult) -> str:
    """Render the SARIF log of one audit result.

    Args:
        result: The triaged audit result.

    Returns:
        SARIF 2.1.0 JSON text (sorted keys, ASCII), indented when small and compact
        when large, ending with a newline; never more than :data:`MAX_BYTES`.
    """
    with gc_paused():
        return _render(result)


def _render(result: AuditResult) -> str:
    audits = {audit.key.key_id: audit for audit in result.keys}
    ordered = sorted(result.findings, key=finding_order)
    rule_ids = sorted({finding.rule for finding in ordered} | set(RULES))
    rule_index = {rule: index for index, rule in enumerate(rule_ids)}
    results = [_result(finding, rule_index, audits, result) for finding in ordered[:MAX_RESULTS]]
    # Keep as many results as fit in the byte budget, measured one result at a time
    # (the C encoder is fast; the whole document is encoded once more at the end).
    envelope = len(_compact(_document(result, rule_ids, [], len(ordered), truncated=True)))
    budget = MAX_BYTES - envelope - 1024
    kept = 0
    for entry in results:
        budget -= len(_compact(entry)) + 1
        if budget < 0:
            break
        kept += 1
    document = _document(
        result, rule_ids, results[:kept], len(ordered), truncated=kept < len(ordered)
    )
    text = _compact(document)
    if len(text) < _INDENT_BELOW:
        text = json.dumps(document, sort_keys=True, ensure_ascii=True, indent=2)
    return text + "\n"


_INDENT_BELOW = 1_000_000
"""Indent documents smaller than this for people; larger ones stay compact (and fast)."""


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def _document(
    result: AuditResult,
    rule_ids: list[str],
    results: list[dict[str, Any]],
    total: int,
    *,
    truncated: bool,
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
    if truncated:
        notifications.append(
            _notification(
                "warning",
                "results-truncated",
                f"{total - len(results)} of {total} findings left out to stay within "
                f"{MAX_RESULTS:,} results and {MAX_BYTES:,} bytes (least severe first); "
                "the JSON report has them all",
            )
        )
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
                "rules": [_rule(rule) for rule in rule_ids],
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
        },
    }
    if result.baseline_source:
        run["baselineGuid"] = _baseline_guid(result.baseline_source)
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rule(rule: str) -> dict[str, Any]:
    severity, short, full, help_text = RULES.get(
        rule,
        (
            "medium",
            f"keyscope rule {rule}",
            f"A finding of the keyscope rule {rule}.",
            "See the keyscope documentation for this rule.",
        ),
    )
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
        suppression = finding.suppression
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
        entry["suppressions"] = [record]
    return entry


def _location(finding: Finding, audit: KeyAudit | None, result: AuditResult) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if audit is not None and audit.key.source:
        path, line = _split_source(audit.key.source)
        physical: dict[str, Any] = {"artifactLocation": _artifact(path)}
        if line:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    elif result.spec.source:
        location["physicalLocation"] = {"artifactLocation": _artifact(result.spec.source)}
    logical: list[dict[str, Any]] = []
    if finding.key_id:
        key = _text(finding.key_id)
        logical.append({"name": key, "fullyQualifiedName": f"keys/{key}", "kind": "resource"})
    if finding.subject and not finding.key_id:
        subject = _text(finding.subject)
        logical.append(
            {"name": subject, "fullyQualifiedName": f"operations/{subject}", "kind": "function"}
        )
    if logical:
        location["logicalLocations"] = logical
    location["message"] = {"text": _where_text(finding, audit)}
    return location


def _where_text(finding: Finding, audit: KeyAudit | None) -> str:
    if audit is not None:
        name = f" ({_text(audit.key.name)[:200]})" if audit.key.name else ""
        return f"key {_text(finding.key_id)}{name}"
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


def _notification(level: str, descriptor: str, text: str) -> dict[str, Any]:
    return {"level": level, "descriptor": {"id": descriptor}, "message": {"text": _text(text)}}


def _text(text: str, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text for a SARIF ``text`` field: secrets masked, control, bidirectional
    and zero-width characters made visible, not huge (``keyscope.report._view.clean``)."""
    return clean(text, limit)


def _utc(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _baseline_guid(source: str) -> str:
    """A stable GUID naming the baseline (SARIF wants a GUID, not a path)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "keyscope-baseline:" + _text(source)))
