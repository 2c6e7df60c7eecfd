"""Arguments shared by every command that audits (``audit``, ``browse``, ``fetch``...)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyscope.model import SEVERITIES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from keyscope.settings import Settings


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The audit inputs: config file, spec, keys, usage, the window."""
    group = parser.add_argument_group(
        "inputs (flags override KEYSCOPE_* variables and the config file)"
    )
    group.add_argument(
        "--config", type=Path, help="keyscope.toml to read (default: ./keyscope.toml)"
    )
    group.add_argument("--spec", type=Path, help="the OpenAPI or Swagger file")
    group.add_argument("--keys", type=Path, help="key inventory: YAML, JSON or CSV")
    group.add_argument(
        "--usage", action="append", metavar="FILE_OR_GLOB",
        help="request logs: JSON lines, CSV, Parquet (.gz too), HAR; repeatable",
    )  # fmt: skip
    group.add_argument(
        "--as-of", dest="as_of", help="end of the usage window (date or ISO time; default now)"
    )
    group.add_argument(
        "--window-days", dest="window_days", type=int,
        help="length of the usage window (default 90)",
    )  # fmt: skip
    group.add_argument(
        "--semantics", choices=("auto", "all", "any"),
        help="how several scopes in one requirement object are read (default auto)",
    )  # fmt: skip
    group.add_argument(
        "--suppressions", type=Path,
        help="suppressions file (default: keyscope-suppressions.yaml beside the config file)",
    )  # fmt: skip
    group.add_argument(
        "--snapshot", type=Path, metavar="DIR",
        help="audit a folder written by `keyscope fetch` "
        "(its spec, keys and usage replace the others)",
    )  # fmt: skip


def add_severity_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on", dest="fail_on", choices=SEVERITIES,
        help="exit 1 when a finding at or above this severity remains (default: never)",
    )  # fmt: skip


def input_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The subset of parsed arguments that are settings, for ``load_settings``."""
    names = ("spec", "keys", "usage", "as_of", "window_days", "semantics", "suppressions",
             "baseline", "history", "snapshot")  # fmt: skip
    return {name: getattr(args, name, None) for name in names}


def refuse_overwriting_inputs(
    outputs: Iterable[Path], settings: Settings, *, keep_baseline: Iterable[Path] = ()
) -> None:
    """No output over a file this run reads (a usage error before anything is read).

    ``keep_baseline``: outputs allowed to be the baseline, the rolling baseline's JSON
    (it is read whole before anything is written); any other output over it is refused.
    Anything inside a snapshot folder is an input too: writing there breaks its digests
    (the history folder included).
    """
    from keyscope.output import canonical, refuse_writing_over_inputs

    rolling = {canonical(path) for path in keep_baseline}
    baseline = settings.baseline
    if settings.history is not None:
        outputs = [*outputs, settings.history]
    refuse_writing_over_inputs(
        outputs,
        {
            "spec": settings.spec,
            "key inventory": settings.keys,
            "config file": settings.config_path,
            "suppressions file": settings.suppressions,
            "baseline": baseline if baseline and canonical(baseline) not in rolling else None,
        },
        (source.path for source in settings.usage),
        {"snapshot folder": settings.snapshot},
    )
