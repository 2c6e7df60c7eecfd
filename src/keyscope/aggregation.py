"""Usage aggregation where the logs live: one SQL query, generated from the spec.

A platform's request logs outgrow one machine; the audit only needs their aggregate
(keys x operations).  This adapter generates ONE query that reads a logs table,
normalizes every request path, matches it against the spec's route templates inside
the engine and returns that aggregate, in the format ``kind = "aggregate"`` usage
sources use (``docs/usage-formats.md``, section "aggregate").  The query is written
once, in a neutral form, and produced for DuckDB, Spark, Trino and BigQuery through
``sqlglot``; ``keyscope aggregate`` runs it on the embedded DuckDB or on PySpark, or
prints it for a warehouse (``docs/warehouses.md``).

The logs table (``{logs_table}`` in printed queries) has one row per request and the
columns ``timestamp`` (TIMESTAMP, UTC), ``key_id``, ``method``, ``path`` (strings, the
path as logged, query string and all) and ``status`` (integer).

Route matching in SQL mirrors :mod:`keyscope.analysis.routes` rule for rule:

- **Normalization** (the module docstring's steps 1-6): a full URL loses scheme and
  host; the query and fragment are cut at the first ``?`` or ``#``; empty segments
  (duplicate and trailing slashes) are dropped; segments are percent-decoded as UTF-8
  with invalid bytes replaced exactly like Python's ``"replace"`` error handler, while
  ``%``, ``/``, ``?`` and ``#`` stay percent-encoded (so ``%2F`` never splits a segment);
  a ``.`` or ``..`` segment makes the request unusable; the longest base path is
  removed on a segment boundary.  The result is the text
  :func:`~keyscope.analysis.routes.normalize_request_path` returns.
- **The matching table** (:func:`route_rules`): one row per method and template (``HEAD``
  rows borrow ``GET`` operations when a template has no ``HEAD``), holding the number of
  segments, the template as a literal path or an anchored regex, the literal prefix and
  suffix (cheap tests; when they and the segment count decide, the regex is never run),
  and a ``priority``: the templates sorted by their per-segment specificity (literal
  before mixed before parameter, mixed ones by most literal characters, fewest
  parameters, then their text).  The matcher's depth-first walk returns the first
  complete match in exactly that order, so "the matching row with the lowest priority"
  is its answer, backtracking included.  Templates the matcher's trie merges (``/a/{x}``
  and ``/a/{y}``) keep only the row of the one the matcher keeps.
- The method is compared upper-cased; a parameter matches one non-empty segment.
- Matching runs once per distinct (method, target), after the requests are grouped per
  key, method, target, status class and UTC day.

The aggregate's ``path`` is the operation's template when a route matched and the
target as logged (query cut off) when none did, which is what usage ingestion makes of
the raw line: reading the aggregate gives the audit of the logs (the integration tests
compare the two).  Lines usage ingestion calls bad (an empty key id, a method that is
not a word, a status outside 100-599, a path that is neither a path nor a URL) are left
out.

Regexes use only what RE2 (DuckDB, BigQuery), Java (Spark) and Trino agree on:
``\\A``/``\\z`` anchors, classes, ``(?:...)``, ``+`` and ``(?s)``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from keyscope.errors import KeyscopeError, UsageError
from keyscope.redaction import redact

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from keyscope.model import ApiSpec, Operation, SourceStats
    from keyscope.settings import UsageSource

__all__ = [
    "AGGREGATE_COLUMNS",
    "DIALECTS",
    "ENGINES",
    "LOGS_TABLE",
    "AggregateRun",
    "RouteRule",
    "aggregate_schema",
    "aggregation_sql",
    "detect_aggregates",
    "looks_like_aggregate",
    "normalized_path_sql",
    "render_sql",
    "route_rules",
    "run_aggregation",
    "write_aggregate",
]

ENGINES = ("duckdb", "spark")
"""Engines ``keyscope aggregate`` runs the query on."""

Dialect = Literal["duckdb", "spark", "trino", "bigquery"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "spark", "trino", "bigquery")
"""The SQL dialects :func:`aggregation_sql` writes."""

LOGS_TABLE = "{logs_table}"
"""Placeholder for the logs table in printed queries; replace it with your table name."""

AGGREGATE_COLUMNS = (
    "key_id",
    "method",
    "path",
    "operation",
    "status_class",
    "day",
    "count",
    "first_seen",
    "last_seen",
)
"""Columns of the aggregate, in order (``docs/usage-formats.md``, "aggregate")."""

# --------------------------------------------------------------------------- templates
# The template reading below follows keyscope.analysis.routes' documented rules; the unit
# tests hold the two to the same answers on a table of tricky requests.

_PARAMETER = re.compile(r"\{[^{}/]+\}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_SEGMENT_ESCAPES = (("%", "%25"), ("/", "%2F"), ("?", "%3F"), ("#", "%23"))

_SEGMENT_TEXT = "(?:[^/%]|%[0-9A-F]{2})+"
"""One or more whole characters of a normalized segment: in normalized text every ``%``
starts one of the escapes ``%25 %2F %3F %23``, so a parameter never ends mid-escape."""


def _decode(segment: str) -> str:
    return _PERCENT_RUN.sub(
        lambda run: bytes.fromhex(run.group().replace("%", "")).decode("utf-8", "replace"),
        segment,
    )


def _encode(segment: str) -> str:
    for character, escape in _SEGMENT_ESCAPES:
        segment = segment.replace(character, escape)
    return segment


def _regex_literal(text: str) -> str:
    """``text`` as a regex matching itself in RE2, Java and Trino alike."""
    pieces = []
    for character in text:
        if (character.isalnum() and character.isascii()) or character in "/-_~%,;:=@&'\"<> !":
            pieces.append(character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            pieces.append(f"\\x{ord(character):02x}")
        elif character.isascii():
            pieces.append("\\" + character)
        else:
            pieces.append(character)
    return "".join(pieces)


def _template_segments(path: str) -> list[str]:
    """Template segments; literal ones (no ``{``) are percent-decoded like requests."""
    return [
        segment if "{" in segment or "%" not in segment else _decode(segment)
        for segment in path.split("/")
        if segment
    ]


_Rank = tuple[int, int, int, tuple[str, ...]]


def _segment_rank(segment: str) -> tuple[_Rank, tuple[str, ...]]:
    """``(rank, shape)`` of one template segment.

    The rank orders the branches the matcher tries at one level: a literal (0), then
    mixed segments (1) with the most literal characters, fewest parameters and their
    literal pieces first, then a plain parameter (2).  The shape identifies the trie slot.
    """
    parameters = _PARAMETER.findall(segment)
    if not parameters:
        return (0, 0, 0, ()), ("literal", segment)
    if len(parameters) == 1 and parameters[0] == segment:
        return (2, 0, 0, ()), ("parameter",)
    literals = tuple(_PARAMETER.split(segment))
    literal_characters = sum(map(len, literals))
    return (1, -literal_characters, len(literals) - 1, literals), ("mixed", *literals)


def _segment_regex(segment: str) -> str:
    kind = _segment_rank(segment)[1][0]
    if kind == "literal":
        return _regex_literal(_encode(segment))
    if kind == "parameter":
        return "[^/]+"
    return _SEGMENT_TEXT.join(_regex_literal(_encode(piece)) for piece in _PARAMETER.split(segment))


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One row of the matching table the query joins normalized requests against."""

    priority: int
    """Lower wins: among the rules matching a request, the lowest is the matcher's answer."""
    method: str
    """Upper-case method (``HEAD`` rules borrow ``GET`` operations)."""
    segments: int
    """Number of path segments the template has (and a matching request has)."""
    is_literal: bool
    """True when the template has no parameter: ``template`` is compared for equality."""
    template: str
    """The normalized literal path, or an anchored regex over normalized paths."""
    operation: str
    """``Operation.key`` a match resolves to."""
    prefix: str = "/"
    """Literal text every matching path starts with (the literal segments before the
    first parameter, slashes included): a cheap test before the regex."""
    suffix: str = ""
    """Literal text every matching path ends with (the literal segments after the last
    parameter), empty when the template ends with a parameter."""
    needs_regex: bool = True
    """False when segment count, prefix and suffix already decide the match (one plain
    ``{parameter}`` segment and literal ones); the regex is then never evaluated."""


def route_rules(operations: Iterable[Operation]) -> tuple[RouteRule, ...]:
    """The matching table of a spec's operations, in priority order.

    Args:
        operations: The spec's operations (``ApiSpec.operations``).

    Returns:
        One rule per method and distinct template slot, priority 1, 2, ... in the order
        the route matcher prefers them.
    """
    ordered = sorted(
        (
            operation
            for operation in operations
            if isinstance(operation.path, str) and isinstance(operation.method, str)
        ),
        key=lambda operation: (operation.path, operation.method),
    )
    # Templates as the matcher groups them: the decoded segment tuple, first seen first.
    by_template: dict[tuple[str, ...], dict[str, str]] = {}
    for operation in ordered:
        methods = by_template.setdefault(tuple(_template_segments(operation.path)), {})
        methods.setdefault(operation.method.upper(), operation.key)
    slots: dict[tuple[str, tuple[tuple[str, ...], ...]], tuple[tuple[str, ...], str]] = {}
    for segments, methods in by_template.items():
        effective = dict(methods)
        if "HEAD" not in effective and "GET" in effective:
            effective["HEAD"] = effective["GET"]
        shape = tuple(_segment_rank(segment)[1] for segment in segments)
        for method, key in effective.items():
            # The first template to reach a trie slot keeps it, as in the matcher.
            slots.setdefault((method, shape), (segments, key))
    entries = []
    for (method, _shape), (segments, key) in slots.items():
        ranks = tuple(_segment_rank(segment)[0] for segment in segments)
        literal = all(rank[0] == 0 for rank in ranks)
        if literal:
            template = "/" + "/".join(_encode(segment) for segment in segments)
            prefix, suffix, needs_regex = template, "", False
        else:
            template = "\\A/" + "/".join(_segment_regex(segment) for segment in segments) + "\\z"
            kinds = [rank[0] for rank in ranks]
            first = kinds.index(next(kind for kind in kinds if kind != 0))
            last = len(kinds) - 1 - kinds[::-1].index(next(kind for kind in kinds if kind != 0))
            head = [_encode(segment) for segment in segments[:first]]
            tail = [_encode(segment) for segment in segments[last + 1 :]]
            prefix = "/" + "".join(f"{segment}/" for segment in head)
            suffix = "".join(f"/{segment}" for segment in tail)
            # One plain parameter between literal segments: the segment count, prefix and
            # suffix leave exactly one non-empty segment for it, so they decide the match.
            needs_regex = not (first == last and kinds[first] == 2)
        entries.append(
            (len(segments), ranks, method, key, literal, template, prefix, suffix, needs_regex)
        )
    entries.sort(key=lambda entry: entry[:4])
    return tuple(
        RouteRule(
            priority=number,
            method=method,
            segments=count,
            is_literal=literal,
            template=template,
            operation=key,
            prefix=prefix,
            suffix=suffix,
            needs_regex=needs_regex,
        )
        for number, (
            count,
            _ranks,
            method,
            key,
            literal,
            template,
            prefix,
            suffix,
            needs_regex,
        ) in enumerate(entries, 1)
    )


def _base_texts(base_paths: Iterable[str]) -> tuple[str, ...]:
    """Base paths as normalized text (``/v1``), longest first, ``/`` and duplicates dropped."""
    from keyscope.analysis.routes import normalize_request_path

    bases: set[tuple[str, ...]] = set()
    for base in base_paths:
        if not isinstance(base, str):
            continue
        if base and not base.startswith("/") and _SCHEME.match(base) is None:
            base = "/" + base
        text = normalize_request_path(base or "/")
        if text and text != "/":
            bases.add(tuple(text[1:].split("/")))
    ordered = sorted(bases, key=lambda segments: (-len(segments), segments))
    return tuple("/" + "/".join(segments) for segments in ordered)


# --------------------------------------------------------------------------- SQL text
# The query is written in Trino's dialect (plain string literals: no backslash escapes,
# regexp_replace replaces every match, regexp_like searches) and transpiled by sqlglot.


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_MARK = "\x02"
"""Stands for the ``%`` of an escape already known to be valid UTF-8 while decoding."""

_HEX = "[0-9A-Fa-f]"
_CONTINUATION = "[89ABab]" + _HEX
# Valid UTF-8 sequences written as escapes (RFC 3629's table), longest lead first.
_VALID_SEQUENCES = (
    f"%([Ff]0)%([9ABab]{_HEX})%({_CONTINUATION})%({_CONTINUATION})",
    f"%([Ff][1-3])%({_CONTINUATION})%({_CONTINUATION})%({_CONTINUATION})",
    f"%([Ff]4)%(8{_HEX})%({_CONTINUATION})%({_CONTINUATION})",
    f"%([Ee]0)%([ABab]{_HEX})%({_CONTINUATION})",
    f"%([Ee][1-9A-Ca-cEeFf])%({_CONTINUATION})%({_CONTINUATION})",
    f"%([Ee][Dd])%([89]{_HEX})%({_CONTINUATION})",
    f"%([Cc][2-9A-Fa-f]|[Dd]{_HEX})%({_CONTINUATION})",
    f"%([0-7]{_HEX})",
)
# What Python's "replace" handler turns into ONE U+FFFD: a lead byte with the valid start
# of its sequence but not all of it (a maximal subpart), else any single byte.
_TRUNCATED = (
    f"%[Ff]0%[9ABab]{_HEX}(?:%{_CONTINUATION})?"
    f"|%[Ff][1-3]%{_CONTINUATION}(?:%{_CONTINUATION})?"
    f"|%[Ff]4%8{_HEX}(?:%{_CONTINUATION})?"
    f"|%[Ee]0%[ABab]{_HEX}"
    f"|%[Ee][1-9A-Ca-cEeFf]%{_CONTINUATION}"
    f"|%[Ee][Dd]%[89]{_HEX}"
    f"|%{_HEX}{{2}}"
)


def _decode_sql(column: str) -> str:
    """SQL decoding the escapes of ``column`` like the matcher, keeping ``% / ? #`` escaped.

    Valid UTF-8 escape sequences get their ``%`` replaced by a mark, every other escape
    (a maximal invalid subpart) becomes the escapes of U+FFFD, a lone ``%`` becomes
    ``%25``, and the four escapes that must survive are escaped once more, so one
    ``url_decode`` gives the normalized text and can never fail.
    """
    text = f"replace(replace({column}, '+', '%2B'), {_string(_MARK)}, '%02')"
    for sequence in _VALID_SEQUENCES:
        groups = sequence.count("(")
        marked = _MARK + _MARK.join(f"${number}" for number in range(1, groups + 1))
        text = f"regexp_replace({text}, {_string(sequence)}, {_string(marked)})"
    replacement = _MARK + "EF" + _MARK + "BF" + _MARK + "BD"
    text = f"regexp_replace({text}, {_string(_TRUNCATED)}, {_string(replacement)})"
    text = f"replace(replace({text}, '%', '%25'), {_string(_MARK)}, '%')"
    for escape in ("%25", "%2F", "%2f", "%3F", "%3f", "%23"):
        text = f"replace({text}, '{escape}', '%25{escape[1:].upper()}')"
    return f"url_decode({text})"


def normalized_path_sql(column: str, base_paths: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The normalization of request targets as a chain of SQL steps (Trino dialect).

    Args:
        column: The column holding the path as logged.
        base_paths: Server base paths to strip (``ApiSpec.base_paths``).

    Returns:
        ``(name, expression)`` pairs; each expression may use the names before it.  The
        last one, ``path``, is the normalized path or NULL when the request is unusable.
    """
    scheme = "\\A[A-Za-z][-A-Za-z0-9+.]*://"
    steps = [
        ("cut", f"regexp_replace({column}, '(?s)[?#].*', '')"),
        (
            "absolute",
            "CASE WHEN substr(cut, 1, 1) = '/' THEN cut "
            f"WHEN regexp_like(cut, {_string(scheme)}) "
            f"THEN concat('/', regexp_replace(cut, {_string(scheme + '[^/]*')}, '')) END",
        ),
        ("collapsed", "regexp_replace(absolute, '/+', '/')"),
        (
            "trimmed",
            "CASE WHEN length(collapsed) > 1 AND substr(collapsed, length(collapsed)) = '/' "
            "THEN substr(collapsed, 1, length(collapsed) - 1) ELSE collapsed END",
        ),
        (
            "decoded",
            f"CASE WHEN strpos(trimmed, '%') > 0 THEN {_decode_sql('trimmed')} ELSE trimmed END",
        ),
        (
            "usable",
            "CASE WHEN NOT regexp_like(decoded, '(\\A|/)[.][.]?(/|\\z)') THEN decoded END",
        ),
    ]
    bases = _base_texts(base_paths)
    if bases:
        branches = " ".join(
            f"WHEN usable = {_string(base)} THEN '/' "
            f"WHEN substr(usable, 1, {len(base) + 1}) = {_string(base + '/')} "
            f"THEN substr(usable, {len(base) + 1})"
            for base in bases
        )
        steps.append(("path", f"CASE {branches} ELSE usable END"))
    else:
        steps.append(("path", "usable"))
    return steps


_PLACEHOLDER = "keyscope_logs_table_placeholder"

_URL_SCHEME = "\\A[A-Za-z][-A-Za-z0-9+.]*://"

_STATUS_CLASS = (
    "CASE WHEN status IN (401, 403) THEN 'denied' WHEN status < 400 THEN 'success' "
    "WHEN status < 500 THEN 'client_error' ELSE 'server_error' END"
)

# What usage ingestion counts as a bad line rather than a request (docs/usage-formats.md):
# checked per row for the cheap tests, per distinct (method, target) for the regexes.
_VALID_ROW = (
    # trim() only for the rare id that starts with a space: it is costly on every row.
    "key_id <> '' AND (substr(key_id, 1, 1) <> ' ' OR length(trim(key_id)) > 0) "
    "AND length(key_id) <= 256 AND status >= 100 AND status <= 599"
)
_VALID_PAIR = (
    "regexp_like(method, '\\A[A-Za-z]{1,20}\\z') AND CASE WHEN substr(target, 1, 1) = '/' "
    f"THEN true ELSE regexp_like(target, {_string(_URL_SCHEME)}) END"
)

_CUT = (
    "CASE WHEN strpos(path, '?') > 0 OR strpos(path, '#') > 0 "
    "THEN regexp_replace(path, '(?s)[?#].*', '') ELSE path END"
)

_RANK_DIGITS = 7
"""Width of the zero-padded priority that prefixes ``rank_key`` (so ``min`` picks by it)."""


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='microseconds')}'"


def _routes_values(rules: Sequence[RouteRule]) -> str:
    if len(rules) >= 10**_RANK_DIGITS:
        raise UsageError(f"the spec has {len(rules):,} route rules; at most 9,999,999 fit")
    rows = []
    for rule in rules:
        rank_key = f"{rule.priority:0{_RANK_DIGITS}d}{rule.operation}"
        rows.append(
            f"({_string(rule.method)}, {rule.segments}, {int(rule.is_literal)}, "
            f"{_string(rule.prefix)}, {_string(rule.suffix)}, {int(rule.needs_regex)}, "
            f"{_string(rule.template)}, {_string(rank_key)})"
        )
    if not rows:  # a spec without operations: one row that can never match
        rows = ["('', -1, 1, '', '', 0, '', '')"]
    return ",\n    ".join(rows)


def _neutral_sql(
    spec: ApiSpec,
    *,
    window_start: datetime | None,
    window_end: datetime | None,
    logs_table: str,
    request_ids: bool,
    zoned_text_times: bool = False,
) -> str:
    """The whole aggregation in Trino's dialect, the source every dialect is made from.

    ``zoned_text_times`` writes first/last seen as ISO 8601 text in UTC (``...Z``): for
    Trino, whose ``timestamp`` has no zone and which Hive tables cannot store with one.
    """
    window = ['"timestamp" IS NOT NULL']
    if window_start is not None:
        window.append(f'"timestamp" >= {_timestamp(window_start)}')
    if window_end is not None:
        window.append(f'"timestamp" < {_timestamp(window_end)}')
    if request_ids:
        # A request logged twice (same request id, key, method, path, status and time)
        # counts once, as in usage ingestion; rows without an id are all kept.
        logs = f"""logs AS (
  SELECT DISTINCT request_id, key_id, method, path, status, "timestamp" AS ts
  FROM {logs_table} WHERE request_id IS NOT NULL AND {" AND ".join(window)}
  UNION ALL
  SELECT request_id, key_id, method, path, status, "timestamp"
  FROM {logs_table} WHERE request_id IS NULL AND {" AND ".join(window)}
)"""  # noqa: S608 - the table name is the caller's own; values are escaped literals
    else:
        logs = f"""logs AS (
  SELECT key_id, method, path, status, "timestamp" AS ts
  FROM {logs_table}
  WHERE {" AND ".join(window)}
)"""  # noqa: S608 - the table name is the caller's own; values are escaped literals
    steps = normalized_path_sql("target", spec.base_paths)
    step_ctes = []
    previous_cte = "targets"
    for number, (name, expression) in enumerate(steps, 1):
        step_ctes.append(
            f"step{number} AS (SELECT target, {expression} AS {name} FROM {previous_cte})"  # noqa: S608
        )
        previous_cte = f"step{number}"
    routes = _routes_values(route_rules(spec.operations))
    step_text = ",\n".join(step_ctes)

    def seen(column: str) -> str:
        return f"to_iso8601(with_timezone({column}, 'UTC'))" if zoned_text_times else column

    return f"""WITH {logs},
requests AS (
  SELECT key_id, upper(method) AS method, {_CUT} AS target,
         {_STATUS_CLASS} AS status_class, CAST(ts AS DATE) AS day, ts
  FROM logs
  WHERE {_VALID_ROW}
),
grouped AS (
  SELECT key_id, method, target, status_class, day,
         count(*) AS requests, min(ts) AS first_seen, max(ts) AS last_seen
  FROM requests
  GROUP BY key_id, method, target, status_class, day
),
pairs AS (
  SELECT method, target FROM (SELECT DISTINCT method, target FROM grouped) AS distinct_pairs
  WHERE {_VALID_PAIR}
),
targets AS (SELECT DISTINCT target FROM pairs),
{step_text},
normalized AS (
  SELECT target, path,
         CASE WHEN path = '/' THEN 0 ELSE length(path) - length(replace(path, '/', '')) END
           AS segments
  FROM {previous_cte}
),
candidates AS (
  SELECT DISTINCT p.method, n.path, n.segments
  FROM pairs AS p JOIN normalized AS n ON p.target = n.target
  WHERE n.path IS NOT NULL
),
routes AS (
  SELECT * FROM (VALUES
    {routes}
  ) AS r (method, segments, is_literal, prefix, suffix, needs_regex, template, rank_key)
),
matches AS (
  SELECT c.method, c.path, substr(min(r.rank_key), {_RANK_DIGITS + 1}) AS operation
  FROM candidates AS c
  JOIN routes AS r ON r.method = c.method AND r.segments = c.segments
  WHERE CASE WHEN r.is_literal = 1 THEN c.path = r.template
             WHEN substr(c.path, 1, length(r.prefix)) <> r.prefix THEN false
             WHEN r.suffix <> ''
                  AND substr(c.path, length(c.path) - length(r.suffix) + 1) <> r.suffix
               THEN false
             WHEN r.needs_regex = 0 THEN true
             ELSE regexp_like(c.path, r.template) END
  GROUP BY c.method, c.path
),
resolved AS (
  SELECT method, target, operation, path,
         dense_rank() OVER (ORDER BY method, path, operation NULLS LAST) AS route
  FROM (
    SELECT p.method, p.target, m.operation,
           CASE WHEN m.operation IS NULL THEN p.target
                ELSE substr(m.operation, strpos(m.operation, ' ') + 1) END AS path
    FROM pairs AS p
    JOIN normalized AS n ON p.target = n.target
    LEFT JOIN matches AS m ON m.method = p.method AND m.path = n.path
  ) AS named
),
counted AS (
  SELECT g.key_id, s.route, g.status_class, g.day, sum(g.requests) AS requests,
         min(g.first_seen) AS first_seen, max(g.last_seen) AS last_seen
  FROM grouped AS g
  JOIN resolved AS s ON s.method = g.method AND s.target = g.target
  GROUP BY g.key_id, s.route, g.status_class, g.day
),
named_routes AS (SELECT DISTINCT route, method, path, operation FROM resolved)
SELECT c.key_id AS key_id, r.method AS method, r.path AS path, r.operation AS operation,
       c.status_class AS status_class, c.day AS day, c.requests AS "count",
       {seen("c.first_seen")} AS first_seen, {seen("c.last_seen")} AS last_seen
FROM counted AS c
JOIN named_routes AS r ON r.route = c.route
ORDER BY c.key_id, c.route, c.status_class, c.day
"""  # noqa: S608 - generated from the spec; every value is an escaped literal


_BIGQUERY_URL_DECODE = """\
-- BigQuery has no url_decode: this one decodes %XX escapes (the query hands it valid UTF-8).
CREATE TEMP FUNCTION keyscope_url_decode(encoded STRING) AS ((
  SELECT SAFE_CONVERT_BYTES_TO_STRING(STRING_AGG(
    IF(STARTS_WITH(part, '%'), FROM_HEX(SUBSTR(part, 2)), CAST(part AS BYTES)), b''
    ORDER BY part_number))
  FROM UNNEST(REGEXP_EXTRACT_ALL(encoded, r'%[0-9A-Fa-f]{2}|[^%]+')) AS part
    WITH OFFSET AS part_number
));
"""

_BACKREFERENCE = re.compile(r"\$(\d)")
_MATERIALIZE = frozenset({"grouped"})


def aggregation_sql(
    spec: ApiSpec,
    dialect: str = "duckdb",
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    logs_table: str = LOGS_TABLE,
    request_ids: bool = False,
    pretty: bool = True,
) -> str:
    """The aggregation query for one SQL dialect.

    Args:
        spec: The API description whose routes the query matches.
        dialect: ``duckdb``, ``spark``, ``trino`` or ``bigquery``.
        window_start: Count only requests at or after this moment (UTC), if given.
        window_end: Count only requests before this moment (UTC), if given.
        logs_table: The table (or view) of requests; the default leaves the
            ``{logs_table}`` placeholder for the reader to replace.
        request_ids: The logs table has a ``request_id`` column: a request logged twice
            (same id, key, method, path, status and time) counts once.
        pretty: Indent the query for people.

    Returns:
        The query text (for BigQuery, a script: a temporary function, then the query).
        Its result has the columns of :data:`AGGREGATE_COLUMNS`.

    Raises:
        UsageError: an unknown dialect.
    """
    if dialect not in DIALECTS:
        raise UsageError(f"unknown SQL dialect {dialect!r} (choose {', '.join(DIALECTS)})")
    neutral = _neutral_sql(
        spec,
        window_start=window_start,
        window_end=window_end,
        logs_table=_PLACEHOLDER,
        request_ids=request_ids,
        zoned_text_times=dialect == "trino",
    )
    return render_sql(neutral, dialect, pretty=pretty).replace(_PLACEHOLDER, logs_table)


def render_sql(neutral: str, dialect: str, *, pretty: bool = False) -> str:
    """Transpile keyscope's neutral SQL (Trino's dialect) to one of :data:`DIALECTS`.

    Besides sqlglot's translation: ``regexp_replace`` group references become ``\\1``
    for RE2 engines, and BigQuery gets ``url_decode`` as a temporary function.

    Args:
        neutral: One query in Trino's dialect.
        dialect: The target dialect.
        pretty: Indent the query for people.

    Returns:
        The query (for BigQuery, a script: the temporary function, then the query).
    """
    import sqlglot
    from sqlglot import exp

    def adapt(node: exp.Expression) -> exp.Expression:
        if dialect == "duckdb" and isinstance(node, exp.CTE) and node.alias in _MATERIALIZE:
            # Used twice: DuckDB would otherwise compute the per-request work twice.
            node.set("materialized", True)
        if dialect in ("duckdb", "bigquery") and isinstance(node, exp.RegexpReplace):
            replacement = node.args.get("replacement")
            if isinstance(replacement, exp.Literal) and "$" in replacement.this:
                # RE2 writes group references as \1; Java and Trino as $1.
                node.set(
                    "replacement",
                    exp.Literal.string(_BACKREFERENCE.sub(r"\\\1", replacement.this)),
                )
        return node

    def rename_url_decode(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Func):
            if isinstance(node, exp.Anonymous):
                name, arguments = str(node.this), list(node.expressions)
            else:
                name, arguments = node.sql_name(), [node.this]
            if name.lower() == "url_decode":
                return exp.Anonymous(this="keyscope_url_decode", expressions=arguments)
        return node

    tree = sqlglot.parse_one(neutral, read="trino").transform(adapt)
    if dialect == "bigquery":
        # A second pass: transform does not visit what a replaced node's children became.
        tree = tree.transform(rename_url_decode)
    text = tree.sql(dialect=dialect, pretty=pretty, unsupported_level=sqlglot.ErrorLevel.RAISE)
    if dialect == "bigquery" and "keyscope_url_decode(" in text:
        text = _BIGQUERY_URL_DECODE + text
    return text + ("\n" if pretty else "")


# --------------------------------------------------------------------------- detection

_AGGREGATE_REQUIRED = ("key_id", "method", "path", "count", "first_seen", "last_seen")


def looks_like_aggregate(file: Path) -> bool:
    """True when a Parquet or CSV file holds an aggregate rather than request lines.

    An aggregate has the columns ``key_id``, ``method``, ``path``, ``count``,
    ``first_seen``, ``last_seen`` and ``status_class`` (or ``status``) and no
    ``timestamp``; what ``keyscope aggregate`` and the warehouse queries write.

    Args:
        file: A usage file.

    Returns:
        False for anything unreadable too: the usage reader then reports the problem.
    """
    from keyscope.sources.usage import detect_kind

    kind = detect_kind(file)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            names = set(pq.read_schema(file).names)
        elif kind == "csv":
            import csv
            import gzip

            opener: Any = gzip.open if file.name.lower().endswith(".gz") else open
            with opener(file, "rt", encoding="utf-8", newline="") as stream:
                names = set(next(csv.reader([stream.readline()], _sniff_dialect(file)), []))
        else:
            return False
    except (OSError, EOFError, ValueError, UnicodeDecodeError, ImportError, zlib.error):
        # A corrupt or cut gzip stream is not an aggregate; the usage reader reports it.
        return False
    return (
        names.issuperset(_AGGREGATE_REQUIRED)
        and bool(names & {"status_class", "status"})
        and "timestamp" not in names
    )


def _sniff_dialect(file: Path) -> type[Any]:
    import csv

    class Dialect(csv.excel):
        delimiter = _csv_delimiter(file)

    return Dialect


def detect_aggregates(sources: Sequence[UsageSource]) -> tuple[UsageSource, ...]:
    """Mark usage sources whose files are aggregates (``--usage agg.parquet`` needs no kind).

    A source keeps its kind when it names one or maps fields (a log with renamed
    columns); otherwise it becomes ``kind = "aggregate"`` when every file it names looks
    like one (:func:`looks_like_aggregate`).

    Args:
        sources: The ``[[usage]]`` sources as configured.

    Returns:
        The same sources, aggregates marked.
    """
    from dataclasses import replace

    from keyscope.errors import LogParseError
    from keyscope.sources.usage import expand_source

    marked = []
    for source in sources:
        if source.kind is None and not source.fields:
            try:
                files = expand_source(source)
            except LogParseError:
                files = ()  # the usage reader reports the missing file
            if files and all(looks_like_aggregate(file) for file in files):
                source = replace(source, kind="aggregate")
        marked.append(source)
    return tuple(marked)


# --------------------------------------------------------------------------- running it
# keyscope aggregate reads the logs itself on the embedded DuckDB or on PySpark: each
# source becomes rows of (key_id, method, path, status, timestamp, request_id) under the
# same reading rules as usage ingestion (keyscope.sources.usage), then the query runs.

SPARK_INSTALL_HINT = "pip install 'keyscope[spark]'"
"""How to get PySpark; the ``spark`` extra also names the version range keyscope tests."""

READABLE_KINDS = ("jsonl", "csv", "parquet")
"""Usage kinds ``keyscope aggregate`` reads (HAR captures are small: audit them directly)."""

_ZONED = r"\d:\d\d(:\d\d([.,]\d+)?)?\s*([+-]\d\d(:?\d\d)?|(?i:utc|gmt))$"
"""A timestamp that names its zone: ``Z``, an offset after the time, or UTC/GMT."""
_NUMBER = r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?"
_STATUS_TEXT = "[1-5][0-9][0-9]"


@dataclass(frozen=True, slots=True)
class AggregateRun:
    """What :func:`run_aggregation` produced."""

    table: pa.Table
    """The aggregate, in :data:`AGGREGATE_COLUMNS` order, sorted, secrets redacted."""
    sources: tuple[SourceStats, ...]
    """Per source: lines read, lines that were not a readable request, lines in the window."""


def aggregate_schema() -> pa.Schema:
    """The Arrow schema of an aggregate file (``docs/usage-formats.md``, "aggregate")."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("key_id", pa.string(), nullable=False),
            pa.field("method", pa.string(), nullable=False),
            pa.field("path", pa.string(), nullable=False),
            pa.field("operation", pa.string()),
            pa.field("status_class", pa.string(), nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("first_seen", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("last_seen", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )


def _finish(table: pa.Table) -> pa.Table:
    """Fixed schema and secrets redacted; the query sorted the rows (same input, same bytes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from keyscope.redaction import redact

    schema = aggregate_schema()
    columns = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type) and column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        columns.append(column.cast(field.type))
    table = pa.Table.from_arrays(columns, schema=schema)
    # Unmatched rows keep the logged path, and key ids are whatever the log says: mask
    # anything secret-looking once per distinct value (usage ingestion does the same).
    for name in ("key_id", "path"):
        values = table.column(name).combine_chunks()
        distinct = values.unique()
        masked = [redact(text) for text in distinct.to_pylist()]
        if masked != distinct.to_pylist():
            lookup = pc.index_in(values, value_set=distinct)
            replaced = pa.array(masked, pa.string()).take(lookup)
            table = table.set_column(schema.get_field_index(name), schema.field(name), replaced)
    return table.combine_chunks()


def write_aggregate(
    table: pa.Table,
    output: Path,
    metadata: dict[str, str] | None = None,
    *,
    force: bool = False,
) -> None:
    """Write an aggregate as Parquet, atomically (the previous file survives a failure).

    Args:
        table: An aggregate in :func:`aggregate_schema`.
        output: The file to write.
        metadata: Extra key-value metadata stored in the file (``keyscope.*`` keys).
        force: Replace ``output`` even when it is a symbolic link.

    Raises:
        ReportError: the file could not be written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from keyscope.output import write_atomic

    if metadata:
        existing = dict(table.schema.metadata or {})
        existing.update({key.encode(): value.encode() for key, value in sorted(metadata.items())})
        table = table.replace_schema_metadata(existing)
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, compression="zstd", row_group_size=1 << 20)
    write_atomic(output, buffer.getvalue().to_pybytes(), force=force)


def _source_files(source: UsageSource) -> list[tuple[Path, str]]:
    from keyscope.errors import LogParseError
    from keyscope.redaction import redact
    from keyscope.sources.usage import detect_kind, expand_source

    files = []
    for file in expand_source(source):
        kind = source.kind or detect_kind(file)
        if source.kind is None and not source.fields and looks_like_aggregate(file):
            kind = "aggregate"
        if kind not in READABLE_KINDS:
            raise LogParseError(
                redact(str(file)),
                f"keyscope aggregate reads request logs ({', '.join(READABLE_KINDS)}); "
                + ("this is already an aggregate" if kind == "aggregate" else
                   f"kind {kind!r} is not one of them" if kind else
                   "cannot tell the format from the name: set kind for this [[usage]] entry"),
            )  # fmt: skip
        files.append((file, kind))
    return files


def run_aggregation(
    spec: ApiSpec,
    sources: Sequence[UsageSource],
    *,
    engine: str = "duckdb",
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    spark_master: str = "local[*]",
) -> AggregateRun:
    """Read request logs and aggregate them with the generated query on one engine.

    Args:
        spec: The API description whose routes the query matches.
        sources: The ``[[usage]]`` sources (JSON lines, CSV, Parquet; gzip too).
        engine: ``duckdb`` (embedded) or ``spark`` (PySpark, local mode).
        window_start: Count requests at or after this moment only.
        window_end: Count requests before this moment only.
        spark_master: The Spark master URL for ``engine="spark"``.

    Returns:
        The aggregate and per-source statistics.

    Raises:
        UsageError: an unknown engine, or PySpark or Java missing for ``spark``.
        LogParseError: a source is missing, unreadable or lacks a column.
    """
    if not sources:
        raise UsageError("no request logs given: pass --usage FILE (or [[usage]] in keyscope.toml)")
    if engine == "duckdb":
        return _run_duckdb(spec, sources, window_start, window_end)
    if engine == "spark":
        return _run_spark(spec, sources, window_start, window_end, spark_master)
    raise UsageError(f"unknown engine {engine!r} (choose duckdb or spark)")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(name: str) -> str:
    if name.startswith("$"):
        return name
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- DuckDB


def _duckdb_epoch(number: str) -> str:
    """UTC timestamp from epoch seconds, milliseconds, microseconds or nanoseconds."""
    return f"""(CASE
        WHEN NOT isfinite({number}) THEN NULL
        WHEN abs({number}) < 1e11 THEN make_timestamp(CAST(round({number} * 1e6) AS BIGINT))
        WHEN abs({number}) < 1e14 THEN make_timestamp(CAST(round({number} * 1e3) AS BIGINT))
        WHEN abs({number}) < 1e17 THEN make_timestamp(CAST(round({number}) AS BIGINT))
        WHEN abs({number}) < 9e18 THEN make_timestamp(CAST(round({number} / 1e3) AS BIGINT))
    END)"""


def _duckdb_status(text: str) -> str:
    """The status as an integer when its text is a three-digit HTTP status, else NULL."""
    return (
        f"CASE WHEN regexp_full_match({text}, {_literal(_STATUS_TEXT)}) "
        f"THEN CAST({text} AS INTEGER) END"
    )


def _duckdb_timestamp(column: str, typed: str, zone: str | None) -> str:
    """A naive UTC TIMESTAMP from a source column, NULL when unreadable or zone-less."""
    utc = "timezone('UTC', {})"
    if "WITH TIME ZONE" in typed:
        return utc.format(column)
    if typed.startswith("TIMESTAMP") or typed == "DATE":
        if zone is None:
            return "NULL::TIMESTAMP"
        return utc.format(f"timezone({_literal(zone)}, CAST({column} AS TIMESTAMP))")
    if typed != "VARCHAR":
        return _duckdb_epoch(f"TRY_CAST({column} AS DOUBLE)")
    naive = (
        f"WHEN {column} IS NOT NULL THEN "
        + utc.format(f"timezone({_literal(zone)}, try_cast({column} AS TIMESTAMP))")
        if zone
        else ""
    )
    zoned = utc.format(f"try_cast({column} AS TIMESTAMPTZ)")
    return f"""(CASE
        WHEN {column} IS NULL THEN NULL
        WHEN suffix({column}, 'Z') OR suffix({column}, 'z') THEN {zoned}
        WHEN regexp_matches({column}, {_literal(_ZONED)}) THEN {zoned}
        WHEN regexp_full_match({column}, {_literal(_NUMBER)})
            THEN {_duckdb_epoch(f"TRY_CAST({column} AS DOUBLE)")}
        {naive}
    END)"""


def _duckdb_source(
    connection: duckdb.DuckDBPyConnection, source: UsageSource, files: list[Path], kind: str
) -> str:
    """A SELECT giving the canonical columns of one source's files of one kind."""
    from keyscope.errors import LogParseError
    from keyscope.redaction import redact
    from keyscope.sources.usage import CANONICAL_FIELDS, DEDUP_FIELDS, file_literal

    fields = {name: source.fields.get(name, name) for name in CANONICAL_FIELDS}
    file_list = "[" + ", ".join(file_literal(file) for file in files) + "]"
    where = redact(str(files[0])) if len(files) == 1 else redact(source.path)
    if kind == "jsonl":
        # Every physical line is read as text, so a broken line is a bad line, not an error.
        names = [fields[name] for name in CANONICAL_FIELDS] + list(DEDUP_FIELDS)
        paths = ", ".join(_literal(_json_path(name)) for name in names)
        return f"""
            SELECT f[2] AS key_id, f[3] AS method, f[4] AS path,
                   {_duckdb_status("f[5]")} AS status,
                   {_duckdb_timestamp("f[1]", "VARCHAR", source.timezone)} AS "timestamp",
                   coalesce(f[6], f[7]) AS request_id
            FROM (
                SELECT try(json_extract_string(line, [{paths}])) AS f
                FROM read_csv({file_list}, auto_detect = false, header = false,
                              columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '',
                              escape = '', strict_mode = false, compression = 'auto',
                              ignore_errors = true)
                WHERE trim(line, ' \t\r\n') <> ''
            )
        """  # noqa: S608 - literals escaped
    if kind == "csv":
        reader = (
            f"read_csv({file_list}, header = true, all_varchar = true, union_by_name = true, "
            "compression = 'auto', ignore_errors = true)"
        )
    else:
        reader = f"read_parquet({file_list}, union_by_name = true)"
    try:
        schema = {
            str(name): str(typed).upper()
            for name, typed, *_ in connection.execute(
                f"DESCRIBE SELECT * FROM {reader}"  # noqa: S608 - escaped file names
            ).fetchall()
        }
    except Exception as error:  # duckdb.Error, imported lazily
        from keyscope.sources.usage import _safe_error

        raise LogParseError(where, f"cannot read: {_safe_error(error)}") from None
    for canonical, name in fields.items():
        if name not in schema:
            raise LogParseError(
                where,
                f"no column {name!r}"
                + (f" (mapped from {canonical})" if name != canonical else ""),
            )

    def text(canonical: str) -> str:
        name = fields[canonical]
        column = _identifier(name)
        return column if schema[name] == "VARCHAR" else f"CAST({column} AS VARCHAR)"

    mapped = set(fields.values())
    request_id = next(
        (name for name in DEDUP_FIELDS if name in schema and name not in mapped), None
    )
    request_column = (
        f"CAST({_identifier(request_id)} AS VARCHAR)" if request_id else "NULL::VARCHAR"
    )
    timestamp = _duckdb_timestamp(
        _identifier(fields["timestamp"]), schema[fields["timestamp"]], source.timezone
    )
    return f"""
        SELECT {text("key_id")} AS key_id, {text("method")} AS method, {text("path")} AS path,
               {_duckdb_status(text("status"))} AS status,
               {timestamp} AS "timestamp", {request_column} AS request_id
        FROM {reader}
    """  # noqa: S608 - identifiers and literals escaped


def _stats_sql(
    dialect: str,
    source: str,
    window_start: datetime | None,
    window_end: datetime | None,
    *,
    by_source: bool = False,
) -> str:
    """Lines, bad lines, lines in the window and lines with a request id (per source)."""
    import sqlglot

    in_window = ['"timestamp" IS NOT NULL']
    if window_start is not None:
        in_window.append(f'"timestamp" >= {_timestamp(window_start)}')
    if window_end is not None:
        in_window.append(f'"timestamp" < {_timestamp(window_end)}')
    group = "keyscope_source, " if by_source else ""
    # Cheap checks per line; the method and path regexes once per distinct (method, target).
    row_ok = (
        "key_id IS NOT NULL AND method IS NOT NULL AND path IS NOT NULL AND status IS NOT NULL "
        f'AND "timestamp" IS NOT NULL AND {_VALID_ROW}'
    )
    neutral = f"""
        SELECT {group}sum(lines) AS lines,
               sum(lines) - sum(CASE WHEN {_VALID_PAIR} THEN ok ELSE 0 END) AS bad,
               sum(CASE WHEN {_VALID_PAIR} THEN ok_in_window ELSE 0 END) AS in_window,
               sum(with_id) AS with_request_id
        FROM (
          SELECT {group}method, target, count(*) AS lines, sum(ok) AS ok,
                 sum(CASE WHEN ok = 1 AND {" AND ".join(in_window)} THEN 1 ELSE 0 END)
                   AS ok_in_window,
                 count(request_id) AS with_id
          FROM (
            SELECT {group}"timestamp", method, {_CUT} AS target, request_id,
                   CASE WHEN {row_ok} THEN 1 ELSE 0 END AS ok
            FROM {_PLACEHOLDER}
          ) AS checked
          GROUP BY {group}method, target
        ) AS per_route
        {"GROUP BY keyscope_source" if by_source else ""}
    """  # noqa: S608 - our own SQL
    text = sqlglot.transpile(neutral, read="trino", write=dialect)[0]
    return text.replace(_PLACEHOLDER, source)


def _stats(display: str, kind: str, lines: int, bad: int, in_window: int) -> SourceStats:
    from keyscope.model import SourceStats

    return SourceStats(
        source=display,
        kind=kind,
        lines=lines,
        bad_lines=bad,
        in_window=in_window,
        out_of_window=lines - bad - in_window,
    )


def _stats_and_query(
    spec: ApiSpec,
    engine: str,
    plans: list[tuple[UsageSource, str, list[Path]]],
    counted: dict[int, tuple[int, int, int, int]],
    window_start: datetime,
    window_end: datetime,
) -> tuple[list[SourceStats], str]:
    """Each plan's statistics from the engine's per-source counts (lines, bad, in window,
    request ids), and the aggregation query over the ``keyscope_logs`` table."""
    stats = [
        _stats(_display(source, files), kind, *counted.get(number, (0, 0, 0, 0))[:3])
        for number, (source, kind, files) in enumerate(plans)
    ]
    query = aggregation_sql(
        spec,
        engine,
        window_start=window_start,
        window_end=window_end,
        logs_table="keyscope_logs",
        request_ids=any(entry[3] for entry in counted.values()),
        pretty=False,
    )
    return stats, query


def _plans(sources: Sequence[UsageSource]) -> list[tuple[UsageSource, str, list[Path]]]:
    """Each source's files grouped by kind, in a stable order."""
    plans = []
    for source in sources:
        by_kind: dict[str, list[Path]] = {}
        for file, kind in _source_files(source):
            by_kind.setdefault(kind, []).append(file)
        plans.extend((source, kind, files) for kind, files in sorted(by_kind.items()))
    return plans


def _display(source: UsageSource, files: list[Path]) -> str:
    from keyscope.redaction import redact

    return redact(str(files[0])) if len(files) == 1 else redact(source.path)


DUCKDB_MEMORY_LIMIT = "1536MB"
"""DuckDB's memory cap for ``keyscope aggregate``; beyond it, it spills to a temporary
folder (ten million lines then take about 1.5 GB instead of twice that)."""


def _run_duckdb(
    spec: ApiSpec,
    sources: Sequence[UsageSource],
    window_start: datetime | None,
    window_end: datetime | None,
) -> AggregateRun:
    import shutil
    import tempfile

    import duckdb

    from keyscope.errors import LogParseError
    from keyscope.sources.usage import _safe_error

    plans = _plans(sources)
    spill = tempfile.mkdtemp(prefix="keyscope-aggregate-")
    connection = duckdb.connect(
        ":memory:",
        config={
            # The query sorts its result; insertion order buys nothing and costs memory.
            "preserve_insertion_order": False,
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "temp_directory": spill,
        },
    )
    try:
        connection.execute("SET TimeZone = 'UTC'")
        # DuckDB would draw a progress bar over the terminal on long queries.
        connection.execute("SET enable_progress_bar = false")
        # Each file is read and parsed once into one table: the line statistics and the
        # query then scan parsed rows (a view would parse every timestamp several times).
        for number, (source, kind, files) in enumerate(plans):
            select = _duckdb_source(connection, source, files, kind)
            rows = f"SELECT {number} AS keyscope_source, * FROM ({select}) AS source_rows"  # noqa: S608
            statement = (
                f"CREATE TEMP TABLE keyscope_logs AS {rows}"
                if number == 0
                else f"INSERT INTO keyscope_logs {rows}"
            )
            try:
                connection.execute(statement)
            except duckdb.Error as error:
                raise LogParseError(
                    _display(source, files), f"cannot read: {_safe_error(error)}"
                ) from None
        counted = {
            int(number): (int(lines), int(bad), int(in_window), int(ids))
            for number, lines, bad, in_window, ids in connection.execute(
                _stats_sql("duckdb", "keyscope_logs", window_start, window_end, by_source=True)
            ).fetchall()
        }
        stats, query = _stats_and_query(spec, "duckdb", plans, counted, window_start, window_end)
        try:
            table = connection.sql(query).to_arrow_table()
        except duckdb.Error as error:
            raise LogParseError(
                ", ".join(s.source for s in stats), f"cannot aggregate: {_safe_error(error)}"
            ) from None
    finally:
        connection.close()
        shutil.rmtree(spill, ignore_errors=True)
    return AggregateRun(table=_finish(table), sources=tuple(stats))


# --------------------------------------------------------------------------- Spark


def _require_spark() -> None:
    """Fail with one clear line when PySpark or Java is missing."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        raise UsageError(
            f"--engine spark needs PySpark, which is not installed: {SPARK_INSTALL_HINT}"
        )
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or (
        java_home is not None and (Path(java_home) / "bin" / "java").is_file()
    )
    if not has_java:
        raise UsageError(
            "--engine spark needs Java (17 or later) on PATH or in JAVA_HOME; "
            "install a JDK or use --engine duckdb"
        )


def spark_session(master: str = "local[*]") -> Any:
    """A local Spark session set up for keyscope (UTC, quiet, small shuffles).

    Args:
        master: The Spark master URL (``local[2]`` runs on two cores of this machine).

    Returns:
        The ``pyspark.sql.SparkSession`` (shared: ``getOrCreate``).

    Raises:
        UsageError: PySpark or Java is missing.
    """
    import os

    _require_spark()
    from pyspark.sql import SparkSession

    # Local mode needs no network name; this also silences the loopback warning.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master(master)
        .appName("keyscope aggregate")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Small local runs drown in tasks with the default 200; a cluster master keeps it.
        .config("spark.sql.shuffle.partitions", "4" if master.startswith("local") else "200")
        .config(
            "spark.driver.extraJavaOptions",
            f"-Duser.timezone=UTC -Dlog4j2.configurationFile={_quiet_log4j().as_uri()}",
        )
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


_LOG4J2 = """\
# keyscope: Spark keeps quiet unless something fails (diagnostics belong on one line).
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.context.name = DataFrameQueryContextLogger
logger.context.level = off
"""


def _quiet_log4j() -> Path:
    """A log4j2 configuration that keeps Spark's console to errors, written once per process."""
    import atexit
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="keyscope-spark-"))
    path = folder / "log4j2.properties"
    path.write_text(_LOG4J2, encoding="utf-8")

    def remove() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    atexit.register(remove)
    return path


