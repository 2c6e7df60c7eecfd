"""Fixtures for the reporters' tests; the builders live in ``_factory.py``."""

from __future__ import annotations

import pytest

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
