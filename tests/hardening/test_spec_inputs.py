"""Spec rows of BAD-INPUTS (#1-#16) and P8, beyond ``tests/cli/test_spec_bad_inputs.py``.

``tests/cli/test_spec_bad_inputs.py`` proves rows #1-#14 and #16 through ``keyscope spec``.
Here the same hostile specs go through ``keyscope audit`` (the command a scheduled job
runs), which must fail the same way: exit 3, one stderr line naming the file and the
place, nothing on stdout, no report written.  Row #15 (a fetched spec that is an HTML
login page, 5 GB, or a gzip bomb) runs against the live client's spec download, and P8
checks that a local spec with external ``$ref``\\ s is audited without a single socket.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import World

HEAD = "openapi: 3.0.3\ninfo: {title: T, version: '1'}\n"

_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
_BOOL_SCOPE = "paths:\n  /a:\n    get:\n      security: [{k: [true]}]\n      responses: {}\n"
_URL_REF = "paths:\n  /a:\n    $ref: 'http://169.254.169.254/latest/meta-data/'\n"

BAD_SPECS: dict[str, tuple[str | bytes, str]] = {
    "01-alias-bomb.yaml": (_BOMB, "alias"),
    "02-self-alias.yaml": ("a: &x [*x]\n", ":1:8: alias *x refers to a node that contains it"),
    "03-deep.json": ('{"a":' * 100000, "nest"),
    "04-duplicate-path.yaml": (
        HEAD + "paths:\n  /a: {}\n  /a: {}\n",
        "duplicate key '/a' (first at line 4, again at line 5)",
    ),
    "05-bool-scope.yaml": (HEAD + _BOOL_SCOPE, "expected a scope name (string), got a boolean"),
    "07-bool-key.yaml": (
        HEAD + "paths: {}\nx-map:\n  1: a\n  true: b\n",
        "mapping key 'true' is read as bool",
    ),
    "08-url-ref.yaml": (HEAD + _URL_REF, "#/paths/~1a"),
    "09-file-ref.yaml": (
        HEAD + "paths:\n  /x:\n    $ref: '../../.env#/x'\n",
        "external refs are disabled",
    ),
    "11-missing-ref.yaml": (
        HEAD + "paths:\n  /a: {$ref: '#/components/pathItems/a~1b'}\n",
        "$ref target not found",
    ),
    "16-multi-doc.yaml": (HEAD + "paths: {}\n---\nmore: 1\n", ":4:1: more than one YAML document"),
    "16-tabs.yaml": (HEAD + "paths:\n\t/a: {}\n", ":4:1: not valid YAML"),
    "16-latin1.yaml": (
        HEAD.encode() + b"x-note: caf\xe9\npaths: {}\n",
        "not valid UTF-8 (bad byte 0xe9 at byte offset",
    ),
    "16-control.yaml": (HEAD + "paths: {}\nx: \x1f\n", ":4:4: not valid YAML: character #x001f"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_bad_specs_stop_the_audit_with_one_located_line(
    world: World, cli: Callable[..., Any], tmp_path: Path, name: str, no_network: list[Any]
) -> None:
    content, expected = BAD_SPECS[name]
    folder = tmp_path / "api"
    folder.mkdir()
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    world.write()
    report = tmp_path / "report.json"
    outcome = cli("audit", *world.flags(), "--spec", str(path), "--json", str(report))
    assert outcome.code == 3, outcome.err
    assert outcome.out == ""
    assert outcome.err.count("\n") == 1 and outcome.err.startswith(f"keyscope: error: {path}:")
    assert expected in outcome.err
    assert "Traceback" not in outcome.err
    assert not report.exists()
    assert no_network == []


def test_08_p8_external_refs_are_reported_not_fetched(
    world: World, cli: Callable[..., Any], no_network: list[Any]
) -> None:
    """P8: a local spec whose unused schemas point at URLs and other files audits fine
    with sockets forbidden; the refs are reported, never followed."""
    world.spec["components"]["schemas"] = {
        "Meta": {"$ref": "http://169.254.169.254/latest/meta-data/"},
        "Intranet": {"$ref": "https://intranet.example/spec.yaml#/Thing"},
        "Local": {"$ref": "other.yaml#/Thing"},
    }
    world.write()
    outcome = cli("audit", *world.flags(), "--format", "json")
    assert outcome.code == 0, outcome.err
    rules = [anomaly["rule"] for anomaly in json.loads(outcome.out)["anomalies"]]
    assert "external-ref-not-followed" in rules
    assert no_network == []


def test_10_recursive_schemas_audit_fine(world: World, cli: Callable[..., Any]) -> None:
    world.spec["components"]["schemas"] = {
        "Node": {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
            },
        },
        "A": {"oneOf": [{"$ref": "#/components/schemas/B"}]},
        "B": {"allOf": [{"$ref": "#/components/schemas/A"}]},
    }
    world.spec["paths"]["/invoices"]["get"]["responses"]["200"]["content"] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
    }
    world.write()
    outcome = cli("audit", *world.flags(), "--format", "json")
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out)["complete"] is True


# --------------------------------------------------------------------------- #15 fetched spec

BASE = "https://api.example.test"


@pytest.fixture
def spec_client() -> Iterator[Callable[..., Any]]:
    """A platform client whose spec download answers with ``handler``."""
    from keyscope.sources.live import ApiKeyCredential, PlatformClient, parse_platform_settings

    clients: list[Any] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **platform: Any) -> Any:
        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/auth/token":
                return httpx.Response(200, json={"access_token": "tok_test", "expires_in": 300})
            return handler(request)

        settings = parse_platform_settings({"base_url": BASE, "max_retries": 0, **platform})
        client = PlatformClient(
            settings,
            ApiKeyCredential("ks_live_spectest0000000000", "test"),
            transport=httpx.MockTransport(answer),
            sleep=lambda _s: None,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_15_an_html_login_page_is_not_a_spec(spec_client: Callable[..., Any]) -> None:
    from keyscope.errors import FetchError

    client = spec_client(
        lambda _r: httpx.Response(
            200, headers={"Content-Type": "text/html"}, content=b"<html><form>Sign in</form></html>"
        )
    )
    with pytest.raises(FetchError, match=r"expected JSON, got text/html .*login page"):
        client.get_bytes("/v1/openapi.json")


def test_15_a_5gb_spec_is_refused_before_reading(spec_client: Callable[..., Any]) -> None:
    from keyscope.errors import FetchError

    read: list[int] = []

    class Huge(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            for _ in range(5 * 1024):
                read.append(1)
                yield b"{" * (1 << 20)

    client = spec_client(
        lambda _r: httpx.Response(
            200,
            headers={"Content-Type": "application/json", "Content-Length": str(5 << 30)},
            stream=Huge(),
        )
    )
    with pytest.raises(FetchError, match=re.escape("GET /v1/openapi.json")):
        client.get_bytes("/v1/openapi.json")
    assert len(read) <= 1


def test_15_an_endless_spec_stops_at_the_cap(spec_client: Callable[..., Any]) -> None:
    from keyscope.errors import FetchError

    read: list[int] = []

    class Endless(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            while True:
                read.append(1)
                yield b" " * (1 << 20)

    client = spec_client(
        lambda _r: httpx.Response(
            200, headers={"Content-Type": "application/json"}, stream=Endless()
        ),
        max_response_bytes=8 << 20,
    )
    with pytest.raises(FetchError, match=re.escape("GET /v1/openapi.json")):
        client.get_bytes("/v1/openapi.json")
    assert len(read) <= 10


def test_15_a_gzip_bomb_spec_stops_at_the_decompressed_cap(spec_client: Callable[..., Any]) -> None:
    from keyscope.errors import FetchError

    bomb = gzip.compress(b" " * (64 << 20), compresslevel=9)
    assert len(bomb) < 200_000
    client = spec_client(
        lambda _r: httpx.Response(
            200,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            content=bomb,
        ),
        max_response_bytes=8 << 20,
    )
    with pytest.raises(FetchError, match=re.escape("GET /v1/openapi.json")):
        client.get_bytes("/v1/openapi.json")


def test_15_a_good_spec_is_kept_byte_for_byte(spec_client: Callable[..., Any]) -> None:
    body = json.dumps({"openapi": "3.0.3", "paths": {}}).encode()
    client = spec_client(
        lambda _r: httpx.Response(200, headers={"Content-Type": "application/json"}, content=body)
    )
    assert client.get_bytes("/v1/openapi.json").body == body
