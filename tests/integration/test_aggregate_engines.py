"""End to end: ``keyscope aggregate`` on DuckDB and on Spark, and audits from aggregates.

The same logs (synthetic ones from the sample-data generator, a hand-written JSON lines
file full of what real logs hold, and the sample's gateway CSV with renamed columns) are
aggregated by ``--engine duckdb`` and ``--engine spark``; the two files must be identical.
The audit of an aggregate must equal the audit of the logs it came from, apart from the
source statistics (an aggregate file has rows, not log lines).

The Spark test needs PySpark and Java (``pip install -e '.[spark]'``); it is skipped only
when one of them is missing, and keeps to one local[2] session on small files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from keyscope.cli import main
from keyscope.sample_data import main as sample_data_main

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "sample_specs" / "partner-api.yaml"
GATEWAY_CSV = REPO / "sample_specs" / "usage" / "gateway.csv"


def _java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is not None or bool(
        java_home and (Path(java_home) / "bin" / "java").is_file()
    )


SPARK_READY = importlib.util.find_spec("pyspark") is not None and _java_available()

TRICKY_LINES = [
    # Lower-case method, trailing slash, query string (with a secret in it).
    {"timestamp": "2026-10-01T10:00:00Z", "key_id": "key_tricky_a", "method": "get",
     "path": "/v1/invoices/?limit=5&api_key=sk_live_abcdefghijklmnop", "status": 200},
    {"timestamp": "2026-10-01T10:00:01.250Z", "key_id": "key_tricky_a", "method": "GET",
     "path": "/v1/invoices/search", "status": 200},
    {"timestamp": "2026-10-01T12:00:02+02:00", "key_id": "key_tricky_a", "method": "GET",
     "path": "/v1/invoices/inv%2F1/", "status": 200},
    {"timestamp": 1790000000, "key_id": "key_tricky_a", "method": "POST",
     "path": "https://api.example.test/v1/payments?x=1", "status": 201},
    {"timestamp": "1791000000500", "key_id": "key_tricky_a", "method": "HEAD",
     "path": "/v1/payments/pay_1", "status": 200},
    {"timestamp": "2026-10-02T00:00:00Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/invoices/%C3%A9t%C3%A9", "status": 200},
    {"timestamp": "2026-10-02T00:00:01Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/invoices/%C3", "status": 200},
    {"timestamp": "2026-10-02T00:00:02Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/invoices/100%", "status": 200},
    {"timestamp": "2026-10-02T00:00:03Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/invoices/a+b", "status": 200},
    {"timestamp": "2026-10-02T00:00:04Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/invoices/%2e%2e/api-keys", "status": 200},
    {"timestamp": "2026-10-02T00:00:05Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/legacy/charges?page=2", "status": 200},
    {"timestamp": "2026-10-02T00:00:06Z", "key_id": "key_tricky_b", "method": "POST",
     "path": "/v1/payouts", "status": 403},
    {"timestamp": "2026-10-02T00:00:07Z", "key_id": "key_tricky_b", "method": "DELETE",
     "path": "/v1/api-keys/key_x", "status": 401},
    {"timestamp": "2026-10-02T00:00:08Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/balance", "status": 503},
    {"timestamp": "2026-10-02T00:00:09Z", "key_id": "key_tricky_b", "method": "GET",
     "path": "/v1/customers/cus_1", "status": 404},
    # The same request logged twice: counted once.
    {"timestamp": "2026-10-03T08:00:00Z", "key_id": "key_tricky_c", "method": "GET",
     "path": "/v1/refunds/re_1", "status": 200, "request_id": "req_dup"},
    {"timestamp": "2026-10-03T08:00:00Z", "key_id": "key_tricky_c", "method": "GET",
     "path": "/v1/refunds/re_1", "status": 200, "request_id": "req_dup"},
    # Out of the window on both sides.
    {"timestamp": "2026-07-01T00:00:00Z", "key_id": "key_tricky_c", "method": "GET",
     "path": "/v1/refunds", "status": 200},
    {"timestamp": "2026-11-01T00:00:00Z", "key_id": "key_tricky_c", "method": "GET",
     "path": "/v1/refunds", "status": 200},
    # Bad lines: no zone, no key, not a status, not a method, not a path.
    {"timestamp": "2026-10-01 10:00:00", "key_id": "key_tricky_c", "method": "GET",
     "path": "/v1/refunds", "status": 200},
    {"timestamp": "2026-10-01T10:00:00Z", "method": "GET", "path": "/v1/refunds", "status": 200},
    {"timestamp": "2026-10-01T10:00:00Z", "key_id": "key_tricky_c", "method": "GET",
     "path": "/v1/refunds", "status": "ok"},
    {"timestamp": "2026-10-01T10:00:00Z", "key_id": "key_tricky_c", "method": "G3T",
     "path": "/v1/refunds", "status": 200},
    {"timestamp": "2026-10-01T10:00:00Z", "key_id": "key_tricky_c", "method": "GET",
     "path": "refunds", "status": 200},
]  # fmt: skip


# Every test runs in an empty working folder with no KEYSCOPE_* variable.
pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small logs in every format, generated once for the module."""
    folder = tmp_path_factory.mktemp("logs")
    generated = {
        "jsonl": folder / "synthetic.jsonl",
        "csv": folder / "synthetic.csv.gz",
        "parquet": folder / "synthetic.parquet",
    }
    for seed, (fmt, path) in enumerate(generated.items(), 7):
        arguments = ["--spec", str(SPEC), "--synthetic-keys", "12", "--lines", "1500"]
        arguments += ["--format", fmt, "--seed", str(seed), "--output", str(path)]
        if fmt == "jsonl":
            arguments += ["--keys-output", str(folder / "keys.json")]
        assert sample_data_main(arguments) == 0
    tricky = folder / "tricky.jsonl"
    lines = [json.dumps(line) for line in TRICKY_LINES]
    lines[3:3] = ["", "this is not JSON {", "   "]
    tricky.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = folder / "keyscope.toml"
    config.write_text(
        f"""spec = {json.dumps(str(SPEC))}
keys = {json.dumps(str(folder / "keys.json"))}
as_of = "2026-11-01"
window_days = 90
semantics = "all"
# The tricky file is a quarter bad lines on purpose; an aggregate has no bad lines to
# count, so keep both audits complete and compare what the requests say.
bad_line_threshold = 0.5

[[usage]]
path = {json.dumps(str(folder / "synthetic.*"))}

[[usage]]
path = {json.dumps(str(tricky))}

[[usage]]
path = {json.dumps(str(GATEWAY_CSV))}
[usage.fields]
timestamp = "time"
key_id = "api_key_id"
method = "http_method"
path = "request_uri"
status = "status_code"
""",
        encoding="utf-8",
    )
    return {**generated, "tricky": tricky, "config": config, "folder": folder}


