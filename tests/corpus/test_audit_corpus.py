"""Whole audits on the real public specs: the answers a reviewer would act on.

Each case is a key an integration of that platform really holds and the requests it
really makes; the expected suggestion comes from the spec's own requirements.  The
files are read in place; the tests skip when ../shared/corpus is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyscope.cli import main

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
SLACK = CORPUS / "slack" / "slack_web_openapi_v2.json"
XERO = CORPUS / "xero" / "xero_accounting.yaml"
SPOTIFY = CORPUS / "spotify" / "official-spotify-open-api.yml"
SQUARE = CORPUS / "square" / "api.json"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is absent"),
    pytest.mark.usefixtures("isolated"),
]


def audit(folder: Path, spec: Path, keys: str, requests: list[tuple[str, str, str, int]]) -> dict:
    """The JSON result of ``keyscope audit`` over one day of ``requests``."""
    (folder / "keys.yaml").write_text(keys, encoding="utf-8")
    lines = [
        json.dumps({
            "timestamp": f"2026-10-31T10:{minute:02d}:00Z", "key_id": key_id,
            "method": method, "path": path, "status": status,
        })
        for minute, (key_id, method, path, status) in enumerate(requests)
    ]
    (folder / "usage.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = folder / "audit.json"
    code = main([
        "audit", "--spec", str(spec), "--keys", str(folder / "keys.yaml"),
        "--usage", str(folder / "usage.jsonl"), "--as-of", "2026-11-01",
        "--window-days", "1", "--format", "json", "--output", str(output),
    ])  # fmt: skip
    assert code == 0
    return {key["id"]: key for key in json.loads(output.read_text(encoding="utf-8"))["keys"]}


def test_slack_keys_keep_the_alternative_they_hold(tmp_path: Path) -> None:
    # chat.postMessage accepts chat:write:bot or chat:write:user, and the conversation
    # methods channels:* or groups:* by channel type: each key keeps its own kind.
    keys = audit(
        tmp_path,
        SLACK,
        "keys:\n"
        "  - {id: user_token, name: poster, scopes: ['chat:write:user'],"
        " created_at: '2025-01-01'}\n"
        "  - {id: private, name: private rooms, scopes: ['groups:write', 'groups:read'],"
        " created_at: '2025-01-01'}\n",
        [
            ("user_token", "POST", "https://slack.com/api/chat.postMessage", 200),
            ("private", "POST", "https://slack.com/api/conversations.create", 200),
            ("private", "GET", "https://slack.com/api/conversations.list?types=im", 200),
        ],
    )
    assert keys["user_token"]["suggested_scopes"] == ["chat:write:user"]
    assert keys["user_token"]["excess_scopes"] == []
    assert keys["private"]["suggested_scopes"] == ["groups:read", "groups:write"]
    assert keys["private"]["excess_scopes"] == []


def test_xero_1099_report_keeps_the_narrow_scope(tmp_path: Path) -> None:
    report = "https://api.xero.com/api.xro/2.0/Reports/TenNinetyNine?reportYear=2025"
    keys = audit(
        tmp_path,
        XERO,
        "keys:\n"
        "  - {id: narrow, name: 1099, scopes: [accounting.reports.tenninetynine.read],"
        " created_at: '2025-01-01'}\n"
        "  - {id: legacy, name: old, full_access: true, created_at: '2022-01-01'}\n",
        [("narrow", "GET", report, 200), ("legacy", "GET", report, 200)],
    )
    # Either scope serves the report; the one named by fewer operations reaches less.
    for key_id in ("narrow", "legacy"):
        assert keys[key_id]["suggested_scopes"] == ["accounting.reports.tenninetynine.read"]
    assert keys["narrow"]["excess_scopes"] == []


def test_a_full_access_key_whose_requests_need_no_scope_is_in_use(tmp_path: Path) -> None:
    # Spotify's track lookup and search ask for a token and no scope.
    keys = audit(
        tmp_path,
        SPOTIFY,
        "keys:\n  - {id: legacy, name: catalogue, full_access: true, created_at: '2022-01-01'}\n",
        [
            ("legacy", "GET", "https://api.spotify.com/v1/tracks/11dFghVXANMlKmJXsNCbNl", 200),
            ("legacy", "GET", "https://api.spotify.com/v1/search?q=abba&type=artist", 200),
        ],
    )
    legacy = keys["legacy"]
    assert legacy["requests"] == 2 and legacy["suggested_scopes"] == []
    rules = {finding["rule"]: finding["message"] for finding in legacy["findings"]}
    assert "dormant-key" not in rules
    assert "need no scope" in rules["legacy-full-access"]
    assert "no successful request" not in rules["legacy-full-access"]


def test_a_full_access_key_holds_scopes_the_catalog_forgot(tmp_path: Path) -> None:
    # Square requires PAYMENT_METHODS_READ without declaring it in the catalog.
    keys = audit(
        tmp_path,
        SQUARE,
        "keys:\n  - {id: legacy, name: storefront, full_access: true, created_at: '2022-01-01'}\n",
        [("legacy", "GET", "https://connect.squareup.com/v2/online-checkout/merchant-settings", 200)],  # noqa: E501
    )
    legacy = keys["legacy"]
    assert "PAYMENT_METHODS_READ" in legacy["assigned_scopes"]
    assert {"MERCHANT_PROFILE_READ", "PAYMENT_METHODS_READ"} <= set(legacy["suggested_scopes"])
    assert not any("without a matching grant" in reason for reason in legacy["confidence_reasons"])


def test_spotify_areas_tell_probing_from_under_scoping(tmp_path: Path) -> None:
    # user-read-email and user-read-recently-played name different data (the word after
    # "read"): a login-only key reaching for listening history is probing, while a key
    # holding user-read-playback-state that is refused a playback change is under-scoped.
    keys = audit(
        tmp_path,
        SPOTIFY,
        "keys:\n"
        "  - {id: login, name: login, scopes: [user-read-email], created_at: '2025-01-01'}\n"
        "  - {id: player, name: now playing, scopes: [user-read-playback-state],"
        " created_at: '2025-01-01'}\n",
        [
            ("login", "GET", "https://api.spotify.com/v1/me", 200),
            ("login", "GET", "https://api.spotify.com/v1/me/player/recently-played", 403),
            ("player", "GET", "https://api.spotify.com/v1/me/player", 200),
            ("player", "PUT", "https://api.spotify.com/v1/me/player/pause", 403),
        ],
    )
    login = [f for f in keys["login"]["findings"] if f["rule"] == "denied-requests"]
    player = [f for f in keys["player"]["findings"] if f["rule"] == "denied-requests"]
    assert [f["severity"] for f in login] == ["medium"]
    assert "uses this area already" not in login[0]["message"]
    assert [f["severity"] for f in player] == ["low"]
    assert "uses this area already" in player[0]["message"]


def test_spotify_cover_upload_keeps_both_scopes_it_needs(tmp_path: Path) -> None:
    # PUT /playlists/{id}/images lists ugc-image-upload with playlist-modify-public and
    # -private; Spotify needs the first together with one of the others, so reading the
    # list as "any one" must not tell the key to drop ugc-image-upload.
    keys = audit(
        tmp_path,
        SPOTIFY,
        "keys:\n  - {id: covers, name: covers, scopes: [playlist-modify-public, ugc-image-upload],"
        " created_at: '2025-01-01'}\n",
        [
            ("covers", "PUT", "https://api.spotify.com/v1/playlists/37i9dQZF1DX/images", 202),
            ("covers", "POST", "https://api.spotify.com/v1/playlists/37i9dQZF1DX/items", 201),
        ],
    )
    covers = keys["covers"]
    assert covers["suggested_scopes"] == ["playlist-modify-public", "ugc-image-upload"]
    assert covers["excess_scopes"] == []
    assert any("mixed-scope-list" in reason for reason in covers["confidence_reasons"])
