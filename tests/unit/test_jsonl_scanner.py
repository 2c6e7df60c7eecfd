"""keyscope's JSON-lines scanner: it takes plain logs, gives up on everything else, and
never gives an answer different from DuckDB's.

Every log here is read twice through ``load_usage``: as it is read by default (the
scanner first) and with the scanner switched off (DuckDB's readers), and the two results
must be equal field by field.  Each case also says whether the scanner takes the log or
gives up, so a scanner that quietly gave up on everything would fail here too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from usage_support import (
    WINDOW_END,
    WINDOW_START,
    assert_accounted,
    line,
    load,
    write_bytes,
    write_lines,
)

from keyscope.errors import LogParseError
from keyscope.model import UsageData
from keyscope.settings import UsageSource
from keyscope.sources import usage
from keyscope.sources.usage import CANONICAL_FIELDS, DEDUP_FIELDS, MAX_LINE_BYTES, _to_us

SCANNER = usage._jsonl_scan
FIELDS = [name.encode() for name in CANONICAL_FIELDS]
STOPS = [name.encode() for name in DEDUP_FIELDS]
START_US, END_US = _to_us(WINDOW_START), _to_us(WINDOW_END)


def scan(*paths: Path, threads: int = 2) -> tuple | None:
    assert SCANNER is not None
    return SCANNER.scan([os.fsencode(p) for p in paths], FIELDS, STOPS, START_US, END_US, threads)


def by_duckdb(monkeypatch: pytest.MonkeyPatch, *sources: Path | str) -> UsageData:
    with monkeypatch.context() as patched:
        patched.setattr(usage, "_jsonl_scan", None)
        return load(*sources)


def compact(**fields: object) -> str:
    return json.dumps(json.loads(line(**fields)), separators=(",", ":"))


def test_the_scanner_is_built() -> None:
    # Built by the editable install (hatch_build.py); `python hatch_build.py` rebuilds it.
    assert SCANNER is not None, "keyscope's JSON-lines scanner is not built (needs a C compiler)"


def utf8(text: str) -> str:
    """A JSON line with its non-ASCII characters as UTF-8 rather than escapes."""
    return json.dumps(json.loads(text), ensure_ascii=False)


def _nested(levels: int) -> object:
    """A value nested ``levels`` deep inside the line's object."""
    value: object = 1
    for level in range(levels - 1):
        value = [value] if level % 2 else {"x": value}
    return value


def _with_raw_note(raw: bytes) -> bytes:
    """A good line plus a field holding ``raw`` bytes (for UTF-8 that is not UTF-8)."""
    return f"{line()}\n".encode().replace(b'"key_a"', b'"key_a", "note": "' + raw + b'"')


