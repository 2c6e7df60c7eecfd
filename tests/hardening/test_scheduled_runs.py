"""P10 (BAD-INPUTS #47, #48): scheduled runs are safe to overlap and to kill.

- Two audits writing the same report at once: the second exits 6 with a "locked"
  message and writes nothing; the first finishes and its report is whole.
- A run killed while holding the lock (a crashed cron job) does not block the next.
- SIGKILL while a large report is being written: the previous report is byte-identical
  (each report is wholly old or wholly new), whether the kill lands in the middle of the
  write (a harness writing 256 MB through ``keyscope.output.write_atomic``, or one paused
  half-way through its write) or at random points of a real ``keyscope audit``.
- The report being written is an anonymous ``O_TMPFILE`` file, named only when complete:
  a kill during the write leaves no file at all.  Only a kill in the microseconds
  between naming it and renaming it over the report (or any kill, on a system without
  ``O_TMPFILE``, which writes a named temporary file) leaves a ``.<name>.*.tmp`` file;
  the next run, holding the folder's lock, removes it, so none accumulate.
"""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import World, daily_lines, key_record, subprocess_env

# Runs keyscope with write_atomic slowed down, so a test can hold a run inside its lock.
SLOW_WRITER = """
import os, sys, time
import keyscope.output as output
original = output.write_atomic
def slow(*args, **kwargs):
    time.sleep(float(os.environ["KEYSCOPE_TEST_WRITE_DELAY"]))
    return original(*args, **kwargs)
output.write_atomic = slow
from keyscope.cli import main
sys.exit(main(sys.argv[1:]))
"""

# Writes a large payload through write_atomic (the function every keyscope output uses).
BIG_WRITER = """
import sys
from pathlib import Path
from keyscope.output import write_atomic
write_atomic(Path(sys.argv[1]), b"x" * (int(sys.argv[2]) << 20))
"""


# Writes through write_atomic, pausing half-way through the write (a file tells when)
# until it is killed; "named" takes O_TMPFILE away, as on a system without it.
PAUSED_WRITER = """
import os, sys, time
from pathlib import Path
from keyscope.output import write_atomic
target, size, paused, way = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
if way == "named":
    del os.O_TMPFILE
original = os.fdopen
class Paused:
    def __init__(self, stream):
        self.stream = stream
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.stream.close()
    def write(self, data):
        self.stream.write(data[: len(data) // 2])
        self.stream.flush()
        paused.write_text("paused")
        time.sleep(300)
        return self.stream.write(data[len(data) // 2 :])
    def __getattr__(self, name):
        return getattr(self.stream, name)
os.fdopen = lambda *args, **kwargs: Paused(original(*args, **kwargs))
write_atomic(target, b"x" * (size << 20))
"""


def start(
    code: str, *args: str, cwd: Path, capture: bool = False, **env: str
) -> subprocess.Popen[bytes]:
    """Run a Python snippet; its output is kept only with ``capture`` (then communicate)."""
    stream = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=subprocess_env(**env),
        stdout=stream,
        stderr=stream,
    )


