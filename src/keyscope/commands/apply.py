"""``keyscope apply PLAN``: show a plan's due changes, or make them with ``--execute``.

Safe by default (like aws-nuke): without ``--execute`` nothing is sent to the
platform at all.  With it, keyscope checks the plan is not stale, that the platform
still shows each key as the plan saw it, and that no revoke targets the key keyscope
itself is using; then it asks the operator to type the environment's name (or takes
``--yes`` when not in a terminal), and applies the due steps in order, stopping at the
first failure.  Every change is journaled beside the plan, with its idempotency key
written before the first attempt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keyscope.commands._platform import add_platform_arguments

DESCRIPTION = """\
Show what a plan from `keyscope plan` would change now, or change it with --execute.

Without --execute no request is made. With --execute: the plan must still match its
inputs (stale plans are refused), each key must still look as the plan saw it, no
revoke or expiry may target the key keyscope is using, and no expiry it sets may have
passed already; you then type the environment's name
([platform] environment, default the API host) to confirm, or pass --yes when not
in a terminal. Changes carry idempotency keys recorded in PLAN.journal.jsonl before
they are sent, so running apply again after a failure or a timeout is safe. New keys'
secrets go only to --secrets-file (created with mode 600), never to the screen.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="show a remediation plan's changes; make them with --execute",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("plan", type=Path, metavar="PLAN", help="the plan file from keyscope plan")
    parser.add_argument(
        "--execute", action="store_true", help="make the changes (default: dry run)"
    )
    parser.add_argument(
        "--yes", action="store_true",
        help="confirm without typing the environment's name (for non-interactive runs)",
    )  # fmt: skip
    parser.add_argument(
        "--secrets-file", dest="secrets_file", type=Path, metavar="FILE",
        help="where new keys' secrets are written (created mode 600; must not exist or be empty)",
    )  # fmt: skip
    parser.add_argument(
        "--skip", action="append", default=[], metavar="STEP",
        help="leave out a step by its id (repeatable), e.g. revoke:key_…",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, help="keyscope.toml to read (default: ./keyscope.toml)"
    )
    add_platform_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from keyscope.remediation import (
        check_inputs,
        due_steps,
        journal_path,
        load_plan,
        refuse_stale,
    )

    plan = load_plan(args.plan)
    unknown = sorted(set(args.skip) - {step.step_id for step in plan.steps})
    if unknown:
        from keyscope.errors import UsageError

        raise UsageError(f"--skip {unknown[0]}: the plan has no such step")
    check_inputs(plan)
    journal = journal_path(args.plan)
    due, report = due_steps(plan, journal, skip=args.skip, now=datetime.now(UTC))
    _show(due, report)
    if not args.execute:
        print("dry run: nothing was changed and no request was made; add --execute to apply")
        return 0
    refuse_stale(plan, report)
    if not due:
        print("nothing is due now")
        return 0
    return _execute(args, plan, due, report, journal)


def _execute(
    args: argparse.Namespace, plan: Any, due: list[Any], report: Any, journal: Path
) -> int:
    from keyscope.commands._platform import open_client, platform_settings
    from keyscope.errors import UsageError
    from keyscope.output import output_lock
    from keyscope.remediation import PlanApplier
    from keyscope.settings import load_settings
    from keyscope.text import one_line, safe_line

    interactive = sys.stdin.isatty()
    if not interactive and not args.yes:
        raise UsageError(
            "refusing to change the platform without confirmation: run in a terminal to type "
            "the environment's name, or pass --yes with the plan file"
        )
    creates = [step for step in due if step.action == "create"]
    if creates:
        _check_secrets_target(args.secrets_file)
    settings = load_settings({}, config=args.config)
    platform = platform_settings(settings, args)
    with output_lock(journal), open_client(platform, args) as client:
        applier = PlanApplier(
            plan, client, journal, secrets_path=args.secrets_file, skip=args.skip,
            out=lambda line: print(one_line(line, limit=400)),
        )  # fmt: skip
        own = applier.preflight(due)
        print(
            one_line(
                f"checked: the plan matches its inputs and the platform; keyscope is using {own}",
                limit=400,
            )
        )
        if not args.yes:
            _confirm(platform.environment_name, len(due), platform.origin)
        applier.execute(due, report)
    print(f"applied {len(report.done)} change(s); journal: {safe_line(str(journal))}")
    if report.created:
        secrets_file = safe_line(str(args.secrets_file))
        print(f"new keys' secrets are in {secrets_file} (mode 600); they are not shown here")
    return 0


def _check_secrets_target(path: Path | None) -> None:
    from keyscope.errors import UsageError

    if path is None:
        raise UsageError(
            "the plan creates keys: name a file for their secrets with --secrets-file FILE "
            "(created with mode 600; secrets are never printed)"
        )
    if path.is_symlink() or (path.exists() and (not path.is_file() or path.stat().st_size > 0)):
        raise UsageError(
            f"{path}: the secrets file must not exist yet, or be an empty regular file "
            "(refusing to overwrite or mix secrets)"
        )


def _confirm(environment: str, changes: int, origin: str) -> None:
    from keyscope.errors import UsageError
    from keyscope.text import one_line

    prompt = one_line(
        f"Apply {changes} change(s) to {origin}? Type the environment name ({environment}) "
        "to confirm: ",
        limit=300,
    )
    try:
        answer = input(prompt)
    except EOFError:
        answer = ""
    if answer.strip() != environment:
        raise UsageError("confirmation did not match; nothing was changed")


def _show(due: list[Any], report: Any) -> None:
    from keyscope.remediation import describe_step
    from keyscope.text import one_line

    for step in due:
        print(one_line(f"would {describe_step(step)}   [{step.step_id}]", limit=400))
    for step_id, why in report.waiting:
        print(one_line(f"later: {step_id} ({why})", limit=400))
    for step_id in report.already:
        print(one_line(f"done already: {step_id}", limit=400))
    for step_id in report.skipped:
        print(one_line(f"skipped (--skip): {step_id}", limit=400))
    for note in report.notes:
        print(one_line(f"note: {note}", limit=400))
    for _, why in report.stale:
        print(one_line(f"refused: {why}", limit=400))
