"""App-level messages: what the workers and dialogs tell the app happened.

Messages are past-tense events.  Workers post them from threads (``post_message`` is
the one thread-safe call); the app reacts by setting attributes on its screens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from keyscope.model import Suppression

__all__ = [
    "AnalysisCompleted",
    "AnalysisFailed",
    "AnalysisProgressed",
    "AnalysisStarted",
    "FindingTriaged",
    "ReportExported",
    "ResultUpdated",
    "TriageRequested",
]


@dataclass
class AnalysisStarted(Message):
    """The analysis worker started reading the inputs."""

    description: str
    """What is being read, for the progress line (already terminal-safe)."""


@dataclass
class AnalysisProgressed(Message):
    """The worker finished one phase (spec, keys, usage, analysis, rows)."""

    phase: str
    elapsed: float
    """Seconds since the worker started."""


@dataclass
class AnalysisCompleted(Message):
    """The audit is ready to show."""

    run: Any
    """The :class:`keyscope.pipeline.AuditRun` (spec, scope graph, result)."""
    frame: Any
    """The keys screen's rows (:class:`~keyscope.tui.key_frame.KeyFrame`), built off-thread."""
    context: Any
    """What the detail and spec screens need (:class:`keyscope.tui.context.AuditContext`)."""
    summary: Any
    """The summary bar's text (``Content``), counted off the UI thread too."""
    elapsed: float


@dataclass
class AnalysisFailed(Message):
    """Loading or analysis failed; ``message`` is one safe line for the reviewer."""

    message: str
    exit_code: int


@dataclass
class TriageRequested(Message):
    """A reviewer filled in the triage dialog; the app writes the entry."""

    suppression: Suppression
    fingerprint: str
    """The finding's fingerprint, so the screen can mark it once written."""


@dataclass
class FindingTriaged(Message):
    """A reviewer accepted or suppressed a finding; the entry was written to ``path``."""

    suppression: Suppression
    path: Path
    fingerprint: str


@dataclass
class ResultUpdated(Message):
    """The shown result changed without a new audit: triage marked findings suppressed."""

    context: Any
    """The :class:`~keyscope.tui.context.AuditContext` with the updated result."""
    frame: Any
    """The keys screen's rows for it, prepared off the UI thread."""
    summary: Any
    """The summary bar's text for it (``Content``)."""
    entries: tuple[Suppression, ...]
    """The session's suppressions it carries (a later update supersedes it)."""


@dataclass
class ReportExported(Message):
    """A report was written from inside the app."""

    format: str
    path: Path
    replaced: bool = False
    """An existing file was overwritten (the reviewer confirmed it in the dialog)."""
