"""Secret detection and masking, applied before anything is stored or shown.

A secret never leaves keyscope in any form longer than a type prefix plus its last
four characters.  Detectors follow the common key formats of payment platforms and
code hosts (prefix-typed keys such as ``sk_live_``), bearer tokens, and credential
query parameters; publishable keys (``pk_``) are public by design and only masked.
"""

from __future__ import annotations

import re

# Prefix-typed secrets: secret (sk), restricted (rk), webhook signing (whsec), the
# platform's partner keys (ks), GitHub tokens, AWS access keys, Slack tokens.
_SECRET_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])("
    r"(?:sk|rk|ks)_(?:live|test|prod)_[A-Za-z0-9]{8,}"
    r"|whsec_[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r")"
)
# JSON Web Tokens (``eyJ…``), kept apart for speed.  ``-`` and ``_`` belong to a
# token's alphabet but do not stop a token from starting after them, so a plain pattern
# would rescan one run of token characters from every ``eyJ`` inside it: quadratic, and
# hours on a 10 MB name like ``-eyJ-eyJ…``.  This one starts only where a run begins,
# skips (lazily, inside an atomic group) to the run's first ``eyJ`` that a token may
# start at, and never backtracks: if that ``eyJ`` fails, every later one in the run
# fails too (same run end, fewer characters).  Group 1 is the token itself.
_JWT = re.compile(
    r"(?<![A-Za-z0-9_-])(?>[A-Za-z0-9_-]*?(?<![A-Za-z0-9])(?=eyJ))"
    r"(eyJ[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+)"
)
_PUBLISHABLE = re.compile(r"(?<![A-Za-z0-9])pk_(?:live|test)_[A-Za-z0-9]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{12,})")
# A credential parameter of a query, its separators possibly percent-encoded
# (``/invoices%3Fapi_key%3D…`` is one path segment to a router, but not to a reader).
_QUERY_CREDENTIAL = re.compile(
    r"(?i)((?:[?&;]|%3F|%26|%3B)"
    r"(?:api[_-]?key|apikey|access[_-]?token|token|secret|key|password|auth)(?:=|%3D))"
    r"([^&#\s]+)"
)
# The same written into free text (``rotate me api_key=…``, ``password: …``): only the
# unmistakable names, so an innocent ``sort key=name`` stays readable.
_ASSIGNED_CREDENTIAL = re.compile(
    r"(?i)((?<![A-Za-z0-9])(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|secret|"
    r"client[_-]?secret|password|passwd)(?:\s*[=:]\s*|%3D))"
    r"([^\s&#,;'\"]+)"
)

SECRET_FIELD_NAMES = frozenset(
    {"secret", "token", "api_key", "apikey", "key_secret", "secret_key", "access_token",
     "password", "client_secret", "private_key"}
)  # fmt: skip
"""Inventory and log fields whose value is a secret by name: dropped at ingest."""


def mask(value: str) -> str:
    """Show a secret as its type prefix and last four characters: ``sk_live_…WXYZ``."""
    match = re.match(r"^([A-Za-z]+_(?:live|test|prod)_|[A-Za-z]+_|[A-Za-z]+-)", value)
    prefix = match.group(1) if match and len(match.group(1)) <= 12 else ""
    tail = value[-4:] if len(value) >= 12 else ""
    return f"{prefix}…{tail}"


def mask_id(key_id: str) -> str:
    """A key id for display: at most a type prefix and the last four characters."""
    if len(key_id) <= 8:
        return key_id
    return mask(key_id)


def looks_like_secret(text: str) -> bool:
    """True when ``text`` contains a live-looking secret (publishable keys excluded)."""
    return bool(
        _SECRET_TOKEN.search(text)
        or ("eyJ" in text and _JWT.search(text))
        or _BEARER.search(text)
        or _QUERY_CREDENTIAL.search(text)
        or _ASSIGNED_CREDENTIAL.search(text)
    )


def redact(text: str) -> str:
    """Replace every secret-looking part of free text by its masked form."""
    if not text:
        return text
    if "eyJ" in text:  # a substring test costs nothing next to the pattern's scan
        text = _JWT.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + mask(m.group(1)), text)
    text = _SECRET_TOKEN.sub(lambda m: mask(m.group(1)), text)
    text = _PUBLISHABLE.sub(lambda m: mask(m.group(0)), text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {mask(m.group(2))}", text)
    text = _QUERY_CREDENTIAL.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}", text)
    return _ASSIGNED_CREDENTIAL.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}", text)
