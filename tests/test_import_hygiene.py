"""The headless core stays headless, and the CLI starts without heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("textual", "rich", "httpx", "jinja2", "duckdb", "yaml", "pyarrow")


def imported_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(output))


def test_core_imports_no_ui_network_template_or_parser_code() -> None:
    modules = imported_after(
        "import keyscope.model, keyscope.analysis, keyscope.redaction, keyscope.text"
    )
    loaded = {name.split(".")[0] for name in modules}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_cli_help_path_imports_nothing_heavy() -> None:
    modules = imported_after("import keyscope.cli\nkeyscope.cli.build_parser()")
    loaded = {name.split(".")[0] for name in modules}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
