"""The domain model: frozen, typed values shared by every layer.

Adapters (``keyscope.sources``) build these from files and the network; the
analysis (``keyscope.analysis``) turns them into an :class:`AuditResult`; reporters
and the TUI only read them.  This module imports the standard library only.

Conventions:
- Scope names are kept exactly as the platform spells them (no case folding).
- An operation is named ``"METHOD /path/{template}"`` (``Operation.key``), the path as
  written in the spec, without the server base path.
- Every collection is a tuple or frozenset, sorted where order is observable, so
  outputs are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple

SCHEMA_VERSION = 1
"""Version of the JSON contracts (``keyscope spec`` and ``keyscope audit``)."""

FINGERPRINT_VERSION = 1
"""Version of the finding fingerprint scheme; bump and migrate if it ever changes."""

Semantics = Literal["all", "any"]
Severity = Literal["critical", "high", "medium", "low", "info"]
Confidence = Literal["high", "medium", "low", "insufficient"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
"""Most severe first; the index is the rank used for sorting and ``--fail-on``."""


def severity_rank(severity: str) -> int:
    """Return 0 for ``critical`` up to 4 for ``info`` (lower is more severe)."""
    return SEVERITIES.index(severity)  # type: ignore[arg-type]


RISK_BANDS: tuple[tuple[str, int], ...] = (
    ("critical", 75),
    ("high", 50),
    ("medium", 25),
    ("low", 1),
)
"""``(band, lowest score)``, highest first; a score of 0 is band ``none``."""


def risk_band(score: int) -> str:
    """Name the band of a 0-100 risk score, so every report and the TUI bucket alike."""
    for band, lowest in RISK_BANDS:
        if score >= lowest:
            return band
    return "none"


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True, slots=True)
class Scope:
    """One scope of the platform's catalog, or one used by an operation."""

    name: str
    description: str = ""
    declared: bool = True
    """False when operations use the scope but the catalog does not declare it."""
    area: str | None = None
    """Capability area (``invoices``), when the name says it; else None."""
    access: Literal["read", "write"] | None = None
    """Read or write, when the name or the description says it; else None."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One path x method of the spec, with its normalized scope requirement."""

    method: str
    """Upper-case HTTP method."""
    path: str
    """Path template exactly as written in the spec (no server base path)."""
    operation_id: str | None = None
    public: bool = False
    """True when the operation can be called without credentials (``security: []`` or ``{}``)."""
    requirements: tuple[frozenset[str], ...] = ()
    """Alternatives; each is the set of scopes needed together. ``frozenset()`` means
    authenticated with no scope.  Empty tuple with ``public`` false means the spec
    says nothing about security for this operation."""
    summary: str = ""
    tags: tuple[str, ...] = ()
    deprecated: bool = False
    scope_source: str = "security"
    """Where the requirement came from: ``security``, an extension name, ``tag`` or ``none``."""
    multi_scope_list: bool = False
    """True when one requirement object listed several scopes of one scheme (all/any matters)."""
    uncertain_scopes: frozenset[str] = frozenset()
    """Scopes of a list read as alternatives although some are not variants of one another
    (Spotify's ``ugc-image-upload`` with ``playlist-modify-public``/``-private``, which
    the platform needs together): the reading may be wrong, so a key that uses the
    operation keeps the ones it holds (``mixed-scope-list``)."""

    @property
    def key(self) -> str:
        """``"GET /invoices/{invoice_id}"``: the operation's stable name."""
        return f"{self.method} {self.path}"

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope named by any alternative."""
        names: set[str] = set()
        for alternative in self.requirements:
            names |= alternative
        return frozenset(names)

    def is_satisfied_by(self, granted: frozenset[str]) -> bool:
        """True when ``granted`` (already expanded by implication) meets one alternative."""
        if self.public or not self.requirements:
            return True
        return any(alternative <= granted for alternative in self.requirements)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something a reviewer should know about the spec itself."""

    rule: str
    message: str
    operation: str = ""
    """``Operation.key`` the anomaly concerns, or empty for spec-wide ones."""
    scope: str = ""
    severity: Severity = "low"


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """A loaded, normalized API description."""

    title: str
    version: str
    format: str
    """``openapi 3.1.0``, ``openapi 3.0.3``, ``swagger 2.0``."""
    source: str
    """The file it came from, as given."""
    sha256: str
    base_paths: tuple[str, ...]
    """Path prefixes of the servers (``/v1``), longest first; ``""`` when none."""
    operations: tuple[Operation, ...]
    """Sorted by path, then method."""
    scopes: tuple[Scope, ...]
    """Catalog plus undeclared-but-used scopes, sorted by name."""
    semantics: Semantics
    semantics_reason: str
    implications: tuple[tuple[str, str], ...] = ()
    """``(stronger, weaker)`` edges: holding ``stronger`` grants ``weaker``."""
    implications_reason: str = ""
    """Why ``area:write`` does or does not grant ``area:read`` (spec, or configuration)."""
    sentinels: frozenset[str] = frozenset()
    """Scope names that mean "no scope" (Slack's ``none``); already removed from requirements."""
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def scope_names(self) -> frozenset[str]:
        return frozenset(scope.name for scope in self.scopes)

    @property
    def catalog(self) -> frozenset[str]:
        """Declared scope names only."""
        return frozenset(scope.name for scope in self.scopes if scope.declared)

    @property
    def full_access_scopes(self) -> frozenset[str]:
        """What a legacy full-access key holds: every scope the spec knows, declared or
        only required by an operation (Square's ``PAYMENT_METHODS_READ``), since such a
        key can call every operation."""
        return self.scope_names

    def operation(self, key: str) -> Operation:
        """Look an operation up by ``Operation.key``; raises KeyError."""
        for operation in self.operations:
            if operation.key == key:
                return operation
        raise KeyError(key)


