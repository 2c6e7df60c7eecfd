"""Reading an API description (OpenAPI 3.0/3.1, Swagger 2.0) into an :class:`ApiSpec`.

This adapter turns a YAML or JSON file into the normalized scope model the analysis
works on: every operation with its method, path template, ``public`` flag and
``requirements`` (alternatives, each the set of scopes needed together), the scope
catalog with undeclared-but-used scopes kept and marked, implication edges, and the
anomalies only visible while reading the document.

Where scopes come from, first match wins per operation:

1. the standard ``security`` requirement (the operation's own, else the global one);
   scopes count on every scheme type, not only oauth2;
2. vendor extensions on the operation: names configured in ``scope_extensions``, then
   ``x-scopes``, ``x-required-scopes``, ``x-atlassian-oauth2-scopes``;
3. operation tags that start with ``scope_tag_prefix`` (``scope:invoices:read``).

``security: []`` makes an operation public; an ``{}`` alternative makes it public too
and is reported; ``{"oauth2": null}`` (Square) reads as "no scope" and is reported.

How several scopes in one requirement object are read (:class:`SpecOptions.semantics`):
``all`` (what OpenAPI says, and how Square uses it), ``any`` (how Xero, Slack and
Spotify use it), or ``auto``: a root ``x-scope-semantics: all|any`` decides if present;
otherwise look at the lists and decide where the evidence is clear, else read ``all``
and say so with an ``ambiguous-scope-semantics`` anomaly.

``$ref`` handling is lazy: only what the scope model needs (path items, security
schemes) is dereferenced, chains are followed with a visited set, and schemas are
never expanded, so recursive schemas are fine.  Every local reference is still checked
to point somewhere, each reference followed once (outcomes are remembered), never
by recursion: a cycle of references, a pointer that runs through its own reference, or
a needed path item or scheme whose reference names its own ancestor is a ``$ref cycle``
(fatal where the scope model needs the target, an ``unresolved-ref`` anomaly
elsewhere), and a needed target more than 64 references away is refused.  References
to other files are followed only with ``allow_external_refs`` and only below the spec's
folder (after resolving symlinks); URLs are never fetched.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from keyscope.analysis.anomalies import (
    WRITE_METHODS,
    anomaly,
    lint_spec,
    sort_anomalies,
)
from keyscope.errors import SpecError
from keyscope.model import Anomaly, ApiSpec, Operation, Scope, Semantics
from keyscope.redaction import looks_like_secret, redact, redact_tokens
from keyscope.sources.yamlsafe import DEFAULT_MAX_BYTES, load_document, parse_document, read_capped

__all__ = [
    "DEFAULT_SCOPE_EXTENSIONS",
    "SpecOptions",
    "load_spec",
    "parse_spec",
    "spec_options_from",
]

DEFAULT_SCOPE_EXTENSIONS = ("x-scopes", "x-required-scopes", "x-atlassian-oauth2-scopes")
"""Operation extensions read for scopes when ``security`` names none."""

_METHODS_OAS3 = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_METHODS_SWAGGER = ("get", "put", "post", "delete", "options", "head", "patch")
_MAX_ALTERNATIVES = 256
"""Cap on alternatives one operation may expand to under ``any`` (cross products)."""
_MAX_EXTERNAL_DOCUMENTS = 100
_MAX_REFERENCE_HOPS = 64
"""Most references in a row a needed target (path item, security scheme) may take; real
specs take one or two.  Keeps the work per path item small whatever the document does."""
_ARRAY_INDEX = re.compile(r"[0-9]{1,18}")
"""A JSON pointer array index: ASCII digits only, short enough for ``int``."""


@dataclass(frozen=True, slots=True)
class SpecOptions:
    """How to read scopes from a spec; every field is a setting (see ``keyscope.settings``)."""

    semantics: Literal["auto", "all", "any"] = "auto"
    """How several scopes in one requirement object are read."""
    sentinel_scopes: tuple[str, ...] = ("none",)
    """Scope names that mean "no scope required" (Slack's ``none``)."""
    implications: tuple[tuple[str, str], ...] = ()
    """Extra ``(stronger, weaker)`` implication edges."""
    write_implies_read: Literal["auto"] | bool = "auto"
    """``area:write`` grants ``area:read`` when both exist: ``auto`` takes the spec's
    ``x-write-implies-read`` (off when it says nothing), a bool overrides it."""
    scope_extensions: tuple[str, ...] = ()
    """Extra operation extensions to read scopes from, tried before the built-in ones."""
    scope_tag_prefix: str = "scope:"
    """Operation tags starting with this name a required scope; empty turns tags off."""
    allow_external_refs: bool = False
    """Follow ``$ref`` to other files below the spec's folder (never URLs)."""


def spec_options_from(settings: Any) -> SpecOptions:
    """Take the spec-reading fields from a :class:`keyscope.settings.Settings`.

    Args:
        settings: Any object with the ``SpecOptions`` field names as attributes.

    Returns:
        The options, with defaults for missing attributes.
    """
    defaults = SpecOptions()
    values = {
        name: getattr(settings, name, getattr(defaults, name))
        for name in SpecOptions.__dataclass_fields__
    }
    if values["semantics"] not in ("auto", "all", "any"):
        raise SpecError(
            "settings", f"semantics must be auto, all or any, not {values['semantics']!r}"
        )
    values["sentinel_scopes"] = tuple(values["sentinel_scopes"])
    values["implications"] = tuple(tuple(pair) for pair in values["implications"])
    values["scope_extensions"] = tuple(values["scope_extensions"])
    return SpecOptions(**values)


def load_spec(path: Path, options: SpecOptions = SpecOptions()) -> ApiSpec:
    """Load an OpenAPI 3.x or Swagger 2.0 file into the normalized model.

    Args:
        path: The YAML or JSON file.
        options: How to read scopes.

    Returns:
        The spec: operations sorted by path then method, scopes sorted by name,
        implications, anomalies (sorted, most severe first).

    Raises:
        SpecError: One line naming the file and the place (``line:col`` or a JSON
            pointer) for a malformed file, an unsafe or unresolvable reference, a
            document that is not an API description, or an unsupported version.
    """
    data = read_capped(path, error=SpecError, max_bytes=DEFAULT_MAX_BYTES)
    document = parse_document(
        data, str(path), error=SpecError, json_only=path.suffix.lower() == ".json"
    )
    return parse_spec(
        document,
        redact(str(path)),  # the source is recorded in every report: no secret in it
        options,
        sha256=hashlib.sha256(data).hexdigest(),
        base_dir=path.parent,
    )


def parse_spec(
    document: Any,
    source: str,
    options: SpecOptions = SpecOptions(),
    *,
    sha256: str = "",
    base_dir: Path | None = None,
) -> ApiSpec:
    """Normalize an already parsed document (e.g. one fetched from the platform).

    Args:
        document: The parsed YAML/JSON.
        source: What to call it in messages.
        options: How to read scopes.
        sha256: Digest of the original bytes, if known.
        base_dir: Folder external file references are resolved against (and confined
            to); None refuses every external reference.

    Returns:
        The normalized spec.

    Raises:
        SpecError: see :func:`load_spec`.
    """
    return _SpecReader(document, source, options, sha256, base_dir).read()


# --------------------------------------------------------------------------- helpers


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _child(pointer: str, part: str | int) -> str:
    text = str(part).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}" if pointer != "#" else f"#/{text}"


