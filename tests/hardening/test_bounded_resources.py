"""P7 (BAD-INPUTS #1-#3, #15, #37): hostile inputs end within a time and memory bound.

Each case runs ``keyscope`` in a subprocess under a small wrapper process that reports
its child's peak RSS (``resource.getrusage(RUSAGE_CHILDREN)`` seen from the wrapper, so
no other test's children count).  The test's own time bound is ``pytest-timeout``.  The
expected end is an input error: exit 3 and one line on stderr naming the file.

Network-side bounds (slow drip, endless pagination, decompression bombs in API answers)
are proven against the live client with a fake clock in ``tests/unit/test_live_client.py``
and against the sandbox in ``tests/integration/test_sandbox.py`` (see ``catalog.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import World, log_line, subprocess_env

MB = 1 << 20

_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True)
print(json.dumps({
    "code": done.returncode,
    "seconds": time.monotonic() - started,
    "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "stderr": done.stderr.decode("utf-8", "replace"),
}))
"""


@dataclass(frozen=True)
class Measured:
    code: int
    seconds: float
    rss_mb: float
    stderr: str


def measure(argv: list[str], cwd: Path, timeout: float = 240) -> Measured:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "keyscope", *argv],
        capture_output=True, cwd=cwd, env=subprocess_env(), timeout=timeout, check=True,
    )  # fmt: skip
    return Measured(**json.loads(done.stdout))


