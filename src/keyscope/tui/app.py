"""The keyscope Textual application: thin, with its dependencies injected.

:func:`make_app` builds it for the CLI and the tests alike.  The app shows the UI
first, then reads and audits the inputs in a thread worker (``load_audit``) that posts
:class:`~keyscope.tui.messages.AnalysisCompleted`; errors come back as notifications,
never as a traceback.  Screens own navigation, widgets own display; the app owns the
I/O a reviewer triggers (writing a suppression, exporting a report).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from keyscope.errors import EXIT_INTERNAL, KeyscopeError, ReportError
from keyscope.redaction import redact
from keyscope.settings import SUPPRESSIONS_NAME, Settings
from keyscope.text import one_line
from keyscope.tui.commands import KeyscopeCommands
from keyscope.tui.messages import (
    AnalysisCompleted,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisStarted,
    FindingTriaged,
    ReportExported,
    ResultUpdated,
    TriageRequested,
)

__all__ = ["KeyscopeApp", "RunLoader", "make_app"]

REPORTERS: dict[str, tuple[str, str]] = {
    "html": ("keyscope.report.html", "render_html"),
    "json": ("keyscope.report.json_report", "render_json"),
    "md": ("keyscope.report.markdown", "render_markdown"),
    "csv": ("keyscope.report.csv_report", "render_csv"),
    "sarif": ("keyscope.report.sarif", "render_sarif"),
}
"""Export format -> the reporter ``keyscope audit`` uses for it (module, function)."""

RunLoader = Callable[[Settings], Any]
"""Settings -> an AuditRun (``keyscope.pipeline.run_audit``, or a fake in tests)."""


def _pipeline_loader(settings: Settings) -> Any:
    from keyscope.pipeline import run_audit

    return run_audit(settings)


def _safe_message(error: BaseException) -> str:
    return one_line(redact(str(error)), limit=500)


class KeyscopeApp(App[int]):
    """Browse an audit: keys, one key's what-if, the spec; triage and export."""

    CSS_PATH = "app.tcss"
    TITLE = "keyscope"
    COMMANDS: ClassVar = App.COMMANDS | {KeyscopeCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit", tooltip="Leave keyscope", id="quit"),
        Binding("question_mark", "help", "Help", tooltip="Keys and symbols", id="help"),
        Binding(
            "S", "show_spec", "Spec", tooltip="Scope catalog, operations, anomalies", id="show-spec"
        ),
        Binding(
            "ctrl+e",
            "export_report",
            "Export",
            tooltip="Write the HTML, JSON, Markdown, CSV or SARIF report",
            id="export-report",
        ),
        Binding(
            "ctrl+r",
            "reload",
            "Reload",
            tooltip="Read the inputs and audit again",
            id="reload",
            show=False,
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        run_loader: RunLoader | None = None,
        *,
        today: Callable[[], date] = date.today,
        cwd: Path | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__()
        self.show_tracebacks = debug
        self.settings = settings
        self.run_loader = run_loader or _pipeline_loader
        self.today = today
        self.cwd = cwd or Path.cwd()
        self.context: Any = None
        """The :class:`~keyscope.tui.context.AuditContext` shown, once there is one (the
        audit's, with this session's triage decisions marked)."""
        self._audited: Any = None
        """The context as the audit produced it, before this session's triage."""
        self._triaged: tuple[Any, ...] = ()
        """Suppressions written in this session since the audit was loaded, in order."""

    # ------------------------------------------------------------------ crashes

    def _handle_exception(self, error: Exception) -> None:
        super()._handle_exception(error)
        self._return_code = EXIT_INTERNAL

    def _fatal_error(self) -> None:
        # Textual's default prints a traceback with local variables: key names, paths,
        # maybe a secret.  Without --debug, say only what kind of bug it was.
        if self.show_tracebacks:
            super()._fatal_error()
            return
        self.bell()
        kind = type(self._exception).__name__ if self._exception else "error"
        self._exit_renderables.append(
            Text(f"keyscope: internal error: {kind} (run with --debug for details)")
        )
        self._close_messages_no_wait()

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        from keyscope.tui.screens.keys import KeysScreen

        if self.settings.keymap:
            # Remaps bindings by their ids (``[keymap]`` in keyscope.toml).
            self.set_keymap(dict(self.settings.keymap))
        self.install_screen(KeysScreen(), name="keys")
        self.push_screen("keys")
        self.load_audit()

    @property
    def keys_screen(self) -> Any:
        return self.get_screen("keys")

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis")
    def load_audit(self) -> None:
        """Read the inputs and run the audit off the UI thread; post what happened."""
        from keyscope.tui.context import AuditContext
        from keyscope.tui.key_frame import KeyFrame
        from keyscope.tui.widgets.summary_bar import summary_content

        worker = get_current_worker()
        started = time.perf_counter()
        self.post_message(AnalysisStarted(self._describe_inputs()))
        run = self.run_loader(self.settings)
        if worker.is_cancelled:
            return
        self.post_message(AnalysisProgressed("Preparing the keys", time.perf_counter() - started))
        context = AuditContext.from_run(run)
        frame = KeyFrame.from_result(run.result, context.areas)
        summary = summary_content(run.result)
        if worker.is_cancelled:
            return
        elapsed = time.perf_counter() - started
        self.post_message(AnalysisCompleted(run, frame, context, summary, elapsed))

    def _describe_inputs(self) -> str:
        settings = self.settings
        names = [path.name for path in (settings.spec, settings.keys) if path is not None]
        if settings.usage:
            names.append(f"{len(settings.usage)} usage source(s)")
        return ", ".join(names) or "the inputs"

    @on(AnalysisStarted)
    def _analysis_started(self, message: AnalysisStarted) -> None:
        self.keys_screen.show_loading(message.description)

    @on(AnalysisProgressed)
    def _analysis_progressed(self, message: AnalysisProgressed) -> None:
        self.keys_screen.show_progress(message.phase, message.elapsed)

    @on(AnalysisCompleted)
    def _analysis_completed(self, message: AnalysisCompleted) -> None:
        self.context = self._audited = message.context
        self._triaged = ()
        self.keys_screen.show_audit(message.context, message.frame, message.summary)
        result = message.context.result
        if not result.complete:
            self.notify(
                "The data was incomplete: " + "; ".join(result.incomplete_reasons)[:300],
                severity="warning",
                markup=False,
            )

    @on(AnalysisFailed)
    def _analysis_failed(self, message: AnalysisFailed) -> None:
        self.keys_screen.show_failure(message.message)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is not WorkerState.ERROR:
            return
        error = worker.error
        if isinstance(error, KeyscopeError):
            text = _safe_message(error)
            code = error.exit_code
        else:
            # A bug: say what kind, never the traceback (it could carry input text).
            text = (
                f"internal error: {type(error).__name__} (run keyscope audit --debug for details)"
            )
            code = EXIT_INTERNAL
        self.notify(text, title="keyscope", severity="error", timeout=10, markup=False)
        if worker.group == "analysis":
            self.post_message(AnalysisFailed(text, code))

    # ------------------------------------------------------------------ actions

    def open_screen(
        self,
        screen_id: str,
        build: Callable[[], Screen[Any]],
        callback: Callable[[Any], None] | None = None,
    ) -> None:
        """Show the screen with ``screen_id``, pushing the one ``build`` makes only if needed.

        Every screen keyscope pushes has a fixed id, and Textual refuses a second widget
        with the same id (``DuplicateIds``, a crash).  A key, a palette command or a
        remapped key may ask again for a screen that is already open, so: on top, it
        stays as it is; further down the stack, the screens above it are closed (as if
        cancelled) to bring it to the front; only otherwise is a new one pushed.

        Args:
            screen_id: The id the screen's constructor gives it.
            build: Makes the screen; not called when one is already open.
            callback: Called with the screen's result when it is dismissed.
        """
        stack = self.screen_stack
        existing = next((screen for screen in stack if screen.id == screen_id), None)
        if existing is None:
            self.push_screen(build(), callback)
            return
        while self.screen is not existing and len(self.screen_stack) > 1:
            self.pop_screen()

    def action_help(self) -> None:
        from keyscope.tui.screens.help import HelpScreen

        self.open_screen("help-screen", HelpScreen)

    def action_show_spec(self) -> None:
        if self.context is None:
            self.notify("The audit is still loading", severity="warning")
            return
        from keyscope.tui.screens.spec import SpecScreen

        context = self.context
        self.open_screen("spec-screen", lambda: SpecScreen(context))

    def action_reload(self) -> None:
        self.load_audit()

    def action_export_report(self) -> None:
        if self.context is None:
            self.notify("Nothing to export until the audit has loaded", severity="warning")
            return
        from keyscope.tui.screens.export import ExportDialog, ExportRequest

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self.export_report(request)

        self.open_screen("export-dialog", lambda: ExportDialog(self.cwd), chosen)

    @work(thread=True, exit_on_error=False, group="export")
    def export_report(self, request: Any) -> None:
        """Render the shown result with the audit's own reporter and write it atomically.

        Args:
            request: The dialog's :class:`~keyscope.tui.screens.export.ExportRequest`; an
                existing file is replaced only when the reviewer confirmed it there.

        Raises:
            ReportError: the file appeared since the dialog checked (not confirmed), or
                the write failed (the worker handler turns it into a notification).
        """
        import importlib

        from keyscope.output import write_atomic

        path: Path = request.path
        existed = path.exists() or path.is_symlink()
        if existed and not request.overwrite:
            # Created after the dialog looked: the reviewer never agreed to replace it.
            raise ReportError(f"{path}: already exists; export again to confirm overwriting it")
        module, function = REPORTERS[request.format]
        render = getattr(importlib.import_module(module), function)
        write_atomic(path, render(self.context.result))
        self.post_message(ReportExported(request.format, path, replaced=existed))

    @on(ReportExported)
    def _report_exported(self, message: ReportExported) -> None:
        verb = "Overwrote" if message.replaced else "Wrote"
        self.notify(f"{verb} {message.path}", title="Export", markup=False)

    # ------------------------------------------------------------------ triage

    @property
    def suppressions_path(self) -> Path:
        """The file the scheduled audit reads suppressions from.

        The configured one; else ``keyscope-suppressions.yaml`` beside the config file
        (where ``load_settings`` looks for it), or in the working folder without one.
        """
        if self.settings.suppressions is not None:
            return self.settings.suppressions
        folder = self.settings.config_path.parent if self.settings.config_path else self.cwd
        return folder / SUPPRESSIONS_NAME

    @on(TriageRequested)
    def _triage_requested(self, message: TriageRequested) -> None:
        self.write_suppression(message.suppression, message.fingerprint)

    @work(thread=True, exit_on_error=False, group="triage")
    def write_suppression(self, suppression: Any, fingerprint: str) -> None:
        """Append the entry to the suppressions file (atomic; comments kept)."""
        from keyscope.sources.suppressions import append_suppression

        path = self.suppressions_path
        append_suppression(path, suppression)
        self.post_message(FindingTriaged(suppression, path, fingerprint))

    @on(FindingTriaged)
    def _finding_triaged(self, message: FindingTriaged) -> None:
        for screen in self.screen_stack:
            mark = getattr(screen, "mark_suppressed", None)
            if mark is not None:
                mark(message.fingerprint, message.suppression)
        self.notify(
            f"Suppression written to {message.path}; the next audit applies it",
            title="Triage",
            markup=False,
        )
        if self._audited is not None:
            self._triaged = (*self._triaged, message.suppression)
            self.apply_triage(self._audited, self._triaged)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rows")
    def apply_triage(self, audited: Any, entries: tuple[Any, ...]) -> None:
        """Mark this session's decisions in the audit's result and prepare its rows again.

        Nothing is recomputed: :func:`keyscope.analysis.triage.apply_suppressions`, the
        audit's own triage step, marks the findings the entries cover (judged on the
        audit's ``as_of`` day, as the audit does), starting each time from the result
        as audited, so the latest worker carries every entry.  The keys' rows and the
        summary are then prepared off the UI thread, as after loading.
        """
        from dataclasses import replace

        from keyscope.analysis.triage import apply_suppressions
        from keyscope.tui.key_frame import KeyFrame
        from keyscope.tui.widgets.summary_bar import summary_content

        worker = get_current_worker()
        result = audited.result
        result = apply_suppressions(result, (*result.suppressions, *entries), result.as_of.date())
        context = replace(audited, result=result)
        frame = KeyFrame.from_result(result, context.areas)
        summary = summary_content(result)
        if worker.is_cancelled:
            return
        self.post_message(ResultUpdated(context, frame, summary, entries))

    @on(ResultUpdated)
    def _result_updated(self, message: ResultUpdated) -> None:
        audited = self._audited
        if audited is None or message.context.run is not audited.run:
            return  # prepared from an audit since reloaded
        if message.entries != self._triaged:
            return  # an older update: a later triage's worker carries this one's entry too
        self.context = message.context
        self.keys_screen.show_audit(message.context, message.frame, message.summary)


def make_app(
    settings: Settings,
    run_loader: RunLoader | None = None,
    *,
    today: Callable[[], date] = date.today,
    cwd: Path | None = None,
    debug: bool = False,
) -> KeyscopeApp:
    """Build the app, as the CLI and the tests do.

    Args:
        settings: Resolved settings (inputs, window, suppressions file).
        run_loader: Settings -> AuditRun; defaults to ``keyscope.pipeline.run_audit``.
        today: The date triage expiries are checked against.
        cwd: Where relative export paths and the default suppressions file live.
        debug: Show Textual's traceback (with local variables) on a crash.
    """
    return KeyscopeApp(settings, run_loader, today=today, cwd=cwd, debug=debug)
