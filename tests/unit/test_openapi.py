"""Spec loading: versions, references, scope sources, semantics, catalog, implications."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.errors import SpecError
from keyscope.model import ApiSpec
from keyscope.settings import Settings
from keyscope.sources.openapi import SpecOptions, load_spec, parse_spec, spec_options_from

REPO = Path(__file__).resolve().parents[2]


def oas3(
    paths: dict[str, Any], *, scopes: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A minimal OpenAPI 3.0 document with one oauth2 scheme."""
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "T", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {"tokenUrl": "https://x/t", "scopes": scopes or {}}
                    },
                }
            }
        },
    }
    document.update(extra)
    return document


def op(security: Any = "absent", **fields: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"responses": {"200": {"description": "ok"}}, **fields}
    if security != "absent":
        operation["security"] = security
    return operation


def load(
    tmp_path: Path,
    document: dict[str, Any],
    options: SpecOptions | None = None,
    name: str = "spec.json",
) -> ApiSpec:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return load_spec(path, options or SpecOptions())


def reqs(spec: ApiSpec, key: str) -> list[list[str]]:
    return [sorted(alternative) for alternative in spec.operation(key).requirements]


def rules(spec: ApiSpec) -> list[str]:
    return [anomaly.rule for anomaly in spec.anomalies]


# --------------------------------------------------------------------------- versions and shape


@pytest.mark.parametrize(
    ("document", "message", "place"),
    [
        ([1, 2], "the top level is a list", ""),
        ({"info": {"title": "x"}}, "no 'openapi' or 'swagger' field", ""),
        ({"openapi": "4.0.0", "paths": {}}, "unsupported OpenAPI version '4.0.0'", "#/openapi"),
        ({"openapi": "3.2.0", "paths": {}}, "unsupported OpenAPI version", "#/openapi"),
        ({"swagger": "1.2", "paths": {}}, "unsupported Swagger version '1.2'", "#/swagger"),
        ({"openapi": True, "paths": {}}, "unsupported OpenAPI version True", "#/openapi"),
        ({"openapi": "3.0.0"}, "no 'paths'", "#"),
        ({"openapi": "3.0.0", "paths": []}, "'paths' must be a mapping", "#/paths"),
    ],
)
def test_not_an_api_description_or_unsupported_version(
    tmp_path: Path, document: Any, message: str, place: str
) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        load(tmp_path, document)
    assert caught.value.place == place
    assert str(caught.value).startswith(str(tmp_path / "spec.json"))


def test_openapi_31_may_have_no_paths(tmp_path: Path) -> None:
    spec = load(
        tmp_path, {"openapi": "3.1.0", "info": {"title": "W", "version": "2"}, "webhooks": {}}
    )
    assert spec.operations == ()
    assert spec.format == "openapi 3.1.0"


def test_info_sha_and_format(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/a": {"get": op()}}))
    assert (spec.title, spec.version, spec.format) == ("T", "1", "openapi 3.0.3")
    assert spec.sha256 == hashlib.sha256((tmp_path / "spec.json").read_bytes()).hexdigest()


def test_yaml_version_numbers_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "openapi: 3.0.3\ninfo: {title: T, version: 1.10}\npaths: {}\n", encoding="utf-8"
    )
    assert load_spec(path).version == "1.10"


# --------------------------------------------------------------------------- security shapes


def test_operation_security_overrides_global(tmp_path: Path) -> None:
    document = oas3(
        {
            "/a": {"get": op(), "post": op([{"oauth": ["a:write"]}])},
            "/b": {"get": op([])},
        },
        scopes={"a:read": "", "a:write": ""},
        security=[{"oauth": ["a:read"]}],
    )
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /a") == [["a:read"]]
    assert reqs(spec, "POST /a") == [["a:write"]]
    public = spec.operation("GET /b")
    assert public.public and public.requirements == ()