def lock_is_held(folder: Path) -> bool:
    """True when some process holds ``keyscope audit``'s lock for this output folder."""
    lock = folder / ".keyscope.lock"
    if not lock.exists():
        return False
    descriptor = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def wait_until(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def leftovers(folder: Path, *keep: str) -> list[str]:
    """Files in ``folder`` other than the reports and the (harmless) lock file."""
    allowed = {*keep, ".keyscope.lock"}
    return sorted(path.name for path in folder.iterdir() if path.name not in allowed)


@pytest.mark.timeout(180)
def test_two_overlapping_audits_one_exits_locked(world: World, tmp_path: Path) -> None:
    world.write()
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.json"
    flags = ["audit", *world.flags(), "--json", str(report), "--format", "json"]
    first = start(SLOW_WRITER, *flags, cwd=tmp_path, capture=True, KEYSCOPE_TEST_WRITE_DELAY="4")
    try:
        wait_until(lambda: lock_is_held(out))
        second = subprocess.run(
            [sys.executable, "-m", "keyscope", *flags],
            capture_output=True, cwd=tmp_path, env=subprocess_env(), timeout=120, check=False,
        )  # fmt: skip
        assert second.returncode == 6, second.stderr
        err = second.stderr.decode()
        assert "locked" in err and err.count("\n") == 1 and "Traceback" not in err
        assert second.stdout == b""
        assert not report.exists()  # the second run wrote nothing
        out_first, err_first = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, err_first
    assert report.read_bytes() == out_first  # the first run's report is whole
    assert leftovers(out, "report.json") == []


@pytest.mark.timeout(180)
def test_a_killed_run_leaves_no_lock_behind(world: World, tmp_path: Path) -> None:
    """BAD-INPUTS #48: a stale lock from a crashed run never blocks the next run."""
    world.write()
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.json"
    report.write_text("previous\n", encoding="utf-8")
    flags = ["audit", *world.flags(), "--json", str(report)]
    crashed = start(SLOW_WRITER, *flags, cwd=tmp_path, KEYSCOPE_TEST_WRITE_DELAY="30")
    wait_until(lambda: lock_is_held(out))
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(timeout=30)
    assert (out / ".keyscope.lock").exists()
    assert report.read_text() == "previous\n"
    done = subprocess.run(
        [sys.executable, "-m", "keyscope", *flags],
        capture_output=True, cwd=tmp_path, env=subprocess_env(), timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert report.read_text().startswith("{")


def _writing(pid: int, folder: Path) -> bool:
    """True while the process has a file of ``folder`` open (its temporary report)."""
    try:
        links = [os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(link.startswith(f"{folder}/") for link in links)


def previous_report(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """An output folder holding yesterday's report: (folder, report path, its bytes)."""
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.html"
    previous = b"<html>previous report</html>\n" * 1000
    report.write_bytes(previous)
    return out, report, previous


def audit_writing(world: World, report: Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """A normal ``keyscope audit`` that writes ``report`` (its format from the suffix)."""
    fmt = report.suffix.lstrip(".")
    return subprocess.run(
        [sys.executable, "-m", "keyscope", "audit", *world.flags(), f"--{fmt}", str(report)],
        capture_output=True, cwd=cwd, env=subprocess_env(), timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.timeout(180)
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_sigkill_in_the_middle_of_a_write_keeps_the_previous_report(
    world: World, tmp_path: Path, delay: float
) -> None:
    """The kill lands while 256 MB are being written: the old report is untouched.  The
    file being written has no name, so nothing should be left; were the kill to land in
    the microseconds between naming and renaming, the next run removes the name."""
    world.write()
    out, report, previous = previous_report(tmp_path)
    writer = start(BIG_WRITER, str(report), "256", cwd=tmp_path)
    try:
        wait_until(lambda: _writing(writer.pid, out) or writer.poll() is not None)
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert report.read_bytes() == previous
    assert all(name.endswith(".tmp") for name in leftovers(out, "report.html"))
    done = audit_writing(world, report, tmp_path)
    assert done.returncode == 0, done.stderr
    assert report.read_bytes().startswith(b"<!DOCTYPE html>") or b"<html" in report.read_bytes()
    assert leftovers(out, "report.html") == []


@pytest.mark.timeout(180)
@pytest.mark.parametrize("way", ["anonymous", "named"])
def test_sigkill_while_paused_mid_write_leaves_the_previous_report_and_no_file(
    world: World, tmp_path: Path, way: str
) -> None:
    """A writer stopped half-way through a 32 MB report and killed: the previous report
    is byte-identical, and with O_TMPFILE the folder holds nothing else, during the
    write or after the kill.  Without it (``named``) the partial temporary file stays
    until the next run removes it, which is why O_TMPFILE is used where it exists."""
    world.write()
    out, report, previous = previous_report(tmp_path)
    paused = tmp_path / "paused"
    writer = start(PAUSED_WRITER, str(report), "32", str(paused), way, cwd=tmp_path)
    try:
        wait_until(lambda: paused.exists() or writer.poll() is not None)
        assert writer.poll() is None, "the writer ended before pausing"
        during = leftovers(out, "report.html")
        assert _writing(writer.pid, out)  # 16 MB are written to a file of that folder
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert report.read_bytes() == previous
    after = leftovers(out, "report.html")
    if way == "anonymous":
        assert during == [] and after == []
    else:
        assert len(during) == 1 and during == after
        assert after[0].startswith(".report.html.") and after[0].endswith(".tmp")
        assert (out / after[0]).stat().st_size == 16 << 20
    done = audit_writing(world, report, tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"<html" in report.read_bytes() and report.read_bytes() != previous
    assert leftovers(out, "report.html") == []


def big_world(world: World, keys: int) -> World:
    """Many keys, so the reports take a while to render and write."""
    world.keys = [key_record(f"key_{index:06d}", ["invoices:write", "payments:write"],
                             name=f"Integration {index}") for index in range(keys)]  # fmt: skip
    world.usage = [
        line
        for index in range(0, keys, 10)
        for line in daily_lines(f"key_{index:06d}", [("GET", "/v1/invoices")])
    ]
    return world.write()


@pytest.mark.timeout(600)
def test_sigkill_at_random_points_of_a_real_audit(world: World, tmp_path: Path) -> None:
    big_world(world, 3000)
    out = tmp_path / "out"
    out.mkdir()
    names = ("report.json", "report.html", "report.sarif", "report.csv", "report.md")
    flags = ["audit", *world.flags(), "--format", "json"]
    for name in names:
        flags += [f"--{name.split('.')[1]}", str(out / name)]
    baseline = subprocess.run(
        [sys.executable, "-m", "keyscope", *flags],
        capture_output=True, cwd=tmp_path, env=subprocess_env(), timeout=300, check=False,
    )  # fmt: skip
    assert baseline.returncode == 0, baseline.stderr
    previous = {name: (out / name).read_bytes() for name in names}
    # The new run differs (another as-of), so a report is either wholly old or wholly new.
    newer = [*flags]
    newer[newer.index("--as-of") + 1] = "2026-11-02"
    started = time.monotonic()
    probe = subprocess.run(
        [sys.executable, "-m", "keyscope", *newer],
        capture_output=True, cwd=tmp_path, env=subprocess_env(), timeout=300, check=False,
    )  # fmt: skip
    duration = time.monotonic() - started
    assert probe.returncode == 0
    current = {name: (out / name).read_bytes() for name in names}
    assert current != previous
    for name in names:
        (out / name).write_bytes(previous[name])
    rng = random.Random(1234)
    for trial in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "keyscope", *newer],
            cwd=tmp_path, env=subprocess_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        for name in names:  # each report is wholly old or wholly new, never partial
            assert (out / name).read_bytes() in (previous[name], current[name]), (trial, name)
        assert all(name.endswith(".tmp") for name in leftovers(out, *names)), trial
    # The next complete run removes whatever the killed ones left.
    done = subprocess.run(
        [sys.executable, "-m", "keyscope", *newer],
        capture_output=True, cwd=tmp_path, env=subprocess_env(), timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert leftovers(out, *names) == []
    assert {name: (out / name).read_bytes() for name in names} == current