def _is_local(reference: str) -> bool:
    """True for a reference into the same document: ``#...``, or ``""`` (the whole of it)."""
    return reference == "" or reference.startswith("#")


def _chain_text(references: list[str]) -> str:
    return " -> ".join(reference or "''" for reference in references)


def _is_url(reference: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", reference)) or reference.startswith("//")


_SEPARATORS = ":._-"
_TOKEN = re.compile(r"[^:._\-]+")
_READ_WORDS = frozenset({"read", "readonly", "view"})
_WRITE_WORDS = frozenset({"write", "modify", "manage", "edit", "create", "update", "delete"})
# Qualifiers that name the kind of object or token a scope applies to: two scopes that
# differ only in one of these are alternatives (Slack conversation and token types,
# Spotify playlist visibility).
_QUALIFIER_FAMILIES = (
    frozenset({"channels", "groups", "im", "mpim"}),
    frozenset({"user", "bot"}),
    frozenset({"public", "private", "collaborative"}),
)


def _scope_traits(
    name: str, description: str, names: frozenset[str]
) -> tuple[str | None, str | None]:
    """Infer ``(area, access)`` from a scope name (and its description as a fallback)."""
    if name + ".read" in names:
        return name, "write"
    if name.endswith(".read") and name[:-5] in names:
        return name[:-5], "read"
    tokens = list(_TOKEN.finditer(name))
    if tokens:
        order = [len(tokens) - 1, 0, *range(1, len(tokens) - 1)]
        for index in order:
            word = tokens[index].group(0).lower()
            access = "read" if word in _READ_WORDS else "write" if word in _WRITE_WORDS else None
            if access is None:
                continue
            token = tokens[index]
            before = name[: token.start()].rstrip(_SEPARATORS)
            after = name[token.end() :].lstrip(_SEPARATORS)
            # A word after a middle access word names what is read (Spotify's
            # user-read-email, user-read-playback-state): part of the area, unless it is
            # only a qualifier (chat:write:bot, playlist-read-private).
            if before and after and not _is_qualifier(after):
                area = name[: token.start()] + after
            else:
                area = before or after
            if area.isupper():
                area = area.lower()
            return area or None, access
    text = description.lower()
    if re.search(r"read[- ]only|readonly", text):
        return None, "read"
    if re.search(r"read[- ](and[- ])?write|write access|modify|manage", text):
        return None, "write"
    return None, None


def _is_qualifier(word: str) -> bool:
    return any(word.lower() in family for family in _QUALIFIER_FAMILIES)


def _refines(narrow: str, broad: str) -> bool:
    """True when ``narrow`` is ``broad`` with one more word (Xero's
    ``accounting.reports.tenninetynine.read`` and ``accounting.reports.read``)."""
    a = [token.lower() for token in _TOKEN.findall(narrow)]
    b = [token.lower() for token in _TOKEN.findall(broad)]
    return len(a) == len(b) + 1 and any(a[:i] + a[i + 1 :] == b for i in range(len(a)))


def _variants(first: str, second: str) -> bool:
    """Whether two scopes of one list are plainly alternatives: a scope and its read-only
    twin, qualifier variants, or a narrower version of the other."""
    return (
        first + ".read" == second
        or second + ".read" == first
        or _qualifier_variants(first, second)
        or _refines(first, second)
        or _refines(second, first)
    )


def _mixed_list(scopes: Sequence[str]) -> bool:
    """Whether a list's scopes fall into more than one group of variants of one another."""
    group = {scopes[0]}
    grown = True
    while grown:
        grown = False
        for name in scopes:
            if name not in group and any(_variants(name, member) for member in group):
                group.add(name)
                grown = True
    return len(group) < len(set(scopes))


def _qualifier_variants(first: str, second: str) -> bool:
    """True when two scope names differ only in one qualifier token of one family."""
    a = [token.lower() for token in _TOKEN.findall(first)]
    b = [token.lower() for token in _TOKEN.findall(second)]
    if len(a) != len(b):
        return False
    differing = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(differing) != 1:
        return False
    x, y = differing[0]
    return any(x in family and y in family for family in _QUALIFIER_FAMILIES)


@dataclass(frozen=True, slots=True)
class _Walk:
    """Where a pointer walk stands: the next part, the node there, how it was reached."""

    index: int
    node: Any
    walked: str
    followed: tuple[dict[str, Any], ...] = ()
    """Reference nodes taken (to their targets) while looking for the part at ``index``."""


@dataclass(frozen=True, slots=True)
class _Needs:
    """A pointer walk stopped at a reference whose target is not settled yet."""

    node: dict[str, Any]
    resume: _Walk


class _ThroughExternal(Exception):
    """A JSON pointer ran into a reference to another file or a URL."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference


@dataclass(slots=True)
class _RawOperation:
    """An operation as read, before the spec-wide semantics decision."""

    method: str
    path: str
    pointer: str
    operation_id: str | None
    summary: str
    tags: tuple[str, ...]
    deprecated: bool
    public: bool
    source: str
    objects: list[dict[str, list[str]]]
    """Requirement objects (scheme or source name -> scope list) from the chosen source."""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


class _SpecReader:
    """One read of one document; holds the state the steps share."""

    def __init__(
        self, document: Any, source: str, options: SpecOptions, sha256: str, base_dir: Path | None
    ) -> None:
        self.root = document
        self.source = source
        self.options = options
        self.sha256 = sha256
        self.base_dir = Path(os.path.realpath(base_dir)) if base_dir is not None else None
        self.sentinels = frozenset(options.sentinel_scopes)
        self.anomalies: list[Anomaly] = []
        self.external: dict[str, Any] = {}
        self.refused_external: list[tuple[str, str]] = []
        self.schemes: set[str] = set()
        self.unknown_schemes: dict[str, list[str]] = {}
        self.sentinels_used: set[str] = set()
        self.broken_references: list[tuple[str, str]] = []
        # What each local reference's chain ends in: ("ok" | "broken" | "external", text).
        self.chain_outcomes: dict[str, tuple[str, str]] = {}
        # (id(document), id(reference node)) -> what its $ref names, once settled:
        # ("ok", node) | ("broken", detail) | ("external", reference).
        self.referenced: dict[tuple[int, int], tuple[str, Any]] = {}
        self.pointer_parts: dict[str, tuple[str, ...]] = {}

    def fail(self, detail: str, place: str = "") -> SpecError:
        return SpecError(self.source, detail, place)

    # ------------------------------------------------------------------ top level

    def read(self) -> ApiSpec:
        root = self.root
        if not isinstance(root, dict):
            kind = "a list" if isinstance(root, list) else f"a {type(root).__name__}"
            raise self.fail(
                f"not an OpenAPI or Swagger document: the top level is {kind}, not a mapping"
            )
        spec_format, swagger = self._version()
        self._check_references()
        info = root.get("info") if isinstance(root.get("info"), dict) else {}
        title = self._optional_text(info.get("title"), "#/info/title")
        version = self._optional_text(info.get("version"), "#/info/version")
        catalog = self._catalog(swagger)
        raw_operations = self._operations(swagger, spec_format)
        semantics, reason, ambiguous = self._decide_semantics(raw_operations, catalog)
        operations = tuple(
            sorted(
                (self._normalize(raw, semantics, ambiguous) for raw in raw_operations),
                key=lambda operation: (operation.path, operation.method),
            )
        )
        for scheme, users in sorted(self.unknown_schemes.items()):
            self.anomalies.append(
                anomaly(
                    "unknown-security-scheme",
                    f"security scheme {scheme!r} is not defined (used by {len(users)} "
                    "operation(s))",
                    operation=sorted(users)[0],
                )
            )
        for place, detail in sorted(self.broken_references):
            self.anomalies.append(anomaly("unresolved-ref", f"{detail} at {place}"))
        if self.refused_external:
            reference, place = sorted(self.refused_external)[0]
            self.anomalies.append(
                anomaly(
                    "external-ref-not-followed",
                    f"{len(self.refused_external)} reference(s) to other files or URLs not "
                    "followed, "
                    f"e.g. {reference!r} at {place}",
                )
            )
        scopes, sentinels = self._scopes(catalog, operations)
        write_implies_read, implications_reason = self._decide_write_implies_read()
        implications = self._implications(scopes, write_implies_read=write_implies_read)
        spec = ApiSpec(
            title=title,
            version=version,
            format=spec_format,
            source=self.source,
            sha256=self.sha256,
            base_paths=self._base_paths(swagger),
            operations=operations,
            scopes=scopes,
            semantics=semantics,
            semantics_reason=reason,
            implications=implications,
            implications_reason=implications_reason,
            sentinels=sentinels,
        )
        linted = lint_spec(spec, scope_tag_prefix=self.options.scope_tag_prefix)
        return replace(spec, anomalies=sort_anomalies([*self.anomalies, *linted]))

    def _version(self) -> tuple[str, bool]:
        root = self.root
        if "openapi" in root:
            version = _version_text(root["openapi"])
            if version is None or not re.fullmatch(r"3\.[01](\.\d+)?(-[0-9A-Za-z.-]+)?", version):
                raise self.fail(
                    f"unsupported OpenAPI version {root['openapi']!r} (supported: 3.0, 3.1, "
                    "Swagger 2.0)",
                    "#/openapi",
                )
            return f"openapi {version}", False
        if "swagger" in root:
            version = _version_text(root["swagger"])
            if version not in ("2.0", "2"):
                raise self.fail(
                    f"unsupported Swagger version {root['swagger']!r} (supported: 2.0, OpenAPI "
                    "3.0 and 3.1)",
                    "#/swagger",
                )
            return "swagger 2.0", True
        raise self.fail(
            "not an OpenAPI or Swagger document: no 'openapi' or 'swagger' field at the top level"
        )

    def _optional_text(self, value: Any, place: str) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"expected a string, got {_kind(value)}", place)
        return redact(str(value))

    def _base_paths(self, swagger: bool) -> tuple[str, ...]:
        root = self.root
        prefixes: set[str] = set()
        if swagger:
            base = root.get("basePath")
            prefixes.add(base.rstrip("/") if isinstance(base, str) else "")
        else:
            servers = root.get("servers")
            if isinstance(servers, list) and servers:
                for server in servers:
                    if isinstance(server, dict) and isinstance(server.get("url"), str):
                        prefixes.add(_server_path(server["url"], server.get("variables")))
            if not prefixes:
                prefixes.add("")
        return tuple(sorted(prefixes, key=lambda prefix: (-len(prefix), prefix)))

    # ------------------------------------------------------------------ references

    def _check_references(self) -> None:
        """Check that every local ``$ref`` points somewhere, without expanding any.

        Reference chains (a target that is itself only a reference) are followed so a
        pure cycle (A -> B -> A) is found; recursive schemas are not cycles here because
        their targets hold more than a ``$ref``.  Broken references are recorded as
        ``unresolved-ref`` anomalies: real specs (Square's) carry a few in schemas the
        scope model never reads.  Where the model does need a target (path items,
        security schemes), :meth:`_resolve` makes a broken one a :class:`SpecError`.
        """
        checked: set[str] = set()
        # Each entry is (node, parent entry, key); pointers are spelled out only for
        # the references that need one, which keeps this walk cheap on large specs.
        stack: list[tuple[Any, Any, Any]] = [(self.root, None, None)]
        # YAML aliases share containers; visiting each once keeps this linear in the
        # file, not in the (capped, but possibly large) expanded size.
        visited: set[int] = set()
        while stack:
            entry = stack.pop()
            node = entry[0]
            if id(node) in visited:
                continue
            visited.add(id(node))
            if type(node) is dict:
                reference = node.get("$ref")
                if type(reference) is str and not (reference in checked and _is_local(reference)):
                    self._check_reference(reference, _entry_pointer(entry) + "/$ref", checked)
                for key, value in node.items():
                    if type(value) is dict or type(value) is list:
                        stack.append((value, entry, key))
            else:
                for index, value in enumerate(node):
                    if type(value) is dict or type(value) is list:
                        stack.append((value, entry, index))
        if self.options.allow_external_refs:
            # Followed on demand where needed; the rest are reported, never fetched.
            self.refused_external = [
                (reference, place)
                for reference, place in self.refused_external
                if _is_url(reference)
            ]

    def _check_reference(self, reference: str, place: str, checked: set[str]) -> None:
        if not _is_local(reference):
            self.refused_external.append((reference, place))
            return
        if reference in checked:
            return
        checked.add(reference)
        kind, text = self._chain_outcome(reference)
        if kind == "external":
            self.refused_external.append((text, place))
        elif kind == "broken":
            # Fatal only where the scope model needs the target (see _resolve);
            # elsewhere (schemas, examples) it is reported.
            self.broken_references.append((place, text))

    def _chain_outcome(self, reference: str) -> tuple[str, str]:
        """Follow ``reference`` through targets that are only a reference; say how it ends.

        Returns ``("ok", "")``, ``("broken", detail)`` (missing target, cycle) or
        ``("external", reference)`` (the chain leaves the document).  Every reference on
        the chain is given the same outcome, so a long chain is walked once, not once
        per link.
        """
        chain: list[str] = []
        on_chain: set[str] = set()
        following = reference
        while True:
            known = self.chain_outcomes.get(following)
            if known is not None:
                outcome = known
                break
            if following in on_chain:
                outcome = ("broken", f"$ref cycle: {_chain_text([*chain, following])}")
                break
            on_chain.add(following)
            chain.append(following)
            try:
                target = self._lookup(self.root, following, "")
            except _ThroughExternal as through:
                outcome = ("external", through.reference)
                break
            except SpecError as broken:
                outcome = ("broken", broken.detail)
                break
            inner = target.get("$ref") if type(target) is dict else None
            if type(inner) is not str or not _is_local(inner):
                outcome = ("ok", "")
                break
            following = inner
        for name in chain:
            self.chain_outcomes[name] = outcome
        return outcome

    def _lookup(self, document: Any, reference: str, place: str) -> Any:
        """Resolve the fragment of ``reference`` (``#/a/b``) in ``document``.

        A pointer that runs into a reference before its end continues from that
        reference's target; targets not known yet are settled first (see
        :meth:`_settle`) and the walk resumes where it stopped, so nothing here recurses.
        """
        found = self._walk(document, reference, place)
        while isinstance(found, _Needs):
            self._settle(document, found)
            found = self._walk(document, reference, place, found.resume)
        return found

    def _walk(self, document: Any, reference: str, place: str, resume: _Walk | None = None) -> Any:
        """Walk the pointer of ``reference`` (from ``resume`` if given) as far as it goes.

        Returns:
            The target, or :class:`_Needs` naming a reference on the way whose target is
            not settled yet.

        Raises:
            SpecError: Not a JSON pointer, no such member, a cycle, or more than
                :data:`_MAX_REFERENCE_HOPS` references in a row at one step.
            _ThroughExternal: The way runs through a reference to another file.
        """
        parts = self._pointer_parts(reference, place)
        if parts is None:
            return document
        state = resume or _Walk(0, document, "#")
        node, walked, followed = state.node, state.walked, list(state.followed)
        for index in range(state.index, len(parts)):
            part = parts[index]
            while isinstance(node, dict) and part not in node and isinstance(node.get("$ref"), str):
                if any(node is taken for taken in followed):
                    chain = [taken["$ref"] for taken in followed]
                    raise self.fail(
                        f"$ref cycle: {_chain_text([*chain, node['$ref']])} (met looking up "
                        f"{reference!r} at {walked})",
                        place,
                    )
                if len(followed) >= _MAX_REFERENCE_HOPS:
                    raise self.fail(
                        f"$ref {reference!r} runs through more than {_MAX_REFERENCE_HOPS} "
                        f"references at {walked}",
                        place,
                    )
                settled = self.referenced.get((id(document), id(node)))
                if settled is None:
                    return _Needs(node, _Walk(index, node, walked, tuple(followed)))
                kind, value = settled
                if kind == "external":
                    raise _ThroughExternal(value)
                if kind == "broken":
                    raise self.fail(value, place)
                followed.append(node)
                node = value
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and _ARRAY_INDEX.fullmatch(part) and int(part) < len(node):
                node = node[int(part)]
            else:
                raise self.fail(
                    f"$ref target not found: {reference!r} (no {part!r} in {walked})", place
                )
            walked = _child(walked, part)
            followed = []
        return node

    def _pointer_parts(self, reference: str, place: str) -> tuple[str, ...] | None:
        """The decoded parts of the pointer in ``reference``; None for the whole document."""
        parts = self.pointer_parts.get(reference)
        if parts is None:
            pointer = unquote(reference.partition("#")[2])
            if pointer == "":
                return None
            if not pointer.startswith("/"):
                raise self.fail(
                    f"$ref {reference!r} is not a JSON pointer (it must start with '#/')", place
                )
            parts = tuple(
                raw.replace("~1", "/").replace("~0", "~") for raw in pointer[1:].split("/")
            )
            self.pointer_parts[reference] = parts
        return parts

    def _settle(self, document: Any, needed: _Needs) -> None:
        """Find what the ``$ref`` of ``needed.node`` names, and whatever that needs first.

        A pointer may run through other references, whose pointers may too: those wait on
        an explicit stack (never Python recursion), a reference met again while still
        waiting is a cycle, and every outcome is remembered, so each reference node is
        settled once however many pointers pass through it.
        """
        # Each entry: a reference node and where the walk of its own pointer stopped.
        waiting: list[tuple[dict[str, Any], _Walk | None]] = [(needed.node, None)]
        positions = {id(needed.node): 0}
        while waiting:
            top, resume = waiting[-1]
            inner = top["$ref"]
            outcome: tuple[str, Any]
            if not _is_local(inner):
                outcome = ("external", inner)
            else:
                try:
                    found = self._walk(document, inner, "", resume)
                except _ThroughExternal as through:
                    outcome = ("external", through.reference)
                except SpecError as broken:
                    outcome = ("broken", broken.detail)
                else:
                    if not isinstance(found, _Needs):
                        self.referenced[(id(document), id(top))] = ("ok", found)
                        positions.pop(id(top))
                        waiting.pop()
                        continue
                    waiting[-1] = (top, found.resume)
                    if id(found.node) not in positions:
                        positions[id(found.node)] = len(waiting)
                        waiting.append((found.node, None))
                        continue
                    chain = [entry["$ref"] for entry, _ in waiting[positions[id(found.node)] :]]
                    outcome = (
                        "broken",
                        f"$ref cycle: {_chain_text([*chain, found.node['$ref']])} (a pointer "
                        "runs through its own reference)",
                    )
            # Each waiting reference needs the one above it, so all share the outcome.
            for entry, _ in waiting:
                self.referenced[(id(document), id(entry))] = outcome
            return

    def _resolve(self, node: Any, place: str, ancestors: tuple[tuple[str, Any], ...] = ()) -> Any:
        """Follow ``$ref`` chains from ``node`` to what they finally name.

        Args:
            node: The value at ``place``, maybe a ``{"$ref": ...}``.
            place: Its JSON pointer, for messages.
            ancestors: ``(pointer, container)`` pairs that hold ``place``; a chain that
                ends on one of them names itself (a path item that is the whole
                ``paths`` object) and is a cycle.

        Raises:
            SpecError: A missing target, a cycle, a chain of more than
                :data:`_MAX_REFERENCE_HOPS` references, or an external reference that
                is not allowed.
        """
        document = self.root
        document_dir = self.base_dir
        current = ""  # the file the chain is in, relative to the spec's folder ("" = the spec)
        seen: list[str] = []
        markers: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            reference = node["$ref"]
            file_part, _, _ = reference.partition("#")
            if file_part:
                document, document_dir, key = self._external_document(
                    file_part, document_dir, reference, place
                )
                current = os.path.relpath(key, self.base_dir) if self.base_dir else key
            marker = f"{current}#{reference.partition('#')[2]}"
            if marker in markers:
                raise self.fail(f"$ref cycle: {' -> '.join([*seen, marker])}", place)
            if len(seen) >= _MAX_REFERENCE_HOPS:
                raise self.fail(
                    f"$ref chain longer than {_MAX_REFERENCE_HOPS} references "
                    f"({seen[0]} -> ... -> {marker})",
                    place,
                )
            markers.add(marker)
            seen.append(marker)
            try:
                node = self._lookup(document, reference, place)
            except _ThroughExternal as through:
                raise self.fail(
                    f"$ref {reference!r} runs through reference {through.reference!r} to another "
                    "file",
                    place,
                ) from None
        for pointer, container in ancestors:
            if seen and container is not None and node is container:
                named = "the whole document" if pointer == "#" else pointer
                raise self.fail(
                    f"$ref cycle: {' -> '.join(seen)} names {named}, which contains this reference",
                    place,
                )
        return node

    def _external_document(
        self, file_part: str, document_dir: Path | None, reference: str, place: str
    ) -> tuple[Any, Path, str]:
        if _is_url(file_part):
            raise self.fail(
                f"$ref {reference!r} is a URL; keyscope never fetches references", place
            )
        if not self.options.allow_external_refs:
            raise self.fail(
                f"$ref {reference!r} points to another file; external refs are disabled "
                "(set allow_external_refs or pass --allow-external-refs)",
                place,
            )
        if self.base_dir is None or document_dir is None:
            raise self.fail(
                f"$ref {reference!r} points to another file; no folder to resolve it in", place
            )
        target = os.path.realpath(document_dir / unquote(file_part))
        if os.path.commonpath([target, str(self.base_dir)]) != str(self.base_dir):
            raise self.fail(f"$ref {reference!r} leaves the spec's folder; refused", place)
        if target not in self.external:
            if len(self.external) >= _MAX_EXTERNAL_DOCUMENTS:
                raise self.fail(f"more than {_MAX_EXTERNAL_DOCUMENTS} referenced files", place)
            self.external[target] = load_document(Path(target), error=SpecError)
        return self.external[target], Path(target).parent, target

    # ------------------------------------------------------------------ catalog

    def _catalog(self, swagger: bool) -> dict[str, str]:
        """Declared scopes (name -> description) from oauth2 schemes and root extensions."""
        root = self.root
        catalog: dict[str, str] = {}
        if swagger:
            definitions, where = root.get("securityDefinitions"), "#/securityDefinitions"
        else:
            components = root.get("components")
            definitions = (
                components.get("securitySchemes") if isinstance(components, dict) else None
            )
            where = "#/components/securitySchemes"
        if definitions is not None and not isinstance(definitions, dict):
            raise self.fail(
                f"expected a mapping of security schemes, got {_kind(definitions)}", where
            )
        ancestors = (("#", root), (where, definitions))
        if not swagger:
            ancestors += (("#/components", root.get("components")),)
        for name, definition in (definitions or {}).items():
            place = _child(where, name)
            scheme = self._resolve(definition, place, ancestors)
            if not isinstance(scheme, dict):
                raise self.fail(f"security scheme must be a mapping, got {_kind(scheme)}", place)
            self.schemes.add(name)
            if swagger:
                self._add_declared(catalog, scheme.get("scopes"), _child(place, "scopes"))
            else:
                flows = scheme.get("flows")
                if isinstance(flows, dict):
                    for flow_name in sorted(flows):
                        flow = flows[flow_name]
                        if isinstance(flow, dict):
                            self._add_declared(
                                catalog,
                                flow.get("scopes"),
                                _child(_child(place, "flows"), flow_name) + "/scopes",
                            )
        for extension in (*self.options.scope_extensions, "x-scopes"):
            if extension in root:
                self._add_declared(catalog, root[extension], _child("#", extension))
        return catalog

    def _add_declared(self, catalog: dict[str, str], scopes: Any, place: str) -> None:
        if scopes is None:
            return
        entries: Iterable[tuple[Any, Any]]
        if isinstance(scopes, dict):
            entries = scopes.items()
        elif isinstance(scopes, list):
            entries = [
                (item.get("name"), item.get("description"))
                if isinstance(item, dict)
                else (item, "")
                for item in scopes
            ]
        else:
            raise self.fail(
                f"expected a mapping of scope names to descriptions, got {_kind(scopes)}", place
            )
        for name, description in entries:
            if not isinstance(name, str):
                raise self.fail(f"expected a scope name (string), got {_kind(name)}", place)
            if looks_like_secret(name):
                raise self.fail(f"a scope name looks like a secret ({redact(name)})", place)
            text = redact(description) if isinstance(description, str) else ""
            if not catalog.get(name):
                catalog[name] = text

    # ------------------------------------------------------------------ operations

    def _operations(self, swagger: bool, spec_format: str) -> list[_RawOperation]:
        paths = self.root.get("paths")
        if paths is None:
            if not spec_format.startswith("openapi 3.1"):  # only 3.1 may omit paths
                raise self.fail("no 'paths' in the document", "#")
            return []
        if not isinstance(paths, dict):
            raise self.fail(f"'paths' must be a mapping, got {_kind(paths)}", "#/paths")
        methods = _METHODS_SWAGGER if swagger else _METHODS_OAS3
        global_security = self.root.get("security")
        operations: list[_RawOperation] = []
        for path in sorted(paths):
            place = _pointer("paths", path)
            if path.startswith("x-"):
                continue
            if not path.startswith("/"):
                self.anomalies.append(
                    anomaly(
                        "invalid-path-key", f"paths key {path!r} does not start with '/'; skipped"
                    )
                )
                continue
            item = self._resolve(paths[path], place, (("#", self.root), ("#/paths", paths)))
            if item is None:
                continue
            if not isinstance(item, dict):
                raise self.fail(f"path item must be a mapping, got {_kind(item)}", place)
            for method in methods:
                if method not in item:
                    continue
                operation = item[method]
                where = _child(place, method)
                if not isinstance(operation, dict):
                    raise self.fail(f"operation must be a mapping, got {_kind(operation)}", where)
                # The template names the operation in every report: a secret in it is
                # masked here, once (a request that holds the secret then matches nothing).
                operations.append(
                    self._raw_operation(
                        # Named-credential patterns stay: "/password:reset" is a route.
                        method.upper(), redact_tokens(path), where, operation, global_security
                    )
                )
        return operations

    def _raw_operation(
        self, method: str, path: str, where: str, operation: dict[str, Any], global_security: Any
    ) -> _RawOperation:
        operation_id = operation.get("operationId")
        if operation_id is not None:
            operation_id = self._optional_text(operation_id, _child(where, "operationId"))
        tags_value = operation.get("tags") or []
        if not isinstance(tags_value, list):
            raise self.fail(f"tags must be a list, got {_kind(tags_value)}", _child(where, "tags"))
        tags = tuple(
            self._optional_text(tag, _child(_child(where, "tags"), i))
            for i, tag in enumerate(tags_value)
        )
        summary = operation.get("summary")
        raw = _RawOperation(
            method=method,
            path=path,
            pointer=where,
            operation_id=operation_id,
            summary=redact(summary) if isinstance(summary, str) else "",
            tags=tags,
            deprecated=operation.get("deprecated") is True,
            public=False,
            source="none",
            objects=[],
        )
        if "security" in operation and operation["security"] is not None:
            security, security_place = operation["security"], _child(where, "security")
        else:
            security, security_place = global_security, "#/security"
        security_objects: list[dict[str, list[str]]] | None = None
        if security is not None:
            security_objects = self._security(security, security_place, raw)
            if raw.public and not security_objects:
                raw.source = "security"
                return raw
        candidates: list[tuple[str, list[dict[str, list[str]]]]] = []
        if security_objects is not None:
            candidates.append(("security", security_objects))
        for extension in dict.fromkeys((*self.options.scope_extensions, *DEFAULT_SCOPE_EXTENSIONS)):
            if extension in operation:
                objects = self._extension(
                    operation[extension], _child(where, extension), extension, raw
                )
                candidates.append((extension, objects))
        prefix = self.options.scope_tag_prefix
        if prefix:
            tagged = [
                tag[len(prefix) :]
                for tag in tags
                if tag.startswith(prefix) and len(tag) > len(prefix)
            ]
            if tagged:
                candidates.append(("tag", [{"tag": list(dict.fromkeys(tagged))}]))
        for source, objects in candidates:
            if any(scopes for requirement in objects for scopes in requirement.values()):
                raw.source, raw.objects = source, objects
                return raw
        if security_objects is not None:
            raw.source, raw.objects = "security", security_objects
        return raw

    def _security(
        self, security: Any, place: str, raw: _RawOperation
    ) -> list[dict[str, list[str]]]:
        """Read a security requirement list; sets ``raw.public`` for ``[]`` and ``{}``."""
        if not isinstance(security, list):
            raise self.fail(
                f"security must be a list of requirement objects, got {_kind(security)}", place
            )
        if not security:
            raw.public = True
            return []
        objects: list[dict[str, list[str]]] = []
        for index, requirement in enumerate(security):
            where = _child(place, index)
            if not isinstance(requirement, dict):
                raise self.fail(
                    f"security requirement must be a mapping, got {_kind(requirement)}", where
                )
            if not requirement:
                raw.public = True
                self.anomalies.append(
                    anomaly(
                        "anonymous-alternative",
                        "security includes {}: callable without credentials",
                        operation=raw.key,
                    )
                )
                continue
            read: dict[str, list[str]] = {}
            for scheme, scopes in requirement.items():
                if scheme not in self.schemes:
                    self.unknown_schemes.setdefault(scheme, []).append(raw.key)
                read[scheme] = self._scope_list(scopes, _child(where, scheme), raw, scheme)
            objects.append(read)
        return objects

    def _scope_list(self, scopes: Any, place: str, raw: _RawOperation, owner: str) -> list[str]:
        if scopes is None:
            self.anomalies.append(
                anomaly(
                    "null-scope-list",
                    f"{owner}: null instead of a scope list; read as no scope",
                    operation=raw.key,
                )
            )
            return []
        if isinstance(scopes, str):
            self.anomalies.append(
                anomaly(
                    "malformed-scope-list",
                    f"{owner}: a single string instead of a list; read as the scopes it names",
                    operation=raw.key,
                )
            )
            return list(dict.fromkeys(scopes.split()))
        if not isinstance(scopes, list):
            raise self.fail(f"expected a list of scope names, got {_kind(scopes)}", place)
        for index, name in enumerate(scopes):
            if not isinstance(name, str):
                raise self.fail(
                    f"expected a scope name (string), got {_kind(name)}", _child(place, index)
                )
        return list(dict.fromkeys(scopes))

    def _extension(
        self, value: Any, place: str, name: str, raw: _RawOperation
    ) -> list[dict[str, list[str]]]:
        """Read a vendor extension into requirement objects; shapes seen in the wild:

        ``[a, b]`` and ``"a b"`` (one list), ``[[a], [b]]`` (alternatives),
        ``[{scopes: [...]}, ...]`` (Atlassian: one alternative per entry),
        ``{scheme: [...]}`` or a list of those (like ``security``).
        """
        if isinstance(value, str):
            return [{name: self._scope_list(value, place, raw, name)}]
        if isinstance(value, dict):
            if "scopes" in value:
                return [
                    {name: self._scope_list(value["scopes"], _child(place, "scopes"), raw, name)}
                ]
            return [
                {
                    scheme: self._scope_list(scopes, _child(place, scheme), raw, name)
                    for scheme, scopes in value.items()
                }
            ]
        if not isinstance(value, list):
            raise self.fail(f"{name} must be a list of scopes, got {_kind(value)}", place)
        if all(isinstance(item, str) for item in value):
            return [{name: self._scope_list(value, place, raw, name)}]
        objects: list[dict[str, list[str]]] = []
        for index, item in enumerate(value):
            where = _child(place, index)
            if isinstance(item, list):
                objects.append({name: self._scope_list(item, where, raw, name)})
            elif isinstance(item, dict) and "scopes" in item:
                objects.append(
                    {name: self._scope_list(item["scopes"], _child(where, "scopes"), raw, name)}
                )
            elif isinstance(item, dict):
                objects.append(
                    {
                        scheme: self._scope_list(s, _child(where, scheme), raw, name)
                        for scheme, s in item.items()
                    }
                )
            else:
                raise self.fail(
                    f"{name} entries must be scope names, lists or mappings, got {_kind(item)}",
                    where,
                )
        return objects

    # ------------------------------------------------------------------ semantics

    def _multi_lists(
        self, operations: list[_RawOperation]
    ) -> list[tuple[_RawOperation, tuple[str, ...]]]:
        lists = []
        for raw in operations:
            for requirement in raw.objects:
                for scopes in requirement.values():
                    real = tuple(name for name in scopes if name not in self.sentinels)
                    if len(real) > 1:
                        lists.append((raw, real))
        return lists

    def _decide_semantics(
        self, operations: list[_RawOperation], catalog: dict[str, str]
    ) -> tuple[Semantics, str, bool]:
        """Choose how multi-scope lists are read; returns (semantics, reason, ambiguous)."""
        lists = self._multi_lists(operations)
        configured = self.options.semantics
        if configured in ("all", "any"):
            return configured, f"set by configuration ({configured})", False
        declared = self.root.get("x-scope-semantics")
        if declared is not None:
            if declared not in ("all", "any"):
                raise self.fail(
                    f"x-scope-semantics must be all or any, not {_short_repr(declared)}",
                    "#/x-scope-semantics",
                )
            return declared, f"declared by the spec (x-scope-semantics: {declared})", False
        if not lists:
            return (
                "all",
                "no requirement lists more than one scope, so all and any read the same",
                False,
            )
        names = frozenset(catalog) | frozenset(name for _, scopes in lists for name in scopes)
        access = {name: _scope_traits(name, catalog.get(name, ""), names) for name in names}
        any_examples: list[tuple[str, str]] = []
        all_examples: list[tuple[str, str]] = []
        for raw, scopes in lists:
            evidence_any = _any_evidence(scopes)
            evidence_all = _all_evidence(raw.method, scopes, access)
            if evidence_any:
                any_examples.append((raw.key, evidence_any))
            if evidence_all:
                all_examples.append((raw.key, evidence_all))
        # A spec that writes alternatives the OpenAPI way (several requirement objects)
        # means something else by several scopes inside one object: all of them.
        or_operations = sorted(
            raw.key
            for raw in operations
            if raw.source == "security"
            and sum(1 for requirement in raw.objects if any(requirement.values())) > 1
        )
        if or_operations:
            all_examples.append(
                (or_operations[0], "the spec writes alternatives as separate requirement objects")
            )
        total = len(lists)
        if any_examples and not all_examples:
            key, why = sorted(any_examples)[0]
            return (
                "any",
                f"{len(any_examples)} of {total} multi-scope lists name alternatives ({why}, "
                f"e.g. {key}); "
                "one scope of a list suffices",
                False,
            )
        if all_examples and not any_examples:
            if or_operations:
                return (
                    "all",
                    "the spec writes alternatives as separate requirement objects (e.g. "
                    f"{or_operations[0]}), "
                    f"so a list of several scopes inside one object needs all of them ({total} "
                    "such lists)",
                    False,
                )
            key, why = sorted(all_examples)[0]
            return (
                "all",
                f"{len(all_examples)} of {total} multi-scope lists read only as all ({why}, e.g. "
                f"{key}); "
                "every scope of a list is needed",
                False,
            )
        if any_examples and all_examples:
            reason = (
                f"conflicting evidence: {len(any_examples)} lists look like alternatives "
                f"(e.g. {sorted(any_examples)[0][0]}), {len(all_examples)} like combined needs "
                f"(e.g. {sorted(all_examples)[0][0]}); read as all (the OpenAPI meaning)"
            )
        else:
            reason = (
                f"no evidence either way in {total} multi-scope lists; "
                "read as all (the OpenAPI meaning)"
            )
        self.anomalies.append(anomaly("ambiguous-scope-semantics", reason))
        return "all", reason, True

    def _normalize(self, raw: _RawOperation, semantics: Semantics, ambiguous: bool) -> Operation:
        alternatives: set[frozenset[str]] = set()
        multi = False
        uncertain: set[str] = set()
        for requirement in raw.objects:
            per_scheme: list[list[frozenset[str]]] = []
            for scopes in requirement.values():
                real = [name for name in scopes if name not in self.sentinels]
                if len(real) < len(scopes):
                    self.sentinels_used.update(name for name in scopes if name in self.sentinels)
                multi = multi or len(real) > 1
                if semantics == "all" or len(scopes) <= 1:
                    per_scheme.append([frozenset(real)])
                else:
                    if len(real) > 1 and _mixed_list(real):
                        uncertain.update(real)
                    choices = [frozenset({name}) for name in real]
                    if len(real) < len(scopes):
                        choices.append(frozenset())  # a sentinel: "no scope" is one choice
                    per_scheme.append(choices)
            combinations = 1
            for choices in per_scheme:
                combinations *= len(choices)
            if combinations > _MAX_ALTERNATIVES:
                raise self.fail(
                    f"security requirement expands to {combinations} alternatives under 'any' "
                    f"(limit {_MAX_ALTERNATIVES}); use --semantics all",
                    raw.pointer,
                )
            for combination in itertools.product(*per_scheme):
                alternatives.add(frozenset().union(*combination))
        if multi and ambiguous:
            self.anomalies.append(
                anomaly(
                    "ambiguous-scope-list",
                    "several scopes in one requirement; read as all of them, which may be wrong",
                    operation=raw.key,
                )
            )
        if uncertain:
            names = sorted(uncertain)
            self.anomalies.append(
                anomaly(
                    "mixed-scope-list",
                    f"{', '.join(names[:6])}{', ...' if len(names) > 6 else ''} are read as "
                    "alternatives, but not all are variants of one another (the platform may "
                    "need some together); a key that uses the operation keeps the ones it holds",
                    operation=raw.key,
                )
            )
        return Operation(
            method=raw.method,
            path=raw.path,
            operation_id=raw.operation_id,
            public=raw.public,
            requirements=tuple(sorted(alternatives, key=lambda alt: (len(alt), sorted(alt)))),
            summary=raw.summary,
            tags=raw.tags,
            deprecated=raw.deprecated,
            scope_source=raw.source if raw.objects or raw.public else "none",
            multi_scope_list=multi,
            uncertain_scopes=frozenset(uncertain),
        )

    # ------------------------------------------------------------------ scopes

    def _scopes(
        self, catalog: dict[str, str], operations: tuple[Operation, ...]
    ) -> tuple[tuple[Scope, ...], frozenset[str]]:
        used: set[str] = set()
        for operation in operations:
            used |= operation.scopes
            leaked = sorted(name for name in operation.scopes if looks_like_secret(name))
            if leaked:  # a requirement, not the catalog: checked above with its place
                raise self.fail(
                    f"a scope name looks like a secret ({redact(leaked[0])})", operation.key
                )
        sentinels_seen = {name for name in self.sentinels if name in catalog} | self.sentinels_used
        names = (frozenset(catalog) | used) - self.sentinels
        scopes = []
        for name in sorted(names):
            description = catalog.get(name, "")
            area, access = _scope_traits(name, description, names)
            scopes.append(Scope(name, description, name in catalog, area, access))  # type: ignore[arg-type]
        return tuple(scopes), frozenset(sentinels_seen)

    def _decide_write_implies_read(self) -> tuple[bool, str]:
        """Whether ``area:write`` grants ``area:read``, and why.

        A platform's own rule, not OpenAPI's: Slack's ``channels:write`` does not let a
        key list channels.  So it holds only where the spec says so (a root
        ``x-write-implies-read: true``) or the configuration sets it.
        """
        configured = self.options.write_implies_read
        if isinstance(configured, bool):
            return (
                configured,
                f"write_implies_read set by configuration ({str(configured).lower()})",
            )
        declared = self.root.get("x-write-implies-read")
        if declared is None:
            return False, (
                "the spec does not say that a write scope grants its read twin "
                "(x-write-implies-read), so none does"
            )
        if not isinstance(declared, bool):
            raise self.fail(
                f"x-write-implies-read must be true or false, not {_short_repr(declared)}",
                "#/x-write-implies-read",
            )
        return declared, f"declared by the spec (x-write-implies-read: {str(declared).lower()})"

    def _implications(
        self, scopes: tuple[Scope, ...], *, write_implies_read: bool
    ) -> tuple[tuple[str, str], ...]:
        names = {scope.name for scope in scopes}
        edges: set[tuple[str, str]] = set()
        for name in names:
            if name + ".read" in names:
                edges.add((name, name + ".read"))  # Xero: "X" is read-write, "X.read" read-only
            if write_implies_read and name.endswith(":write"):
                twin = name[: -len(":write")] + ":read"
                if twin in names:
                    edges.add((name, twin))
        edges.update(
            (stronger, weaker)
            for stronger, weaker in self.options.implications
            if stronger != weaker
        )
        return tuple(sorted(edges))


def _any_evidence(scopes: tuple[str, ...]) -> str:
    present = set(scopes)
    for name in scopes:
        if name + ".read" in present:
            return f"'{name}' with its read-only twin '{name}.read'"
    for first, second in itertools.combinations(scopes, 2):
        if _qualifier_variants(first, second):
            return f"'{first}' and '{second}' differ only in the kind of object or token"
    return ""


def _all_evidence(
    method: str, scopes: tuple[str, ...], traits: Mapping[str, tuple[str | None, str | None]]
) -> str:
    reads = [name for name in scopes if traits[name][1] == "read"]
    writes = [name for name in scopes if traits[name][1] == "write"]
    if not reads or not writes:
        return ""
    if method in WRITE_METHODS:
        return (
            f"{method} lists read scope {reads[0]} with write scope {writes[0]}; "
            "'any' would let a read scope write"
        )
    write_areas = {traits[name][0] for name in writes}
    foreign = [name for name in reads if traits[name][0] not in write_areas]
    if foreign:
        return f"read scope {foreign[0]} of another area than write scope {writes[0]}"
    return ""


def _entry_pointer(entry: Any) -> str:
    keys = []
    while entry is not None and entry[1] is not None:
        keys.append(entry[2])
        entry = entry[1]
    pointer = "#"
    for key in reversed(keys):
        pointer = _child(pointer, key)
    return pointer


def _short_repr(value: Any) -> str:
    """``repr(value)`` cut to a readable length, for an error about a spec's own value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _version_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return None


def _server_path(url: str, variables: Any) -> str:
    if isinstance(variables, dict):
        for name, variable in variables.items():
            if isinstance(variable, dict) and isinstance(variable.get("default"), str | int):
                url = url.replace("{" + name + "}", str(variable["default"]))
    path = url if url.startswith("/") else urlsplit(url).path
    return path.rstrip("/")