def test_missing_security_means_spec_says_nothing(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/a": {"get": op()}}))
    operation = spec.operation("GET /a")
    assert (operation.public, operation.requirements, operation.scope_source) == (False, (), "none")
    assert "missing-security" in rules(spec)


def test_anonymous_alternative_is_public_and_reported(tmp_path: Path) -> None:
    spec = load(
        tmp_path, oas3({"/a": {"get": op([{}, {"oauth": ["a:read"]}])}}, scopes={"a:read": ""})
    )
    operation = spec.operation("GET /a")
    assert operation.public
    assert reqs(spec, "GET /a") == [["a:read"]]
    [flag] = [a for a in spec.anomalies if a.rule == "anonymous-alternative"]
    assert flag.operation == "GET /a"


def test_null_scope_list_reads_as_no_scope_and_is_reported(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/oauth2/revoke": {"post": op([{"oauth": None}])}}))
    assert spec.operation("POST /oauth2/revoke").requirements == (frozenset(),)
    assert "null-scope-list" in rules(spec)


def test_empty_scope_list_is_authenticated_without_scope(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/a": {"get": op([{"oauth": []}])}}))
    assert spec.operation("GET /a").requirements == (frozenset(),)
    assert "no-scope-requirement" in rules(spec)


def test_scopes_on_any_scheme_type_count(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op([{"key": ["a:read"]}])}})
    document["components"]["securitySchemes"]["key"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Key",
    }
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /a") == [["a:read"]]
    assert [(s.name, s.declared) for s in spec.scopes] == [("a:read", False)]
    assert "unknown-security-scheme" not in rules(spec)


def test_unknown_scheme_is_reported(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/a": {"get": op([{"ghost": ["a:read"]}])}}))
    assert "unknown-security-scheme" in rules(spec)


def test_or_of_requirement_objects_and_and_of_schemes(tmp_path: Path) -> None:
    document = oas3(
        {"/a": {"get": op([{"oauth": ["a:read"]}, {"oauth": ["b:read"], "key": ["c:read"]}])}},
        scopes={"a:read": "", "b:read": "", "c:read": ""},
    )
    document["components"]["securitySchemes"]["key"] = {
        "type": "apiKey",
        "in": "header",
        "name": "K",
    }
    assert reqs(load(tmp_path, document), "GET /a") == [["a:read"], ["b:read", "c:read"]]


def test_alternatives_are_deduplicated_and_sorted(tmp_path: Path) -> None:
    document = oas3(
        {"/a": {"get": op([{"oauth": ["z", "a"]}, {"oauth": ["a", "z"]}, {"oauth": ["m"]}])}}
    )
    spec = load(tmp_path, document, SpecOptions(semantics="all"))
    assert reqs(spec, "GET /a") == [["m"], ["a", "z"]]


def test_non_string_scope_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expected a scope name") as caught:
        load(tmp_path, oas3({"/a": {"get": op([{"oauth": ["a:read", True]}])}}))
    assert caught.value.place == "#/paths/~1a/get/security/0/oauth/1"


def test_yaml_on_and_no_scopes_stay_names(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "openapi: 3.0.0\ninfo: {title: T, version: '1'}\npaths:\n  /a:\n    get:\n"
        "      security: [{k: [on, no]}]\n      responses: {200: {description: ok}}\n",
        encoding="utf-8",
    )
    spec = load_spec(path, SpecOptions(semantics="all"))
    assert reqs(spec, "GET /a") == [["no", "on"]]


def test_security_that_is_not_a_list_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="security must be a list") as caught:
        load(tmp_path, oas3({"/a": {"get": op({"oauth": []})}}))
    assert caught.value.place == "#/paths/~1a/get/security"


# --------------------------------------------------------------------------- other scope sources


def test_x_scopes_used_when_security_names_none(tmp_path: Path) -> None:
    document = oas3(
        {
            "/a": {"get": op([{"oauth": []}], **{"x-scopes": ["a:read"]})},
            "/b": {"get": op([{"oauth": ["b:read"]}], **{"x-scopes": ["ignored"]})},
        }
    )
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /a") == [["a:read"]]
    assert spec.operation("GET /a").scope_source == "x-scopes"
    assert reqs(spec, "GET /b") == [["b:read"]]
    assert spec.operation("GET /b").scope_source == "security"


def test_x_required_scopes_as_a_string(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/a": {"get": op(**{"x-required-scopes": "a:read"})}}))
    assert reqs(spec, "GET /a") == [["a:read"]]
    assert "malformed-scope-list" in rules(spec)


def test_atlassian_extension_entries_are_alternatives(tmp_path: Path) -> None:
    extension = [
        {"scheme": "OAuth2", "state": "Current", "scopes": ["read:jira-work"]},
        {"scheme": "OAuth2", "state": "Beta", "scopes": ["read:issue:jira", "read:user:jira"]},
    ]
    spec = load(
        tmp_path,
        oas3({"/issue": {"get": op(**{"x-atlassian-oauth2-scopes": extension})}}),
        SpecOptions(semantics="all"),
    )
    assert reqs(spec, "GET /issue") == [["read:jira-work"], ["read:issue:jira", "read:user:jira"]]
    assert spec.operation("GET /issue").scope_source == "x-atlassian-oauth2-scopes"


def test_configured_extension_wins_over_builtin_ones(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op(**{"x-scopes": ["old"], "x-perm": ["new"]})}})
    spec = load(tmp_path, document, SpecOptions(scope_extensions=("x-perm",)))
    assert reqs(spec, "GET /a") == [["new"]]
    assert spec.operation("GET /a").scope_source == "x-perm"


def test_scope_tags(tmp_path: Path) -> None:
    document = oas3({"/invoices": {"get": op(tags=["Invoices", "scope:invoices:read"])}})
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /invoices") == [["invoices:read"]]
    assert spec.operation("GET /invoices").scope_source == "tag"
    custom = load(
        tmp_path,
        oas3({"/a": {"get": op(tags=["perm/a:read"])}}),
        SpecOptions(scope_tag_prefix="perm/"),
    )
    assert reqs(custom, "GET /a") == [["a:read"]]
    off = load(tmp_path, document, SpecOptions(scope_tag_prefix=""))
    assert off.operation("GET /invoices").requirements == ()


# --------------------------------------------------------------------------- catalog


