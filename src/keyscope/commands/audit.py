"""``keyscope audit``: audit every key and write the result in one or more formats.

Data goes to stdout (or the files asked for), diagnostics to stderr.  Every output
asked for is written (atomically, one run at a time per file) before the exit code is
decided:

==  ===========================================================================
0   nothing at or above ``--fail-on`` (default: never fail on findings)
1   unsuppressed findings at or above ``--fail-on`` (only new ones with ``--fail-on-new``)
2   usage error (bad flags, unknown format, no spec or keys configured)
3   input, parse or config error
4   data incomplete and ``--fail-on-incomplete`` given (checked before 1)
5   network or platform API error
==  ===========================================================================
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyscope.commands._inputs import add_input_arguments, add_severity_argument, input_flags
from keyscope.commands._platform import add_live_arguments

if TYPE_CHECKING:
    from keyscope.model import AuditResult, Finding
    from keyscope.settings import Settings

__all__ = ["EXTRA_OUTPUTS", "add_parser", "decide_exit_code", "failing_findings", "run"]

EXTRA_OUTPUTS = ("json", "html", "md", "csv", "sarif")
"""Formats that also have their own ``--<format> FILE`` flag, for several outputs in one run."""


def add_parser(subparsers: Any) -> None:
    """Register ``keyscope audit``."""
    parser = subparsers.add_parser(
        "audit",
        help="audit every key: what it holds, what it used, what it needs, what is wrong",
        description=(
            "Cross-reference the API spec's scopes, the key inventory and the request logs: "
            "flag over-privileged and legacy full-access keys and suggest least-privilege "
            "scopes. Inputs come from keyscope.toml, KEYSCOPE_* variables or the flags."
        ),
        epilog=(
            "exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, "
            "2 usage error, 3 input error, 4 data incomplete (--fail-on-incomplete), "
            "5 network error, 6 output locked by another run, 70 internal error (a bug)"
        ),
    )
    add_input_arguments(parser)
    add_live_arguments(parser)
    out = parser.add_argument_group("outputs")
    out.add_argument(
        "--format", default="text", metavar="FORMAT",
        help="text (default), json, html, md, csv or sarif",
    )  # fmt: skip
    out.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write --format to FILE instead of stdout"
    )
    for name in EXTRA_OUTPUTS:
        out.add_argument(
            f"--{name}", dest=f"out_{name}", type=Path, metavar="FILE",
            help=f"also write the {name.upper()} report to FILE",
        )  # fmt: skip
    out.add_argument(
        "--force", action="store_true", help="replace an output that is a symbolic link"
    )
    gate = parser.add_argument_group("gating")
    add_severity_argument(gate)  # type: ignore[arg-type]
    gate.add_argument(
        "--fail-on-incomplete", dest="fail_on_incomplete", action="store_true",
        help="exit 4 when the usage data was incomplete (after writing every output)",
    )  # fmt: skip
    gate.add_argument(
        "--baseline", type=Path, metavar="FILE", help="an earlier JSON result to compare with"
    )
    gate.add_argument(
        "--fail-on-new", dest="fail_on_new", action="store_true",
        help="with --baseline: count only new findings for --fail-on (any severity without it)",
    )  # fmt: skip
    gate.add_argument(
        "--history", type=Path, metavar="DIR", help="keep each run's JSON in DIR for trends"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the audit, write every output asked for, return the exit code."""
    from keyscope.commands._platform import live_snapshot
    from keyscope.errors import UsageError
    from keyscope.gc_pause import gc_paused
    from keyscope.pipeline import run_audit
    from keyscope.report import get_renderer
    from keyscope.settings import load_settings

    outputs = _outputs(args)
    renderers = {fmt: get_renderer(fmt) for fmt, _ in outputs}  # unknown format: exit 2 now
    settings = load_settings(input_flags(args), config=args.config)
    # The baseline may come from the flag, KEYSCOPE_BASELINE or the config file.
    if args.fail_on_new and settings.baseline is None:
        raise UsageError(
            "--fail-on-new needs a baseline (--baseline FILE, KEYSCOPE_BASELINE or baseline "
            "in keyscope.toml: the earlier JSON result)"
        )
    _refuse_overwriting_inputs(outputs, settings)
    # One pause of the cyclic collector for the whole run, frozen at the end: reading,
    # auditing and writing each pause it already, but every resume let the next
    # allocation start a collection over the hundreds of thousands of objects made
    # meanwhile (0.09 s of a 10M-line audit), and a one-shot command keeps them anyway.
    with gc_paused(freeze=True):
        with live_snapshot(settings, args) as settings:  # --live: fetch, then audit it
            result = run_audit(settings).result
        _write_outputs(result, outputs, renderers, force=args.force)
        _store_history(result, settings)
    # Also in every report; on stderr too, for a job that keeps only stderr.
    for warning in result.suppression_warnings:
        print(f"keyscope: warning: {_safe(warning)}", file=sys.stderr)
    if not result.complete:
        reasons = "; ".join(result.incomplete_reasons)
        print(f"keyscope: warning: data incomplete: {_safe(reasons)}", file=sys.stderr)
    return decide_exit_code(
        result,
        fail_on=args.fail_on,
        fail_on_new=args.fail_on_new,
        fail_on_incomplete=args.fail_on_incomplete,
    )


