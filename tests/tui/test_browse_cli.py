"""``keyscope browse`` on the command line (the app itself is tested with Pilot)."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest

from keyscope.cli import build_parser, main
from keyscope.commands.browse import build_app
from keyscope.tui.app import KeyscopeApp, make_app


def test_browse_refuses_without_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # as in a cron job, even under pytest -s
    assert main(["browse"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "keyscope: error: keyscope browse needs a terminal; use keyscope audit in scripts and jobs"
    )


def test_browse_takes_the_audit_inputs() -> None:
    args = build_parser().parse_args(
        ["browse", "--spec", "s.yaml", "--keys", "k.yaml", "--usage", "a.jsonl", "--usage", "b.csv",
         "--as-of", "2026-11-01", "--window-days", "30", "--suppressions", "sup.yaml"]
    )  # fmt: skip
    app = build_app(args)
    assert isinstance(app, KeyscopeApp)
    settings = app.settings
    assert settings.spec is not None and settings.spec.name == "s.yaml"
    assert [source.path.rsplit("/", 1)[-1] for source in settings.usage] == ["a.jsonl", "b.csv"]
    assert settings.window_days == 30
    assert settings.as_of is not None and settings.as_of.isoformat() == "2026-11-01T00:00:00+00:00"
    assert app.suppressions_path.name == "sup.yaml"


def test_live_and_snapshot_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from keyscope.errors import UsageError

    args = build_parser().parse_args(["browse", "--live", "--snapshot", "snap"])
    with pytest.raises(UsageError, match="leave out --snapshot"):
        build_app(args)


def test_help_does_not_import_textual() -> None:
    code = (
        "import sys; from keyscope.cli import build_parser; build_parser();"
        " print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_suppressions_go_where_the_scheduled_audit_looks(tmp_path: Any) -> None:
    from keyscope.settings import load_settings

    config_dir = tmp_path / "audit"
    config_dir.mkdir()
    (config_dir / "keyscope.toml").write_text('spec = "s.yaml"\n', encoding="utf-8")
    work = tmp_path / "elsewhere"
    work.mkdir()
    settings = load_settings({}, config=config_dir / "keyscope.toml", env={}, cwd=work)
    app = make_app(settings, cwd=work)
    assert app.suppressions_path == config_dir.resolve() / "keyscope-suppressions.yaml"
    # Once the file exists there, load_settings finds it: the next audit applies it.
    app.suppressions_path.write_text("suppressions: []\n", encoding="utf-8")
    again = load_settings({}, config=config_dir / "keyscope.toml", env={}, cwd=work)
    assert again.suppressions == app.suppressions_path
    assert make_app(load_settings({}, env={}, cwd=work), cwd=work).suppressions_path == (
        work / "keyscope-suppressions.yaml"
    )


async def test_keymap_from_the_config_remaps_bindings(tmp_path: Any) -> None:
    from keyscope.settings import load_settings
    from keyscope.tui.widgets.key_table import KeyTable

    from .conftest import build_run

    (tmp_path / "keyscope.toml").write_text('[keymap]\nfacet-legacy = "L"\n', encoding="utf-8")
    settings = load_settings({}, env={}, cwd=tmp_path)
    assert settings.keymap == {"facet-legacy": "L"}
    run = build_run()
    app = make_app(settings, lambda _settings: run, cwd=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(KeyTable)
        await pilot.press("l")  # the old key does nothing now
        await pilot.pause()
        assert table.row_count == 12
        await pilot.press("L")
        await pilot.pause()
        assert table.row_count == 2


def test_a_bad_keymap_is_a_config_error(tmp_path: Any) -> None:
    from keyscope.errors import ConfigError
    from keyscope.settings import load_settings

    (tmp_path / "keyscope.toml").write_text("[keymap]\nfacet-legacy = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="keymap: expected a table"):
        load_settings({}, env={}, cwd=tmp_path)