def aggregate(config: Path, output: Path, *extra: str) -> None:
    assert main(["aggregate", "--config", str(config), "--output", str(output), *extra]) == 0


def audit_json(output: Path, *arguments: str) -> dict[str, Any]:
    code = main(["audit", *arguments, "--format", "json", "--output", str(output)])
    assert code in (0, 1)
    return json.loads(output.read_text(encoding="utf-8"))


def without_source_statistics(result: dict[str, Any]) -> dict[str, Any]:
    """The audit JSON minus what only describes the files read (lines, not requests)."""
    quality = dict(result["data_quality"])
    for name in ("sources", "total_lines", "bad_lines", "bad_line_examples"):
        quality.pop(name)
    return {**result, "data_quality": quality}


def test_duckdb_aggregate_of_tricky_logs(logs: dict[str, Path], isolated: Path) -> None:
    output = isolated / "agg.parquet"
    aggregate(logs["config"], output)
    table = pq.read_table(output)
    assert table.schema.names == [
        "key_id", "method", "path", "operation", "status_class", "day", "count",
        "first_seen", "last_seen",
    ]  # fmt: skip
    rows = [row for row in table.to_pylist() if row["key_id"].startswith("key_tricky_")]
    by_route = {}
    for row in rows:
        entry = by_route.setdefault(
            (row["key_id"], row["method"], row["path"], row["operation"]), 0
        )
        by_route[(row["key_id"], row["method"], row["path"], row["operation"])] = (
            entry + row["count"]
        )
    assert by_route[("key_tricky_a", "GET", "/invoices", "GET /invoices")] == 1
    assert (
        by_route[("key_tricky_a", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}")]
        == 1
    )
    assert (
        by_route[("key_tricky_a", "HEAD", "/payments/{payment_id}", "GET /payments/{payment_id}")]
        == 1
    )
    assert (
        by_route[("key_tricky_b", "GET", "/invoices/{invoice_id}", "GET /invoices/{invoice_id}")]
        == 4
    )
    assert by_route[("key_tricky_b", "GET", "/v1/legacy/charges", None)] == 1
    assert by_route[("key_tricky_b", "GET", "/v1/invoices/%2e%2e/api-keys", None)] == 1
    assert (
        by_route[("key_tricky_c", "GET", "/refunds/{refund_id}", "GET /refunds/{refund_id}")] == 1
    )
    assert ("key_tricky_c", "GET", "/refunds", "GET /refunds") not in by_route  # outside or bad
    classes = {
        (row["method"], row["status_class"]) for row in rows if row["key_id"] == "key_tricky_b"
    }
    assert {
        ("POST", "denied"),
        ("DELETE", "denied"),
        ("GET", "server_error"),
        ("GET", "client_error"),
    } <= classes
    assert not any("sk_live_" in str(value) for row in table.to_pylist() for value in row.values())


def test_duckdb_counts_lines_like_usage_ingestion(logs: dict[str, Path]) -> None:
    from datetime import UTC, datetime

    from keyscope.aggregation import run_aggregation
    from keyscope.settings import UsageSource
    from keyscope.sources.openapi import load_spec

    run = run_aggregation(
        load_spec(SPEC),
        [UsageSource(path=str(logs["tricky"]))],
        window_start=datetime(2026, 8, 3, tzinfo=UTC),
        window_end=datetime(2026, 11, 1, tzinfo=UTC),
    )
    (stats,) = run.sources
    # 24 objects and one broken line (blank lines do not count): 6 bad, 2 outside.
    assert (stats.lines, stats.bad_lines, stats.out_of_window, stats.in_window) == (25, 6, 2, 17)
    # The repeated request (same request id) is one request.
    assert sum(run.table.column("count").to_pylist()) == 16


def test_audit_of_the_aggregate_equals_the_audit_of_the_logs(
    logs: dict[str, Path], isolated: Path
) -> None:
    output = isolated / "agg.parquet"
    aggregate(logs["config"], output)
    from_logs = audit_json(isolated / "logs.json", "--config", str(logs["config"]))
    # --usage with kind detection: no [[usage]] kind needed for a keyscope aggregate.
    from_aggregate = audit_json(
        isolated / "agg.json", "--config", str(logs["config"]), "--usage", str(output)
    )
    assert [source["kind"] for source in from_aggregate["data_quality"]["sources"]] == ["aggregate"]
    assert from_logs["data_quality"]["bad_lines"] == 6
    assert without_source_statistics(from_aggregate) == without_source_statistics(from_logs)
    assert from_logs["keys"], "the comparison covers audited keys"


def test_kind_aggregate_in_keyscope_toml(logs: dict[str, Path], isolated: Path) -> None:
    output = isolated / "agg.parquet"
    aggregate(logs["config"], output)
    config = isolated / "keyscope.toml"
    head = logs["config"].read_text(encoding="utf-8").split("[[usage]]")[0]
    config.write_text(
        head + f'[[usage]]\npath = "{output}"\nkind = "aggregate"\n', encoding="utf-8"
    )
    from_logs = audit_json(isolated / "logs.json", "--config", str(logs["config"]))
    from_aggregate = audit_json(isolated / "agg.json", "--config", str(config))
    assert without_source_statistics(from_aggregate) == without_source_statistics(from_logs)


def test_the_sample_audits_the_same_from_its_aggregate(isolated: Path) -> None:
    """The bundled sample: percent-encoded paths, unknown keys, denied requests, bad lines."""
    config = REPO / "keyscope.toml"
    output = isolated / "sample.parquet"
    aggregate(config, output)
    from_logs = audit_json(isolated / "logs.json", "--config", str(config))
    from_aggregate = audit_json(
        isolated / "agg.json", "--config", str(config), "--usage", str(output)
    )
    assert from_logs["data_quality"]["unmatched_requests"] > 0
    assert without_source_statistics(from_aggregate) == without_source_statistics(from_logs)


def test_the_same_inputs_give_the_same_bytes(logs: dict[str, Path], isolated: Path) -> None:
    first, second = isolated / "one.parquet", isolated / "two.parquet"
    aggregate(logs["config"], first)
    aggregate(logs["config"], second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.spark
@pytest.mark.skipif(not SPARK_READY, reason="needs PySpark and Java: pip install -e '.[spark]'")
def test_spark_and_duckdb_write_identical_aggregates(logs: dict[str, Path], isolated: Path) -> None:
    from keyscope.aggregation import spark_session

    duck, spark = isolated / "duckdb.parquet", isolated / "spark.parquet"
    aggregate(logs["config"], duck, "--engine", "duckdb")
    session = spark_session("local[2]")
    try:
        aggregate(logs["config"], spark, "--engine", "spark", "--spark-master", "local[2]")
    finally:
        session.stop()
    duck_table, spark_table = pq.read_table(duck), pq.read_table(spark)
    assert duck_table.num_rows > 1000
    assert spark_table.equals(duck_table)
    assert spark.read_bytes() == duck.read_bytes()
