#!/usr/bin/env bash
# Installs keyscope with its test dependencies in ./.venv and runs the whole test suite.
# With Java on the machine, the Spark extra is installed too, so the DuckDB-vs-Spark
# aggregate test runs; without Java that one test group is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras="test"
if command -v java >/dev/null 2>&1; then extras="test,spark"; fi
.venv/bin/python -m pip install -q -e ".[${extras}]"
.venv/bin/lint-imports
.venv/bin/ruff check --quiet src tests bench hatch_build.py
.venv/bin/python -m pytest "$@"
