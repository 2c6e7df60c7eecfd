"""Fixtures for the reporters' tests; the builders live in ``_factory.py``."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from keyscope.model import AuditResult

from ._factory import build_result, hostile


@pytest.fixture
def result() -> AuditResult:
    """The standard small result: least-privilege examples, legacy keys, a probed key."""
    return build_result()


@pytest.fixture
def hostile_result() -> AuditResult:
    """Every P6 payload in key names, owners, paths, messages, anomalies and data quality."""
    return hostile()


class _TextSnapshot(SingleFileSnapshotExtension):
    """One golden file per test, stored as text (LF line ends, see .gitattributes)."""

    _write_mode = WriteMode.TEXT


def _extension(suffix: str) -> type[SingleFileSnapshotExtension]:
    return type(f"{suffix.capitalize()}Snapshot", (_TextSnapshot,), {"_file_extension": suffix})


@pytest.fixture
def snapshot_html(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(_extension("html"))


@pytest.fixture
def snapshot_md(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(_extension("md"))


@pytest.fixture
def snapshot_csv(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(_extension("csv"))


@pytest.fixture
def snapshot_sarif(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(_extension("sarif"))
