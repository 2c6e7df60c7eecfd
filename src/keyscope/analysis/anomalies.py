"""Spec lint: what a reviewer should know about an API description's scope model.

Two kinds of anomaly exist.  Some are visible only while the document is read (an
``{}`` anonymous alternative, a ``null`` scope list, a reference to an undeclared
security scheme); ``keyscope.sources.openapi`` records those with the constructors
here.  The rest follow from the normalized :class:`~keyscope.model.ApiSpec` alone and
are computed by :func:`lint_spec`, a pure function.  Every rule has a stable id (see
:data:`RULES` and ``docs/spec-json.md``); output is sorted so it is deterministic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from keyscope.model import Anomaly, ApiSpec, Operation, Scope, Severity, severity_rank
from keyscope.redaction import redact

__all__ = [
    "RULES",
    "Rule",
    "anomaly",
    "lint_spec",
    "sort_anomalies",
]

READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One anomaly rule: its stable id, default severity and what it means."""

    rule_id: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {
    rule.rule_id: rule
    for rule in (
        Rule("missing-security", "medium",
             "The operation states no security at all (neither its own nor a global default)."),
        Rule("no-scope-requirement", "low",
             "The operation needs credentials but no scope: every key can call it."),
        Rule("undeclared-scope", "medium",
             "Operations require a scope the catalog does not declare."),
        Rule("unused-scope", "info",
             "The catalog declares a scope no operation requires."),
        Rule("read-method-needs-write", "low",
             "A GET or HEAD operation can only be called with a write scope."),
        Rule("write-method-read-only", "medium",
             "A POST, PUT, PATCH or DELETE operation can be called with read scopes only."),
        Rule("ambiguous-scope-semantics", "medium",
             "Whether a multi-scope list means all or any of its scopes could not be told; "
             "read as all (the OpenAPI meaning)."),
        Rule("ambiguous-scope-list", "low",
             "This operation lists several scopes in one requirement and the spec's reading is a "
             "guess."),
        Rule("mixed-scope-list", "low",
             "A requirement list is read as alternatives although some of its scopes are not "
             "variants of one another; a key that uses the operation keeps the ones it holds."),
        Rule("ambiguous-path-template", "medium",
             "Two path templates have the same shape (/a/{x} and /a/{y}); requests cannot tell "
             "them apart."),
        Rule("anonymous-alternative", "medium",
             "A security requirement includes {}: the operation can be called without "
             "credentials."),
        Rule("null-scope-list", "low",
             "A security requirement gives null instead of a scope list (invalid); read as no "
             "scopes."),
        Rule("malformed-scope-list", "medium",
             "A scope list is not a list of names; it was read as well as possible."),
        Rule("unknown-security-scheme", "medium",
             "A security requirement names a scheme the spec does not define."),
        Rule("scope-area-mismatch", "low",
             "A scope tag names a capability area the operation's path does not mention."),
        Rule("scope-tag-mismatch", "medium",
             "The operation's scope tags and its security requirement name different scopes."),
        Rule("scope-name-variant", "low",
             "Two scope names differ only in letter case or surrounding spaces; scopes match "
             "exactly."),
        Rule("unresolved-ref", "medium",
             "A $ref the scope model does not need (e.g. in a schema) points nowhere or is a "
             "cycle."),
        Rule(
            "external-ref-not-followed",
            "info",
            "References to other files (allow_external_refs off) or to URLs (always) "
            "were not followed.",
        ),
        Rule("invalid-path-key", "low",
             "A key under paths does not start with '/' and was skipped."),
    )
}  # fmt: skip
"""Every rule id keyscope can report, with its default severity."""


def anomaly(
    rule: str,
    message: str,
    *,
    operation: str = "",
    scope: str = "",
    severity: Severity | None = None,
) -> Anomaly:
    """Build an :class:`Anomaly` of a known rule, with the rule's default severity.

    The message quotes the spec (a security scheme's name, a path key), so it is
    redacted here, for every report.

    Raises:
        KeyError: ``rule`` is not in :data:`RULES` (a programming error).
    """
    return Anomaly(
        rule=rule,
        message=redact(message),
        operation=operation,
        scope=scope,
        severity=severity or RULES[rule].severity,
    )


def sort_anomalies(anomalies: Iterable[Anomaly]) -> tuple[Anomaly, ...]:
    """Deduplicate and sort: most severe first, then rule, operation, scope, message."""
    unique = set(anomalies)
    return tuple(
        sorted(
            unique,
            key=lambda a: (severity_rank(a.severity), a.rule, a.operation, a.scope, a.message),
        )
    )


def lint_spec(spec: ApiSpec, *, scope_tag_prefix: str = "scope:") -> tuple[Anomaly, ...]:
    """Find the anomalies that follow from the normalized spec.

    Args:
        spec: The loaded spec (its own ``anomalies`` are not read).
        scope_tag_prefix: The prefix that marks scope tags (empty: tags carry no scopes).

    Returns:
        Sorted anomalies.
    """
    access = {scope.name: scope.access for scope in spec.scopes}
    found: list[Anomaly] = []
    for operation in spec.operations:
        found.extend(_security_shape(operation))
        found.extend(_access_mismatch(operation, access))
        if scope_tag_prefix:
            found.extend(_tag_checks(operation, spec.scopes, scope_tag_prefix))
    found.extend(_catalog_checks(spec))
    found.extend(_path_shapes(spec.operations))
    return sort_anomalies(found)


