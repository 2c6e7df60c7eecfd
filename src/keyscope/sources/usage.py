"""Usage ingestion: request logs, HAR captures and aggregates into :class:`UsageData`.

Request logs can hold tens of millions of lines, so they never pass through Python one
line at a time.  Plain JSON lines are read and aggregated by keyscope's own scanner
(``_jsonl_scan.c``, see :meth:`_LogReader._scanned_jsonl`), which gives up on anything
else.  Everything else is read and aggregated inside an embedded, in-memory DuckDB (one
connection per :func:`load_usage` call, made when first needed, every core, no files left
behind):

1. **Read.**  JSON lines are read as raw text lines (so every physical line is seen and
   counted, whatever it holds) and the five fields are pulled out with one JSON parse
   per line; CSV is read with the header's columns, all as text; Parquet with its own
   types; HAR captures through :mod:`keyscope.sources.har`.  Gzip (``.gz``) is read
   transparently.
2. **Check every line** in SQL and give it a reason code: blank, not JSON, a missing
   field, a path that is neither a path nor a URL, an unreadable timestamp, a timestamp
   without a timezone (unless the source names one), a status that is not an HTTP
   status, a method that is not a word, an empty or overlong key id.  Lines DuckDB
   itself refuses (invalid UTF-8, a line over 1 MiB, a CSV record with the wrong
   number of fields) are counted from its rejects table, and an independent count of
   line feeds (a background thread) catches the lines it drops without a word.  Blank
   lines (space, tab, CR, vertical tab, form feed only) are not lines at all.
3. **Aggregate** in one pass with grouping sets: per (key, method, path without query,
   status) the counts and first/last timestamps in the window; per (key, UTC day) the
   counts for the daily series; and, when the source has a ``request_id`` or
   ``event_id``, a duplicate check.  Only when duplicates exist is the source
   aggregated again with repeats removed.
4. **Match** each distinct (method, path) once with the route matcher, in Python, and
   fold the groups into :class:`UsageRow` values per (key, method, path, operation,
   status class).  A matched request's path is its operation's template
   (``/invoices/{invoice_id}``), so rows stay bounded by keys x operations however many
   object ids the logs hold; an unmatched request keeps its normalized path.
5. Only when a source has bad lines, a second, slower pass finds the line numbers of
   the first five, as :class:`BadLine` examples whose reasons never quote the line (a
   log line can hold a secret).

A JSON-lines source first takes a fast path: DuckDB's own parallel JSON reader feeds
the same checks and aggregation, and its result is kept only when the read succeeds
(the reader fails on a line that is not one JSON object, invalid UTF-8, a duplicate
key...), no line is near the length limit and the file has no byte-order mark (for an
uncompressed file a memory-mapped look at its line feeds tells; a compressed one is
counted as it is read, and its rows must equal the count), no method or key id is
malformed, and the source has no request ids to de-duplicate.  Lines with bad values (a
missing field, an unreadable timestamp...) are then counted exactly and only their
examples take the slower pass.  Anything else and the source is read again by the
checked path above, so the figures and examples are the same either way.

A source of several files without request ids may still repeat lines where two files
cover the same time (overlapping exports, pages saved twice).  The aggregation then also
keeps each file's first and last in-window timestamp (a single file skips this, so the
common case costs nothing more); only when two ranges overlap does one more query read
the files concerned and count, per identical (timestamp, key, method, path with query,
status), the copies beyond the most any one file holds.  Those lines are kept (without
an id a repeat cannot be told from real traffic) and reported as
``SourceStats.suspected_duplicates``.

Every source satisfies ``lines == bad_lines + in_window + out_of_window + duplicates``
(blank lines are not counted as lines).  A source whose bad lines exceed the threshold
makes the data incomplete (``UsageData.incomplete_reasons``); only an unreadable file,
a glob that matches nothing, or a missing column raises :class:`LogParseError`.

The formats, the rules and the aggregate format are documented in
``docs/usage-formats.md``.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import shutil
import tempfile
import threading
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from glob import glob, has_magic
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from keyscope.errors import LogParseError
from keyscope.gc_pause import gc_paused
from keyscope.model import (
    BadLine,
    DailyCount,
    SourceStats,
    UsageData,
    UsageRow,
    status_class,
)
from keyscope.redaction import id_label, redact

try:
    # keyscope's C scanner for plain JSON-lines logs, built with the wheel when a C
    # compiler is at hand; without it every log is read by DuckDB (the same results).
    from keyscope.sources import _jsonl_scan
except ImportError:  # pragma: no cover - a build without a compiler
    _jsonl_scan = None

if TYPE_CHECKING:
    import duckdb

    from keyscope.settings import UsageSource

__all__ = [
    "AGGREGATE_COLUMNS",
    "CANONICAL_FIELDS",
    "DEDUP_FIELDS",
    "EXAMPLES_PER_SOURCE",
    "RouteMatching",
    "detect_kind",
    "expand_source",
    "file_literal",
    "load_usage",
]

CANONICAL_FIELDS = ("timestamp", "key_id", "method", "path", "status")
"""The fields every request needs; ``[[usage]] fields`` maps them to source columns."""

DEDUP_FIELDS = ("request_id", "event_id")
"""Columns that identify one request; when present, repeated lines are dropped."""

AGGREGATE_COLUMNS = ("key_id", "method", "path", "count", "first_seen", "last_seen")
"""Required columns of a ``kind = "aggregate"`` file, plus ``status`` or ``status_class``."""

EXAMPLES_PER_SOURCE = 5
"""Bad-line examples kept per source."""

MAX_LINE_BYTES = 1 << 20
"""A longer line is a bad line (DuckDB's reader refuses it).  Kept small on purpose:
DuckDB sizes its read buffers from it, and at 16 MiB and more they grow with the file
(1.5 GB for 10 million lines) instead of staying flat."""

_DAY_US = 86_400_000_000
_NOT_OBJECT = "not a JSON object"
# Read a text file as one column of whole lines: no quoting, no header, no sniffing (the
# sniffer guesses comment characters and gives up on mixed line endings); a line ends at
# LF, CRLF or a lone CR.  \x01 cannot occur unescaped in valid JSON.
_LINES_OPTIONS = (
    "auto_detect = false, header = false, columns = {'line': 'VARCHAR'}, delim = '\x01', "
    "quote = '', escape = '', strict_mode = false, compression = 'auto'"
)
# What DuckDB's JSON reader skips around a line's object and as a blank line: JSON's own
# whitespace plus vertical tab and form feed.  The checked path reads the same way, so a
# line means the same on both paths.
_JSON_BLANKS = "' \t\r\n' || chr(11) || chr(12)"
_JSON_TEXT = (
    f"CASE WHEN contains(line, chr(11)) OR contains(line, chr(12)) "
    f"THEN trim(line, {_JSON_BLANKS}) ELSE line END"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log")
_CSV_SUFFIXES = (".csv", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")

# Reason codes, computed per line in SQL (1-7) or per group (8-9); 10+ come from
# DuckDB's rejects table.  0 is a good line, 1 a blank one (not counted at all).
_OK, _BLANK = 0, 1
_REASONS: dict[int, str] = {
    2: "not valid JSON",
    3: "missing field",
    4: "path is neither a path nor a URL",
    5: "unreadable timestamp",
    6: "timestamp without a timezone (set timezone for this source to accept it)",
    7: "status is not an HTTP status code",
    8: "method is not an HTTP method",
    9: "key id is empty or longer than 256 characters",
    10: "not valid UTF-8",
    11: "line longer than 1 MiB",
    12: "more fields than the header",
    13: "fewer fields than the header",
    14: "unterminated or misplaced quote",
    15: "unreadable record",
    16: "line merged into another record (quoted line break or unterminated quote)",
    17: "count is not a positive whole number",
    18: "status_class is not success, denied, client_error or server_error",
    19: "first_seen is after last_seen",
    20: "first_seen or last_seen has no timezone (write UTC instants, e.g. Spark's "
    "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS)",
    21: "day is not a date (YYYY-MM-DD)",
    22: "day is outside first_seen to last_seen",
    23: "lone CR inside a line (a CSV line ends at LF or CRLF)",
}
_REJECT_REASONS = {
    "INVALID ENCODING": 10,
    "LINE SIZE OVER MAXIMUM": 11,
    "TOO MANY COLUMNS": 12,
    "MISSING COLUMNS": 13,
    "UNQUOTED VALUE": 14,
}

# SQL checks of one group's (or line's) text fields.
_STATUS_OK = "regexp_full_match(status, '[1-5][0-9][0-9]')"
_METHOD_OK = "regexp_full_match(method, '[A-Za-z]{1,20}')"
_KEY_OK = "(length(trim(key_id)) > 0 AND length(key_id) <= 256)"
_CANONICAL_METHOD = f"(CASE WHEN {_METHOD_OK} THEN upper(method) ELSE method END)"
# Method and key id are checked per group (cheap: few groups, and the groups keep them);
# everything else per line.
_GROUP_REASON = (
    f"CASE WHEN reason <> 0 THEN reason WHEN NOT {_METHOD_OK} THEN 8 "
    f"WHEN NOT {_KEY_OK} THEN 9 ELSE 0 END"
)
_VALID = f"({_METHOD_OK} AND {_KEY_OK})"
# The per-file grouping set of a multi-file plan: each file's first and last in-window
# timestamp (min/max of ts_in), to find files that cover the same time.
_FILE_SET = "grouping(file_name) = 0 AS is_file, file_name,"
# Three digits from 100 to 599 (the same as the text test above, without a regex per line).
_STATUS_CODE = "CASE WHEN length({0}) = 3 THEN TRY_CAST({0} AS SMALLINT) END"
# CASE rather than OR wherever the second test is costly: DuckDB evaluates both sides of
# an OR for every row, a CASE branch only for the rows that reach it.
_PATH_OK = (
    "(CASE WHEN starts_with(path, '/') THEN true "
    "ELSE regexp_matches(path, '^[A-Za-z][A-Za-z0-9+.-]*://') END)"
)
# A timestamp that names its zone: Z, an offset after the time, or UTC/GMT.  A numeric
# offset must lie within -14:00 to +14:00 (DuckDB reads "+99:00" and shifts the time by
# four days); any other offset-like end after a time is an unreadable timestamp.
_TIME = r"\d:\d\d(:\d\d([.,]\d+)?)?\s*"
_ZONED = _TIME + r"([+-]((0\d|1[0-3])(:?[0-5]\d)?|14(:?00)?)|(?i:utc|gmt))$"
_OFFSET_LIKE = _TIME + r"[+-][\d:]*$"
_NUMBER = r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?"
# A UTC offset as logs write it: "+99:99" would shift every request.  Real zones span
# -12:00 to +14:00; _offset also refuses +14:01 to +14:59, which the pattern lets by.
_OFFSET = re.compile(r"([+-])(0\d|1[0-4]):?([0-5]\d)?")
_LARGEST_OFFSET_MINUTES = 14 * 60
# DuckDB's number types: a column of one holds epoch seconds, milliseconds...
_NUMERIC = re.compile(r"U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL\(.*\)")


def _offset(zone: str) -> re.Match[str] | None:
    """``zone`` as a UTC offset within ±14:00, or None."""
    match = _OFFSET.fullmatch(zone)
    if match and int(match.group(2)) * 60 + int(match.group(3) or 0) > _LARGEST_OFFSET_MINUTES:
        return None
    return match


class RouteMatching(Protocol):
    """What ingestion needs from a route matcher (``keyscope.analysis.routes.RouteMatcher``)."""

    def match(self, method: str, raw_path: str) -> str | None:
        """The ``Operation.key`` a request called, or None."""
        ...


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class _Plan:
    """The files of one ``[[usage]]`` entry that share a kind, read together."""

    source: UsageSource
    kind: str
    files: tuple[Path, ...]

    @property
    def display(self) -> str:
        return redact(self.source.path)


def detect_kind(path: Path) -> str | None:
    """The usage kind a file's name says (``jsonl``, ``csv``, ``parquet``, ``har``), or None."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(".har"):
        return "har"
    return None


def expand_source(source: UsageSource) -> tuple[Path, ...]:
    """The files of a source: the file itself, or the glob's matches sorted by name.

    Raises:
        LogParseError: a glob matches no file, or a named file does not exist or is a
            folder.
    """
    pattern = str(Path(source.path).expanduser())
    if has_magic(pattern):
        # glob.glob, not Path.glob: the pattern is absolute and may have magic anywhere.
        matches = glob(pattern, recursive=True)  # noqa: PTH207
        files = sorted(Path(match) for match in matches)
        files = [file for file in files if file.is_file()]
        if not files:
            raise LogParseError(redact(source.path), "the pattern matches no file")
        return tuple(files)
    path = Path(pattern)
    if not path.exists():
        raise LogParseError(redact(source.path), "file not found")
    if not path.is_file():
        raise LogParseError(redact(source.path), "not a file")
    return (path,)


def _plans(sources: Sequence[UsageSource]) -> list[_Plan]:
    plans: list[_Plan] = []
    for source in sources:
        by_kind: dict[str, list[Path]] = {}
        for file in expand_source(source):
            kind = source.kind or detect_kind(file)
            if kind is None:
                raise LogParseError(
                    redact(str(file)),
                    "cannot tell the format from the name; set kind (jsonl, csv, parquet, "
                    "har or aggregate) for this [[usage]] entry",
                )
            if kind == "parquet" and file.name.lower().endswith(".gz"):
                raise LogParseError(
                    redact(str(file)), "Parquet is compressed inside the file; .gz is not read"
                )
            by_kind.setdefault(kind, []).append(file)
        plans.extend(_Plan(source, kind, tuple(files)) for kind, files in sorted(by_kind.items()))
    return plans


# --------------------------------------------------------------------------- entry point


def load_usage(
    sources: Sequence[UsageSource],
    matcher: RouteMatching,
    *,
    window_start: datetime,
    window_end: datetime,
    bad_line_threshold: float = 0.01,
) -> UsageData:
    """Read every usage source and aggregate it for the audit.

    Args:
        sources: The ``[[usage]]`` entries (paths already absolute).
        matcher: Maps ``(method, path)`` to an ``Operation.key``; called once per
            distinct pair.
        window_start: First instant counted (inclusive, UTC; a naive value is UTC).
        window_end: End of the window (exclusive), normally ``as_of``: later timestamps,
            clock skew included, are out of the window.
        bad_line_threshold: A source with a larger fraction of bad lines makes the data
            incomplete.

    Returns:
        Rows, daily counts, per-source statistics, up to five bad-line examples per
        source, the days with data, and the reasons the data is incomplete, if any.

    Raises:
        LogParseError: a file is missing or unreadable, a glob matches nothing, a
            required column is absent, or the source's timezone is unknown.
    """
    start_us = _to_us(window_start)
    end_us = _to_us(window_end)
    plans = _plans(sources)
    results: list[_PlanResult] = []
    with gc_paused():
        with contextlib.ExitStack() as stack:
            connection = _LazyConnection(stack)
            for number, plan in enumerate(plans):
                reader = _AggregateReader if plan.kind == "aggregate" else _LogReader
                results.append(reader(connection, plan, number, start_us, end_us).run())
        return _assemble(results, matcher, bad_line_threshold)


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class _LazyConnection:
    """DuckDB's connection, made on first use: plans the scanner reads need none (importing
    and starting DuckDB is about 0.15 s of a run)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._connection: duckdb.DuckDBPyConnection | None = None

    def __getattr__(self, name: str) -> Any:
        if self._connection is None:
            self._connection = self._stack.enter_context(_connect())
        return getattr(self._connection, name)


@contextlib.contextmanager
def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB on every core, spilling (if ever) to a folder removed after."""
    import duckdb

    spill = tempfile.mkdtemp(prefix="keyscope-duckdb-")
    try:
        connection = duckdb.connect(
            ":memory:",
            config={
                "threads": _cores(),
                # Results are sorted in Python; letting DuckDB reorder saves memory and time.
                "preserve_insertion_order": False,
                "temp_directory": spill,
            },
        )
        try:
            connection.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for long queries: never in a report.
            connection.execute("SET enable_progress_bar = false")
            yield connection
        finally:
            connection.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _literal(text: str) -> str:
    """A SQL string literal (DuckDB: single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _safe_error(error: Exception) -> str:
    """A one-line description of a DuckDB error that never quotes file content."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for marker in ("Original Line", "Input:", "Line:", '"'):
        position = first.find(marker)
        if position > 0:
            first = first[:position].rstrip(" :")
    return redact(first[:160]) or type(error).__name__


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class _PlanResult:
    stats: SourceStats
    groups: list[tuple[str, str, str, str, int, int, int, str | None]]
    """(key_id, METHOD, path, status class, count, first µs, last µs, given operation)."""
    daily: list[tuple[str, int, int, int]]
    """(key_id, day number, success, denied)."""
    days: set[int]
    examples: list[BadLine]


@dataclass(frozen=True, slots=True)
class _Suspicion:
    """Suspected repeats of one plan (see :meth:`_LogReader._suspected_repeats`)."""

    count: int = 0
    files: tuple[str, ...] = ()
    span: tuple[datetime, datetime] | None = None


# --------------------------------------------------------------------------- log reader


@dataclass(frozen=True, slots=True)
class _Columns:
    """SQL over one reader: ``source`` is a FROM item; the rest are expressions over it."""

    source: str
    blank: str
    parsed: str
    timestamp: str
    key_id: str
    method: str
    path: str
    status: str
    request_id: str | None
    line_number: str | None = None
    """Expression for the line (or entry, or row) number, in the example pass only."""
    missing_detail: str = "NULL"
    file: str = "NULL::VARCHAR"
    """The file a row came from (NULL: unknown), so the example pass reads only the files
    that have bad lines."""


class _LineEndError(LogParseError):
    """DuckDB's strict CSV reader met mixed line ends (see :func:`_normalize_line_ends`)."""


class _PlanReader:
    """What every reader of one plan shares: the connection, the window, table names
    unique within the call, and DuckDB errors turned into one-line input errors."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        plan: _Plan,
        number: int,
        start_us: int,
        end_us: int,
    ) -> None:
        self.connection = connection
        self.plan = plan
        self.number = number
        self.start_us = start_us
        self.end_us = end_us
        self._counter = 0
        self._copies: dict[Path, tuple[Path, list[int]]] = {}
        """CSV files whose line ends were normalized: the copy DuckDB reads instead, and
        the lines that held a lone CR (blank in the copy, bad lines here)."""
        self._copy_folder: str | None = None

    def _normalize_csvs(self, files: Sequence[Path]) -> bool:
        """Give each of ``files`` whose line ends are mixed a normalized copy; whether any
        was needed (if none was, retrying cannot help)."""
        changed = False
        for file in files:
            if file in self._copies:
                continue
            if self._copy_folder is None:
                self._copy_folder = tempfile.mkdtemp(prefix="keyscope-csv-")
            copy = Path(self._copy_folder) / f"{len(self._copies)}.csv"
            lone = _normalize_line_ends(file, copy)
            if lone is None:
                copy.unlink(missing_ok=True)
                continue
            self._copies[file] = (copy, lone)
            changed = True
        return changed

    def _read_path(self, file: Path) -> Path:
        """The file DuckDB reads for ``file``: itself, or its normalized copy."""
        copy = self._copies.get(file)
        return copy[0] if copy else file

    def _original(self, path: str) -> str:
        """The file a path DuckDB names stands for (a normalized copy's original)."""
        for file, (copy, _) in self._copies.items():
            if str(copy) == path:
                return str(file)
        return path

    def _remove_copies(self) -> None:
        if self._copy_folder is not None:
            shutil.rmtree(self._copy_folder, ignore_errors=True)
            self._copy_folder = None
        self._copies = {}

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self.number}_{self._counter}"

    def _execute(
        self, sql: str, where: str | None = None, parameters: list[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        import duckdb

        try:
            return self.connection.execute(sql, parameters).fetchall()
        except duckdb.Error as error:
            location = where or (
                redact(str(self.plan.files[0])) if len(self.plan.files) == 1 else self.plan.display
            )
            if "state machine reached an invalid state" in str(error):
                # DuckDB's strict CSV reader on mixed LF and CRLF line ends, or a lone CR.
                raise _LineEndError(
                    location,
                    "cannot read: the lines end in a mix of LF, CRLF and lone CR "
                    "that the reader could not untangle",
                ) from None
            raise LogParseError(location, f"cannot read: {_safe_error(error)}") from None


class _LogReader(_PlanReader):
    """Reads request logs (JSON lines, CSV, Parquet, HAR) of one plan."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        plan: _Plan,
        number: int,
        start_us: int,
        end_us: int,
    ) -> None:
        super().__init__(connection, plan, number, start_us, end_us)
        self.fields = {name: plan.source.fields.get(name, name) for name in CANONICAL_FIELDS}
        self.timezone = self._check_timezone(plan.source.timezone)
        self.rejects: list[tuple[str, str]] = []
        """(errors, scans) rejects tables of the reads so far (one pair per read_csv call)."""
        self.physical_lines: int | None = None
        """CSV only: non-blank physical lines after the header, counted apart."""
        self.lines_seen = 0
        """Lines DuckDB's line reader saw, blank ones and the header included (CSV)."""
        self._jsonl_request_ids: list[str] | None = None
        self._extra_rejects: set[tuple[str, int, int]] = set()
        """(file, line, reason) of lines refused here rather than by DuckDB's reader."""
        self._ts_type = "VARCHAR"
        """DuckDB type of the timestamp column (Parquet may carry a real timestamp)."""

    # ------------------------------------------------------------------ helpers

    def _check_timezone(self, zone: str | None) -> str | None:
        if zone is None or _offset(zone):
            return zone
        if _OFFSET.fullmatch(zone):
            raise LogParseError(
                self.plan.display, f"timezone offset {zone!r} is beyond ±14:00, which no zone uses"
            )
        import duckdb

        try:
            self.connection.execute(
                f"SELECT timezone({_literal(zone)}, TIMESTAMP '2020-01-01 00:00:00')"
            ).fetchall()
        except duckdb.Error:
            raise LogParseError(
                self.plan.display,
                f"unknown timezone {zone!r} (use a zone name such as UTC or Europe/Berlin, "
                "or an offset such as +02:00)",
            ) from None
        return zone

    # ------------------------------------------------------------------ run

    def run(self) -> _PlanResult:
        files = self.plan.files
        scanned = self._scanned_jsonl()
        if scanned is not None:
            return scanned
        uncounted = self.plan.kind == "jsonl" and all(_looks_regular(file) for file in files)
        if uncounted:
            # Uncompressed files whose line lengths are already known to be fine: the
            # JSON reader's own errors cover everything else, so no line count is needed.
            fast = self._fast_jsonl(None)
            if fast is not None:
                return fast
        counter = _LineCounter(files) if self.plan.kind in ("jsonl", "csv") else None
        try:
            try:
                return self._run(counter, try_fast=not uncounted)
            except _LineEndError:
                # Mixed LF and CRLF line ends (or a lone CR) stop DuckDB's strict CSV
                # reader: read copies with LF line ends, a line with a lone CR made bad.
                if self.plan.kind != "csv" or not self._normalize_csvs(files):
                    raise
                self._drop_rejects()
                self.physical_lines = None
                self.lines_seen = 0
                for file, (_, lone) in self._copies.items():
                    self._extra_rejects.update((str(file), number, 23) for number in lone)
                return self._run(counter, try_fast=False)
        finally:
            self._remove_copies()
            if counter is not None:
                counter.cancel()

    def _run(self, counter: _LineCounter | None, *, try_fast: bool) -> _PlanResult:
        if counter is not None and try_fast and self.plan.kind == "jsonl":
            fast = self._fast_jsonl(counter)
            if fast is not None:
                return fast
        plan = self.plan
        columns = self._columns(line_numbers=False)
        deduplicate = columns.request_id is not None
        # Without request ids, files of one plan that cover the same time may repeat lines:
        # their time ranges come with the aggregation (never for a single file).
        file_ranges = len(plan.files) > 1 and not deduplicate
        rows = self._rows_sql(columns, with_file=file_ranges)
        table = self._name("g")
        self._aggregate(
            table,
            rows,
            deduplicate=False,
            detect_duplicates=deduplicate,
            file_ranges=file_ranges,
        )
        rejects = self._reject_lines()
        if (
            deduplicate
            and self._execute(
                f"SELECT count(*) FROM {table} WHERE is_dup AND dup_hash IS NOT NULL"  # noqa: S608
            )[0][0]
        ):
            # Repeats exist: aggregate again from the de-duplicated lines (exact).
            self._execute(f"DROP TABLE {table}")
            self._aggregate(
                table,
                self._rows_sql(self._columns(False)),
                deduplicate=True,
                detect_duplicates=False,
            )
        counts = self._reason_counts(table)
        blank = counts.pop(_BLANK, (0, 0, 0))[0]
        if plan.kind == "jsonl":
            self.lines_seen = sum(raw for raw, _, _ in counts.values()) + blank + len(rejects)
        bad_by_reason = {reason: raw for reason, (raw, _, _) in counts.items() if reason != _OK}
        for reason, lines in _count_by(rejects, lambda entry: entry[2]).items():
            bad_by_reason[reason] = bad_by_reason.get(reason, 0) + lines
        good_raw, good, in_window = counts.get(_OK, (0, 0, 0))
        duplicates = good_raw - good
        records = sum(bad_by_reason.values()) + good_raw
        lines = records
        if self.physical_lines is not None and self.physical_lines > records:
            # CSV: physical lines swallowed by a multi-line record are bad lines too.
            bad_by_reason[16] = self.physical_lines - records
            lines = self.physical_lines
        skipped = 0
        if counter is not None:
            counted = counter.result()
            if counted is not None and counted > self.lines_seen:
                # DuckDB's reader skips a line of many MiB without a word (it refuses one of
                # a few MiB properly); the independent count makes the loss visible.
                skipped = counted - self.lines_seen
                bad_by_reason[11] = bad_by_reason.get(11, 0) + skipped
                lines += skipped
        bad = sum(bad_by_reason.values())
        suspicion = self._suspected_repeats(table, fast=False) if file_ranges else _Suspicion()
        stats = SourceStats(
            source=plan.display,
            kind=plan.kind,
            lines=lines,
            bad_lines=bad,
            in_window=in_window,
            out_of_window=good - in_window,
            duplicates=duplicates,
            suspected_duplicates=suspicion.count,
            suspected_duplicate_files=suspicion.files,
            suspected_duplicate_span=suspicion.span,
        )
        groups = self._groups(table)
        daily, days = self._daily(table)
        scan = self._files_with_bad_rows(table, counts)
        self._execute(f"DROP TABLE {table}")
        self._drop_rejects()
        examples = self._examples(rejects, scan) if bad else []
        if skipped:
            examples = _long_line_examples(plan.files, examples)
        if bad_by_reason.get(16):
            examples = _merged_line_examples(plan.files, examples)
        return _PlanResult(stats, groups, daily, days, examples)

    def _scanned_jsonl(self) -> _PlanResult | None:
        """Plain JSON lines, read and aggregated by keyscope's own scanner.

        The scanner (``_jsonl_scan.c``) takes one JSON object a line whose fields read
        here are plain strings, with zoned ISO timestamps, and gives up on the whole plan
        at the first line outside that shape, and wherever DuckDB's reader might answer
        differently; then None, and DuckDB reads the plan.  Bad values it can judge
        exactly (a missing field, a status outside 100-599) are counted, and their
        examples come from the checked pass, as on the DuckDB fast path.
        ``KEYSCOPE_SCANNER=off`` turns it off (for comparing).
        """
        if (
            _jsonl_scan is None
            or self.plan.kind != "jsonl"
            or os.environ.get("KEYSCOPE_SCANNER", "").lower() == "off"
        ):
            return None
        files = self.plan.files
        wanted = self._plain_field_names()
        if (
            wanted is None
            or not all(wanted)
            or any(file.name.lower().endswith(".gz") for file in files)
            or not _utf8_ok(*map(str, files))
        ):
            # Compressed files and names DuckDB cannot take are its business too (so is
            # the error an empty field name or such a file name gets).
            return None
        # The scanner gives up on a line with a request or event id (de-duplication reads
        # them line by line), so those fields need no look beforehand.
        stops = [name for name in DEDUP_FIELDS if name not in wanted]
        scanned = _jsonl_scan.scan(
            [os.fsencode(file) for file in files],
            [name.encode() for name in wanted],
            [name.encode() for name in stops],
            self.start_us,
            self.end_us,
            _cores(),
        )
        if scanned is None:
            return None
        # Every line is one JSON object without duplicate top-level names, so Python's
        # parser finds the same fields as DuckDB's would: a mapped field no line has is
        # the same one-line error as on the other paths, without starting DuckDB.
        self._jsonl_request_ids = self._check_jsonl_fields(wanted, _plain_fields_present)
        lines, missing, bad_status, good, in_window, groups, daily, ranges = scanned
        self.lines_seen = lines
        suspicion = _Suspicion()
        if len(files) > 1:  # see _run
            spans = {str(file): span for file, span in zip(files, ranges, strict=True) if span}
            suspicion = self._repeats_in(spans, fast=True)
        stats = self._stats_without_repeats(lines, missing + bad_status, good, in_window, suspicion)
        return self._with_examples(stats, groups, daily, {row[1] for row in daily})

    def _fast_jsonl(self, counter: _LineCounter | None) -> _PlanResult | None:
        """The common case of JSON lines, read by DuckDB's JSON reader.

        DuckDB's parallel JSON reader pulls the fields out about twice as fast as one
        JSON parse per text line, but it refuses a whole file for one malformed line
        and skips blank ones silently.  So its result is kept only when every line is
        known to be a row or blank: the read succeeded (no malformed line, invalid
        UTF-8, two objects on a line, an object over two lines, a duplicate key...; the
        reader fails on each) and no line is near the length limit or starts the file
        with a byte-order mark (``counter``, for compressed files, also checks that the
        rows equal its count of lines; uncompressed ones were looked at by
        :func:`_looks_regular`).  The rows get the same checks as the checked path (the
        same SQL from the columns on), except that a malformed method or key id falls
        back.  Otherwise None, and the checked path reads the file again.
        """
        wanted = self._plain_field_names()
        if wanted is None:
            return None
        if self._jsonl_request_ids is None:
            self._jsonl_request_ids = self._check_jsonl_fields(wanted)
        if self._jsonl_request_ids:
            return None  # de-duplication reads the request ids line by line
        file_ranges = len(self.plan.files) > 1  # see _run
        table = self._name("g")
        try:
            self._aggregate_clean(
                table,
                self._rows_sql(
                    self._fast_columns(self.plan.files), strip_query=False, with_file=file_ranges
                ),
                file_ranges=file_ranges,
            )
        except LogParseError:
            self._drop_tables(table)
            return None  # a line the JSON reader refused: the checked path finds it
        counts = self._reason_counts(table)
        rows = sum(raw for raw, _, _ in counts.values())
        good_raw, good, in_window = counts.get(_OK, (0, 0, 0))
        if (
            not counts
            # Blank and unparsed lines never reach here; a malformed method or key id
            # needs the daily set's method column, which this path leaves out.
            or set(counts) & {_BLANK, 2, 8, 9}
            or (counter is not None and (not counter.plain() or counter.result() != rows))
        ):
            self._drop_tables(table)
            return None
        # Every line is a row here, so bad values (a missing field, an unreadable
        # timestamp...) are counted exactly; only their examples need the checked pass.
        self.lines_seen = rows
        suspicion = self._suspected_repeats(table, fast=True) if file_ranges else _Suspicion()
        stats = self._stats_without_repeats(rows, rows - good_raw, good, in_window, suspicion)
        groups = self._groups(table, strip_query=True)
        daily, days = self._daily(table, checked=True)
        self._execute(f"DROP TABLE {table}")
        return self._with_examples(stats, groups, daily, days)

    def _plain_field_names(self) -> list[str] | None:
        """The five mapped field names, or None where a JSON path or two fields sharing a
        column make the plan the checked path's business."""
        wanted = [self.fields[name] for name in CANONICAL_FIELDS]
        if any(name.startswith("$") for name in wanted) or len(set(wanted)) != len(wanted):
            return None
        return wanted

    def _with_examples(
        self,
        stats: SourceStats,
        groups: list[tuple[str, str, str, str, int, int, int, str | None]],
        daily: list[tuple[str, int, int, int]],
        days: set[int],
    ) -> _PlanResult:
        """A plan read in one pass (the scanner, the fast path): bad lines, which it only
        counted, get their examples from the checked pass."""
        examples = (
            self._examples([], {str(file) for file in self.plan.files}) if stats.bad_lines else []
        )
        return _PlanResult(stats, groups, daily, days, examples)

    def _stats_without_repeats(
        self, lines: int, bad: int, good: int, in_window: int, suspicion: _Suspicion
    ) -> SourceStats:
        """The figures of a plan read without de-duplication (the scanner, the fast path)."""
        return SourceStats(
            source=self.plan.display,
            kind=self.plan.kind,
            lines=lines,
            bad_lines=bad,
            in_window=in_window,
            out_of_window=good - in_window,
            duplicates=0,
            suspected_duplicates=suspicion.count,
            suspected_duplicate_files=suspicion.files,
            suspected_duplicate_span=suspicion.span,
        )

    def _fast_columns(self, files: Sequence[Path]) -> _Columns:
        """The fast path's columns: DuckDB's JSON reader over ``files``."""
        wanted = [self.fields[name] for name in CANONICAL_FIELDS]
        names = [f"c_{canonical}" for canonical in CANONICAL_FIELDS]
        column_types = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in wanted)
        renamed = ", ".join(
            f"{_identifier(name)} AS {alias}" for name, alias in zip(wanted, names, strict=True)
        )
        source = f"""(
            SELECT {renamed}, filename
            FROM read_json({_file_list(files)}, format = 'newline_delimited',
                           columns = {{{column_types}}}, compression = 'auto',
                           maximum_object_size = {MAX_LINE_BYTES}, filename = true)
        )"""  # noqa: S608 - file and field names are escaped literals
        self._ts_type = "VARCHAR"
        return _Columns(
            source=source,
            blank="false",
            parsed="true",
            timestamp="c_timestamp",
            key_id="c_key_id",
            method="c_method",
            path="c_path",
            status="c_status",
            request_id=None,
            file="filename",
        )

    # ------------------------------------------------------------------ suspected repeats

    def _suspected_repeats(self, table: str, *, fast: bool) -> _Suspicion:
        """Lines that look repeated because two or more files cover the same time.

        Only for a plan of several files without request ids.  ``table`` holds each
        file's first and last in-window timestamp (the ``(file_name)`` grouping set);
        when no two ranges overlap the answer is 0 with no further work.  Otherwise one
        more query reads just the overlapping files (with the reader that made
        ``table``, ``fast`` or checked, so a good line means the same) and, per
        identical (timestamp in µs, key, method, path with its query, status) of the
        good in-window lines in the overlapping spans, counts the copies beyond the
        most any one file holds: repeats within one file are never guessed at (an
        integration may well send the same request twice in a microsecond's log
        resolution), and a tuple outside the spans is in one file only, so the spans
        only narrow the work.
        """
        ranges = {
            str(name): (int(first), int(last))
            for name, first, last in self._execute(
                f"SELECT file_name, first_us, last_us FROM {table} "  # noqa: S608
                "WHERE is_file AND n_in > 0 AND file_name IS NOT NULL"
            )
        }
        return self._repeats_in(ranges, fast=fast)

    def _repeats_in(self, ranges: dict[str, tuple[int, int]], *, fast: bool) -> _Suspicion:
        """The suspected repeats, from each file's first and last in-window timestamp."""
        involved, spans = _overlaps(ranges)
        if not spans:
            return _Suspicion()
        files = [file for file in self.plan.files if str(file) in involved]
        if len(files) < 2:  # a name DuckDB spelled differently: read them all
            files = list(self.plan.files)
        within = " OR ".join(f"ts_us BETWEEN {first} AND {last}" for first, last in spans)
        outer_rejects, self.rejects = self.rejects, []
        try:
            columns = self._fast_columns(files) if fast else self._columns(False, files)
            rows = self._rows_sql(columns, strip_query=False, with_file=True)
            count, first, last, names = self._execute(
                f"""
                SELECT coalesce(sum(extra), 0), min(ts_us), max(ts_us),
                       list_sort(list_distinct(flatten(list(files))))
                FROM (
                    SELECT ts_us, sum(copies) - max(copies) AS extra, list(file_name) AS files
                    FROM (
                        SELECT ts_us, key_id, method, path, status, file_name, count(*) AS copies
                        FROM ({rows})
                        WHERE reason = 0 AND day IS NOT NULL AND {_VALID} AND ({within})
                        GROUP BY ts_us, key_id, method, path, status, file_name
                    )
                    GROUP BY ts_us, key_id, method, path, status
                    HAVING count(*) > 1
                )
                """  # noqa: S608 - built from escaped literals and integers
            )[0]
        finally:
            self._drop_rejects()
            self.rejects = outer_rejects
        if not count:
            return _Suspicion()
        return _Suspicion(
            int(count),
            tuple(sorted({redact(str(name)) for name in names or ()})),
            (_from_us(int(first)), _from_us(int(last))),
        )

    # ------------------------------------------------------------------ SQL

    def _rows_sql(
        self, columns: _Columns, *, strip_query: bool = True, with_file: bool = False
    ) -> str:
        """One row per line: its reason code and fields, the day if it is in the window.

        Layered so each source expression is evaluated once: the innermost SELECT pulls
        the raw fields out, the next derives typed values from those columns, then the
        reason code, then the day.  With ``strip_query`` false the path keeps its query
        (the path check gives the same answer either way) and :meth:`_groups` cuts it
        from the few distinct paths instead of every line.  ``with_file`` adds the
        ``file_name`` of every line (for the per-file time ranges of a multi-file plan).
        """
        ts_us = _timestamp_us("ts_text", self.timezone, typed=self._ts_type)
        naive = _timestamp_naive("ts_text", typed=self._ts_type)
        numbered = columns.line_number is not None
        example_columns = (
            f", {columns.missing_detail} AS missing_detail, {columns.line_number} AS line_number"
            if numbered
            else ""
        )
        return f"""
            SELECT reason, key_id, method, path, status_code AS status, ts_us, request_id
                   {", missing_detail, line_number" if numbered else ""},
                   CASE WHEN reason = 0 AND ts_us >= {self.start_us} AND ts_us < {self.end_us}
                        THEN ts_us // {_DAY_US} END AS day,
                   CASE WHEN reason > 1 THEN file_name END AS bad_file
                   {", file_name" if with_file else ""}
            FROM (
                SELECT CASE
                         WHEN blank_line THEN 1
                         WHEN NOT parsed THEN 2
                         WHEN key_id IS NULL OR method IS NULL OR path IS NULL
                              OR status_text IS NULL OR ts_text IS NULL THEN 3
                         WHEN NOT {_PATH_OK} THEN 4
                         WHEN ts_us IS NULL THEN CASE WHEN {naive} THEN 6 ELSE 5 END
                         WHEN status_code IS NULL OR status_code NOT BETWEEN 100 AND 599 THEN 7
                         ELSE 0 END AS reason,
                       *
                FROM (
                    SELECT *, {ts_us} AS ts_us,
                           {_strip_query("raw_path") if strip_query else "raw_path"} AS path,
                           {_STATUS_CODE.format("status_text")} AS status_code
                    FROM (
                        SELECT {columns.blank} AS blank_line, {columns.parsed} AS parsed,
                               {columns.key_id} AS key_id, {columns.method} AS method,
                               {columns.path} AS raw_path, {columns.status} AS status_text,
                               {columns.timestamp} AS ts_text, {columns.file} AS file_name,
                               {columns.request_id or "NULL::VARCHAR"} AS request_id
                               {example_columns}
                        FROM {columns.source}
                    )
                )
            )
        """  # noqa: S608 - identifiers and literals are escaped; numbers are ints

    def _aggregate(
        self,
        table: str,
        rows: str,
        *,
        deduplicate: bool,
        detect_duplicates: bool,
        file_ranges: bool = False,
    ) -> None:
        if deduplicate:
            keep = "reason = 0 AND request_id IS NOT NULL"
            # A copy is the same request however its method was cased ("get" and "GET"
            # count once); an invalid method keeps its text for the reason check.
            rows = f"""
                SELECT reason, key_id, method, path, status, ts_us, day,
                       NULL::VARCHAR AS bad_file, count(*) AS copies
                FROM (SELECT * REPLACE ({_CANONICAL_METHOD} AS method) FROM ({rows}))
                WHERE {keep}
                GROUP BY reason, key_id, method, path, status, ts_us, day, request_id
                UNION ALL
                SELECT reason, key_id, method, path, status, ts_us, day, bad_file, 1 AS copies
                FROM ({rows}) WHERE NOT ({keep})
            """  # noqa: S608
        raw = "sum(copies)" if deduplicate else "count(*)"
        # Per (key, method, path, status): the usage rows; per (key, method, day, class):
        # the daily series (method stays in it so a group with a malformed method can be
        # left out; a class column is cheaper than FILTERed counts in every set).
        sets = [
            "(reason, key_id, method, path, status, bad_file)",
            "(key_id, method, day, klass)",
        ]
        duplicate_hash = ""
        having = ""
        if detect_duplicates:
            duplicate_hash = (
                ", CASE WHEN reason = 0 AND request_id IS NOT NULL "
                f"THEN hash(request_id, key_id, {_CANONICAL_METHOD}, path, status, ts_us) "
                "END AS dup_hash"
            )
            sets.append("(dup_hash)")
            having = "HAVING grouping(dup_hash) = 1 OR count(*) > 1"
        if file_ranges:
            sets.append("(file_name)")
        self._execute(
            f"""
            CREATE TEMP TABLE {table} AS
            SELECT grouping(reason) = 0 AS is_main, grouping(day) = 0 AS is_daily,
                   {"grouping(dup_hash) = 0" if detect_duplicates else "false"} AS is_dup,
                   {_FILE_SET if file_ranges else ""}
                   reason, key_id, method, path, status, day, klass, bad_file,
                   {"dup_hash" if detect_duplicates else "NULL::UBIGINT AS dup_hash"},
                   count(*) AS n, {raw} AS raw, count(day) AS n_in,
                   min(ts_in) AS first_us, max(ts_in) AS last_us
            FROM (
                SELECT *{duplicate_hash},
                       CASE WHEN status < 400 THEN 0 WHEN status IN (401, 403) THEN 1 ELSE 2
                       END AS klass,
                       CASE WHEN day IS NOT NULL THEN ts_us END AS ts_in
                FROM ({rows})
            )
            GROUP BY GROUPING SETS ({", ".join(sets)})
            {having}
            """  # noqa: S608
        )

    def _aggregate_clean(self, table: str, rows: str, *, file_ranges: bool = False) -> None:
        """The table :meth:`_aggregate` makes, for lines believed clean (no de-duplication).

        The daily set leaves the method out: it is there only so groups with a malformed
        method can be dropped, and the fast path keeps its result only when there are
        none.  Fewer grouping columns is about a quarter less CPU on 10 million lines.
        Whether a line is in the window is a grouping column here rather than a CASE
        inside three aggregates (a group's lines outside the window get a row of their
        own, with ``n_in`` 0): one cheap key instead of a filtered count and a filtered
        minimum and maximum per line, about 6% of the query's CPU.
        """
        in_window = "CASE WHEN in_window THEN {} END"
        self._execute(
            f"""
            CREATE TEMP TABLE {table} AS
            SELECT grouping(reason) = 0 AS is_main, grouping(day) = 0 AS is_daily, false AS is_dup,
                   {_FILE_SET if file_ranges else ""}
                   reason, key_id, method, path, status, day, klass, NULL::VARCHAR AS bad_file,
                   NULL::UBIGINT AS dup_hash,
                   count(*) AS n, count(*) AS raw,
                   coalesce({in_window.format("count(*)")}, 0) AS n_in,
                   {in_window.format("min(ts_us)")} AS first_us,
                   {in_window.format("max(ts_us)")} AS last_us
            FROM (
                SELECT *,
                       CASE WHEN status < 400 THEN 0 WHEN status IN (401, 403) THEN 1 ELSE 2
                       END AS klass,
                       day IS NOT NULL AS in_window
                FROM ({rows})
            )
            GROUP BY GROUPING SETS ((reason, key_id, method, path, status, in_window),
                                    (key_id, day, klass)
                                    {", (file_name, in_window)" if file_ranges else ""})
            """  # noqa: S608
        )

    def _files_with_bad_rows(self, table: str, counts: dict[int, tuple[int, int, int]]) -> set[str]:
        """Files the example pass must read: those with bad rows (all when unknown)."""
        everything = {str(file) for file in self.plan.files}
        if counts.get(8) or counts.get(9):
            return everything  # judged per group, so the file is not known
        result = self._execute(
            f"""
            SELECT DISTINCT coalesce(bad_file, '') FROM {table}
            WHERE is_main AND reason > 1
            """  # noqa: S608
        )
        files = {str(name) for (name,) in result}
        return everything if "" in files else files

    def _reason_counts(self, table: str) -> dict[int, tuple[int, int, int]]:
        """reason -> (lines as read, lines kept after de-duplication, kept in window)."""
        result = self._execute(
            f"""
            SELECT {_GROUP_REASON} AS why, sum(raw), sum(n), sum(n_in)
            FROM {table} WHERE is_main GROUP BY why
            """  # noqa: S608
        )
        return {
            int(why): (int(raw), int(kept), int(in_window)) for why, raw, kept, in_window in result
        }

    def _groups(
        self, table: str, *, strip_query: bool = False
    ) -> list[tuple[str, str, str, str, int, int, int, str | None]]:
        # Groups that differ only in the query are folded together by _assemble.
        path = _strip_query("path") if strip_query else "path"
        result = self._execute(
            f"""
            SELECT key_id, upper(method), {path}, status, n_in, first_us, last_us
            FROM {table}
            WHERE is_main AND reason = 0 AND n_in > 0 AND {_VALID}
            """  # noqa: S608
        )
        return [
            (key_id, method, path, status_class(status), n_in, first, last, None)
            for key_id, method, path, status, n_in, first, last in result
        ]

    def _daily(
        self, table: str, *, checked: bool = False
    ) -> tuple[list[tuple[str, int, int, int]], set[int]]:
        # checked: every group's method and key id already passed (the fast path).
        # BIGINT, not sum()'s HUGEINT: DuckDB's Python conversion takes about three times
        # as long for 90,000 rows of 128-bit integers (0.20 s against 0.07 s, with the
        # int() calls they needed).
        daily = self._execute(
            f"""
            SELECT key_id, day,
                   coalesce(sum(n) FILTER (WHERE klass = 0), 0)::BIGINT,
                   coalesce(sum(n) FILTER (WHERE klass = 1), 0)::BIGINT
            FROM {table}
            WHERE is_daily AND day IS NOT NULL AND {"true" if checked else _VALID}
            GROUP BY key_id, day
            ORDER BY key_id, day
            """  # noqa: S608 - ordered here, the merge in _assemble sorts a sorted list
        )
        return daily, {row[1] for row in daily}

    # ------------------------------------------------------------------ rejects

    def _reject_lines(self) -> list[tuple[str, int, int]]:
        """(file, line, reason) of every line DuckDB's reader refused, each line once."""
        found: set[tuple[str, int, int]] = set(self._extra_rejects)
        for tables in self.rejects:
            found.update(self._refused(tables))
        return sorted(found)

    def _refused(self, tables: tuple[str, str]) -> set[tuple[str, int, int]]:
        import duckdb

        errors, scans = tables
        try:
            result = self.connection.execute(
                f"""
                SELECT DISTINCT s.file_path, e.line, e.error_type
                FROM {errors} e JOIN {scans} s USING (scan_id, file_id)
                """  # noqa: S608
            ).fetchall()
        except duckdb.CatalogException:
            return set()  # the scan refused nothing, so DuckDB made no table
        lines: dict[tuple[str, int], int] = {}
        for file_path, line, error_type in result:
            reason = _REJECT_REASONS.get(str(error_type), 15)
            key = (self._original(str(file_path)), int(line))
            # One line, several complaints (a short CSV record): keep one reason.
            lines[key] = min(lines.get(key, reason), reason)
        return {(file, line, reason) for (file, line), reason in lines.items()}

    def _drop_rejects(self) -> None:
        for tables in self.rejects:
            self._drop_tables(*tables)
        self.rejects = []

    def _reader_options(self, errors: str, scans: str) -> str:
        return (
            f"store_rejects = true, rejects_table = {_literal(errors)}, "
            f"rejects_scan = {_literal(scans)}, max_line_size = {MAX_LINE_BYTES}"
        )

    # ------------------------------------------------------------------ per kind

    def _columns(self, line_numbers: bool, files: Sequence[Path] | None = None) -> _Columns:
        files = tuple(files or self.plan.files)
        kind = self.plan.kind
        if kind == "jsonl":
            return self._jsonl(files, line_numbers)
        if kind == "csv":
            return self._csv(files, line_numbers)
        if kind == "parquet":
            return self._parquet(files, line_numbers)
        if kind == "har":
            return self._har(files, line_numbers)
        raise LogParseError(self.plan.display, f"unknown usage kind {kind!r}")

    def _jsonl(self, files: Sequence[Path], line_numbers: bool) -> _Columns:
        self._ts_type = "VARCHAR"
        wanted = [self.fields[name] for name in CANONICAL_FIELDS]
        if self._jsonl_request_ids is None:
            self._jsonl_request_ids = self._check_jsonl_fields(wanted)
        request_ids = self._jsonl_request_ids
        paths = ", ".join(_literal(_json_path(name)) for name in wanted + request_ids)
        errors, scans = self._name("rj"), self._name("rs")
        self.rejects.append((errors, scans))
        ordinality = " WITH ORDINALITY" if line_numbers else ""
        source = f"""(
            SELECT line, try(json_extract_string({_JSON_TEXT}, [{paths}])) AS f, filename
                   {", ordinality" if line_numbers else ""}
            FROM read_csv({_file_list(files)}, {_LINES_OPTIONS}, filename = true,
                          {self._reader_options(errors, scans)}){ordinality}
        )"""  # noqa: S608 - file names and JSON paths are escaped literals
        request_id = None
        if request_ids:
            extra = [f"f[{len(wanted) + index + 1}]" for index in range(len(request_ids))]
            request_id = extra[0] if len(extra) == 1 else "coalesce(" + ", ".join(extra) + ")"
        missing = " ".join(
            f"WHEN f[{index + 1}] IS NULL THEN {_literal(_field_label(canonical, name))}"
            for index, (canonical, name) in enumerate(zip(CANONICAL_FIELDS, wanted, strict=True))
        )
        return _Columns(
            source=source,
            # CASE, not OR: DuckDB evaluates both sides of an OR for every line.
            blank=(
                "CASE WHEN line IS NULL THEN true WHEN f IS NOT NULL THEN false "
                f"ELSE trim(line, {_JSON_BLANKS}) = '' END"
            ),
            parsed="(f IS NOT NULL)",
            timestamp="f[1]",
            key_id="f[2]",
            method="f[3]",
            path="f[4]",
            status="f[5]",
            request_id=request_id,
            file="filename",
            line_number="ordinality" if line_numbers else None,
            missing_detail=(
                "CASE WHEN f IS NULL THEN NULL "
                f"WHEN coalesce(try(json_type({_JSON_TEXT})), '') <> 'OBJECT' "
                f"THEN {_literal(_NOT_OBJECT)} "
                f"{missing} END"
            ),
        )

    def _check_jsonl_fields(
        self,
        wanted: list[str],
        fields_present: Callable[[Path, list[str]], set[str] | None] | None = None,
    ) -> list[str]:
        """Fail on a mapped field no line has; return the request-id fields the lines have.

        ``fields_present`` finds the fields of a file's first lines (DuckDB's JSON
        functions unless given)."""
        candidates = [name for name in DEDUP_FIELDS if name not in wanted]
        request_ids: set[str] = set()
        for file in self.plan.files:
            present = (fields_present or self._jsonl_fields_present)(file, wanted + candidates)
            if present is None:
                continue  # not one readable object: every line will be counted bad
            for canonical, name in zip(CANONICAL_FIELDS, wanted, strict=True):
                if name not in present:
                    raise LogParseError(
                        redact(str(file)),
                        f"no line has the field {name!r}"
                        + (f" (mapped from {canonical})" if name != canonical else "")
                        + "; map it with fields in the [[usage]] entry",
                    )
            request_ids |= present & set(candidates)
        return [name for name in candidates if name in request_ids]

    def _jsonl_fields_present(self, file: Path, names: list[str]) -> set[str] | None:
        """Fields found in the first 1,000 JSON objects of a file; None if none is an object.

        The lines are read in Python (a bounded prefix: DuckDB's parallel reader would
        scan far more than 1,000 lines before a LIMIT stops it) and checked with the
        same DuckDB JSON paths as the full read.
        """
        paths = ", ".join(_literal(_json_path(name)) for name in names)
        counts = self._execute(
            f"""
            SELECT {", ".join(f"count(f[{i + 1}])" for i in range(len(names)))}, count(*)
            FROM (SELECT try(json_extract_string({_JSON_TEXT}, [{paths}])) AS f
                  FROM (SELECT unnest(?::VARCHAR[]) AS line)
                  WHERE try(json_type({_JSON_TEXT})) = 'OBJECT')
            """,  # noqa: S608 - JSON paths are escaped literals
            where=redact(str(file)),
            parameters=[_first_lines(file, 1000, 4 << 20)],
        )[0]
        if not counts[-1]:
            return None
        return {name for name, count in zip(names, counts[:-1], strict=True) if count}

    def _csv(self, files: Sequence[Path], line_numbers: bool) -> _Columns:
        self._ts_type = "VARCHAR"
        mapped = [self.fields[canonical] for canonical in CANONICAL_FIELDS]
        selects = []
        physical = 0
        any_request_id = False
        for file in files:
            delimiter, header = _csv_header(file)
            names = _unique_names(header)
            for canonical, name in zip(CANONICAL_FIELDS, mapped, strict=True):
                if header.count(name) != 1:
                    problem = "has no column" if name not in header else "has two columns named"
                    raise LogParseError(
                        redact(str(file)),
                        f"the header {problem} {name!r}"
                        + (f" (mapped from {canonical})" if name != canonical else "")
                        + _case_variants(header, name),
                        "line 1",
                    )
            request_id = next(
                (name for name in DEDUP_FIELDS if header.count(name) == 1 and name not in mapped),
                None,
            )
            any_request_id = any_request_id or request_id is not None
            errors, scans = self._name("rj"), self._name("rs")
            self.rejects.append((errors, scans))
            column_types = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in names)
            picked = [
                f"{_identifier(names[header.index(name)])} AS c_{canonical}"
                for canonical, name in zip(CANONICAL_FIELDS, mapped, strict=True)
            ]
            picked.append(
                f"{_identifier(names[header.index(request_id)])} AS c_request_id"
                if request_id
                else "NULL::VARCHAR AS c_request_id"
            )
            picked.append(f"{_literal(str(file))} AS c_file")
            if line_numbers:
                picked.append("ordinality")
            selects.append(
                f"""SELECT {", ".join(picked)}
                FROM read_csv({file_literal(self._read_path(file))}, auto_detect = false,
                              header = true,
                              columns = {{{column_types}}}, delim = {_literal(delimiter)},
                              quote = '"', escape = '"', strict_mode = true,
                              compression = 'auto', {self._reader_options(errors, scans)})
                     {"WITH ORDINALITY" if line_numbers else ""}"""  # noqa: S608
            )
            if self.physical_lines is None:
                filled, everything = self._physical_lines(self._read_path(file))
                physical += max(0, filled - 1)  # the header is not a line of data
                physical += len(self._copies.get(file, (file, []))[1])  # blank in the copy
                self.lines_seen += everything
        if self.physical_lines is None:
            self.physical_lines = physical
        missing = " ".join(
            f"WHEN c_{canonical} IS NULL THEN {_literal(_field_label(canonical, name))}"
            for canonical, name in zip(CANONICAL_FIELDS, mapped, strict=True)
        )
        return _Columns(
            source="(" + " UNION ALL ".join(selects) + ")",
            blank="false",
            parsed="true",
            timestamp="c_timestamp",
            key_id="c_key_id",
            method="c_method",
            path="c_path",
            status="c_status",
            request_id="c_request_id" if any_request_id else None,
            file="c_file",
            line_number="ordinality" if line_numbers else None,
            missing_detail=f"CASE {missing} END",
        )

    def _physical_lines(self, file: Path) -> tuple[int, int]:
        """Non-blank and all physical lines of a text file (a line ends at LF, CRLF or CR)."""
        errors, scans = self._name("rj"), self._name("rs")
        filled, everything = self._execute(
            f"""
            SELECT count(*) FILTER (WHERE trim(line, ' \t\r\n') <> ''), count(*)
            FROM read_csv({file_literal(file)}, {_LINES_OPTIONS},
                          {self._reader_options(errors, scans)})
            """,  # noqa: S608
            where=redact(str(file)),
        )[0]
        refused = len({line for _, line, _ in self._refused((errors, scans))})
        self._drop_tables(errors, scans)
        return int(filled) + refused, int(everything) + refused

    def _drop_tables(self, *names: str) -> None:
        import duckdb

        for name in names:
            with contextlib.suppress(duckdb.Error):
                self.connection.execute(f"DROP TABLE IF EXISTS {name}")

    def _parquet(self, files: Sequence[Path], line_numbers: bool) -> _Columns:
        file_list = _file_list(files)
        options = ", union_by_name = true" + (", file_row_number = true" if line_numbers else "")
        schema = {
            str(name): str(kind).upper()
            for name, kind, *_ in self._execute(
                f"DESCRIBE SELECT * FROM read_parquet({file_list}{options})"  # noqa: S608
            )
        }
        if len(files) > 1:
            # Which file a row came from, for the files' time ranges (see _run); under a
            # name no real column takes.
            file_column = "keyscope_file"
            while file_column in schema:
                file_column += "_"
            options += f", filename = {_literal(file_column)}"
        source = f"read_parquet({file_list}{options})"
        for canonical in CANONICAL_FIELDS:
            name = self.fields[canonical]
            if name not in schema:
                raise LogParseError(
                    self.plan.display if len(files) > 1 else redact(str(files[0])),
                    f"no column {name!r}"
                    + (f" (mapped from {canonical})" if name != canonical else ""),
                )
        self._ts_type = schema[self.fields["timestamp"]]
        mapped = set(self.fields.values())
        request_id = next(
            (name for name in DEDUP_FIELDS if name in schema and name not in mapped), None
        )

        def text(canonical: str) -> str:
            name = _identifier(self.fields[canonical])
            return (
                name if schema[self.fields[canonical]] == "VARCHAR" else f"CAST({name} AS VARCHAR)"
            )

        missing = " ".join(
            f"WHEN {_identifier(name)} IS NULL THEN {_literal(_field_label(canonical, name))}"
            for canonical, name in ((c, self.fields[c]) for c in CANONICAL_FIELDS)
        )
        return _Columns(
            source=source,
            blank="false",
            parsed="true",
            timestamp=_identifier(self.fields["timestamp"]),
            key_id=text("key_id"),
            method=text("method"),
            path=text("path"),
            status=text("status"),
            request_id=f"CAST({_identifier(request_id)} AS VARCHAR)" if request_id else None,
            file=_identifier(file_column) if len(files) > 1 else "NULL::VARCHAR",
            line_number="file_row_number + 1" if line_numbers else None,
            missing_detail=f"CASE {missing} END",
        )

    def _har(self, files: Sequence[Path], line_numbers: bool) -> _Columns:
        import pyarrow as pa

        from keyscope.sources.har import default_key_id, read_har

        self._ts_type = "VARCHAR"
        columns: dict[str, list[Any]] = {
            "entry": [],
            "file": [],
            "started": [],
            "key_id": [],
            "method": [],
            "url": [],
            "status": [],
        }
        for file in files:
            key_id = self.plan.source.key_id or default_key_id(file)
            for request in read_har(file):
                if not _utf8_ok(request.started, request.method, request.url):
                    # An escaped lone surrogate ("\ud800") is valid JSON but no text
                    # UTF-8 can hold: the entry is a bad line, as invalid UTF-8 in a log.
                    self._extra_rejects.add((str(file), request.entry, 10))
                    continue
                columns["entry"].append(request.entry)
                columns["file"].append(str(file))
                columns["started"].append(request.started)
                columns["key_id"].append(key_id)
                columns["method"].append(request.method)
                columns["url"].append(request.url)
                columns["status"].append(request.status)
        name = self._name("har")
        table = pa.table(
            {
                "entry": pa.array(columns["entry"], pa.int64()),
                **{
                    column: pa.array(columns[column], pa.string())
                    for column in ("file", "started", "key_id", "method", "url", "status")
                },
            }
        )
        self.connection.register(name, table)
        return _Columns(
            source=name,
            blank="false",
            parsed="true",
            timestamp="started",
            key_id="key_id",
            method="method",
            path="url",
            status="status",
            request_id=None,
            line_number="entry" if line_numbers else None,
            file="file",
            missing_detail=(
                "CASE WHEN started IS NULL THEN 'startedDateTime' "
                "WHEN method IS NULL THEN 'request.method' WHEN url IS NULL THEN 'request.url' "
                "WHEN status IS NULL THEN 'response.status' END"
            ),
        )

    # ------------------------------------------------------------------ examples

    def _examples(self, rejects: list[tuple[str, int, int]], scan: set[str]) -> list[BadLine]:
        """The first bad lines, in file order, with line numbers (a second, slower pass).

        Lines the reader refused are known with their numbers already; only the files in
        ``scan`` (those with other bad lines) are read again.
        """
        examples: list[BadLine] = []
        for file in self.plan.files:
            refused = [(line, reason) for path, line, reason in rejects if path == str(file)]
            found = [BadLine(redact(str(file)), line, _REASONS[reason]) for line, reason in refused]
            if str(file) in scan:
                found.extend(self._file_examples(file, sorted(line for line, _ in refused)))
            examples.extend(sorted(found, key=lambda example: example.line))
            if len(examples) >= EXAMPLES_PER_SOURCE:
                break
        return examples[:EXAMPLES_PER_SOURCE]

    def _file_examples(self, file: Path, refused: list[int]) -> list[BadLine]:
        outer_rejects, self.rejects = self.rejects, []
        try:
            rows = self._rows_sql(self._columns(line_numbers=True, files=[file]))
            result = self._execute(
                f"""
                SELECT line_number, why, missing_detail FROM (
                    SELECT line_number, {_GROUP_REASON} AS why, missing_detail FROM ({rows})
                ) WHERE why NOT IN (0, 1)
                ORDER BY line_number LIMIT {EXAMPLES_PER_SOURCE}
                """,  # noqa: S608
                where=redact(str(file)),
            )
        finally:
            self._drop_rejects()
            self.rejects = outer_rejects
        examples = []
        for number, why, detail in result:
            line = int(number)
            if self.plan.kind in ("jsonl", "csv"):
                # Row numbers skip refused lines (and, for CSV, the header).
                line = _physical_line(line + (1 if self.plan.kind == "csv" else 0), refused)
            reason = _REASONS[int(why)]
            if int(why) == 3 and detail:
                reason = _NOT_OBJECT if detail == _NOT_OBJECT else f"missing field {detail}"
            examples.append(BadLine(redact(str(file)), line, reason))
        return examples


class _LineCounter:
    """Counts the LF-ended lines of files in a background thread, as DuckDB reads them.

    An independent count, so a line DuckDB's reader drops without a reject (it does so
    for lines of many MiB) is still counted.  Reading is chunked (bounded memory) and
    gzip-aware; file reads and zlib release the GIL, so it overlaps the DuckDB query.
    """

    def __init__(self, files: Sequence[Path]) -> None:
        self._files = tuple(files)
        self._stop = threading.Event()
        self._total: int | None = None
        self._unusual = False
        self._thread = threading.Thread(target=self._count, name="keyscope-line-count", daemon=True)
        self._thread.start()

    def _count(self) -> None:
        total = 0
        unusual = False
        try:
            for file in self._files:
                lines, odd = _count_lines(file, self._stop)
                total += lines
                unusual = unusual or odd
        except (OSError, EOFError, zlib.error):
            return  # DuckDB reports the unreadable file itself
        if not self._stop.is_set():
            self._total = total
            self._unusual = unusual

    def result(self) -> int | None:
        """The number of lines, or None when the count failed."""
        self._thread.join()
        return self._total

    def plain(self) -> bool:
        """True when the count succeeded and no line is near the length limit or starts
        with a byte-order mark: the files the fast JSON-lines path may read."""
        return self.result() is not None and not self._unusual

    def cancel(self) -> None:
        self._stop.set()


def _count_lines(file: Path, stop: threading.Event) -> tuple[int, bool]:
    """Lines ended by LF, plus a last line without one when it holds more than CRs; and
    whether the file is unusual (a byte-order mark, or a line near the length limit).

    The long-line test jumps from line feed to line feed at most a limit apart (a few
    ``rfind`` calls per chunk), so it costs next to nothing.
    """
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    limit = MAX_LINE_BYTES - 16  # a margin: CRs and off-by-ones go to the checked path
    lines = 0
    open_line = False
    unusual = False
    since_feed = 0  # bytes of the current line read so far (before this chunk)
    first = True
    with opener(file, "rb") as stream:
        while not stop.is_set():
            chunk = stream.read(8 << 20)
            if not chunk:
                break
            if first:
                unusual = chunk.startswith(b"\xef\xbb\xbf")
                first = False
            ends = chunk.count(b"\n")
            lines += ends
            last = chunk.rfind(b"\n")
            if not unusual:
                unusual = _has_long_line(chunk, since_feed, limit)
            since_feed = since_feed + len(chunk) if last < 0 else len(chunk) - last - 1
            tail = chunk[last + 1 :] if ends else chunk
            open_line = (open_line and not ends) or bool(tail.strip(b"\r"))
    return lines + (1 if open_line else 0), unusual or since_feed > limit


def _looks_regular(file: Path) -> bool:
    """Whether an uncompressed file has no byte-order mark and no line near the length
    limit, found without reading it all: from each line feed, the last one within a
    limit's reach, read backwards a block at a time (a few KiB per MiB of file).

    Read with ``pread`` rather than a memory map: the kernel maps whole folios of cached
    file pages into a process on each fault, which counted several hundred MB of a large
    log as this process's resident memory although nothing was copied.
    """
    if file.name.lower().endswith(".gz"):
        return False
    limit = MAX_LINE_BYTES - 16  # the margin _count_lines keeps
    try:
        with file.open("rb") as stream:
            descriptor = stream.fileno()
            size = os.fstat(descriptor).st_size
            if size == 0:
                return True
            if os.pread(descriptor, 3, 0) == b"\xef\xbb\xbf":
                return False
            position = _first_feed(descriptor, min(size, limit + 1))
            if position < 0:
                return size <= limit  # no line feed where the first line may end
            while position + limit + 2 < size:
                # The last line feed within reach; none means a line longer than the limit.
                position = _last_feed(descriptor, position + 1, position + limit + 2)
                if position < 0:
                    return False
            # The last line, with or without a final line feed.
            return _last_feed(descriptor, max(0, size - limit - 1), size) >= 0 or size <= limit
    except (OSError, ValueError):
        return False  # unreadable: the checked path reports it


_SCAN_BLOCK = 8192


def _first_feed(descriptor: int, end: int) -> int:
    """The offset of the first line feed before ``end`` in an open file, or -1."""
    start = 0
    while start < end:
        block = os.pread(descriptor, min(_SCAN_BLOCK * 8, end - start), start)
        if not block:
            break
        found = block.find(b"\n")
        if found >= 0:
            return start + found
        start += len(block)
    return -1


def _last_feed(descriptor: int, start: int, end: int) -> int:
    """The offset of the last line feed in ``[start, end)`` of an open file, or -1."""
    while end > start:
        begin = max(start, end - _SCAN_BLOCK)
        block = os.pread(descriptor, end - begin, begin)
        found = block.rfind(b"\n")
        if found >= 0:
            return begin + found
        end = begin
    return -1


def _has_long_line(chunk: bytes, since_feed: int, limit: int) -> bool:
    """Whether a line in ``chunk`` (the first one ``since_feed`` bytes along) passes ``limit``."""
    position = chunk.find(b"\n")
    if position < 0:
        return since_feed + len(chunk) > limit
    if since_feed + position > limit:
        return True
    while position + limit + 2 < len(chunk):
        # The last line feed within reach; none means a line longer than the limit.
        position = chunk.rfind(b"\n", position + 1, position + limit + 2)
        if position < 0:
            return True
    return False


def _long_line_examples(files: Sequence[Path], examples: list[BadLine]) -> list[BadLine]:
    """Add the lines longer than the limit (found by a plain scan) to the examples."""
    return _with_found_lines(
        files, examples, lambda file: _long_lines(file, MAX_LINE_BYTES, EXAMPLES_PER_SOURCE), 11
    )


def _merged_line_examples(files: Sequence[Path], examples: list[BadLine]) -> list[BadLine]:
    """Add the CSV lines merged into a record above them (a quoted line break, or an
    unterminated quote swallowing the tail) to the examples: DuckDB counts the record,
    not where its extra lines are, so Python's csv module walks the records once."""
    return _with_found_lines(
        files, examples, lambda file: _merged_lines(file, EXAMPLES_PER_SOURCE), 16
    )


def _with_found_lines(
    files: Sequence[Path],
    examples: list[BadLine],
    lines_of: Callable[[Path], list[int]],
    reason: int,
) -> list[BadLine]:
    """``examples`` plus the lines ``lines_of`` finds in each file (with ``reason``), in
    file and line order, at most :data:`EXAMPLES_PER_SOURCE`."""
    found = {(example.source, example.line) for example in examples}
    extra: list[BadLine] = []
    for file in files:
        shown = redact(str(file))
        for number in lines_of(file):
            if (shown, number) not in found:
                extra.append(BadLine(shown, number, _REASONS[reason]))
        if len(extra) >= EXAMPLES_PER_SOURCE:
            break
    rank = {redact(str(file)): index for index, file in enumerate(files)}
    merged = sorted([*examples, *extra], key=lambda e: (rank.get(e.source, len(rank)), e.line))
    return merged[:EXAMPLES_PER_SOURCE]


def _merged_lines(file: Path, wanted: int) -> list[int]:
    """Numbers of the first ``wanted`` physical lines that continue a CSV record."""
    delimiter = _csv_header(file)[0]
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    numbers: list[int] = []
    start = 1
    try:
        with opener(file, "rt", encoding="utf-8-sig", errors="replace", newline="") as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            while len(numbers) < wanted:
                start = reader.line_num + 1
                if next(reader, None) is None:
                    break
                numbers.extend(range(start + 1, reader.line_num + 1)[: wanted - len(numbers)])
    except csv.Error:  # a record past the field size limit: the tail it swallowed
        numbers.append(start + 1)
    except (OSError, EOFError, zlib.error):
        pass  # read by DuckDB a moment ago; the count stands without its examples
    return sorted(set(numbers))[:wanted]


def _long_lines(file: Path, limit: int, wanted: int) -> list[int]:
    """Numbers of the first ``wanted`` lines longer than ``limit`` bytes (bounded memory)."""
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    numbers: list[int] = []
    number = 0
    with opener(file, "rb") as stream:
        while len(numbers) < wanted:
            piece = stream.readline(limit + 1)
            if not piece:
                break
            number += 1
            if piece.endswith(b"\n"):
                continue
            if len(piece) > limit:
                numbers.append(number)
                while piece and not piece.endswith(b"\n"):  # the rest of the long line
                    piece = stream.readline(8 << 20)
    return numbers


_MAX_SPANS = 64
"""Overlapping spans given to the repeat query; more are merged across the smallest gaps
(a wider span only costs work: a tuple covered by one file is never a suspected repeat)."""


def _overlaps(ranges: dict[str, tuple[int, int]]) -> tuple[set[str], list[tuple[int, int]]]:
    """The files whose time range overlaps another's, and the spans two or more cover.

    ``ranges`` maps a file to its first and last timestamp (inclusive).  A sweep in
    order of first timestamp: the part of a file's range that an earlier file also
    covers runs from its first timestamp to the latest end seen so far.
    """
    spans: list[list[int]] = []
    reach: int | None = None  # the latest last timestamp of the files before
    for first, last in sorted(ranges.values()):
        if reach is not None and first <= reach:
            end = min(last, reach)
            if spans and first <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([first, end])
        reach = last if reach is None else max(reach, last)
    if not spans:
        return set(), []
    ends = [end for _, end in spans]
    involved = set()
    for name, (first, last) in ranges.items():
        nearest = bisect_left(ends, first)  # the first span that ends at or after ``first``
        if nearest < len(spans) and spans[nearest][0] <= last:
            involved.add(name)
    if len(spans) > _MAX_SPANS:
        gaps = sorted(range(1, len(spans)), key=lambda i: spans[i][0] - spans[i - 1][1])
        kept = sorted(gaps[-(_MAX_SPANS - 1) :])  # the widest gaps still separate spans
        merged = []
        start = 0
        for index in [*kept, len(spans)]:
            merged.append([spans[start][0], spans[index - 1][1]])
            start = index
        spans = merged
    return involved, [(start, end) for start, end in spans]


_GLOB_CHARACTERS = re.compile(r"[\[*?]")


def file_literal(file: Path) -> str:
    """A SQL literal naming ``file`` for DuckDB's readers, which take every name as a glob
    pattern: ``[``, ``*`` and ``?`` in a real file name each become a one-character class
    (``a[1].jsonl`` would otherwise read ``a1.jsonl``)."""
    return _literal(_GLOB_CHARACTERS.sub(lambda match: f"[{match.group()}]", str(file)))


def _file_list(files: Sequence[Path]) -> str:
    return "[" + ", ".join(file_literal(file) for file in files) + "]"


def _physical_line(row_line: int, refused: list[int]) -> int:
    """A row's line number, given the (sorted) line numbers the reader refused before it."""
    line = row_line
    for refused_line in refused:
        if refused_line <= line:
            line += 1
        else:
            break
    return line


def _utf8_ok(*texts: str | None) -> bool:
    """Whether every text can be written as UTF-8 (no lone surrogate)."""
    for text in texts:
        if text is not None and not text.isascii():
            try:
                text.encode()
            except UnicodeEncodeError:
                return False
    return True


def _count_by(entries: list[tuple[str, int, int]], key: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for entry in entries:
        counts[key(entry)] = counts.get(key(entry), 0) + 1
    return counts


def _field_label(canonical: str, name: str) -> str:
    return repr(name) if name == canonical else f"{name!r} ({canonical})"


def _json_path(name: str) -> str:
    """A DuckDB JSON path for a field name; names starting with ``$`` are paths already."""
    if name.startswith("$"):
        return name
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _strip_query(path: str) -> str:
    """Cut a path at its query string and fragment, in SQL (secrets travel in queries)."""
    return (
        f"CASE WHEN contains({path}, '?') OR contains({path}, '#') "
        f"THEN split_part(split_part({path}, '?', 1), '#', 1) ELSE {path} END"
    )


def _epoch_us(number: str) -> str:
    """Microseconds from an epoch number: seconds, milliseconds, µs or ns by magnitude."""
    return f"""(CASE
        WHEN NOT isfinite({number}) THEN NULL
        WHEN abs({number}) < 1e11 THEN CAST(round({number} * 1e6) AS BIGINT)
        WHEN abs({number}) < 1e14 THEN CAST(round({number} * 1e3) AS BIGINT)
        WHEN abs({number}) < 1e17 THEN CAST(round({number}) AS BIGINT)
        WHEN abs({number}) < 9e18 THEN CAST(round({number} / 1e3) AS BIGINT)
    END)"""


def _in_zone(naive: str, zone: str) -> str:
    """SQL: UTC microseconds of a zone-less TIMESTAMP expression read in ``zone``."""
    offset = _offset(zone)
    if offset:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), int(offset.group(3) or 0)
        micros = (hours * 60 + minutes) * 60_000_000 * (-1 if sign == "-" else 1)
        return f"(epoch_us({naive}) - {micros})"
    return f"epoch_us(timezone({_literal(zone)}, {naive}))"


def _timestamp_us(column: str, zone: str | None, *, typed: str) -> str:
    """SQL for a timestamp column as UTC microseconds; NULL when unreadable or zone-less."""
    if "WITH TIME ZONE" in typed:
        return f"epoch_us({column})"
    if typed.startswith("TIMESTAMP") or typed == "DATE":
        return _in_zone(f"CAST({column} AS TIMESTAMP)", zone) if zone else "NULL::BIGINT"
    if _NUMERIC.fullmatch(typed):  # a number: epoch seconds, milliseconds...
        return _epoch_us(f"TRY_CAST({column} AS DOUBLE)")
    if typed != "VARCHAR":  # a BOOLEAN, a BLOB, a list...: no moment at all
        return "NULL::BIGINT"
    naive = (
        f"WHEN {column} IS NOT NULL THEN {_in_zone(_finite_timestamp(column), zone)}"
        if zone
        else ""
    )
    # With Z and no space, the plain TIMESTAMP cast reads the same instant as the
    # time-zone-aware one at a fraction of the cost (checked by fuzzing both casts);
    # a space lets it skip trailing words ('... BC Z'), so those take the aware cast.
    return f"""(CASE
        WHEN {column} IS NULL THEN NULL
        WHEN suffix({column}, 'Z') AND NOT contains({column}, ' ')
            THEN epoch_us(try_cast({column} AS TIMESTAMP))
        WHEN suffix({column}, 'Z') THEN epoch_us(try_cast({column} AS TIMESTAMPTZ))
        WHEN suffix({column}, 'z') THEN epoch_us(try_cast({column} AS TIMESTAMPTZ))
        WHEN regexp_matches({column}, {_literal(_ZONED)})
            THEN epoch_us(try_cast({column} AS TIMESTAMPTZ))
        WHEN regexp_matches({column}, {_literal(_OFFSET_LIKE)}) THEN NULL
        WHEN regexp_full_match({column}, {_literal(_NUMBER)})
            THEN {_epoch_us(f"TRY_CAST({column} AS DOUBLE)")}
        {naive}
    END)"""


def _timestamp_naive(column: str, *, typed: str) -> str:
    """SQL: the timestamp is readable but names no zone (only asked of unreadable ones)."""
    if "WITH TIME ZONE" in typed:
        return "false"
    if typed.startswith("TIMESTAMP") or typed == "DATE":
        return "true"
    if typed != "VARCHAR":
        return "false"
    # An offset beyond ±14:00 names a zone, just not a real one: unreadable, not zone-less.
    return (
        f"({_finite_timestamp(column)} IS NOT NULL "
        f"AND NOT regexp_matches({column}, {_literal(_OFFSET_LIKE)}))"
    )


def _finite_timestamp(column: str) -> str:
    """SQL: the zone-less TIMESTAMP a text reads as, NULL for DuckDB's ``infinity``."""
    # DuckDB reads 'Infinity' and '-infinity' as timestamps: not a moment of a request.
    return (
        f"(CASE WHEN isfinite(try_cast({column} AS TIMESTAMP)) "
        f"THEN try_cast({column} AS TIMESTAMP) END)"
    )


def _plain_fields_present(file: Path, names: list[str]) -> set[str] | None:
    """The fields of ``names`` found, not null, in the first 1,000 lines of a file the
    scanner read: the lines :meth:`_LogReader._jsonl_fields_present` looks at, each one
    JSON object whose top-level names are unique, so ``json.loads`` agrees with DuckDB.
    As there, a line cut by the 4 MiB bound is no object and is passed over."""
    present: set[str] = set()
    objects = 0
    for text in _first_lines(file, 1000, 4 << 20):
        try:
            # Numbers as text: Python refuses integers of over 4,300 digits, DuckDB does not.
            item = json.loads(text, parse_int=str, parse_float=str)
        except ValueError:
            continue
        if isinstance(item, dict):
            objects += 1
            present.update(name for name in names if item.get(name) is not None)
    return present if objects else None


def _first_lines(file: Path, count: int, limit: int) -> list[str]:
    """Up to ``count`` non-blank lines from the start of a text file (gzip-aware)."""
    where = redact(str(file))
    lines: list[str] = []
    try:
        opener = gzip.open if file.name.lower().endswith(".gz") else open
        with opener(file, "rb") as stream:
            while len(lines) < count and limit > 0:
                raw = stream.readline(limit)  # bounded even if the file has no line breaks
                if not raw:
                    break
                limit -= len(raw)
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    lines.append(text)
    except FileNotFoundError:
        raise LogParseError(where, "file not found") from None
    except (OSError, EOFError, zlib.error) as error:  # zlib.error: a corrupt gzip stream
        raise LogParseError(where, f"cannot read: {type(error).__name__}") from None
    return lines


def _csv_header(file: Path) -> tuple[str, list[str]]:
    """The delimiter and column names of a CSV file, from its first line."""
    where = redact(str(file))
    try:
        opener = gzip.open if file.name.lower().endswith(".gz") else open
        with opener(file, "rb") as stream:
            first = stream.readline(1 << 20)
    except FileNotFoundError:
        raise LogParseError(where, "file not found") from None
    except (OSError, EOFError, zlib.error) as error:  # zlib.error: a corrupt gzip stream
        raise LogParseError(where, f"cannot read: {type(error).__name__}") from None
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise LogParseError(where, "the header is not UTF-8 text", "line 1") from None
    if not text.strip():
        raise LogParseError(where, "no header line (the first line names the columns)", "line 1")
    if "\r" in text:  # lines ended by a lone CR (classic Mac): one "line" holds them all
        raise LogParseError(
            where, "lines end in a lone CR; a CSV log needs LF or CRLF line ends", "line 1"
        )
    delimiter = max((",", "\t", ";", "|"), key=text.count) if file.suffix != ".tsv" else "\t"
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except (csv.Error, StopIteration):
        raise LogParseError(where, "unreadable header", "line 1") from None
    return delimiter, [name.strip() for name in header]


def _normalize_line_ends(file: Path, copy: Path) -> list[int] | None:
    """Write ``file`` to ``copy`` with every line ended by LF; the lines that held a lone CR.

    DuckDB's strict CSV reader stops at a file whose lines end in both LF and CRLF.  Each
    physical line (ended by LF) keeps its place, so line numbers stay those of the file:
    a CR before its LF is dropped, and a line that still holds a CR (a lone CR: a line
    end of its own, or a stray byte) is written blank and returned as bad, unless it
    holds nothing but spaces, tabs and CRs (a blank line).  None when nothing changes
    (retrying the copy cannot help).
    """
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    lone: list[int] = []
    changed = False
    number = 0

    def fixed(line: bytes) -> bytes:
        nonlocal changed
        if line.endswith(b"\r"):
            line = line[:-1]
            changed = True
        if b"\r" in line:
            changed = True
            if line.strip(b" \t\r"):
                lone.append(number)
            return b""
        return line

    try:
        with opener(file, "rb") as stream, copy.open("wb") as out:
            tail = b""
            while chunk := stream.read(8 << 20):
                pieces = (tail + chunk).split(b"\n")
                tail = pieces.pop()
                for piece in pieces:
                    number += 1
                    out.write(fixed(piece) + b"\n")
            if tail:
                number += 1
                out.write(fixed(tail))
    except (OSError, EOFError, zlib.error):
        return None  # the error the reader gave stands
    return lone if changed else None


def _unique_names(header: list[str], keep: Sequence[str] = ()) -> list[str]:
    """Column names DuckDB accepts: empty and repeated names made unique.

    DuckDB's identifiers ignore case, so ``status`` and ``Status`` are one name to it:
    the second is renamed.  The first column named exactly as one of ``keep`` (the
    columns keyscope reads) keeps its name whatever comes before it.
    """
    kept = {name: header.index(name) for name in keep if name in header}
    seen = {name.casefold() for name in kept}
    names = []
    for index, name in enumerate(header):
        if kept.get(name) == index:
            names.append(name)
            continue
        candidate = name or f"column{index}"
        while candidate.casefold() in seen:
            candidate = f"{candidate}_{index}"
        seen.add(candidate.casefold())
        names.append(candidate)
    return names


def _case_variants(header: Sequence[str], name: str) -> str:
    """`` (the header has only 'Status', which differs in case)`` or ''."""
    variants = [column for column in header if column.casefold() == name.casefold()]
    if not variants or name in variants:
        return ""
    listed = ", ".join(repr(column) for column in variants)
    verb = "differ" if len(variants) > 1 else "differs"
    return f" (the header has only {listed}, which {verb} in case)"


# --------------------------------------------------------------------------- aggregates


class _AggregateReader(_PlanReader):
    """Reads a pre-aggregated usage file (Parquet or CSV); see docs/usage-formats.md."""

    def run(self) -> _PlanResult:
        results = [self._file(file) for file in self.plan.files]
        daily: dict[tuple[str, int], list[int]] = {}
        for result in results:
            for key_id, day, ok, denied in result.daily:
                totals = daily.setdefault((key_id, day), [0, 0])
                totals[0] += ok
                totals[1] += denied
        lines = sum(result.stats.lines for result in results)
        bad = sum(result.stats.bad_lines for result in results)
        in_window = sum(result.stats.in_window for result in results)
        stats = SourceStats(
            source=self.plan.display,
            kind="aggregate",
            lines=lines,
            bad_lines=bad,
            in_window=in_window,
            out_of_window=lines - bad - in_window,
        )
        return _PlanResult(
            stats,
            [group for result in results for group in result.groups],
            [(key_id, day, ok, denied) for (key_id, day), (ok, denied) in daily.items()],
            set().union(*(result.days for result in results)),
            [example for result in results for example in result.examples][:EXAMPLES_PER_SOURCE],
        )

    def _file(self, file: Path) -> _PlanResult:
        try:
            try:
                return self._read_file(file)
            except _LineEndError:
                # Mixed line ends in a CSV aggregate: as for logs (_LogReader.run).
                if not self._normalize_csvs([file]):
                    raise
                return self._read_file(file)
        finally:
            self._remove_copies()

    def _read_file(self, file: Path) -> _PlanResult:
        where = redact(str(file))
        name = file.name.lower().removesuffix(".gz")
        if name.endswith(_PARQUET_SUFFIXES):
            source = f"read_parquet({file_literal(file)}, file_row_number = true)"
            line = "file_row_number + 1"
            schema = {
                str(column): str(kind).upper()
                for column, kind, *_ in self._execute(
                    f"DESCRIBE SELECT * FROM {source}",  # noqa: S608 - an escaped file name
                    where,
                )
            }
            schema.pop("file_row_number", None)
        else:
            delimiter, header = _csv_header(file)
            names = _unique_names(
                header, (*AGGREGATE_COLUMNS, "status", "status_class", "operation", "day")
            )
            column_types = ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in names)
            source = (
                f"read_csv({file_literal(self._read_path(file))}, auto_detect = false, "
                "header = true, "
                f"columns = {{{column_types}}}, delim = {_literal(delimiter)}, quote = '\"', "
                f"escape = '\"', strict_mode = true, compression = 'auto')"
            )
            line = "ordinality + 1"
            source += " WITH ORDINALITY"
            schema = dict.fromkeys(names, "VARCHAR")
        for column in AGGREGATE_COLUMNS:
            if column not in schema:
                raise LogParseError(
                    where,
                    f"no column {column!r} (an aggregate needs "
                    f"{', '.join(AGGREGATE_COLUMNS)} and status or status_class)"
                    + _case_variants(list(schema), column),
                )
        has_status = "status" in schema
        if not has_status and "status_class" not in schema:
            raise LogParseError(where, "no column 'status' or 'status_class'")

        def text(column: str) -> str:
            ident = _identifier(column)
            return ident if schema[column] == "VARCHAR" else f"CAST({ident} AS VARCHAR)"

        first = _timestamp_us(_identifier("first_seen"), None, typed=schema["first_seen"])
        last = _timestamp_us(_identifier("last_seen"), None, typed=schema["last_seen"])
        # A readable time without a zone (Spark's default INT96 Parquet timestamps) is
        # its own reason, not a missing field: the fix is in how the job writes it.
        zoneless = " OR ".join(
            f"({_identifier(column)} IS NOT NULL AND {converted} IS NULL "
            f"AND {_timestamp_naive(_identifier(column), typed=schema[column])})"
            for column, converted in (("first_seen", first), ("last_seen", last))
        )
        count = (
            f"TRY_CAST({_identifier('count')} AS BIGINT)"
            if schema["count"] == "VARCHAR"
            else f"CAST({_identifier('count')} AS BIGINT)"
        )
        status = text("status") if has_status else "'200'"
        klass = f"lower({text('status_class')})" if not has_status else "NULL"
        operation = text("operation") if "operation" in schema else "NULL"
        has_day = "day" in schema
        day = "NULL::BIGINT"
        if has_day and (
            schema["day"] in ("VARCHAR", "DATE") or schema["day"].startswith("TIMESTAMP")
        ):
            as_date = f"TRY_CAST({_identifier('day')} AS DATE)"
            day = f"(CASE WHEN isfinite({as_date}) THEN epoch_us({as_date}) // {_DAY_US} END)"
        # Anything else in a day column (a number, 'x', '2026-13-01') is no day: a bad row.
        rows = f"""
            SELECT {line} AS line_number, {text("key_id")} AS key_id, {text("method")} AS method,
                   {_strip_query(text("path"))} AS path, {status} AS status, {klass} AS klass,
                   {count} AS n, {first} AS first_us, {last} AS last_us,
                   {_identifier("first_seen")} IS NULL OR {_identifier("last_seen")} IS NULL
                       AS no_seen,
                   {f"{_identifier('day')} IS NULL" if has_day else "false"} AS no_day,
                   {operation} AS operation, {day} AS day, {zoneless} AS zoneless
            FROM {source}
        """  # noqa: S608
        day_reasons = (
            f"WHEN day IS NULL THEN 21 "
            f"WHEN day < first_us // {_DAY_US} OR day > last_us // {_DAY_US} THEN 22"
            if has_day
            else ""
        )
        reason = f"""CASE
            WHEN zoneless THEN 20
            WHEN key_id IS NULL OR method IS NULL OR path IS NULL OR n IS NULL
                 OR no_seen OR no_day
                 OR {"status IS NULL" if has_status else "klass IS NULL"} THEN 3
            WHEN first_us IS NULL OR last_us IS NULL THEN 5
            WHEN NOT {_PATH_OK} THEN 4
            WHEN n < 1 THEN 17
            WHEN {
            ("NOT " + _STATUS_OK)
            if has_status
            else "klass NOT IN ('success', 'denied', 'client_error', 'server_error')"
        }
                 THEN {7 if has_status else 18}
            WHEN NOT {_METHOD_OK} THEN 8
            WHEN NOT {_KEY_OK} THEN 9
            WHEN first_us > last_us THEN 19
            {day_reasons}
            ELSE 0 END"""
        # With a day column a row counts when its day does (the daily series' rule, so
        # the requests and the days they fall on always agree).
        in_window = f"(last_us >= {self.start_us} AND first_us < {self.end_us}"
        if has_day:
            in_window += (
                f" AND day * {_DAY_US} < {self.end_us} AND (day + 1) * {_DAY_US} > {self.start_us}"
            )
        in_window += ")"
        table = self._name("agg")
        self._execute(
            f"CREATE TEMP TABLE {table} AS SELECT *, {reason} AS why FROM ({rows})",  # noqa: S608
            where,
        )
        totals = self._execute(
            f"""SELECT count(*), count(*) FILTER (WHERE why <> 0),
                       count(*) FILTER (WHERE why = 0 AND {in_window}) FROM {table}""",  # noqa: S608
            where,
        )[0]
        grouped = self._execute(
            f"""
            SELECT key_id, upper(method), path,
                   {"CAST(status AS INTEGER)" if has_status else "NULL"},
                   klass, operation, sum(n), min(first_us), max(last_us)
            FROM {table} WHERE why = 0 AND {in_window}
            GROUP BY ALL
            """,  # noqa: S608
            where,
        )
        groups = [
            (
                key_id,
                method,
                path,
                status_class(status) if has_status else klass,
                int(total),
                int(first),
                int(last),
                operation or None,
            )
            for key_id, method, path, status, klass, operation, total, first, last in grouped
        ]
        daily: list[tuple[str, int, int, int]] = []
        days: set[int] = set()
        if "day" in schema:
            success = "CAST(status AS INTEGER) < 400" if has_status else "klass = 'success'"
            denied = "CAST(status AS INTEGER) IN (401, 403)" if has_status else "klass = 'denied'"
            for key_id, day_number, ok, no in self._execute(
                f"""
                SELECT key_id, day, sum(n) FILTER (WHERE {success}), sum(n) FILTER (WHERE {denied})
                FROM {table}
                WHERE why = 0 AND {in_window}
                GROUP BY key_id, day
                """,  # noqa: S608
                where,
            ):
                daily.append((key_id, int(day_number), int(ok or 0), int(no or 0)))
                days.add(int(day_number))
        else:
            # Without a day column a row is taken to cover every day from first to last seen.
            for (day_number,) in self._execute(
                f"""
                SELECT DISTINCT unnest(range(greatest(first_us, {self.start_us}) // {_DAY_US},
                                             least(last_us, {self.end_us - 1}) // {_DAY_US} + 1))
                FROM (SELECT DISTINCT first_us, last_us FROM {table} WHERE why = 0 AND {in_window})
                """,  # noqa: S608
                where,
            ):
                days.add(int(day_number))
        # Lines with a lone CR are blank in the normalized copy: bad rows of their own,
        # and the copy's row numbers skip them.
        lone = self._copies.get(file, (file, []))[1]
        examples = [
            BadLine(where, _physical_line(int(number), lone), _REASONS[int(why)])
            for number, why in self._execute(
                f"SELECT line_number, why FROM {table} WHERE why <> 0 "  # noqa: S608
                f"ORDER BY line_number LIMIT {EXAMPLES_PER_SOURCE}",
                where,
            )
        ]
        examples = sorted(
            [*examples, *(BadLine(where, number, _REASONS[23]) for number in lone)],
            key=lambda example: example.line,
        )[:EXAMPLES_PER_SOURCE]
        self._execute(f"DROP TABLE {table}", where)
        lines, bad, in_window_rows = (int(value) for value in totals)
        lines, bad = lines + len(lone), bad + len(lone)
        stats = SourceStats(
            source=where,
            kind="aggregate",
            lines=lines,
            bad_lines=bad,
            in_window=in_window_rows,
            out_of_window=lines - bad - in_window_rows,
        )
        return _PlanResult(stats, groups, daily, days, examples)