# Logs the scanner must take itself.
TAKEN: dict[str, list[str]] = {
    "compact": [compact(), compact(key_id="key_b", path="/v1/payments")],
    "spaced as json.dumps writes": [line(), line(status=201)],
    "tabs and spaces between tokens": [
        '\t{ "timestamp" :\t"2026-09-01T10:00:00Z" , "key_id":'
        ' "key_a", "method": "GET", "path": "/v1/invoices",'
        ' "status": 200 }  '
    ],
    "fields in another order, extra fields of every plain kind": [
        json.dumps(
            {
                "status": 200,
                "path": "/v1/invoices",
                "latency": -1.5e-3,
                "ok": True,
                "retry": False,
                "note": None,
                "method": "GET",
                "key_id": "key_a",
                "timestamp": "2026-09-01T10:00:00Z",
                "size": 0,
                "empty": "",
            }
        ),
    ],
    "empty object and missing fields": [
        "{}",
        line(method=None),
        compact(path=None),
        line(key_id=None),
        line(),
        json.dumps({"timestamp": "2026-09-01T10:00:00Z"}),
    ],
    "fractions, offsets and a space before the time": [
        line(timestamp="2026-09-01T10:00:00.2Z"),
        line(timestamp="2026-09-01T10:00:00.250Z"),
        line(timestamp="2026-09-01T10:00:00.123456Z"),
        line(timestamp="2026-09-01T10:00:00+02:00"),
        line(timestamp="2026-09-01T23:30:00-05:30"),
        line(timestamp="2026-09-01T00:00:00+14:00"),
        line(timestamp="2026-09-01T00:00:00-14:00"),
        line(timestamp="2026-09-01 10:00:00Z"),
        line(timestamp="2026-09-01T10:00:00.5+13:59"),
    ],
    "queries and fragments cut": [
        line(path="/v1/invoices?limit=10"),
        line(path="/v1/invoices#top"),
        line(path="/v1/invoices?api_key=sk_live_1234567890abcdef"),
        line(path="/v1/invoices?#"),
        line(path="/v1/invoices/inv_1?expand=customer#x"),
    ],
    "methods in any case": [
        line(method="get"),
        line(method="Post", path="/v1/refunds"),
        line(method="PATCH"),
        line(method="m" * 20),
    ],
    "statuses as text and numbers, denied and errors": [
        line(status="200"),
        line(status=403),
        line(status="401"),
        line(status=404),
        line(status=500),
        line(status=302),
        line(status=100),
        line(status=599),
    ],
    "statuses that are not statuses": [
        line(status=600),
        line(status=99),
        line(status="20"),
        line(status=-12),
        line(status="-12"),
        line(status=1000),
        line(status="0200"),
        line(status=0),
        line(status=""),
        line(),
        line(status="2000"),
    ],
    "window edges": [
        line(timestamp="2026-08-03T00:00:00Z"),
        line(timestamp="2026-08-02T23:59:59.999999Z"),
        line(timestamp="2026-11-01T00:00:00Z"),
        line(timestamp="2026-10-31T23:59:59.999999Z"),
        line(timestamp="2024-02-29T12:00:00Z"),
        line(timestamp="1999-12-31T23:59:59Z"),
    ],
    "key ids with spaces and digits": [
        line(key_id="key a"),
        line(key_id=" k"),
        line(key_id="12345"),
        line(key_id="k" * 256),
    ],
    "nested values, escapes and utf-8 in other fields": [
        line(headers={"user-agent": 'curl "8"\n', "list": [1, -2.5e3, None, True, {}, []]}),
        utf8(line(note="café ☕ 😀", tags=["é", {"k": "ü"}])),
        line(note="\ud83d\ude00 \u00e9 \u2028 \t\b\f\r/"),
        line(deep=_nested(64)),
        line(note="a\x7fb"),
    ],
    "utf-8 in paths": [utf8(line(path="/v1/customers/José")), utf8(line(path="/v1/ünïcode?q=ä"))],
    "secrets in key ids and paths stay masked": [
        line(key_id="sk_live_51HxYzAbCdEfGhIjKlMnOpQr"),
        line(path="/v1/customers/cus_1?token=ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ],
}

# Logs the scanner gives up on (DuckDB reads them); the answer must still be the same.
GIVEN_UP: dict[str, list[str] | bytes] = {
    "blank line": [line(), "", line()],
    "line of spaces": [line(), "   "],
    "crlf": f"{line()}\r\n{line()}\r\n".encode(),
    "byte-order mark": b"\xef\xbb\xbf" + f"{line()}\n".encode(),
    "escape in a field read": [line(path="/v1/invoices\u00e9")],
    "escaped slash": [
        '{"timestamp":"2026-09-01T10:00:00Z","key_id":"key_a","method":"GET",'
        '"path":"\\/v1\\/invoices","status":200}'
    ],
    "utf-8 in a key id": [utf8(line(key_id="clé"))],
    "utf-8 in a method": [utf8(line(method="GÉT"))],
    "lone surrogate in another field": [line(note="\ud800")],
    "lone low surrogate": [line(note="\udc00")],
    "unknown escape": [line()[:-1] + ', "note": "\\x41"}'],
    "escaped NUL": [line(note="\x00")],
    "invalid utf-8 in another field": _with_raw_note(b"\xff"),
    "overlong utf-8": _with_raw_note(b"\xc0\xaf"),
    "utf-8 surrogate": _with_raw_note(b"\xed\xa0\x80"),
    "past U+10FFFF": _with_raw_note(b"\xf4\x90\x80\x80"),
    "truncated utf-8": _with_raw_note(b"\xe2\x82"),
    "trailing comma inside a nested object": [line()[:-1] + ', "h": {"a": 1,}}'],
    "trailing comma at the top": [line()[:-1] + ", }"],
    "nested 65 levels deep": [line(deep=_nested(65))],
    "a boolean field read": [line(method=True)],
    "duplicate field": [
        '{"timestamp":"2026-09-01T10:00:00Z","key_id":"key_a","method":"GET",'
        '"path":"/v1/invoices","status":200,"status":404}'
    ],
    "duplicate other field": [line()[:-1] + ', "x": 1, "x": 2}'],
    "case variant of a field": [line(Status=404)],
    "request id": [line(request_id="r1")],
    "request id after line one": [line(), line(event_id="e1")],
    "zone-less timestamp": [line(timestamp="2026-09-01T10:00:00")],
    "epoch timestamp": [line(timestamp=1788000000)],
    "lower-case z": [line(timestamp="2026-09-01T10:00:00z")],
    "seven fraction digits": [line(timestamp="2026-09-01T10:00:00.1234567Z")],
    "no such date": [line(timestamp="2026-02-29T10:00:00Z")],
    "hour 24": [line(timestamp="2026-09-01T24:00:00Z")],
    "offset past 14 hours": [line(timestamp="2026-09-01T10:00:00+14:30")],
    "offset without colon": [line(timestamp="2026-09-01T10:00:00+0200")],
    "words after the time": [line(timestamp="2026-09-01 10:00:00 BC Z")],
    "full URL": [line(path="https://api.example.com/v1/invoices")],
    "not a path": [line(path="invoices")],
    "status that DuckDB may cast": [line(status="1e2")],
    "status with a fraction": [line(status=200.0)],
    "status true": [line(status=True)],
    "key id as a number": [line(key_id=42)],
    "malformed method": [line(method="G-T")],
    "method too long": [line(method="M" * 21)],
    "key id of spaces": [line(key_id="   ")],
    "key id too long": [line(key_id="k" * 257)],
    "two objects on a line": [line() + " " + line()],
    "trailing text": [line() + " x"],
    "not json": [line(), "not json"],
    "null line": [line(), "null"],
    "NaN": [line(latency=float("nan"))],
    "line over the limit": [line(), line(note="x" * MAX_LINE_BYTES)],
}


def _write(path: Path, content: list[str] | bytes) -> Path:
    if isinstance(content, bytes):
        return write_bytes(path, content)
    return write_lines(path, content)


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_plain_logs_are_taken_and_read_as_duckdb_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = _write(tmp_path / "log.jsonl", TAKEN[name])

    assert scan(path) is not None
    scanned = load(path)
    assert scanned == by_duckdb(monkeypatch, path)
    assert_accounted(scanned)


@pytest.mark.parametrize("name", sorted(GIVEN_UP))
def test_other_logs_are_left_to_duckdb_with_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = _write(tmp_path / "log.jsonl", GIVEN_UP[name])

    assert scan(path) is None
    read = load(path)
    assert read == by_duckdb(monkeypatch, path)
    assert_accounted(read)


def test_the_counts_are_the_lines_and_bad_values(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "log.jsonl",
        [line(), line(status=403), line(method=None), line(status=700),
         line(timestamp="2026-01-01T00:00:00Z"), line(method="get", path="/v1/invoices?x=1")],
    )  # fmt: skip

    lines, missing, bad_status, good, in_window, groups, daily, ranges = scan(path)

    assert (lines, missing, bad_status, good, in_window) == (6, 1, 1, 4, 3)
    assert sorted(groups) == [
        ("key_a", "GET", "/v1/invoices", "denied", 1, *[_to_us_text("2026-09-01T10:00:00")] * 2,
         None),
        ("key_a", "GET", "/v1/invoices", "success", 2, *[_to_us_text("2026-09-01T10:00:00")] * 2,
         None),
    ]  # fmt: skip
    day = _to_us_text("2026-09-01T00:00:00") // 86_400_000_000
    assert daily == [("key_a", day, 2, 1)]
    assert ranges == [(_to_us_text("2026-09-01T10:00:00"),) * 2]


def _to_us_text(text: str) -> int:
    from datetime import UTC, datetime

    return _to_us(datetime.fromisoformat(text).replace(tzinfo=UTC))


def _many_lines(count: int, seed: int) -> list[str]:
    """A varied log: keys, methods, paths, statuses, days, a few bad values."""
    rng = random.Random(seed)
    keys = [f"key_{n:03d}" for n in range(40)]
    paths = ["/v1/invoices", "/v1/invoices/inv_{}", "/v1/customers/cus_{}", "/v1/payments",
             "/v1/refunds", "/v1/invoices/search?q={}"]  # fmt: skip
    lines = []
    for _ in range(count):
        day = rng.randrange(60, 100)  # partly outside the window
        stamp = f"2026-{7 + day // 30:02d}-{1 + day % 28:02d}T{rng.randrange(24):02d}:00:00Z"
        status = rng.choice([200, 200, 201, 204, 401, 403, 404, 500, 700, "200"])
        fields = {
            "timestamp": stamp,
            "key_id": rng.choice(keys),
            "method": rng.choice(["GET", "POST", "get", "DELETE"]),
            "path": rng.choice(paths).format(rng.randrange(50)),
            "status": status,
            "bytes": rng.randrange(10_000),
        }
        if rng.random() < 0.01:
            del fields[rng.choice(list(fields))]
        lines.append(json.dumps(fields, separators=(",", ":") if rng.random() < 0.5 else None))
    return lines


def test_any_number_of_threads_gives_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over 4 MiB, so the file is cut between threads, at points inside lines.
    path = write_lines(tmp_path / "big.jsonl", _many_lines(60_000, seed=3))
    assert path.stat().st_size > 4 << 20

    answers = [scan(path, threads=threads) for threads in (1, 2, 3, 7)]

    for answer in answers:
        assert answer is not None
        assert answer[:5] == answers[0][:5]
        assert sorted(answer[5]) == sorted(answers[0][5])
        assert answer[6:] == answers[0][6:]
    assert load(path) == by_duckdb(monkeypatch, path)


def test_a_line_outside_the_shape_anywhere_in_a_big_file_gives_up(tmp_path: Path) -> None:
    lines = _many_lines(60_000, seed=5)
    for position in (0, 29_999, 30_000, 59_999):
        zoneless = line(timestamp="2026-09-01T10:00:00")
        changed = [*lines[:position], zoneless, *lines[position + 1 :]]
        path = write_lines(tmp_path / f"big-{position}.jsonl", changed)
        assert scan(path) is None, position


def test_several_files_and_their_suspected_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    page = [line(timestamp=f"2026-09-01T10:{minute:02d}:00Z") for minute in range(20)]
    write_lines(folder / "page-1.jsonl", page[:12])
    write_lines(folder / "page-2.jsonl", page[8:])
    write_lines(folder / "page-3.jsonl", [line(timestamp="2026-01-01T00:00:00Z")])
    pattern = str(folder / "page-*.jsonl")

    assert scan(*sorted(folder.iterdir())) is not None
    read = load(pattern)
    assert read == by_duckdb(monkeypatch, pattern)
    assert read.sources[0].suspected_duplicates == 4


def test_a_fifo_empty_or_missing_file_is_given_up_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    empty = write_bytes(tmp_path / "empty.jsonl", b"")
    compressed = write_lines(tmp_path / "log.jsonl.gz", [line()])

    assert scan(fifo) is None
    assert scan(empty) is None
    assert scan(tmp_path / "missing.jsonl") is None
    assert scan(compressed) is None


def test_bad_line_examples_come_from_the_checked_pass(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "log.jsonl", [line(), line(status=700), line(path=None)])

    read = load(path)

    assert [(example.line, example.reason) for example in read.bad_line_examples] == [
        (2, "status is not an HTTP status code"),
        (3, "missing field 'path'"),
    ]


# --------------------------------------------------------------------------- fuzzing

_TIMESTAMPS = st.sampled_from([
    "2026-09-01T10:00:00Z", "2026-09-01T10:00:00.5Z", "2026-09-01 10:00:00Z",
    "2026-09-01T10:00:00+02:00", "2026-09-01T10:00:00-14:00", "2026-08-03T00:00:00Z",
    "2026-11-01T00:00:00Z", "2026-09-01T10:00:00", "2026-02-30T10:00:00Z", "yesterday",
    "2026-09-01T10:00:00.1234567Z", "2026-09-01T10:00:00+14:01", "2026-09-01T10:00:00+0200",
    1788000000, None,
])  # fmt: skip
_VALUES = {
    "timestamp": _TIMESTAMPS,
    "key_id": st.sampled_from(["key_a", "key_b", " k", "", "   ", "k" * 257, 7, None, "ké"]),
    "method": st.sampled_from(["GET", "get", "Post", "G-T", "", "M" * 21, None, 1]),
    "path": st.sampled_from(["/v1/invoices", "/v1/invoices?x=1", "/v1/payments#a", "invoices",
                             "https://h/v1/invoices", "", "/v1/\u00e9", None]),
    "status": st.sampled_from([200, "200", 403, 401, 404, 500, 600, 99, "1e2", 200.0, True,
                               "", "20", -12, None]),
}  # fmt: skip
_EXTRA = st.sampled_from([
    None, ("bytes", 12), ("note", 'a"b\n'), ("tags", []), ("request_id", "r"), ("Status", 1),
    ("ok", False), ("headers", {"ua": "é", "x": [1, {"y": None}]}), ("note", "\ud800"),
    ("note", "😀\u2028"), ("deep", _nested(64)), ("deep", _nested(65)), ("note", "\x00"),
])  # fmt: skip


@st.composite
def _log_line(draw: st.DrawFn) -> str:
    fields = {}
    for name, values in _VALUES.items():
        if draw(st.integers(0, 20)):  # now and then a field is absent
            fields[name] = draw(values)
    extra = draw(_EXTRA)
    if extra:
        fields[extra[0]] = extra[1]
    names = draw(st.permutations(list(fields)))
    ordered = {name: fields[name] for name in names}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps(ordered, separators=separators, ensure_ascii=draw(st.booleans()))
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate is only written as an escape
        text = json.dumps(ordered, separators=separators)
    return text


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.one_of(_log_line(), st.just(line())), min_size=1, max_size=8))
def test_the_scanner_agrees_with_duckdb_on_generated_logs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, lines: list[str]
) -> None:
    path = write_lines(tmp_path_factory.mktemp("fuzz") / "log.jsonl", lines)

    read = _outcome(lambda: load(path))

    assert read == _outcome(lambda: by_duckdb(monkeypatch, path))
    if isinstance(read, UsageData):
        assert_accounted(read)


