"""The templates live in reports/templates/ and ship inside the wheel as keyscope/templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from keyscope.report.templates import template_folder

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = ("report.html.j2", "_macros.html.j2", "report.css", "report.js")


def test_checkout_uses_the_top_level_folder() -> None:
    assert template_folder() == REPO / "reports" / "templates"
    for name in TEMPLATES:
        assert (template_folder() / name).is_file()


@pytest.mark.slow
def test_wheel_ships_the_templates_and_renders_from_them(tmp_path: Path) -> None:
    import hatchling  # noqa: F401 - the build backend; a test dependency (pyproject "test" extra)

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("keyscope-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in TEMPLATES:
            assert f"keyscope/templates/{name}" in names
            packaged = archive.read(f"keyscope/templates/{name}")
            assert packaged == (REPO / "reports" / "templates" / name).read_bytes()
        # The JSON-lines scanner is compiled into the wheel (hatch_build.py), once.
        scanners = [name for name in names if name.startswith("keyscope/sources/_jsonl_scan")]
        assert len(scanners) == 1, scanners
        archive.extractall(tmp_path / "installed")
    script = (
        "import sys; sys.path.insert(0, 'tests');"
        "import keyscope.report.templates as t; print(t.template_folder());"
        "from report._factory import build_result; from keyscope.report.html import render_html;"
        "print(len(render_html(build_result())));"
        "from keyscope.sources import usage; print(usage._jsonl_scan.__file__)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(tmp_path / "installed"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    folder, size, scanner = run.stdout.split()
    assert Path(folder) == tmp_path / "installed" / "keyscope" / "templates"
    assert int(size) > 10_000
    assert Path(scanner).parent == tmp_path / "installed" / "keyscope" / "sources"