# --------------------------------------------------------------------------- assembly


def _assemble(
    results: list[_PlanResult], matcher: RouteMatching, bad_line_threshold: float
) -> UsageData:
    """Match each distinct (method, path) once and fold the groups into usage rows."""
    resolved: dict[tuple[str, str], tuple[str, str | None]] = {}
    normalize = getattr(matcher, "normalize", None)
    if normalize is None:
        from keyscope.analysis.routes import normalize_request_path

        normalize = normalize_request_path
    redacted_keys: dict[str, str] = {}
    folded: dict[tuple[str, str, str, str | None, str], list[int]] = {}
    for result in results:
        for key_id, method, path, klass, count, first, last, given in result.groups:
            route = (method, path)
            target = resolved.get(route) if given is None else None
            if target is None:
                operation = given if given is not None else matcher.match(method, path)
                if operation is not None and " " in operation:
                    # The operation's template: bounded, and free of object ids.
                    target = (operation.split(" ", 1)[1], operation)
                else:
                    # As logged (query already cut), redacted: it may carry a secret.
                    target = (redact(normalize(path) or path), operation)
                if given is None:
                    resolved[route] = target
            key = redacted_keys.get(key_id)
            if key is None:
                # A key id that looks like a secret is masked, with a digest of the whole
                # id: two such ids that mask alike stay two keys.
                key = redact(key_id)
                key = redacted_keys[key_id] = key if key == key_id else id_label(key_id)
            entry = (key, method, target[0], target[1], klass)
            totals = folded.get(entry)
            if totals is None:
                folded[entry] = [count, first, last]
            else:
                totals[0] += count
                totals[1] = min(totals[1], first)
                totals[2] = max(totals[2], last)
    rows = tuple(
        UsageRow(key, method, path, operation, klass, count, _from_us(first), _from_us(last))  # type: ignore[arg-type]
        for (key, method, path, operation, klass), (count, first, last) in sorted(
            folded.items(), key=lambda item: (*item[0][:3], item[0][3] or "", item[0][4])
        )
    )
    days: set[int] = set().union(*(result.days for result in results))
    dates = {day: date(1970, 1, 1) + timedelta(days=day) for day in days}
    daily = tuple(
        DailyCount(key, dates[day], ok, no)
        for key, day, ok, no in _merged_daily(results, redacted_keys)
        if ok or no
    )
    incomplete = []
    for result in results:
        stats = result.stats
        if stats.lines and stats.bad_lines / stats.lines > bad_line_threshold:
            share = stats.bad_lines / stats.lines
            incomplete.append(
                f"{stats.source}: {stats.bad_lines:,} of {stats.lines:,} lines could not be read "
                f"({share:.1%}, above the {bad_line_threshold:.1%} threshold)"
            )
    return UsageData(
        rows=rows,
        daily=daily,
        sources=tuple(result.stats for result in results),
        bad_line_examples=tuple(example for result in results for example in result.examples),
        days_with_data=frozenset(dates.values()),
        incomplete_reasons=tuple(incomplete),
    )


def _merged_daily(
    results: list[_PlanResult], redacted_keys: dict[str, str]
) -> list[tuple[str, int, int, int]]:
    """Every plan's (key, day, success, denied), keys redacted, summed per (key, day), sorted.

    Each plan has one entry per (key id, day).  With a single plan whose key ids
    redaction leaves alone (the usual case) that already is the answer: no dictionary
    of 90,000 entries for 1,000 keys over 90 days, and the sort meets a presorted list.
    """
    for key_id in {row[0] for result in results for row in result.daily}:
        if key_id not in redacted_keys:
            redacted_keys[key_id] = redact(key_id)
    if len(results) == 1 and all(key == shown for key, shown in redacted_keys.items()):
        return sorted(results[0].daily)
    totals: dict[tuple[str, int], list[int]] = {}
    for result in results:
        for key_id, day, ok, denied in result.daily:
            entry = totals.setdefault((redacted_keys[key_id], day), [0, 0])
            entry[0] += ok
            entry[1] += denied
    return [(key, day, ok, denied) for (key, day), (ok, denied) in sorted(totals.items())]
