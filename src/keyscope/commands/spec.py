"""``keyscope spec PATH``: what an API description says about scopes.

Prints the scope catalog (each scope, its description, the operations it unlocks),
every operation's requirement, the implication edges and the anomalies; as text for
people or as the versioned JSON contract of ``docs/spec-json.md`` for jobs.
Exit codes: 0 when the spec was read (anomalies do not fail the command), 3 when it
could not be (one line on stderr naming the file and the place).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyscope.analysis.scope_graph import ScopeGraph
    from keyscope.model import ApiSpec, Operation

__all__ = ["add_parser", "render_spec_json", "render_spec_text", "run", "spec_to_dict"]


def add_parser(subparsers: Any) -> None:
    """Register ``keyscope spec``."""
    parser = subparsers.add_parser(
        "spec",
        help="show the scope catalog, per-operation requirements and anomalies of an API spec",
        description=(
            "Read an OpenAPI 3.0/3.1 or Swagger 2.0 file (YAML or JSON) and show its scopes, "
            "which operations each unlocks, every operation's requirement and the spec's anomalies."
        ),
    )
    parser.add_argument(
        "path", nargs="?", type=Path, metavar="PATH",
        help="the spec file (default: spec from keyscope.toml or KEYSCOPE_SPEC)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default text)"
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="write to FILE (atomically) instead of stdout",
    )
    parser.add_argument(
        "--semantics", choices=("auto", "all", "any"),
        help="how several scopes in one requirement object are read (default auto: detect)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-external-refs", dest="allow_external_refs", action="store_true", default=None,
        help="follow $ref to other files below the spec's folder (URLs are never fetched)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, help="keyscope.toml to read (default: ./keyscope.toml)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the spec and print or write it; returns the exit code."""
    from keyscope.errors import UsageError
    from keyscope.output import write_atomic
    from keyscope.settings import load_settings
    from keyscope.sources.openapi import load_spec, spec_options_from
    from keyscope.text import safe_line

    settings = load_settings(
        {
            "spec": args.path,
            "semantics": args.semantics,
            "allow_external_refs": args.allow_external_refs,
        },
        config=args.config,
    )
    if settings.spec is None:
        raise UsageError(
            "keyscope spec: give the spec file (PATH, KEYSCOPE_SPEC or spec in keyscope.toml)"
        )
    if args.output is not None:  # "-o api.yaml" is a typo: never over the spec read
        from keyscope.output import refuse_writing_over_inputs

        refuse_writing_over_inputs(
            [args.output],
            {"spec": args.path or settings.spec, "config file": settings.config_path},
        )
    # The path as typed names the file in messages; the settings' one is absolute.
    spec = load_spec(args.path or settings.spec, spec_options_from(settings))
    rendered = render_spec_json(spec) if args.format == "json" else render_spec_text(spec)
    if args.output is not None:
        write_atomic(args.output, rendered)
        print(f"keyscope: wrote {safe_line(str(args.output))}", file=sys.stderr)
    else:
        sys.stdout.write(rendered)
    return 0


# --------------------------------------------------------------------------- JSON


def _unlocked_by(spec: ApiSpec, graph: ScopeGraph) -> dict[str, list[str]]:
    """Scope -> operations a key holding only that scope can call (scoped ones only)."""
    unlocked: dict[str, list[str]] = {}
    for scope in spec.scopes:
        granted = graph.expand((scope.name,))
        unlocked[scope.name] = [
            operation.key
            for operation in spec.operations
            if not operation.public
            and any(
                alternative and alternative <= granted for alternative in operation.requirements
            )
        ]
    return unlocked


def _required_by(spec: ApiSpec) -> dict[str, list[str]]:
    required: dict[str, list[str]] = {scope.name: [] for scope in spec.scopes}
    for operation in spec.operations:
        for name in sorted(operation.scopes):
            required.setdefault(name, []).append(operation.key)
    return required


def spec_to_dict(spec: ApiSpec) -> dict[str, Any]:
    """The JSON contract (``schema_version`` 1) as plain data; see ``docs/spec-json.md``."""
    from keyscope.analysis.scope_graph import build_scope_graph
    from keyscope.model import SCHEMA_VERSION

    graph = build_scope_graph(spec)
    unlocked = _unlocked_by(spec, graph)
    required = _required_by(spec)
    return {
        "schema_version": SCHEMA_VERSION,
        "info": {
            "title": spec.title,
            "version": spec.version,
            "format": spec.format,
            "sha256": spec.sha256,
        },
        "base_paths": list(spec.base_paths),
        "semantics": spec.semantics,
        "semantics_reason": spec.semantics_reason,
        "sentinels": sorted(spec.sentinels),
        "operations": [_operation_to_dict(operation) for operation in spec.operations],
        "scopes": [
            {
                "name": scope.name,
                "description": scope.description,
                "declared": scope.declared,
                "area": scope.area,
                "access": scope.access,
                "required_by": required.get(scope.name, []),
                "unlocks": unlocked.get(scope.name, []),
            }
            for scope in spec.scopes
        ],
        "implications": [list(edge) for edge in spec.implications],
        "implications_reason": spec.implications_reason,
        "anomalies": [
            {
                "rule": item.rule,
                "severity": item.severity,
                "operation": item.operation,
                "scope": item.scope,
                "message": item.message,
            }
            for item in spec.anomalies
        ],
    }