def test_catalog_from_every_flow_and_undeclared_scopes(tmp_path: Path) -> None:
    document = oas3(
        {"/a": {"get": op([{"oauth": ["a:read", "x:read"]}])}}, scopes={"a:read": "Read A."}
    )
    document["components"]["securitySchemes"]["oauth"]["flows"]["authorizationCode"] = {
        "authorizationUrl": "https://x/a",
        "tokenUrl": "https://x/t",
        "scopes": {"b:write": "Write B."},
    }
    spec = load(tmp_path, document, SpecOptions(semantics="all"))
    assert [(s.name, s.description, s.declared) for s in spec.scopes] == [
        ("a:read", "Read A.", True),
        ("b:write", "Write B.", True),
        ("x:read", "", False),
    ]
    assert spec.catalog == {"a:read", "b:write"}
    assert {a.rule for a in spec.anomalies} >= {"undeclared-scope", "unused-scope"}


def test_swagger_2_security_definitions(tmp_path: Path) -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "S", "version": "1"},
        "basePath": "/api/",
        "securityDefinitions": {
            "auth": {"type": "oauth2", "flow": "accessCode", "scopes": {"chat:write": "Post."}}
        },
        "paths": {"/chat.postMessage": {"post": op([{"auth": ["chat:write"]}])}},
    }
    spec = load(tmp_path, document)
    assert spec.format == "swagger 2.0"
    assert spec.base_paths == ("/api",)
    assert reqs(spec, "POST /chat.postMessage") == [["chat:write"]]
    assert spec.catalog == {"chat:write"}


@pytest.mark.parametrize(
    "catalog",
    [{"a:read": "Read A"}, ["a:read"], [{"name": "a:read", "description": "Read A"}]],
)
def test_root_level_scope_extension_is_a_catalog(tmp_path: Path, catalog: Any) -> None:
    spec = load(
        tmp_path, oas3({"/a": {"get": op(**{"x-scopes": ["a:read"]})}}, **{"x-scopes": catalog})
    )
    assert spec.catalog == {"a:read"}


def test_descriptions_are_redacted_at_ingest(tmp_path: Path) -> None:
    canary = "sk_live_CANARY1234567890abcdef"
    spec = load(
        tmp_path,
        oas3({"/a": {"get": op(summary=f"use {canary}")}}, scopes={"a:read": f"key {canary}"}),
    )
    assert canary not in spec.scopes[0].description
    assert canary not in spec.operation("GET /a").summary
    assert spec.scopes[0].description.endswith("cdef")


@pytest.mark.parametrize(
    ("name", "siblings", "area", "access"),
    [
        ("invoices:read", (), "invoices", "read"),
        ("invoices:write", (), "invoices", "write"),
        ("INVOICES_READ", (), "invoices", "read"),
        ("MERCHANT_PROFILE_WRITE", (), "merchant_profile", "write"),
        ("accounting.settings.read", ("accounting.settings",), "accounting.settings", "read"),
        ("accounting.settings", ("accounting.settings.read",), "accounting.settings", "write"),
        ("accounting.reports.read", (), "accounting.reports", "read"),
        ("user-library-modify", (), "user-library", "write"),
        ("user-library-read", (), "user-library", "read"),
        ("read:jira-work", (), "jira-work", "read"),
        ("chat:write:bot", (), "chat", "write"),
        ("openid", (), None, None),
        ("api_keys:write", (), "api_keys", "write"),
    ],
)
def test_scope_area_and_access_from_the_name(
    tmp_path: Path, name: str, siblings: tuple[str, ...], area: str | None, access: str | None
) -> None:
    scopes = {scope: "" for scope in (name, *siblings)}
    spec = load(tmp_path, oas3({"/a": {"get": op()}}, scopes=scopes))
    scope = next(s for s in spec.scopes if s.name == name)
    assert (scope.area, scope.access) == (area, access)


def test_access_from_description_when_the_name_is_silent(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        oas3({"/a": {"get": op()}}, scopes={"ledger": "Grants read-only access to the ledger"}),
    )
    assert spec.scopes[0].access == "read"


# --------------------------------------------------------------------------- sentinels


def test_sentinel_is_not_a_scope(tmp_path: Path) -> None:
    document = oas3(
        {
            "/auth.test": {"get": op([{"oauth": ["none"]}])},
            "/chat": {"post": op([{"oauth": ["none", "chat:write"]}])},
        },
        scopes={"none": "No scope required", "chat:write": ""},
    )
    spec = load(tmp_path, document, SpecOptions(semantics="all"))
    assert spec.operation("GET /auth.test").requirements == (frozenset(),)
    assert reqs(spec, "POST /chat") == [["chat:write"]]
    assert "none" not in spec.scope_names
    assert spec.sentinels == {"none"}
    as_any = load(tmp_path, document, SpecOptions(semantics="any"))
    assert reqs(as_any, "POST /chat") == [[], ["chat:write"]]


def test_sentinels_are_configurable(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op([{"oauth": ["none"]}])}}, scopes={"none": ""})
    spec = load(tmp_path, document, SpecOptions(sentinel_scopes=()))
    assert reqs(spec, "GET /a") == [["none"]]
    assert spec.sentinels == frozenset()


