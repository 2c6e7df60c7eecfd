"""One audit run from settings to result: load every input, analyse, triage.

The CLI (``keyscope audit``), the TUI and scheduled jobs all go through
:func:`run_audit`, so they read the same inputs the same way:

1. the spec (:func:`keyscope.sources.openapi.load_spec` with the settings' reading
   options) and its scope implication graph;
2. the key inventory (:func:`keyscope.sources.keys.load_keys`);
3. the usage in the window ``[as_of - window_days, as_of)``, aggregated by DuckDB
   (:func:`keyscope.sources.usage.load_usage`), every distinct route matched once;
4. the audit (:func:`keyscope.analysis.audit.audit_keys`);
5. triage (:func:`_apply_triage`): suppressions, baseline and history.

``as_of`` defaults to now (UTC, whole seconds).  Nothing here prints: errors are
raised as :mod:`keyscope.errors` exceptions for the caller to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from keyscope.errors import UsageError
from keyscope.settings import MAX_WINDOW_DAYS

if TYPE_CHECKING:
    from keyscope.analysis.audit import AuditOptions
    from keyscope.analysis.scope_graph import ScopeGraph
    from keyscope.model import ApiKey, ApiSpec, AuditResult, UsageData
    from keyscope.settings import Settings

__all__ = ["AuditRun", "audit_options_from", "run_audit"]


@dataclass(frozen=True, slots=True)
class AuditRun:
    """Everything one run loaded and concluded (the TUI keeps it for what-if views)."""

    settings: Settings
    spec: ApiSpec
    graph: ScopeGraph
    keys: tuple[ApiKey, ...]
    usage: UsageData
    result: AuditResult


def audit_options_from(settings: Settings) -> AuditOptions:
    """The :class:`~keyscope.analysis.audit.AuditOptions` the settings ask for."""
    from keyscope import __version__
    from keyscope.analysis.audit import AuditOptions

    return AuditOptions(
        min_key_age_days=settings.min_key_age_days,
        min_coverage=settings.min_coverage,
        risk_weights=dict(settings.risk_weights),
        tool_version=__version__,
        bad_line_threshold=settings.bad_line_threshold,
    )


def run_audit(settings: Settings, *, now: datetime | None = None) -> AuditRun:
    """Load the inputs the settings name, audit every key, apply triage.

    Args:
        settings: Resolved settings (:func:`keyscope.settings.load_settings`).
        now: The moment used when ``settings.as_of`` is unset (tests pass one).

    Returns:
        The inputs and the (triaged) result.

    Raises:
        UsageError: no spec or no key inventory was given.
        SourceError: an input is missing or malformed (one line naming file and place).
    """
    from keyscope.analysis.audit import audit_keys, make_window
    from keyscope.analysis.routes import RouteMatcher
    from keyscope.analysis.scope_graph import build_scope_graph
    from keyscope.model import UsageData
    from keyscope.sources.keys import load_keys
    from keyscope.sources.openapi import load_spec, spec_options_from

    snapshot_reasons: tuple[str, ...] = ()
    if settings.snapshot is not None:
        # A fetched snapshot replaces spec, keys and usage; its gaps make the run incomplete.
        from keyscope.sources.snapshot import settings_for_snapshot

        settings, snapshot_reasons = settings_for_snapshot(settings)
    if settings.spec is None:
        raise UsageError(
            "no API spec given: set spec in keyscope.toml, KEYSCOPE_SPEC, or pass --spec FILE"
        )
    if settings.keys is None:
        raise UsageError(
            "no key inventory given: set keys in keyscope.toml, KEYSCOPE_KEYS, or pass --keys FILE"
        )
    as_of = settings.as_of or (now or datetime.now(UTC)).replace(microsecond=0)
    as_of = as_of.astimezone(UTC)
    if not 1 <= settings.window_days <= MAX_WINDOW_DAYS:
        raise UsageError(f"window_days must be a whole number from 1 to {MAX_WINDOW_DAYS}")
    window = make_window(as_of, settings.window_days)

    spec = load_spec(settings.spec, spec_options_from(settings))
    graph = build_scope_graph(spec)
    keys = load_keys(settings.keys)
    if settings.snapshot is not None:
        # keys.json holds secret-bearing names redacted; the manifest says which they were.
        from keyscope.sources.snapshot import mark_redacted_fields

        keys = mark_redacted_fields(keys, settings.snapshot)
    if settings.usage:
        from keyscope.aggregation import detect_aggregates
        from keyscope.sources.usage import load_usage

        usage = load_usage(
            detect_aggregates(settings.usage),  # --usage agg.parquet needs no kind
            RouteMatcher(spec),
            window_start=window.start,
            window_end=window.end,
            bad_line_threshold=settings.bad_line_threshold,
        )
    else:
        usage = UsageData()
    options = audit_options_from(settings)
    captures = _capture_key_ids(settings)
    if captures:
        from dataclasses import replace as with_captures

        options = with_captures(options, capture_key_ids=captures)
    if snapshot_reasons:
        # The snapshot's gaps make the run incomplete *before* the analysis, so the keys
        # they affect get no removal advice (not only a flag on the result).
        from dataclasses import replace

        options = replace(
            options, incomplete_reasons=(*options.incomplete_reasons, *snapshot_reasons)
        )
    result = audit_keys(spec, graph, keys, usage, as_of=as_of, window=window, options=options)
    result = _apply_triage(result, settings)
    return AuditRun(
        settings=settings, spec=spec, graph=graph, keys=keys, usage=usage, result=result
    )


def _capture_key_ids(settings: Settings) -> frozenset[str]:
    """Key ids the HAR sources count their requests for (``key_id`` or ``har:<stem>``)."""
    from keyscope.sources.har import default_key_id
    from keyscope.sources.usage import detect_kind, expand_source

    ids: set[str] = set()
    for source in settings.usage:
        files = expand_source(source)
        if not any((source.kind or detect_kind(path)) == "har" for path in files):
            continue
        if source.key_id:
            ids.add(source.key_id)
        else:
            ids.update(default_key_id(path) for path in files)
    return frozenset(ids)


def _apply_triage(result: AuditResult, settings: Settings) -> AuditResult:
    """Suppressions, baseline and history (``keyscope.analysis.triage``).

    Suppression expiry is judged on the ``as_of`` day, not the wall clock, so a re-run
    with the same ``--as-of`` gives the same bytes.  The history folder's earlier runs
    (this ``as_of`` excluded) plus this run become ``result.history``; storing this
    run's JSON there is the command's job, with the other outputs.
    """
    from dataclasses import replace

    from keyscope.analysis.triage import (
        apply_baseline,
        apply_suppressions,
        history_point,
        merge_history,
    )

    entries = ()
    if settings.suppressions is not None:
        from keyscope.sources.suppressions import load_suppressions

        entries = load_suppressions(settings.suppressions)
        result = apply_suppressions(result, entries, result.as_of.date())
    if settings.baseline is not None:
        from keyscope.sources.baseline import load_baseline

        result = apply_baseline(result, load_baseline(settings.baseline))
        if result.carried_findings and settings.suppressions is not None:
            # Carried findings came with the baseline's marks: judge them by today's
            # entries (an entry added since applies, an expired one no longer does).
            result = apply_suppressions(result, entries, result.as_of.date())
    if settings.history is not None:
        from keyscope.sources.history import load_history

        earlier = load_history(settings.history, exclude=result.as_of)
        result = replace(result, history=merge_history(earlier, history_point(result)))
    return result