def _outcome(read: Callable[[], UsageData]) -> UsageData | str:
    """The data, or the one-line error both readers must give alike."""
    try:
        return read()
    except LogParseError as error:
        return str(error)


def test_a_signal_stops_a_long_scan(tmp_path: Path) -> None:
    """Ctrl-C reaches a long scan: the calling thread runs Python's signal handlers every
    64 MiB it reads (one thread here, so this thread reads all 160 MiB)."""
    path = tmp_path / "long.jsonl"
    chunk = (line() + "\n").encode() * 10_000
    with path.open("wb") as out:
        while out.tell() < 160 << 20:
            out.write(chunk)
    assert scan(path, threads=1) is not None  # a first read, so both timed ones start warm

    class Stop(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stop

    previous = signal.signal(signal.SIGALRM, stop)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        started = time.perf_counter()
        with pytest.raises(Stop):
            scan(path, threads=1)
        interrupted_after = time.perf_counter() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # Stopped inside the scan (after 64 of 160 MiB), not after it: the whole scan takes
    # about two and a half times as long.
    started = time.perf_counter()
    assert scan(path, threads=1) is not None
    assert interrupted_after < 0.8 * (time.perf_counter() - started)


# --------------------------------------------------------------------------- repeated lines

_REPEATS = [
    line(timestamp=f"2026-09-{day:02d}T{hour:02d}:00:00Z") for day in (1, 2) for hour in (0, 9)
]


@pytest.mark.parametrize(
    ("name", "lines", "taken"),
    [
        # A line repeated but for its timestamp is read from its first copy's shape.
        ("repeats", _REPEATS * 3, True),
        ("repeats with fractions and offsets", [
            line(timestamp="2026-09-01T10:00:00Z"), line(timestamp="2026-09-01T10:00:00.25Z"),
            line(timestamp="2026-09-01T10:00:00+02:00"), line(timestamp="2026-11-01T00:00:00Z"),
        ], True),
        ("a missing field, repeated", [line()] + [
            line(method=None, timestamp=f"2026-09-0{n}T00:00:00Z") for n in range(1, 6)
        ], True),
        ("a bad status, repeated", [line(status=700, timestamp=f"2026-09-0{n}T00:00:00Z")
                                    for n in range(1, 6)], True),
        # The copy's timestamp is not readable: the copy is parsed in full, and given up.
        ("repeat with an impossible date", [*_REPEATS, line(timestamp="2026-02-30T10:00:00Z")],
         False),
        ("repeat with a zone-less time", [*_REPEATS, line(timestamp="2026-09-01T10:00:00")],
         False),
        # A nested field of the same name comes first: the lines are parsed in full.
        ("nested timestamp first", [
            json.dumps({"meta": {"timestamp": f"2026-09-01T0{n}:00:00Z"}, **json.loads(line())})
            for n in range(5)
        ], True),
        ("nested timestamp after", [
            json.dumps({**json.loads(line(timestamp=f"2026-09-01T0{n}:00:00Z")),
                        "meta": {"timestamp": "x"}}) for n in range(5)
        ], True),
    ],
)  # fmt: skip
def test_repeated_lines_read_as_duckdb_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, lines: list[str], taken: bool
) -> None:
    path = write_lines(tmp_path / "log.jsonl", lines)

    assert (scan(path, threads=1) is not None) is taken
    read = load(path)
    assert read == by_duckdb(monkeypatch, path)
    assert_accounted(read)