# --------------------------------------------------------------------------- semantics


def test_any_splits_lists_with_a_cross_product_over_schemes(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op([{"oauth": ["a", "b"], "key": ["c", "d"]}])}})
    document["components"]["securitySchemes"]["key"] = {
        "type": "apiKey",
        "in": "header",
        "name": "K",
    }
    spec = load(tmp_path, document, SpecOptions(semantics="any"))
    assert reqs(spec, "GET /a") == [["a", "c"], ["a", "d"], ["b", "c"], ["b", "d"]]
    assert spec.semantics_reason == "set by configuration (any)"
    assert reqs(load(tmp_path, document, SpecOptions(semantics="all")), "GET /a") == [
        ["a", "b", "c", "d"]
    ]


def test_auto_detects_xero_pairs_as_any(tmp_path: Path) -> None:
    scopes = {
        "accounting.settings": "Grant read-write access",
        "accounting.settings.read": "Grant read-only access",
    }
    document = oas3(
        {
            "/Accounts": {
                "get": op([{"oauth": ["accounting.settings", "accounting.settings.read"]}]),
                "put": op([{"oauth": ["accounting.settings"]}]),
            }
        },
        scopes=scopes,
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "any"
    assert "accounting.settings.read" in spec.semantics_reason
    assert reqs(spec, "GET /Accounts") == [["accounting.settings"], ["accounting.settings.read"]]
    assert spec.implications == (("accounting.settings", "accounting.settings.read"),)
    assert spec.operation("GET /Accounts").multi_scope_list


def test_auto_detects_slack_conversation_types_as_any(tmp_path: Path) -> None:
    document = oas3(
        {
            "/conversations.create": {
                "post": op(
                    [{"oauth": ["channels:write", "groups:write", "im:write", "mpim:write"]}]
                )
            },
            "/chat.postMessage": {"post": op([{"oauth": ["chat:write:user", "chat:write:bot"]}])},
        },
    )
    spec = load(tmp_path, document, SpecOptions(write_implies_read=False))
    assert spec.semantics == "any"
    assert len(spec.operation("POST /conversations.create").requirements) == 4


def test_auto_detects_square_lists_as_all(tmp_path: Path) -> None:
    document = oas3(
        {
            "/v2/subscriptions": {
                "post": op([{"oauth": ["CUSTOMERS_READ", "PAYMENTS_WRITE", "ITEMS_READ"]}])
            },
            "/v2/invoices": {"post": op([{"oauth": ["ORDERS_WRITE", "INVOICES_WRITE"]}])},
        },
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "all"
    assert "POST /v2/subscriptions" in spec.semantics_reason
    assert reqs(spec, "POST /v2/subscriptions") == [
        ["CUSTOMERS_READ", "ITEMS_READ", "PAYMENTS_WRITE"]
    ]
    assert "ambiguous-scope-semantics" not in rules(spec)


def test_openapi_style_or_elsewhere_means_lists_are_all(tmp_path: Path) -> None:
    document = oas3(
        {
            "/pay": {"post": op([{"oauth": ["invoices:write", "payments:write"]}])},
            "/refunds": {"get": op([{"oauth": ["payments:read"]}, {"oauth": ["refunds:read"]}])},
        },
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "all"
    assert "separate requirement objects" in spec.semantics_reason


def test_unclear_evidence_defaults_to_all_and_says_so(tmp_path: Path) -> None:
    document = oas3(
        {
            "/me": {"get": op([{"oauth": ["profile", "email"]}])},
            "/x": {"get": op([{"oauth": ["a"]}])},
        }
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "all"
    assert "no evidence" in spec.semantics_reason
    assert "ambiguous-scope-semantics" in rules(spec)
    [per_operation] = [a for a in spec.anomalies if a.rule == "ambiguous-scope-list"]
    assert per_operation.operation == "GET /me"


VISIBILITY = ["playlist-modify-public", "playlist-modify-private"]


def test_an_any_list_mixing_unrelated_scopes_is_marked_uncertain(tmp_path: Path) -> None:
    document = oas3(
        {
            # Alternatives by kind: playlist visibility.
            "/p": {"post": op([{"oauth": VISIBILITY}])},
            # A capability scope with visibility variants: Spotify needs them together.
            "/i": {"put": op([{"oauth": ["ugc-image-upload", *VISIBILITY]}])},
            # A narrower version of a scope (one more word) and a read-only twin.
            "/r": {"get": op([{"oauth": ["reports.read", "reports.ten99.read"]}])},
            "/t": {"get": op([{"oauth": ["files", "files.read"]}])},
        }
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "any"
    uncertain = {op.key: op.uncertain_scopes for op in spec.operations if op.uncertain_scopes}
    assert uncertain == {
        "PUT /i": {"ugc-image-upload", "playlist-modify-public", "playlist-modify-private"}
    }
    [mixed] = [a for a in spec.anomalies if a.rule == "mixed-scope-list"]
    assert mixed.operation == "PUT /i" and "ugc-image-upload" in mixed.message
    # Still read as alternatives.
    assert spec.operation("PUT /i").is_satisfied_by(frozenset({"playlist-modify-public"}))


def test_conflicting_evidence_defaults_to_all(tmp_path: Path) -> None:
    document = oas3(
        {
            "/a": {"get": op([{"oauth": ["files", "files.read"]}])},
            "/b": {"post": op([{"oauth": ["ITEMS_READ", "ORDERS_WRITE"]}])},
        },
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "all"
    assert spec.semantics_reason.startswith("conflicting evidence")


def test_spec_can_declare_its_semantics(tmp_path: Path) -> None:
    document = oas3(
        {"/me": {"get": op([{"oauth": ["profile", "email"]}])}}, **{"x-scope-semantics": "any"}
    )
    spec = load(tmp_path, document)
    assert spec.semantics == "any"
    assert "x-scope-semantics" in spec.semantics_reason
    with pytest.raises(SpecError, match="x-scope-semantics must be all or any"):
        load(tmp_path, {**document, "x-scope-semantics": "some"})


def test_single_scope_lists_need_no_decision(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"/a": {"get": op([{"oauth": ["a"]}])}}))
    assert (spec.semantics, "ambiguous-scope-semantics" in rules(spec)) == ("all", False)


def test_any_cross_product_is_capped(tmp_path: Path) -> None:
    schemes = {f"s{i}": [f"a{i}", f"b{i}", f"c{i}"] for i in range(6)}  # 3**6 = 729 alternatives
    with pytest.raises(SpecError, match="alternatives under 'any'"):
        load(tmp_path, oas3({"/a": {"get": op([schemes])}}), SpecOptions(semantics="any"))


# --------------------------------------------------------------------------- implications


def test_write_implies_read_only_where_the_spec_declares_it(tmp_path: Path) -> None:
    scopes = {"invoices:read": "", "invoices:write": "", "refunds:write": ""}
    declared = oas3({"/a": {"get": op()}}, scopes=scopes, **{"x-write-implies-read": True})
    spec = load(tmp_path, declared)
    assert spec.implications == (("invoices:write", "invoices:read"),)
    assert "declared by the spec" in spec.implications_reason
    silent = load(tmp_path, oas3({"/a": {"get": op()}}, scopes=scopes))
    assert silent.implications == ()  # Slack's channels:write does not list channels
    assert "does not say" in silent.implications_reason
    denied = oas3({"/a": {"get": op()}}, scopes=scopes, **{"x-write-implies-read": False})
    assert load(tmp_path, denied).implications == ()


def test_write_implies_read_configuration_overrides_the_spec(tmp_path: Path) -> None:
    scopes = {"invoices:read": "", "invoices:write": ""}
    declared = oas3({"/a": {"get": op()}}, scopes=scopes, **{"x-write-implies-read": True})
    off = load(tmp_path, declared, SpecOptions(write_implies_read=False))
    assert off.implications == ()
    assert "configuration" in off.implications_reason
    on = load(
        tmp_path, oas3({"/a": {"get": op()}}, scopes=scopes), SpecOptions(write_implies_read=True)
    )
    assert on.implications == (("invoices:write", "invoices:read"),)
    extra = load(tmp_path, declared, SpecOptions(implications=(("admin", "invoices:write"),)))
    assert ("admin", "invoices:write") in extra.implications


def test_a_scope_name_that_looks_like_a_secret_is_refused_without_showing_it(
    tmp_path: Path,
) -> None:
    secret = "sk_live_SCOPECANARY1234567890ab"
    in_catalog = oas3({"/a": {"get": op()}}, scopes={secret: ""})
    with pytest.raises(SpecError, match="looks like a secret") as caught:
        load(tmp_path, in_catalog)
    assert secret not in str(caught.value)
    in_requirement = oas3({"/y": {"get": op([{"oauth": [secret]}])}})
    with pytest.raises(SpecError, match="looks like a secret") as caught:
        load(tmp_path, in_requirement)
    assert secret not in str(caught.value)
    assert "GET /y" in str(caught.value)


def test_write_implies_read_declaration_must_be_a_boolean(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op()}}, **{"x-write-implies-read": "yes"})
    with pytest.raises(SpecError, match="x-write-implies-read must be true or false") as error:
        load(tmp_path, document)
    assert error.value.place == "#/x-write-implies-read"
    long = oas3({"/a": {"get": op()}}, **{"x-write-implies-read": "y" * 5000})
    with pytest.raises(SpecError) as caught:
        load(tmp_path, long)
    assert len(caught.value.detail) < 120  # the spec's value is cut, not repeated whole


def test_spec_options_from_settings() -> None:
    settings = Settings(
        semantics="any", sentinel_scopes=("nil",), scope_tag_prefix="s:", allow_external_refs=True
    )
    options = spec_options_from(settings)
    assert options == SpecOptions(
        semantics="any", sentinel_scopes=("nil",), scope_tag_prefix="s:", allow_external_refs=True
    )


# --------------------------------------------------------------------------- operations


def test_operations_sorted_by_path_then_method_and_fields(tmp_path: Path) -> None:
    document = oas3(
        {
            "/b": {
                "post": op(operationId="createB"),
                "get": op(summary="List B", tags=["B"], deprecated=True),
            },
            "/a": {"put": op(), "parameters": [], "x-internal": True},
            "x-ignored": {},
        }
    )
    spec = load(tmp_path, document)
    assert [o.key for o in spec.operations] == ["PUT /a", "GET /b", "POST /b"]
    get_b = spec.operation("GET /b")
    assert (get_b.summary, get_b.tags, get_b.deprecated) == ("List B", ("B",), True)
    assert spec.operation("POST /b").operation_id == "createB"


def test_invalid_path_keys_are_skipped_and_reported(tmp_path: Path) -> None:
    spec = load(tmp_path, oas3({"a": {"get": op()}, "/b": {"get": op()}}))
    assert [o.key for o in spec.operations] == ["GET /b"]
    assert "invalid-path-key" in rules(spec)


def test_operation_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="operation must be a mapping") as caught:
        load(tmp_path, oas3({"/a": {"get": "nope"}}))
    assert caught.value.place == "#/paths/~1a/get"


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (None, ("",)),
        ([{"url": "https://api.example.com/v1/"}], ("/v1",)),
        ([{"url": "/v1"}, {"url": "https://x.example.com"}], ("/v1", "")),
        (
            [
                {
                    "url": "https://{host}/{base}",
                    "variables": {"host": {"default": "h"}, "base": {"default": "api/v2"}},
                }
            ],
            ("/api/v2",),
        ),
    ],
)
def test_base_paths(tmp_path: Path, servers: Any, expected: tuple[str, ...]) -> None:
    document = oas3({"/a": {"get": op()}})
    if servers is not None:
        document["servers"] = servers
    assert load(tmp_path, document).base_paths == expected


