"""``keyscope spec-diff OLD NEW``: how the scope catalog drifted between two spec versions.

Scopes added, removed or re-described; likely renames and splits; operations added,
removed or whose requirement changed; and with ``--keys``, every active key re-mapped
to say whose effective privilege changed (operations gained and lost, scopes that no
longer exist).  Text for people, or deterministic JSON (``schema_version`` 1,
``docs/spec-json.md``) for jobs.  Exit 0; 1 with ``--fail-on-change`` when anything
changed; 3 when a spec or the inventory cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyscope.analysis.spec_diff import OperationDrift, Requirement, SpecDiff
    from keyscope.model import ApiSpec

__all__ = ["add_parser", "diff_to_dict", "render_diff_json", "render_diff_text", "run"]

DIFF_SCHEMA_VERSION = 1
_LIST = 8

DESCRIPTION = """\
Compare two versions of an OpenAPI spec: scopes added, removed or re-described; likely
renames and splits (a scope whose operations are now guarded by other scopes);
operations added, removed, or whose requirement changed. With --keys, every active key
of the inventory is re-mapped: the operations its grants reach under OLD and under NEW
(a legacy full-access key holds each version's whole catalog), and the keys whose
effective privilege changed are listed with what they gained and lost.
"""


def add_parser(subparsers: Any) -> None:
    """Register ``keyscope spec-diff``."""
    parser = subparsers.add_parser(
        "spec-diff",
        help="compare two spec versions: scope catalog drift and whose privilege it changes",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("old", type=Path, metavar="OLD", help="the earlier spec file")
    parser.add_argument("new", type=Path, metavar="NEW", help="the later spec file")
    parser.add_argument(
        "--keys", type=Path, metavar="FILE",
        help="a key inventory to re-map (YAML, JSON or CSV, as for keyscope audit)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default text)"
    )
    parser.add_argument(
        "--output", "-o", type=Path, metavar="FILE",
        help="write to FILE (atomically) instead of stdout",
    )  # fmt: skip
    parser.add_argument(
        "--fail-on-change", dest="fail_on_change", action="store_true",
        help="exit 1 when anything changed (catalog, operations, or with --keys a key's reach)",
    )  # fmt: skip
    parser.add_argument(
        "--semantics", choices=("auto", "all", "any"),
        help="how several scopes in one requirement object are read (default auto: detect)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, help="keyscope.toml to read (default: ./keyscope.toml)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an output that is a symbolic link"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load both specs (and the keys), compare, print or write; returns the exit code."""
    from keyscope.analysis.spec_diff import diff_specs
    from keyscope.output import refuse_writing_over_inputs, write_atomic
    from keyscope.settings import load_settings
    from keyscope.sources.openapi import load_spec, spec_options_from
    from keyscope.text import safe_line

    settings = load_settings({"semantics": args.semantics}, config=args.config)
    if args.output is not None:
        refuse_writing_over_inputs(
            [args.output],
            {
                "old spec": args.old,
                "new spec": args.new,
                "key inventory": args.keys,
                "config file": settings.config_path,
            },
        )
    options = spec_options_from(settings)
    old = load_spec(args.old, options)
    new = load_spec(args.new, options)
    keys = None
    if args.keys is not None:
        from keyscope.sources.keys import load_keys

        keys = load_keys(args.keys)
    diff = diff_specs(old, new, keys)
    rendered = render_diff_json(diff) if args.format == "json" else render_diff_text(diff)
    if args.output is not None:
        write_atomic(args.output, rendered, force=args.force)
        print(f"keyscope: wrote {safe_line(str(args.output))}", file=sys.stderr)
    else:
        sys.stdout.write(rendered)
    return 1 if args.fail_on_change and diff.changed else 0


# --------------------------------------------------------------------------- JSON


def _requirement(requirement: Requirement | None) -> dict[str, Any] | None:
    if requirement is None:
        return None
    return {
        "public": requirement.public,
        "requirements": [list(alternative) for alternative in requirement.alternatives],
    }


def _operation(drift: OperationDrift) -> dict[str, Any]:
    return {
        "operation": drift.operation,
        "operation_id": drift.operation_id,
        "old": _requirement(drift.old),
        "new": _requirement(drift.new),
    }


def _spec(spec: ApiSpec) -> dict[str, Any]:
    return {
        "title": spec.title,
        "version": spec.version,
        "format": spec.format,
        "source": spec.source,
        "sha256": spec.sha256,
        "operations": len(spec.operations),
        "scopes": len(spec.scopes),
    }


def diff_to_dict(diff: SpecDiff) -> dict[str, Any]:
    """The JSON contract (``schema_version`` 1) as plain data; see ``docs/spec-json.md``."""
    descriptions = {scope.name: scope.description for scope in diff.new.scopes}
    old_descriptions = {scope.name: scope.description for scope in diff.old.scopes}
    keys: dict[str, Any] | None = None
    if diff.keys_checked:
        keys = {
            "active": diff.active_keys,
            "revoked_skipped": diff.revoked_keys,
            "changed": len(diff.keys),
            "unchanged": diff.active_keys - len(diff.keys),
            "entries": [
                {
                    "id": drift.key.key_id,
                    "name": drift.key.name,
                    "full_access": drift.key.full_access,
                    "scopes": sorted(drift.key.scopes),
                    "operations_before": drift.operations_before,
                    "operations_after": drift.operations_after,
                    "gained": list(drift.gained),
                    "lost": list(drift.lost),
                    "vanished_scopes": [
                        {"scope": gone.scope, "likely_successors": list(gone.likely_successors)}
                        for gone in drift.vanished_scopes
                    ],
                }
                for drift in diff.keys
            ],
        }
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "kind": "keyscope-spec-diff",
        "old": _spec(diff.old),
        "new": _spec(diff.new),
        "changed": diff.changed,
        "scopes": {
            "added": [
                {"name": n, "description": descriptions.get(n, "")} for n in diff.scopes_added
            ],
            "removed": [
                {"name": n, "description": old_descriptions.get(n, "")} for n in diff.scopes_removed
            ],
            "description_changed": [
                {"name": change.scope, "old": change.old, "new": change.new}
                for change in diff.descriptions_changed
            ],
        },
        "likely_renames": [
            {
                "kind": rename.kind,
                "scope": rename.scope,
                "removed": rename.removed,
                "successors": list(rename.successors),
                "operations": list(rename.operations),
            }
            for rename in diff.likely_renames
        ],
        "operations": {
            "added": [_operation(drift) for drift in diff.operations_added],
            "removed": [_operation(drift) for drift in diff.operations_removed],
            "requirement_changed": [_operation(drift) for drift in diff.requirements_changed],
            "path_renamed": [{"old": r.old, "new": r.new} for r in diff.paths_renamed],
        },
        "keys": keys,
    }


