"""Settings: one frozen dataclass, resolved from flags, environment, file and defaults.

Precedence, highest first: command-line flag, ``KEYSCOPE_*`` environment variable,
``keyscope.toml`` (the working folder's, or ``--config``), built-in default.
Relative paths in the file are relative to the file; on the command line and in the
environment they are relative to the working folder.  Unknown keys in the file are
an error (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from keyscope.errors import ConfigError
from keyscope.redaction import redact

CONFIG_NAME = "keyscope.toml"
SUPPRESSIONS_NAME = "keyscope-suppressions.yaml"
USAGE_FIELDS = ("timestamp", "key_id", "method", "path", "status")
USAGE_KINDS = ("jsonl", "csv", "parquet", "har", "aggregate")

DEFAULT_RISK_WEIGHTS: dict[str, int] = {
    # Money leaves the platform: the worst a stolen key can do.
    "payouts:write": 30,
    "refunds:write": 25,
    "payments:write": 20,
    # Redirects the event stream (change the endpoint URL, read every event).
    "webhooks:write": 18,
    # Redirects payers to a page of the attacker's choosing.
    "checkout:write": 15,
    # Customer personal data.
    "customers:read": 12,
    "customers:write": 10,
    "invoices:write": 8,
    "payouts:read": 5,
    "payments:read": 4,
    "refunds:read": 3,
    "invoices:read": 3,
    "webhooks:read": 3,
    "checkout:read": 2,
    # Minting and revoking keys is privilege escalation.
    "api_keys:write": 30,
    "api_keys:read": 6,
}
"""Risk points per scope; a key's score is the capped sum over its effective grants."""