def _security_shape(operation: Operation) -> list[Anomaly]:
    if operation.public:
        return []
    if not operation.requirements:
        return [
            anomaly("missing-security", "states no security requirement", operation=operation.key)
        ]
    if all(not alternative for alternative in operation.requirements):
        return [
            anomaly(
                "no-scope-requirement",
                "needs credentials but no scope: any key can call it",
                operation=operation.key,
            )
        ]
    return []


_SEARCH_LIKE = re.compile(r"(?i)search|query|lookup|retrieve|list|calculate|preview|validate|count")


def _access_mismatch(operation: Operation, access: dict[str, str | None]) -> list[Anomaly]:
    alternatives = [alternative for alternative in operation.requirements if alternative]
    if operation.public or not alternatives:
        return []
    if operation.method in READ_METHODS:
        if all(any(access.get(name) == "write" for name in alt) for alt in alternatives):
            needed = sorted({n for alt in alternatives for n in alt if access.get(n) == "write"})
            return [
                anomaly(
                    "read-method-needs-write",
                    f"{operation.method} needs a write scope ({', '.join(needed)})",
                    operation=operation.key,
                    scope=needed[0],
                )
            ]
    elif operation.method in WRITE_METHODS:
        read_only = [alt for alt in alternatives if all(access.get(name) == "read" for name in alt)]
        if read_only:
            names = sorted(read_only[0])
            # POST /search and friends are reads spelled as writes: say so, quietly.
            looks_like_read = bool(
                _SEARCH_LIKE.search(operation.path + " " + (operation.operation_id or ""))
            )
            hint = (
                " (it looks like a search or lookup, a common benign cause)"
                if looks_like_read
                else ""
            )
            return [
                anomaly(
                    "write-method-read-only",
                    f"{operation.method} can be called with read scopes only "
                    f"({', '.join(names)}){hint}",
                    operation=operation.key,
                    scope=names[0],
                    severity="info" if looks_like_read else None,
                )
            ]
    return []


def _normalized_word(text: str) -> str:
    word = re.sub(r"[^a-z0-9]", "", text.lower())
    return word[:-1] if word.endswith("s") else word


def _tag_checks(operation: Operation, scopes: tuple[Scope, ...], prefix: str) -> list[Anomaly]:
    tagged = sorted(
        {
            tag[len(prefix) :]
            for tag in operation.tags
            if tag.startswith(prefix) and len(tag) > len(prefix)
        }
    )
    if not tagged:
        return []
    found: list[Anomaly] = []
    if (
        operation.scope_source != "tag"
        and operation.requirements
        and set(tagged) != set(operation.scopes)
    ):
        found.append(
            anomaly(
                "scope-tag-mismatch",
                f"tags name {', '.join(tagged)} but the requirement names "
                f"{', '.join(sorted(operation.scopes)) or 'no scope'}",
                operation=operation.key,
            )
        )
    areas = {scope.name: scope.area for scope in scopes}
    segments = [
        _normalized_word(part) for part in operation.path.split("/") if part and "{" not in part
    ]
    segments = [segment for segment in segments if segment]
    if not segments:
        return found
    for name in tagged:
        area = areas.get(name)
        if not area:
            continue
        wanted = _normalized_word(area)
        if wanted and not any(wanted in segment or segment in wanted for segment in segments):
            found.append(
                anomaly(
                    "scope-area-mismatch",
                    f"scope {name} (area {area}) on a path about {'/'.join(segments)}",
                    operation=operation.key,
                    scope=name,
                )
            )
    return found


def _catalog_checks(spec: ApiSpec) -> list[Anomaly]:
    users: dict[str, list[str]] = defaultdict(list)
    for operation in spec.operations:
        for name in operation.scopes:
            users[name].append(operation.key)
    found: list[Anomaly] = []
    for scope in spec.scopes:
        keys = sorted(users.get(scope.name, ()))
        if not scope.declared and keys:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            found.append(
                anomaly(
                    "undeclared-scope",
                    f"{scope.name} is required by {keys[0]}{more} but not declared in the catalog",
                    operation=keys[0],
                    scope=scope.name,
                )
            )
        elif scope.declared and not keys:
            found.append(
                anomaly(
                    "unused-scope",
                    f"{scope.name} is declared but no operation requires it",
                    scope=scope.name,
                )
            )
    variants: dict[str, list[str]] = defaultdict(list)
    for scope in spec.scopes:
        variants[scope.name.strip().casefold()].append(scope.name)
    for names in variants.values():
        if len(names) > 1:
            shown = ", ".join(repr(name) for name in sorted(names))
            found.append(
                anomaly(
                    "scope-name-variant",
                    f"scope names {shown} differ only in case or spaces; they are different scopes",
                    scope=sorted(names)[0],
                )
            )
    return found


def _path_shape(path: str) -> str:
    shape = re.sub(r"\{[^/{}]*\}", "{}", path)
    return shape.rstrip("/") or "/"


def _path_shapes(operations: tuple[Operation, ...]) -> list[Anomaly]:
    methods_by_path: dict[str, set[str]] = defaultdict(set)
    for operation in operations:
        methods_by_path[operation.path].add(operation.method)
    shapes: dict[str, list[str]] = defaultdict(list)
    for path in methods_by_path:
        shapes[_path_shape(path)].append(path)
    found: list[Anomaly] = []
    for paths in shapes.values():
        if len(paths) < 2:
            continue
        paths.sort()
        shared = set.intersection(*(methods_by_path[path] for path in paths))
        clash = f"; both answer {', '.join(sorted(shared))}" if shared else ""
        found.append(
            anomaly(
                "ambiguous-path-template",
                f"paths {' and '.join(paths)} have the same shape{clash}",
                operation=f"{min(shared)} {paths[1]}" if shared else "",
                severity=None if shared else "low",
            )
        )
    return found