def render_diff_json(diff: SpecDiff) -> str:
    """Deterministic JSON text (sorted keys, two-space indent, ASCII, final newline)."""
    from keyscope.report.json_report import dumps

    return dumps(diff_to_dict(diff))


# --------------------------------------------------------------------------- text


def _shown(requirement: Requirement | None) -> str:
    if requirement is None:
        return "(none)"
    if requirement.public:
        return "public"
    if not requirement.alternatives:
        return "(no requirement stated)"
    return " or ".join(" + ".join(alt) or "(authenticated)" for alt in requirement.alternatives)


def _listing(names: tuple[str, ...] | list[str], limit: int = _LIST) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def render_diff_text(diff: SpecDiff) -> str:
    """The difference for people; every value from the inputs made terminal-safe."""
    from keyscope.analysis.audit import display_key_id
    from keyscope.text import terminal_safe

    def safe(text: str, limit: int = 400) -> str:
        return terminal_safe(text, limit=limit)

    old, new = diff.old, diff.new
    lines = [
        f"keyscope spec-diff: {safe(old.title, 120)} {safe(old.version, 40)} "
        f"(sha256 {old.sha256[:12]}) -> {safe(new.title, 120)} {safe(new.version, 40)} "
        f"(sha256 {new.sha256[:12]})",
        f"scopes: {len(diff.scopes_added)} added, {len(diff.scopes_removed)} removed, "
        f"{len(diff.descriptions_changed)} re-described",
    ]
    new_descriptions = {scope.name: scope.description for scope in new.scopes}
    for name in diff.scopes_added:
        description = new_descriptions.get(name, "")
        lines.append(
            f"  + {safe(name, 120)}" + (f"  {safe(description, 200)}" if description else "")
        )
    for name in diff.scopes_removed:
        lines.append(f"  - {safe(name, 120)}")
    for change in diff.descriptions_changed:
        lines.append(
            f"  ~ {safe(change.scope, 120)}: {safe(change.old, 200)!r} -> {safe(change.new, 200)!r}"
        )
    if diff.likely_renames:
        lines.append("likely renames and splits (inferred from the operations that moved):")
        for rename in diff.likely_renames:
            successors = ", ".join(safe(name, 120) for name in rename.successors)
            gone = "" if rename.removed else " (kept)"
            lines.append(
                f"  {rename.kind:<6} {safe(rename.scope, 120)}{gone} -> {successors}: "
                f"{len(rename.operations)} operation{'' if len(rename.operations) == 1 else 's'} "
                "moved "
                f"({safe(_listing(list(rename.operations), 4))})"
            )
    lines.append(
        f"operations: {len(diff.operations_added)} added, {len(diff.operations_removed)} "
        f"removed, {len(diff.requirements_changed)} requirement changed, "
        f"{len(diff.paths_renamed)} path parameters renamed"
    )
    for drift in diff.operations_added:
        lines.append(f"  + {safe(drift.operation, 300)}  needs {safe(_shown(drift.new))}")
    for drift in diff.operations_removed:
        lines.append(f"  - {safe(drift.operation, 300)}  needed {safe(_shown(drift.old))}")
    for drift in diff.requirements_changed:
        lines.append(
            f"  ~ {safe(drift.operation, 300)}  {safe(_shown(drift.old))} -> "
            f"{safe(_shown(drift.new))}"
        )
    for renamed in diff.paths_renamed:
        lines.append(f"  = {safe(renamed.old, 300)} is now {safe(renamed.new, 300)}")
    if diff.keys_checked:
        lines.append(
            f"keys: {diff.active_keys} active re-mapped ({diff.revoked_keys} revoked skipped); "
            f"{len(diff.keys)} change effective privilege"
        )
        for drift in diff.keys:
            key = drift.key
            label = safe(display_key_id(key.key_id), 80)
            if key.name:
                label += f' "{safe(key.name, 60)}"'
            if key.full_access:
                label += " (full access)"
            lines.append(
                f"  {label}: {drift.operations_before} -> {drift.operations_after} operations"
            )
            if drift.lost:
                lines.append(f"      loses:  {safe(_listing(list(drift.lost)))}")
            if drift.gained:
                lines.append(f"      gains:  {safe(_listing(list(drift.gained)))}")
            for gone in drift.vanished_scopes:
                hint = (
                    f"; likely successor {', '.join(gone.likely_successors)}"
                    if gone.likely_successors
                    else ""
                )
                lines.append(f"      holds {safe(gone.scope, 120)}, gone in NEW{safe(hint)}")
    lines.append("changed." if diff.changed else "no change.")
    return "\n".join(lines) + "\n"