# --------------------------------------------------------------------------- references


def test_local_refs_for_path_items_and_schemes_are_resolved(tmp_path: Path) -> None:
    document = oas3({"/a": {"$ref": "#/x-items/a"}}, scopes={})
    document["x-items"] = {"a": {"get": op([{"oauth": ["a:read"]}])}}
    document["components"]["securitySchemes"] = {"oauth": {"$ref": "#/x-schemes/oauth"}}
    document["x-schemes"] = {
        "oauth": {
            "type": "oauth2",
            "flows": {"implicit": {"authorizationUrl": "u", "scopes": {"a:read": "A"}}},
        }
    }
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /a") == [["a:read"]]
    assert spec.catalog == {"a:read"}


def test_escaped_pointers_decode(tmp_path: Path) -> None:
    document = oas3(
        {"/a/{id}": {"get": op([{"oauth": ["x"]}])}, "/b": {"$ref": "#/paths/~1a~1%7Bid%7D"}}
    )
    document["components"]["schemas"] = {
        "T~S": {"type": "string"},
        "U": {"$ref": "#/components/schemas/T~0S"},
    }
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /b") == [["x"]]
    assert "unresolved-ref" not in rules(spec)


def test_recursive_schemas_load(tmp_path: Path) -> None:
    document = oas3({"/tree": {"get": op()}})
    document["components"]["schemas"] = {
        "Node": {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
            },
        },
        "A": {"oneOf": [{"$ref": "#/components/schemas/B"}]},
        "B": {"allOf": [{"$ref": "#/components/schemas/A"}]},
    }
    spec = load(tmp_path, document)
    assert [o.key for o in spec.operations] == ["GET /tree"]
    assert "unresolved-ref" not in rules(spec)


