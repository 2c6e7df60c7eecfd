"""Builds keyscope's JSON-lines scanner (a C extension) into the wheel.

The scanner is an accelerator: without a C compiler the wheel is built without it, a
warning says so, and keyscope reads every log with DuckDB.  Set
``KEYSCOPE_REQUIRE_SCANNER=1`` (CI does) to make a failed build an error instead.
``python hatch_build.py`` rebuilds it in place for an editable checkout.  The compiler is
``$CC``, else the one Python was built with.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SOURCE = Path("src/keyscope/sources/_jsonl_scan.c")
TARGET = "keyscope/sources/_jsonl_scan" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def compile_scanner(root: Path, output: Path) -> None:
    """Compile the scanner to ``output``; raises CalledProcessError or OSError on failure."""
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    command = [
        *compiler,
        "-O2",
        "-fPIC",
        "-shared",
        "-pthread",
        "-std=gnu11",
        "-Wall",
        "-I",
        sysconfig.get_paths()["include"],
        str(root / SOURCE),
        "-o",
        str(output),
    ]
    subprocess.run(command, check=True)  # noqa: S603 - the compiler on our own source


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script without hatchling
    BuildHookInterface = object  # type: ignore[assignment,misc]


class ScannerBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if version == "editable":
            # The editable wheel points at src/: the module sits beside its source.
            output = root / "src" / TARGET
        else:
            output = Path(tempfile.mkdtemp(prefix="keyscope-scanner-")) / Path(TARGET).name
        try:
            compile_scanner(root, output)
        except (OSError, subprocess.CalledProcessError) as error:
            if os.environ.get("KEYSCOPE_REQUIRE_SCANNER") == "1":
                raise
            print(
                f"keyscope: the JSON-lines scanner was not built ({error}); "
                "logs will be read by DuckDB alone",
                file=sys.stderr,
            )
            return
        if version != "editable":
            build_data["force_include"][str(output)] = TARGET
        build_data["pure_python"] = False
        build_data["infer_tag"] = True


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    compile_scanner(here, here / "src" / TARGET)
    print(f"built src/{TARGET}")