# --------------------------------------------------------------------------- keys


KeyStatus = Literal["active", "revoked"]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key of the inventory.  Never holds the secret itself."""

    key_id: str
    name: str = ""
    scopes: frozenset[str] = frozenset()
    """Scopes as granted by the platform (empty for full-access keys)."""
    full_access: bool = False
    """Legacy key minted before scopes existed (``full_access: true`` or ``scopes: null``)."""
    status: KeyStatus = "active"
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    owner: str = ""
    environment: str = ""
    source: str = ""
    """``file:line`` (or ``file#index``) of the inventory entry, for locations in reports."""
    redacted_fields: tuple[str, ...] = ()
    """Names of fields dropped or redacted at ingest because they held secrets."""


# --------------------------------------------------------------------------- usage

StatusClass = Literal["success", "denied", "client_error", "server_error"]
"""``success`` < 400 (usage); ``denied`` 401/403; other 4xx; 5xx."""


def status_class(status: int) -> StatusClass:
    """Classify an HTTP status the way the audit counts it."""
    if status in (401, 403):
        return "denied"
    if status < 400:
        return "success"
    if status < 500:
        return "client_error"
    return "server_error"


# The two records ingestion makes by the tens of thousands (a thousand keys' routes and
# days) are named tuples: as immutable as the frozen dataclasses around them, and made
# at about half the cost (a tuple instead of one object.__setattr__ per field).
class UsageRow(NamedTuple):
    """Aggregated requests of one key to one route with one status class."""

    key_id: str
    method: str
    path: str
    """Request path after normalization (query stripped, base path removed)."""
    operation: str | None
    """``Operation.key`` the path matched, or None when it matched nothing."""
    status_class: StatusClass
    count: int
    first_seen: datetime
    last_seen: datetime


class DailyCount(NamedTuple):
    """Requests of one key on one day (UTC), for charts, coverage and seasonality."""

    key_id: str
    day: date
    success: int
    denied: int


@dataclass(frozen=True, slots=True)
class BadLine:
    """An input line that could not be read, as an example for the report."""

    source: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class SourceStats:
    """What was read from one usage source."""

    source: str
    kind: str
    """``jsonl``, ``csv``, ``parquet``, ``har`` or ``aggregate``."""
    lines: int
    bad_lines: int
    in_window: int
    out_of_window: int = 0
    duplicates: int = 0
    """Lines dropped as repeats of an earlier line with the same request/event id.

    For every source ``lines == bad_lines + in_window + out_of_window + duplicates``."""
    suspected_duplicates: int = 0
    """Requests that look like repeats but were kept, because the source has no request
    or event id to tell a repeat from real traffic.

    Looked for only where two or more files of the source cover the same time: per
    identical (timestamp, key, method, path with query, status), the copies beyond the
    most any one file holds.  Repeats within one file are never guessed at.  These lines
    stay counted in ``in_window``, so the ``lines == ...`` equation above is unaffected."""
    suspected_duplicate_files: tuple[str, ...] = ()
    """The files (redacted, sorted) holding the suspected repeats; empty when none."""
    suspected_duplicate_span: tuple[datetime, datetime] | None = None
    """First and last timestamp (UTC) of the suspected repeats; None when none."""


@dataclass(frozen=True, slots=True)
class UsageData:
    """Everything the audit needs from the request logs, already aggregated."""

    rows: tuple[UsageRow, ...] = ()
    daily: tuple[DailyCount, ...] = ()
    sources: tuple[SourceStats, ...] = ()
    bad_line_examples: tuple[BadLine, ...] = ()
    days_with_data: frozenset[date] = frozenset()
    """UTC days on which any request at all was logged (for coverage gaps)."""
    incomplete_reasons: tuple[str, ...] = ()
    """Why the usage data cannot be trusted as complete (a source above the bad-line
    threshold, ...); empty when nothing is known to be wrong."""

    @property
    def bad_lines(self) -> int:
        return sum(source.bad_lines for source in self.sources)

    @property
    def total_lines(self) -> int:
        return sum(source.lines for source in self.sources)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with one key (or with the data), with a stable identity."""

    rule: str
    severity: Severity
    key_id: str
    """The key concerned; empty for data-wide findings."""
    subject: str
    """What the finding is about within the key: a scope, a route, or empty."""
    message: str
    fingerprint: str
    suppressed: bool = False
    suppression: Suppression | None = None
    baseline_state: Literal["new", "unchanged", ""] = ""


@dataclass(frozen=True, slots=True)
class Suppression:
    """An accountable decision to accept a finding until a date."""

    rule: str
    key_id: str
    scope: str
    reason: str
    owner: str
    expires: date
    source: str = ""
    """``file:entry`` the suppression came from."""


@dataclass(frozen=True, slots=True)
class OperationUse:
    """How often a key called one operation successfully."""

    operation: str
    count: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class ScopeEvidence:
    """Why a suggested scope is kept: the operations that needed it."""

    scope: str
    operations: tuple[OperationUse, ...]

    @property
    def count(self) -> int:
        return sum(use.count for use in self.operations)

    @property
    def last_seen(self) -> datetime | None:
        return max((use.last_seen for use in self.operations), default=None)

    @property
    def first_seen(self) -> datetime | None:
        return min((use.first_seen for use in self.operations), default=None)


@dataclass(frozen=True, slots=True)
class ExcessScope:
    """A granted scope the usage did not need, and what it leaves reachable."""

    scope: str
    unlocks_never_called: tuple[str, ...]
    """Operation keys this scope opens that the key never called in the window."""


@dataclass(frozen=True, slots=True)
class DeniedRequests:
    """401/403 answers to one key on one route: probing or under-scoping, never usage."""

    method: str
    path: str
    operation: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    needed: tuple[tuple[str, ...], ...] = ()
    """Alternatives that would have been needed (empty when the route is unknown)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The window's successful requests replayed against the suggested scopes.

    ``requests + unreplayable`` is every successful request of the key in the window."""

    requests: int
    """Successful requests replayed (to spec operations whose requirement is known)."""
    would_fail: int
    """Of those, requests the suggested scopes would not have allowed (0 when sound)."""
    failing_operations: tuple[OperationUse, ...] = ()
    """The operations those requests called, sorted by operation."""
    unreplayable: int = 0
    """Successful requests that cannot be replayed: to routes no operation describes, or
    to operations whose requirement the spec does not state.  Never counted as passing."""


@dataclass(frozen=True, slots=True)
class ReplayTotals:
    """The replays of a result's active inventory keys, added up (keys without one, such
    as HAR captures, are left out)."""

    keys: int = 0
    """Keys that were replayed."""
    requests: int = 0
    would_fail: int = 0
    keys_with_failures: int = 0
    """Keys at least one of whose requests the suggested scopes would not have allowed."""
    unreplayable: int = 0


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """What a set of scopes can reach."""

    operations: int
    sensitive_operations: int
    risk_score: int
    """0-100, weighted by what a payments key can do."""


@dataclass(frozen=True, slots=True)
class KeyAudit:
    """Everything the audit concluded about one key."""

    key: ApiKey
    granted_scopes: frozenset[str]
    """Effective grants: full access expanded to the catalog, implications applied."""
    used_scopes: frozenset[str]
    suggested_scopes: frozenset[str]
    excess_scopes: frozenset[str]
    missing_scopes: frozenset[str]
    """Scopes the denied requests would have needed and the key does not hold."""
    evidence: tuple[ScopeEvidence, ...]
    excess: tuple[ExcessScope, ...]
    denied: tuple[DeniedRequests, ...]
    unmatched: tuple[UsageRow, ...]
    before: BlastRadius
    after: BlastRadius
    confidence: Confidence
    confidence_reasons: tuple[str, ...]
    findings: tuple[Finding, ...]
    requests: int
    """Successful requests in the window."""
    last_seen: datetime | None
    daily: tuple[tuple[date, int], ...] = ()
    """Successful requests per day, for the sparkline."""
    assigned_scopes: frozenset[str] = frozenset()
    """Scopes as granted, before implications: the key's own list, or every scope the
    spec knows for a legacy full-access key (``ApiSpec.full_access_scopes``; what
    ``excess_scopes`` is taken from)."""
    capture: bool = False
    """Not an inventory key: the traffic of a HAR capture (``har:<file>``), audited to
    say which scopes a new key for that integration needs (``suggested_scopes``)."""
    replay: Replay | None = None
    """The window's successful requests replayed against ``suggested_scopes``; None for
    revoked keys (not judged) and results built without it."""

    @property
    def risk_score(self) -> int:
        return self.before.risk_score


@dataclass(frozen=True, slots=True)
class DataQuality:
    """How trustworthy the usage data was."""

    total_lines: int = 0
    bad_lines: int = 0
    bad_line_examples: tuple[BadLine, ...] = ()
    unmatched_requests: int = 0
    unmatched_routes: tuple[tuple[str, str, int], ...] = ()
    """``(method, path, count)`` of requests that matched no operation, busiest first."""
    unknown_keys: int = 0
    unknown_key_ids: tuple[str, ...] = ()
    """Masked ids of keys seen in the logs but absent from the inventory."""
    coverage_days: int = 0
    window_days: int = 0
    missing_days: tuple[date, ...] = ()
    sources: tuple[SourceStats, ...] = ()


@dataclass(frozen=True, slots=True)
class SpecSummary:
    """Enough about the spec to compare two reports."""

    title: str
    version: str
    format: str
    source: str
    sha256: str
    operations: int
    scopes: int
    semantics: Semantics

    @classmethod
    def of(cls, spec: ApiSpec) -> SpecSummary:
        """The summary of a loaded spec."""
        return cls(
            title=spec.title,
            version=spec.version,
            format=spec.format,
            source=spec.source,
            sha256=spec.sha256,
            operations=len(spec.operations),
            scopes=len(spec.scopes),
            semantics=spec.semantics,
        )


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    days: int


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The one result every reporter and the TUI render."""

    tool_version: str
    as_of: datetime
    window: Window
    complete: bool
    incomplete_reasons: tuple[str, ...]
    spec: SpecSummary
    keys: tuple[KeyAudit, ...]
    """Sorted by key id."""
    findings: tuple[Finding, ...]
    """All findings (keys and data-wide), sorted by severity, rule, key id, subject."""
    data_quality: DataQuality
    anomalies: tuple[Anomaly, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    """The register: every suppression read, applied or not."""
    suppression_warnings: tuple[str, ...] = ()
    resolved_findings: tuple[Finding, ...] = ()
    """Findings in the baseline that this run no longer has."""
    carried_findings: tuple[Finding, ...] = ()
    """Findings in the baseline that this run could not re-check (their key had too little
    data to judge, or the data was incomplete for a data-wide finding): neither resolved
    nor new, kept so a rolling baseline does not lose them and still gating ``--fail-on``."""
    history: tuple[HistoryPoint, ...] = field(default=())
    baseline_source: str = ""
    """The earlier result the findings were compared with (``--baseline``), empty when none."""
    operation_ids: tuple[tuple[str, str], ...] = ()
    """``(Operation.key, operationId)`` of every spec operation that has an id, sorted, so
    evidence can name the operation as the public spec does."""

    @property
    def replay_totals(self) -> ReplayTotals:
        """The active inventory keys' replays added up, for every summary that shows them."""
        replays = [
            audit.replay
            for audit in self.keys
            if audit.replay is not None and not audit.capture and audit.key.status == "active"
        ]
        return ReplayTotals(
            keys=len(replays),
            requests=sum(replay.requests for replay in replays),
            would_fail=sum(replay.would_fail for replay in replays),
            keys_with_failures=sum(1 for replay in replays if replay.would_fail),
            unreplayable=sum(replay.unreplayable for replay in replays),
        )


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """Totals of one earlier run, for trends."""

    as_of: datetime
    excess_scopes: int
    mean_risk: float
    legacy_keys: int
    findings: int
    complete: bool = True
    """False for a run on incomplete data: its totals are not comparable with the rest."""
