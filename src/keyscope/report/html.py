"""The HTML report: one self-contained file a reviewer opens, filters and prints.

Design, driven by the 10,000-key budget (under 10 MB, rendered in under 3 s, open in
a browser in under 2 s; see ``bench/bench_html.py``):

- Everything a reader needs without scripts is rendered as HTML: the summary, the
  keys table (scopes as chips, excess ones struck through, and each active key's
  suggested scopes as text), the migration plans, anomalies, data quality, the
  suppressions register, the baseline difference, the trend and the manifest.
- The per-key detail (scope picker grid, evidence, excess scopes, denied requests,
  blast radius, request chart) is built by the page's script from one compact JSON
  blob, when the reviewer opens a key.  Rendering it as HTML for every key would be
  five to ten times larger (``bench_html.py`` measures that baseline).
- No external anything: inline CSS and SVG, a Content-Security-Policy that allows
  only the report's own style and script (by hash), no network.  The script uses
  ``textContent`` and ``createElement`` only, never ``innerHTML``.
- Deterministic: no clock, no randomness, every list sorted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from keyscope.analysis import whatif
from keyscope.model import (
    FINGERPRINT_VERSION,
    RISK_BANDS,
    SCHEMA_VERSION,
    SEVERITIES,
    AuditResult,
    Finding,
    KeyAudit,
    risk_band,
    severity_rank,
)
from keyscope.report import _view
from keyscope.report.templates import csp_hash, environment

__all__ = ["render_html", "report_context"]

_SCRIPT = "report.js"
_CHIP_GLYPHS = {"used": "✓", "unused": "✗", "missing": "+"}
"""The glyph tells what the key did with a scope: used it, did not, or was refused it."""
_CHIP_ELEMENTS = {"used": "b", "unused": "i", "missing": "u"}
"""The element tells the audit's verdict: ``<s>`` (struck through) for an excess scope,
the suggestion drops it; otherwise ``<b>`` used, ``<i>`` kept though not used (not
enough data, or revoked: not judged), ``<u>`` missing.  Told by glyph, border and
strike-through, not by colour alone; short elements keep 10,000 rows small."""
_STYLE = "report.css"


def render_html(result: AuditResult) -> str:
    """Render the HTML report of one audit result.

    Args:
        result: The (triaged) audit result.

    Returns:
        The complete HTML document.
    """
    template = environment().get_template("report.html.j2")
    with _view.gc_paused():
        return template.render(**report_context(result))


_CLEANED: dict[tuple[str, int], str] = {}
"""Cleaned text of the render in progress: scope names, rules and messages repeat
across thousands of keys.  Emptied after every render, so nothing outlives it."""


def clean(text: str, limit: int = _view.TEXT_LIMIT) -> str:
    """:func:`keyscope.report._view.clean`, remembered for the render in progress."""
    if len(text) > 512:
        return _view.clean(text, limit)  # rare and large: not worth keeping
    key = (text, limit)
    cleaned = _CLEANED.get(key)
    if cleaned is None:
        cleaned = _CLEANED[key] = _view.clean(text, limit)
    return cleaned


def report_context(result: AuditResult) -> dict[str, Any]:
    """Everything the template reads, all untrusted text already cleaned."""
    try:
        return _context(result)
    finally:
        _CLEANED.clear()


def _context(result: AuditResult) -> dict[str, Any]:
    names = {audit.key.key_id: clean(audit.key.name, _view.NAME_LIMIT) for audit in result.keys}
    universe = _scope_universe(result)
    grid_rows, other_scopes = _grid(universe)
    scope_index = {name: index for index, name in enumerate(universe)}
    operation_names = _operations(result)
    operation_index = {name: index for index, name in enumerate(operation_names)}
    window_start = result.window.start.date()
    rows = [_row(index, audit) for index, audit in enumerate(result.keys)]
    strings = _Strings()
    details = [
        _detail(audit, scope_index, operation_index, window_start, result.window.days, strings)
        for audit in result.keys
    ]
    data = {
        "bands": [[band, lowest] for band, lowest in RISK_BANDS],
        "severities": list(SEVERITIES),
        "text": strings.values,
        "scopes": [clean(name, 200) for name in universe],
        "grid": grid_rows,
        "other": [scope_index[name] for name in other_scopes],
        "ops": [clean(name, 300) for name in operation_names],
        "start": window_start.isoformat(),
        "days": result.window.days,
        "keys": details,
    }
    return {
        "csp_script": csp_hash(_SCRIPT),
        "csp_style": csp_hash(_STYLE),
        "result": result,
        "spec": _spec(result),
        "title": f"keyscope audit: {clean(result.spec.title, 120)}",
        "as_of": _view.minute(result.as_of),
        "window": {
            "start": _view.day(result.window.start),
            "end": _view.last_day(result.window),
            "days": result.window.days,
        },
        "complete": result.complete,
        "incomplete_reasons": [clean(reason) for reason in result.incomplete_reasons],
        "suppression_warnings": [clean(text, 600) for text in result.suppression_warnings],
        "summary": _view.summary(result),
        "severities": SEVERITIES,
        "bands": _view.BAND_NAMES,
        "rows": rows,
        "migrations": _migrations(result),
        "dual_run_days": _view.DUAL_RUN_DAYS,
        "time_box": _view.dormant_time_box(result.as_of),
        "anomalies": _anomalies(result),
        "quality": _quality(result, names),
        "register": _view.register(result),
        "baseline": _baseline(result, names),
        "trend": _trend(result),
        "data": data,
        "versions": {"schema": SCHEMA_VERSION, "fingerprint": FINGERPRINT_VERSION},
    }


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One row of the keys table (attributes, not a dict: Jinja reads them faster)."""

    index: int
    key_id: str
    name: str
    revoked: bool
    full_access: bool
    chips: tuple[tuple[str, str, str], ...]
    """``(scope, element, glyph)``."""
    unused_count: int
    suggestion: str
    """``Suggested: a, b; excess: c`` as plain text (the template escapes it); empty for
    a revoked key.  Excess scopes already struck through as chips are not repeated."""
    risk: int
    band: str
    confidence: str
    last_seen: str
    requests: str
    findings: int
    severity: str


