"""``keyscope aggregate``: summarize request logs into the aggregate the audit reads.

Two modes:

- ``keyscope aggregate --engine duckdb|spark --spec S --usage U ... --output agg.parquet``
  reads the logs, runs the aggregation query generated from the spec on the embedded
  DuckDB or on PySpark (local mode), and writes the aggregate (Parquet, atomically).
  ``keyscope audit --usage agg.parquet`` (or ``[[usage]] kind = "aggregate"``) then
  audits from it without touching the logs again.
- ``keyscope aggregate --print-sql trino|bigquery|spark|duckdb --spec S`` prints the
  query for a warehouse; ``{logs_table}`` in it stands for the table of requests
  (``docs/warehouses.md``).

With ``--as-of`` (or ``as_of`` in keyscope.toml) or ``--window-days``, only requests in
``[as_of - window_days, as_of)`` are counted, the window the audit uses: give both
commands the same one and the audit from the aggregate equals the audit from the logs.
Without either, every request is counted and the audit keeps the days of its window.

Exit codes: 0 written (or printed), 2 usage error (PySpark or Java missing for
``--engine spark`` too), 3 input or output error, 6 output locked by another run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``keyscope aggregate``."""
    parser = subparsers.add_parser(
        "aggregate",
        help="summarize request logs per key and operation (DuckDB, Spark, or SQL for a warehouse)",
        description=(
            "Match every request to its spec operation inside a SQL engine and write the "
            "aggregate (key, method, path, operation, status class, day, count, first and "
            "last seen) that keyscope audit reads; or print that query for Trino, BigQuery, "
            "Spark or DuckDB."
        ),
        epilog=(
            "examples:\n"
            "  keyscope aggregate --engine duckdb --usage 'logs/*.jsonl.gz' --output agg.parquet\n"
            "  keyscope aggregate --engine spark --usage 'logs/*.jsonl.gz' --as-of 2026-11-01 \\\n"
            "      -o agg.parquet\n"
            "  keyscope aggregate --print-sql trino --logs-table lake.api.requests\n"
            "  keyscope audit --usage agg.parquet\n"
            "exit codes: 0 done, 2 usage error, 3 input error, 6 output locked by another run"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inputs = parser.add_argument_group(
        "inputs (flags override KEYSCOPE_* variables and the config file)"
    )
    inputs.add_argument(
        "--config", type=Path, help="keyscope.toml to read (default: ./keyscope.toml)"
    )
    inputs.add_argument("--spec", type=Path, help="the OpenAPI or Swagger file")
    inputs.add_argument(
        "--usage", action="append", metavar="FILE_OR_GLOB",
        help="request logs: JSON lines, CSV, Parquet (.gz too); repeatable",
    )  # fmt: skip
    inputs.add_argument("--as-of", dest="as_of", help="end of the window (date or ISO time)")
    inputs.add_argument(
        "--window-days", dest="window_days", type=int,
        help="length of the window in days (default 90 when --as-of is given)",
    )  # fmt: skip
    inputs.add_argument(
        "--semantics", choices=("auto", "all", "any"), help="how the spec is read (default auto)"
    )
    run_group = parser.add_argument_group("running")
    run_group.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb",
        help="where the query runs: duckdb (embedded, default) or spark (PySpark local mode)",
    )  # fmt: skip
    run_group.add_argument(
        "--spark-master", dest="spark_master", default="local[*]", metavar="URL",
        help="Spark master for --engine spark (default local[*])",
    )  # fmt: skip
    run_group.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="the aggregate to write (Parquet)"
    )
    run_group.add_argument(
        "--force", action="store_true", help="replace an output that is a symbolic link"
    )
    sql = parser.add_argument_group("printing the query for a warehouse")
    sql.add_argument(
        "--print-sql", dest="print_sql", choices=("trino", "bigquery", "spark", "duckdb"),
        metavar="DIALECT", help="print the query for trino, bigquery, spark or duckdb and stop",
    )  # fmt: skip
    sql.add_argument(
        "--logs-table", dest="logs_table", default="{logs_table}", metavar="NAME",
        help="the requests table to name in the query (default: a {logs_table} placeholder)",
    )  # fmt: skip
    sql.add_argument(
        "--request-ids", dest="request_ids", action="store_true",
        help="the logs table has a request_id column: count a request logged twice once",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the query or aggregate the logs; returns the exit code."""
    from datetime import UTC, datetime, timedelta

    from keyscope.aggregation import aggregation_sql, run_aggregation, write_aggregate
    from keyscope.errors import UsageError
    from keyscope.output import output_lock, refuse_link, refuse_writing_over_inputs
    from keyscope.settings import load_settings
    from keyscope.sources.openapi import load_spec, spec_options_from
    from keyscope.text import safe_line

    if args.window_days is not None and args.window_days < 1:
        raise UsageError("--window-days must be at least 1")
    flags = {
        "spec": args.spec,
        "usage": args.usage,
        "as_of": args.as_of,
        "window_days": args.window_days,
        "semantics": args.semantics,
    }
    settings = load_settings(flags, config=args.config)
    if settings.spec is None:
        raise UsageError(
            "no API spec given: set spec in keyscope.toml, KEYSCOPE_SPEC, or pass --spec FILE"
        )
    window_start = window_end = None
    if settings.as_of is not None or args.window_days is not None:
        window_end = (settings.as_of or datetime.now(UTC).replace(microsecond=0)).astimezone(UTC)
        window_start = window_end - timedelta(days=settings.window_days)
    spec = load_spec(args.spec or settings.spec, spec_options_from(settings))

    if args.print_sql:
        sys.stdout.write(
            aggregation_sql(
                spec,
                args.print_sql,
                window_start=window_start,
                window_end=window_end,
                logs_table=args.logs_table,
                request_ids=args.request_ids,
            )
        )
        return 0

    if args.output is None:
        raise UsageError("keyscope aggregate: give --output FILE (or --print-sql DIALECT)")
    if not settings.usage:
        raise UsageError(
            "no request logs given: pass --usage FILE_OR_GLOB or add [[usage]] to keyscope.toml"
        )
    refuse_writing_over_inputs(
        [args.output],
        {"spec": settings.spec, "config file": settings.config_path},
        (source.path for source in settings.usage),
    )
    # Checked before the (long) aggregation; write_atomic checks again when writing.
    refuse_link(args.output, force=args.force)
    with output_lock(args.output):
        result = run_aggregation(
            spec,
            settings.usage,
            engine=args.engine,
            window_start=window_start,
            window_end=window_end,
            spark_master=args.spark_master,
        )
        metadata = {
            "keyscope.aggregate.format": "1",
            "keyscope.spec.sha256": spec.sha256,
            "keyscope.window.start": window_start.isoformat() if window_start else "",
            "keyscope.window.end": window_end.isoformat() if window_end else "",
        }
        write_aggregate(result.table, args.output, metadata, force=args.force)
    for source in result.sources:
        if source.lines and source.bad_lines / source.lines > settings.bad_line_threshold:
            # The aggregate keeps requests, not lines: an audit of it cannot see this.
            print(
                f"keyscope: warning: {safe_line(source.source)}: {source.bad_lines:,} of "
                f"{source.lines:,} lines could not be read ({source.bad_lines / source.lines:.1%}, "
                f"above the {settings.bad_line_threshold:.1%} threshold); an audit of the "
                "aggregate will not know",
                file=sys.stderr,
            )
    table = result.table
    lines = sum(source.lines for source in result.sources)
    bad = sum(source.bad_lines for source in result.sources)
    outside = sum(source.out_of_window for source in result.sources)
    keys = len(set(table.column("key_id").to_pylist()))
    operations = len({op for op in table.column("operation").to_pylist() if op})
    window = (
        f" in [{window_start:%Y-%m-%d %H:%M}, {window_end:%Y-%m-%d %H:%M}) UTC"
        if window_start and window_end
        else ""
    )
    print(
        f"keyscope: {lines:,} lines{window} ({bad:,} unreadable, {outside:,} outside the window) "
        f"-> {table.num_rows:,} rows over {keys:,} keys and {operations:,} operations "
        f"({args.engine}); wrote {safe_line(str(args.output))}",
        file=sys.stderr,
    )
    return 0
