"""The CSV report: one row per finding, formula injection neutralized (BAD-INPUTS #25, P6)."""

from __future__ import annotations

import csv
import io

import pytest

from keyscope.report import get_renderer
from keyscope.report.csv_report import CELL_LIMIT, COLUMNS, NUMERIC_COLUMNS, neutralize, render_csv

from ._factory import build_result, hostile, make_key, standard_keys

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def rows_of(text: str) -> list[dict[str, str]]:
    previous = csv.field_size_limit(1 << 24)  # process-wide: put it back afterwards
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    finally:
        csv.field_size_limit(previous)


def test_one_row_per_finding_in_report_order(result) -> None:
    text = render_csv(result)
    rows = rows_of(text)
    assert len(rows) == len(result.findings)
    assert [row["fingerprint"] for row in rows] == [f.fingerprint for f in result.findings]
    assert list(rows[0]) == list(COLUMNS)
    recon = next(row for row in rows if row["key_id"] == "key_recon")
    assert recon["subject"] == "payments:write" and recon["risk_score"] == "23"
    assert recon["requests"] == "9000" and recon["key_source"] == "sample_specs/keys.yaml:12"
    assert get_renderer("csv") is render_csv


def test_rows_end_with_crlf_and_line_breaks_inside_values_are_quoted() -> None:
    result = build_result(
        [*standard_keys(), make_key("key_y", name="a\nb", scopes=("payouts:write",))]
    )
    text = render_csv(result)
    assert text.endswith("\r\n") and text.split("\r\n")[0] == ",".join(COLUMNS)
    assert '"a\nb"' in text  # quoted: it cannot start a forged row
    assert len(rows_of(text)) == len(result.findings)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("https://x?"&A1)', '=HYPERLINK("https://x?"&A1)'),
        ("+cmd|' /C calc'!A0", "+cmd|' /C calc'!A0"),
        ("-1+1", "-1+1"),
        ("@SUM(1)", "@SUM(1)"),
        ("\t=1", "\t=1"),
        ("\r=1", "\ufffd=1"),  # control characters show as U+FFFD, as in every report
        ("\0=1", "\ufffd=1"),
    ],
)
def test_formula_triggers_get_an_apostrophe(value: str, shown: str) -> None:
    assert neutralize(value) == "'" + shown
    assert neutralize("plain " + value) == "plain " + shown


def test_bidi_zero_width_and_control_characters_show_as_markers() -> None:
    keys = [
        make_key("key_bidi", name="invoice\u202etxt.exe\u200b", scopes=("payouts:write",)),
        make_key("key_formula", name="=1+1\u2066\x1b[2J", scopes=("payouts:write",)),
    ]
    text = render_csv(build_result([*standard_keys(), *keys]))
    names = {row["key_id"]: row["key_name"] for row in rows_of(text)}
    assert names["key_bidi"] == "invoice⟨U+202E⟩txt.exe⟨U+200B⟩"
    assert names["key_formula"] == "'=1+1⟨U+2066⟩\ufffd[2J"  # the formula guard still applies
    assert not {"\u202e", "\u200b", "\u2066", "\x1b"} & set(text)
    # A CRLF inside a value is one (quoted) line break, as LF; rows still end with CRLF.
    assert neutralize("line\r\nforged: yes") == "line\nforged: yes"


def test_no_text_cell_starts_with_a_trigger_and_numbers_are_untouched() -> None:
    result = hostile()
    rows = rows_of(render_csv(result))
    assert len(rows) == len(result.findings)
    for row in rows:
        for column, value in row.items():
            if column in NUMERIC_COLUMNS:
                assert value == "" or value.isdigit(), (column, value)
            else:
                assert not value.startswith(TRIGGERS), (column, value[:40])
    names = {row["key_name"] for row in rows}
    assert "'-1+1" in names and "'@SUM(1)" in names and '\'=HYPERLINK("https://x?"&A1)' in names
    assert "lone \ufffd surrogate" in names  # encodable: a lone surrogate becomes U+FFFD
    [long] = [name for name in names if name.startswith("xxx")]
    assert len(long) == CELL_LIMIT and long.endswith("…")  # fits a spreadsheet cell


def test_negative_numbers_would_stay_numbers() -> None:
    assert "-" in TRIGGERS and "risk_score" in NUMERIC_COLUMNS  # numeric columns skip neutralize()


def test_secrets_are_masked() -> None:
    secret = "rk_live_" + "Zy9Xw8Vu7Ts6Rq5P"
    rows = rows_of(
        render_csv(build_result([make_key("key_s", name=secret, scopes=("refunds:write",))]))
    )
    assert all(secret[8:] not in value for row in rows for value in row.values())
    assert any(row["key_name"] == "rk_live_…Rq5P" for row in rows)


def test_suppression_and_baseline_columns(result) -> None:
    from datetime import date

    from keyscope.analysis.triage import apply_suppressions
    from keyscope.model import Suppression

    entry = Suppression(
        "unused-scope",
        "key_recon",
        "payments:write",
        "=cmd reason",
        "ops",
        date(2026, 12, 1),
        "s#1",
    )
    rows = rows_of(render_csv(apply_suppressions(result, [entry], date(2026, 11, 1))))
    recon = next(row for row in rows if row["key_id"] == "key_recon")
    assert (recon["suppressed"], recon["suppression_reason"], recon["suppression_expires"]) == (
        "true",
        "'=cmd reason",
        "2026-12-01",
    )


def test_deterministic(result) -> None:
    assert render_csv(result) == render_csv(build_result())


def test_golden_csv(result, snapshot_csv) -> None:
    text = render_csv(result)
    assert text.count("\r\n") == text.count("\n")  # every line ends with CRLF...
    assert text.replace("\r\n", "\n") == snapshot_csv  # ...and golden files are stored with LF