def _row(index: int, audit: KeyAudit) -> KeyRow:
    key = audit.key
    revoked = key.status != "active"
    excess = frozenset() if revoked else audit.excess_scopes  # revoked keys are not judged
    chips = _view.key_chips(audit)
    return KeyRow(
        index=index,
        key_id=clean(key.key_id, _view.NAME_LIMIT),
        name=clean(key.name, _view.NAME_LIMIT),
        revoked=revoked,
        full_access=key.full_access,
        chips=tuple(
            (
                clean(chip.scope, 200),
                "s"
                if chip.state != "missing" and chip.scope in excess
                else _CHIP_ELEMENTS[chip.state],
                _CHIP_GLYPHS[chip.state],
            )
            for chip in chips
        ),
        unused_count=len(audit.granted_scopes - audit.used_scopes) if key.full_access else 0,
        suggestion="" if revoked else _suggestion(audit, {chip.scope for chip in chips}),
        risk=audit.risk_score,
        band="none" if revoked else risk_band(audit.risk_score),
        confidence=audit.confidence,
        last_seen=_view.day(audit.last_seen),
        requests=f"{audit.requests:,}",
        findings=len(_view.active_findings(audit.findings)),
        severity=_view.top_severity(audit.findings),
    )


def _suggestion(audit: KeyAudit, chips: set[str]) -> str:
    """The key's suggested scopes and the excess scopes its chips do not show, as text.

    Without it a reader without JavaScript (or a printout) sees which scopes to drop
    but not what the replacement key needs (``invoices:write`` used only to read
    invoices: ``Suggested: invoices:read``).  A legacy full-access key holds the whole
    catalog, so its lists are told by what they leave out: ``all 16 scopes it holds``,
    ``every other scope (14)``, ``every other scope except checkout:read (13)``.
    """
    suggested = audit.suggested_scopes
    held = whatif.starting_scopes(audit)
    if audit.key.full_access and suggested and suggested == held:
        text = f"Suggested: all {len(held)} scopes it holds"
    else:
        text = "Suggested: " + (_names(suggested) or "none")
    if audit.confidence == "insufficient":
        text += " (not enough data: keeps its grants)"
    unshown = audit.excess_scopes - chips
    if not unshown:
        return text
    others = held - suggested
    if audit.key.full_access and audit.excess_scopes <= others:
        spared = others - audit.excess_scopes
        but = f" except {_names(spared)}" if spared else ""
        return f"{text}; excess: every other scope{but} ({len(audit.excess_scopes)})"
    return f"{text}; excess: {_names(unshown)}"