def failing_findings(
    result: AuditResult, fail_on: str | None, *, new_only: bool = False
) -> tuple[Finding, ...]:
    """Unsuppressed findings at or above ``fail_on`` (and new ones only, if asked).

    ``fail_on`` None means "never", except with ``new_only``, where it means any
    severity (see :func:`keyscope.analysis.triage.failing_findings`).
    """
    from keyscope.analysis.triage import failing_findings as triage_failing

    return triage_failing(result, fail_on, new_only=new_only)


def decide_exit_code(
    result: AuditResult,
    *,
    fail_on: str | None,
    fail_on_new: bool = False,
    fail_on_incomplete: bool = False,
) -> int:
    """The exit code of a finished run (see the module docstring)."""
    from keyscope.errors import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK

    if fail_on_incomplete and not result.complete:
        return EXIT_INCOMPLETE
    if failing_findings(result, fail_on, new_only=fail_on_new):
        return EXIT_FINDINGS
    return EXIT_OK


# --------------------------------------------------------------------------- outputs


def _outputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """(format, file or None for stdout), the main one first; same file twice is an error."""
    from keyscope.errors import UsageError

    outputs: list[tuple[str, Path | None]] = [(args.format, args.output)]
    for name in EXTRA_OUTPUTS:
        path = getattr(args, f"out_{name}", None)
        if path is not None:
            outputs.append((name, path))
    from keyscope.output import canonical, is_device

    seen: dict[Path, str] = {}
    for fmt, path in outputs:
        if path is None or is_device(path):
            continue  # any number of reports may go to /dev/null
        resolved = canonical(path)
        if resolved in seen:
            raise UsageError(f"{path}: asked for twice (as {seen[resolved]} and as {fmt})")
        seen[resolved] = fmt
    # With only extra files asked for and no --output, stdout still gets --format.
    return outputs


def _refuse_overwriting_inputs(outputs: list[tuple[str, Path | None]], settings: Settings) -> None:
    """No report over a file this run reads, except the baseline written as this run's
    JSON: that is how a rolling baseline moves forward."""
    from keyscope.commands._inputs import refuse_overwriting_inputs

    refuse_overwriting_inputs(
        (path for _, path in outputs if path is not None),
        settings,
        keep_baseline=(path for fmt, path in outputs if path is not None and fmt == "json"),
    )


def _write_outputs(
    result: AuditResult,
    outputs: list[tuple[str, Path | None]],
    renderers: dict[str, Any],
    *,
    force: bool,
) -> None:
    import contextlib

    from keyscope.output import (
        canonical,
        is_stream,
        output_lock,
        remove_stale_temporaries,
        write_atomic,
    )

    rendered: dict[str, str] = {}
    files = sorted((path, fmt) for fmt, path in outputs if path is not None)
    # One lock per output folder (``.keyscope.lock``): overlapping runs cannot interleave
    # their writes, and a folder gets one lock file, not one per report.  Devices and
    # pipes (``/dev/null``) are written in place and lock nothing.
    folders = sorted(
        {
            canonical(path.parent if str(path.parent) else Path())
            for path, _ in files
            if not is_stream(path)
        }
    )
    with contextlib.ExitStack() as locks:
        for folder in folders:
            locks.enter_context(output_lock(folder / "keyscope"))
        for path, _ in files:  # what a killed earlier run left (safe: we hold the lock)
            if not is_stream(path):
                remove_stale_temporaries(path)
        for path, fmt in files:
            text = rendered.get(fmt) or renderers[fmt](result)
            rendered[fmt] = text
            write_atomic(path, text, force=force)
            print(f"keyscope: wrote {_safe(str(path))} ({fmt})", file=sys.stderr)
    for fmt, path in outputs:
        if path is None:
            text = rendered.get(fmt) or renderers[fmt](result)
            sys.stdout.write(text)
            sys.stdout.flush()


def _store_history(result: AuditResult, settings: Settings) -> None:
    """Keep this run's JSON in the ``--history`` folder (issue 4's trend charts)."""
    if settings.history is None:
        return
    from keyscope.report.json_report import render_json
    from keyscope.sources.history import store_history

    path = store_history(settings.history, result.as_of, render_json(result))
    print(f"keyscope: kept this run in {_safe(str(path))}", file=sys.stderr)


def _safe(text: str) -> str:
    from keyscope.redaction import redact
    from keyscope.text import one_line

    return one_line(redact(text), limit=2000)
