"""Atomic writes: the previous report survives a failed write; symlinks and overlaps refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keyscope.errors import LockedError, ReportError
from keyscope.output import output_lock, write_atomic


def test_write_then_replace(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_failed_replace_keeps_previous_report_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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


def test_symlink_and_folder_targets_are_refused(tmp_path: Path) -> None:
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
