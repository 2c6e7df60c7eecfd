"""``keyscope aggregate``: printed queries, written aggregates, errors and exit codes."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from keyscope.cli import main
from keyscope.output import output_lock

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "sample_specs" / "partner-api.yaml"

LINES = [
    {"timestamp": "2026-10-01T10:00:00Z", "key_id": "key_a", "method": "GET",
     "path": "/v1/invoices/inv_1?expand=lines", "status": 200},
    {"timestamp": "2026-10-01T11:00:00Z", "key_id": "key_a", "method": "get",
     "path": "/v1/invoices/inv_2/", "status": 200},
    {"timestamp": "2026-10-02T09:00:00Z", "key_id": "key_a", "method": "POST",
     "path": "/v1/payouts", "status": 403},
    {"timestamp": "2026-10-02T09:30:00Z", "key_id": "key_b", "method": "GET",
     "path": "/v1/legacy/charges", "status": 200},
    {"timestamp": "2026-06-01T00:00:00Z", "key_id": "key_b", "method": "GET",
     "path": "/v1/invoices", "status": 200},
]  # fmt: skip


# Every test runs in an empty working folder with no KEYSCOPE_* variable.
pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def log(isolated: Path) -> Path:
    path = isolated / "requests.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return path


def run_aggregate(*arguments: str) -> int:
    return main(["aggregate", "--spec", str(SPEC), *arguments])


@pytest.mark.parametrize("dialect", ["trino", "bigquery", "spark", "duckdb"])
def test_print_sql_leaves_the_logs_table_placeholder(
    dialect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_aggregate("--print-sql", dialect) == 0
    out, err = capsys.readouterr()
    assert "{logs_table}" in out and "/invoices/search" in out
    assert err == ""
    assert ("keyscope_url_decode" in out) == (dialect == "bigquery")


def test_print_sql_names_the_table_and_the_window(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["--print-sql", "trino", "--logs-table", "lake.api.requests"]
    assert run_aggregate(*arguments, "--as-of", "2026-11-01", "--window-days", "30") == 0
    out = capsys.readouterr().out
    assert "FROM lake.api.requests" in out and "{logs_table}" not in out
    assert "2026-10-02 00:00:00" in out and "2026-11-01 00:00:00" in out


def test_print_sql_with_request_ids_deduplicates(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_aggregate("--print-sql", "spark", "--request-ids") == 0
    out = capsys.readouterr().out
    assert "request_id" in out and "UNION ALL" in out


def test_writes_the_aggregate_of_the_window(
    log: Path, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = isolated / "agg.parquet"
    assert run_aggregate("--usage", str(log), "--as-of", "2026-11-01", "-o", str(output)) == 0
    err = capsys.readouterr().err
    assert "5 lines" in err and "1 outside the window" in err and "wrote" in err
    rows = pq.read_table(output).to_pylist()
    summary = sorted(
        (row["key_id"], row["method"], row["path"], row["operation"], row["status_class"],
         str(row["day"]), row["count"])
        for row in rows
    )  # fmt: skip
    assert summary == [
        ("key_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}", "success",
         "2026-10-01", 2),
        ("key_a", "POST", "/payouts", "POST /payouts", "denied", "2026-10-02", 1),
        ("key_b", "GET", "/v1/legacy/charges", None, "success", "2026-10-02", 1),
    ]  # fmt: skip
    metadata = pq.read_schema(output).metadata
    assert metadata[b"keyscope.window.end"] == b"2026-11-01T00:00:00+00:00"


def test_without_a_window_every_request_counts(log: Path, isolated: Path) -> None:
    output = isolated / "agg.parquet"
    assert run_aggregate("--usage", str(log), "-o", str(output)) == 0
    assert sum(pq.read_table(output).column("count").to_pylist()) == 5


def test_needs_an_output(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_aggregate("--usage", str(log)) == 2
    assert "give --output FILE" in capsys.readouterr().err


def test_needs_logs(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_aggregate("-o", str(isolated / "agg.parquet")) == 2
    assert "no request logs given" in capsys.readouterr().err


def test_needs_a_spec(log: Path, isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["aggregate", "--usage", str(log), "-o", str(isolated / "a.parquet")])
    assert code == 2
    assert "no API spec given" in capsys.readouterr().err


def test_a_missing_log_is_one_line_and_keeps_the_previous_output(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = isolated / "agg.parquet"
    output.write_bytes(b"previous")
    assert run_aggregate("--usage", str(isolated / "nope.jsonl"), "-o", str(output)) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.jsonl" in err and "Traceback" not in err
    assert output.read_bytes() == b"previous"
    assert not [path for path in isolated.iterdir() if path.name.endswith(".tmp")]


def test_a_har_capture_or_an_aggregate_is_not_a_log(
    isolated: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = REPO / "sample_specs" / "integration.har"
    assert run_aggregate("--usage", str(har), "-o", str(isolated / "a.parquet")) == 3
    assert "kind 'har'" in capsys.readouterr().err
    first = isolated / "first.parquet"
    assert run_aggregate("--usage", str(log), "-o", str(first)) == 0
    capsys.readouterr()
    assert run_aggregate("--usage", str(first), "-o", str(isolated / "b.parquet")) == 3
    err = capsys.readouterr().err
    assert "already an aggregate" in err and err.count("\n") == 1


def test_a_missing_column_names_the_file(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = isolated / "gateway.csv"
    csv.write_text("time,key,verb,uri,code\n2026-10-01T00:00:00Z,k,GET,/v1/x,200\n")
    assert run_aggregate("--usage", str(csv), "-o", str(isolated / "a.parquet")) == 3
    err = capsys.readouterr().err
    assert "gateway.csv" in err and "no column 'timestamp'" in err


def test_output_symlink_needs_force(
    log: Path, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = isolated / "real.parquet"
    real.write_bytes(b"old")
    link = isolated / "link.parquet"
    link.symlink_to(real)
    assert run_aggregate("--usage", str(log), "-o", str(link)) == 3
    assert "symbolic link" in capsys.readouterr().err
    assert real.read_bytes() == b"old"
    assert run_aggregate("--usage", str(log), "-o", str(link), "--force") == 0
    assert pq.read_table(link).num_rows == 4


def test_another_run_holding_the_output_exits_6(
    log: Path, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = isolated / "agg.parquet"
    with output_lock(output):
        assert run_aggregate("--usage", str(log), "-o", str(output)) == 6
    assert "locked" in capsys.readouterr().err
    assert not output.exists()


def test_spark_without_pyspark_says_how_to_install_it(
    log: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "pyspark" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    output = isolated / "agg.parquet"
    assert run_aggregate("--engine", "spark", "--usage", str(log), "-o", str(output)) == 2
    err = capsys.readouterr().err
    assert "needs PySpark" in err and "keyscope[spark]" in err and err.count("\n") == 1


def test_spark_without_java_says_so(
    log: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if importlib.util.find_spec("pyspark") is None:
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *args: object() if name == "pyspark" else real_find_spec(name, *args),
        )
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    output = isolated / "agg.parquet"
    assert run_aggregate("--engine", "spark", "--usage", str(log), "-o", str(output)) == 2
    err = capsys.readouterr().err
    assert "needs Java" in err and "--engine duckdb" in err


def test_help_lists_aggregate_without_importing_sqlglot() -> None:
    code = (
        "import sys\n"
        "from keyscope.cli import build_parser\n"
        "text = build_parser().format_help()\n"
        "assert 'aggregate' in text, text\n"
        "assert 'sqlglot' not in sys.modules and 'pyspark' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_aggregate_is_never_written_over_a_log_it_reads(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = log.read_bytes()
    assert run_aggregate("--usage", str(log.parent / "*.jsonl"), "-o", str(log)) == 2
    assert "is this run's usage log" in capsys.readouterr().err
    assert log.read_bytes() == before