def _names(scopes: Iterable[str]) -> str:
    return ", ".join(clean(scope, 200) for scope in sorted(scopes))


class _Strings:
    """Interns repeated text (rules, subjects, messages) into one shared list."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        index = self._index.get(text)
        if index is None:
            index = self._index[text] = len(self.values)
            self.values.append(text)
        return index


_LEVELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
"""Chart bar heights, one character a day: ``A`` is no request, ``/`` the busiest day."""


def _daily_levels(daily: Iterable[tuple[date, int]], start: date, days: int) -> tuple[str, int]:
    """A key's requests per day as one character a day (64 levels) and the busiest day's count.

    The chart is 64 pixels tall, so 64 levels lose nothing visible; a day with any
    request gets at least level 1.  Exact counts are in the JSON report.
    """
    counts: dict[int, int] = {}
    for when, count in daily:
        offset = (when - start).days
        if 0 <= offset < days and count > 0:
            counts[offset] = counts.get(offset, 0) + count
    if not counts:
        return "", 0
    busiest = max(counts.values())
    top = len(_LEVELS) - 1
    levels = ["A"] * (max(counts) + 1)  # trailing empty days are left out
    for offset, count in counts.items():
        levels[offset] = _LEVELS[max(1, -(-count * top // busiest))]
    return "".join(levels), busiest


def _detail(
    audit: KeyAudit,
    scope_index: dict[str, int],
    operation_index: dict[str, int],
    window_start: date,
    window_days: int,
    strings: _Strings,
) -> dict[str, Any]:
    """One key's detail, compact: scopes, operations and text as indexes into shared lists,
    days as offsets from the window's start."""

    def scopes(names: Iterable[str]) -> list[int]:
        return sorted(map(scope_index.__getitem__, names))

    def op(name: str | None) -> int:
        return operation_index[name] if name is not None else -1

    start = window_start.toordinal()

    def offset(moment: datetime | None) -> int | None:
        return moment.toordinal() - start if moment is not None else None

    detail: dict[str, Any] = {
        "g": scopes(audit.granted_scopes),
        "u": scopes(audit.used_scopes),
        "s": scopes(audit.suggested_scopes),
        "b": [audit.before.operations, audit.before.sensitive_operations, audit.before.risk_score],
        "a": [audit.after.operations, audit.after.sensitive_operations, audit.after.risk_score],
        "c": audit.confidence,
        "q": audit.requests,
    }
    if audit.last_seen is not None:
        detail["l"] = offset(audit.last_seen)
    if audit.key.full_access:
        detail["fa"] = 1
    if audit.key.status != "active":
        detail["r"] = 1
    if audit.excess_scopes:
        detail["x"] = scopes(audit.excess_scopes)
    kept = whatif.starting_scopes(audit) - audit.suggested_scopes - audit.excess_scopes
    if kept:
        # Held (the key's own list, not the effective grants) and neither suggested nor
        # dropped: the replacement picker keeps it.  Empty for the engine's results.
        detail["k"] = scopes(kept)
    if audit.missing_scopes:
        detail["m"] = scopes(audit.missing_scopes)
    if audit.confidence_reasons:
        detail["cr"] = [strings(clean(reason, 300)) for reason in audit.confidence_reasons]
    if audit.evidence:
        detail["ev"] = [
            [
                scope_index[evidence.scope],
                [
                    [op(use.operation), use.count, offset(use.first_seen), offset(use.last_seen)]
                    for use in sorted(evidence.operations, key=lambda use: use.operation)
                ],
            ]
            for evidence in sorted(audit.evidence, key=lambda evidence: evidence.scope)
        ]
    if audit.excess:
        detail["ex"] = [
            [scope_index[excess.scope], sorted(op(name) for name in excess.unlocks_never_called)]
            for excess in sorted(audit.excess, key=lambda excess: excess.scope)
        ]
    if audit.denied:
        detail["dn"] = [
            [
                strings(f"{clean(denied.method, 12)} {clean(denied.path, 300)}"),
                op(denied.operation),
                denied.count,
                offset(denied.first_seen),
                offset(denied.last_seen),
                [scopes(alternative) for alternative in denied.needed],
            ]
            for denied in sorted(audit.denied, key=lambda d: (d.method, d.path))
        ]
    replay = audit.replay
    if replay is not None and not (
        replay.would_fail or replay.unreplayable or replay.requests != audit.requests
    ):
        detail["rp"] = 1  # the common case: every request replayed, none failed (10,000 keys)
    elif replay is not None:
        detail["rp"] = [
            replay.requests,
            replay.would_fail,
            replay.unreplayable,
            [
                [op(use.operation), use.count, offset(use.first_seen), offset(use.last_seen)]
                for use in replay.failing_operations
            ],
        ]
    if audit.unmatched:
        detail["um"] = [
            [strings(f"{clean(row.method, 12)} {clean(row.path, 300)}"), row.count]
            for row in sorted(audit.unmatched, key=lambda row: (row.method, row.path))
        ]
    if audit.findings:
        detail["f"] = [
            [
                severity_rank(finding.severity),
                strings(clean(finding.rule, 80)),
                strings(clean(finding.subject, 200)),
                strings(clean(finding.message)),
                (1 if finding.baseline_state == "new" else 0) | (2 if finding.suppressed else 0),
            ]
            for finding in _view.sorted_findings(audit.findings)
        ]
    levels, busiest = _daily_levels(audit.daily, window_start, window_days)
    if busiest:
        detail["d"] = levels
        detail["dm"] = busiest
    return detail