@dataclass(frozen=True, slots=True)
class UsageSource:
    """One ``[[usage]]`` entry: files (a glob) and how to read them."""

    path: str
    """A file or a glob, already made absolute."""
    kind: str | None = None
    """``jsonl``, ``csv``, ``parquet``, ``har`` or ``aggregate``; None: from the extension."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Canonical field name -> the source's column name."""
    timezone: str | None = None
    """Zone for timestamps the source writes without one (``UTC``, ``+02:00``,
    ``Europe/Berlin``); None: such timestamps are bad lines."""
    key_id: str | None = None
    """For a HAR capture: the key id its requests count for (default ``har:<file stem>``)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know; built by :func:`load_settings`."""

    config_path: Path | None = None
    """The file the settings came from, if any."""
    spec: Path | None = None
    keys: Path | None = None
    usage: tuple[UsageSource, ...] = ()
    as_of: datetime | None = None
    """End of the usage window (UTC); None means now."""
    window_days: int = 90
    min_key_age_days: int = 30
    """Keys younger than this at ``as_of`` are too new to judge."""
    semantics: str = "auto"
    """How several scopes in one requirement object are read: ``auto``, ``all`` or ``any``."""
    sentinel_scopes: tuple[str, ...] = ("none",)
    """Scope names that mean "no scope required"."""
    implications: tuple[tuple[str, str], ...] = ()
    """Extra ``(stronger, weaker)`` implication edges."""
    write_implies_read: str | bool = "auto"
    """``area:write`` grants ``area:read``: ``auto`` follows the spec's
    ``x-write-implies-read`` (the partner platform declares it), true or false overrides."""
    scope_extensions: tuple[str, ...] = ()
    """Extra vendor extensions to read scopes from (besides x-scopes and friends)."""
    scope_tag_prefix: str = "scope:"
    """Operation tags starting with this name a required scope."""
    allow_external_refs: bool = False
    risk_weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RISK_WEIGHTS))
    bad_line_threshold: float = 0.01
    """Fraction of unreadable usage lines above which the run is marked incomplete."""
    min_coverage: float = 0.8
    """Fraction of window days that must have data for high confidence."""
    suppressions: Path | None = None
    baseline: Path | None = None
    history: Path | None = None
    snapshot: Path | None = None
    platform: Mapping[str, Any] = field(default_factory=dict)
    """The raw ``[platform]`` table, read by the live client."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """``keyscope browse`` key bindings to remap: binding id -> keys (``[keymap]`` table)."""

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_FILE_KEYS = {
    "spec", "keys", "usage", "as_of", "window_days", "min_key_age_days", "semantics",
    "sentinel_scopes", "implications", "write_implies_read", "scope_extensions",
    "scope_tag_prefix", "allow_external_refs", "risk_weights", "bad_line_threshold",
    "min_coverage", "suppressions", "baseline", "history", "snapshot", "platform",
    "keymap",
}  # fmt: skip

_ENV = {
    "KEYSCOPE_SPEC": "spec",
    "KEYSCOPE_KEYS": "keys",
    "KEYSCOPE_USAGE": "usage",
    "KEYSCOPE_AS_OF": "as_of",
    "KEYSCOPE_WINDOW_DAYS": "window_days",
    "KEYSCOPE_MIN_KEY_AGE_DAYS": "min_key_age_days",
    "KEYSCOPE_SEMANTICS": "semantics",
    "KEYSCOPE_SUPPRESSIONS": "suppressions",
    "KEYSCOPE_BASELINE": "baseline",
    "KEYSCOPE_HISTORY": "history",
    "KEYSCOPE_SNAPSHOT": "snapshot",
}


MAX_WINDOW_DAYS = 36_600
"""About a century: any longer window is a typo, and its dates would leave the calendar."""
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(9000, 1, 1, tzinfo=UTC)
"""The moments keyscope reasons about (``as_of``, an inventory's dates): far enough from
year 1 and 9999 for any window's or key age's date arithmetic."""


def parse_as_of(text: str, where: str = "--as-of") -> datetime:
    """Read a date or an ISO timestamp; a date means the end of that day is excluded.

    ``2026-11-01`` is midnight UTC at the start of that day.  A timestamp without a
    timezone is taken as UTC.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConfigError(where, f"not a date or ISO timestamp: {text!r}") from None
    return check_as_of(moment, where)


def _least_days(name: str) -> int:
    return 1 if name == "window_days" else 0


def _day_count(name: str, value: int, where: str, label: str = "", place: str = "") -> int:
    """``value`` if it is a day count ``name`` may hold, else a ConfigError."""
    if not _least_days(name) <= value <= MAX_WINDOW_DAYS:
        raise ConfigError(
            where,
            f"{label}expected a whole number from {_least_days(name)} to {MAX_WINDOW_DAYS}, "
            f"got {value}",
            place,
        )
    return value


def check_as_of(moment: datetime, where: str) -> datetime:
    """``moment`` if it lies in the years keyscope can reason about, else a ConfigError."""
    if not EARLIEST_DATE <= moment <= LATEST_DATE:
        raise ConfigError(
            where,
            f"as_of must lie between {EARLIEST_DATE.date()} and {LATEST_DATE.date()}, "
            f"not {moment.date().isoformat()}",
        )
    return moment


def find_config(explicit: Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to read: ``--config``, then ``KEYSCOPE_CONFIG``, then ``./keyscope.toml``."""
    if explicit is not None:
        _check_config_file(explicit, "")
        return explicit
    if env.get("KEYSCOPE_CONFIG"):
        candidate = Path(env["KEYSCOPE_CONFIG"])
        _check_config_file(candidate, " (KEYSCOPE_CONFIG)")
        return candidate
    candidate = cwd / CONFIG_NAME
    return candidate if candidate.is_file() else None


def _check_config_file(path: Path, origin: str) -> None:
    """A config file that was asked for must be a readable regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(str(path), f"config file not found{origin}") from None
    except OSError as error:  # a loop of links, a name too long...
        raise ConfigError(str(path), f"cannot read{origin}: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(str(path), f"is not a regular file{origin}")


def _absolute(base: Path, value: str | Path) -> Path:
    """``value`` made absolute against ``base`` and otherwise left as written: links are
    not followed here (one policy for every input, so reports name what was given, and a
    loop of links is the reader's one-line error), and ``..`` is left to the system,
    which climbs from where a link leads, as a shell does."""
    path = Path(value)
    return path if path.is_absolute() else base / path


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings from flags, environment, config file and defaults.

    Args:
        flags: Values given on the command line; ``None`` values count as not given.
        config: ``--config``, if given.
        env: The environment (``os.environ`` by default).
        cwd: The working folder (the current one by default).

    Returns:
        The resolved settings, paths absolute.

    Raises:
        ConfigError: the file is unreadable, not TOML, or holds unknown or mistyped keys.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    config_path = find_config(config, env, cwd)
    merged: dict[str, Any] = {}
    if config_path is not None:
        merged.update(_read_config_file(config_path))
    for variable, name in _ENV.items():
        if env.get(variable):
            merged[name] = _from_env(name, env[variable], variable, cwd)
    for name, value in (flags or {}).items():
        if value is None or value == () or value == []:
            continue
        merged[name] = _from_flag(name, value, cwd)
    settings = Settings(
        config_path=_absolute(cwd, config_path) if config_path else None, **merged
    )
    if settings.suppressions is None:
        default = (config_path.parent if config_path else cwd) / SUPPRESSIONS_NAME
        if default.is_file():
            settings = replace(settings, suppressions=_absolute(cwd, default))
    return settings


def _read_config_file(path: Path) -> dict[str, Any]:
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(where, f"not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(where, f"cannot read: {error}") from None
    unknown = sorted(set(raw) - _FILE_KEYS)
    if unknown:
        raise ConfigError(where, f"unknown setting {unknown[0]!r}", place=unknown[0])
    base = _absolute(Path.cwd(), path.parent)  # relative paths in the file start here
    values: dict[str, Any] = {}
    for name, value in raw.items():
        values[name] = _convert(name, value, where, base)
    return values


def _convert(name: str, value: Any, where: str, base: Path) -> Any:
    """Check one file value's type and convert it to the Settings field's type."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(where, f"{name}: expected {expected}, got {type(value).__name__}", name)

    if name in ("spec", "keys", "suppressions", "baseline", "history", "snapshot"):
        if not isinstance(value, str):
            raise fail("a path string")
        if "\x00" in value:
            raise ConfigError(where, f"{name}: the path holds a NUL character", name)
        return _absolute(base, value)
    if name == "usage":
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise fail("a list of [[usage]] tables")
        return tuple(_usage_source(entry, where, base, index) for index, entry in enumerate(value))
    if name == "as_of":
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            try:
                return check_as_of(moment.astimezone(UTC), f"{where}:as_of")
            except OverflowError:
                raise fail("a date between 1970 and 9000") from None
        if isinstance(value, date):
            moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
            return check_as_of(moment, f"{where}:as_of")
        if isinstance(value, str):
            return parse_as_of(value, f"{where}:as_of")
        raise fail("a date")
    if name in ("window_days", "min_key_age_days"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"a whole number from {_least_days(name)} to {MAX_WINDOW_DAYS}")
        return _day_count(name, value, where, f"{name}: ", name)
    if name in ("bad_line_threshold", "min_coverage"):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise fail("a number from 0 to 1")
        return float(value)
    if name == "semantics":
        if value not in ("auto", "all", "any"):
            raise ConfigError(where, f"semantics: expected auto, all or any, got {value!r}", name)
        return value
    if name == "write_implies_read":
        if value != "auto" and not isinstance(value, bool):
            raise fail('"auto", true or false')
        return value
    if name == "allow_external_refs":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if name == "scope_tag_prefix":
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if name in ("sentinel_scopes", "scope_extensions"):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise fail("a list of strings")
        return tuple(value)
    if name == "implications":
        if not isinstance(value, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(s, str) for s in pair)
            for pair in value
        ):
            raise fail('a list of ["stronger", "weaker"] pairs')
        return tuple((pair[0], pair[1]) for pair in value)
    if name == "risk_weights":
        if not isinstance(value, dict) or not all(
            isinstance(weight, int) and not isinstance(weight, bool) and weight >= 0
            for weight in value.values()
        ):
            raise fail("a table of scope = whole number")
        return {**DEFAULT_RISK_WEIGHTS, **value}
    if name == "platform":
        if not isinstance(value, dict):
            raise fail("a table")
        return dict(value)
    if name == "keymap":
        if not isinstance(value, dict) or not all(
            isinstance(keys, str) and keys.strip() for keys in value.values()
        ):
            raise fail('a table of binding-id = "keys"')
        return dict(value)
    raise ConfigError(where, f"unknown setting {name!r}", name)  # pragma: no cover


def _usage_source(entry: Any, where: str, base: Path, index: int) -> UsageSource:
    place = f"usage[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(where, "expected a table with a 'path'", place)
    unknown = sorted(set(entry) - {"path", "kind", "fields", "timezone", "key_id"})
    if unknown:
        raise ConfigError(where, f"unknown key {unknown[0]!r}", place)
    path = entry.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError(where, "'path' must be a non-empty string", place)
    if "\x00" in path:
        raise ConfigError(where, "'path' holds a NUL character", place)
    kind = entry.get("kind")
    if kind is not None and kind not in USAGE_KINDS:
        raise ConfigError(where, f"kind must be one of {', '.join(USAGE_KINDS)}", place)
    fields = entry.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ConfigError(where, "fields must map canonical names to column names", place)
    empty = sorted(name for name, column in fields.items() if not column)
    if empty:
        raise ConfigError(where, f"fields.{empty[0]} names no column (it is empty)", place)
    unknown_fields = sorted(set(fields) - set(USAGE_FIELDS))
    if unknown_fields:
        raise ConfigError(
            where, f"unknown field {unknown_fields[0]!r} (known: {', '.join(USAGE_FIELDS)})", place
        )
    optional: dict[str, str] = {}
    for name in ("timezone", "key_id"):
        value = entry.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(where, f"{name} must be a non-empty string", place)
        if value is not None:
            optional[name] = value.strip()
    return UsageSource(path=str(_absolute(base, path)), kind=kind, fields=dict(fields), **optional)


def _from_env(name: str, text: str, variable: str, cwd: Path) -> Any:
    if name == "usage":
        return tuple(
            UsageSource(path=str(_absolute(cwd, part)))
            for part in text.split(os.pathsep)
            if part
        )
    if name == "as_of":
        return parse_as_of(text, variable)
    if name in ("window_days", "min_key_age_days"):
        if not text.isdigit():
            raise ConfigError(
                variable,
                f"expected a whole number from {_least_days(name)} to {MAX_WINDOW_DAYS}, "
                f"got {redact(text)[:40]!r}",  # masked first: a cut secret looks like none
            )
        return _day_count(name, int(text), variable)
    if name == "semantics":
        if text not in ("auto", "all", "any"):
            raise ConfigError(variable, f"expected auto, all or any, got {text!r}")
        return text
    return _absolute(cwd, text)


def _from_flag(name: str, value: Any, cwd: Path) -> Any:
    if name == "usage":
        return tuple(
            item if isinstance(item, UsageSource) else UsageSource(path=str(_absolute(cwd, item)))
            for item in value
        )
    if isinstance(value, Path):
        return _absolute(cwd, value)
    if name == "as_of" and isinstance(value, str):
        return parse_as_of(value)
    return value
