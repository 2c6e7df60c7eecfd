"""The JSON writer: valid, ASCII, deterministic, round-trips every value."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyscope.model import AuditResult, OperationUse, ScopeEvidence, Suppression
from keyscope.report.json_report import dumps, render_json, result_to_dict

from ._factory import (
    AS_OF,
    build_result,
    hostile,
    make_finding,
    make_key,
    standard_keys,
    synthetic_result,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_round_trips_and_is_ascii(document: object) -> None:
    text = dumps(document)
    assert text.isascii()
    assert text.endswith("\n")
    assert json.loads(text) == document
    assert dumps(json.loads(text)) == text


def test_layout_sorted_keys_two_spaces_inline_scalar_arrays() -> None:
    document = {"b": [1, "x", None, True], "a": {"nested": [{"k": []}]}, "c": {}}
    assert dumps(document) == (
        "{\n"
        '  "a": {\n'
        '    "nested": [\n'
        "      {\n"
        '        "k": []\n'
        "      }\n"
        "    ]\n"
        "  },\n"
        '  "b": [1, "x", null, true],\n'
        '  "c": {}\n'
        "}\n"
    )


def test_untrusted_text_is_escaped() -> None:
    name = "\u202e\x1b[2J</script>\ud800\u200b"
    text = dumps({"name": name})
    assert "\\u202e" in text and "\\u001b" in text and "\\ud800" in text
    assert json.loads(text)["name"] == name


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        dumps({"x": math.inf})


# render_json writes keys and findings straight to text; these check that text against
# the plain data path, dumps(result_to_dict(result)), byte for byte.

BERLIN = ZoneInfo("Europe/Berlin")
INDIA = timezone(timedelta(hours=5, minutes=30))


def _rich_result() -> AuditResult:
    """A result in which every member of a key, finding and replay holds something."""
    suppression = Suppression(
        rule="unused-scope",
        key_id="key_odd",
        scope="payouts:write",
        reason="ticket OPS-1 \u202eevil, token sk_live_abcdefghijkl",
        owner="ops@example.com",
        expires=date(2027, 1, 31),
        source="suppressions.yaml:3",
    )
    odd = make_key(
        "key_odd",
        name="caf\u00e9 \u202eexe.txt \ud800 \x1b[2J",
        scopes=("payouts:write", "payments:read"),
        used={"payments:read": 40},
        owner="\u00fcber@example.com",
        denied=(("POST", "/v1/payouts", "POST /payouts", 2, (("payouts:write",), ())),),
        unmatched=(("GET", "/v1/admin/\u2028export", 3),),
        replay_failing=(("GET /payments", 4),),
        extra_findings=(make_finding("secret-in-name", "high", "key_odd", "", "name: x"),),
    )
    [evidence] = odd.evidence
    times = (
        datetime(2026, 9, 1, 12, 0, 0, 250_000, tzinfo=UTC),  # microseconds
        datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1),  # the hour that repeats
        datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN),  # equal to the one above, an hour apart
        datetime(2026, 9, 2, 17, 30, tzinfo=INDIA),  # the same instant as...
        datetime(2026, 9, 2, 12, 0, tzinfo=UTC),  # ...this one
    )
    odd = replace(
        odd,
        key=replace(
            odd.key,
            redacted_fields=("name",),
            created_at=times[1],
            last_used_at=times[2],
        ),
        assigned_scopes=frozenset({"payouts:write"}),
        capture=True,
        evidence=(
            replace(
                evidence,
                operations=(
                    *evidence.operations,
                    OperationUse("GET /payments/{payment_id}", 2, times[0], times[3]),
                    OperationUse("GET /unknown", 1, times[4], times[4]),
                ),
            ),
            ScopeEvidence("payments:write", ()),  # no operations: null times
        ),
        findings=tuple(
            replace(finding, suppressed=True, suppression=suppression)
            if finding.rule == "secret-in-name"
            else finding
            for finding in odd.findings
        ),
    )
    result = build_result([*standard_keys(), odd])
    return replace(
        result,
        resolved_findings=(make_finding("dormant-key", "medium", "key_gone"),),
        operation_ids=(("GET /payments", "listPayments"), ("GET /invoices", "listInvoices")),
    )


def _is_filled(value: object) -> bool:
    return value not in (None, "", [], {}, False, 0)


def test_the_rich_result_fills_every_key_member() -> None:
    document = result_to_dict(_rich_result())
    keys = document["keys"]
    members = set(keys[0])
    assert {name for key in keys for name in members if _is_filled(key[name])} == members
    replays = [key["replay"] for key in keys if key["replay"]]
    assert any(replay["failing_operations"] for replay in replays)
    findings = [finding for key in keys for finding in key["findings"]]
    assert any(finding["suppression"] for finding in findings)
    assert document["resolved_findings"]


@pytest.mark.parametrize(
    "build",
    [build_result, hostile, lambda: synthetic_result(300), _rich_result],
    ids=["standard", "hostile", "synthetic", "rich"],
)
def test_render_json_is_dumps_of_result_to_dict(build) -> None:  # type: ignore[no-untyped-def]
    result = build()
    text = render_json(result)
    assert text == dumps(result_to_dict(result))
    assert text.isascii()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.datetimes(
            min_value=datetime(1900, 1, 1),
            timezones=st.sampled_from([UTC, INDIA, timezone(-timedelta(hours=8)), BERLIN]),
        )
        | st.none(),
        min_size=6,
        max_size=6,
    )
)
def test_times_are_written_as_the_data_path_writes_them(moments: list[datetime | None]) -> None:
    first, last, created, used, seen_first, seen_last = moments
    key = make_key("key_t", scopes=("payments:read",), used={"payments:read": 1})
    [evidence] = key.evidence
    key = replace(
        key,
        key=replace(key.key, created_at=created, last_used_at=used),
        last_seen=seen_last,
        evidence=(
            replace(
                evidence,
                operations=(
                    OperationUse("GET /payments", 1, first or AS_OF, last or AS_OF),
                    OperationUse("GET /payments/{payment_id}", 1, seen_first or AS_OF, AS_OF),
                ),
            ),
        ),
    )
    result = build_result([key])
    assert render_json(result) == dumps(result_to_dict(result))