def _scope_universe(result: AuditResult) -> list[str]:
    names: set[str] = set()
    for audit in result.keys:
        names |= audit.granted_scopes | audit.used_scopes | audit.suggested_scopes
        names |= audit.missing_scopes | audit.excess_scopes | audit.key.scopes
        names.update(evidence.scope for evidence in audit.evidence)
        names.update(excess.scope for excess in audit.excess)
        for denied in audit.denied:
            for alternative in denied.needed:
                names.update(alternative)
    return sorted(names)


def _grid(universe: list[str]) -> tuple[list[list[Any]], list[str]]:
    """Scope-picker rows ``[label, read index, write index]`` and the scopes that fit none."""
    areas: dict[str, dict[str, int]] = {}
    other: list[str] = []
    for index, name in enumerate(universe):
        parts = _view.scope_parts(name)
        if parts is None:
            other.append(name)
            continue
        areas.setdefault(parts[0], {})[parts[1]] = index
    rows = [
        [clean(_view.area_label(area), 80), cells.get("read", -1), cells.get("write", -1)]
        for area, cells in sorted(areas.items(), key=lambda item: _view.area_label(item[0]))
    ]
    return rows, other


def _operations(result: AuditResult) -> list[str]:
    names: set[str] = set()
    for audit in result.keys:
        for evidence in audit.evidence:
            names.update(use.operation for use in evidence.operations)
        for excess in audit.excess:
            names.update(excess.unlocks_never_called)
        names.update(denied.operation for denied in audit.denied if denied.operation)
        if audit.replay is not None:
            names.update(use.operation for use in audit.replay.failing_operations)
    return sorted(names)


# --------------------------------------------------------------------------- sections


