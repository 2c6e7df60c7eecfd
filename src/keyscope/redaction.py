"""Secret detection and masking, applied before anything is stored or shown.

A secret never leaves keyscope in any form longer than a type prefix plus its last
four characters.  Detectors follow the common key formats of payment platforms and
code hosts (prefix-typed keys such as ``sk_live_``), bearer tokens, credential query
parameters and assignments, and URL passwords; publishable keys (``pk_``) are public by
design and only masked.
"""

from __future__ import annotations

import hashlib
import re

# Where a secret may start: not inside a word (a typed key may start inside one, see
# below).  Text quoted with repr() or a JSON encoder writes a control character as an
# escape (``'2026-11-01\nsk_live_…'`` in an error message), whose letter or hex digits
# are not part of what follows: text holding a backslash is scanned with patterns that
# also start a secret right after such an escape.  Those lookbehinds cost a check at
# nearly every position, so text without a backslash skips them.
_WORD_START = r"(?<![A-Za-z0-9])"
_AFTER_ESCAPE = (
    r"(?<=\\[abfnrtv])|(?<=\\x[0-9a-fA-F]{2})|(?<=\\u[0-9a-fA-F]{4})|(?<=\\U[0-9a-fA-F]{8})"
)


class _Detectors:
    """The secret patterns, with a secret starting at ``start`` (a zero-width pattern)."""

    __slots__ = ("assigned", "bearer", "jwt", "publishable", "token")

    def __init__(self, start: str, after_escape: str = "") -> None:
        # Prefix-typed secrets: secret (sk), restricted (rk), webhook signing (whsec), the
        # platform's partner keys (ks), GitHub tokens, AWS access key ids (long-term AKIA,
        # temporary ASIA), Slack tokens.  These prefixes are rare inside words, so they
        # are found glued to one too (``ops:xsk_live_…``, ``\x1b[1msk_live_…``), except
        # that a glued ``sk_live_``-style key must also be long and hold a digit
        # (``risk_test_scenarios`` is a word).  The 8-character typed prefix comes
        # first, then looks back past itself: a pattern that starts with a literal
        # is found by a fast scan.
        self.token = re.compile(
            r"((?:sk|rk|ks)_(?:live|test|prod)_"
            rf"(?:(?=[A-Za-z]*[0-9])[A-Za-z0-9]{{16,}}|(?<=(?:{start})[a-z]{{2}}_[a-z]{{4}}_)"
            r"[A-Za-z0-9]{8,})"
            r"|whsec_[A-Za-z0-9]{16,}"
            r"|gh[pousr]_[A-Za-z0-9]{20,}"
            r"|github_pat_[A-Za-z0-9_]{20,}"
            # AWS ids glued to a word only when they hold a digit, as real ones do:
            # NORTHASIAEASTSTANDARDTIME is one of Xero's time zones.
            rf"|AKIA(?:(?<=(?:{start})AKIA)|(?=[A-Z]*[0-9]))[0-9A-Z]{{16}}"
            rf"|ASIA(?:(?<=(?:{start})ASIA)|(?=[A-Z]*[0-9]))[0-9A-Z]{{16}}(?![0-9A-Z])"
            r"|xox[abposr]-[A-Za-z0-9-]{10,})"
        )
        self.publishable = re.compile(
            r"pk_(?:live|test)_"
            rf"(?:(?=[A-Za-z]*[0-9])[A-Za-z0-9]{{16,}}|(?<=(?:{start})pk_[a-z]{{4}}_)"
            r"[A-Za-z0-9]{8,})"
        )
        # JSON Web Tokens (``eyJ…``), kept apart for speed.  ``-`` and ``_`` belong to
        # a token's alphabet but do not stop a token from starting after them, so a
        # plain pattern would rescan one run of token characters from every ``eyJ``
        # inside it: quadratic, and hours on a 10 MB name like ``-eyJ-eyJ…``.  This one
        # starts only where a run begins, skips (lazily, inside an atomic group) to the
        # run's first ``eyJ`` that a token may start at, and never backtracks: if that
        # ``eyJ`` fails, every later one in the run fails too (same run end, fewer
        # characters).  Group 1 is the token itself.
        self.jwt = re.compile(
            rf"(?<![A-Za-z0-9_-])(?>[A-Za-z0-9_-]*?(?:{start})(?=eyJ))"
            r"(eyJ[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+)"
        )
        # The separator may be percent- or form-encoded (``?authorization=Bearer%20…``).
        # A whole word only (``access_token representing`` is prose).
        self.bearer = re.compile(
            rf"(?i)(?=[bt])(?:\b{after_escape})(bearer|basic|token)((?:\s|%20|\+)+)"
            r"([A-Za-z0-9._~+/=-]{12,})"
        )
        # A credential written into free text (``rotate me api_key=…``, ``password: …``):
        # only the unmistakable names, so an innocent ``sort key=name`` stays readable.
        self.assigned = re.compile(
            rf"(?i)((?:{start})(?:api[_-]?key|apikey|"
            r"(?:access|auth|refresh|private|session)[_-]?token|(?:client|key)[_-]?secret|"
            r"secret|(?:aws[_-]?)?secret[_-]?(?:access[_-]?)?key|private[_-]?key|password|"
            r"passwd)(?:\s*[=:]\s*|%3D))"
            r"([^\s&#,;'\"]+)"
        )


_PLAIN = _Detectors(_WORD_START)
_ESCAPED = _Detectors(f"{_WORD_START}|{_AFTER_ESCAPE}", f"|{_AFTER_ESCAPE}")