def _operation_to_dict(operation: Operation) -> dict[str, Any]:
    return {
        "method": operation.method,
        "path": operation.path,
        "operation_id": operation.operation_id,
        "public": operation.public,
        "requirements": [sorted(alternative) for alternative in operation.requirements],
        "scope_source": operation.scope_source,
        "multi_scope_list": operation.multi_scope_list,
        "summary": operation.summary,
        "tags": list(operation.tags),
        "deprecated": operation.deprecated,
        "uncertain_scopes": sorted(operation.uncertain_scopes),
    }


def render_spec_json(spec: ApiSpec) -> str:
    """The JSON contract as text: ASCII only, keys sorted, two-space indent, final newline."""
    return json.dumps(spec_to_dict(spec), ensure_ascii=True, sort_keys=True, indent=2) + "\n"


# --------------------------------------------------------------------------- text


def _clean(text: str, limit: int = 200) -> str:
    from keyscope.redaction import redact
    from keyscope.text import terminal_safe

    return terminal_safe(redact(" ".join(text.split())), limit=limit)


def _requirement_text(operation: Operation) -> str:
    if operation.public:
        extra = f" (or {_alternatives_text(operation)})" if operation.requirements else ""
        return "public" + extra
    if not operation.requirements:
        return "no security stated"
    return _alternatives_text(operation)


def _alternatives_text(operation: Operation) -> str:
    parts = [
        " + ".join(sorted(alternative)) if alternative else "any credential, no scope"
        for alternative in operation.requirements
    ]
    return " | ".join(parts)


def render_spec_text(spec: ApiSpec) -> str:
    """A human-readable report: summary, catalog, implications, operations, anomalies.

    Every piece of text from the spec is redacted and made terminal-safe.
    """
    from keyscope.analysis.scope_graph import build_scope_graph

    graph = build_scope_graph(spec)
    unlocked = _unlocked_by(spec, graph)
    declared = sum(1 for scope in spec.scopes if scope.declared)
    lines = [
        f"{_clean(spec.title) or '(untitled)'} {_clean(spec.version)} ({spec.format})",
        f"source: {_clean(spec.source, 300)}",
        f"sha256: {spec.sha256}",
        f"base path: {', '.join(_clean(p) or '(none)' for p in spec.base_paths)}",
        f"{len(spec.operations)} operations, {len(spec.scopes)} scopes "
        f"({declared} declared, {len(spec.scopes) - declared} undeclared)",
        f"semantics: {spec.semantics} - {_clean(spec.semantics_reason, 400)}",
    ]
    if spec.sentinels:
        # Quoted: Slack's sentinel is the word "none", which unquoted reads as "there are none".
        names = ", ".join(f"'{_clean(name)}'" for name in sorted(spec.sentinels))
        lines.append(f"scope names that mean no scope is needed: {names}")
    lines += ["", "Scopes"]
    for scope in spec.scopes:
        traits = ", ".join(
            part
            for part in (
                scope.access or "",
                f"area {_clean(scope.area)}" if scope.area else "",
                "" if scope.declared else "NOT DECLARED",
            )
            if part
        )
        lines.append(f"  {_clean(scope.name)}" + (f"  ({traits})" if traits else ""))
        if scope.description:
            lines.append(f"      {_clean(scope.description)}")
        keys = unlocked.get(scope.name, [])
        shown = ", ".join(_clean(key) for key in keys[:5])
        more = f", and {len(keys) - 5} more" if len(keys) > 5 else ""
        lines.append(
            f"      unlocks {len(keys)} operation(s)" + (f": {shown}{more}" if keys else "")
        )
    lines += ["", "Implications (holding the first grants the second)"]
    lines += [f"  {_clean(stronger)} -> {_clean(weaker)}" for stronger, weaker in spec.implications]
    lines.append(f"  write to read: {_clean(spec.implications_reason, 400)}")
    lines += ["", "Operations"]
    width = min(max((len(op.path) for op in spec.operations), default=0), 60)
    for operation in spec.operations:
        flag = "  (deprecated)" if operation.deprecated else ""
        lines.append(
            f"  {operation.method:<7} {_clean(operation.path):<{width}}  "
            f"{_clean(_requirement_text(operation), 400)}{flag}"
        )
    lines += ["", f"Anomalies ({len(spec.anomalies)})"]
    if not spec.anomalies:
        lines.append("  none")
    for item in spec.anomalies:
        where = f"{_clean(item.operation)}: " if item.operation else ""
        lines.append(f"  {item.severity:<6} {item.rule}  {where}{_clean(item.message, 400)}")
    return "\n".join(lines) + "\n"