def assert_input_error(measured: Measured, path: Path, *, rss_mb: float, text: str) -> None:
    assert measured.code == 3, measured.stderr
    lines = measured.stderr.strip().splitlines()
    assert len(lines) == 1, measured.stderr
    assert lines[0].startswith(f"keyscope: error: {path}")
    assert text in lines[0]
    assert "Traceback" not in measured.stderr
    assert measured.rss_mb < rss_mb, measured


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (all zero bytes)."""
    with path.open("wb") as stream:
        stream.truncate(size)
    return path


def gzip_bomb(
    path: Path, megabytes: int, chunk: bytes, head: bytes = b"", tail: bytes = b""
) -> Path:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = chunk * (MB // len(chunk))
    with path.open("wb") as stream:
        stream.write(compressor.compress(head))
        for _ in range(megabytes):
            stream.write(compressor.compress(block))
        stream.write(compressor.compress(tail))
        stream.write(compressor.flush())
    return path


# --------------------------------------------------------------------------- spec


SPEC_CASES = {
    "alias-bomb.yaml": (billion_laughs(), "alias"),
    "self-alias.yaml": ("a: &x [*x]\n", "cycle"),
    "deep-flow.yaml": ("[" * 20000, "nest"),
    "deep.json": ('{"a":' * 100000, "nest"),
    "deep-block.yaml": ("- " * 50000 + "x\n", "nest"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(SPEC_CASES))
def test_spec_bombs_end_fast_and_small(world: World, tmp_path: Path, name: str) -> None:
    content, text = SPEC_CASES[name]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    world.write()
    measured = measure(["spec", str(path), "--config", str(world.config_path)], tmp_path)
    assert_input_error(measured, path, rss_mb=300, text=text)
    assert measured.seconds < 20
    # The same file as the audit's spec.
    measured = measure(["audit", *world.flags(), "--spec", str(path)], tmp_path)
    assert_input_error(measured, path, rss_mb=300, text=text)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_spec_over_the_byte_cap_is_refused_without_reading_it(
    world: World, tmp_path: Path, suffix: str
) -> None:
    path = sparse(tmp_path / f"huge{suffix}", 5 << 30)  # 5 GiB, no disk used
    world.write()
    measured = measure(["spec", str(path), "--config", str(world.config_path)], tmp_path)
    assert_input_error(measured, path, rss_mb=300, text="byte limit")
    assert measured.seconds < 20


# --------------------------------------------------------------------------- inventory, config


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "content", "text"),
    [
        ("keys.yaml", billion_laughs(), "alias"),
        ("keys.json", "[" * 100000, "nest"),
        ("keys.yaml", "a: &x [*x]\n", "cycle"),
    ],
)
def test_inventory_bombs_end_fast_and_small(
    world: World, tmp_path: Path, name: str, content: str, text: str
) -> None:
    world.write()
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    measured = measure(["audit", *world.flags(), "--keys", str(path)], tmp_path)
    assert_input_error(measured, path, rss_mb=300, text=text)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["keys.yaml", "keys.json", "keys.csv"])
def test_an_inventory_over_the_byte_cap_is_refused(world: World, tmp_path: Path, name: str) -> None:
    world.write()
    path = sparse(tmp_path / name, 5 << 30)
    measured = measure(["audit", *world.flags(), "--keys", str(path)], tmp_path)
    assert_input_error(measured, path, rss_mb=300, text="byte limit")


@pytest.mark.timeout(60)
def test_a_suppressions_bomb_is_refused(world: World, tmp_path: Path) -> None:
    world.write()
    path = tmp_path / "suppressions.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    measured = measure(["audit", *world.flags(), "--suppressions", str(path)], tmp_path)
    assert_input_error(measured, path, rss_mb=300, text="alias")


@pytest.mark.timeout(60)
def test_a_baseline_too_deep_is_refused(world: World, tmp_path: Path) -> None:
    world.write()
    path = tmp_path / "baseline.json"
    path.write_text("[" * 100000 + "]" * 100000, encoding="utf-8")
    measured = measure(["audit", *world.flags(), "--baseline", str(path)], tmp_path)
    assert measured.code == 3, measured.stderr
    assert measured.stderr.startswith(f"keyscope: error: {path}")
    assert measured.stderr.count("\n") == 1 and "Traceback" not in measured.stderr
    assert measured.rss_mb < 300


# --------------------------------------------------------------------------- usage logs


@pytest.mark.timeout(120)
def test_a_har_gzip_bomb_is_refused_at_the_decompressed_cap(world: World, tmp_path: Path) -> None:
    """A 1 MB ``.har.gz`` that inflates past the 1 GiB HAR cap: refused, exit 3.

    The HAR reader holds at most the cap in memory, so the bound is the cap plus the
    interpreter (1.5 GiB)."""
    world.write()
    path = gzip_bomb(
        tmp_path / "capture.har.gz", 1100, b"x", b'{"log": {"entries": [], "p": "', b'"}}'
    )
    assert path.stat().st_size < 2 * MB
    measured = measure(["audit", *world.flags(), "--usage", str(path)], tmp_path)
    assert_input_error(measured, path, rss_mb=1536, text="larger than")
    assert measured.seconds < 90


@pytest.mark.timeout(180)
def test_a_huge_valid_log_streams_in_bounded_memory(world: World, tmp_path: Path) -> None:
    """BAD-INPUTS #37: 256 MiB of log lines (2.4 million requests, a 1 MB gzip file) are
    aggregated per (key, route), not held per line: under 1 GiB of RSS."""
    world.write()
    line = (log_line("key_accountant01", "GET", "/v1/customers") + "\n").encode()
    path = gzip_bomb(tmp_path / "huge.jsonl.gz", 256, line)
    measured = measure(["audit", *world.flags(), "--usage", str(path), "--format", "json",
                        "-o", str(tmp_path / "r.json")], tmp_path)  # fmt: skip
    assert measured.code == 0, measured.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    [source] = [s for s in data["data_quality"]["sources"] if s["source"] == str(path)]
    assert source["lines"] == 256 * (MB // len(line)) and source["bad_lines"] == 0
    assert measured.rss_mb < 1024, measured


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["gzip-512MiB", "plain-100MiB"])
def test_a_usage_gzip_bomb_is_refused_in_bounded_memory(
    world: World, tmp_path: Path, kind: str
) -> None:
    """One endless line: refused with exit 3, or counted as a bad line that makes the run
    incomplete; never a silent loss, and under 1 GiB of RSS either way."""
    world.write()
    if kind.startswith("gzip"):
        path = gzip_bomb(tmp_path / "bomb.jsonl.gz", 512, b"x")
        assert path.stat().st_size < MB
    else:
        path = tmp_path / "long.jsonl"
        path.write_bytes(b"x" * (100 * MB))
    report = tmp_path / "r.json"
    measured = measure(
        ["audit", *world.flags(), "--usage", str(path), "--json", str(report)], tmp_path
    )
    assert measured.rss_mb < 1024, measured
    assert "Traceback" not in measured.stderr
    if measured.code == 3:
        assert_input_error(measured, path, rss_mb=1024, text="")
        return
    assert measured.code == 0, measured.stderr
    data = json.loads(report.read_text())
    [source] = [s for s in data["data_quality"]["sources"] if s["source"] == str(path)]
    assert source["lines"] >= 1 and source["bad_lines"] >= 1, source
    assert data["complete"] is False


def _gzip_variant(name: str) -> bytes:
    good = (log_line("key_accountant01", "GET", "/v1/customers") + "\n").encode() * 1000
    whole = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = whole.compress(good) + whole.flush()
    return {
        "cut.jsonl.gz": data[: len(data) // 2],
        "corrupt.jsonl.gz": data[:20] + bytes(range(256)) * 4 + data[-8:],
        "corrupt.csv.gz": data[:20] + bytes(range(256)) * 4 + data[-8:],
        "not-gzip.jsonl.gz": b"plain text, not gzip\n",
    }[name]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "name",
    [
        "cut.jsonl.gz",
        "not-gzip.jsonl.gz",
        "corrupt.jsonl.gz",
        "corrupt.csv.gz",
    ],
)
def test_truncated_and_corrupt_gzip_logs_are_one_line_errors_or_bad_lines(
    world: World, tmp_path: Path, name: str
) -> None:
    world.write()
    path = tmp_path / name
    path.write_bytes(_gzip_variant(name))
    measured = measure(["audit", *world.flags(), "--usage", str(path)], tmp_path)
    assert "Traceback" not in measured.stderr
    assert measured.code in (0, 3), measured.stderr
    if measured.code == 3:
        last = measured.stderr.strip().splitlines()[-1]
        assert last.startswith(f"keyscope: error: {path}"), last
    else:
        assert "data incomplete" in measured.stderr, measured.stderr
    assert measured.rss_mb < 512


def test_wrapper_measures_the_child_only(tmp_path: Path) -> None:
    """The RSS figure is the keyscope child's, not inflated by this test process."""
    measured = measure(["--version"], tmp_path)
    assert measured.code == 0
    assert 5 < measured.rss_mb < 200