def test_missing_target_where_needed_is_an_error_with_the_pointer(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load(tmp_path, oas3({"/a": {"$ref": "#/components/pathItems/Gone"}}))
    assert "$ref target not found: '#/components/pathItems/Gone'" in caught.value.detail
    assert "no 'pathItems' in #/components" in caught.value.detail
    assert caught.value.place == "#/paths/~1a"


def test_missing_target_elsewhere_is_reported(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op()}})
    document["components"]["schemas"] = {"A": {"$ref": "#/components/schemas/Gone"}}
    spec = load(tmp_path, document)
    [broken] = [a for a in spec.anomalies if a.rule == "unresolved-ref"]
    assert "#/components/schemas/Gone" in broken.message
    assert "#/components/schemas/A/$ref" in broken.message


def test_ref_cycle_where_needed_is_an_error(tmp_path: Path) -> None:
    document = oas3({"/a": {"$ref": "#/x-a"}})
    document["x-a"] = {"$ref": "#/x-b"}
    document["x-b"] = {"$ref": "#/x-a"}
    with pytest.raises(SpecError, match=r"\$ref cycle"):
        load(tmp_path, document)


def test_pure_ref_cycle_in_schemas_is_reported(tmp_path: Path) -> None:
    document = oas3({"/a": {"get": op()}})
    document["components"]["schemas"] = {
        "A": {"$ref": "#/components/schemas/B"},
        "B": {"$ref": "#/components/schemas/A"},
    }
    spec = load(tmp_path, document)
    assert any(a.rule == "unresolved-ref" and "cycle" in a.message for a in spec.anomalies)


