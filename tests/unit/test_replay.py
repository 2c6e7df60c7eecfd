"""Replay: the window's successful requests against the suggested scopes (ANCHORS #13)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from test_audit import AS_OF, OLD, SPEC, WINDOW, audit, hit, key, only, op, usage

from keyscope.analysis.audit import AuditOptions, audit_keys
from keyscope.analysis.replay import replay_requests
from keyscope.analysis.scope_graph import build_scope_graph
from keyscope.model import OperationUse, Replay
from keyscope.report.json_report import render_json
from keyscope.report.markdown import render_markdown
from keyscope.report.text import render_text

OPERATIONS = {operation.key: operation for operation in SPEC.operations}


def use(operation: str, count: int) -> OperationUse:
    return OperationUse(operation, count, OLD, OLD + timedelta(days=1))


# --------------------------------------------------------------------------- the function


def test_requests_the_scopes_allow_pass_and_the_others_fail_by_operation() -> None:
    uses = [use("GET /invoices", 10), use("POST /invoices", 4), use("GET /payouts", 2)]
    replay = replay_requests(uses, OPERATIONS, frozenset({"invoices:read"}), 16)
    assert replay.requests == 16
    assert replay.would_fail == 6
    assert [u.operation for u in replay.failing_operations] == ["GET /payouts", "POST /invoices"]
    assert replay.unreplayable == 0


def test_public_operations_pass_and_unknown_requirements_are_never_counted_as_passing() -> None:
    uses = [use("GET /health", 5), use("GET /me", 3), use("GET /invoices", 2)]
    # GET /me is "authenticated, no scope" (frozenset() alternative): any key passes.
    replay = replay_requests(uses, OPERATIONS, frozenset(), 2 + 3 + 5 + 7)
    assert replay.requests == 10 and replay.would_fail == 2  # GET /invoices needs a scope
    assert replay.unreplayable == 7  # the 7 requests to routes no operation describes

    silent = op("GET", "/silent")  # the spec says nothing about its security
    operations = {**OPERATIONS, silent.key: silent}
    replay = replay_requests([use("GET /silent", 9)], operations, frozenset(), 9)
    assert replay == Replay(requests=0, would_fail=0, failing_operations=(), unreplayable=9)


def test_any_alternative_is_enough() -> None:
    # GET /payments/{id}/refunds: refunds:read OR payments:read.
    replay = replay_requests(
        [use("GET /payments/{id}/refunds", 8)], OPERATIONS, frozenset({"payments:read"}), 8
    )
    assert replay.would_fail == 0 and replay.requests == 8
    both = replay_requests(
        [use("POST /invoices/{id}/pay", 3)], OPERATIONS, frozenset({"invoices:write"}), 3
    )
    assert both.would_fail == 3  # an AND requirement: payments:write is missing


def test_the_verdict_is_operation_is_satisfied_by() -> None:
    import itertools

    scopes = sorted({name for operation in SPEC.operations for name in operation.scopes})
    for size in (0, 1, 2):
        for chosen in itertools.combinations(scopes, size):
            held = frozenset(chosen)
            for operation in SPEC.operations:
                if not operation.public and not operation.requirements:
                    continue
                replay = replay_requests([use(operation.key, 1)], OPERATIONS, held, 1)
                assert (replay.would_fail == 0) == operation.is_satisfied_by(held), (
                    operation.key,
                    held,
                )


# --------------------------------------------------------------------------- in the audit


def test_a_sound_suggestion_replays_every_mapped_request_with_no_failure() -> None:
    data = usage(
        hit("sync", "GET /invoices", count=300),
        hit("sync", "GET /invoices/{id}", count=50),
        hit("sync", "GET /health", count=10),
        hit("sync", None, route="GET /legacy/charges", count=6),
        hit("sync", "POST /payouts", status=403, count=9),  # denied: never replayed
    )
    a = only(audit([key("sync", "invoices:write", "payouts:write")], data), "sync")
    assert a.suggested_scopes == {"invoices:read"}
    assert a.replay is not None
    assert a.replay.would_fail == 0 and a.replay.failing_operations == ()
    assert a.replay.requests == 360
    assert a.replay.unreplayable == 6
    assert a.replay.requests + a.replay.unreplayable == a.requests


def test_keeping_grants_that_do_not_cover_the_use_shows_up_as_would_fail() -> None:
    # Too young to judge: the suggestion keeps the grants, which (per the spec) do not
    # allow POST /payouts although it succeeded: the replay says so.
    young = key("young", "invoices:read", created_at=AS_OF - timedelta(days=5))
    data = usage(hit("young", "GET /invoices", count=20), hit("young", "POST /payouts", count=4))
    a = only(audit([young], data), "young")
    assert a.confidence == "insufficient" and a.suggested_scopes == {"invoices:read"}
    assert a.replay is not None and a.replay.would_fail == 4
    assert [u.operation for u in a.replay.failing_operations] == ["POST /payouts"]


def test_an_unsatisfiable_need_fails_the_replay() -> None:
    ghost = op("GET", "/ghost", ("ghost:read",))  # a scope no catalog entry provides
    spec = replace(
        SPEC, operations=tuple(sorted((*SPEC.operations, ghost), key=lambda o: (o.path, o.method)))
    )
    data = usage(hit("k", "GET /ghost", count=12), hit("k", "GET /invoices", count=30))
    result = audit_keys(
        spec, build_scope_graph(spec), [key("k", "invoices:read")], data,
        as_of=AS_OF, window=WINDOW, options=AuditOptions(),
    )  # fmt: skip
    a = only(result, "k")
    assert a.replay is not None and a.replay.would_fail == 12
    assert [u.operation for u in a.replay.failing_operations] == ["GET /ghost"]


def test_dormant_revoked_and_captured_keys() -> None:
    data = usage(
        hit("busy", "GET /invoices"),
        hit("gone", "GET /invoices", count=7),
        hit("har:checkout.har", "POST /checkout/sessions", count=35),
    )
    result = audit(
        [key("busy", "invoices:read"), key("idle", "payouts:write"),
         key("gone", "invoices:read", status="revoked")],
        data,
        capture_key_ids=frozenset({"har:checkout.har"}),
    )  # fmt: skip
    assert only(result, "idle").replay == Replay(0, 0, (), 0)
    assert only(result, "gone").replay is None  # revoked: listed, never judged
    capture = only(result, "har:checkout.har")
    assert capture.capture and capture.replay is not None
    assert capture.replay.requests == 35 and capture.replay.would_fail == 0


# --------------------------------------------------------------------------- in the outputs


def test_json_text_and_markdown_show_the_replay() -> None:
    data = usage(
        hit("sync", "GET /invoices", count=300), hit("sync", None, route="GET /x", count=2)
    )
    result = audit(
        [key("sync", "invoices:write"), key("old", "invoices:read", status="revoked")], data
    )
    document = json.loads(render_json(result))
    keys = {entry["id"]: entry for entry in document["keys"]}
    assert keys["sync"]["replay"] == {
        "requests": 300, "would_fail": 0, "unreplayable": 2, "failing_operations": [],
    }  # fmt: skip
    assert keys["old"]["replay"] is None
    assert document["summary"]["replay"] == {
        "keys": 1, "requests": 300, "would_fail": 0, "keys_with_failures": 0, "unreplayable": 2,
    }  # fmt: skip
    text = render_text(result)
    assert (
        "replay: 300 successful requests of the last 90 days replayed against the suggested "
        "scopes: 0 would have failed; 2 could not be replayed" in text
    )
    assert (
        "replayed: 300 requests of the last 90 days against the suggested scopes: "
        "0 would have failed" in text
    )
    markdown = render_markdown(result)
    assert "| Requests replayed against the suggested scopes (last 90 days) | 300 |" in markdown
    assert "| … would have failed | 0 |" in markdown


def test_failing_operations_are_named_in_json_and_markdown() -> None:
    young = key("young", "invoices:read", created_at=AS_OF - timedelta(days=5))
    data = usage(hit("young", "GET /invoices", count=20), hit("young", "POST /payouts", count=4))
    result = audit([young], data)
    entry = json.loads(render_json(result))["keys"][0]["replay"]
    assert entry["would_fail"] == 4
    assert [f["operation"] for f in entry["failing_operations"]] == ["POST /payouts"]
    assert entry["failing_operations"][0]["operation_id"] == "post_payouts"
    assert entry["failing_operations"][0]["count"] == 4
    markdown = render_markdown(result)
    assert "### Replay: requests the suggested scopes would refuse (1)" in markdown
    assert "POST /payouts" in markdown