def test_mostly_unique_lines_stop_the_repeat_lookups_with_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 70,000 lines, each with its own request size: one thread gives up looking lines up
    # after 65,536 misses; seven threads never get that far.  The same figures either way.
    path = write_lines(
        tmp_path / "unique.jsonl",
        [line(timestamp=f"2026-09-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
              bytes=n, key_id=f"key_{n % 7}") for n in range(70_000)],
    )  # fmt: skip

    one, seven = scan(path, threads=1), scan(path, threads=7)

    assert one is not None and seven is not None
    assert one[:5] == seven[:5] == (70_000, 0, 0, 70_000, 70_000)
    assert sorted(one[5]) == sorted(seven[5])
    assert one[6:] == seven[6:]
    assert load(path) == by_duckdb(monkeypatch, path)


def test_a_plain_log_is_read_without_starting_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[bool] = []
    original = usage._connect

    def connect() -> object:
        started.append(True)
        return original()

    monkeypatch.setattr(usage, "_connect", connect)
    plain = write_lines(tmp_path / "plain.jsonl", [line(), line(status=403)])
    assert load(plain).sources[0].in_window == 2
    assert started == []
    # A bad value needs its example from DuckDB's checked pass.
    assert load(write_lines(tmp_path / "bad.jsonl", [line(), line(status=700)])).bad_lines == 1
    assert started == [True]


