"""The audit: for every key, what it holds, what it used, what it needs, what is wrong.

:func:`audit_keys` is pure: spec, scope graph, key inventory and aggregated usage in,
one :class:`~keyscope.model.AuditResult` out.  Every reporter and the TUI render that
result; none recomputes any of it.  ``docs/audit.md`` is the user-facing description of
the rules implemented here; keep the two in step.

Per active key:

- **Effective grants**: the key's scopes (every declared catalog scope for a legacy
  full-access key) with implications applied (``graph.expand``).
- **Usage** is successful requests only (status below 400) to operations of the spec.
  401/403 answers are **denied requests**: kept apart with the scopes that would have
  been needed, never counted as use and never added to a suggestion, so a leaked key
  being probed cannot look like use.
- **Suggestion**: the smallest catalog scope set meeting every used operation's
  requirement (:mod:`keyscope.analysis.suggest`), with its evidence per scope.
- **Excess**: the scopes the key holds as granted (the catalog for full access) that
  the suggestion does not keep.  A key holding ``invoices:write`` that only reads
  invoices gets ``invoices:read`` suggested and ``invoices:write`` as excess.
- **Blast radius** and **risk** before (effective grants) and after (the suggestion).
- **Replay** (:mod:`keyscope.analysis.replay`): the window's successful requests
  replayed against the suggestion; would-have-failed requests should be zero, and
  requests whose requirement is unknown are counted apart, never as passing.
- **Confidence** (:data:`CONFIDENCE_RULES` lists every reason).  ``insufficient`` means
  no removal advice at all: the suggestion keeps the grants and no ``unused-scope`` or
  ``dormant-key`` finding is raised.

Revoked keys are listed with their usage and denied requests, never judged or flagged.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter, lt, sub
from typing import NamedTuple, Protocol

from keyscope.analysis.replay import Replayer
from keyscope.analysis.risk import (
    BlastRadiusCalculator,
    infer_access,
    infer_area,
    scope_weights,
)
from keyscope.analysis.suggest import Need, ScopeSolver
from keyscope.gc_pause import gc_paused
from keyscope.model import (
    FINGERPRINT_VERSION,
    ApiKey,
    ApiSpec,
    AuditResult,
    BadLine,
    BlastRadius,
    Confidence,
    DataQuality,
    DeniedRequests,
    ExcessScope,
    Finding,
    KeyAudit,
    Operation,
    OperationUse,
    ScopeEvidence,
    Severity,
    SpecSummary,
    UsageData,
    UsageRow,
    Window,
    severity_rank,
)
from keyscope.redaction import SECRET_FIELD_NAMES, id_label, looks_like_secret, mask_id, redact
from keyscope.settings import DEFAULT_RISK_WEIGHTS
from keyscope.text import SUSPICIOUS

__all__ = [
    "CONFIDENCE_RULES",
    "RULES",
    "AuditOptions",
    "audit_keys",
    "display_key_id",
    "finding_fingerprint",
    "make_window",
    "sort_findings",
]

RULES: Mapping[str, str] = {
    "legacy-full-access": "A legacy key minted before scopes existed holds every scope.",
    "unused-scope": "A granted scope the key's successful usage never needed.",
    "dormant-key": "An active key with no successful request in the window.",
    "denied-requests": "401/403 answers: probing with a leaked key, or an under-scoped key.",
    "spec-runtime-mismatch": (
        "401/403 on an operation the key's grants satisfy per the spec: the spec's scope "
        "tag (or the platform) is wrong."
    ),
    "unknown-scope": "A granted scope the spec does not know (typo, renamed, removed).",
    "unmapped-route": "Successful traffic to a route no spec operation describes.",
    "insufficient-data": "Too little data to judge the key: no removal advice.",
    "secret-in-name": "A free-text field of the inventory held a live-looking secret.",
    "suspicious-key-name": "A key name hides text (bidi controls, zero-width, mixed scripts).",
    "unknown-key-usage": "Requests from a key id absent from the inventory.",
}
"""Every finding rule id with a one-line description (docs/audit.md has the details)."""

CONFIDENCE_RULES: Mapping[str, str] = {
    "insufficient": (
        "key younger than min_key_age_days, created after as_of, data incomplete, "
        "log coverage of the key's observed days below min_coverage, or the inventory "
        "says the key was used in the window while the logs show no successful request"
    ),
    "low": (
        "observed for less than half the window, fewer than low_volume successful "
        "requests, over 5% of successful requests to unmapped routes, periodic usage "
        "the window covers fewer than two periods of, or all use on a single day"
    ),
    "medium": (
        "observed for less than the whole window, fewer than medium_volume requests, "
        "some days without any log data, creation date unknown, some unmapped "
        "successful requests, operations that succeeded without a matching grant, or "
        "usage that looks periodic (every 20 days or more)"
    ),
    "high": "none of the above",
}
"""When each confidence level applies (worst reason wins)."""

_MONEY_AREAS = frozenset({"payouts", "refunds", "payments"})
_REDIRECT_AREAS = frozenset({"webhooks", "checkout"})
_SENSITIVE_WRITE_AREAS = _MONEY_AREAS | _REDIRECT_AREAS
_HIGH_WEIGHT = 15
_MEDIUM_WEIGHT = 6
_UNMATCHED_LOW_FRACTION = 0.05
_MAX_UNMATCHED_PER_KEY = 50
_MAX_DATA_FINDINGS = 100
_LIST_IN_MESSAGE = 5
_CONFIDENCE_ORDER: tuple[Confidence, ...] = ("high", "medium", "low", "insufficient")


class ScopeGraphLike(Protocol):
    """What the audit needs from ``ScopeGraph``."""

    def expand(self, scopes: Iterable[str]) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Thresholds and weights of one audit run (from the settings)."""

    min_key_age_days: int = 30
    """Keys younger than this at ``as_of`` are too new to judge."""
    min_coverage: float = 0.8
    """Fraction of a key's observed days that must have log data for any removal advice."""
    risk_weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RISK_WEIGHTS))
    """Risk points per scope (unnamed scopes get a default from their access)."""
    tool_version: str = ""
    bad_line_threshold: float = 0.01
    """Fraction of unreadable usage lines above which the run is incomplete."""
    low_volume: int = 5
    """Fewer successful requests than this in the window: confidence low."""
    medium_volume: int = 30
    """Fewer successful requests than this in the window: confidence at most medium."""
    incomplete_reasons: tuple[str, ...] = ()
    """Reasons the caller already knows the data is incomplete (e.g. a source failed)."""
    capture_key_ids: frozenset[str] = frozenset()
    """Key ids of HAR captures: when absent from the inventory, their traffic is audited
    as a *capture* (``KeyAudit.capture``) to suggest the scopes a new key would need."""


def make_window(as_of: datetime, days: int) -> Window:
    """The usage window ``[as_of - days, as_of)`` in UTC."""
    end = as_of.astimezone(UTC)
    return Window(start=end - timedelta(days=days), end=end, days=days)