def _spec(result: AuditResult) -> dict[str, Any]:
    spec = result.spec
    return {
        "title": clean(spec.title, 200),
        "version": clean(spec.version, 80),
        "format": clean(spec.format, 80),
        "source": clean(spec.source, 400),
        "sha256": spec.sha256,
        "operations": spec.operations,
        "scopes": spec.scopes,
        "semantics": spec.semantics,
    }


def _migrations(result: AuditResult) -> list[dict[str, Any]]:
    """One plan per active legacy full-access key, by key id."""
    plans = []
    for index, audit in enumerate(result.keys):
        if not (audit.key.full_access and audit.key.status == "active"):
            continue
        suggested = sorted(audit.suggested_scopes)
        plans.append(
            {
                "index": index,
                "key_id": clean(audit.key.key_id, _view.NAME_LIMIT),
                "name": clean(audit.key.name, _view.NAME_LIMIT),
                "owner": clean(audit.key.owner, 120),
                "environment": clean(audit.key.environment, 60),
                "kind": _view.migration_kind(audit),
                "requests": audit.requests,
                "last_seen": _view.day(audit.last_seen),
                "confidence": audit.confidence,
                "reasons": [clean(reason, 300) for reason in audit.confidence_reasons],
                "picker": _picker(suggested),
                "suggested": [clean(scope, 200) for scope in suggested],
                "excess": len(audit.excess_scopes),
                "granted": len(audit.granted_scopes),
                "excess_ratio": round(100 * len(audit.excess_scopes) / len(audit.granted_scopes))
                if audit.granted_scopes
                else 0,
                "before": audit.before.operations,
                "after": audit.after.operations,
                "replay": _view.replay_sentence(audit, result.window.days),
                "replay_failing": [
                    clean(use.operation, 300)
                    for use in (audit.replay.failing_operations if audit.replay else ())
                ][:20],
            }
        )
    return plans


def _picker(scopes: list[str]) -> list[tuple[str, bool, bool]]:
    """Areas with something to tick: ``(label, read ticked, write ticked)``; others as-is."""
    areas: dict[str, set[str]] = {}
    rows: list[tuple[str, bool, bool]] = []
    for name in scopes:
        parts = _view.scope_parts(name)
        if parts is None:
            rows.append((clean(name, 200), False, False))
            continue
        areas.setdefault(parts[0], set()).add(parts[1])
    picked = [
        (clean(_view.area_label(area), 80), "read" in access, "write" in access)
        for area, access in sorted(areas.items(), key=lambda item: _view.area_label(item[0]))
    ]
    return picked + rows


def _anomalies(result: AuditResult) -> dict[str, Any]:
    ordered = sorted(
        result.anomalies,
        key=lambda a: (severity_rank(a.severity), a.rule, a.operation, a.scope, a.message),
    )
    return {
        "total": len(ordered),
        "rows": [
            {
                "severity": anomaly.severity,
                "rule": clean(anomaly.rule, 80),
                "operation": clean(anomaly.operation, 300),
                "scope": clean(anomaly.scope, 200),
                "message": clean(anomaly.message),
            }
            for anomaly in ordered[: _view.LIST_LIMIT]
        ],
    }


def _quality(result: AuditResult, names: dict[str, str]) -> dict[str, Any]:
    quality = result.data_quality
    data_wide = [finding for finding in result.findings if not finding.key_id]
    return {
        "total_lines": quality.total_lines,
        "bad_lines": quality.bad_lines,
        "bad_share": (quality.bad_lines / quality.total_lines) if quality.total_lines else 0.0,
        "examples": [
            {"source": clean(bad.source, 300), "line": bad.line, "reason": clean(bad.reason, 300)}
            for bad in quality.bad_line_examples[:50]
        ],
        "unmatched_requests": quality.unmatched_requests,
        "unmatched_routes": [
            (clean(method, 12), clean(path, 300), count)
            for method, path, count in quality.unmatched_routes[:100]
        ],
        "unmatched_more": max(len(quality.unmatched_routes) - 100, 0),
        "unknown_keys": quality.unknown_keys,
        "unknown_key_ids": [clean(key, 60) for key in quality.unknown_key_ids[:100]],
        "unknown_more": max(len(quality.unknown_key_ids) - 100, 0),
        "coverage_days": quality.coverage_days,
        "window_days": quality.window_days,
        "missing": _view.day_ranges(quality.missing_days),
        "sources": [
            {
                "source": clean(source.source, 300),
                "kind": clean(source.kind, 20),
                "lines": source.lines,
                "bad_lines": source.bad_lines,
                "in_window": source.in_window,
                "out_of_window": source.out_of_window,
                "suspected_duplicates": source.suspected_duplicates,
                # Plain text; the template escapes it.
                "repeats": _view.repeats_sentence(source, lambda name: clean(name, 300)),
            }
            for source in sorted(quality.sources, key=lambda s: (s.source, s.kind))
        ],
        "any_repeats": any(source.suspected_duplicates for source in quality.sources),
        "findings": [_view.finding_row(f, names) for f in _view.sorted_findings(data_wide)],
    }


