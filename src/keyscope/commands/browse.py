"""``keyscope browse``: the terminal UI for security reviewers.

Takes the same inputs as ``keyscope audit`` (config file, spec, keys, usage, window)
and opens the Textual application, which reads and audits them in a worker after the
UI is up.  Textual is imported only here, inside :func:`run`, so other commands never
pay for it.  Exit code: the app's return code (0 on a normal quit).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from keyscope.commands._inputs import add_input_arguments, input_flags

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``keyscope browse``."""
    parser = subparsers.add_parser(
        "browse",
        help="browse keys, scopes and findings in a terminal UI (what-if, triage, export)",
        description=(
            "Open the interactive audit: every key with its scopes, one key's scope grid with "
            "a live what-if, the spec's catalog; triage findings into the suppressions file "
            "and export the HTML, JSON or Markdown report."
        ),
    )
    add_input_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the settings, then run the app until the reviewer quits."""
    from keyscope.errors import UsageError
    from keyscope.settings import load_settings

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("keyscope browse needs a terminal; use keyscope audit in scripts and jobs")
    settings = load_settings(input_flags(args), config=args.config)

    from keyscope.tui.app import make_app

    app = make_app(settings, debug=bool(getattr(args, "debug", False)))
    app.run()
    return app.return_code or 0
