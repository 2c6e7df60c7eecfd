"""HAR captures as a usage source: which requests an integration made, and nothing else.

A HAR file (HTTP Archive 1.2, what a browser's developer tools or a proxy saves) records
every request of a session *with* its headers, cookies and bodies, so it routinely holds
``Authorization: Bearer ...`` tokens and API keys.  This reader keeps exactly four
things per entry: ``request.method``, ``request.url`` cut at the first ``?`` or ``#``,
``response.status`` and ``startedDateTime``.  Headers, cookies, query strings, bodies
and timings are never copied out of the parsed document, which is dropped when
:func:`read_har` returns; no value of the capture other than those four reaches a
result, a log or an error message.

A capture usually belongs to one integration, often before it has a key, so its
requests count for one key id: the ``key_id`` of its ``[[usage]]`` entry, or
``har:<file stem>``.  Usage ingestion (:mod:`keyscope.sources.usage`) feeds the
entries through the same checks and aggregation as log lines; entry numbers (from 1)
stand in for line numbers.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from keyscope.errors import LogParseError

__all__ = ["MAX_HAR_BYTES", "HarRequest", "default_key_id", "read_har"]

MAX_HAR_BYTES = 1 << 30
"""Largest capture read (1 GiB, after decompression); a bigger one is refused."""


@dataclass(frozen=True, slots=True)
class HarRequest:
    """The part of one HAR entry that usage needs; every field is None when absent."""

    entry: int
    """Position of the entry in ``log.entries``, from 1."""
    started: str | None
    """``startedDateTime`` as written (ISO 8601 with an offset, per the HAR spec)."""
    method: str | None
    url: str | None
    """``request.url`` without its query string and fragment."""
    status: str | None
    """``response.status`` as decimal text (HAR writes 0 for a request with no answer)."""


def default_key_id(path: Path) -> str:
    """``har:<stem>``: the key id a capture counts for when its source names none."""
    name = path.name
    for suffix in (".gz", ".har"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return f"har:{name}"


def read_har(path: Path) -> tuple[HarRequest, ...]:
    """Read the requests of a HAR capture (``.har``, or ``.har.gz``).

    Args:
        path: The capture.

    Returns:
        One :class:`HarRequest` per entry, in the capture's order.

    Raises:
        LogParseError: the file cannot be read, is larger than :data:`MAX_HAR_BYTES`,
            is not JSON, or has no ``log.entries`` list.  The message never quotes the
            file's content.
    """
    where = str(path)
    document = _load(path, where)
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise LogParseError(where, "not a HAR capture: no log.entries list")
    return tuple(_request(number, entry) for number, entry in enumerate(entries, start=1))


def _load(path: Path, where: str) -> object:
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as stream:
            data = stream.read(MAX_HAR_BYTES + 1)
    except FileNotFoundError:
        raise LogParseError(where, "file not found") from None
    except (OSError, EOFError) as error:
        # gzip.BadGzipFile is an OSError; EOFError is a truncated gzip stream.
        raise LogParseError(where, f"cannot read: {type(error).__name__}") from None
    if len(data) > MAX_HAR_BYTES:
        raise LogParseError(where, f"larger than {MAX_HAR_BYTES >> 20} MiB; refused")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LogParseError(where, "not UTF-8 text", f"byte {error.start}") from None
    del data
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise LogParseError(where, "not valid JSON", f"{error.lineno}:{error.colno}") from None
    except ValueError:
        raise LogParseError(
            where, "not valid JSON (NaN, Infinity or an oversized number)"
        ) from None
    except RecursionError:
        raise LogParseError(where, "not valid JSON: nested too deeply") from None


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def _request(number: int, entry: object) -> HarRequest:
    if not isinstance(entry, dict):
        return HarRequest(number, None, None, None, None)
    request = entry.get("request")
    response = entry.get("response")
    request = request if isinstance(request, dict) else {}
    response = response if isinstance(response, dict) else {}
    started = entry.get("startedDateTime")
    method = request.get("method")
    url = request.get("url")
    status = response.get("status")
    return HarRequest(
        entry=number,
        started=started if isinstance(started, str) else None,
        method=method if isinstance(method, str) else None,
        url=_without_query(url) if isinstance(url, str) else None,
        status=str(status) if isinstance(status, int) and not isinstance(status, bool) else None,
    )


def _without_query(url: str) -> str:
    """Cut the URL at its query string or fragment: credentials travel there."""
    for delimiter in ("?", "#"):
        position = url.find(delimiter)
        if position != -1:
            url = url[:position]
    return url
