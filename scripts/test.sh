#!/usr/bin/env bash
# Installs keyscope with its test dependencies in ./.venv and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
