"""Triage core: suppressions with expiry, stale entries, baselines, gating, history points."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from keyscope.analysis.triage import (
    Baseline,
    apply_baseline,
    apply_suppressions,
    failing_findings,
    history_point,
    merge_history,
    suppression_status,
)
from keyscope.model import FINGERPRINT_VERSION, HistoryPoint, Suppression

from ._factory import build_result, make_finding, make_key, standard_keys


def entry(
    rule: str, key: str, scope: str = "", expires: date = date(2026, 12, 31), n: int = 1
) -> Suppression:
    return Suppression(
        rule=rule,
        key_id=key,
        scope=scope,
        reason="quarterly batch job",
        owner="ops@example.com",
        expires=expires,
        source=f"s.yaml#{n}",
    )


def marked(result, rule: str, key: str, subject: str = ""):
    [finding] = [
        f for f in result.findings if (f.rule, f.key_id, f.subject) == (rule, key, subject)
    ]
    [in_key] = [
        f
        for audit in result.keys
        if audit.key.key_id == key
        for f in audit.findings
        if (f.rule, f.subject) == (rule, subject)
    ]
    assert finding == in_key, "the key's copy of a finding must be marked alike"
    return finding


def test_live_suppression_marks_the_finding_and_keeps_it_listed() -> None:
    result = build_result()
    suppression = entry("unused-scope", "key_recon", "payments:write")
    triaged = apply_suppressions(result, [suppression], date(2026, 11, 1))
    finding = marked(triaged, "unused-scope", "key_recon", "payments:write")
    assert finding.suppressed and finding.suppression == suppression
    assert len(triaged.findings) == len(result.findings)
    assert triaged.suppressions == (suppression,)
    assert triaged.suppression_warnings == ()
    assert suppression_status(triaged, suppression) == "applied"


def test_expiry_day_still_applies_and_the_next_day_the_finding_comes_back() -> None:
    result = build_result()
    suppression = entry("unused-scope", "key_recon", "payments:write", expires=date(2026, 11, 1))
    on_the_day = apply_suppressions(result, [suppression], date(2026, 11, 1))
    assert marked(on_the_day, "unused-scope", "key_recon", "payments:write").suppressed
    after = apply_suppressions(result, [suppression], date(2026, 11, 2))
    finding = marked(after, "unused-scope", "key_recon", "payments:write")
    assert not finding.suppressed and finding.suppression is None
    [warning] = after.suppression_warnings
    assert "s.yaml#1" in warning and "expired on 2026-11-01" in warning
    assert "reported again" in warning


def test_entry_matching_nothing_is_reported_stale() -> None:
    result = build_result()
    stale = entry("unused-scope", "key_recon", "refunds:write", n=2)
    triaged = apply_suppressions(result, [stale], date(2026, 11, 1))
    [warning] = triaged.suppression_warnings
    assert "s.yaml#2" in warning and "matches no finding" in warning
    assert not any(f.suppressed for f in triaged.findings)


def test_entry_without_scope_covers_every_subject_of_the_rule_for_that_key_only() -> None:
    result = build_result()
    triaged = apply_suppressions(
        result, [entry("unused-scope", "key_legacy_busy")], date(2026, 11, 1)
    )
    busy = [
        f for f in triaged.findings if f.key_id == "key_legacy_busy" and f.rule == "unused-scope"
    ]
    assert busy and all(f.suppressed for f in busy)
    others = [f for f in triaged.findings if f.key_id != "key_legacy_busy"]
    assert not any(f.suppressed for f in others)


def test_reapplying_is_idempotent_and_clears_old_marks() -> None:
    result = build_result()
    suppression = entry("legacy-full-access", "key_legacy_busy")
    once = apply_suppressions(result, [suppression], date(2026, 11, 1))
    again = apply_suppressions(once, [suppression], date(2026, 11, 1))
    assert again == once
    cleared = apply_suppressions(once, [], date(2026, 11, 1))
    assert not any(f.suppressed for f in cleared.findings)


def test_suppressed_findings_never_fail_the_run() -> None:
    result = build_result()
    everything = [entry(f.rule, f.key_id, f.subject, n=i) for i, f in enumerate(result.findings)]
    triaged = apply_suppressions(result, everything, date(2026, 11, 1))
    assert failing_findings(result, "info")
    assert failing_findings(triaged, "info") == ()


def test_baseline_marks_new_unchanged_and_lists_resolved() -> None:
    before = build_result()
    gone = before.findings[0]
    after_keys = [*standard_keys(), make_key("key_new", scopes=("payouts:write",), used={})]
    after = build_result(after_keys)
    baseline = Baseline(
        "prev.json",
        datetime(2026, 10, 1, tzinfo=UTC),
        1,
        FINGERPRINT_VERSION,
        (*tuple(f for f in before.findings), make_finding("dormant-key", "high", "key_gone")),
    )
    compared = apply_baseline(after, baseline)
    states = {f.fingerprint: f.baseline_state for f in compared.findings}
    assert states[gone.fingerprint] == "unchanged"
    new = [f for f in compared.findings if f.baseline_state == "new"]
    assert new and all(f.key_id == "key_new" for f in new)
    assert [f.key_id for f in compared.resolved_findings] == ["key_gone"]
    assert compared.baseline_source == "prev.json as of 2026-10-01"
    for audit in compared.keys:
        assert all(f.baseline_state in ("new", "unchanged") for f in audit.findings)


def test_fail_on_new_counts_only_new_findings_at_or_above_the_threshold() -> None:
    before = build_result()
    after = build_result(
        [*standard_keys(), make_key("key_new", scopes=("payouts:write",), used={})]
    )
    compared = apply_baseline(after, Baseline("p", None, 1, FINGERPRINT_VERSION, before.findings))
    new = failing_findings(compared, "medium", new_only=True)
    assert new and {f.key_id for f in new} == {"key_new"}
    assert failing_findings(compared, "critical", new_only=True) == ()
    assert set(failing_findings(compared, None, new_only=True)) >= set(new)
    unchanged_only = apply_baseline(
        before, Baseline("p", None, 1, FINGERPRINT_VERSION, before.findings)
    )
    assert failing_findings(unchanged_only, "info", new_only=True) == ()
    assert failing_findings(unchanged_only, "info")


def test_older_fingerprint_scheme_is_matched_by_identity_not_reported_all_new() -> None:
    before = build_result()
    old_scheme = tuple(replace(f, fingerprint="v0-" + f.fingerprint[:8]) for f in before.findings)
    compared = apply_baseline(
        before, Baseline("old.json", None, 1, FINGERPRINT_VERSION - 1, old_scheme)
    )
    assert all(f.baseline_state == "unchanged" for f in compared.findings)
    assert compared.resolved_findings == ()
    assert "matched by rule, key and subject" in compared.baseline_source


def test_history_point_counts_active_keys_and_open_findings() -> None:
    result = build_result()
    point = history_point(result)
    active = [a for a in result.keys if a.key.status == "active"]
    assert point.legacy_keys == 3
    assert point.excess_scopes == sum(len(a.excess_scopes) for a in active)
    assert point.mean_risk == round(sum(a.risk_score for a in active) / len(active), 1)
    assert point.findings == len(result.findings)


def test_merge_history_sorts_dedupes_by_time_and_caps() -> None:
    def point(day: int, findings: int) -> HistoryPoint:
        return HistoryPoint(datetime(2026, 10, day, tzinfo=UTC), 1, 1.0, 1, findings)

    merged = merge_history([point(3, 1), point(1, 1), point(2, 1)], point(2, 9), limit=2)
    assert [p.as_of.day for p in merged] == [2, 3]
    assert merged[0].findings == 9  # this run replaces the earlier point of the same as_of


def test_register_status_matches_suppression_status() -> None:
    from keyscope.report._view import register

    result = build_result()
    entries = [
        entry("unused-scope", "key_recon", "payments:write", n=1),
        entry("dormant-key", "key_recon", n=2),
        entry("legacy-full-access", "key_legacy_busy", expires=date(2026, 10, 1), n=3),
    ]
    triaged = apply_suppressions(result, entries, date(2026, 11, 1))
    assert (
        [row["status"] for row in register(triaged)]
        == [suppression_status(triaged, e) for e in entries]
        == ["applied", "stale", "expired"]
    )
