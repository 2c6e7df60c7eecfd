"""``keyscope sandbox``: serve the reference partner API on loopback for demos and tests."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8785

DESCRIPTION = """\
Serve the partner API (token exchange, key list, request logs, create/rename/revoke,
the OpenAPI spec) over real HTTP on a loopback address, from the bundled sample spec
and keys with generated request logs.

The API key the sandbox accepts is KEYSCOPE_API_KEY, or the one in --api-key-file
(created with a fresh random key, mode 600, when the file does not exist). It is never
printed. Point keyscope at the sandbox with KEYSCOPE_PLATFORM_URL or --base-url.

faults (--fault NAME[@COUNT][:/path/prefix], repeatable; or per request with the
X-Sandbox-Fault header or ?sandbox_fault=NAME):
  slow      wait before answering           drip      send the body a byte at a time
  error     503                             error500  500
  truncate  hang up halfway through a body  loop      list pages repeat their cursor
  html      a 200 HTML login page           redirect  302 to http://169.254.169.254/
  oversize  an endless body                 ratelimit 429 with Retry-After
  lost      make a change, then stall past the client's timeout
  header-drip  send the status line and headers a byte at a time
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve the reference partner API on loopback (demos, tests)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: any free port)",
    )
    parser.add_argument(
        "--spec", type=Path, help="OpenAPI file to serve (default: sample_specs/partner-api.yaml)"
    )
    parser.add_argument(
        "--keys", type=Path, help="key inventory to serve (default: sample_specs/keys.yaml)"
    )
    parser.add_argument(
        "--as-of", dest="as_of", help="end of the generated usage window (default 2026-11-01)"
    )
    parser.add_argument(
        "--window-days", dest="window_days", type=int, default=90, help="generated window length"
    )
    parser.add_argument(
        "--api-key-file", dest="api_key_file", type=Path,
        help="file holding the API key to accept (created, mode 600, if missing); "
        "default: KEYSCOPE_API_KEY",
    )  # fmt: skip
    parser.add_argument(
        "--access-lifetime",
        dest="token_ttl",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="lifetime of the access tokens it issues (default 300)",
    )
    parser.add_argument(
        "--rate-limit",
        dest="rate_limit",
        type=float,
        default=200.0,
        help="requests per second per key (0: off)",
    )
    parser.add_argument(
        "--revoked-status", dest="revoked_status", type=int, choices=(200, 404), default=200,
        help="answer to revoking a revoked key (200 as documented, or 404 as some platforms do)",
    )  # fmt: skip
    parser.add_argument(
        "--fault", action="append", default=[], metavar="SPEC", help="inject a fault (see above)"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="print one line per request (no query strings)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from keyscope.sandbox import Fault, Sandbox, check_loopback, load_sample_data, make_server
    from keyscope.settings import parse_as_of
    from keyscope.text import safe_line

    check_loopback(args.host)  # before anything else: never serve beyond this machine
    api_key = sandbox_api_key(args.api_key_file)
    as_of = parse_as_of(args.as_of).date() if args.as_of else None
    faults = [Fault.parse(text) for text in args.fault]
    data = load_sample_data(
        args.spec, args.keys, days=args.window_days, **({"as_of": as_of} if as_of else {})
    )
    sandbox = Sandbox(
        data, api_key=api_key, token_ttl=args.token_ttl,
        rate_limit=args.rate_limit or None, revoked_status=args.revoked_status,
    )  # fmt: skip
    sandbox.faults.extend(faults)

    def report(method: str, path: str, status: int) -> None:
        print(safe_line(f"{method} {path} {status}", limit=200), file=sys.stderr, flush=True)

    server = make_server(sandbox, args.host, args.port, report if args.verbose else None)
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    print(
        f"keyscope sandbox: serving the partner API at http://{shown}:{port} "
        "(loopback only; Ctrl-C stops it)"
    )
    print(f"  point keyscope at it:  export KEYSCOPE_PLATFORM_URL=http://{shown}:{port}")
    source = (
        f"the one in {safe_line(str(args.api_key_file))}"
        if args.api_key_file
        else "the one in KEYSCOPE_API_KEY"
    )
    print(f"  API key accepted:      {source} (never printed)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def sandbox_api_key(path: Path | None) -> str:
    """The key the sandbox accepts: ``KEYSCOPE_API_KEY``, or a file (created if missing).

    Raises:
        UsageError: neither is given.
        ConfigError: the file is unsafe or unreadable.
    """
    import os
    import secrets

    from keyscope.errors import ReportError, UsageError
    from keyscope.sources.live import API_KEY_ENV, PlatformSettings, resolve_api_key

    if path is None:
        value = os.environ.get(API_KEY_ENV, "")
        if not value:
            raise UsageError(
                "the sandbox needs the API key it should accept: set KEYSCOPE_API_KEY or pass "
                "--api-key-file FILE (created with a random key when missing)"
            )
        return resolve_api_key(PlatformSettings(), {API_KEY_ENV: value}).reveal()
    if not path.exists():
        generated = "ks_test_" + secrets.token_hex(20)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as error:
            raise ReportError(f"{path}: cannot create the key file: {error.strerror}") from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(generated + "\n")
        return generated
    return resolve_api_key(PlatformSettings(api_key_file=path), {}).reveal()
