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
from collections.abc import Callable, Iterable
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
    DeniedRequests,
    ExcessScope,
    Finding,
    KeyAudit,
    OperationUse,
    Replay,
    ReplayTotals,
    ScopeEvidence,
    SourceStats,
    Suppression,
    UsageRow,
)
from keyscope.redaction import redact

__all__ = ["dumps", "render_json", "result_to_dict"]

FINGERPRINT_VERSION_KEY = "fingerprint_version"


def render_json(result: AuditResult) -> str:
    """The audit result as the documented JSON contract (a string ending in a newline).

    The same text as ``dumps(result_to_dict(result))``, but the keys and findings (nearly
    all of a large report) are written straight from the result's records to text: no
    dictionary per record for :func:`dumps` to sort and walk again.
    """
    with gc_paused():
        return dumps(_document(result, records_as_text=True))


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


class _RecordsText(list):  # type: ignore[type-arg]
    """Model records (keys, findings) that :func:`render_json` writes straight to text.

    ``write(record, indent)`` gives one record's JSON object, laid out as :func:`dumps`
    lays out the record's :func:`result_to_dict` form.  Only ever inside render_json's
    document: :func:`result_to_dict` returns plain data.
    """

    __slots__ = ("_write",)

    def __init__(self, records: Iterable[Any], write: Callable[[Any, str], str]) -> None:
        super().__init__(records)
        self._write = write

    def json_lines(self, indent: str) -> str:
        inner = indent + "  "
        write = self._write
        items = (",\n" + inner).join([write(record, inner) for record in self])
        return "[\n" + inner + items + "\n" + indent + "]"


# Arrays that write themselves (``json_lines``); :func:`_encode` checks emptiness first.
_WRITES_ITSELF = (_DailySeries, _RecordsText)


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
        if kind in _WRITES_ITSELF:
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
    return _document(result, records_as_text=False)


def _document(result: AuditResult, *, records_as_text: bool) -> dict[str, Any]:
    """The top-level document; keys and findings as data or as :class:`_RecordsText`."""
    from keyscope.model import FINGERPRINT_VERSION

    operation_ids = dict(result.operation_ids)
    keys: list[Any]
    findings: list[Any]
    resolved_findings: list[Any]
    carried_findings: list[Any]
    if records_as_text:
        writer = _RecordWriter(operation_ids)
        keys = _RecordsText(result.keys, writer.key)
        findings = _RecordsText(result.findings, writer.finding)
        resolved_findings = _RecordsText(result.resolved_findings, writer.finding)
        carried_findings = _RecordsText(result.carried_findings, writer.finding)
    else:
        keys = [_key(audit, operation_ids) for audit in result.keys]
        findings = [_finding(finding) for finding in result.findings]
        resolved_findings = [_finding(finding) for finding in result.resolved_findings]
        carried_findings = [_finding(finding) for finding in result.carried_findings]
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
        "keys": keys,
        "findings": findings,
        "resolved_findings": resolved_findings,
        "carried_findings": carried_findings,
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
        "replay": _replay_summary(result.replay_totals),
    }