def _baseline(result: AuditResult, names: dict[str, str]) -> dict[str, Any]:
    new = [f for f in result.findings if f.baseline_state == "new"]
    return {
        "present": bool(result.baseline_source),
        "source": clean(result.baseline_source, 400),
        "new": _capped(new, names),
        "new_total": len(new),
        "resolved": _capped(result.resolved_findings, names),
        "resolved_total": len(result.resolved_findings),
        "carried": _capped(result.carried_findings, names),
        "carried_total": len(result.carried_findings),
        "unchanged_total": sum(1 for f in result.findings if f.baseline_state == "unchanged"),
    }


def _capped(findings: Iterable[Finding], names: dict[str, str]) -> list[dict[str, Any]]:
    ordered = _view.sorted_findings(findings)[: _view.LIST_LIMIT]
    return [_view.finding_row(finding, names) for finding in ordered]


_CHART_WIDTH = 300
_CHART_HEIGHT = 64


def _trend(result: AuditResult) -> dict[str, Any]:
    """Small line charts of the history: points are computed here, drawn as inline SVG."""
    points = sorted(result.history, key=lambda point: point.as_of)
    series = [
        ("Excess scopes", [float(p.excess_scopes) for p in points], "{:.0f}"),
        ("Mean risk", [p.mean_risk for p in points], "{:.1f}"),
        ("Legacy full-access keys", [float(p.legacy_keys) for p in points], "{:.0f}"),
        ("Open findings", [float(p.findings) for p in points], "{:.0f}"),
    ]
    charts = []
    for label, values, shape in series:
        charts.append(
            {
                "label": label,
                "polyline": _polyline(values),
                "dots": _dots(values, [p.complete for p in points]),
                "first": shape.format(values[0]) if values else "",
                "last": shape.format(values[-1]) if values else "",
                "low": shape.format(min(values)) if values else "",
                "high": shape.format(max(values)) if values else "",
            }
        )
    return {
        "points": [
            {
                "as_of": _view.day(p.as_of),
                "excess": p.excess_scopes,
                "risk": f"{p.mean_risk:.1f}",
                "legacy": p.legacy_keys,
                "findings": p.findings,
                "partial": not p.complete,
            }
            for p in points
        ],
        "charts": charts,
        "partial": any(not p.complete for p in points),
        "width": _CHART_WIDTH,
        "height": _CHART_HEIGHT,
    }


def _coordinates(values: list[float]) -> list[tuple[float, float]]:
    if not values:
        return []
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    step = (_CHART_WIDTH - 8) / max(len(values) - 1, 1)
    return [
        (4 + index * step, 4 + (_CHART_HEIGHT - 8) * (1 - (value - low) / spread))
        for index, value in enumerate(values)
    ]


def _polyline(values: list[float]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in _coordinates(values))


def _dots(values: list[float], complete: list[bool]) -> list[tuple[str, str, bool]]:
    """Each point's position, and whether its run had incomplete data (drawn hollow)."""
    return [
        (f"{x:.1f}", f"{y:.1f}", not whole)
        for (x, y), whole in zip(_coordinates(values), complete, strict=True)
    ]
