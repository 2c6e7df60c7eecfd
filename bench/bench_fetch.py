"""Benchmark: `keyscope fetch` over real loopback sockets, and what its guards cost.

Issue 6 sets no speed target; this measures the live path so regressions show, and
compares it in the same run with two straightforward baselines:

* keyscope: ``fetch_snapshot`` (one long-lived ``httpx.Client``, streamed bodies with
  deadline and size checks, decoded-size cap, pagination guards) against the sandbox
  serving the sample (22 keys, about 33,000 requests in 90 days);
* pooled baseline: the same GETs with one plain ``httpx.Client`` and ``response.json()``
  (no guards, nothing written);
* per-request baseline: a new ``httpx.Client`` per request (the anti-pattern of httpx
  PR #2727).

The sandbox runs in a thread of this process, so server time is included in every
figure. Run: ``python bench/bench_fetch.py`` (90-day window, 3 rounds) or ``--quick``
(7 days, 1 round).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import httpx  # noqa: E402

from keyscope.sandbox import Sandbox, load_sample_data, serve_in_thread  # noqa: E402
from keyscope.sources.live import (  # noqa: E402
    ApiKeyCredential,
    PlatformClient,
    parse_platform_settings,
)
from keyscope.sources.snapshot import fetch_snapshot  # noqa: E402

API_KEY = "ks_test_bench000000000000000000001"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def plain_fetch(base_url: str, days: int, *, per_request: bool) -> int:
    """The same calls without keyscope's guards; returns the number of requests."""
    since = (AS_OF - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
    requests = 0
    shared = None if per_request else httpx.Client(base_url=base_url)

    def get(path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        nonlocal requests
        requests += 1
        if shared is not None:
            return shared.get(path, params=params, headers=headers).json()
        with httpx.Client(base_url=base_url) as client:
            return client.get(path, params=params, headers=headers).json()

    def post(path: str, body: dict[str, str]):  # type: ignore[no-untyped-def]
        nonlocal requests
        requests += 1
        if shared is not None:
            return shared.post(path, json=body).json()
        with httpx.Client(base_url=base_url) as client:
            return client.post(path, json=body).json()

    token = post("/v1/auth/token", {"api_key": API_KEY})["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    get("/v1/openapi.json", headers=auth)

    def pages(path: str, params: dict[str, str]):  # type: ignore[no-untyped-def]
        cursor = None
        while True:
            query = {**params, "limit": "100", **({"cursor": cursor} if cursor else {})}
            page = get(path, query, auth)
            yield from page["data"]
            if not page["has_more"]:
                return
            cursor = page["next_cursor"]

    keys = list(pages("/v1/api-keys", {}))
    for key in keys:
        for _event in pages(f"/v1/api-keys/{key['id']}/requests", {"since": since, "until": until}):
            pass
    if shared is not None:
        shared.close()
    return requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7-day window, one round")
    args = parser.parse_args()
    days = 7 if args.quick else 90
    rounds = 1 if args.quick else 3

    data = load_sample_data()
    sandbox = Sandbox(data, api_key=API_KEY, rate_limit=None)
    rows = []
    with serve_in_thread(sandbox) as running, tempfile.TemporaryDirectory() as folder:
        settings = parse_platform_settings({"base_url": running.base_url})
        keyscope_times, events, requests = [], 0, 0
        for round_number in range(rounds):
            with PlatformClient(settings, ApiKeyCredential(API_KEY, "bench")) as client:
                started = time.perf_counter()
                manifest = fetch_snapshot(
                    client, Path(folder) / f"snap{round_number}", as_of=AS_OF, window_days=days
                )
                keyscope_times.append(time.perf_counter() - started)
                events, requests = manifest.counts["usage_events"], client.requests_sent
        pooled_times, pooled_requests = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            pooled_requests = plain_fetch(running.base_url, days, per_request=False)
            pooled_times.append(time.perf_counter() - started)
        fresh_times = []
        for _ in range(rounds):
            started = time.perf_counter()
            plain_fetch(running.base_url, days, per_request=True)
            fresh_times.append(time.perf_counter() - started)

    best = min(keyscope_times)
    rows.append(
        ("keyscope fetch (snapshot written)", f"{best:.2f} s", f"{requests / best:,.0f} req/s")
    )
    pooled = min(pooled_times)
    rows.append(
        (
            "baseline: pooled client, no guards",
            f"{pooled:.2f} s",
            f"{pooled_requests / pooled:,.0f} req/s",
        )
    )
    fresh = min(fresh_times)
    rows.append(
        (
            "baseline: new client per request",
            f"{fresh:.2f} s",
            f"{pooled_requests / fresh:,.0f} req/s",
        )
    )
    print(f"fetch of the sample over loopback: {days}-day window, {requests} requests, "
          f"{events:,} usage events, best of {rounds}")  # fmt: skip
    print(f"{'measurement':<40} {'time':>9} {'throughput':>14}   target")
    for name, seconds, throughput in rows:
        print(f"{name:<40} {seconds:>9} {throughput:>14}   none set (issue 6)")
    print(f"guards + snapshot writing cost vs pooled baseline: {best / pooled:.2f}x; "
          f"long-lived client vs one per request: {fresh / best:.2f}x faster")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
