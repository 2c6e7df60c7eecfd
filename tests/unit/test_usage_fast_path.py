"""The JSON-lines fast path: taken for clean uncompressed logs, and never a different answer.

Every log here is read twice, once as ``load_usage`` reads it and once with the fast path
switched off (the checked path, which reads each physical line itself), and the two
results must be equal field by field.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from usage_support import assert_accounted, line, load, write_lines

from keyscope.model import UsageData
from keyscope.sources import usage
from keyscope.sources.usage import MAX_LINE_BYTES, _looks_regular, _timestamp_us

GOOD = line()
OTHER = line(key_id="key_b", path="/v1/payments", timestamp="2026-09-02T11:00:00.250Z")

LOGS: dict[str, bytes] = {
    "clean": f"{GOOD}\n{OTHER}\n".encode(),
    "blank lines": f"{GOOD}\n\n   \n\t\n{OTHER}\n\n".encode(),
    "vertical tab and form feed lines": f"{GOOD}\n\x0b\n\x0c\x0c\n{OTHER}\n".encode(),
    "object padded with vertical tab": f"\x0b{GOOD}\x0c\n{OTHER}\n".encode(),
    "crlf": f"{GOOD}\r\n{OTHER}\r\n".encode(),
    "no final line feed": f"{GOOD}\n{OTHER}".encode(),
    "byte-order mark": b"\xef\xbb\xbf" + f"{GOOD}\n{OTHER}\n".encode(),
    "two objects on a line": f"{GOOD} {OTHER}\n{GOOD}\n".encode(),
    "object over two lines": f"{GOOD[:40]}\n{GOOD[40:]}\n{OTHER}\n".encode(),
    "not json": f"{GOOD}\nnot json\n{OTHER}\n".encode(),
    "null line": f"{GOOD}\nnull\n{OTHER}\n".encode(),
    "unreadable timestamp": f"{GOOD}\n{line(timestamp='yesterday')}\n".encode(),
    "word after a space": f"{line(timestamp='2026-09-01 10:00:00 BC Z')}\n".encode(),
    "invalid utf-8": f"{GOOD}\n{line(key_id='k-@')}\n".encode().replace(b"@", b"\xff"),
    "line over the limit": f"{GOOD}\n{line(note='x' * MAX_LINE_BYTES)}\n{OTHER}\n".encode(),
    # Bad values: the fast path must count each exactly as the checked path does, in
    # the totals, the rows and the daily series.
    "missing method": f"{GOOD}\n{line(method=None)}\n{OTHER}\n".encode(),
    "missing key id": f"{GOOD}\n{line(key_id=None)}\n{OTHER}\n".encode(),
    "missing path": f"{GOOD}\n{line(path=None)}\n{OTHER}\n".encode(),
    "missing status": f"{GOOD}\n{line(status=None)}\n{OTHER}\n".encode(),
    "missing timestamp": f"{GOOD}\n{line(timestamp=None)}\n{OTHER}\n".encode(),
    "path that is not a path": f"{GOOD}\n{line(path='invoices')}\n{OTHER}\n".encode(),
    "unreadable status": (
        f"{GOOD}\n{line(status='2OO')}\n{line(status=200.5)}\n{line(status=99)}\n"
    ).encode(),
    # The only lines of their day have unreadable statuses: the day has no data.
    "bad status alone on a day": (
        f"{GOOD}\n{line(status='abc', timestamp='2026-09-20T10:00:00Z')}\n"
    ).encode(),
    "status as text, denied and errors": (
        f"{line(status='200')}\n{line(status=403)}\n{line(status=401)}\n"
        f"{line(status=404)}\n{line(status=500, timestamp='2026-09-03T01:00:00Z')}\n"
    ).encode(),
    "outside the window": (
        f"{GOOD}\n{line(timestamp='2026-01-01T00:00:00Z')}\n"
        f"{line(timestamp='2026-11-01T00:00:00Z', status='x')}\n"
    ).encode(),
    "zone-less timestamp": f"{GOOD}\n{line(timestamp='2026-09-01 10:00:00')}\n".encode(),
    # An offset beyond ±14:00 is unreadable (DuckDB shifts "+99:00" by four days); the
    # real extremes are read.
    "offsets past and at 14 hours": (
        f"{line(timestamp='2026-09-01T00:00:00+99:00')}\n"
        f"{line(timestamp='2026-09-01T00:00:00+14:30')}\n"
        f"{line(timestamp='2026-09-01T00:00:00-1401')}\n"
        f"{line(timestamp='2026-09-01T00:00:00+14:00')}\n"
        f"{line(timestamp='2026-09-01T00:00:00-14:00')}\n"
    ).encode(),
}


def _checked(monkeypatch: pytest.MonkeyPatch, path: Path) -> UsageData:
    with monkeypatch.context() as patched:
        patched.setattr(usage, "_jsonl_scan", None)
        patched.setattr(usage._LogReader, "_fast_jsonl", lambda self, counter: None)
        return load(path)


@pytest.mark.parametrize("scanner", ["scanner", "DuckDB only"])
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
@pytest.mark.parametrize("name", sorted(LOGS))
def test_fast_and_checked_paths_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, suffix: str, scanner: str
) -> None:
    path = tmp_path / f"log{suffix}"
    data = LOGS[name]
    path.write_bytes(gzip.compress(data, mtime=0) if suffix.endswith(".gz") else data)

    with monkeypatch.context() as patched:
        if scanner == "DuckDB only":  # the DuckDB fast path, for the logs the scanner takes
            patched.setattr(usage, "_jsonl_scan", None)
        fast = load(path)
    checked = _checked(monkeypatch, path)

    assert fast == checked
    assert_accounted(fast)


def test_a_clean_uncompressed_log_takes_the_fast_path_without_a_line_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counters: list[object] = []
    taken: list[bool] = []
    original_counter = usage._LineCounter.__init__
    original_fast = usage._LogReader._fast_jsonl

    def counting(self: usage._LineCounter, files: object) -> None:
        counters.append(files)
        original_counter(self, files)  # type: ignore[arg-type]

    def recording(self: usage._LogReader, counter: usage._LineCounter | None) -> object:
        result = original_fast(self, counter)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(usage._LineCounter, "__init__", counting)
    monkeypatch.setattr(usage._LogReader, "_fast_jsonl", recording)
    path = write_lines(tmp_path / "log.jsonl", [GOOD, "", OTHER])

    result = load(path)

    assert taken == [True]
    assert counters == []
    assert result.total_lines == 2
    # A bad line sends the same file through the counted, checked path.
    write_lines(path, [GOOD, "not json", OTHER])
    assert load(path).bad_lines == 1
    assert taken == [True, False]
    assert len(counters) == 1


def test_looks_regular_finds_byte_order_marks_and_long_lines(tmp_path: Path) -> None:
    limit = MAX_LINE_BYTES - 16
    cases = {
        "empty": (b"", True),
        "short lines": (b"{}\n" * 1000, True),
        "many lines of the limit": ((b"x" * limit + b"\n") * 3, True),
        "one line past the limit": (b"{}\n" + b"x" * (limit + 1) + b"\n{}\n", False),
        "last line past the limit, no line feed": (b"{}\n" + b"x" * (limit + 1), False),
        "last line at the limit, no line feed": (b"{}\n" + b"x" * limit, True),
        "byte-order mark": (b"\xef\xbb\xbf{}\n", False),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / "log.jsonl"
        path.write_bytes(data)
        assert _looks_regular(path) is expected, name
    compressed = tmp_path / "log.jsonl.gz"
    compressed.write_bytes(gzip.compress(b"{}\n"))
    assert _looks_regular(compressed) is False  # compressed files are counted instead
    assert _looks_regular(tmp_path / "missing.jsonl") is False


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.integers(min_value=0, max_value=40), max_size=12),
    final_feed=st.booleans(),
    limit=st.integers(min_value=1, max_value=30),
    block=st.integers(min_value=1, max_value=9),
    bom=st.booleans(),
)
def test_looks_regular_agrees_with_measuring_every_line(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[int],
    final_feed: bool,
    limit: int,
    block: int,
    bom: bool,
) -> None:
    """The block-wise jumps give the answer of measuring every line, for any block size."""
    data = b"\n".join(b"x" * length for length in lines) + (b"\n" if final_feed and lines else b"")
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = tmp_path_factory.mktemp("regular") / "log.jsonl"
    path.write_bytes(data)
    expected = not data.startswith(b"\xef\xbb\xbf") and all(
        len(piece) <= limit for piece in data.split(b"\n")
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(usage, "MAX_LINE_BYTES", limit + 16)
        patch.setattr(usage, "_SCAN_BLOCK", block)
        assert _looks_regular(path) is expected


def test_looks_regular_maps_none_of_the_file(tmp_path: Path) -> None:
    """A large log is checked without growing this process's resident memory by its size."""
    import resource

    path = tmp_path / "log.jsonl"
    row = b'{"timestamp":"2026-08-03T00:00:00Z","key_id":"k","method":"GET","path":"/v1/x"}\n'
    with path.open("wb") as stream:
        for _ in range(32):
            stream.write(row * ((4 << 20) // len(row)))  # about 128 MiB in all
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert _looks_regular(path) is True
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 32 << 10, f"resident memory grew by {grown_kib} KiB"


TIMESTAMP_PARTS = st.sampled_from(
    [
        "2026-08-03", "T", " ", "00:00:00", "23:59", ".5", ".123456789", "+02:00", "-05",
        "+99:00", "+14:30", "-1401", "+14", "+14:00", ":00",
        "UTC", "BC", "AD", "America/New_York", "Z", "z", "\t", "/", "24", "60", "x", "-",
        ":", "0", "9", "infinity", "epoch",
    ]
)  # fmt: skip


def _ours_and(text: str, zone: str | None, reference: str) -> tuple[int | None, int | None]:
    """Our reading of the timestamp ``text`` (as column ``t``) beside a reference SQL's."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(
            f"SELECT {_timestamp_us('t', zone, typed='VARCHAR')}, {reference} "
            "FROM (SELECT ?::VARCHAR AS t)",
            [text],
        ).fetchone()
    finally:
        connection.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(TIMESTAMP_PARTS, max_size=6))
def test_the_cheap_cast_of_z_timestamps_reads_the_same_instant(parts: list[str]) -> None:
    text = "".join(parts) + "Z"
    ours, aware = _ours_and(text, None, "epoch_us(try_cast(t AS TIMESTAMPTZ))")
    assert ours == aware


@settings(max_examples=300, deadline=None)
@given(st.lists(TIMESTAMP_PARTS, max_size=6), st.sampled_from([None, "UTC", "+05:00"]))
@example(["2026-08-03", "T", "00:00:00", "+99:00"], None)
@example(["2026-08-03", " ", "23:59", "+14:30"], "UTC")
def test_no_timestamp_moves_more_than_14_hours_from_its_wall_clock(
    parts: list[str], zone: str | None
) -> None:
    """Whatever offset a text carries, a reading is within ±14:00 of its wall-clock time
    (DuckDB's zone-less cast, which ignores the offset); ``+99:00`` is unreadable."""
    text = "".join(parts)
    ours, wall = _ours_and(text, zone, "epoch_us(try_cast(t AS TIMESTAMP))")
    if ours is not None and wall is not None:
        assert abs(ours - wall) <= 14 * 3_600_000_000, text