def _csv_delimiter(file: Path) -> str:
    """The delimiter of a CSV file's header line (comma unless another one is clearly used)."""
    import gzip

    opener = gzip.open if file.name.lower().endswith(".gz") else open
    with opener(file, "rt", encoding="utf-8", errors="replace", newline="") as stream:
        header = stream.readline()
    if file.name.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    counts = {delimiter: header.count(delimiter) for delimiter in (",", "\t", ";", "|")}
    best = max(counts, key=lambda delimiter: (counts[delimiter], delimiter == ","))
    return best if counts[best] else ","


def _spark_source(session: Any, source: UsageSource, files: list[Path], kind: str) -> Any:
    """A DataFrame of the canonical columns of one source's files of one kind."""
    from pyspark.sql import functions as F

    from keyscope.errors import LogParseError
    from keyscope.sources.usage import CANONICAL_FIELDS, DEDUP_FIELDS

    fields = {name: source.fields.get(name, name) for name in CANONICAL_FIELDS}
    where = _display(source, files)
    paths = [str(file) for file in files]
    string = "string"

    def status(column: Any) -> Any:
        return F.when(column.rlike(r"\A[1-5][0-9][0-9]\z"), column.cast("int"))

    def timestamp(column: Any, typed: str) -> Any:
        zone = source.timezone
        if typed == "timestamp":
            return column
        if typed in ("timestamp_ntz", "date"):
            return (
                F.to_utc_timestamp(column.cast("timestamp_ntz"), zone)
                if zone
                else F.lit(None).cast("timestamp")
            )
        if typed != string:
            return _spark_epoch(column.cast("double"))
        number = column.rlike(r"\A" + _NUMBER + r"\z")
        zoned = (
            column.endswith("Z") | column.endswith("z") | column.rlike(_ZONED.replace("$", r"\z"))
        )
        result = F.when(zoned, column.try_cast("timestamp")).when(
            number, _spark_epoch(column.try_cast("double"))
        )
        if zone:
            result = result.otherwise(F.to_utc_timestamp(column.try_cast("timestamp_ntz"), zone))
        return result

    if kind == "jsonl":
        lines = session.read.text(paths).where(F.expr("trim(BOTH ' \\t\\r\\n' FROM value) <> ''"))
        names = [fields[name] for name in CANONICAL_FIELDS] + list(DEDUP_FIELDS)
        extracted = [
            F.get_json_object("value", name).alias(f"f{index}")
            if name.startswith("$")
            else F.get_json_object("value", "$['" + name.replace("'", "\\'") + "']").alias(
                f"f{index}"
            )
            for index, name in enumerate(names)
        ]
        frame = lines.select(*extracted)
        return frame.select(
            F.col("f1").alias("key_id"),
            F.col("f2").alias("method"),
            F.col("f3").alias("path"),
            status(F.col("f4")).alias("status"),
            timestamp(F.col("f0"), string).alias("timestamp"),
            F.coalesce(F.col("f5"), F.col("f6")).alias("request_id"),
        )
    try:
        if kind == "csv":
            frame = (
                session.read.option("header", True)
                .option("sep", _csv_delimiter(files[0]))
                .option("mode", "PERMISSIVE")
                .csv(paths)
            )
        else:
            frame = session.read.parquet(*paths)
    except Exception as error:  # AnalysisException and friends: unreadable input
        raise LogParseError(where, f"cannot read: {type(error).__name__}") from None
    types = dict(frame.dtypes)
    for canonical, name in fields.items():
        if name not in types:
            raise LogParseError(
                where,
                f"no column {name!r}"
                + (f" (mapped from {canonical})" if name != canonical else ""),
            )

    def text(canonical: str) -> Any:
        return F.col(f"`{fields[canonical]}`").cast(string)

    mapped = set(fields.values())
    request_id = next((name for name in DEDUP_FIELDS if name in types and name not in mapped), None)
    return frame.select(
        text("key_id").alias("key_id"),
        text("method").alias("method"),
        text("path").alias("path"),
        status(text("status")).alias("status"),
        timestamp(F.col(f"`{fields['timestamp']}`"), types[fields["timestamp"]]).alias("timestamp"),
        (F.col(f"`{request_id}`").cast(string) if request_id else F.lit(None).cast(string)).alias(
            "request_id"
        ),
    )


