"""The partner-API client: live platform data through one long-lived ``httpx.Client``.

Contract: everything keyscope reads from or writes to the platform goes through
:class:`PlatformClient`.  It never hangs (explicit connect/read/write/pool timeouts
plus an overall deadline per request and per run that bounds every socket operation
of the exchange: connect, TLS handshake, status line, headers and body),
never reads more than ``max_response_bytes`` (counted after decompression), never
sends a credential to another origin (redirects are not followed across origins;
plain ``http://`` only to loopback), never retries forever (jittered exponential
backoff honouring ``Retry-After``, inside a total retry budget), refreshes an access
token once on 401 and then fails clearly, and never returns a silently short list
(pagination guards mark the data incomplete and say why).

Every failure is a :class:`keyscope.errors.FetchError` (exit 5) whose message names
the method and path, never the query string, and is scrubbed of the API key, the
access token and anything else that looks like a secret.

The API key comes from ``KEYSCOPE_API_KEY``, then ``[platform] api_key_file`` (a file
only its owner can read), then the system keyring (the optional ``keyring``
package); there is deliberately no command-line option for it, because argv is
visible to every user of the machine (``/proc/<pid>/cmdline``).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import random
import re
import stat
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpcore
import httpx

from keyscope import __version__
from keyscope.errors import ConfigError, FetchError
from keyscope.redaction import mask, redact
from keyscope.text import one_line

__all__ = [
    "API_KEY_ENV",
    "ApiKeyCredential",
    "ApiResponse",
    "HttpStatusError",
    "PagedResult",
    "PlatformClient",
    "PlatformPaths",
    "PlatformSettings",
    "WriteInDoubtError",
    "backoff_delay",
    "check_base_url",
    "describe_network",
    "is_loopback_host",
    "key_path",
    "make_http_client",
    "parse_platform_settings",
    "parse_retry_after",
    "quiet_http_loggers",
    "resolve_api_key",
]

API_KEY_ENV = "KEYSCOPE_API_KEY"
"""The environment variable holding the platform API key."""
BASE_URL_ENV = "KEYSCOPE_PLATFORM_URL"
"""Overrides ``[platform] base_url`` (not a secret, so a flag exists for it too)."""
KEYRING_SERVICE = "keyscope"
"""Keyring service name; the user name is the base URL's host (``api.example.test``)."""
_MAX_KEY_FILE_BYTES = 4096
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_SAME_ORIGIN_REDIRECTS = 3
_TOKEN_REFRESH_MARGIN = 5.0
"""Seconds before expiry at which a token is exchanged again instead of used."""
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
# Scrubbing masks any run of this many consecutive characters of a held credential,
# not only the whole credential: a platform may echo a cut-down key ("unknown
# credential <key minus 2 chars>") or wrap a token across lines.  10 characters of a
# random key or token are 50-60 bits, so ordinary words, ids and timestamps in an error
# body practically never collide with one (and a collision only over-masks); 8 would
# be a bare type prefix such as ``ks_live_`` plus nothing.  A piece shorter than 10
# that slips through still leaves over 30 of a 40-character key unknown.
_FRAGMENT_CHARS = 10
_NETWORK_VARIABLES = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
)  # fmt: skip


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class PlatformPaths:
    """Paths of the partner API, relative to ``base_url``; ``{id}`` is a key id."""

    token: str = "/v1/auth/token"  # noqa: S105 - a URL path, not a password
    """``POST {"api_key"}`` -> ``{access_token, expires_in, key_id}``."""
    openapi: str = "/v1/openapi.json"
    """``GET``: the platform's OpenAPI description."""
    keys: str = "/v1/api-keys"
    """``GET`` (paginated list) and ``POST`` (create a key)."""
    current_key: str = "/v1/api-keys/current"
    """``GET``: the key the access token was exchanged from."""
    key: str = "/v1/api-keys/{id}"
    """``PATCH``: rename."""
    revoke: str = "/v1/api-keys/{id}/revoke"
    """``POST``: revoke."""
    requests: str = "/v1/api-keys/{id}/requests"
    """``GET`` (paginated): the key's request log."""


@dataclass(frozen=True, slots=True)
class PlatformSettings:
    """The ``[platform]`` table of ``keyscope.toml``, typed and checked."""

    base_url: str = ""
    """``https://api.example.test``; ``http://`` only to a loopback address."""
    paths: PlatformPaths = field(default_factory=PlatformPaths)
    page_limit: int = 100
    """``limit`` asked for on every list call."""
    max_pages: int = 1000
    """Page cap per list; reaching it marks the data incomplete."""
    max_empty_pages: int = 10
    """Consecutive empty pages tolerated while ``has_more`` stays true."""
    max_list_items: int = 1_000_000
    """Items cap per list (all pages together); reaching it marks the data incomplete."""
    max_list_bytes: int = 128 * 1024 * 1024
    """Bytes cap per list (all pages' bodies, decoded); reaching it marks the data incomplete."""
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    """Longest silence between two reads (httpx's timeout is per read, not overall)."""
    write_timeout: float = 15.0
    pool_timeout: float = 5.0
    request_deadline: float = 60.0
    """Overall seconds per request, headers and body, however slowly bytes drip in."""
    run_deadline: float = 900.0
    """Overall seconds for a whole fetch or apply run."""
    max_response_bytes: int = 64 * 1024 * 1024
    """Largest response body accepted, counted after decompression."""
    max_retries: int = 5
    """Retries per request on 429, 5xx and transport errors."""
    retry_budget: float = 120.0
    """Total seconds a run may spend waiting between retries."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    """A ``Retry-After`` longer than this is clamped to it."""
    api_key_file: Path | None = None
    """A file holding the API key; must be readable by its owner only."""
    ca_bundle: Path | None = None
    """Extra CA certificates to trust (verification itself can never be turned off)."""
    trust_env: bool = True
    """Honour ``HTTPS_PROXY``/``NO_PROXY``/``SSL_CERT_FILE`` from the environment."""
    environment: str = ""
    """Name typed to confirm ``apply --execute``; default: the base URL's host."""

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the base URL."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def environment_name(self) -> str:
        """What ``apply`` asks the operator to type."""
        return self.environment or self.host


_NUMBER_FIELDS = {
    "connect_timeout", "read_timeout", "write_timeout", "pool_timeout", "request_deadline",
    "run_deadline", "retry_budget", "backoff_base", "backoff_cap", "retry_after_cap",
}  # fmt: skip
_INT_FIELDS = {
    "page_limit", "max_pages", "max_empty_pages", "max_list_items", "max_list_bytes",
    "max_response_bytes", "max_retries",
}  # fmt: skip
_KNOWN_FIELDS = _NUMBER_FIELDS | _INT_FIELDS | {
    "base_url", "paths", "api_key_file", "ca_bundle", "trust_env", "environment",
}  # fmt: skip


