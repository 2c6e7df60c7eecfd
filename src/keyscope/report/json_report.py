"""The JSON result: the versioned contract scheduled jobs read (``docs/audit.md``).

``render_json(result)`` is deterministic: the same result gives the same bytes.  Keys
are sorted, scope lists are sorted, keys of the audit appear by id and findings in
report order (severity, rule, key id, subject); output is ASCII (a bidirectional
override or a lone surrogate in a key name is a ``\\uXXXX`` escape, never a raw
character), indented by two spaces with arrays of plain values on one line, and ends
with a newline.

Changes that add members keep ``schema_version``; renaming, removing or changing the
meaning of a member bumps it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from keyscope.gc_pause import gc_paused
from keyscope.model import (
    SCHEMA_VERSION,
    SEVERITIES,
    Anomaly,
    AuditResult,
    BlastRadius,
    Finding,
    KeyAudit,
    Replay,
    SourceStats,
    Suppression,
)
from keyscope.redaction import redact

__all__ = ["dumps", "render_json", "result_to_dict"]

FINGERPRINT_VERSION_KEY = "fingerprint_version"


def render_json(result: AuditResult) -> str:
    """The audit result as the documented JSON contract (a string ending in a newline)."""
    with gc_paused():
        return dumps(result_to_dict(result))


def dumps(document: Any) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, ASCII, a final newline.

    Arrays of plain values (scope lists, ``[day, count]`` pairs) stay on one line, which
    keeps a 10,000-key result readable and about a third smaller; everything else is
    one member a line, as ``json.dumps(indent=2)`` writes it.  Strings go through the
    standard library's (C) ASCII escaper, so the output parses back to ``document``.

    Raises:
        ValueError: a float that is not finite (never valid JSON).
    """
    out: list[str] = []
    _encode(document, "", out)
    out.append("\n")
    return "".join(out)


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not valid JSON")
        return float.__repr__(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


_CONTAINERS = (dict, list, tuple)


class _DailySeries(list):  # type: ignore[type-arg]
    """``[day, count]`` pairs (ISO date text, int): a key's daily series, by far the most
    numerous arrays of a report (keys x days), written in one piece."""

    __slots__ = ()

    def json_lines(self, indent: str) -> str:
        inner = ",\n" + indent + "  "
        rows = inner.join(f"[{_quote(day)}, {int.__repr__(count)}]" for day, count in self)
        return "[\n" + indent + "  " + rows + "\n" + indent + "]"


def _encode(value: Any, indent: str, out: list[str]) -> None:
    # Dispatch on the exact type first: a report is hundreds of thousands of values, and
    # most members are plain strings and numbers written in one piece with their name.
    kind = type(value)
    if kind is dict or (kind not in (list, tuple) and isinstance(value, dict)):
        if not value:
            out.append("{}")
            return
        inner = indent + "  "
        separator = "{\n" + inner
        for name in sorted(value):
            item = value[name]
            lead = separator + _quote(name) + ": "
            separator = ",\n" + inner
            item_kind = type(item)
            if item_kind is str:
                out.append(lead + _quote(item))
            elif item_kind not in _CONTAINERS and not isinstance(item, _CONTAINERS):
                out.append(lead + _scalar(item))
            else:
                out.append(lead)
                _encode(item, inner, out)
        out.append("\n" + indent + "}")
    elif kind is list or kind is tuple or isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        if kind is _DailySeries:
            out.append(value.json_lines(indent))
            return
        if not any(isinstance(item, _CONTAINERS) for item in value):
            out.append("[" + ", ".join(map(_scalar, value)) + "]")
            return
        inner = indent + "  "
        separator = "[\n" + inner
        for item in value:
            out.append(separator)
            separator = ",\n" + inner
            _encode(item, inner, out)
        out.append("\n" + indent + "]")
    else:
        out.append(_scalar(value))


def result_to_dict(result: AuditResult) -> dict[str, Any]:
    """The audit result as plain JSON-ready data (what :func:`render_json` serializes)."""
    from keyscope.model import FINGERPRINT_VERSION

    operation_ids = dict(result.operation_ids)
    return {
        "schema_version": SCHEMA_VERSION,
        FINGERPRINT_VERSION_KEY: FINGERPRINT_VERSION,
        "tool": {"name": "keyscope", "version": result.tool_version},
        "as_of": _time(result.as_of),
        "window": {
            "start": _time(result.window.start),
            "end": _time(result.window.end),
            "days": result.window.days,
        },
        "complete": result.complete,
        "incomplete_reasons": list(result.incomplete_reasons),
        "spec": {
            "title": result.spec.title,
            "version": result.spec.version,
            "format": result.spec.format,
            "source": result.spec.source,
            "sha256": result.spec.sha256,
            "operations": result.spec.operations,
            "scopes": result.spec.scopes,
            "semantics": result.spec.semantics,
        },
        "summary": _summary(result),
        "keys": [_key(audit, operation_ids) for audit in result.keys],
        "findings": [_finding(finding) for finding in result.findings],
        "resolved_findings": [_finding(finding) for finding in result.resolved_findings],
        "baseline_source": result.baseline_source,
        "data_quality": _quality(result),
        "anomalies": [_anomaly(anomaly) for anomaly in result.anomalies],
        "suppressions": [_suppression(entry) for entry in result.suppressions],
        "suppression_warnings": list(result.suppression_warnings),
    }


# --------------------------------------------------------------------------- parts


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:  # usage times are UTC already: skip the conversion
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _day(day: date) -> str:
    return day.isoformat()


def _sorted(scopes: Iterable[str]) -> list[str]:
    return sorted(scopes)


def _radius(radius: BlastRadius) -> dict[str, int]:
    return {
        "operations": radius.operations,
        "sensitive_operations": radius.sensitive_operations,
        "risk_score": radius.risk_score,
    }


def _summary(result: AuditResult) -> dict[str, Any]:
    inventory = [audit for audit in result.keys if not audit.capture]
    active = [audit for audit in inventory if audit.key.status == "active"]
    live = [finding for finding in result.findings if not finding.suppressed]
    return {
        "keys": len(inventory),
        "active_keys": len(active),
        "revoked_keys": len(inventory) - len(active),
        "captures": len(result.keys) - len(inventory),
        "legacy_full_access_keys": sum(1 for audit in active if audit.key.full_access),
        "keys_with_excess": sum(1 for audit in active if audit.excess_scopes),
        "excess_scopes": sum(len(audit.excess_scopes) for audit in active),
        "insufficient_data_keys": sum(1 for a in active if a.confidence == "insufficient"),
        "findings": {
            severity: sum(1 for f in live if f.severity == severity) for severity in SEVERITIES
        },
        "suppressed_findings": len(result.findings) - len(live),
        "replay": _replay_summary(active),
    }


def _replay_summary(active: list[KeyAudit]) -> dict[str, int]:
    """Totals of the active keys' replays (keys without one are left out)."""
    replays = [audit.replay for audit in active if audit.replay is not None]
    return {
        "keys": len(replays),
        "requests": sum(replay.requests for replay in replays),
        "would_fail": sum(replay.would_fail for replay in replays),
        "keys_with_failures": sum(1 for replay in replays if replay.would_fail),
        "unreplayable": sum(replay.unreplayable for replay in replays),
    }


def _replay(replay: Replay | None, operation_ids: dict[str, str]) -> dict[str, Any] | None:
    if replay is None:
        return None
    return {
        "requests": replay.requests,
        "would_fail": replay.would_fail,
        "unreplayable": replay.unreplayable,
        "failing_operations": [
            {
                "operation": use.operation,
                "operation_id": operation_ids.get(use.operation),
                "count": use.count,
                "first_seen": _time(use.first_seen),
                "last_seen": _time(use.last_seen),
            }
            for use in replay.failing_operations
        ],
    }


def _key(audit: KeyAudit, operation_ids: dict[str, str]) -> dict[str, Any]:
    key = audit.key
    return {
        "id": key.key_id,
        "name": key.name,
        "status": key.status,
        "full_access": key.full_access,
        "capture": audit.capture,
        "owner": key.owner,
        "environment": key.environment,
        "created_at": _time(key.created_at),
        "last_used_at": _time(key.last_used_at),
        "source": key.source,
        "redacted_fields": list(key.redacted_fields),
        "assigned_scopes": _sorted(audit.assigned_scopes),
        "granted_scopes": _sorted(audit.granted_scopes),
        "used_scopes": _sorted(audit.used_scopes),
        "suggested_scopes": _sorted(audit.suggested_scopes),
        "excess_scopes": _sorted(audit.excess_scopes),
        "missing_scopes": _sorted(audit.missing_scopes),
        "risk_score": audit.before.risk_score,
        "risk_score_after": audit.after.risk_score,
        "blast_radius": {"before": _radius(audit.before), "after": _radius(audit.after)},
        "confidence": audit.confidence,
        "confidence_reasons": list(audit.confidence_reasons),
        "requests": audit.requests,
        "last_seen": _time(audit.last_seen),
        "evidence": [
            {
                "scope": evidence.scope,
                "requests": evidence.count,
                "first_seen": _time(evidence.first_seen),
                "last_seen": _time(evidence.last_seen),
                "operations": [
                    {
                        "operation": use.operation,
                        "operation_id": operation_ids.get(use.operation),
                        "count": use.count,
                        "first_seen": _time(use.first_seen),
                        "last_seen": _time(use.last_seen),
                    }
                    for use in evidence.operations
                ],
            }
            for evidence in audit.evidence
        ],
        "excess": [
            {"scope": excess.scope, "unlocks_never_called": list(excess.unlocks_never_called)}
            for excess in audit.excess
        ],
        "denied": [
            {
                "method": denied.method,
                "path": denied.path,
                "operation": denied.operation,
                "count": denied.count,
                "first_seen": _time(denied.first_seen),
                "last_seen": _time(denied.last_seen),
                "needed": [list(alternative) for alternative in denied.needed],
            }
            for denied in audit.denied
        ],
        "unmatched": [
            {
                "method": row.method,
                "path": row.path,
                "status_class": row.status_class,
                "count": row.count,
                "first_seen": _time(row.first_seen),
                "last_seen": _time(row.last_seen),
            }
            for row in audit.unmatched
        ],
        "daily": _DailySeries([_day(day), count] for day, count in audit.daily),
        "replay": _replay(audit.replay, operation_ids),
        "findings": [_finding(finding) for finding in audit.findings],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "key_id": finding.key_id,
        "subject": finding.subject,
        "message": finding.message,
        "fingerprint": finding.fingerprint,
        "suppressed": finding.suppressed,
        "suppression": _suppression(finding.suppression) if finding.suppression else None,
        "baseline_state": finding.baseline_state,
    }


def _suppression(entry: Suppression) -> dict[str, Any]:
    return {
        "rule": entry.rule,
        "key_id": entry.key_id,
        "scope": entry.scope,
        # Free text from the suppressions file: masked like every other free-text field.
        "reason": redact(entry.reason),
        "owner": redact(entry.owner),
        "expires": _day(entry.expires),
        "source": entry.source,
    }


def _anomaly(anomaly: Anomaly) -> dict[str, Any]:
    return {
        "rule": anomaly.rule,
        "severity": anomaly.severity,
        "operation": anomaly.operation,
        "scope": anomaly.scope,
        "message": anomaly.message,
    }


def _source(stats: SourceStats) -> dict[str, Any]:
    return {
        "source": stats.source,
        "kind": stats.kind,
        "lines": stats.lines,
        "bad_lines": stats.bad_lines,
        "in_window": stats.in_window,
        "out_of_window": stats.out_of_window,
        # Repeats of an event already read (same request id): dropped, but counted, so
        # lines == bad_lines + in_window + out_of_window + duplicates holds here too.
        "duplicates": stats.duplicates,
        # Kept and counted in in_window (no request id to be sure): files of the source
        # that cover the same time repeat these lines.
        "suspected_duplicates": stats.suspected_duplicates,
        "suspected_duplicate_files": list(stats.suspected_duplicate_files),
        "suspected_duplicate_span": (
            None
            if stats.suspected_duplicate_span is None
            else {
                "first": _time(stats.suspected_duplicate_span[0]),
                "last": _time(stats.suspected_duplicate_span[1]),
            }
        ),
    }


def _quality(result: AuditResult) -> dict[str, Any]:
    quality = result.data_quality
    return {
        "total_lines": quality.total_lines,
        "bad_lines": quality.bad_lines,
        "bad_line_examples": [
            {"source": example.source, "line": example.line, "reason": example.reason}
            for example in quality.bad_line_examples
        ],
        "unmatched_requests": quality.unmatched_requests,
        "unmatched_routes": [
            {"method": method, "path": path, "count": count}
            for method, path, count in quality.unmatched_routes
        ],
        "unknown_keys": quality.unknown_keys,
        "unknown_key_ids": list(quality.unknown_key_ids),
        "coverage_days": quality.coverage_days,
        "window_days": quality.window_days,
        "missing_days": [_day(day) for day in quality.missing_days],
        "sources": [_source(stats) for stats in sorted(quality.sources, key=lambda s: s.source)],
    }