def _spark_epoch(number: Any) -> Any:
    from pyspark.sql import functions as F

    magnitude = F.abs(number)
    micros = (
        F.when(F.isnan(number) | (magnitude == float("inf")), None)
        .when(magnitude < 1e11, F.round(number * 1e6))
        .when(magnitude < 1e14, F.round(number * 1e3))
        .when(magnitude < 1e17, F.round(number))
        .when(magnitude < 9e18, F.round(number / 1e3))
    )
    return F.timestamp_micros(micros.cast("long"))


def _run_spark(
    spec: ApiSpec,
    sources: Sequence[UsageSource],
    window_start: datetime | None,
    window_end: datetime | None,
    master: str,
) -> AggregateRun:
    session = spark_session(master)
    try:
        return _aggregate_on_spark(session, spec, sources, window_start, window_end)
    except KeyscopeError:
        raise
    except Exception as error:  # Py4J and Spark errors: one line, never a Java trace
        from keyscope.errors import LogParseError
        from keyscope.sources.usage import _safe_error

        where = ", ".join(sorted({redact(source.path) for source in sources}))
        raise LogParseError(where, f"Spark could not aggregate: {_safe_error(error)}") from None


def _aggregate_on_spark(
    session: Any,
    spec: ApiSpec,
    sources: Sequence[UsageSource],
    window_start: datetime | None,
    window_end: datetime | None,
) -> AggregateRun:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    plans = _plans(sources)
    logs = None
    for number, (source, kind, files) in enumerate(plans):
        frame = _spark_source(session, source, files, kind).withColumn(
            "keyscope_source", F.lit(number)
        )
        logs = frame if logs is None else logs.unionByName(frame)
    assert logs is not None
    # Read and parse the files once: the statistics and the query both scan the rows.
    logs = logs.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        logs.createOrReplaceTempView("keyscope_logs")
        counted = {
            int(row[0]): (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in session.sql(
                _stats_sql("spark", "keyscope_logs", window_start, window_end, by_source=True)
            ).collect()
        }
        stats, query = _stats_and_query(spec, "spark", plans, counted, window_start, window_end)
        table = session.sql(query).toArrow()
    finally:
        logs.unpersist()
    return AggregateRun(table=_finish(table), sources=tuple(stats))
