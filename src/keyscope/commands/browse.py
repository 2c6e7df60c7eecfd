"""``keyscope browse``: the terminal UI for security reviewers.

Takes the same inputs as ``keyscope audit`` (config file, spec, keys, usage, window,
a fetched ``--snapshot``, or ``--live`` to fetch fresh data first) and opens the
Textual application, which reads and audits them in a worker after the UI is up (a
``--live`` fetch happens in that worker too, silently: the screen is the app's).
Textual is imported only here, inside :func:`run`, so other commands never pay for it.
Exit code: the app's return code (0 on a normal quit).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from keyscope.commands._inputs import add_input_arguments, input_flags
from keyscope.commands._platform import add_live_arguments

if TYPE_CHECKING:
    from keyscope.pipeline import AuditRun
    from keyscope.settings import Settings
    from keyscope.tui.app import KeyscopeApp

__all__ = ["add_parser", "build_app", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``keyscope browse``."""
    parser = subparsers.add_parser(
        "browse",
        help="browse keys, scopes and findings in a terminal UI (what-if, triage, export)",
        description=(
            "Open the interactive audit: every key with its scopes, one key's scope grid with "
            "a live what-if, the spec's catalog; triage findings into the suppressions file "
            "and export the HTML, JSON, Markdown, CSV or SARIF report."
        ),
    )
    add_input_arguments(parser)
    add_live_arguments(parser)
    parser.set_defaults(run=run)


def build_app(args: argparse.Namespace) -> KeyscopeApp:
    """The app for these arguments (the tests drive it with Pilot).

    Raises:
        ConfigError: the settings cannot be resolved.
        UsageError: ``--live`` together with ``--snapshot``.
    """
    from keyscope.errors import UsageError
    from keyscope.settings import load_settings
    from keyscope.tui.app import make_app

    settings = load_settings(input_flags(args), config=args.config)
    loader = None
    if getattr(args, "live", False):
        if settings.snapshot is not None:
            raise UsageError("--live fetches its own snapshot; leave out --snapshot")
        # The fetch's progress lines would be drawn over the app: fetch quietly.
        quiet = argparse.Namespace(**{**vars(args), "quiet": True})

        def loader(resolved: Settings) -> AuditRun:
            from keyscope.commands._platform import live_snapshot
            from keyscope.pipeline import run_audit

            with live_snapshot(resolved, quiet) as fetched:
                return run_audit(fetched)

    return make_app(settings, loader, debug=bool(getattr(args, "debug", False)))


def run(args: argparse.Namespace) -> int:
    """Run the app until the reviewer quits."""
    from keyscope.errors import UsageError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("keyscope browse needs a terminal; use keyscope audit in scripts and jobs")
    app = build_app(args)
    app.run()
    return app.return_code or 0
