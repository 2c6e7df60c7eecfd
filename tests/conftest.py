"""Fixtures shared across the test layers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config or KEYSCOPE_* variable leaks in; the working folder is empty.

    Returns the working folder (``tmp_path / "work"``), which is the current one.
    """
    for name in list(os.environ):
        if name.startswith("KEYSCOPE_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