def _unknown_key_label(key_id: str) -> str:
    """An unknown key id as shown and fingerprinted (``redaction.id_label``): masked, it
    may be a pasted secret.  The usage loader already labelled a secret-looking one."""
    return key_id if "\u2026" in key_id else id_label(key_id)


def finding_fingerprint(rule: str, key_id: str, subject: str) -> str:
    """Stable identity of a finding: never names, messages, severities or order.

    ``sha256("<FINGERPRINT_VERSION>\\x1f<rule>\\x1f<key_id>\\x1f<subject>")``, first 16 hex digits.
    """
    payload = "\x1f".join((str(FINGERPRINT_VERSION), rule, key_id, subject))
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Severity (most severe first), rule, key id, subject, fingerprint."""
    if isinstance(findings, list | tuple) and len(findings) < 2:
        return tuple(findings)
    return tuple(
        sorted(
            findings,
            key=lambda f: (severity_rank(f.severity), f.rule, f.key_id, f.subject, f.fingerprint),
        )
    )


def display_key_id(key_id: str) -> str:
    """A key id for messages: as written, unless it looks like a secret (then masked)."""
    return mask_id(key_id) if looks_like_secret(key_id) else key_id


def audit_keys(
    spec: ApiSpec,
    graph: ScopeGraphLike,
    keys: Sequence[ApiKey],
    usage: UsageData,
    *,
    as_of: datetime,
    window: Window,
    options: AuditOptions | None = None,
) -> AuditResult:
    """Audit every key against the spec and its usage in the window.

    Args:
        spec: The API description.
        graph: Scope implication (``build_scope_graph(spec)``).
        keys: The inventory.
        usage: Aggregated usage in the window (rows, daily counts, sources).
        as_of: The end of the window (UTC).
        window: The window (:func:`make_window`).
        options: Thresholds and weights; defaults when None.

    Returns:
        The result, keys sorted by id, findings sorted by severity, rule, key, subject.
    """
    return _Auditor(spec, graph, usage, as_of, window, options or AuditOptions()).run(keys)


# --------------------------------------------------------------------------- internals


class _Facts(NamedTuple):
    """What the finding rules look at for one key (named like ``KeyAudit``'s fields)."""

    key: ApiKey
    granted_scopes: frozenset[str]
    used_scopes: frozenset[str]
    suggested_scopes: frozenset[str]
    excess_scopes: frozenset[str]
    excess: tuple[ExcessScope, ...]
    denied: tuple[DeniedRequests, ...]
    before: BlastRadius
    confidence_reasons: tuple[str, ...]
    requests: int
    unreplayable: int
    """Successful requests whose needs are unknown (``Replay.unreplayable``): the same
    count the plan and the reports go by."""


class _Tally(NamedTuple):
    """One key's usage rows, sorted out: use, denial, unmatched traffic."""

    uses: tuple[OperationUse, ...]
    """Successful requests per spec operation, by operation."""
    called: frozenset[str]
    """The operations of ``uses``."""
    needs: list[Need]
    """Requirements of the used non-public operations (what the suggestion must meet)."""
    denied_groups: dict[tuple[str, str, str | None], list[UsageRow]]
    unmatched: list[UsageRow]
    requests: int
    unmatched_success: int
    last_seen: datetime | None


@dataclass(slots=True)
class _KeyUsage:
    rows: list[UsageRow] = field(default_factory=list)
    daily: list[tuple[date, int]] = field(default_factory=list)


_DAY = itemgetter(0)
_COUNT = itemgetter(1)


def _by_day(daily: list[tuple[date, int]]) -> tuple[tuple[date, int], ...]:
    """Daily counts in day order, one entry a day (loaders usually give exactly that)."""
    days = list(map(_DAY, daily))
    if all(map(lt, days, days[1:])):  # strictly increasing: in order, no day twice
        return tuple(daily)
    merged: dict[date, int] = defaultdict(int)
    for day, count in daily:
        merged[day] += count
    return tuple(sorted(merged.items()))


def _window_days(window: Window) -> list[date]:
    first = window.start.astimezone(UTC).date()
    last = (window.end.astimezone(UTC) - timedelta(microseconds=1)).date()
    if last < first:
        return []
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"


def _short_list(items: Sequence[str], limit: int = _LIST_IN_MESSAGE) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


_SCRIPT_LETTERS = {"LATIN": "L", "CYRILLIC": "C", "GREEK": "G"}
_MIXED_PAIR = re.compile("L[CG]|C[LG]|G[LC]")


def _has_mixed_scripts(text: str) -> bool:
    """A word mixing Latin with Cyrillic or Greek letters ("prod" with a Cyrillic "o").

    A word is a run of letters (``str.isalpha``).  Names are kept whole, so this must
    stay cheap on a 10 MB one: each distinct character's script is looked up once, then
    the text is rewritten in C as one letter per Latin, Cyrillic or Greek letter (``L``,
    ``C``, ``G``; other letters dropped, anything else a space).  A word mixes scripts
    exactly when two different letters of that rewrite touch.
    """
    if text.isascii():
        return False
    table: dict[int, str | None] = {}
    for character in set(text):
        if not character.isalpha():
            table[ord(character)] = " "
            continue
        try:
            script = unicodedata.name(character).split(" ", 1)[0]
        except ValueError:
            script = ""
        table[ord(character)] = _SCRIPT_LETTERS.get(script)  # None: dropped
    if len(set(table.values()) - {" ", None}) < 2:
        return False  # one script at most in the whole text: no word can mix
    return _MIXED_PAIR.search(text.translate(table)) is not None


class _Auditor:
    """One audit run: shared indexes and caches, then one pass per key."""

    def __init__(
        self,
        spec: ApiSpec,
        graph: ScopeGraphLike,
        usage: UsageData,
        as_of: datetime,
        window: Window,
        options: AuditOptions,
    ) -> None:
        self.spec = spec
        self.graph = graph
        self.usage = usage
        self.as_of = as_of.astimezone(UTC)
        self.window = window
        self.options = options
        self.known_scopes = spec.scope_names
        self.scopes_by_name = {scope.name: scope for scope in spec.scopes}
        self.operations: dict[str, Operation] = {op.key: op for op in spec.operations}
        self.needs_of: dict[str, Need] = {
            op.key: op.requirements for op in spec.operations if not op.public
        }
        """What a successful request to each non-public operation asks of a suggestion."""
        self.public_operations = frozenset(op.key for op in spec.operations if op.public)
        self.replayer = Replayer(self.operations)
        self.weights: dict[str, int] = {}
        self.solver: ScopeSolver | None = None
        self.blast: BlastRadiusCalculator | None = None
        self._expand_cache: dict[frozenset[str], frozenset[str]] = {}
        self._provides_cache: dict[str, frozenset[str]] = {}
        self._unlocks_cache: dict[tuple[frozenset[str], str], tuple[str, ...]] = {}
        self._coverage_cache: dict[date, tuple[int, int]] = {}
        self._area_cache: dict[str, tuple[str, str | None]] = {}
        self._unused_verdict_cache: dict[
            tuple[str, tuple[str, ...], tuple[str, ...]], tuple[Severity, str]
        ] = {}
        self._serving_cache: dict[tuple[str, frozenset[str]], frozenset[str] | None] = {}
        self._missing_cache: dict[tuple[str, frozenset[str]], frozenset[str]] = {}
        self._excess_scopes: dict[tuple[str, tuple[str, ...]], ExcessScope] = {}
        self._redacted_paths: dict[str, str] = {}
        # Per suggestion (keys share them): the suggested scopes serving each operation,
        # filled as operations come up.
        self._attribution_tables: dict[frozenset[str], dict[str, tuple[str, ...]]] = {}
        self.operation_order = tuple(op.key for op in spec.operations)
        self.window_days = _window_days(window)
        self.days_with_data = frozenset(usage.days_with_data)

    # ------------------------------------------------------------------ helpers

    def expand(self, scopes: frozenset[str]) -> frozenset[str]:
        cached = self._expand_cache.get(scopes)
        if cached is None:
            cached = frozenset(self.graph.expand(scopes)) | scopes
            self._expand_cache[scopes] = cached
        return cached

    def provides(self, scope: str) -> frozenset[str]:
        """Everything holding ``scope`` grants (itself included)."""
        cached = self._provides_cache.get(scope)
        if cached is None:
            cached = self.expand(frozenset((scope,)))
            self._provides_cache[scope] = cached
        return cached

    def reachable(self, effective: frozenset[str]) -> frozenset[str]:
        assert self.blast is not None
        return self.blast.reachable_keys(effective)

    def unlocks(self, suggested: frozenset[str], scope: str) -> tuple[str, ...]:
        """Operations (spec order) that ``scope`` makes reachable on top of ``suggested``."""
        cache_key = (suggested, scope)
        cached = self._unlocks_cache.get(cache_key)
        if cached is None:
            base = self.reachable(self.expand(suggested))
            wider = self.reachable(self.expand(suggested | {scope}))
            added = wider - base
            cached = tuple(name for name in self.operation_order if name in added)
            self._unlocks_cache[cache_key] = cached
        return cached

    def excess_scope(
        self, scope: str, suggested: frozenset[str], called: frozenset[str]
    ) -> ExcessScope:
        """``scope`` as excess over ``suggested``, with what it unlocks that was never called.

        Few distinct values recur over many keys: they are built once and shared.
        """
        unlocks = self.unlocks(suggested, scope)
        never_called = tuple(name for name in unlocks if name not in called) if unlocks else ()
        cache_key = (scope, never_called)
        cached = self._excess_scopes.get(cache_key)
        if cached is None:
            cached = self._excess_scopes[cache_key] = ExcessScope(scope, never_called)
        return cached

    def coverage(self, start_day: date) -> tuple[int, int]:
        """(window days from ``start_day`` on, how many of them have any log data)."""
        cached = self._coverage_cache.get(start_day)
        if cached is None:
            days = [day for day in self.window_days if day >= start_day]
            cached = (len(days), sum(1 for day in days if day in self.days_with_data))
            self._coverage_cache[start_day] = cached
        return cached

    def serving_alternative(
        self, operation: Operation, held: frozenset[str]
    ) -> frozenset[str] | None:
        """The lightest alternative of ``operation`` inside ``held`` (a closure), or None."""
        if len(operation.requirements) == 1:
            only_one = operation.requirements[0]
            return only_one if only_one <= held else None
        cache_key = (operation.key, held)
        if cache_key in self._serving_cache:
            return self._serving_cache[cache_key]
        met = [alt for alt in operation.requirements if alt <= held]
        chosen = min(met, key=self.alternative_order) if met else None
        self._serving_cache[cache_key] = chosen
        return chosen

    def attribution(self, operation: Operation, suggested: frozenset[str]) -> tuple[str, ...]:
        """The suggested scopes that serve ``operation`` (for the evidence)."""
        if operation.public or not operation.requirements:
            return ()
        alternative = self.serving_alternative(operation, self.expand(suggested))
        serving: set[str] = set()
        for required in alternative or ():
            serving |= {s for s in suggested if required in self.provides(s)}
        return tuple(sorted(serving))

    def redacted(self, path: str) -> str:
        """``redact(path)``, memoized: the same routes come up for many keys."""
        cached = self._redacted_paths.get(path)
        if cached is None:
            cached = self._redacted_paths[path] = redact(path)
        return cached

    def weight(self, scope: str) -> int:
        return self.weights.get(scope, 0)

    def area_access(self, scope: str) -> tuple[str, str | None]:
        cached = self._area_cache.get(scope)
        if cached is None:
            known = self.scopes_by_name.get(scope)
            area = (known.area if known and known.area else infer_area(scope)).lower()
            access = (known.access if known and known.access else None) or infer_access(scope)
            cached = self._area_cache[scope] = (area, access)
        return cached

    def is_money_movement(self, scope: str) -> bool:
        area, access = self.area_access(scope)
        return area in _MONEY_AREAS and access == "write"

    def finding(
        self, rule: str, severity: Severity, key_id: str, subject: str, message: str
    ) -> Finding:
        fingerprint = finding_fingerprint(rule, key_id, subject)
        return Finding(rule, severity, key_id, subject, message, fingerprint)

    def alternative_order(self, alternative: frozenset[str]) -> tuple[int, int, tuple[str, ...]]:
        return (
            len(alternative),
            sum(self.weight(s) for s in alternative),
            tuple(sorted(alternative)),
        )

    # ------------------------------------------------------------------ run

    def _uncertain_held(self, called: frozenset[str], held: frozenset[str]) -> frozenset[str]:
        """Scopes ``held`` that a called operation lists in a mixed list (``mixed-scope-list``):
        kept, since the platform may need them together."""
        kept: set[str] = set()
        for key in called:
            operation = self.operations.get(key)
            if operation is not None and operation.uncertain_scopes:
                kept |= operation.uncertain_scopes & held
        return frozenset(kept)

    def _operations_naming(self) -> dict[str, int]:
        """How many operations name each scope in their requirements: the suggestion's
        tie-break after risk, so of two equally small, equally risky answers the one
        reaching fewer operations wins."""
        counts: dict[str, int] = defaultdict(int)
        for operation in self.spec.operations:
            for scope in {s for alternative in operation.requirements for s in alternative}:
                counts[scope] += 1
        return dict(counts)

    def run(self, keys: Sequence[ApiKey]) -> AuditResult:
        with gc_paused():
            return self._run(keys)

    def _run(self, keys: Sequence[ApiKey]) -> AuditResult:
        granted_names = {scope for key in keys for scope in key.scopes}
        self.weights = scope_weights(
            self.spec.scopes, self.options.risk_weights, sorted(granted_names)
        )
        self.solver = ScopeSolver(
            self.graph, self.weights, self.known_scopes, mentions=self._operations_naming()
        )
        self.blast = BlastRadiusCalculator(self.spec, self.weights)

        by_key: dict[str, _KeyUsage] = defaultdict(_KeyUsage)
        for row in self.usage.rows:
            by_key[row.key_id].rows.append(row)
        for daily in self.usage.daily:
            if daily.success:
                by_key[daily.key_id].daily.append((daily.day, daily.success))

        complete, incomplete_reasons, coverage_days, missing_days = self._completeness()
        known_ids = {key.key_id for key in keys}
        captures = sorted(
            key_id
            for key_id in self.options.capture_key_ids - known_ids
            if key_id in by_key and by_key[key_id].rows
        )
        audits = [
            self._audit_key(
                key, by_key.get(key.key_id) or _KeyUsage(), complete, incomplete_reasons
            )
            for key in sorted(keys, key=lambda key: key.key_id)
        ]
        audits += [self._audit_capture(key_id, by_key[key_id]) for key_id in captures]
        audits.sort(key=lambda audit: audit.key.key_id)
        known_ids |= set(captures)
        data_findings, quality = self._data_quality(by_key, known_ids, coverage_days, missing_days)
        findings = sort_findings(
            [finding for audit in audits for finding in audit.findings] + data_findings
        )
        return AuditResult(
            tool_version=self.options.tool_version,
            as_of=self.as_of,
            window=self.window,
            complete=complete,
            incomplete_reasons=incomplete_reasons,
            spec=SpecSummary.of(self.spec),
            keys=tuple(audits),
            findings=findings,
            data_quality=quality,
            operation_ids=tuple(
                sorted((op.key, op.operation_id) for op in self.spec.operations if op.operation_id)
            ),
            anomalies=tuple(
                sorted(
                    self.spec.anomalies,
                    key=lambda a: (
                        severity_rank(a.severity),
                        a.rule,
                        a.operation,
                        a.scope,
                        a.message,
                    ),
                )
            ),
        )

    def _completeness(self) -> tuple[bool, tuple[str, ...], int, tuple[date, ...]]:
        usage = self.usage
        reasons = list(dict.fromkeys((*self.options.incomplete_reasons, *usage.incomplete_reasons)))
        if not usage.sources:
            reasons.append("no usage data was read: give request logs with --usage or [[usage]]")
        total, bad = usage.total_lines, usage.bad_lines
        # The usage loader judges each source against the threshold; data built
        # without it (tests, benchmarks, other adapters) is judged here as a whole.
        if not usage.incomplete_reasons and total and bad / total > self.options.bad_line_threshold:
            reasons.append(
                f"{bad:,} of {total:,} usage lines could not be read "
                f"({bad / total:.1%}, above the {self.options.bad_line_threshold:.1%} threshold)"
            )
        covered = [day for day in self.window_days if day in self.days_with_data]
        missing = tuple(day for day in self.window_days if day not in self.days_with_data)
        if usage.sources and self.window_days:
            fraction = len(covered) / len(self.window_days)
            if fraction < self.options.min_coverage:
                reasons.append(
                    f"the logs cover {len(covered)} of {len(self.window_days)} window days "
                    f"({fraction:.0%}, below min_coverage {self.options.min_coverage:.0%})"
                )
        return not reasons, tuple(reasons), len(covered), missing

    # ------------------------------------------------------------------ one key

    def _audit_key(
        self, key: ApiKey, usage: _KeyUsage, complete: bool, incomplete_reasons: tuple[str, ...]
    ) -> KeyAudit:
        as_listed = self.spec.full_access_scopes if key.full_access else key.scopes
        effective = self.expand(frozenset(as_listed))

        tally = self._tally(usage)
        uses, needs, unmatched = tally.uses, tally.needs, tally.unmatched
        requests, last_seen = tally.requests, tally.last_seen
        denied = self._denied(tally.denied_groups, effective)
        missing = self._missing_scopes(denied, effective)
        daily = _by_day(usage.daily)

        if key.status == "revoked":
            return self._revoked(key, as_listed, effective, uses, denied, missing, unmatched,
                                 requests, last_seen, daily)  # fmt: skip

        confidence, reasons, insufficient = self._confidence(
            key, requests, tally.unmatched_success, tally.called, effective, daily, complete,
            incomplete_reasons,
        )  # fmt: skip
        assert self.solver is not None and self.blast is not None
        if insufficient:
            suggested = frozenset(as_listed)
        else:
            solved = self.solver.solve(needs, within=effective)
            suggested = solved.scopes
            if not solved.exact:
                reasons.append(
                    "the catalog is too large for the exact search: the suggestion comes from "
                    "the greedy one (it covers every use but may not be the smallest)"
                )
            if solved.unsatisfiable:
                reasons.append(
                    f"{_plural(len(solved.unsatisfiable), 'used operation')} need scopes no "
                    "catalog scope provides; those grants are kept"
                )
                kept = {s for need in solved.unsatisfiable for alt in need for s in alt}
                suggested = suggested | (frozenset(as_listed) & kept)
            uncertain = self._uncertain_held(tally.called, frozenset(as_listed)) - suggested
            if uncertain:
                reasons.append(
                    f"kept {', '.join(sorted(uncertain))}: the spec lists "
                    f"{'it' if len(uncertain) == 1 else 'them'} among alternatives that are not "
                    "all variants of one another (mixed-scope-list), so the reading may be wrong"
                )
                suggested = suggested | uncertain
        suggested_effective = self.expand(suggested)
        excess_names = frozenset() if insufficient else frozenset(as_listed) - suggested
        excess = tuple(
            self.excess_scope(scope, suggested, tally.called) for scope in sorted(excess_names)
        )
        evidence = self._evidence(uses, suggested)
        used_scopes = self._used_scopes(uses, effective, suggested_effective)
        before = self.blast.measure(effective)
        after = self.blast.measure(suggested_effective)
        replay = self.replayer.replay(uses, suggested_effective, requests)

        facts = _Facts(
            key=key,
            granted_scopes=effective,
            used_scopes=used_scopes,
            suggested_scopes=suggested,
            excess_scopes=excess_names,
            excess=excess,
            denied=denied,
            before=before,
            confidence_reasons=tuple(reasons),
            requests=requests,
            unreplayable=replay.unreplayable,
        )
        return KeyAudit(
            key=key,
            granted_scopes=effective,
            used_scopes=used_scopes,
            suggested_scopes=suggested,
            excess_scopes=excess_names,
            missing_scopes=missing,
            evidence=evidence,
            excess=excess,
            denied=denied,
            unmatched=self._top_unmatched(unmatched),
            before=before,
            after=after,
            confidence=confidence,
            confidence_reasons=facts.confidence_reasons,
            findings=sort_findings(self._key_findings(facts, insufficient, as_listed)),
            requests=requests,
            last_seen=last_seen,
            daily=daily,
            assigned_scopes=frozenset(as_listed),
            replay=replay,
        )

    def _tally(self, usage: _KeyUsage) -> _Tally:
        # An operation's successful requests usually sit in one row (one route, one status
        # class): keep that row and total the rare repeats at the end, so the common case
        # allocates nothing per row.
        first_rows: dict[str, UsageRow] = {}
        repeated_rows: dict[str, list[UsageRow]] = {}
        denied_groups: dict[tuple[str, str, str | None], list[UsageRow]] = defaultdict(list)
        unmatched: list[UsageRow] = []
        requests = unmatched_success = 0
        last_seen: datetime | None = None
        operations = self.operations
        for row in usage.rows:
            operation = row.operation
            if operation is None:
                unmatched.append(row)
            status_class = row.status_class
            if status_class == "success":
                requests += row.count
                if last_seen is None or row.last_seen > last_seen:
                    last_seen = row.last_seen
                if operation is None:
                    unmatched_success += row.count
                elif operation in operations:
                    if operation not in first_rows:
                        first_rows[operation] = row
                    else:
                        repeated_rows.setdefault(operation, []).append(row)
            elif status_class == "denied":
                denied_groups[(row.method, self.redacted(row.path), operation)].append(row)
        uses = [
            OperationUse(name, row.count, row.first_seen, row.last_seen)
            if name not in repeated_rows
            else self._total_use(name, row, repeated_rows[name])
            for name, row in sorted(first_rows.items(), key=itemgetter(0))
        ]
        needs_of = self.needs_of
        return _Tally(
            tuple(uses),
            frozenset(first_rows),
            [needs_of[name] for name in first_rows if name in needs_of],
            denied_groups,
            unmatched,
            requests,
            unmatched_success,
            last_seen,
        )

    @staticmethod
    def _total_use(operation: str, first: UsageRow, repeats: list[UsageRow]) -> OperationUse:
        """One operation's successful requests over several rows (in row order)."""
        count, first_seen, last_seen = first.count, first.first_seen, first.last_seen
        for row in repeats:
            count += row.count
            if row.first_seen < first_seen:
                first_seen = row.first_seen
            if row.last_seen > last_seen:
                last_seen = row.last_seen
        return OperationUse(operation, count, first_seen, last_seen)

    def _audit_capture(self, key_id: str, usage: _KeyUsage) -> KeyAudit:
        """A HAR capture: the scopes a new key needs for this traffic, with evidence.

        Window coverage and key age do not apply to a capture (it is a sample of one
        integration's traffic, not a key observed over time); volume and unmapped
        routes still lower confidence.  No findings: nothing is granted yet.
        """
        assert self.solver is not None and self.blast is not None
        key = ApiKey(key_id=key_id, name=f"HAR capture {key_id.removeprefix('har:')}",
                     source="capture")  # fmt: skip
        tally = self._tally(usage)
        uses, needs, requests = tally.uses, tally.needs, tally.requests
        unmatched_success = tally.unmatched_success
        solved = self.solver.solve(needs)
        suggested = solved.scopes
        reasons = ["a HAR capture, not an inventory key: the suggestion is what a new key needs"]
        level = 0
        if requests < self.options.low_volume:
            level = 2
            reasons.append(f"only {_plural(requests, 'successful request')} in the capture")
        elif requests < self.options.medium_volume:
            level = 1
            reasons.append(f"only {_plural(requests, 'successful request')} in the capture")
        if unmatched_success:
            level = max(level, 2 if unmatched_success / requests > _UNMATCHED_LOW_FRACTION else 1)
            reasons.append(
                f"{_plural(unmatched_success, 'successful request')} to routes the spec does "
                "not describe: the scopes they need are unknown"
            )
        nothing = frozenset[str]()
        denied = self._denied(tally.denied_groups, nothing)
        suggested_effective = self.expand(suggested)
        return KeyAudit(
            key=key,
            granted_scopes=nothing,
            used_scopes=self._used_scopes(uses, suggested_effective, suggested_effective),
            suggested_scopes=suggested,
            excess_scopes=nothing,
            missing_scopes=self._missing_scopes(denied, nothing),
            evidence=self._evidence(uses, suggested),
            excess=(),
            denied=denied,
            unmatched=self._top_unmatched(tally.unmatched),
            before=self.blast.measure(nothing),
            after=self.blast.measure(suggested_effective),
            confidence=_CONFIDENCE_ORDER[level],
            confidence_reasons=tuple(reasons),
            findings=(),
            requests=requests,
            last_seen=tally.last_seen,
            daily=_by_day(usage.daily),
            assigned_scopes=nothing,
            capture=True,
            replay=self.replayer.replay(uses, suggested_effective, requests),
        )

    def _revoked(
        self,
        key: ApiKey,
        as_listed: frozenset[str],
        effective: frozenset[str],
        uses: tuple[OperationUse, ...],
        denied: tuple[DeniedRequests, ...],
        missing: frozenset[str],
        unmatched: list[UsageRow],
        requests: int,
        last_seen: datetime | None,
        daily: tuple[tuple[date, int], ...],
    ) -> KeyAudit:
        assert self.blast is not None
        radius = self.blast.measure(effective)
        return KeyAudit(
            key=key,
            granted_scopes=effective,
            used_scopes=self._used_scopes(uses, effective, effective),
            suggested_scopes=frozenset(as_listed),
            excess_scopes=frozenset(),
            missing_scopes=missing,
            evidence=self._evidence(uses, frozenset(as_listed)),
            excess=(),
            denied=denied,
            unmatched=self._top_unmatched(unmatched),
            before=radius,
            after=radius,
            confidence="insufficient",
            confidence_reasons=("revoked: listed for the record, not judged",),
            findings=(),
            requests=requests,
            last_seen=last_seen,
            daily=daily,
            assigned_scopes=frozenset(as_listed),
        )

    def _top_unmatched(self, rows: list[UsageRow]) -> tuple[UsageRow, ...]:
        if not rows:
            return ()
        ordered = sorted(
            rows, key=lambda r: (-r.count, r.method, r.path, r.status_class, r.first_seen)
        )
        return tuple(
            UsageRow(
                key_id=row.key_id,
                method=row.method,
                path=self.redacted(row.path),
                operation=None,
                status_class=row.status_class,
                count=row.count,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
            )
            for row in ordered[:_MAX_UNMATCHED_PER_KEY]
        )

    def _denied(
        self,
        groups: Mapping[tuple[str, str, str | None], list[UsageRow]],
        effective: frozenset[str],
    ) -> tuple[DeniedRequests, ...]:
        if not groups:
            return ()
        denied = []
        for (method, path, operation), rows in groups.items():
            op = self.operations.get(operation) if operation else None
            needed = tuple(sorted(tuple(sorted(alt)) for alt in op.requirements)) if op else ()
            denied.append(
                DeniedRequests(
                    method=method,
                    path=path,
                    operation=operation if op else None,
                    count=sum(row.count for row in rows),
                    first_seen=min(row.first_seen for row in rows),
                    last_seen=max(row.last_seen for row in rows),
                    needed=needed,
                )
            )
        return tuple(sorted(denied, key=lambda d: (-d.count, d.operation or "", d.method, d.path)))

    def _missing_for(self, operation: Operation, effective: frozenset[str]) -> frozenset[str]:
        # Memoized: denied requests and their findings ask this twice per key, and keys
        # share grants.
        cache_key = (operation.key, effective)
        cached = self._missing_cache.get(cache_key)
        if cached is None:
            cached = self._missing_cache[cache_key] = self._least_missing(operation, effective)
        return cached

    def _least_missing(self, operation: Operation, effective: frozenset[str]) -> frozenset[str]:
        """What ``effective`` lacks of ``operation``'s cheapest alternative (empty: met)."""
        if operation.is_satisfied_by(effective):
            return frozenset()
        best = min(
            operation.requirements,
            key=lambda alt: (len(alt - effective), *self.alternative_order(alt - effective)),
        )
        return frozenset(best - effective)

    def _missing_scopes(
        self, denied: tuple[DeniedRequests, ...], effective: frozenset[str]
    ) -> frozenset[str]:
        missing: set[str] = set()
        for entry in denied:
            if entry.operation is not None:
                missing |= self._missing_for(self.operations[entry.operation], effective)
        return frozenset(missing)

    def _evidence(
        self, uses: tuple[OperationUse, ...], suggested: frozenset[str]
    ) -> tuple[ScopeEvidence, ...]:
        by_scope: dict[str, list[OperationUse]] = {scope: [] for scope in suggested}
        attributions = self._attribution_tables.get(suggested)
        if attributions is None:
            attributions = self._attribution_tables[suggested] = {}
        for use in uses:
            scopes = attributions.get(use.operation)
            if scopes is None:
                operation = self.operations[use.operation]
                scopes = attributions[use.operation] = self.attribution(operation, suggested)
            for scope in scopes:
                by_scope[scope].append(use)
        # ``uses`` is sorted by operation, so each scope's list already is.
        return tuple(ScopeEvidence(scope, tuple(ops)) for scope, ops in sorted(by_scope.items()))

    def _used_scopes(
        self,
        uses: tuple[OperationUse, ...],
        effective: frozenset[str],
        fallback: frozenset[str],
    ) -> frozenset[str]:
        scopes: set[str] = set()
        needs_of = self.needs_of
        for use in uses:
            requirements = needs_of.get(use.operation)
            if not requirements:
                continue  # public, or the spec states no requirement
            if len(requirements) == 1:  # the common case, inlined (see serving_alternative)
                if requirements[0] <= effective or requirements[0] <= fallback:
                    scopes |= requirements[0]
                continue
            operation = self.operations[use.operation]
            alternative = self.serving_alternative(operation, effective)
            if alternative is None:
                alternative = self.serving_alternative(operation, fallback)
            if alternative is not None:
                scopes |= alternative
        return frozenset(scopes)

    # ------------------------------------------------------------------ confidence

    def _confidence(
        self,
        key: ApiKey,
        requests: int,
        unmatched_success: int,
        called: frozenset[str],
        effective: frozenset[str],
        daily: tuple[tuple[date, int], ...],
        complete: bool,
        incomplete_reasons: tuple[str, ...],
    ) -> tuple[Confidence, list[str], bool]:
        options = self.options
        reasons: list[str] = []
        level = 0  # index into _CONFIDENCE_ORDER; the worst reason wins

        def lower(to: Confidence, reason: str) -> None:
            nonlocal level
            level = max(level, _CONFIDENCE_ORDER.index(to))
            reasons.append(reason)

        observed_start = self.window.start
        if key.created_at is None:
            lower("medium", "creation date unknown: assumed to predate the window")
        elif key.created_at >= self.as_of:
            lower("insufficient", "created after the end of the window")
        else:
            age_days = (self.as_of - key.created_at).total_seconds() / 86400
            if age_days < options.min_key_age_days:
                lower(
                    "insufficient",
                    f"too new to judge: created {age_days:.0f} days before as_of "
                    f"(minimum {options.min_key_age_days})",
                )
            elif key.created_at > self.window.start:
                observed_start = key.created_at
                if age_days < self.window.days / 2:
                    lower("low", f"observed for only {age_days:.0f} of {self.window.days} days")
                else:
                    lower("medium", f"observed for {age_days:.0f} of {self.window.days} days")

        if not complete:
            lower("insufficient", "usage data incomplete: " + "; ".join(incomplete_reasons))
        else:
            observed_days, covered = self.coverage(observed_start.astimezone(UTC).date())
            if observed_days:
                fraction = covered / observed_days
                if fraction < options.min_coverage:
                    lower(
                        "insufficient",
                        f"logs cover only {covered} of the key's {observed_days} observed days "
                        f"(minimum {options.min_coverage:.0%})",
                    )
                elif covered < observed_days:
                    lower(
                        "medium",
                        f"{_plural(observed_days - covered, 'observed day')} without any log data",
                    )

        if (
            complete
            and requests == 0
            and key.last_used_at is not None
            and self.window.start <= key.last_used_at < self.window.end
        ):
            lower(
                "insufficient",
                f"the inventory says it was last used on {_day(key.last_used_at)}, "
                "but the logs hold no successful request from it in the window",
            )

        if requests:
            if requests < options.low_volume:
                lower("low", f"only {_plural(requests, 'successful request')} in the window")
            elif requests < options.medium_volume:
                lower("medium", f"only {_plural(requests, 'successful request')} in the window")
        if unmatched_success:
            fraction = unmatched_success / requests
            lower(
                "low" if fraction > _UNMATCHED_LOW_FRACTION else "medium",
                f"{_plural(unmatched_success, 'successful request')} to routes the spec does "
                "not describe: the scopes they need are unknown",
            )
        reach = self.reachable(effective)
        ungranted = sorted(called - reach - self.public_operations)  # in the order of uses
        if ungranted:
            lower(
                "medium",
                f"{_plural(len(ungranted), 'operation')} succeeded without a matching grant "
                f"({_short_list(ungranted, 3)}): the inventory or the spec may be out of date",
            )
        self._seasonality(daily, lower)
        return _CONFIDENCE_ORDER[level], reasons, level == len(_CONFIDENCE_ORDER) - 1

    def _seasonality(
        self, daily: tuple[tuple[date, int], ...], lower: Callable[[Confidence, str], None]
    ) -> None:
        if len(daily) >= 2 and all(map(_COUNT, daily)):
            # Every listed day is active (the common case).  The period, the median gap
            # between active days, reaches a week only if half the gaps (rounded up) are
            # 7 days or more and the others at least 1: a shorter span rules it out
            # without listing the gaps.
            gaps = len(daily) - 1
            if (daily[-1][0] - daily[0][0]).days < 7 * ((gaps + 1) // 2) + gaps // 2:
                return
        # Day ordinals and C-level maps: this runs for every key over up to a window of days.
        active = list(map(date.toordinal, map(_DAY, filter(_COUNT, daily))))
        if len(active) == 1 and self.window.days >= 7:
            only_day = next(day for day, count in daily if count)
            lower("low", f"all successful requests on a single day ({only_day.isoformat()})")
            return
        if len(active) < 2:
            return
        gaps = sorted(map(sub, active[1:], active))  # days between consecutive active days
        middle = len(gaps) // 2
        period = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2
        if period < 7:
            return
        if self.window.days < 2 * period:
            lower(
                "low",
                f"periodic use (about every {period:.0f} days): the window covers fewer than "
                "two periods",
            )
        elif period >= 20:
            lower(
                "medium",
                f"periodic use (about every {period:.0f} days): rarely used operations may "
                "fall outside the window",
            )

    # ------------------------------------------------------------------ findings

    def _key_findings(
        self, audit: _Facts, insufficient: bool, as_listed: frozenset[str]
    ) -> list[Finding]:
        key = audit.key
        key_id = key.key_id
        findings: list[Finding] = []

        for field_name in key.redacted_fields:
            if field_name.lower() in SECRET_FIELD_NAMES:
                continue  # a secret field by name: dropped silently, as expected
            findings.append(
                self.finding(
                    "secret-in-name",
                    "high",
                    key_id,
                    field_name,
                    f"the inventory's {field_name!r} field held what looks like a live secret; "
                    "it was redacted everywhere. Rotate that secret and remove it from the "
                    "inventory.",
                )
            )
        if SUSPICIOUS.search(key.name) or _has_mixed_scripts(key.name):
            findings.append(
                self.finding(
                    "suspicious-key-name",
                    "medium",
                    key_id,
                    "name",
                    "the key's name contains invisible or direction-changing characters, or "
                    "mixes alphabets in one word: what it shows may not be what it says.",
                )
            )

        for scope in sorted(key.scopes - self.known_scopes):
            findings.append(
                self.finding(
                    "unknown-scope",
                    "low",
                    key_id,
                    scope,
                    f"granted scope {scope!r} is not in the spec's catalog (typo, renamed or "
                    "removed); the platform may ignore or reject it. Check the spelling, "
                    "then drop it.",
                )
            )

        if key.full_access:
            findings.append(self._legacy_finding(audit, insufficient, as_listed))

        if insufficient:
            findings.append(
                self.finding(
                    "insufficient-data",
                    "info",
                    key_id,
                    "",
                    "not enough data to judge this key, so no removal is advised: "
                    + "; ".join(audit.confidence_reasons),
                )
            )
        else:
            if audit.requests == 0:
                findings.append(self._dormant_finding(audit))
            elif not key.full_access:
                findings.extend(self._unused_findings(audit))
        findings.extend(self._denied_findings(audit))
        return findings

    def _legacy_finding(
        self, audit: _Facts, insufficient: bool, as_listed: frozenset[str]
    ) -> Finding:
        total = len(as_listed)
        if insufficient:
            severity: Severity = "high"
            advice = "too little data to derive its replacement yet; keep collecting logs."
        else:
            moves_money = any(self.is_money_movement(s) for s in audit.suggested_scopes)
            severity = "high" if moves_money else "critical"
            if audit.suggested_scopes:
                ratio = len(audit.excess_scopes) / total if total else 0.0
                advice = (
                    f"its usage needs {_plural(len(audit.suggested_scopes), 'scope')} of {total} "
                    f"({_short_list(sorted(audit.suggested_scopes), 8)}; {ratio:.0%} excess): "
                    "create a key with those scopes, run both side by side, confirm no denied "
                    "requests on the new key, then revoke this one."
                )
            elif audit.requests and not audit.unreplayable:
                # In use, but only by operations that ask for no scope (Spotify's
                # catalogue reads, Slack's auth.test): replaced, never expired.
                advice = (
                    f"its {_plural(audit.requests, 'successful request')} reached only "
                    "operations that need no scope: create a key with no scopes, run both side "
                    "by side, confirm no denied requests on the new key, then revoke this one."
                )
            elif audit.requests:
                advice = (
                    f"{_plural(audit.unreplayable, 'successful request')} went to routes "
                    "the spec does not describe (or to operations whose requirement it does "
                    "not state), so what it needs is unknown: map those routes (or update the "
                    "spec) before replacing it."
                )
            else:
                advice = (
                    "it made no successful request in the window: set an expiry on it and "
                    "tell its owner, then revoke it if nothing needed it."
                )
        return self.finding(
            "legacy-full-access",
            severity,
            audit.key.key_id,
            "",
            f"legacy full-access key: holds every scope ({total}); {advice}",
        )

    def _dormant_finding(self, audit: _Facts) -> Finding:
        severity: Severity = "high" if audit.before.risk_score >= 50 else "medium"
        last = audit.key.last_used_at
        when = f" (the inventory's last use: {_day(last)})" if last is not None else ""
        return self.finding(
            "dormant-key",
            severity,
            audit.key.key_id,
            "",
            f"no successful request in the {self.window.days}-day window{when}; "
            f"it can still reach {_plural(audit.before.operations, 'operation')}. Set an "
            "expiry on it and tell its owner, then revoke it if nothing needed it "
            "(keyscope plan time-boxes it this way).",
        )

    def _unused_findings(self, audit: _Facts) -> list[Finding]:
        findings = []
        for excess in audit.excess:
            scope = excess.scope
            if scope not in self.known_scopes:
                continue  # already an unknown-scope finding; one finding per problem
            # The suggested scopes the key does not hold that grant what this one granted.
            provided = audit.suggested_scopes & self.provides(scope)
            replaced = tuple(sorted(provided - audit.key.scopes))
            severity, message = self._unused_verdict(scope, excess.unlocks_never_called, replaced)
            findings.append(
                self.finding("unused-scope", severity, audit.key.key_id, scope, message)
            )
        return findings

    def _unused_verdict(
        self, scope: str, unlocks_never_called: tuple[str, ...], replaced: tuple[str, ...]
    ) -> tuple[Severity, str]:
        """Severity and message of an unused-scope finding (memoized: keys share them)."""
        cache_key = (scope, unlocks_never_called, replaced)
        cached = self._unused_verdict_cache.get(cache_key)
        if cached is not None:
            return cached
        weight = self.weight(scope)
        area, access = self.area_access(scope)
        sensitive_write = access == "write" and area in _SENSITIVE_WRITE_AREAS
        if not unlocks_never_called:
            severity: Severity = "info"
            detail = "it adds nothing the suggested scopes do not already allow"
        else:
            if weight >= _HIGH_WEIGHT or sensitive_write:
                severity = "high"
            elif weight >= _MEDIUM_WEIGHT:
                severity = "medium"
            else:
                severity = "low"
            detail = (
                f"it unlocks {_plural(len(unlocks_never_called), 'operation')} never "
                f"called: {_short_list(list(unlocks_never_called))}"
            )
        swap = f"; replace it with {', '.join(replaced)}" if replaced else "; remove it"
        message = (
            f"granted {scope} was not needed by any successful request in "
            f"{self.window.days} days; {detail}{swap}."
        )
        self._unused_verdict_cache[cache_key] = (severity, message)
        return severity, message

    def _denied_findings(self, audit: _Facts) -> list[Finding]:
        if not audit.denied:
            return []
        used_areas = {self.area_access(s)[0] for s in audit.used_scopes}
        groups: dict[str, list[DeniedRequests]] = defaultdict(list)
        subjects_missing: dict[str, frozenset[str]] = {}
        mismatches: dict[str, list[DeniedRequests]] = defaultdict(list)
        for entry in audit.denied:
            if entry.operation is None:
                groups["unmatched-routes"].append(entry)
                continue
            operation = self.operations[entry.operation]
            missing = self._missing_for(operation, audit.granted_scopes)
            if not missing:
                # The key holds what the spec says is enough, and was still refused:
                # evidence against the spec (or the platform), not probing.
                mismatches[entry.operation].append(entry)
                continue
            subject = " ".join(sorted(missing))
            groups[subject].append(entry)
            subjects_missing[subject] = missing
        findings = self._mismatch_findings(audit, mismatches)
        for subject, entries in sorted(groups.items()):
            count = sum(entry.count for entry in entries)
            first = min(entry.first_seen for entry in entries)
            last = max(entry.last_seen for entry in entries)
            routes = sorted(
                {entry.operation or f"{entry.method} {entry.path}" for entry in entries}
            )
            span = f"{_plural(count, 'denied request')} ({_day(first)} to {_day(last)})"
            if subject == "unmatched-routes":
                severity: Severity = "medium" if len(routes) >= 10 else "low"
                message = (
                    f"{span} to {_plural(len(routes), 'route')} the spec does not describe: "
                    f"{_short_list(routes)}. Many distinct routes suggest scanning."
                )
            else:
                missing = subjects_missing[subject]
                areas = {self.area_access(s)[0] for s in missing}
                sensitive = any(self.weight(s) >= 10 or self.is_money_movement(s) for s in missing)
                probing = audit.requests == 0 or not areas <= used_areas
                if probing:
                    severity = "high" if sensitive else "medium"
                    verdict = (
                        "the key never used this area successfully: this looks like probing "
                        "with a leaked key. Check who holds it; rotate it if in doubt"
                    )
                else:
                    severity = "low"
                    verdict = (
                        "the key uses this area already: it may be under-scoped for a feature. "
                        "Grant the scope only if the integration really needs it"
                    )
                message = (
                    f"{span} to {_short_list(routes)}, which need {', '.join(sorted(missing))}; "
                    f"{verdict}. Denied requests are never counted as use."
                )
            findings.append(
                self.finding("denied-requests", severity, audit.key.key_id, subject, message)
            )
        return findings

    def _mismatch_findings(
        self, audit: _Facts, mismatches: Mapping[str, list[DeniedRequests]]
    ) -> list[Finding]:
        """``spec-runtime-mismatch``: one per operation the key was refused although its
        effective grants meet the spec's requirement for it."""
        findings = []
        for operation_key, entries in sorted(mismatches.items()):
            operation = self.operations[operation_key]
            count = sum(entry.count for entry in entries)
            first = min(entry.first_seen for entry in entries)
            last = max(entry.last_seen for entry in entries)
            if operation.public:
                says = "the spec marks it public (no credentials needed)"
            elif not operation.requirements:
                says = "the spec states no scope requirement for it"
            else:
                held = self.serving_alternative(operation, audit.granted_scopes)
                says = (
                    f"the key holds {', '.join(sorted(held)) if held else 'no scope'}, which the "
                    "spec says is enough"
                )
            findings.append(
                self.finding(
                    "spec-runtime-mismatch",
                    "medium",
                    audit.key.key_id,
                    operation_key,
                    f"{_plural(count, 'denied request')} ({_day(first)} to {_day(last)}) to "
                    f"{operation_key}, although {says}: the spec's scope tag for this "
                    "operation is likely wrong, or the platform misbehaves. Check the "
                    "operation's scopes with the platform. Not counted as use, not probing.",
                )
            )
        return findings

    # ------------------------------------------------------------------ data-wide

    def _data_quality(
        self,
        by_key: Mapping[str, _KeyUsage],
        known_ids: set[str],
        coverage_days: int,
        missing_days: tuple[date, ...],
    ) -> tuple[list[Finding], DataQuality]:
        unmatched_counts: dict[tuple[str, str], int] = defaultdict(int)
        unmatched_success: dict[tuple[str, str], int] = defaultdict(int)
        unknown: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for key_id, key_usage in by_key.items():
            is_unknown = key_id not in known_ids
            for row in key_usage.rows:
                if row.operation is None:
                    route = (row.method, self.redacted(row.path))
                    unmatched_counts[route] += row.count
                    if row.status_class == "success":
                        unmatched_success[route] += row.count
                if is_unknown:
                    totals = unknown[_unknown_key_label(key_id)]
                    totals[0] += row.count
                    if row.status_class == "success":
                        totals[1] += row.count
                    elif row.status_class == "denied":
                        totals[2] += row.count
        unknown = {masked: totals for masked, totals in unknown.items() if totals[0]}
        findings: list[Finding] = []

        busiest_unknown = sorted(unknown.items(), key=lambda item: (-item[1][0], item[0]))
        for masked, (total, success, denied) in busiest_unknown[:_MAX_DATA_FINDINGS]:
            severity: Severity = "medium" if success else "low"
            findings.append(
                self.finding(
                    "unknown-key-usage",
                    severity,
                    "",
                    masked,
                    f"key id {masked} is not in the inventory but made "
                    f"{_plural(total, 'request')} ({success:,} successful, {denied:,} denied): "
                    + (
                        "the inventory is incomplete, or a key outside it is in use."
                        if success
                        else "probably attempts with an invalid or deleted key."
                    ),
                )
            )
        if len(busiest_unknown) > _MAX_DATA_FINDINGS:
            rest = busiest_unknown[_MAX_DATA_FINDINGS:]
            findings.append(
                self.finding(
                    "unknown-key-usage",
                    "low",
                    "",
                    "(others)",
                    f"{_plural(len(rest), 'more unknown key id')} made "
                    f"{_plural(sum(t[0] for _, t in rest), 'request')}.",
                )
            )

        busiest_routes = sorted(unmatched_success.items(), key=lambda item: (-item[1], item[0]))
        for (method, path), count in busiest_routes[:_MAX_DATA_FINDINGS]:
            findings.append(
                self.finding(
                    "unmapped-route",
                    "low",
                    "",
                    f"{method} {path}",
                    f"{_plural(count, 'successful request')} to {method} {path}, which no "
                    "operation of the spec describes (undocumented or removed endpoint?); "
                    "the scopes it needs are unknown, so keys using it get lower confidence.",
                )
            )
        if len(busiest_routes) > _MAX_DATA_FINDINGS:
            rest_routes = busiest_routes[_MAX_DATA_FINDINGS:]
            findings.append(
                self.finding(
                    "unmapped-route",
                    "low",
                    "",
                    "(others)",
                    f"{_plural(len(rest_routes), 'more unmapped route')} with "
                    f"{_plural(sum(c for _, c in rest_routes), 'successful request')}.",
                )
            )

        quality = DataQuality(
            total_lines=self.usage.total_lines,
            bad_lines=self.usage.bad_lines,
            bad_line_examples=tuple(
                BadLine(source=example.source, line=example.line, reason=redact(example.reason))
                for example in self.usage.bad_line_examples
            ),
            unmatched_requests=sum(unmatched_counts.values()),
            unmatched_routes=tuple(
                (method, path, count)
                for (method, path), count in sorted(
                    unmatched_counts.items(), key=lambda item: (-item[1], item[0])
                )[:_MAX_DATA_FINDINGS]
            ),
            unknown_keys=len(unknown),
            unknown_key_ids=tuple(sorted(unknown))[:_MAX_DATA_FINDINGS],
            coverage_days=coverage_days,
            window_days=len(self.window_days),
            missing_days=missing_days,
            sources=tuple(self.usage.sources),
        )
        return findings, quality