@pytest.mark.parametrize(
    "lines",
    [
        [line(method=None), line(method=None)],
        # Five lines of 0.9 MB: the fifth is cut by the 4 MiB look at the first lines,
        # so the field it alone has is not seen there, by either reader.
        [line(method=None, note="x" * 900_000)] * 4 + [line(note="x" * 900_000)],
        [line(method=None, note="x" * 900_000)] * 3 + [line(note="x" * 900_000)],
    ],
    ids=["absent", "only past the first 4 MiB", "within the first 4 MiB"],
)
def test_a_mapped_field_no_line_has_is_the_same_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str]
) -> None:
    path = write_lines(tmp_path / "log.jsonl", lines)

    assert scan(path) is not None
    read = _outcome(lambda: load(path))
    assert read == _outcome(lambda: by_duckdb(monkeypatch, path))


# --------------------------------------------------------------------------- a tester's finds

_NO_METHOD = line(method=None)
_HUGE_NUMBER = "1" * 4301  # Python's json refuses integers this long; DuckDB and C do not


@pytest.mark.parametrize(
    "lines",
    [
        [line()[:-1] + f', "n": {_HUGE_NUMBER}}}', _NO_METHOD],
        [_NO_METHOD[:-1] + f', "n": {_HUGE_NUMBER}}}'],
    ],
    ids=["the only line with the field", "no line with the field"],
)
def test_a_huge_integer_does_not_hide_a_line_from_the_field_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str]
) -> None:
    path = write_lines(tmp_path / "log.jsonl", lines)

    assert scan(path) is not None
    assert _outcome(lambda: load(path)) == _outcome(lambda: by_duckdb(monkeypatch, path))


