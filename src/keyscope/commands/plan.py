"""``keyscope plan``: turn an audit into a remediation plan (a JSON file, no change made)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keyscope.commands._inputs import (
    add_input_arguments,
    input_flags,
    refuse_overwriting_inputs,
)

DESCRIPTION = """\
Audit the inputs (the same ones `keyscope audit` reads, or a snapshot from `keyscope
fetch`) and write the changes that would bring every key to least privilege:

  create   a key with the suggested scopes, named after the key it replaces
  dual-run a note: run both keys side by side, confirm no denied requests on the new one
  revoke   the replaced key, --dual-run-days after its replacement was created
  rename   a key whose name held a secret, hides characters, or is empty

A dormant key (no successful request in the window) is time-boxed, not revoked at
once (--dormant expire, the default):

  expire   set its expiry to as_of + --expire-after-days (default 30): it keeps
           working until then, so a consumer nobody knew about can surface
  recheck  a note: re-run keyscope audit the day before the expiry; no use -> revoke,
           any use -> extend the expiry and plan a replacement
  revoke   due once the expiry has passed

--dormant downgrade also creates a read-only replacement (the read scopes it held)
for a scoped key holding write scopes; --dormant revoke revokes dormant keys at once.

Keys with too little data (confidence "insufficient") and revoked keys never get a
step. The plan records the digest of its inputs; `keyscope apply` refuses it once they
change. Nothing is changed on the platform by this command.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="write a remediation plan from an audit (replace, revoke, rename keys)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        metavar="FILE",
        help="the plan file to write (JSON)",
    )
    parser.add_argument(
        "--dual-run-days", dest="dual_run_days", type=int, default=14, metavar="N",
        help="days a replacement runs beside the old key before that is revoked (default 14)",
    )  # fmt: skip
    parser.add_argument(
        "--dormant", choices=("expire", "downgrade", "revoke"), default="expire",
        help="what to do with dormant keys: time-box with an expiry (default), also offer a "
        "read-only replacement (downgrade), or revoke at once",
    )  # fmt: skip
    parser.add_argument(
        "--expire-after-days", dest="expire_after_days", type=int, default=30, metavar="N",
        help="days from as_of to the expiry set on a dormant key (default 30)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-incomplete", dest="allow_incomplete", action="store_true",
        help="plan even when the audit data was incomplete (not advised)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true", help="replace an output that is a symbolic link"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from keyscope.errors import UsageError
    from keyscope.output import output_lock, write_atomic
    from keyscope.pipeline import run_audit
    from keyscope.remediation import IncompleteDataError, build_plan, digest_settings, plan_to_json
    from keyscope.settings import load_settings
    from keyscope.text import safe_line

    if args.dual_run_days < 0:
        raise UsageError("--dual-run-days must be 0 or more")
    if args.expire_after_days < 1:
        raise UsageError("--expire-after-days must be 1 or more")
    settings = load_settings(input_flags(args), config=args.config)
    refuse_overwriting_inputs([args.output], settings)  # "-o keys.yaml" is a typo, not a plan
    audit = run_audit(settings)
    result = audit.result
    if not result.complete and not args.allow_incomplete:
        raise IncompleteDataError(
            "the audit data is incomplete ("
            + "; ".join(result.incomplete_reasons)
            + "); no remediation is planned from partial data (--allow-incomplete overrides)"
        )
    base_url = ""
    if audit.settings.snapshot is not None:
        from keyscope.sources.snapshot import read_snapshot

        base_url = read_snapshot(audit.settings.snapshot).base_url
    plan = build_plan(
        result, digest_settings(audit.settings), dual_run_days=args.dual_run_days,
        base_url=base_url, dormant=args.dormant, expire_after_days=args.expire_after_days,
    )  # fmt: skip
    with output_lock(args.output):
        write_atomic(args.output, plan_to_json(plan), force=args.force)
    for line in plan_lines(plan):
        print(line)
    shown = safe_line(str(args.output))
    print(f"keyscope: wrote {shown}; dry run: keyscope apply {shown}", file=sys.stderr)
    return 0


def plan_lines(plan: Any) -> list[str]:
    """The plan for people: one line per step, terminal-safe."""
    from keyscope.remediation import describe_step
    from keyscope.text import one_line

    counts: dict[str, int] = {}
    lines = []
    for step in plan.steps:
        counts[step.action] = counts.get(step.action, 0) + 1
        lines.append(one_line(f"  {step.step_id:<34} {describe_step(step)}", limit=400))
    summary = (
        ", ".join(f"{counts[action]} {action}" for action in sorted(counts)) or "nothing to do"
    )
    return [f"remediation plan as of {plan.as_of:%Y-%m-%d}: {summary}", *lines]