def _chain(length: int) -> dict[str, Any]:
    """A path item reached through ``length`` references in a row (``/a`` -> x-r0 -> ...)."""
    document = oas3({"/a": {"$ref": "#/x-r0"}})
    for index in range(length - 1):
        document[f"x-r{index}"] = {"$ref": f"#/x-r{index + 1}"}
    document[f"x-r{length - 1}"] = {"get": op([{"oauth": ["a:read"]}])}
    return document


def test_a_needed_chain_of_64_references_resolves_and_65_is_refused(tmp_path: Path) -> None:
    # The path item's own $ref plus 63 more is 64 references.
    assert reqs(load(tmp_path, _chain(64)), "GET /a") == [["a:read"]]
    with pytest.raises(SpecError, match=r"\$ref chain longer than 64 references") as caught:
        load(tmp_path, _chain(65))
    assert caught.value.place == "#/paths/~1a"


def _nested(depth: int, *, reverse: bool) -> dict[str, Any]:
    """``/a`` names ``#/x-0/k``; each ``x-i`` is a reference whose pointer runs through the
    next one, so finding the target means settling ``depth`` references first, in a
    document that stays shallow (``x-<depth>/k`` points back at ``x-<depth>``)."""
    document = oas3({"/a": {"$ref": "#/x-0/k"}})
    links = [(f"x-{i}", {"$ref": f"#/x-{i + 1}/k"}) for i in range(depth)]
    links.append(
        (f"x-{depth}", {"k": {"$ref": f"#/x-{depth}"}, "get": op([{"oauth": ["a:read"]}])})
    )
    document.update(reversed(links) if reverse else links)
    return document


@pytest.mark.timeout(20)
@pytest.mark.parametrize("reverse", [False, True], ids=["first-to-last", "last-to-first"])
def test_pointers_through_references_nest_without_recursion(tmp_path: Path, reverse: bool) -> None:
    # 5,000 nested lookups: a RecursionError before, whichever order the walk meets them.
    spec = load(tmp_path, _nested(5_000, reverse=reverse))
    assert reqs(spec, "GET /a") == [["a:read"]]
    assert "unresolved-ref" not in rules(spec)


def test_list_indexes_in_pointers_are_ascii_digits(tmp_path: Path) -> None:
    document = oas3({"/a": {"$ref": "#/x-list/1"}, "/b": {"$ref": "#/x-list/01"}})
    document["x-list"] = [{}, {"get": op([{"oauth": ["a:read"]}])}]
    document["components"]["schemas"] = {
        "Super": {"$ref": "#/x-list/\u00b2"},
        "Arabic": {"$ref": "#/x-list/\u0661"},
        "Huge": {"$ref": "#/x-list/" + "1" * 5000},
        "Negative": {"$ref": "#/x-list/-1"},
    }
    spec = load(tmp_path, document)
    assert reqs(spec, "GET /a") == reqs(spec, "GET /b") == [["a:read"]]
    broken = sorted(a.message for a in spec.anomalies if a.rule == "unresolved-ref")
    assert len(broken) == 4
    assert all("$ref target not found" in message for message in broken)


_REF_SLOTS = (
    (),
    ("x-a",),
    ("x-b",),
    ("x-list", 0),
    ("paths", "/a"),
    ("paths", "/b", "get", "parameters", 0),
    ("components", "securitySchemes", "oauth"),
    ("components", "schemas", "S"),
    ("components", "schemas", "S", "properties", "next"),
    ("components", "parameters", "P"),
)
_REF_TARGETS = (
    "",
    "#",
    "#/",
    "#/x-a",
    "#/x-b",
    "#/x-a/y",
    "#/x-b/get",
    "#/x-a/~1a",
    "#/x-list/0",
    "#/x-list/0/get",
    "#/x-list/7",
    "#/paths",
    "#/paths/~1a",
    "#/paths/~1a/get",
    "#/paths/~1b/get/parameters/0",
    "#/components",
    "#/components/securitySchemes",
    "#/components/securitySchemes/oauth",
    "#/components/schemas/S",
    "#/components/schemas/S/properties",
    "#/components/parameters/P",
    "#x",
    "#/%78-a",
)