# A password in a URL's userinfo (``https://ops:…@host``), wherever the URL appears.
_URL_PASSWORD = re.compile(r"(://[^/?#@\s:]*:)([^/?#@\s]+)@")
# A credential parameter of a query, its separators possibly percent-encoded
# (``/invoices%3Fapi_key%3D…`` is one path segment to a router, but not to a reader).
_QUERY_CREDENTIAL = re.compile(
    r"(?i)((?:[?&;]|%3F|%26|%3B)"
    r"(?:api[_-]?key|apikey|(?:access|auth|id|private|refresh|session)[_-]?token|token|"
    r"(?:client|key)[_-]?secret|secret|(?:aws[_-]?)?secret[_-]?(?:access[_-]?)?key|"
    r"(?:access|private)[_-]?key|key|password|passwd|auth|authorization|sig|signature|"
    r"x-amz-signature|x-amz-security-token)(?:=|%3D))"
    r"([^&#\s]+)"
)
# The type prefixes a mask may keep: public, and part of what makes a key recognizable.
_PUBLIC_PREFIX = re.compile(
    r"(?:sk|rk|ks|pk)_(?:live|test|prod)_|whsec_|gh[pousr]_|github_pat_|xox[abposr]-|AKIA|ASIA"
)

SECRET_FIELD_NAMES = frozenset(
    {"secret", "token", "api_key", "apikey", "key_secret", "secret_key", "access_token",
     "password", "client_secret", "private_key"}
)  # fmt: skip
"""Inventory and log fields whose value is a secret by name: dropped at ingest."""


def mask(value: str) -> str:
    """Show a secret as its known type prefix and last four characters: ``sk_live_…WXYZ``.

    Only a known public prefix (:data:`_PUBLIC_PREFIX`) is kept: the start of anything
    else (``Supersecret-…``) is part of the secret.
    """
    match = _PUBLIC_PREFIX.match(value)
    return (match.group(0) if match else "") + _hide(value)


def _hide(value: str) -> str:
    """``…`` and the last four characters of a long value; a masked value stays as is."""
    if value.startswith("…") and len(value) <= 5:  # masked already: masking twice keeps it
        return value
    return "…" + (value[-4:] if len(value) >= 12 else "")


def mask_id(key_id: str) -> str:
    """A key id for display: at most a type prefix and the last four characters.

    The inventory's own ``key_`` prefix names no secret, so it stays.
    """
    if len(key_id) <= 8:
        return key_id
    return ("key_" if key_id.startswith("key_") else "") + mask(key_id)


def id_label(key_id: str) -> str:
    """A key id that must be masked, as shown and fingerprinted: its masked form plus the
    first six hex digits of the whole id's SHA-256 (``key_…e09m #3f2a9c``), so two ids
    that mask alike (the same last four characters) stay two; a short id as it is."""
    masked = mask_id(key_id)
    if masked == key_id:
        return key_id
    digest = hashlib.sha256(key_id.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{masked} #{digest}"


def looks_like_secret(text: str) -> bool:
    """True when ``text`` contains a live-looking secret (publishable keys excluded)."""
    found = _ESCAPED if "\\" in text else _PLAIN
    return bool(
        found.token.search(text)
        or ("eyJ" in text and found.jwt.search(text))
        or found.bearer.search(text)
        or ("://" in text and _URL_PASSWORD.search(text))
        or (
            _may_assign(text)
            and (
                _QUERY_CREDENTIAL.search(text)
                or any(_names_a_value(m) for m in found.assigned.finditer(text))
            )
        )
    )


def redact(text: str) -> str:
    """Replace every secret-looking part of free text by its masked form.

    A value named as a credential (``password=…``, a URL's password) keeps no prefix:
    only a typed token's prefix is public.
    """
    if not text:
        return text
    text = redact_tokens(text)
    found = _ESCAPED if "\\" in text else _PLAIN
    text = found.publishable.sub(lambda m: mask(m.group(0)), text)
    text = found.bearer.sub(lambda m: f"{m.group(1)}{m.group(2)}{mask(m.group(3))}", text)
    if _may_assign(text):
        text = _QUERY_CREDENTIAL.sub(lambda m: f"{m.group(1)}{_hide(m.group(2))}", text)
        text = found.assigned.sub(
            lambda m: f"{m.group(1)}{_hide(m.group(2))}" if _names_a_value(m) else m.group(0),
            text,
        )
    return text


def redact_tokens(text: str) -> str:
    """Mask only secrets that look like secrets on their own (typed keys, JWTs, URL
    passwords), not values named as credentials: for text where ``password:reset`` is a
    name, such as a spec's path templates, which requests must still match."""
    if not text:
        return text
    # Substring tests cost nothing next to a pattern's scan: most text holds no "://",
    # "eyJ" or assignment, and no backslash.
    found = _ESCAPED if "\\" in text else _PLAIN
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{_hide(m.group(2))}@", text)
    if "eyJ" in text:
        text = found.jwt.sub(
            lambda m: m.group(0)[: m.start(1) - m.start(0)] + mask(m.group(1)), text
        )
    return found.token.sub(lambda m: mask(m.group(1)), text)


# What follows a credential name and a colon in a scope or route name, not a value.
_SCOPE_VERBS = frozenset(
    {"read", "write", "readonly", "reset", "rotate", "revoke", "manage", "create", "update",
     "delete", "view", "list", "admin", "validate"}
)  # fmt: skip


def _names_a_value(match: re.Match[str]) -> bool:
    """Whether a credential name and what follows it hold a value: always, except a
    scope verb right after the colon (``private_key:read``, ``password:reset``).  Any
    plain word could be a password (``password: letmein``), so nothing else is spared."""
    separator = match.group(1)[-1]
    return not (separator == ":" and match.group(2) in _SCOPE_VERBS)


def _may_assign(text: str) -> bool:
    """False when ``text`` has no ``=``, ``:`` or ``%3D``: no named credential in it."""
    return "=" in text or ":" in text or "%3" in text
