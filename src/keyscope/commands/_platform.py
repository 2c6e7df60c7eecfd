"""Arguments and set-up shared by the commands that talk to the platform (fetch, audit
--live, apply, sandbox).

There is deliberately no option that takes the API key or a token: argv is readable by
every user of the machine (``/proc/<pid>/cmdline``, ``ps``).  The key comes from
``KEYSCOPE_API_KEY``, ``[platform] api_key_file`` or the system keyring.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyscope.settings import Settings
    from keyscope.sources.live import PlatformClient, PlatformSettings


def add_platform_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` and ``--no-trust-env`` (the API key has no option, on purpose)."""
    group = parser.add_argument_group(
        "platform (the API key comes from KEYSCOPE_API_KEY, [platform] api_key_file "
        "or the system keyring; never from an option)"
    )
    group.add_argument(
        "--base-url",
        dest="base_url",
        metavar="URL",
        help="the partner API, e.g. https://api.example.test (default: [platform] base_url "
        "or KEYSCOPE_PLATFORM_URL); plain http:// only to loopback",
    )
    group.add_argument(
        "--no-trust-env",
        dest="trust_env",
        action="store_false",
        default=None,
        help="ignore HTTPS_PROXY/NO_PROXY/SSL_CERT_FILE from the environment",
    )


def platform_settings(settings: Settings, args: argparse.Namespace) -> PlatformSettings:
    """The typed ``[platform]`` table with command-line overrides applied."""
    from pathlib import Path

    from keyscope.sources.live import parse_platform_settings

    where = str(settings.config_path) if settings.config_path else "keyscope.toml"
    base = settings.config_path.parent if settings.config_path else Path.cwd()
    overrides: dict[str, Any] = {
        "base_url": getattr(args, "base_url", None),
        "trust_env": getattr(args, "trust_env", None),
    }
    return parse_platform_settings(settings.platform, where=where, base=base, overrides=overrides)


def open_client(platform: PlatformSettings, args: argparse.Namespace) -> PlatformClient:
    """Resolve the API key and open the one client for this run.

    Raises:
        ConfigError: no base URL, or no API key anywhere.
    """
    from keyscope.errors import ConfigError
    from keyscope.sources.live import PlatformClient, describe_network, resolve_api_key

    if not platform.base_url:
        raise ConfigError(
            "keyscope.toml",
            "no platform base URL: set [platform] base_url, KEYSCOPE_PLATFORM_URL or --base-url",
            "platform.base_url",
        )
    if getattr(args, "debug", False):
        for line in describe_network(platform):
            print(f"keyscope: {line}", file=sys.stderr)
    credential = resolve_api_key(platform)
    return PlatformClient(platform, credential)


class ProgressReporter:
    """Progress on stderr: a redrawn bar on a terminal, a plain line per stage otherwise."""

    def __init__(self, stream: Any = None, *, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stage = ""
        self._last: tuple[str, int, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._draw(stage, done, total)
            return
        if stage != self._stage:
            self._finish_plain()
            self._stage = stage
        self._last = (stage, done, total)

    def _draw(self, stage: str, done: int, total: int) -> None:
        width = 30
        if total > 0:
            filled = min(width, width * done // total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"\r{stage:<6} [{bar}] {done}/{total}"
        else:
            text = f"\r{stage:<6} {done} read"
        self.stream.write(text.ljust(60))
        if total > 0 and done >= total:
            self.stream.write("\n")
        self.stream.flush()

    def _finish_plain(self) -> None:
        if self._last is None:
            return
        stage, done, total = self._last
        amount = f"{done}/{total}" if total else f"{done}"
        self.stream.write(f"keyscope: fetched {stage}: {amount}\n")
        self.stream.flush()
        self._last = None

    def close(self) -> None:
        """End the last line."""
        if self.enabled and not self.tty:
            self._finish_plain()


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """``--live`` (fetch fresh data first) plus the platform options."""
    parser.add_argument(
        "--live",
        action="store_true",
        help="fetch spec, keys and usage from the platform into a temporary snapshot, "
        "then audit it (as `keyscope fetch` + `--snapshot` would)",
    )
    add_platform_arguments(parser)


@contextlib.contextmanager
def live_snapshot(settings: Settings, args: argparse.Namespace) -> Iterator[Settings]:
    """With ``--live``: fetch into a temporary folder and yield settings pointing at it.

    Without ``--live`` the settings pass through unchanged.  The folder is removed when
    the block ends.

    Raises:
        UsageError: ``--live`` together with a snapshot.
        FetchError: the platform could not be read.
    """
    if not getattr(args, "live", False):
        yield settings
        return
    import tempfile
    from pathlib import Path

    from keyscope.commands.fetch import fetch_with_settings
    from keyscope.errors import UsageError

    if getattr(args, "snapshot", None) is not None:
        raise UsageError("--live fetches its own snapshot; leave out --snapshot")
    with tempfile.TemporaryDirectory(prefix="keyscope-live-") as folder:
        manifest = fetch_with_settings(
            settings, args, Path(folder) / "snapshot", quiet=getattr(args, "quiet", False)
        )
        yield settings.with_overrides(snapshot=manifest.folder)