def _ref_graph_document() -> dict[str, Any]:
    document = oas3(
        {
            "/a": {"get": op([{"oauth": ["a:read"]}])},
            "/b": {"get": op(parameters=[{"name": "q", "in": "query"}])},
        },
        scopes={"a:read": "A"},
    )
    document["x-a"] = {"y": {"get": op()}}
    document["x-b"] = {"get": op()}
    document["x-list"] = [{"get": op()}]
    document["components"]["schemas"] = {"S": {"type": "object", "properties": {"next": {}}}}
    document["components"]["parameters"] = {"P": {"name": "p", "in": "query"}}
    return document


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(_REF_SLOTS),
        st.tuples(st.sampled_from(_REF_TARGETS), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_any_graph_of_local_references_ends_in_a_spec_or_one_spec_error(
    placed: dict[tuple[Any, ...], tuple[str, bool]],
) -> None:
    """Self-references, rings, refs to refs and refs to ancestors in every slot: the
    loader answers a spec (broken ones reported) or one located line, nothing else."""
    document = _ref_graph_document()
    for slot, (target, keep_siblings) in sorted(placed.items(), key=lambda item: -len(item[0])):
        # Deepest slots first, so a shallower one replaced later cannot hide them.
        parent: Any = document
        for step in slot[:-1]:
            parent = parent[step]
        if not slot:
            document["$ref"] = target
        elif keep_siblings and isinstance(parent[slot[-1]], dict):
            parent[slot[-1]]["$ref"] = target
        else:
            parent[slot[-1]] = {"$ref": target}
    try:
        spec = parse_spec(document, "graph.json")
    except SpecError as error:
        assert "\n" not in str(error)
        assert str(error).startswith("graph.json:#")
        assert "$ref" in error.detail or "must be a mapping" in error.detail, error.detail
    else:
        assert isinstance(spec, ApiSpec)


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("keyscope tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    "reference",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://intranet.example/spec.yaml#/a",
        "file:///etc/passwd",
    ],
)
def test_url_refs_are_never_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: str
) -> None:
    _no_network(monkeypatch)
    needed = oas3({"/a": {"$ref": reference}})
    for allow in (False, True):
        with pytest.raises(SpecError, match=r"never fetches|external refs are disabled"):
            load(tmp_path, needed, SpecOptions(allow_external_refs=allow))
    unneeded = oas3({"/a": {"get": op()}})
    unneeded["components"]["schemas"] = {"A": {"$ref": reference}}
    spec = load(tmp_path, unneeded, SpecOptions(allow_external_refs=True))
    assert "external-ref-not-followed" in rules(spec)


def test_file_refs_are_off_by_default_and_confined_when_on(tmp_path: Path) -> None:
    folder = tmp_path / "api"
    folder.mkdir()
    (folder / "items.yaml").write_text(
        "a:\n  get:\n    security: [{oauth: [a:read]}]\n    responses: {}\n", encoding="utf-8"
    )
    (tmp_path / "secret.yaml").write_text("x: {get: {responses: {}}}\n", encoding="utf-8")
    document = oas3({"/a": {"$ref": "items.yaml#/a"}})
    with pytest.raises(SpecError, match="external refs are disabled") as caught:
        load(folder, document)
    assert caught.value.place == "#/paths/~1a"
    spec = load(folder, document, SpecOptions(allow_external_refs=True))
    assert reqs(spec, "GET /a") == [["a:read"]]
    escaping = oas3({"/x": {"$ref": "../secret.yaml#/x"}})
    with pytest.raises(SpecError, match="leaves the spec's folder"):
        load(folder, escaping, SpecOptions(allow_external_refs=True))


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "api"
    folder.mkdir()
    (tmp_path / "outside.yaml").write_text("x: {get: {responses: {}}}\n", encoding="utf-8")
    (folder / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(SpecError, match="leaves the spec's folder"):
        load(folder, oas3({"/x": {"$ref": "link.yaml#/x"}}), SpecOptions(allow_external_refs=True))


def test_parse_spec_without_a_folder_refuses_files() -> None:
    with pytest.raises(SpecError, match="external refs are disabled"):
        parse_spec(oas3({"/a": {"$ref": "other.yaml#/a"}}), "fetched")
    spec = parse_spec(oas3({"/a": {"get": op([{"oauth": ["a"]}])}}), "fetched")
    assert spec.source == "fetched"


# --------------------------------------------------------------------------- the bundled sample


def test_bundled_sample_spec_loads() -> None:
    spec = load_spec(REPO / "sample_specs" / "partner-api.yaml")
    assert spec.format.startswith("openapi 3.1")
    assert len(spec.operations) >= 40
    assert spec.base_paths == ("/v1",)
    assert spec.operation("GET /health").public
    assert {"invoices:read", "invoices:write", "api_keys:write"} <= spec.catalog
    assert ("invoices:write", "invoices:read") in spec.implications
    assert any(len(o.requirements) > 1 for o in spec.operations)  # either of two scopes
    assert any(any(len(alt) > 1 for alt in o.requirements) for o in spec.operations)  # two together
    assert spec.semantics == "all"


def test_path_templates_keep_credential_words_but_not_secrets(tmp_path: Path) -> None:
    """A route named like a credential assignment is a route ("/password:reset", which
    requests must match); only a secret-shaped token in a template is masked."""
    from keyscope.analysis.routes import RouteMatcher

    document = oas3(
        {
            "/accounts/{id}/password:reset": {"post": op([{"oauth": ["a"]}])},
            "/hooks/sk_live_4eC39HqLyjWDarjtT1zdp7dc": {"get": op([{"oauth": ["a"]}])},
        }
    )
    spec = load(tmp_path, document)
    paths = sorted(operation.path for operation in spec.operations)
    assert paths[0] == "/accounts/{id}/password:reset"
    assert "4eC39HqLyjWDarjtT1zdp7dc" not in paths[1]
    assert RouteMatcher(spec).match("POST", "/accounts/42/password:reset") is not None