def _replay_summary(totals: ReplayTotals) -> dict[str, int]:
    return {
        "keys": totals.keys,
        "requests": totals.requests,
        "would_fail": totals.would_fail,
        "keys_with_failures": totals.keys_with_failures,
        "unreplayable": totals.unreplayable,
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


# --------------------------------------------------------------------- records as text
#
# render_json writes keys and findings without building their dictionaries.  Each writer
# below is one template: members one a line in the sorted order dumps puts them in, each
# value written the way _encode writes it (_scalar for plain values, arrays of plain
# values on one line, arrays of objects one item a line, [] for an empty array).
# tests/report/test_json_report.py checks the whole text against
# dumps(result_to_dict(...)) on results that fill every member.


def _plain_array(values: Iterable[Any]) -> str:
    """An array of plain values on one line."""
    texts = [_scalar(value) for value in values]
    return "[" + ", ".join(texts) + "]" if texts else "[]"


def _object_array(items: list[str], indent: str) -> str:
    """An array at ``indent`` of objects already written at ``indent + '  '``."""
    if not items:
        return "[]"
    inner = indent + "  "
    return "[\n" + inner + (",\n" + inner).join(items) + "\n" + indent + "]"


def _utc_time_text(moment: datetime) -> str:
    """``_quote(_time(moment))`` for a UTC datetime, at about two thirds of the cost."""
    if moment.microsecond:
        return _quote(_time(moment))
    # isoformat asks the zone for its offset, which _time then cuts off again; with whole
    # seconds the same digits come straight from the fields (and need no escaping).
    return '"%04d-%02d-%02dT%02d:%02d:%02dZ"' % (  # noqa: UP031 - faster than f"{:02d}"
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


class _RecordWriter:
    """Writes one result's keys and findings as JSON text, for :func:`render_json`.

    ``indent`` is always the indent of the object's braces; members go two spaces deeper.
    The writer remembers the text of each UTC time, operation and daily row it has
    written, which a report repeats a lot: an evidence row's first and last request are
    those of one of its operations, a few dozen operations recur in every key, and a
    thousand keys' daily series hold a few thousand distinct (day, count) pairs.
    """

    def __init__(self, operation_ids: dict[str, str]) -> None:
        self._operation_ids = operation_ids
        self._times: dict[datetime, str] = {}
        self._operations: dict[str, tuple[str, str]] = {}
        self._daily_rows: dict[tuple[date, int], str] = {}

    def _time(self, moment: datetime | None) -> str:
        """The JSON text of ``_time(moment)``: a quoted UTC time, or ``null``."""
        # Only exact UTC datetimes are remembered: equal datetimes in another zone (or
        # with another ``fold``) can be other instants, and _time converts those anyway.
        if type(moment) is not datetime or moment.tzinfo is not UTC:
            return _scalar(_time(moment))
        text = self._times.get(moment)
        if text is None:
            text = self._times[moment] = _utc_time_text(moment)
        return text

    def _daily(self, daily: Iterable[tuple[date, int]], indent: str) -> str:
        """A key's daily series, as :meth:`_DailySeries.json_lines` writes it."""
        # Keys x days rows, but few distinct (day, count) pairs: each is written once.
        known = self._daily_rows
        rows = []
        for pair in daily:
            row = known.get(pair)
            if row is None:
                day, count = pair
                row = known[pair] = f"[{_quote(_day(day))}, {int.__repr__(count)}]"
            rows.append(row)
        return _object_array(rows, indent)

    def key(self, audit: KeyAudit, indent: str) -> str:
        """One entry of ``keys`` (the text of :func:`_key`)."""
        key = audit.key
        i = indent + "  "  # the members'
        item = i + "  "  # the objects' inside the members' arrays
        evidence = [self._evidence(evidence, item) for evidence in audit.evidence]
        excess = [self._excess(excess, item) for excess in audit.excess]
        denied = [self._denied(row, item) for row in audit.denied]
        unmatched = [self._unmatched(row, item) for row in audit.unmatched]
        findings = [self.finding(finding, item) for finding in audit.findings]
        return (
            f'{{\n{i}"assigned_scopes": {_plain_array(sorted(audit.assigned_scopes))},'
            f'\n{i}"blast_radius": {{'
            f'\n{item}"after": {self._radius(audit.after, item)},'
            f'\n{item}"before": {self._radius(audit.before, item)}'
            f"\n{i}}},"
            f'\n{i}"capture": {_scalar(audit.capture)},'
            f'\n{i}"confidence": {_scalar(audit.confidence)},'
            f'\n{i}"confidence_reasons": {_plain_array(audit.confidence_reasons)},'
            f'\n{i}"created_at": {self._time(key.created_at)},'
            f'\n{i}"daily": {self._daily(audit.daily, i)},'
            f'\n{i}"denied": {_object_array(denied, i)},'
            f'\n{i}"environment": {_scalar(key.environment)},'
            f'\n{i}"evidence": {_object_array(evidence, i)},'
            f'\n{i}"excess": {_object_array(excess, i)},'
            f'\n{i}"excess_scopes": {_plain_array(sorted(audit.excess_scopes))},'
            f'\n{i}"findings": {_object_array(findings, i)},'
            f'\n{i}"full_access": {_scalar(key.full_access)},'
            f'\n{i}"granted_scopes": {_plain_array(sorted(audit.granted_scopes))},'
            f'\n{i}"id": {_scalar(key.key_id)},'
            f'\n{i}"last_seen": {self._time(audit.last_seen)},'
            f'\n{i}"last_used_at": {self._time(key.last_used_at)},'
            f'\n{i}"missing_scopes": {_plain_array(sorted(audit.missing_scopes))},'
            f'\n{i}"name": {_scalar(key.name)},'
            f'\n{i}"owner": {_scalar(key.owner)},'
            f'\n{i}"redacted_fields": {_plain_array(key.redacted_fields)},'
            f'\n{i}"replay": {self._replay(audit.replay, i)},'
            f'\n{i}"requests": {_scalar(audit.requests)},'
            f'\n{i}"risk_score": {_scalar(audit.before.risk_score)},'
            f'\n{i}"risk_score_after": {_scalar(audit.after.risk_score)},'
            f'\n{i}"source": {_scalar(key.source)},'
            f'\n{i}"status": {_scalar(key.status)},'
            f'\n{i}"suggested_scopes": {_plain_array(sorted(audit.suggested_scopes))},'
            f'\n{i}"unmatched": {_object_array(unmatched, i)},'
            f'\n{i}"used_scopes": {_plain_array(sorted(audit.used_scopes))}'
            f"\n{indent}}}"
        )

    def _radius(self, radius: BlastRadius, indent: str) -> str:
        i = indent + "  "
        return (
            f'{{\n{i}"operations": {_scalar(radius.operations)},'
            f'\n{i}"risk_score": {_scalar(radius.risk_score)},'
            f'\n{i}"sensitive_operations": {_scalar(radius.sensitive_operations)}'
            f"\n{indent}}}"
        )

    def _evidence(self, evidence: ScopeEvidence, indent: str) -> str:
        i = indent + "  "
        operations = [self._operation_use(use, i + "  ") for use in evidence.operations]
        return (
            f'{{\n{i}"first_seen": {self._time(evidence.first_seen)},'
            f'\n{i}"last_seen": {self._time(evidence.last_seen)},'
            f'\n{i}"operations": {_object_array(operations, i)},'
            f'\n{i}"requests": {_scalar(evidence.count)},'
            f'\n{i}"scope": {_scalar(evidence.scope)}'
            f"\n{indent}}}"
        )

    def _operation_use(self, use: OperationUse, indent: str) -> str:
        i = indent + "  "
        operation = self._operations.get(use.operation)
        if operation is None:
            operation = self._operations[use.operation] = (
                _scalar(use.operation),
                _scalar(self._operation_ids.get(use.operation)),
            )
        return (
            f'{{\n{i}"count": {_scalar(use.count)},'
            f'\n{i}"first_seen": {self._time(use.first_seen)},'
            f'\n{i}"last_seen": {self._time(use.last_seen)},'
            f'\n{i}"operation": {operation[0]},'
            f'\n{i}"operation_id": {operation[1]}'
            f"\n{indent}}}"
        )

    def _excess(self, excess: ExcessScope, indent: str) -> str:
        i = indent + "  "
        return (
            f'{{\n{i}"scope": {_scalar(excess.scope)},'
            f'\n{i}"unlocks_never_called": {_plain_array(excess.unlocks_never_called)}'
            f"\n{indent}}}"
        )

    def _denied(self, denied: DeniedRequests, indent: str) -> str:
        i = indent + "  "
        needed = [_plain_array(alternative) for alternative in denied.needed]
        return (
            f'{{\n{i}"count": {_scalar(denied.count)},'
            f'\n{i}"first_seen": {self._time(denied.first_seen)},'
            f'\n{i}"last_seen": {self._time(denied.last_seen)},'
            f'\n{i}"method": {_scalar(denied.method)},'
            f'\n{i}"needed": {_object_array(needed, i)},'
            f'\n{i}"operation": {_scalar(denied.operation)},'
            f'\n{i}"path": {_scalar(denied.path)}'
            f"\n{indent}}}"
        )

    def _unmatched(self, row: UsageRow, indent: str) -> str:
        i = indent + "  "
        return (
            f'{{\n{i}"count": {_scalar(row.count)},'
            f'\n{i}"first_seen": {self._time(row.first_seen)},'
            f'\n{i}"last_seen": {self._time(row.last_seen)},'
            f'\n{i}"method": {_scalar(row.method)},'
            f'\n{i}"path": {_scalar(row.path)},'
            f'\n{i}"status_class": {_scalar(row.status_class)}'
            f"\n{indent}}}"
        )

    def _replay(self, replay: Replay | None, indent: str) -> str:
        if replay is None:
            return "null"
        i = indent + "  "
        failing = [self._operation_use(use, i + "  ") for use in replay.failing_operations]
        return (
            f'{{\n{i}"failing_operations": {_object_array(failing, i)},'
            f'\n{i}"requests": {_scalar(replay.requests)},'
            f'\n{i}"unreplayable": {_scalar(replay.unreplayable)},'
            f'\n{i}"would_fail": {_scalar(replay.would_fail)}'
            f"\n{indent}}}"
        )

    def finding(self, finding: Finding, indent: str) -> str:
        """One finding (the text of :func:`_finding`)."""
        i = indent + "  "
        suppression = self._suppression(finding.suppression, i) if finding.suppression else "null"
        return (
            f'{{\n{i}"baseline_state": {_scalar(finding.baseline_state)},'
            f'\n{i}"fingerprint": {_scalar(finding.fingerprint)},'
            f'\n{i}"key_id": {_scalar(finding.key_id)},'
            f'\n{i}"message": {_scalar(finding.message)},'
            f'\n{i}"rule": {_scalar(finding.rule)},'
            f'\n{i}"severity": {_scalar(finding.severity)},'
            f'\n{i}"subject": {_scalar(finding.subject)},'
            f'\n{i}"suppressed": {_scalar(finding.suppressed)},'
            f'\n{i}"suppression": {suppression}'
            f"\n{indent}}}"
        )

    def _suppression(self, entry: Suppression, indent: str) -> str:
        i = indent + "  "
        return (
            f'{{\n{i}"expires": {_scalar(_day(entry.expires))},'
            f'\n{i}"key_id": {_scalar(entry.key_id)},'
            f'\n{i}"owner": {_scalar(redact(entry.owner))},'
            f'\n{i}"reason": {_scalar(redact(entry.reason))},'
            f'\n{i}"rule": {_scalar(entry.rule)},'
            f'\n{i}"scope": {_scalar(entry.scope)},'
            f'\n{i}"source": {_scalar(entry.source)}'
            f"\n{indent}}}"
        )
