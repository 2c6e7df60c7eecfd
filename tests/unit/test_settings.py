"""Settings precedence: flag > KEYSCOPE_* > keyscope.toml > default.

Paths are relative to where they were given (the config file, or the working folder)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyscope.errors import ConfigError
from keyscope.settings import DEFAULT_RISK_WEIGHTS, load_settings, parse_as_of


def write_config(folder: Path, text: str) -> Path:
    path = folder / "keyscope.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    settings = load_settings({}, env={}, cwd=tmp_path)
    assert settings.config_path is None
    assert settings.window_days == 90
    assert settings.min_key_age_days == 30
    assert settings.semantics == "auto"
    assert settings.spec is None
    assert dict(settings.risk_weights) == DEFAULT_RISK_WEIGHTS


def test_file_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    write_config(
        folder,
        'spec = "specs/api.yaml"\nkeys = "keys.yaml"\nas_of = "2026-11-01"\nwindow_days = 30\n'
        '[[usage]]\npath = "logs/*.jsonl.gz"\n'
        '[[usage]]\npath = "gateway.csv"\n'
        'fields = { timestamp = "time", key_id = "api_key_id" }\n',
    )
    settings = load_settings({}, env={}, cwd=folder)
    assert settings.spec == (folder / "specs/api.yaml").resolve()
    assert settings.keys == (folder / "keys.yaml").resolve()
    assert settings.as_of == datetime(2026, 11, 1, tzinfo=UTC)
    assert settings.window_days == 30
    assert [source.path for source in settings.usage] == [
        str(folder.resolve() / "logs/*.jsonl.gz"),
        str(folder.resolve() / "gateway.csv"),
    ]
    assert dict(settings.usage[1].fields) == {"timestamp": "time", "key_id": "api_key_id"}


def test_parent_steps_in_a_config_reached_through_a_link_climb_from_the_target(
    tmp_path: Path,
) -> None:
    # srv/prod -> repo/configs/prod; "../../data/api.yaml" there means repo/data/api.yaml,
    # as the system (and a shell) reads it, not srv/../data/api.yaml.
    real = tmp_path / "repo" / "configs" / "prod"
    real.mkdir(parents=True)
    (tmp_path / "repo" / "data").mkdir()
    (tmp_path / "repo" / "data" / "api.yaml").write_text("x", encoding="utf-8")
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "prod").symlink_to(real, target_is_directory=True)
    write_config(real, 'spec = "../../data/api.yaml"\n')
    config = tmp_path / "srv" / "prod" / "keyscope.toml"
    settings = load_settings({}, config=config, env={}, cwd=tmp_path)
    assert settings.spec is not None and settings.spec.is_file()
    assert settings.spec.resolve() == (tmp_path / "repo" / "data" / "api.yaml").resolve()


def test_environment_beats_file_and_flag_beats_environment(tmp_path: Path) -> None:
    write_config(tmp_path, "window_days = 30\nas_of = 2026-11-01\n")
    env = {"KEYSCOPE_WINDOW_DAYS": "60", "KEYSCOPE_AS_OF": "2026-10-01"}
    from_env = load_settings({}, env=env, cwd=tmp_path)
    assert from_env.window_days == 60
    assert from_env.as_of == datetime(2026, 10, 1, tzinfo=UTC)
    from_flag = load_settings({"window_days": 7, "as_of": None}, env=env, cwd=tmp_path)
    assert from_flag.window_days == 7
    assert from_flag.as_of == datetime(2026, 10, 1, tzinfo=UTC)


def test_explicit_config_and_keyscope_config_variable(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("min_key_age_days = 5\n", encoding="utf-8")
    assert load_settings({}, config=elsewhere, env={}, cwd=tmp_path).min_key_age_days == 5
    env = {"KEYSCOPE_CONFIG": str(elsewhere)}
    assert load_settings({}, env=env, cwd=tmp_path).min_key_age_days == 5


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("windw_days = 3\n", "unknown setting 'windw_days'"),
        ("window_days = 'ninety'\n", "window_days: expected a whole number from 1 to 36600"),
        ("semantics = 'some'\n", "semantics: expected auto, all or any"),
        ("spec = 3\n", "spec: expected a path string"),
        ("[[usage]]\nkind = 'jsonl'\n", "'path' must be a non-empty string"),
        ("[[usage]]\npath = 'a'\nfields = { when = 'time' }\n", "unknown field 'when'"),
        (
            "[[usage]]\npath = 'a'\nfields = { timestamp = '' }\n",
            "fields.timestamp names no column",
        ),
        ("window_days = [\n", "not valid TOML"),
        ("as_of = '2026-13-01'\n", "not a date"),
        ("window_days = 0\n", "from 1 to 36600, got 0"),
        ("window_days = 100000000\n", "from 1 to 36600"),
        ("min_key_age_days = 40000\n", "from 0 to 36600"),
        ("as_of = 9999-12-31T23:59:59Z\n", "between 1970-01-01 and 9000-01-01"),
        ("as_of = 0001-01-02\n", "not 0001-01-02"),
        ("as_of = '9999-12-31T23:59:59-12:00'\n", "not a date"),
    ],
)
def test_bad_config_is_one_line_error_naming_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings({}, env={}, cwd=tmp_path)
    message = str(caught.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings({}, config=tmp_path / "nope.toml", env={}, cwd=tmp_path)


def test_default_suppressions_file_is_picked_up_beside_the_config(tmp_path: Path) -> None:
    write_config(tmp_path, "")
    (tmp_path / "keyscope-suppressions.yaml").write_text("suppressions: []\n", encoding="utf-8")
    settings = load_settings({}, env={}, cwd=tmp_path)
    assert settings.suppressions == (tmp_path / "keyscope-suppressions.yaml").resolve()


def test_risk_weights_from_file_extend_the_defaults(tmp_path: Path) -> None:
    write_config(tmp_path, '[risk_weights]\n"payouts:write" = 40\n"reports:read" = 1\n')
    weights = load_settings({}, env={}, cwd=tmp_path).risk_weights
    assert weights["payouts:write"] == 40
    assert weights["reports:read"] == 1
    assert weights["refunds:write"] == DEFAULT_RISK_WEIGHTS["refunds:write"]


def test_parse_as_of_forms() -> None:
    assert parse_as_of("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_as_of("2026-11-01T12:00:00Z") == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert parse_as_of("2026-11-01T14:00:00+02:00") == datetime(2026, 11, 1, 12, tzinfo=UTC)
    with pytest.raises(ConfigError):
        parse_as_of("yesterday")


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-12:00", "0001-01-02", "1969-12-31"]
)
def test_as_of_outside_the_calendar_keyscope_reasons_about_is_an_input_error(text: str) -> None:
    # These overflowed the window's date arithmetic (an internal error, exit 70) before.
    with pytest.raises(ConfigError) as caught:
        parse_as_of(text)
    assert "--as-of" in str(caught.value)


def test_window_days_from_the_environment_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"KEYSCOPE_WINDOW_DAYS.*from 1 to 36600"):
        load_settings({}, env={"KEYSCOPE_WINDOW_DAYS": "1000000"}, cwd=tmp_path)
    assert load_settings({}, env={"KEYSCOPE_WINDOW_DAYS": "36600"}, cwd=tmp_path).window_days == (
        36600
    )
