"""Atomic writes: the previous report survives a failed write; symlinks and overlaps refused.

On Linux the report is written into an anonymous ``O_TMPFILE`` file that gets a name only
when complete; elsewhere (simulated here by removing the flag or failing the open the way
an unsupporting kernel or filesystem does) a named temporary file is used.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from keyscope.errors import LockedError, ReportError
from keyscope.output import output_lock, remove_stale_temporaries, write_atomic


@pytest.fixture(params=["anonymous", "named"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing: O_TMPFILE (this Linux machine) and the named fallback."""
    if request.param == "named":
        monkeypatch.delattr(os, "O_TMPFILE")
    return request.param


def names_seen_at_fsync(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[list[str]]:
    """Record the folder's file names each time a file is fsynced (the data is then written)."""
    seen: list[list[str]] = []
    original: Callable[[int], None] = os.fsync

    def spying(descriptor: int) -> None:
        seen.append(sorted(path.name for path in folder.iterdir()))
        original(descriptor)

    monkeypatch.setattr(os, "fsync", spying)
    return seen


def test_write_then_replace(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_failed_replace_keeps_previous_report_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, "previous")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ReportError, match="No space left"):
        write_atomic(target, "new")
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_the_report_has_no_name_until_it_is_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """O_TMPFILE: while the data is written and fsynced no new name exists in the folder,
    so a kill at that point can leave nothing behind; the file is then linked by its
    /proc/self/fd entry under a temporary name and renamed."""
    target = tmp_path / "report.json"
    write_atomic(target, "previous")
    seen = names_seen_at_fsync(monkeypatch, tmp_path)
    links: list[str] = []
    original_link = os.link

    def spying_link(source: str, destination: str, **kwargs: Any) -> None:
        links.append(source)
        original_link(source, destination, **kwargs)

    monkeypatch.setattr(os, "link", spying_link)
    write_atomic(target, "new report")
    assert seen[0] == ["report.json"]  # the file fsync: no temporary name yet
    assert len(links) == 1 and links[0].startswith("/proc/self/fd/")
    assert target.read_text() == "new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize(
    "unsupported", ["no flag", errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, "link refused"]
)
def test_without_o_tmpfile_a_named_temporary_file_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unsupported: str | int
) -> None:
    """No O_TMPFILE (another system, an old kernel, a filesystem without it) or no way to
    name the anonymous file: the named temporary file does the job, and is gone after."""
    target = tmp_path / "report.json"
    write_atomic(target, "previous")
    if unsupported == "no flag":
        monkeypatch.delattr(os, "O_TMPFILE")
    elif unsupported == "link refused":

        def refused(*args: Any, **kwargs: Any) -> None:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "link", refused)
    else:
        original_open = os.open

        def old_kernel(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & os.O_TMPFILE == os.O_TMPFILE:
                raise OSError(unsupported, os.strerror(int(unsupported)))
            return original_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", old_kernel)
    seen = names_seen_at_fsync(monkeypatch, tmp_path)
    write_atomic(target, "new report")
    temporary = sorted({name for names in seen for name in names} - {"report.json"})
    assert len(temporary) == 1 and temporary[0].startswith(".report.json.")
    assert temporary[0].endswith(".tmp")  # the name remove_stale_temporaries looks for
    assert target.read_text() == "new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_other_failures_to_open_are_reported_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, "previous")
    original_open = os.open

    def full_disk(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk)
    with pytest.raises(ReportError, match="No space left on device"):
        write_atomic(target, "new")
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_reports_are_readable_by_all_whatever_the_umask(tmp_path: Path, way: str) -> None:
    target = tmp_path / "report.html"
    previous = os.umask(0o077)
    try:
        write_atomic(target, "<html></html>")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644
    assert target.read_text() == "<html></html>"


def test_stale_temporaries_of_the_target_only_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "report[1].json"
    for name in (".report[1].json.ab12cd34.tmp", ".report[1].json.x_9.tmp", ".other.json.a.tmp"):
        (tmp_path / name).write_text("partial")
    (tmp_path / "report[1].json").write_text("kept")
    assert remove_stale_temporaries(target) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.a.tmp", "report[1].json"]


def test_symlink_and_folder_targets_are_refused(tmp_path: Path, way: str) -> None:
    real = tmp_path / "real.txt"
    real.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(ReportError, match="symbolic link"):
        write_atomic(link, "x")
    assert real.read_text() == "keep"
    write_atomic(link, "replaced", force=True)
    assert real.read_text() == "keep"
    assert not link.is_symlink()
    with pytest.raises(ReportError, match="is a folder"):
        write_atomic(tmp_path, "x")
    with pytest.raises(ReportError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "r.txt", "x")


def test_second_holder_of_the_lock_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    with output_lock(target):
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                with output_lock(target):
                    os._exit(0)
            except LockedError:
                os._exit(6)
            os._exit(1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 6
    with output_lock(target):
        pass