def test_an_empty_field_name_and_an_undecodable_file_name_are_duckdb_s_business(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = write_lines(tmp_path / "empty.jsonl", [json.dumps({"": "2026-09-01T10:00:00Z"})])
    source = UsageSource(path=str(empty), fields={"timestamp": ""})
    undecodable = Path(os.fsdecode(os.fsencode(tmp_path) + b"/l\xff.jsonl"))
    write_lines(undecodable, [line()])

    for read in (source, undecodable):
        assert _outcome(lambda read=read: load(read)) == _outcome(  # type: ignore[misc]
            lambda read=read: by_duckdb(monkeypatch, read)  # type: ignore[misc]
        )


def test_file_names_with_glob_characters_are_read_as_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB takes every file name as a pattern: "a[1].jsonl" read "a1.jsonl".
    folder = tmp_path / "logs"
    folder.mkdir()
    write_lines(folder / "a[1].jsonl", [line(), line(status=700)])
    write_lines(folder / "a1.jsonl", [line(key_id="key_b")])
    write_lines(folder / "b*?.jsonl", [line(key_id="key_c")])
    pattern = str(folder / "*.jsonl")

    for read in (load(pattern), by_duckdb(monkeypatch, pattern)):
        (stats,) = read.sources
        assert (stats.lines, stats.bad_lines) == (4, 1)
        assert {row.key_id for row in read.rows} == {"key_a", "key_b", "key_c"}
        assert [example.line for example in read.bad_line_examples] == [2]
        assert read.bad_line_examples[0].source.endswith("a[1].jsonl")
