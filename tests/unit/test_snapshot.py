"""Snapshot folders: writing through a mock platform, verification on read, the audit
window check, and the progress reporter (TTY bar vs plain lines)."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyscope.commands._platform import ProgressReporter
from keyscope.errors import FetchError, ReportError
from keyscope.settings import Settings
from keyscope.sources.live import ApiKeyCredential, PlatformClient, parse_platform_settings
from keyscope.sources.snapshot import (
    SnapshotError,
    fetch_snapshot,
    read_snapshot,
    settings_for_snapshot,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
SECRET_IN_NAME = "sk_live_abcdefghijklmnop1234"
SPEC = {"openapi": "3.1.0", "paths": {"/a": {"get": {}, "post": {}}, "/b": {"get": {}}}}
KEYS = [
    {"id": "key_b", "name": "second", "scopes": ["invoices:read"], "full_access": False,
     "status": "active", "secret": "ks_live_shouldNeverBeStored123", "extra": "dropped"},
    {"id": "key_a", "name": f"deploy {SECRET_IN_NAME}", "scopes": None, "full_access": True,
     "status": "active"},
]  # fmt: skip
T1 = "2026-10-01T10:00:00Z"
EVENTS = {
    "key_a": [
        {"timestamp": T1, "method": "GET", "path": "/v1/a?api_key=ks_live_inTheUrl99999999",
         "status": 200, "request_id": "r1", "user_agent": "x", "authorization": "Bearer abc"},
        {"timestamp": T1, "method": "GET", "path": "/v1/a", "status": 200, "request_id": "r1"},
    ],
    "key_b": [
        {"timestamp": "2026-10-02T10:00:00Z", "method": "POST", "path": "/v1/a", "status": 201}
    ],
}  # fmt: skip


def platform(forbidden: frozenset[str] = frozenset()) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/auth/token":
            return httpx.Response(
                200, json={"access_token": "tok_0123456789abcdef", "expires_in": 60}
            )
        if path == "/v1/openapi.json":
            return httpx.Response(200, json=SPEC)
        if path == "/v1/api-keys":
            return httpx.Response(200, json={"data": KEYS, "has_more": False, "next_cursor": None})
        key_id = path.split("/")[3]
        if key_id in forbidden:
            return httpx.Response(403, json={"error": {"message": "needs api_keys:read"}})
        assert request.url.params["since"] == "2026-08-03T00:00:00Z"
        assert request.url.params["until"] == "2026-11-01T00:00:00Z"
        return httpx.Response(
            200, json={"data": EVENTS[key_id], "has_more": False, "next_cursor": None}
        )

    return httpx.MockTransport(handler)


def client(transport: httpx.MockTransport) -> PlatformClient:
    settings = parse_platform_settings({"base_url": "https://api.example.test"})
    return PlatformClient(
        settings, ApiKeyCredential("ks_live_CANARY00000000000", "env"), transport=transport
    )


def test_a_snapshot_holds_scrubbed_sorted_keys_and_usage(tmp_path: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    out = tmp_path / "snap"
    manifest = fetch_snapshot(
        client(platform()), out, as_of=AS_OF, window_days=90, progress=lambda *a: progress.append(a)
    )
    assert manifest.complete and manifest.folder == out
    keys = json.loads((out / "keys.json").read_text())["keys"]
    assert [k["id"] for k in keys] == ["key_a", "key_b"]
    assert "secret" not in keys[1] and "extra" not in keys[1]
    assert SECRET_IN_NAME not in (out / "keys.json").read_text() and keys[0]["name"].startswith(
        "deploy sk_live_"
    )
    lines = [
        json.loads(line)
        for line in gzip.decompress((out / "usage.jsonl.gz").read_bytes()).splitlines()
    ]
    assert len(lines) == 2 and manifest.counts["duplicate_events_dropped"] == 1
    assert set(lines[0]) == {"timestamp", "key_id", "method", "path", "status", "request_id"}
    assert "inTheUrl99999999" not in json.dumps(lines) and "Bearer" not in json.dumps(lines)
    assert manifest.counts["operations"] == 3 and manifest.counts["keys"] == 2
    assert ("usage", 2, 2) in progress and progress[0] == ("spec", 0, 1)
    # Same platform data, same bytes (gzip without a time stamp): reproducible snapshots.
    again = fetch_snapshot(client(platform()), tmp_path / "again", as_of=AS_OF, window_days=90)
    for name in ("spec.json", "keys.json", "usage.jsonl.gz"):
        assert (out / name).read_bytes() == (again.folder / name).read_bytes()
    assert read_snapshot(out).files == manifest.files
    assert manifest.redacted == (("key_a", "name"),) == read_snapshot(out).redacted


def test_redacted_fields_reach_the_audit_through_the_manifest(tmp_path: Path) -> None:
    from keyscope.model import ApiKey
    from keyscope.sources.snapshot import mark_redacted_fields

    out = tmp_path / "snap"
    fetch_snapshot(client(platform()), out, as_of=AS_OF, window_days=90)
    keys = (
        ApiKey("key_a", name="deploy sk_live_…1234"),
        ApiKey("key_b", redacted_fields=("owner",)),
    )
    marked = mark_redacted_fields(keys, out)
    assert marked[0].redacted_fields == ("name",) and marked[1].redacted_fields == ("owner",)


def test_a_forbidden_usage_list_marks_the_snapshot_incomplete(tmp_path: Path) -> None:
    manifest = fetch_snapshot(
        client(platform(frozenset({"key_b"}))), tmp_path / "snap", as_of=AS_OF, window_days=90
    )
    assert not manifest.complete
    assert manifest.incomplete_reasons == (
        "requests of key_b: not read (HTTP 403 (the API key lacks the scope this call needs): "
        "needs api_keys:read)",
    )
    assert read_snapshot(tmp_path / "snap").incomplete_reasons == manifest.incomplete_reasons


def test_a_failed_fetch_leaves_the_previous_snapshot_and_no_staging(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    fetch_snapshot(client(platform()), out, as_of=AS_OF, window_days=90)
    before = (out / "manifest.json").read_bytes()

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/token":
            return httpx.Response(
                200, json={"access_token": "tok_0123456789abcdef", "expires_in": 60}
            )
        if request.url.path == "/v1/openapi.json":
            return httpx.Response(200, json=SPEC)
        return httpx.Response(500)

    bad = client(httpx.MockTransport(broken))
    bad.settings = parse_platform_settings(
        {"base_url": "https://api.example.test", "max_retries": 0}
    )
    with pytest.raises(FetchError):
        fetch_snapshot(bad, out, as_of=AS_OF, window_days=90)
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snap.lock", "snap"]


def test_fetch_refuses_symlinks_and_files(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ReportError, match="symbolic link"):
        fetch_snapshot(client(platform()), tmp_path / "link", as_of=AS_OF, window_days=90)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError, match="not a folder"):
        fetch_snapshot(client(platform()), tmp_path / "file", as_of=AS_OF, window_days=90)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    out = tmp_path / "snap"
    fetch_snapshot(client(platform()), out, as_of=AS_OF, window_days=90)
    return out


def _edit_manifest(folder: Path, change: Any) -> None:
    data = json.loads((folder / "manifest.json").read_text())
    change(data)
    (folder / "manifest.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(kind="other"), "not a keyscope snapshot manifest"),
        (lambda d: d.update(schema_version=2), "unsupported snapshot schema_version 2"),
        (lambda d: d["window"].update(start="yesterday"), "window start/end are not timestamps"),
        (lambda d: d["files"].pop("usage.jsonl.gz"), "no sha256 for usage.jsonl.gz"),
        (lambda d: d.update(incomplete_reasons="oops"), "incomplete_reasons: expected list"),
    ],
)
def test_a_bad_manifest_is_one_clear_error(snapshot: Path, change: Any, message: str) -> None:
    _edit_manifest(snapshot, change)
    with pytest.raises(SnapshotError, match=message) as caught:
        read_snapshot(snapshot)
    assert caught.value.exit_code == 3


def test_missing_or_altered_files_are_refused(snapshot: Path) -> None:
    (snapshot / "spec.json").write_text("{}")
    with pytest.raises(SnapshotError, match=r"spec\.json: sha256 differs"):
        read_snapshot(snapshot)
    (snapshot / "spec.json").unlink()
    with pytest.raises(SnapshotError, match="listed in the manifest but missing"):
        read_snapshot(snapshot)
    with pytest.raises(SnapshotError, match="snapshot folder not found"):
        read_snapshot(snapshot.parent / "nowhere")
    (snapshot / "manifest.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="not valid JSON"):
        read_snapshot(snapshot)


def test_the_snapshot_replaces_the_inputs_and_sets_as_of(snapshot: Path) -> None:
    settings, reasons = settings_for_snapshot(Settings(snapshot=snapshot, window_days=90))
    assert settings.spec == snapshot / "spec.json" and settings.keys == snapshot / "keys.json"
    assert [source.path for source in settings.usage] == [str(snapshot / "usage.jsonl.gz")]
    assert settings.as_of == AS_OF and reasons == ()


def test_an_audit_window_outside_the_fetched_one_is_incomplete(snapshot: Path) -> None:
    _, reasons = settings_for_snapshot(Settings(snapshot=snapshot, window_days=120))
    assert len(reasons) == 1 and "reaches outside the fetched usage window" in reasons[0]
    _, reasons = settings_for_snapshot(
        Settings(snapshot=snapshot, window_days=30, as_of=datetime(2026, 12, 1, tzinfo=UTC))
    )
    assert len(reasons) == 1
    _, reasons = settings_for_snapshot(
        Settings(snapshot=snapshot, window_days=30, as_of=datetime(2026, 10, 1, tzinfo=UTC))
    )
    assert reasons == ()


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise() -> None:
    tty = _Stream(True)
    bar = ProgressReporter(tty)
    for done in range(3):
        bar("usage", done + 1, 3)
    assert "\r" in tty.getvalue() and "[##########--------------------] 1/3" in tty.getvalue()
    assert tty.getvalue().endswith("\n")

    plain = _Stream(False)
    lines = ProgressReporter(plain)
    lines("spec", 0, 1)
    lines("spec", 1, 1)
    for done in range(50):
        lines("usage", done + 1, 50)
    lines.close()
    assert plain.getvalue() == "keyscope: fetched spec: 1/1\nkeyscope: fetched usage: 50/50\n"
    assert "\r" not in plain.getvalue()

    quiet = _Stream(False)
    off = ProgressReporter(quiet, enabled=False)
    off("usage", 1, 1)
    off.close()
    assert quiet.getvalue() == ""
