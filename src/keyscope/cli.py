"""The ``keyscope`` command line: argparse subcommands, one module each.

Each module in ``keyscope.commands`` exposes ``add_parser(subparsers)`` and
``run(args) -> int`` and imports its heavy dependencies inside ``run``, so
``keyscope --help`` stays fast.  Errors from keyscope become one line on stderr and
a documented exit code (see ``keyscope.errors``); an unexpected exception exits 70,
never 0, and never prints a traceback (it could carry input text) unless ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from keyscope import __version__

COMMANDS = (
    "spec", "audit", "browse", "fetch", "sandbox", "plan", "apply", "aggregate", "spec-diff",
)  # fmt: skip
"""Subcommands, in the order ``--help`` lists them; each is the module
``keyscope.commands.<name>`` (a ``-`` in the name is ``_`` in the module's)."""

EXIT_CODES_HELP = """exit codes:
  0  no finding at or above --fail-on     1  findings at or above --fail-on
  2  usage error                          3  input, parse or config error
  4  data incomplete (--fail-on-incomplete)  5  network or platform API error
  6  another run holds the output lock    70 internal error (a bug; please report it)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keyscope",
        description="Which of our API keys can do more than they need?",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"keyscope {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show internal tracebacks (secrets still redacted)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"keyscope.commands.{name.replace('-', '_')}")
        module.add_parser(subparsers)
    return parser


def _escape_what_the_terminal_cannot_encode() -> None:
    """Write ``\\u2026`` for a character the terminal's encoding lacks, never crash on it.

    Key names are shown as written (made safe, never interpreted), so "é" or "…" reach
    stdout; with ``PYTHONIOENCODING=ascii`` or a Latin-1 locale a strict stream would
    raise ``UnicodeEncodeError`` halfway through a report (BAD-INPUTS #26).
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue  # replaced by something that is not a text stream: leave it
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # a closed or detached stream
            continue


def main(argv: Sequence[str] | None = None) -> int:
    """Run keyscope; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _escape_what_the_terminal_cannot_encode()
    from keyscope.errors import EXIT_INPUT, KeyscopeError
    from keyscope.text import safe_line

    try:
        return int(args.run(args))
    except KeyscopeError as error:
        print(f"keyscope: error: {safe_line(error.message)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("keyscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:
        if error.filename is None:
            return _internal_error(error, debug=args.debug)
        # A path the system refuses (a name too long, a loop of links, no permission)
        # that no input check caught: an input problem naming the file, not a bug.
        print(
            f"keyscope: error: {safe_line(str(error.filename))}: {error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_INPUT
    except Exception as error:  # a bug: say so on one line, never exit 0
        return _internal_error(error, debug=args.debug)


def _internal_error(error: BaseException, *, debug: bool) -> int:
    from keyscope.errors import EXIT_INTERNAL
    from keyscope.redaction import redact
    from keyscope.text import terminal_safe

    if debug:
        import traceback

        text = "".join(traceback.format_exception(error))
        print(terminal_safe(redact(text), keep_newlines=True), file=sys.stderr)
    print(
        f"keyscope: internal error: {type(error).__name__} (run with --debug for details)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL
