"""``keyscope fetch``: pull the spec, the keys and their usage into a snapshot folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keyscope.commands._platform import add_platform_arguments

DESCRIPTION = """\
Fetch the platform's OpenAPI spec, its API keys and each key's requests in the usage
window into a snapshot folder (spec.json, keys.json, usage.jsonl.gz, manifest.json),
so the audit can be reproduced offline with `keyscope audit --snapshot DIR`.

The API key is read from KEYSCOPE_API_KEY, [platform] api_key_file or the system
keyring. If the platform's data could not be read whole (a cursor loop, the page cap,
a key whose requests are forbidden), the snapshot is still written and its manifest
says what is missing; --fail-on-incomplete then exits 4.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="pull spec, keys and usage from the platform into a snapshot folder",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, help="keyscope.toml to read (default: ./keyscope.toml)"
    )
    parser.add_argument(
        "--output", "-o", type=Path, required=True, metavar="DIR",
        help="the snapshot folder (created; an earlier snapshot there is replaced)",
    )  # fmt: skip
    parser.add_argument(
        "--as-of", dest="as_of", help="end of the usage window (date or ISO time; default now)"
    )
    parser.add_argument(
        "--window-days",
        dest="window_days",
        type=int,
        help="length of the usage window (default 90)",
    )
    add_platform_arguments(parser)
    parser.add_argument(
        "--fail-on-incomplete", dest="fail_on_incomplete", action="store_true",
        help="exit 4 when the snapshot is incomplete (it is written anyway)",
    )  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from keyscope.errors import EXIT_INCOMPLETE, EXIT_OK
    from keyscope.settings import load_settings

    settings = load_settings(
        {"as_of": args.as_of, "window_days": args.window_days}, config=args.config
    )
    manifest = fetch_with_settings(settings, args, args.output, quiet=args.quiet)
    print(summary_line(manifest))
    if not manifest.complete and args.fail_on_incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK


def fetch_with_settings(
    settings: Any, args: argparse.Namespace, output: Path, *, quiet: bool
) -> Any:
    """Fetch a snapshot with the run's settings (also used by ``audit --live``)."""
    import sys
    from datetime import UTC, datetime

    from keyscope.commands._platform import ProgressReporter, open_client, platform_settings
    from keyscope.sources.snapshot import fetch_snapshot

    platform = platform_settings(settings, args)
    as_of = settings.as_of or datetime.now(UTC).replace(microsecond=0)
    progress = ProgressReporter(sys.stderr, enabled=not quiet)
    with open_client(platform, args) as client:
        try:
            manifest = fetch_snapshot(
                client, output, as_of=as_of, window_days=settings.window_days, progress=progress
            )
        finally:
            progress.close()
    for reason in manifest.incomplete_reasons:
        from keyscope.redaction import redact
        from keyscope.text import one_line

        print(
            f"keyscope: warning: incomplete: {one_line(redact(reason), limit=500)}", file=sys.stderr
        )
    return manifest


def summary_line(manifest: Any) -> str:
    """One line saying what the snapshot holds."""
    from keyscope.text import safe_line

    counts = manifest.counts
    state = (
        "complete"
        if manifest.complete
        else f"INCOMPLETE ({len(manifest.incomplete_reasons)} reasons)"
    )
    return safe_line(
        f"snapshot {manifest.folder}: {counts.get('operations', 0)} operations, "
        f"{counts.get('keys', 0)} keys, {counts.get('usage_events', 0)} requests over "
        f"{manifest.window_days} days from {manifest.base_url}; {state}",
        limit=1000,
    )