def parse_platform_settings(
    raw: Mapping[str, Any],
    *,
    where: str = "keyscope.toml",
    base: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PlatformSettings:
    """Check and type the raw ``[platform]`` table.

    Args:
        raw: ``settings.platform``.
        where: The config file, for messages.
        base: Folder that relative ``api_key_file``/``ca_bundle`` paths are relative to.
        env: The environment; ``KEYSCOPE_PLATFORM_URL`` overrides ``base_url``.
        overrides: Command-line values (``base_url``, ``trust_env``); ``None`` = not given.

    Returns:
        The typed settings, the base URL checked by :func:`check_base_url`.

    Raises:
        ConfigError: an unknown key, a wrong type, a bad path or a refused base URL.
    """
    env = os.environ if env is None else env
    base = Path.cwd() if base is None else base
    unknown = sorted(set(raw) - _KNOWN_FIELDS)
    if unknown:
        raise ConfigError(
            where, f"[platform]: unknown setting {unknown[0]!r}", f"platform.{unknown[0]}"
        )
    values: dict[str, Any] = {}
    for name, value in raw.items():
        place = f"platform.{name}"
        if name in _INT_FIELDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(where, f"{place}: expected a non-negative whole number", place)
            values[name] = value
        elif name in _NUMBER_FIELDS:
            if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
                raise ConfigError(where, f"{place}: expected a non-negative number", place)
            values[name] = float(value)
        elif name in ("base_url", "environment"):
            if not isinstance(value, str):
                raise ConfigError(where, f"{place}: expected a string", place)
            values[name] = value
        elif name == "trust_env":
            if not isinstance(value, bool):
                raise ConfigError(where, f"{place}: expected true or false", place)
            values[name] = value
        elif name in ("api_key_file", "ca_bundle"):
            if not isinstance(value, str) or not value:
                raise ConfigError(where, f"{place}: expected a path string", place)
            path = Path(value).expanduser()
            values[name] = path if path.is_absolute() else (base / path)
        elif name == "paths":
            values[name] = _parse_paths(value, where)
    # Where the base URL came from, so a refusal names the right place.
    url_origin = (where, "platform.base_url")
    if env.get(BASE_URL_ENV):
        values["base_url"] = env[BASE_URL_ENV]
        url_origin = (BASE_URL_ENV, "")
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
            if name == "base_url":
                url_origin = ("--base-url", "")
    for name in ("page_limit", "max_pages", "max_list_items", "max_list_bytes"):
        if name in values and values[name] < 1:
            raise ConfigError(where, f"platform.{name}: must be at least 1", f"platform.{name}")
    settings = PlatformSettings(**values)
    if settings.base_url:
        try:
            check_base_url(settings.base_url)
        except FetchError as error:
            origin, place = url_origin
            prefix = "platform.base_url: " if place else ""
            raise ConfigError(origin, f"{prefix}{error.message}", place) from None
        settings = replace(settings, base_url=settings.base_url.rstrip("/"))
    return settings


def _parse_paths(value: Any, where: str) -> PlatformPaths:
    if not isinstance(value, dict):
        raise ConfigError(where, "platform.paths: expected a table", "platform.paths")
    known = set(PlatformPaths.__dataclass_fields__)
    unknown = sorted(set(value) - known)
    if unknown:
        listing = ", ".join(sorted(known))
        raise ConfigError(
            where,
            f"platform.paths: unknown path {unknown[0]!r} (known: {listing})",
            f"platform.paths.{unknown[0]}",
        )
    for name, path in value.items():
        place = f"platform.paths.{name}"
        # A path must stay on the base URL's origin: no scheme, no '//host', no '..'.
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or path.startswith("//")
            or "://" in path
            or "/../" in f"{path}/"
            or "?" in path
            or "#" in path
        ):
            raise ConfigError(
                where, f"{place}: expected an absolute path such as '/v1/api-keys'", place
            )
    return PlatformPaths(**value)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (the sandbox's addresses)."""
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost."):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> None:
    """Refuse a base URL keyscope must not send a credential to.

    Raises:
        FetchError: not ``https://`` (``http://`` is allowed to loopback only), no
            host, user info in the URL, or a query or fragment.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("platform base URL is not a valid URL") from None
    del port
    if parts.scheme not in ("https", "http"):
        raise FetchError(
            f"platform base URL must start with https:// (got {parts.scheme or 'no'} scheme)"
        )
    if not parts.hostname:
        raise FetchError("platform base URL has no host")
    if parts.username is not None or parts.password is not None:
        raise FetchError("platform base URL must not hold credentials (user:password@)")
    if parts.query or parts.fragment:
        raise FetchError("platform base URL must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise FetchError(
            f"refusing plain http:// to {parts.hostname}: credentials would travel unencrypted "
            "(http:// is allowed only to loopback addresses such as the sandbox)"
        )


def describe_network(settings: PlatformSettings, env: Mapping[str, str] | None = None) -> list[str]:
    """Lines for ``--debug``: the effective proxy and CA bundle (credentials masked)."""
    env = os.environ if env is None else env
    lines = [f"platform: {settings.origin} (TLS verification: always on)"]
    if not settings.trust_env:
        lines.append("environment: ignored (--no-trust-env): no proxy, system CA bundle")
    else:
        for name in _NETWORK_VARIABLES:
            if env.get(name):
                value = re.sub(r"//[^/@]*@", "//***@", env[name])
                lines.append(f"environment: {name}={one_line(redact(value))}")
    if settings.ca_bundle is not None:
        lines.append(f"extra CA bundle: {one_line(redact(str(settings.ca_bundle)))}")
    return lines


# --------------------------------------------------------------------------- credentials


class ApiKeyCredential:
    """The platform API key, kept out of ``repr``, ``str`` and tracebacks."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source
        """Where it came from: the variable name, ``keyring`` or the file path."""

    def reveal(self) -> str:
        """The key itself: only for the body of the token exchange."""
        return self._value

    def __repr__(self) -> str:
        return f"ApiKeyCredential(source={self.source!r}, value={mask(self._value)!r})"

    __str__ = __repr__


def resolve_api_key(
    settings: PlatformSettings,
    env: Mapping[str, str] | None = None,
    *,
    keyring_module: Any = None,
) -> ApiKeyCredential:
    """Find the API key: ``KEYSCOPE_API_KEY``, then ``api_key_file``, then the keyring.

    An explicitly configured file beats the machine-wide keyring; the environment
    beats both, so a scheduled job can inject its own key.

    Args:
        settings: Platform settings (``api_key_file``, the host for the keyring).
        env: The environment (``os.environ`` by default).
        keyring_module: The ``keyring`` module (tests inject a fake); imported when None.

    Raises:
        ConfigError: no key anywhere (the message lists where to put one, and why the
            keyring could not help), or the file is unsafe or unreadable.
    """
    env = os.environ if env is None else env
    value = env.get(API_KEY_ENV, "")
    if value:
        return ApiKeyCredential(_check_key_text(value, API_KEY_ENV), API_KEY_ENV)
    if settings.api_key_file is not None:
        return ApiKeyCredential(_read_key_file(settings.api_key_file), str(settings.api_key_file))
    keyring_note = _keyring_lookup(settings, keyring_module)
    if isinstance(keyring_note, ApiKeyCredential):
        return keyring_note
    # Not "KEYSCOPE_API_KEY: no ...": the redactor reads "API_KEY: <word>" as a secret.
    raise ConfigError(
        "platform API key",
        "none found; set KEYSCOPE_API_KEY, name a file in [platform] api_key_file "
        f"(mode 600), or store it in the system keyring (service {KEYRING_SERVICE!r}, user "
        f"{settings.host or '<base_url host>'!r}); keyring: {keyring_note}",
    )


def _keyring_lookup(settings: PlatformSettings, module: Any) -> ApiKeyCredential | str:
    if module is None:
        try:
            import keyring as module  # type: ignore[import-not-found, no-redef]
        except ImportError:
            return "not installed (pip install 'keyscope[keyring]')"
    try:
        value = module.get_password(KEYRING_SERVICE, settings.host or "default")
    except Exception as error:  # any backend failure (no D-Bus, locked, fail backend)
        return f"unavailable ({type(error).__name__})"
    if not value:
        return "no entry"
    return ApiKeyCredential(_check_key_text(value, "keyring"), "keyring")


def _check_key_text(value: str, where: str) -> str:
    value = value.strip()
    # A newline or control character would split or forge the Authorization header.
    if not value or _CONTROL.search(value):
        raise ConfigError(where, "the API key is empty or holds spaces or control characters")
    return value


def _read_key_file(path: Path) -> str:
    where = str(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise ConfigError(where, f"cannot open the API key file: {error.strerror}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(where, "the API key file is not a regular file")
        if info.st_uid != os.getuid():
            raise ConfigError(where, "the API key file belongs to another user")
        if info.st_mode & 0o077:
            raise ConfigError(
                where,
                f"the API key file is readable by others (mode {stat.S_IMODE(info.st_mode):03o}); "
                "run chmod 600 on it",
            )
        data = os.read(descriptor, _MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(where, "the API key file is too large to hold one key")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(where, "the API key file is not UTF-8 text") from None
    return _check_key_text(text, where)


# --------------------------------------------------------------------------- helpers


def quiet_http_loggers() -> None:
    """Keep httpx/httpcore below INFO: httpx logs every request URL at INFO."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def parse_retry_after(
    value: str | None, *, now: datetime | None = None, cap: float = 60.0
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when it says nothing usable.

    The delay-seconds form is tried first, then the HTTP-date form; the result is
    clamped to ``[0, cap]`` (``-5`` waits 0 s, ``9999999999`` waits ``cap``, a date in
    the past waits 0 s).  Garbage gives None, so the caller falls back to backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"[+-]?\d{1,30}", text):
        return float(min(max(int(text), 0), cap))
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:  # pragma: no cover - older Pythons returned None
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now = datetime.now(UTC) if now is None else now
    seconds = (moment - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    return rng() * ceiling


# ------------------------------------------------------------------- deadline transport

_EXCHANGE_DEADLINE: ContextVar[float | None] = ContextVar(
    "keyscope_exchange_deadline", default=None
)
"""Absolute ``time.monotonic()`` by which the current request must be done, or ``None``.

Set by :class:`PlatformClient` around each request (send and body); read by the network
streams below, so connect, TLS, status line, headers and body all share one deadline.
A context variable, not a client attribute: a pooled connection outlives the request
that opened it, and the TUI may use one client from several worker threads.
"""


_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own default pool limits."""


class _DeadlinePassed(httpcore.TimeoutException):
    """The overall deadline ran out during a socket operation (not just one silent read)."""


def _bounded_timeout(timeout: float | None) -> tuple[float | None, bool]:
    """``timeout`` cut to what is left of the exchange deadline, and whether it was cut.

    Raises:
        _DeadlinePassed: nothing is left.
    """
    deadline = _EXCHANGE_DEADLINE.get()
    if deadline is None:
        return timeout, False
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed("the overall request deadline has passed")
    if timeout is None or left < timeout:
        return left, True
    return timeout, False


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read, write and handshake respects the deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded, cut = _bounded_timeout(timeout)
        try:
            return self._inner.read(max_bytes, bounded)
        except httpcore.TimeoutException as error:
            if cut:  # the deadline, not the per-read timeout, ran out
                raise _DeadlinePassed("the overall request deadline has passed") from error
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded, cut = _bounded_timeout(timeout)
        try:
            self._inner.write(buffer, bounded)
        except httpcore.TimeoutException as error:
            if cut:
                raise _DeadlinePassed("the overall request deadline has passed") from error
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded, cut = _bounded_timeout(timeout)
        try:
            upgraded = self._inner.start_tls(ssl_context, server_hostname, bounded)
        except httpcore.TimeoutException as error:
            if cut:
                raise _DeadlinePassed("the overall request deadline has passed") from error
            raise
        return _DeadlineStream(upgraded)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking socket backend, with every stream bounded by the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded, cut = _bounded_timeout(timeout)
        try:
            stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        except httpcore.TimeoutException as error:
            if cut:
                raise _DeadlinePassed("the overall request deadline has passed") from error
            raise
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - keyscope never uses a unix socket
        bounded, _cut = _bounded_timeout(timeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries are off
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` over :class:`_DeadlineBackend` (same pool, same proxies).

    httpx's transport offers no way to pass a network backend, so this builds the same
    httpcore pool it would (direct, HTTP(S) proxy or SOCKS proxy) with one; request and
    response mapping, exception mapping and closing are httpx's own, inherited.
    """

    def __init__(
        self,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
        pool_options: dict[str, Any] = {
            "ssl_context": ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "http1": http1,
            "http2": http2,
            "network_backend": _DeadlineBackend(),
        }
        pool: httpcore.ConnectionPool
        if proxy is None:
            pool = httpcore.ConnectionPool(**pool_options)
        else:
            proxy_url = httpcore.URL(
                scheme=proxy.url.raw_scheme, host=proxy.url.raw_host,
                port=proxy.url.port, target=proxy.url.raw_path,
            )  # fmt: skip
            if proxy.url.scheme in ("http", "https"):
                pool = httpcore.HTTPProxy(
                    proxy_url=proxy_url, proxy_auth=proxy.raw_auth,
                    proxy_headers=proxy.headers.raw, proxy_ssl_context=proxy.ssl_context,
                    **pool_options,
                )  # fmt: skip
            elif proxy.url.scheme in ("socks5", "socks5h"):
                pool = httpcore.SOCKSProxy(
                    proxy_url=proxy_url, proxy_auth=proxy.raw_auth, **pool_options
                )
            else:
                raise ConfigError(
                    "the proxy settings",
                    f"unsupported proxy scheme {one_line(proxy.url.scheme, limit=20)!r} "
                    "(use http, https or socks5)",
                )
        # HTTPTransport's handle_request/close/__exit__ all go through ``_pool``.
        self._pool = pool


class _DeadlineClient(httpx.Client):
    """``httpx.Client`` whose network transports (direct and proxied) are deadline-bound.

    httpx picks proxies from the environment only when no ``transport`` is passed, so
    instead of passing one this overrides the two hooks that build transports; a
    transport given explicitly (tests' ``MockTransport``) is still used as is.
    """

    def _init_transport(
        self,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        transport: httpx.BaseTransport | None = None,
    ) -> httpx.BaseTransport:
        if transport is not None:
            return transport
        return _DeadlineTransport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits
        )

    def _init_proxy_transport(
        self,
        proxy: httpx.Proxy,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
    ) -> httpx.BaseTransport:
        return _DeadlineTransport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2,
            limits=limits, proxy=proxy,
        )  # fmt: skip


def _caused_by_deadline(error: BaseException) -> bool:
    """True when httpx's exception wraps a :class:`_DeadlinePassed` from our streams."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, _DeadlinePassed):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def make_http_client(
    settings: PlatformSettings, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one long-lived client: explicit timeouts, no redirects, TLS verification on.

    Its network transports (direct and through a proxy) bound every connect, TLS
    handshake, read and write by the deadline :class:`PlatformClient` sets per request,
    so a server dripping its status line and headers is cut off like a dripping body.

    Args:
        settings: Timeouts, CA bundle and ``trust_env``.
        transport: A transport to use instead of the network (tests: ``httpx.MockTransport``).
    """
    import ssl

    quiet_http_loggers()
    verify: ssl.SSLContext | bool = True
    if settings.ca_bundle is not None:
        try:
            verify = ssl.create_default_context(cafile=str(settings.ca_bundle))
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(
                str(settings.ca_bundle), f"cannot load the CA bundle: {error}"
            ) from None
    try:
        return _DeadlineClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.write_timeout,
                pool=settings.pool_timeout,
            ),
            follow_redirects=False,
            verify=verify,
            trust_env=settings.trust_env,
            transport=transport,
            headers={
                "User-Agent": f"keyscope/{__version__}",
                # Only encodings keyscope decodes itself, with a cap on the decoded size.
                "Accept-Encoding": "gzip, deflate",
                "Accept": "application/json",
            },
        )
    except (OSError, ssl.SSLError) as error:
        # With trust_env, httpx loads SSL_CERT_FILE / SSL_CERT_DIR itself: a bad one is a
        # configuration error to name, not an internal error.
        variable = next(
            (name for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(name)), ""
        )
        where = f"{variable}={os.environ[variable]}" if variable else "the TLS configuration"
        raise ConfigError(
            where, f"cannot load the CA bundle: {error.strerror or error} (or use --no-trust-env)"
        ) from None


# --------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A fully read, size-checked response."""

    status: int
    headers: httpx.Headers
    body: bytes
    content_type: str

    def json(self) -> Any:
        """The body as JSON (the caller has checked the content type)."""
        return _loads(self.body)


@dataclass(frozen=True, slots=True)
class PagedResult:
    """All items of a paginated list, and whether the list is known to be whole."""

    items: tuple[dict[str, Any], ...]
    pages: int
    complete: bool
    reasons: tuple[str, ...] = ()
    """Why the list may be short (cursor loop, page cap, ...); empty when complete."""


class _Deadline:
    """An absolute monotonic time, and how much of it is left."""

    __slots__ = ("_clock", "at", "seconds", "started")

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.seconds = seconds
        self.started = clock()
        self.at = self.started + seconds

    def remaining(self) -> float:
        return self.at - self._clock()

    def elapsed(self) -> float:
        return self._clock() - self.started


class PlatformClient:
    """The partner API over one ``httpx.Client``; use as a context manager.

    Args:
        settings: Platform settings (``base_url`` must be set).
        credential: The API key, from :func:`resolve_api_key`.
        transport: Replaces the network (tests).
        http_client: An existing client to share (the TUI); not closed by this object.
        clock: Monotonic clock, injectable for tests.
        sleep: Sleep function, injectable for tests.
        rng: Random source for jitter.
    """

    def __init__(
        self,
        settings: PlatformSettings,
        credential: ApiKeyCredential,
        *,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not settings.base_url:
            raise ConfigError(
                "keyscope.toml", "no platform base URL: set [platform] base_url or --base-url",
                "platform.base_url",
            )  # fmt: skip
        check_base_url(settings.base_url)
        self.settings = settings
        self._credential = credential
        self._owns_client = http_client is None
        self._http = (
            http_client
            if http_client is not None
            else make_http_client(settings, transport=transport)
        )
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._past_tokens: list[str] = []
        """Tokens this client held before (refreshed or refused): scrubbed from text too."""
        self.key_id: str | None = None
        """Id of the key this client authenticates as, when the token exchange said it."""
        self.requests_sent = 0
        self.write_requests_sent = 0
        self.retry_seconds_spent = 0.0
        self._run = _Deadline(settings.run_deadline, clock)

    # -- lifecycle

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client:
            self._http.close()

    def start_run(self) -> None:
        """Reset the per-run deadline and retry budget (a long-lived TUI client)."""
        self._run = _Deadline(self.settings.run_deadline, self._clock)
        self.retry_seconds_spent = 0.0

    # -- public calls

    def exchange_token(self) -> str:
        """Exchange the API key for an access token (``POST`` the token path).

        Returns:
            The id of the key the platform says the credential is, or ``""``.

        Raises:
            FetchError: the key is rejected, or the answer is not a token.
        """
        # The platform's TokenRequest carries the key in the JSON body.  That body is
        # only ever sent to the base URL's origin: redirects of POSTs are refused.
        response = self._request(
            "POST", self.settings.paths.token, authenticated=False,
            json_body={"api_key": self._credential.reveal()}, retry_writes=True,
        )  # fmt: skip
        what = f"POST {self.settings.paths.token}"
        if response.status in (401, 403):
            raise FetchError(
                f"{what}: the platform rejected the API key from {self._credential.source} "
                f"(HTTP {response.status}); check that it is valid and not revoked"
            )
        self._require_ok(response, what)
        payload = self._json(response, what)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token or _CONTROL.search(token):
            raise FetchError(f"{what}: the answer holds no usable access_token")
        expires_in = payload.get("expires_in", 300)
        if (
            not isinstance(expires_in, int | float)
            or isinstance(expires_in, bool)
            or expires_in <= 0
        ):
            raise FetchError(f"{what}: expires_in must be a positive number of seconds")
        self._forget_token()
        self._token = token
        self._token_expires_at = self._clock() + min(float(expires_in), 86400.0)
        key_id = payload.get("key_id")
        if isinstance(key_id, str) and key_id:
            self.key_id = key_id
        return self.key_id or ""

    def current_key_id(self) -> str:
        """The id of the key keyscope is using: from the token exchange, else asked for.

        Raises:
            FetchError: the platform cannot say which key this is.
        """
        if self._token is None:
            self.exchange_token()
        if self.key_id:
            return self.key_id
        payload = self.get_json(self.settings.paths.current_key)
        key_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(key_id, str) or not key_id:
            raise FetchError(f"GET {self.settings.paths.current_key}: the answer has no key id")
        self.key_id = key_id
        return key_id

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` an authenticated JSON resource.

        Raises:
            FetchError: transport failure, non-2xx status, wrong content type, bad JSON.
        """
        what = f"GET {path}"
        response = self._request("GET", path, params=params)
        self._require_ok(response, what)
        return self._json(response, what)

    def get_bytes(self, path: str) -> ApiResponse:
        """``GET`` an authenticated JSON document and keep its exact bytes (the spec)."""
        what = f"GET {path}"
        response = self._request("GET", path)
        self._require_ok(response, what)
        self._json(response, what)  # validates content type and syntax
        return response

    def send_write(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        idempotency_key: str,
    ) -> ApiResponse:
        """Send a change (create, rename, revoke) carrying an ``Idempotency-Key``.

        Because the key makes the call safe to repeat, timeouts and 5xx are retried
        with the same key; the platform then replays its stored answer.  The caller
        interprets the status (404 on revoke means "already revoked").

        Raises:
            WriteInDoubtError: no usable answer came back, and an attempt may have
                reached the platform (sent, then a timeout, a reset, a deadline, or
                5xx until the retries ran out): the change may have been made, so it
                must be resent with the same ``Idempotency-Key``, never a new one.
            FetchError: the change certainly was not made (nothing could be sent,
                or every answer refused it before acting: 401, 429).
        """
        self.write_requests_sent += 1
        delivery = _Delivery()
        try:
            return self._request(
                method, path, json_body=dict(body or {}), retry_writes=True,
                headers={"Idempotency-Key": idempotency_key}, delivery=delivery,
            )  # fmt: skip
        except WriteInDoubtError:
            raise
        except FetchError as error:
            if delivery.maybe_applied:
                raise WriteInDoubtError(error.message) from None
            raise

    def fetch_all(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        what: str = "",
        on_page: Callable[[int, int], None] | None = None,
    ) -> PagedResult:
        """Read every page of a ``{data, has_more, next_cursor}`` list.

        Guards: a cursor seen before (a loop or a cycle) stops; ``has_more`` without a
        ``next_cursor`` stops; empty pages with ``has_more`` are followed up to
        ``max_empty_pages``; ``max_pages`` stops, and so do ``max_list_items`` and
        ``max_list_bytes`` (all pages together: memory stays bounded however many
        pages the platform offers).  Each stop marks the result incomplete with a
        reason, never a silent short read.

        Args:
            path: The list path.
            params: Extra query parameters (``since``/``until``).
            what: Name for the reasons (``keys``, ``requests of key_…``).
            on_page: Called with ``(pages_read, items_so_far)`` after each page.
        """
        label = what or path
        holder: list[PagedResult] = []
        items: list[dict[str, Any]] = []
        for page_items, pages in self._paginate(path, params, label, holder):
            items.extend(page_items)
            if on_page is not None:
                on_page(pages, len(items))
        done = holder[0]
        return PagedResult(tuple(items), done.pages, done.complete, done.reasons)

    # -- pagination

    def _paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        label: str,
        holder: list[PagedResult],
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        settings = self.settings
        seen: set[str] = set()
        cursor: str | None = None
        pages = 0
        empty_streak = 0
        skipped = 0
        items_read = 0
        bytes_read = 0
        reasons: list[str] = []
        what = f"GET {path}"
        while True:
            query = dict(params or {})
            query["limit"] = settings.page_limit
            if cursor is not None:
                query["cursor"] = cursor
            response = self._request("GET", path, params=query)
            self._require_ok(response, what)
            payload = self._json(response, what)
            bytes_read += len(response.body)
            del response
            pages += 1
            data, has_more, next_cursor = _page_parts(payload, what, pages)
            del payload
            page_items = [item for item in data if isinstance(item, dict)]
            skipped += len(data) - len(page_items)
            items_read += len(page_items)
            yield page_items, pages
            if not has_more:
                break
            if items_read >= settings.max_list_items or bytes_read >= settings.max_list_bytes:
                reasons.append(
                    f"{label}: stopped at the list cap after {pages} pages ({items_read} items, "
                    f"{bytes_read} bytes; caps {settings.max_list_items} items, "
                    f"{settings.max_list_bytes} bytes) while the platform reported more"
                )
                break
            empty_streak = empty_streak + 1 if not data else 0
            if empty_streak > settings.max_empty_pages:
                reasons.append(
                    f"{label}: stopped after {empty_streak} empty pages in a row that still "
                    "reported has_more"
                )
                break
            if not next_cursor:
                reasons.append(f"{label}: page {pages} reported has_more but gave no next_cursor")
                break
            if next_cursor in seen or next_cursor == cursor:
                reasons.append(
                    f"{label}: the platform repeated a cursor after {pages} pages (a cursor loop); "
                    "stopped"
                )
                break
            if pages >= settings.max_pages:
                reasons.append(
                    f"{label}: stopped at the page cap ({settings.max_pages} pages) while the "
                    "platform reported more"
                )
                break
            if cursor is not None:
                seen.add(cursor)
            seen.add(next_cursor)
            cursor = next_cursor
        if skipped:
            reasons.append(f"{label}: skipped {skipped} list entries that were not objects")
        holder.append(PagedResult((), pages, not reasons, tuple(reasons)))

    # -- the request engine

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        retry_writes: bool = False,
        delivery: _Delivery | None = None,
    ) -> ApiResponse:
        """One logical request: retries, token refresh, same-origin redirects.

        ``delivery`` (a change's) records whether any attempt may have reached the
        platform and been acted on, whatever the last attempt's fate.
        """
        settings = self.settings
        what = f"{method} {path}"
        url = self._url(path)
        refreshed = False
        attempt = 0
        retryable_method = method in ("GET", "HEAD") or retry_writes
        delivery = delivery if delivery is not None else _Delivery()
        while True:
            if self._run.remaining() <= 0:
                raise FetchError(
                    f"{what}: the run deadline ({settings.run_deadline:g} s) has passed"
                )
            send_headers = dict(headers or {})
            if authenticated:
                send_headers["Authorization"] = f"Bearer {self._access_token()}"
            try:
                response = self._send_following(
                    method, url, params, json_body, send_headers, what, delivery
                )
            except _Retryable as failure:
                if not retryable_method:
                    raise FetchError(f"{what}: {failure.reason}") from None
                attempt = self._wait_before_retry(attempt, None, what, failure.reason)
                continue
            if authenticated and response.status == 401:
                if refreshed:
                    raise FetchError(
                        f"{what}: HTTP 401 again after refreshing the access token once; "
                        "the API key may have been revoked or lost access"
                    )
                refreshed = True
                self._forget_token()
                continue
            if response.status in _RETRY_STATUSES and retryable_method:
                delay = parse_retry_after(
                    response.headers.get("Retry-After"), cap=settings.retry_after_cap
                )
                attempt = self._wait_before_retry(attempt, delay, what, f"HTTP {response.status}")
                continue
            return response

    def _wait_before_retry(self, attempt: int, hinted: float | None, what: str, reason: str) -> int:
        settings = self.settings
        if attempt >= settings.max_retries:
            raise FetchError(f"{what}: gave up after {attempt + 1} attempts ({reason})")
        delay = (
            hinted
            if hinted is not None
            else backoff_delay(
                attempt, base=settings.backoff_base, cap=settings.backoff_cap, rng=self._rng
            )
        )
        budget_left = settings.retry_budget - self.retry_seconds_spent
        if delay > budget_left:
            raise FetchError(
                f"{what}: {reason}; waiting {delay:.1f} s more would exceed the retry budget "
                f"({settings.retry_budget:g} s per run)"
            )
        if delay >= self._run.remaining():
            raise FetchError(
                f"{what}: {reason}; the run deadline would pass while waiting to retry"
            )
        self.retry_seconds_spent += delay
        self._sleep(delay)
        return attempt + 1

    def _access_token(self) -> str:
        if self._token is None or self._clock() >= self._token_expires_at - _TOKEN_REFRESH_MARGIN:
            self.exchange_token()
        assert self._token is not None
        return self._token

    def _url(self, path: str) -> str:
        url = f"{self.settings.base_url}{path}"
        if _origin(url) != self.settings.origin:  # pragma: no cover - paths are checked at parse
            raise FetchError(f"{path}: resolves outside the platform origin")
        return url

    def _send_following(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Mapping[str, Any] | None,
        headers: dict[str, str],
        what: str,
        delivery: _Delivery,
    ) -> ApiResponse:
        """Send, following only same-origin redirects of GETs (credentials stay home)."""
        for _hop in range(_MAX_SAME_ORIGIN_REDIRECTS + 1):
            response = self._send_once(method, url, params, json_body, headers, what, delivery)
            if response.status not in _REDIRECT_STATUSES:
                return response
            location = response.headers.get("Location", "")
            try:
                target = str(httpx.URL(url).join(location))
                target_origin = _origin(target)
            except (httpx.InvalidURL, ValueError):
                raise FetchError(
                    f"{what}: HTTP {response.status} redirect to an invalid location"
                ) from None
            if target_origin != self.settings.origin:
                shown = self.scrub(target_origin)
                raise FetchError(
                    f"{what}: HTTP {response.status} redirect to {shown} refused "
                    f"(credentials are only sent to {self.settings.origin})"
                )
            if method != "GET":
                raise FetchError(f"{what}: HTTP {response.status} redirect of a change refused")
            url, params = target, None
        raise FetchError(f"{what}: more than {_MAX_SAME_ORIGIN_REDIRECTS} redirects")

    def _send_once(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Mapping[str, Any] | None,
        headers: dict[str, str],
        what: str,
        delivery: _Delivery,
    ) -> ApiResponse:
        settings = self.settings
        deadline = _Deadline(
            min(settings.request_deadline, max(self._run.remaining(), 0.0)), self._clock
        )
        left = max(deadline.remaining(), 0.001)
        # Each socket operation may wait at most what is left of the overall deadline.
        timeout = httpx.Timeout(
            connect=min(settings.connect_timeout, left),
            read=min(settings.read_timeout, left),
            write=min(settings.write_timeout, left),
            pool=min(settings.pool_timeout, left),
        )
        try:
            request = self._http.build_request(
                method, url, params=dict(params) if params else None,
                json=dict(json_body) if json_body is not None else None,
                headers=headers, timeout=timeout,
            )  # fmt: skip
        except (httpx.InvalidURL, TypeError, ValueError) as error:
            raise FetchError(
                f"{what}: cannot build the request: {self.scrub(str(error))}"
            ) from None
        self.requests_sent += 1
        # The network streams read this: connect, TLS, headers and body share the deadline
        # (in real monotonic time, whatever clock this client was given).
        token = _EXCHANGE_DEADLINE.set(time.monotonic() + max(deadline.remaining(), 0.0))
        try:
            return self._exchange(request, deadline, what, delivery)
        finally:
            _EXCHANGE_DEADLINE.reset(token)

    def _exchange(
        self, request: httpx.Request, deadline: _Deadline, what: str, delivery: _Delivery
    ) -> ApiResponse:
        try:
            response = self._http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # No connection, so nothing was sent (a deadline is not known to be this early).
            if not _caused_by_deadline(error):
                raise _Retryable(
                    f"connection failed: {self.scrub(type(error).__name__ + ': ' + str(error))}"
                ) from None
            raise FetchError(
                f"{what}: no response within the {deadline.seconds:g} s deadline (connect, "
                "TLS or headers still pending: a slow or stalled server)"
            ) from None
        except httpx.TimeoutException as error:
            # The request may have been written whole before the silence began.
            delivery.maybe_applied = True
            if _caused_by_deadline(error):
                raise FetchError(
                    f"{what}: no response within the {deadline.seconds:g} s deadline (connect, "
                    "TLS or headers still pending: a slow or stalled server)"
                ) from None
            raise _Retryable(f"timed out after {deadline.elapsed():.1f} s") from None
        except httpx.RequestError as error:
            delivery.maybe_applied = True  # a reset or a protocol error after sending
            raise _Retryable(
                f"connection failed: {self.scrub(type(error).__name__ + ': ' + str(error))}"
            ) from None
        # An answer came: the platform saw the request.  Only 401 (not authenticated)
        # and 429 (rate limited) say it was refused before anything was done.
        if response.status_code not in (401, 429):
            delivery.maybe_applied = True
        try:
            body = self._read_body(response, deadline, what)
        except httpx.TimeoutException as error:
            if _caused_by_deadline(error):
                raise FetchError(
                    f"{what}: the response was still arriving after the {deadline.seconds:g} s "
                    "deadline (a slow or stalled server)"
                ) from None
            raise _Retryable(
                f"timed out reading the body after {deadline.elapsed():.1f} s"
            ) from None
        except httpx.RemoteProtocolError:
            raise _Retryable(
                "the connection closed before the whole body arrived (truncated response)"
            ) from None
        except httpx.RequestError as error:
            raise _Retryable(
                f"reading the body failed: {self.scrub(type(error).__name__)}"
            ) from None
        finally:
            response.close()
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return ApiResponse(response.status_code, response.headers, body, content_type)

    def _read_body(self, response: httpx.Response, deadline: _Deadline, what: str) -> bytes:
        """Stream the body, checking the size cap (decoded) and the deadline per chunk."""
        cap = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if declared.isdigit() and encoding in ("", "identity") and int(declared) > cap:
            raise FetchError(
                f"{what}: the response is {int(declared)} bytes, over the {cap}-byte cap"
            )
        if response.is_stream_consumed:
            # Only an in-memory transport hands over a body already read (and decoded).
            if len(response.content) > cap:
                raise FetchError(f"{what}: the response is over the {cap}-byte cap")
            return response.content
        decoder = _decoder(encoding, what)
        try:
            return self._read_decoded(response, decoder, deadline, what)
        except zlib.error:
            # Not the encoding the header claims: the platform's fault, said in one line.
            raise FetchError(
                f"{what}: the body is not valid {one_line(encoding, limit=40)!r} data "
                "(Content-Encoding does not match the body)"
            ) from None

    def _read_decoded(
        self, response: httpx.Response, decoder: Any, deadline: _Deadline, what: str
    ) -> bytes:
        cap = self.settings.max_response_bytes
        parts: list[bytes] = []
        total = 0
        # No chunk_size: httpx would buffer up to it, and a slow drip must be seen per read.
        for chunk in response.iter_raw():
            if deadline.remaining() <= 0:
                raise FetchError(
                    f"{what}: the response was still arriving after the {deadline.seconds:g} s "
                    "deadline (a slow or stalled server)"
                )
            pending = chunk
            while pending:
                if decoder is None:
                    out, pending = pending, b""
                else:
                    out = decoder.decompress(pending, cap - total + 1)
                    pending = decoder.unconsumed_tail
                total += len(out)
                if total > cap:
                    raise FetchError(
                        f"{what}: the response is over the {cap}-byte cap (after decompression)"
                    )
                parts.append(out)
                if decoder is not None and not out and pending:  # pragma: no cover - defensive
                    break
        if decoder is not None:
            tail = decoder.flush()
            total += len(tail)
            if total > cap:
                raise FetchError(
                    f"{what}: the response is over the {cap}-byte cap (after decompression)"
                )
            parts.append(tail)
            if not decoder.eof:
                raise _Retryable("the compressed body ended early (truncated response)")
        return b"".join(parts)

    # -- interpretation

    def _require_ok(self, response: ApiResponse, what: str) -> None:
        if 200 <= response.status < 300:
            return
        detail = _error_detail(response)
        hint = ""
        if response.status == 403:
            hint = " (the API key lacks the scope this call needs)"
        elif response.status == 429:
            hint = " (rate limited; retries exhausted)"
        raise HttpStatusError(
            f"{what}: HTTP {response.status}{hint}{': ' + self.scrub(detail) if detail else ''}",
            response.status,
        )

    def _json(self, response: ApiResponse, what: str) -> Any:
        kind = response.content_type
        if kind != "application/json" and not kind.endswith("+json"):
            shown = kind or "no content type"
            extra = (
                " (a login page or a proxy answered instead of the API?)" if "html" in kind else ""
            )
            raise FetchError(f"{what}: expected JSON, got {shown}{extra}")
        try:
            return _loads(response.body)
        except ValueError as error:
            raise FetchError(
                f"{what}: the body is not valid JSON ({self.scrub(str(error))[:120]})"
            ) from None

    def scrub(self, text: str, *, limit: int = 300) -> str:
        """``text`` made safe to show or store: one line, no secret in it.

        This client's API key and every access token it has held (the current one and
        those before a refresh) are masked first, since an opaque token looks like
        nothing in particular: whole, and also any run of at least ten consecutive
        characters of one (a key echoed minus its last characters, a token wrapped
        across lines; see :func:`_mask_fragments`).  Then
        :func:`keyscope.redaction.redact` masks anything else that looks like a
        secret.  Use it on every text that may come from a response (an error message
        the platform echoes a credential into).
        """
        secrets = [s for s in (self._credential.reveal(), self._token, *self._past_tokens) if s]
        text = _mask_fragments(text, [s for s in secrets if len(s) >= _FRAGMENT_CHARS])
        for secret in secrets:
            if len(secret) < _FRAGMENT_CHARS:  # too short to mask by fragment: whole only
                text = text.replace(secret, mask(secret))
        return one_line(redact(text), limit=limit)

    def _forget_token(self) -> None:
        """Drop the current token, remembering it for :meth:`scrub`."""
        if self._token and self._token not in self._past_tokens:
            # A long TUI session refreshes often; the newest tokens are the likeliest echoes.
            self._past_tokens = [*self._past_tokens[-31:], self._token]
        self._token = None


def _mask_fragments(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every run of ``_FRAGMENT_CHARS``+ characters of a secret masked.

    A run of length L >= N is exactly the union of its L-N+1 windows of N characters,
    each of which is an N-gram of the secret, so one pass over the text's windows,
    looked up in a set of the secrets' N-grams, finds every maximal run: linear in the
    text (one slice and one set lookup per character), whatever the text holds.
    Touching or overlapping runs merge into one.  A run becomes ``…``, with the
    secret's type prefix in front when the run starts where a secret starts and its
    last four characters behind when it ends where the secret ends: never more than
    :func:`keyscope.redaction.mask` shows of the whole secret, so several fragments
    together reveal nothing more either.

    Args:
        text: Free text, such as an error body the platform echoed.
        secrets: Credentials at least ``_FRAGMENT_CHARS`` long.

    Returns:
        The text with each run replaced by its masked form.
    """
    n = _FRAGMENT_CHARS
    grams: set[str] = set()
    heads: dict[str, str] = {}
    tails: dict[str, str] = {}
    for secret in secrets:
        grams.update(secret[i : i + n] for i in range(len(secret) - n + 1))
        prefix, _, tail = mask(secret).partition("…")
        heads[secret[:n]] = prefix
        tails[secret[-n:]] = tail
    if not grams or len(text) < n:
        return text
    # Only stretches of the secrets' own characters can hold a run: skip the rest
    # (spaces, punctuation) without a per-character lookup.
    alphabet = re.escape("".join(sorted({c for gram in grams for c in gram})))
    runs: list[tuple[int, int]] = []
    for stretch in re.finditer(f"[{alphabet}]{{{n},}}", text):
        for i in range(stretch.start(), stretch.end() - n + 1):
            if text[i : i + n] in grams:
                if runs and i <= runs[-1][1]:
                    runs[-1] = (runs[-1][0], i + n)
                else:
                    runs.append((i, i + n))
    if not runs:
        return text
    parts: list[str] = []
    done = 0
    for start, end, own_start, own_end in _whole_words(text, runs):
        head = heads.get(text[start : start + n], "") if own_start else ""
        tail = tails.get(text[end - n : end], "") if own_end else ""
        parts += (text[done:start], head + "…" + tail)
        done = end
    parts.append(text[done:])
    return "".join(parts)


_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_-]")


def _whole_words(text: str, runs: list[tuple[int, int]]) -> list[tuple[int, int, bool, bool]]:
    """``runs`` widened to the whole token each lies in, merged where they then touch.

    A run inside a longer token (``sk_live_CANARY…`` sharing characters with a
    ``ks_live_CANARY…`` key) is masked with all of it: masking only the run would cut
    the token's prefix off, and the rest would no longer look like a secret to the
    redactor.  Each result is ``(start, end, own_start, own_end)``: a bound that did
    not move is the run's own, where a secret's prefix or last four characters may be
    shown; a widened one belongs to another token, and shows nothing.
    """
    widened: list[tuple[int, int, bool, bool]] = []
    for start, end in runs:
        left, right = start, end
        while left > 0 and _TOKEN_CHAR.match(text[left - 1]):
            left -= 1
        while right < len(text) and _TOKEN_CHAR.match(text[right]):
            right += 1
        if widened and left <= widened[-1][1]:
            first, last, own_first, own_last = widened[-1]
            if right > last:
                last, own_last = right, right == end
            widened[-1] = (first, last, own_first, own_last)
        else:
            widened.append((left, right, left == start, right == end))
    return widened


class HttpStatusError(FetchError):
    """The platform answered with a non-2xx status (after retries, where they apply)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class WriteInDoubtError(FetchError):
    """A change may have reached the platform, but no usable answer came back.

    Resend it with the same ``Idempotency-Key`` (the platform replays its answer if it
    acted); a new key could make the change twice (a second key, its secret lost).
    """


@dataclass(slots=True)
class _Delivery:
    """Whether any attempt of one logical request may have been acted on."""

    maybe_applied: bool = False


class _Retryable(Exception):
    """A transport-level failure that may be retried (timeout, reset, truncation)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" if default else f"{scheme}://{netloc}:{port}"


def _decoder(encoding: str, what: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _DeflateDecoder()
    raise FetchError(f"{what}: unsupported Content-Encoding {one_line(encoding, limit=40)!r}")


class _DeflateDecoder:
    """``deflate`` as browsers read it: zlib-wrapped (RFC 1950) or, as some servers
    send it, raw (RFC 1951); the first two bytes tell which.  Same interface as a
    ``zlib.decompressobj`` for :meth:`PlatformClient._read_body`.
    """

    def __init__(self) -> None:
        self._inner: Any = None
        self._head = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._inner is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            method, flags = self._head[0], self._head[1]
            wrapped = method & 0x0F == 8 and (method << 8 | flags) % 31 == 0
            self._inner = zlib.decompressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            data, self._head = self._head, b""
        out: bytes = self._inner.decompress(data, max_length)
        return out

    @property
    def unconsumed_tail(self) -> bytes:
        return b"" if self._inner is None else bytes(self._inner.unconsumed_tail)

    @property
    def eof(self) -> bool:
        return self._inner is not None and bool(self._inner.eof)

    def flush(self) -> bytes:
        return b"" if self._inner is None else bytes(self._inner.flush())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 at byte {error.start}") from None


def _page_parts(payload: Any, what: str, page: int) -> tuple[list[Any], bool, str | None]:
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise FetchError(f"{what}: page {page} is not a {{data, has_more, next_cursor}} object")
    has_more = payload.get("has_more", False)
    if not isinstance(has_more, bool):
        raise FetchError(f"{what}: page {page}: has_more must be true or false")
    cursor = payload.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise FetchError(f"{what}: page {page}: next_cursor must be a string or null")
    return payload["data"], has_more, cursor


def _error_detail(response: ApiResponse) -> str:
    """The platform's error message, when it sent one as JSON."""
    if not (response.content_type == "application/json" or response.content_type.endswith("+json")):
        return ""
    try:
        payload = _loads(response.body[:65536])
    except ValueError:
        return ""
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            message = error.get("message") or error.get("code") or ""
            return message if isinstance(message, str) else ""
        if isinstance(error, str):
            return error
    return ""


def key_path(template: str, key_id: str) -> str:
    """Fill ``{id}`` with a percent-encoded key id (no ``/`` or ``..`` can escape).

    Raises:
        FetchError: the id is empty, ``.`` or ``..`` (it would change the path).
    """
    if key_id in ("", ".", ".."):
        raise FetchError(f"refusing key id {key_id!r} in a request path")
    return template.replace("{id}", quote(key_id, safe=""))
