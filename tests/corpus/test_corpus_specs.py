"""The four public specs of ../shared/corpus load and match the README's counts and quirks.

How the README counts, and so how these tests count (every row matches only this way):

* Scope strings are counted raw, as written: Slack's sentinel ``none`` is a scope in the
  README's table (61 used, 67 declared, 6 unused; without ``none`` it would be 60/66/6).
  So the counts load each file with ``sentinel_scopes=()``; the default reading, with
  ``none`` as "no scope", is checked separately below.
* ops = operations; scoped = at least one scope in a requirement; auth-no-scope = a
  requirement but no scope; nosec = no security at all; sec:[] = public (no file has an
  ``{}`` alternative, so public means ``security: []`` here); OR = more than one
  requirement object (read with ``semantics="all"`` so lists are not split); AND = a list
  of several scopes in one object (``Operation.multi_scope_list``); scopes = distinct
  scopes used; catalog = declared; used!cat and cat-unused as named.

The files are read in place (never copied into the project); the tests skip when the
folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keyscope.analysis.risk import scope_weights
from keyscope.analysis.scope_graph import build_scope_graph
from keyscope.analysis.suggest import suggest_minimal_scopes
from keyscope.commands.spec import render_spec_json, render_spec_text
from keyscope.model import ApiSpec
from keyscope.settings import DEFAULT_RISK_WEIGHTS
from keyscope.sources.openapi import SpecOptions, load_spec

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is absent"),
]

# file: (ops, scoped, auth-no-scope, nosec, sec:[], OR, AND, {}alt,
#        scopes, catalog, used!cat, cat-unused)
README_COUNTS: dict[str, tuple[int, ...]] = {
    "slack/slack_web_openapi_v2.json": (174, 174, 0, 0, 0, 0, 25, 0, 61, 67, 0, 6),
    "spotify/official-spotify-open-api.yml": (96, 64, 32, 0, 0, 0, 19, 0, 17, 19, 0, 2),
    "square/api.json": (316, 289, 26, 0, 1, 0, 24, 0, 42, 59, 1, 18),
    "xero/xero-app-store.yaml": (4, 4, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0),
    "xero/xero-finance.yaml": (8, 8, 0, 0, 0, 0, 0, 0, 3, 6, 0, 3),
    "xero/xero-identity.yaml": (2, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 3),
    "xero/xero-payroll-au-v2.yaml": (9, 9, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0),
    "xero/xero-payroll-au.yaml": (32, 32, 0, 0, 0, 0, 17, 0, 10, 13, 0, 3),
    "xero/xero-payroll-nz.yaml": (71, 71, 0, 0, 0, 0, 36, 0, 10, 10, 0, 0),
    "xero/xero-payroll-uk.yaml": (69, 69, 0, 0, 0, 0, 38, 0, 10, 10, 0, 0),
    "xero/xero-projects.yaml": (16, 16, 0, 0, 0, 0, 7, 0, 2, 5, 0, 3),
    "xero/xero_accounting.yaml": (235, 235, 0, 0, 0, 0, 109, 0, 13, 16, 0, 3),
    "xero/xero_assets.yaml": (6, 6, 0, 0, 0, 0, 4, 0, 2, 5, 0, 3),
    "xero/xero_bankfeeds.yaml": (7, 7, 0, 0, 0, 0, 0, 0, 1, 4, 0, 3),
    "xero/xero_files.yaml": (18, 18, 0, 0, 0, 0, 9, 0, 2, 5, 0, 3),
}

_cache: dict[tuple[str, SpecOptions], ApiSpec] = {}


def spec(name: str, options: SpecOptions = SpecOptions()) -> ApiSpec:  # noqa: B008 - frozen
    if (name, options) not in _cache:
        _cache[(name, options)] = load_spec(CORPUS / name, options)
    return _cache[(name, options)]


def counts(raw: ApiSpec, as_all: ApiSpec) -> tuple[int, ...]:
    operations = raw.operations
    used: set[str] = set()
    for operation in operations:
        used |= operation.scopes
    catalog = raw.catalog
    anonymous = sum(1 for a in raw.anomalies if a.rule == "anonymous-alternative")
    return (
        len(operations),
        sum(1 for o in operations if o.scopes),
        sum(1 for o in operations if not o.public and o.requirements and not o.scopes),
        sum(1 for o in operations if not o.public and not o.requirements),
        sum(1 for o in operations if o.public),
        sum(1 for o in as_all.operations if len(o.requirements) > 1),
        sum(1 for o in operations if o.multi_scope_list),
        anonymous,
        len(used),
        len(catalog),
        len(used - catalog),
        len(catalog - used),
    )


def test_the_corpus_is_what_the_readme_describes() -> None:
    files = sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.glob("*/*")
        if p.suffix in (".json", ".yaml", ".yml")
    )
    assert files == sorted(README_COUNTS)


@pytest.mark.parametrize("name", sorted(README_COUNTS))
def test_counts_match_the_readme(name: str) -> None:
    raw = spec(name, SpecOptions(sentinel_scopes=()))
    as_all = spec(name, SpecOptions(sentinel_scopes=(), semantics="all"))
    assert counts(raw, as_all) == README_COUNTS[name]


def test_square_quirks() -> None:
    square = spec("square/api.json")
    assert square.format == "openapi 3.0.0"
    undeclared = [s.name for s in square.scopes if not s.declared]
    assert undeclared == ["PAYMENT_METHODS_READ"]
    traits = {s.name: (s.area, s.access) for s in square.scopes}
    assert traits["CHANNELS_CREATE"] == traits["CHANNELS_UPDATE"] == ("channels", "write")
    assert traits["CHANNELS_READ"] == ("channels", "read")
    token = square.operation("POST /oauth2/token")
    assert token.public and token.requirements == ()
    revoke = square.operation("POST /oauth2/revoke")  # {"oauth2": null}
    assert not revoke.public and revoke.requirements == (frozenset(),)
    assert any(
        a.rule == "null-scope-list" and a.operation == "POST /oauth2/revoke"
        for a in square.anomalies
    )
    assert square.semantics == "all"
    assert "ambiguous-scope-semantics" not in {a.rule for a in square.anomalies}
    assert square.operation("POST /v2/subscriptions").requirements == (
        frozenset(
            {
                "CUSTOMERS_READ",
                "PAYMENTS_WRITE",
                "SUBSCRIPTIONS_WRITE",
                "ITEMS_READ",
                "ORDERS_WRITE",
                "INVOICES_WRITE",
            }
        ),
    )
    # A schema $ref in Square's file points nowhere: reported, not fatal.
    assert any(a.rule == "unresolved-ref" for a in square.anomalies)
    assert square.implications == ()  # READ/WRITE pairs are not the platform's colon form
    assert square.base_paths == ("",)


def test_xero_reads_pairs_as_any_with_implications() -> None:
    accounting = spec("xero/xero_accounting.yaml")
    assert accounting.semantics == "any"
    assert "read-only twin" in accounting.semantics_reason
    assert ("accounting.settings", "accounting.settings.read") in accounting.implications
    assert accounting.operation("GET /Accounts").requirements == (
        frozenset({"accounting.settings"}),
        frozenset({"accounting.settings.read"}),
    )
    graph = build_scope_graph(accounting)
    assert graph.expand({"accounting.transactions"}) == {
        "accounting.transactions",
        "accounting.transactions.read",
    }
    settings = next(s for s in accounting.scopes if s.name == "accounting.settings")
    assert (settings.area, settings.access) == ("accounting.settings", "write")
    for name in ("xero/xero-payroll-uk.yaml", "xero/xero-payroll-nz.yaml", "xero/xero_files.yaml"):
        assert spec(name).semantics == "any"
    assert spec("xero/xero_bankfeeds.yaml").semantics_reason.startswith(
        "no requirement lists more than one scope"
    )


def test_slack_sentinel_and_swagger_2() -> None:
    slack = spec("slack/slack_web_openapi_v2.json")
    assert slack.format == "swagger 2.0"
    assert slack.base_paths == ("/api",)
    assert "none" not in slack.scope_names
    assert slack.sentinels == {"none"}
    assert slack.operation("GET /auth.test").requirements == (frozenset(),)
    assert (
        sum(1 for o in slack.operations if o.scopes) == 154
    )  # the 20 `none` methods need no scope
    assert slack.semantics == "any"
    assert slack.operation("POST /chat.postMessage").requirements == (
        frozenset({"chat:write:bot"}),
        frozenset({"chat:write:user"}),
    )
    create = slack.operation("POST /conversations.create")
    assert len(create.requirements) == 4


def test_no_spec_of_the_corpus_gets_the_partner_platforms_write_implies_read() -> None:
    # Slack's channels:write does not let a key list channels: were it read as granting
    # channels:read, a key listing and creating channels would be told to drop
    # channels:read and break.  Only Xero's own X -> X.read pairs are implications.
    slack = spec("slack/slack_web_openapi_v2.json")
    assert slack.implications == ()
    assert "does not say" in slack.implications_reason
    graph = build_scope_graph(slack)
    needs = [
        slack.operation("GET /conversations.list").requirements,
        slack.operation("POST /conversations.create").requirements,
    ]
    weights = scope_weights(slack.scopes, DEFAULT_RISK_WEIGHTS)
    suggested = suggest_minimal_scopes(needs, graph, weights, slack.scope_names)
    assert suggested == {"channels:read", "channels:write"}  # one scope per need
    assert all(len(graph.expand({name})) == 1 for name in slack.scope_names)
    for name in README_COUNTS:
        assert all(stronger + ".read" == weaker for stronger, weaker in spec(name).implications), (
            name
        )


def test_slacks_none_sentinel_reads_as_a_name_in_the_text_report() -> None:
    text = render_spec_text(spec("slack/slack_web_openapi_v2.json"))
    assert "scope names that mean no scope is needed: 'none'" in text
    assert "write to read: the spec does not say" in text


def test_spotify_polymorphic_endpoints_are_alternatives() -> None:
    spotify = spec("spotify/official-spotify-open-api.yml")
    assert spotify.semantics == "any"
    assert spotify.operation("PUT /me/library").requirements == (
        frozenset({"playlist-modify-public"}),
        frozenset({"user-follow-modify"}),
        frozenset({"user-library-modify"}),
    )
    library = next(s for s in spotify.scopes if s.name == "user-library-modify")
    assert (library.area, library.access) == ("user-library", "write")
    # Its policy references point at a file beside the spec: reported, never followed.
    assert "external-ref-not-followed" in {a.rule for a in spotify.anomalies}


def test_forced_semantics_override_detection() -> None:
    literal = spec("xero/xero_accounting.yaml", SpecOptions(semantics="all"))
    assert literal.operation("GET /Accounts").requirements == (
        frozenset({"accounting.settings", "accounting.settings.read"}),
    )


def test_json_output_is_deterministic_on_a_large_spec() -> None:
    first = render_spec_json(spec("square/api.json"))
    second = render_spec_json(load_spec(CORPUS / "square/api.json"))
    assert first == second
    assert first.isascii()
