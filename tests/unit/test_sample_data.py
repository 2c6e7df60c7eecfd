"""The bundled sample: spec, key inventory, generated usage, and the generator itself.

These tests check the sample against its own design (the stories in
``keyscope.sample_data.STORIES``) with small, independent helpers (a regex route
matcher and a brute-force scope minimizer written here), so a mistake in the sample
shows up here rather than as a puzzling audit result elsewhere.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyarrow.parquet as pq
import pytest
import yaml

from keyscope import sample_data
from keyscope.redaction import looks_like_secret
from keyscope.sample_data import STORIES, UNKNOWN_KEY_ID

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_specs"
SPEC_PATH = SAMPLES / "partner-api.yaml"
KEYS_PATH = SAMPLES / "keys.yaml"
LOG_PATH = SAMPLES / "usage" / "requests.jsonl.gz"
GATEWAY_PATH = SAMPLES / "usage" / "gateway.csv"
HAR_PATH = SAMPLES / "integration.har"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_START = AS_OF - timedelta(days=90)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PUBLIC = {"GET /health", "GET /openapi.json", "POST /auth/token"}

# Stories by role, named once so the tests read like the key inventory's comments.
PROBED = "key_8bdk6esj432y9qr0"
DORMANT_LEGACY = "key_rvh4llazukc6935q"
DORMANT_SCOPED = "key_73ej48w8rh8hyoeo"
REVOKED = "key_t5alncjd5yxlc4rz"
TOO_NEW = "key_0br6c7utckkx7g35"
PAYOUT_BATCH = "key_i2h6767ck7f46kes"
ERP = "key_tuatww41kcywm881"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def operations(spec: dict) -> dict[str, dict]:
    """``"METHOD /path"`` -> operation object."""
    return {
        f"{method.upper()} {path}": item[method]
        for path, item in spec["paths"].items()
        for method in METHODS
        if method in item
    }


@pytest.fixture(scope="module")
def catalog(spec: dict) -> dict[str, str]:
    return spec["components"]["securitySchemes"]["partnerOAuth"]["flows"]["clientCredentials"][
        "scopes"
    ]


@pytest.fixture(scope="module")
def keys() -> list[dict]:
    return yaml.safe_load(KEYS_PATH.read_text(encoding="utf-8"))["keys"]


@pytest.fixture(scope="module")
def log_lines() -> list[str]:
    return gzip.decompress(LOG_PATH.read_bytes()).decode("utf-8").split("\n")


@pytest.fixture(scope="module")
def events(log_lines: list[str]) -> list[dict]:
    parsed = []
    for line in log_lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    gateway = list(csv.DictReader(GATEWAY_PATH.read_text(encoding="utf-8").splitlines()))
    for row in gateway:
        parsed.append(
            {
                "timestamp": row["time"],
                "key_id": row["api_key_id"],
                "method": row["http_method"],
                "path": row["request_uri"],
                "status": int(row["status_code"]),
            }
        )
    return parsed


class _Matcher:
    """Request path -> operation key, concrete segments before templates (test-only)."""

    def __init__(self, operations: dict[str, dict]) -> None:
        self.routes = []
        for key in operations:
            method, path = key.split(" ", 1)
            pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$"
            self.routes.append((path.count("{"), method, re.compile(pattern), key))
        self.routes.sort(key=lambda route: (route[0], route[3]))

    def match(self, method: str, raw_path: str) -> str | None:
        path = unquote(urlsplit(raw_path).path)
        assert path.startswith("/v1/"), raw_path
        path = path.removeprefix("/v1").rstrip("/") or "/"
        for _, route_method, pattern, key in self.routes:
            if route_method == method.upper() and pattern.match(path):
                return key
        return None


def _requirements(operation: dict) -> list[frozenset[str]]:
    return [
        frozenset(scope for scopes in requirement.values() for scope in scopes)
        for requirement in operation["security"]
    ]


def _expand(scopes: frozenset[str]) -> frozenset[str]:
    """The platform's rule: ``area:write`` includes ``area:read``."""
    return scopes | {s.replace(":write", ":read") for s in scopes if s.endswith(":write")}


def _minimal_sets(needs: list[list[frozenset[str]]]) -> list[frozenset[str]]:
    """The smallest scope sets (then fewest writes) that satisfy one alternative of each need."""
    candidates = sorted(
        {scope for need in needs for alternative in need for scope in alternative}
        | {
            scope.replace(":read", ":write")
            for need in needs
            for alternative in need
            for scope in alternative
        }
    )
    for size in range(len(candidates) + 1):
        found = [
            frozenset(subset)
            for subset in itertools.combinations(candidates, size)
            if all(
                any(alternative <= _expand(frozenset(subset)) for alternative in need)
                for need in needs
            )
        ]
        if found:
            # Ties go to the lower risk: fewer write scopes.
            fewest = min(sum(s.endswith(":write") for s in subset) for subset in found)
            return [
                subset for subset in found if sum(s.endswith(":write") for s in subset) == fewest
            ]
    return []  # pragma: no cover - the full candidate set always satisfies


def _in_window(event: dict) -> bool:
    moment = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    return WINDOW_START <= moment < AS_OF


# --------------------------------------------------------------------------- the spec


def test_spec_is_openapi_31_with_a_v1_base_path(spec: dict) -> None:
    assert spec["openapi"] == "3.1.0"
    assert spec["servers"][0]["url"] == "https://api.example.test/v1"
    assert not any(path.startswith("/v1") for path in spec["paths"])


def test_spec_has_at_least_45_documented_operations(operations: dict[str, dict]) -> None:
    assert len(operations) >= 45
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids))
    for key, operation in operations.items():
        assert operation.get("summary"), key
        assert operation.get("tags"), key


def test_every_path_parameter_is_defined(spec: dict) -> None:
    parameters = spec["components"]["parameters"]

    def resolve(parameter: dict) -> dict:
        if "$ref" in parameter:
            return parameters[parameter["$ref"].rsplit("/", 1)[1]]
        return parameter

    for path, item in spec["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            declared = {
                resolve(p)["name"]
                for p in item.get("parameters", []) + item[method].get("parameters", [])
                if resolve(p)["in"] == "path"
            }
            assert declared == set(re.findall(r"\{(\w+)\}", path)), f"{method} {path}"


def test_catalog_has_16_scopes_each_described(catalog: dict[str, str]) -> None:
    areas = ("invoices", "payments", "customers", "refunds", "payouts", "webhooks", "checkout")
    expected = {f"{area}:{access}" for area in (*areas, "api_keys") for access in ("read", "write")}
    assert set(catalog) == expected
    for name, description in catalog.items():
        assert isinstance(description, str) and len(description) > 10, name
        if name.endswith(":write"):
            assert f"includes {name.replace(':write', ':read')}" in description, name


def test_every_operation_has_a_catalog_scope_except_the_public_ones(
    operations: dict[str, dict], catalog: dict[str, str]
) -> None:
    public = {key for key, operation in operations.items() if operation["security"] == []}
    assert public == PUBLIC
    used: set[str] = set()
    for key, operation in operations.items():
        if key in public:
            continue
        requirements = _requirements(operation)
        assert requirements and all(requirements), key
        for alternative in requirements:
            assert alternative <= set(catalog), key
            used |= alternative
    assert used == set(catalog), "every declared scope guards some operation"


def test_and_and_or_requirements_are_present_and_documented(operations: dict[str, dict]) -> None:
    combined = {k for k, op in operations.items() if any(len(r) > 1 for r in _requirements(op))}
    alternatives = {k for k, op in operations.items() if len(op["security"]) > 1}
    assert combined == {
        "POST /invoices/{invoice_id}/pay",
        "POST /invoices/{invoice_id}/credit-note",
        "GET /payouts/{payout_id}/payments",
    }
    for key in combined:
        assert '"all" semantics' in operations[key]["description"], key
    assert alternatives == {"GET /payments/{payment_id}/refunds"}
    assert _requirements(operations["GET /payments/{payment_id}/refunds"]) == [
        frozenset({"refunds:read"}),
        frozenset({"payments:read"}),
    ]


def test_spec_has_a_recursive_schema(spec: dict) -> None:
    customer = spec["components"]["schemas"]["Customer"]
    assert {"$ref": "#/components/schemas/Customer"} in customer["properties"]["parent"]["oneOf"]


def test_key_management_endpoints_of_the_partner_api(operations: dict[str, dict]) -> None:
    for key in (
        "POST /auth/token",
        "GET /api-keys",
        "POST /api-keys",
        "PATCH /api-keys/{key_id}",
        "POST /api-keys/{key_id}/revoke",
        "GET /api-keys/{key_id}/requests",
        "GET /openapi.json",
    ):
        assert key in operations, key
    listed = {p["$ref"].rsplit("/", 1)[1] for p in operations["GET /api-keys"]["parameters"]}
    assert {"Limit", "Cursor"} <= listed


def test_sample_spec_loads_through_keyscope_with_no_anomalies() -> None:
    from keyscope.sources.openapi import SpecOptions, load_spec

    loaded = load_spec(SPEC_PATH, SpecOptions(semantics="all"))
    assert loaded.base_paths == ("/v1",)
    assert len(loaded.operations) >= 45
    assert len(loaded.catalog) == 16
    assert loaded.anomalies == ()
    # Left to detect the semantics itself, it may only say the lists are ambiguous.
    detected = load_spec(SPEC_PATH)
    assert detected.semantics == "all"
    assert {a.rule for a in detected.anomalies} <= {
        "ambiguous-scope-semantics",
        "ambiguous-scope-list",
    }


# --------------------------------------------------------------------------- the keys


def test_inventory_has_the_stories_a_reviewer_expects(keys: list[dict]) -> None:
    assert len(keys) >= 18
    ids = [key["id"] for key in keys]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"key_[a-z0-9]{16}", key_id) for key_id in ids)
    legacy = [k for k in keys if k.get("full_access") is True or k.get("scopes", ()) is None]
    assert len(legacy) == 4
    assert [k["id"] for k in keys if k["status"] == "revoked"] == [REVOKED]
    created = {
        k["id"]: datetime.fromisoformat(k["created_at"].replace("Z", "+00:00")) for k in keys
    }
    assert [key_id for key_id, when in created.items() if AS_OF - when < timedelta(days=30)] == [
        TOO_NEW
    ]
    assert any("reports:read" in (k.get("scopes") or ()) for k in keys)
    assert max(Counter(k["name"] for k in keys).values()) == 2
    assert any("</script>" in k["name"] and "[bold]" in k["name"] for k in keys)
    for key in keys:
        assert key["owner"] and key["environment"] in ("production", "staging", "sandbox")
        assert key["status"] in ("active", "revoked")


def test_inventory_holds_no_secrets(keys: list[dict]) -> None:
    for key in keys:
        for field, value in key.items():
            assert not (isinstance(value, str) and looks_like_secret(value)), (key["id"], field)
        assert not key["id"].startswith(("sk_", "rk_"))


def test_stories_match_the_inventory_and_the_spec(keys: list[dict]) -> None:
    inventory = {key["id"]: key["status"] for key in keys}
    spec_operations = sample_data.read_spec_operations(SPEC_PATH)
    sample_data.check_stories(STORIES, spec_operations, inventory)  # raises on a mismatch
    assert UNKNOWN_KEY_ID not in inventory
    assert set(inventory) <= set(STORIES)


def test_check_stories_rejects_an_operation_the_spec_lacks() -> None:
    spec_operations = sample_data.read_spec_operations(SPEC_PATH)
    broken = {"key_aaaaaaaaaaaaaaaa": sample_data.Story("x", (("GET /nowhere", 1),), per_day=1)}
    with pytest.raises(sample_data.UsageError, match="GET /nowhere"):
        sample_data.check_stories(broken, spec_operations, None)


# --------------------------------------------------------------------------- the sample log


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    output = tmp_path / "requests.jsonl.gz"
    gateway = tmp_path / "gateway.csv"
    har = tmp_path / "integration.har"
    arguments = [
        "--keys", str(KEYS_PATH), "--spec", str(SPEC_PATH), "--as-of", "2026-11-01",
        "--days", "90", "--output", str(output), "--gateway-csv", str(gateway), "--har", str(har),
    ]  # fmt: skip
    assert sample_data.main(arguments) == 0
    assert output.read_bytes() == LOG_PATH.read_bytes(), "regenerate the sample (module docstring)"
    assert gateway.read_bytes() == GATEWAY_PATH.read_bytes()
    assert har.read_bytes() == HAR_PATH.read_bytes()
    assert LOG_PATH.stat().st_size < 2_000_000


def test_generator_is_deterministic_and_follows_the_seed(tmp_path: Path) -> None:
    outputs = []
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        path = tmp_path / f"{name}.jsonl.gz"
        arguments = ["--spec", str(SPEC_PATH), "--days", "30", "--seed", seed]
        assert sample_data.main([*arguments, "--output", str(path)]) == 0
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_sample_has_a_few_malformed_lines(log_lines: list[str]) -> None:
    bad = []
    for number, line in enumerate(log_lines, start=1):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
    assert len(bad) == sample_data.MALFORMED_LINES + 1
    assert bad[-1] == len(log_lines), "the last line is half-written"
    assert not gzip.decompress(LOG_PATH.read_bytes()).endswith(b"\n")
    assert len(bad) / len(log_lines) < 0.001


def test_every_request_matches_the_spec_except_the_legacy_route(
    events: list[dict], operations: dict[str, dict]
) -> None:
    matcher = _Matcher(operations)
    unmatched = Counter(
        (event["key_id"], event["method"], event["path"])
        for event in events
        if matcher.match(event["method"], event["path"]) is None
    )
    assert unmatched == {
        (ERP, "GET", "/v1/legacy/charges"): 6,
        (ERP, "POST", "/v1/legacy/charges"): 2,
    }


def test_sample_has_the_messiness_of_real_logs(events: list[dict]) -> None:
    paths = [event["path"] for event in events]
    methods = [event["method"] for event in events]
    assert any(method.islower() for method in methods)
    assert any(urlsplit(path).path.endswith("/") for path in paths)
    assert any("%5F" in urlsplit(path).path for path in paths)
    assert sum("?" in path for path in paths) > 1000
    assert any(event["key_id"] == UNKNOWN_KEY_ID for event in events)
    assert all(event["timestamp"] < "2026-11-01" for event in events)
    assert any(not _in_window(event) for event in events), "a few days before the window"


def test_probed_key_has_denied_requests_only_outside_its_grants(
    events: list[dict], operations: dict[str, dict]
) -> None:
    matcher = _Matcher(operations)
    denied = Counter(
        matcher.match(e["method"], e["path"])
        for e in events
        if e["key_id"] == PROBED and e["status"] == 403
    )
    assert set(denied) == {"GET /payouts", "POST /payouts", "GET /balance", "GET /api-keys"}
    assert sum(denied.values()) >= 50
    assert not any(e["status"] == 403 for e in events if e["key_id"] != PROBED)


def test_dormant_keys_have_no_requests_in_the_window(events: list[dict]) -> None:
    for key_id in (DORMANT_LEGACY, DORMANT_SCOPED):
        assert not any(e["key_id"] == key_id for e in events)


def test_revoked_key_only_gets_401s_and_too_new_key_starts_on_creation(events: list[dict]) -> None:
    assert {e["status"] for e in events if e["key_id"] == REVOKED} == {401}
    new = [e["timestamp"] for e in events if e["key_id"] == TOO_NEW]
    assert new and min(new) >= "2026-10-22"


def test_payout_batch_runs_on_the_first_of_each_month(events: list[dict]) -> None:
    days = {e["timestamp"][:10] for e in events if e["key_id"] == PAYOUT_BATCH}
    assert days == {"2026-08-01", "2026-09-01", "2026-10-01"}  # 2026-08-01 precedes the window


def test_gateway_export_and_har_use_their_own_shapes() -> None:
    header = GATEWAY_PATH.read_text(encoding="utf-8").splitlines()[0]
    assert header == "time,api_key_id,http_method,request_uri,status_code"
    har = json.loads(HAR_PATH.read_text(encoding="utf-8"))
    entries = har["log"]["entries"]
    assert har["log"]["version"] == "1.2" and len(entries) >= 10
    for entry in entries:
        assert entry["request"]["url"].startswith("https://api.example.test/v1/")
        assert isinstance(entry["response"]["status"], int) and entry["startedDateTime"]
    authorizations = [
        header["value"]
        for entry in entries
        for header in entry["request"]["headers"]
        if header["name"] == "Authorization"
    ]
    assert authorizations and all(value.startswith("Bearer sk_test_") for value in authorizations)
    assert all(looks_like_secret(value) for value in authorizations)


def test_stories_need_exactly_their_intended_scopes(
    events: list[dict], operations: dict[str, dict]
) -> None:
    """Brute force over the used operations: the smallest scope set is unique and intended."""
    matcher = _Matcher(operations)
    used: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["status"] < 400 and _in_window(event):
            key = matcher.match(event["method"], event["path"])
            if key is not None and key not in PUBLIC:
                used[event["key_id"]].add(key)
    checked = 0
    for key_id, story in STORIES.items():
        if not story.in_inventory or story.intended_suggestion is None:
            continue
        story_operations = {op for op, _ in story.operations} - PUBLIC
        assert used[key_id] == story_operations, key_id  # every story operation shows up
        needs = [_requirements(operations[op]) for op in sorted(used[key_id])]
        minimal = _minimal_sets(needs) if needs else [frozenset()]
        assert len(minimal) == 1, (key_id, minimal)
        if story.intended_confidence == "insufficient":
            # Too new to judge: the suggestion keeps the grants, which cover the use.
            assert minimal[0] <= _expand(frozenset(story.intended_suggestion)), key_id
        else:
            assert minimal[0] == frozenset(story.intended_suggestion), key_id
        checked += 1
    assert checked >= 17


# --------------------------------------------------------------------------- synthetic mode


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_synthetic_mode_writes_exactly_n_lines(tmp_path: Path, fmt: str) -> None:
    output = tmp_path / f"big.{fmt}"
    inventory = tmp_path / "keys.json"
    arguments = [
        "--spec", str(SPEC_PATH), "--synthetic-keys", "7", "--lines", "2500",
        "--format", fmt, "--output", str(output), "--keys-output", str(inventory),
    ]  # fmt: skip
    assert sample_data.main(arguments) == 0
    if fmt == "parquet":
        rows = pq.read_table(output).to_pylist()
    elif fmt == "csv":
        rows = list(csv.DictReader(output.read_text(encoding="utf-8").splitlines()))
    else:
        rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2500
    assert set(rows[0]) == {"timestamp", "key_id", "method", "path", "status"}
    inventory_ids = {key["id"] for key in json.loads(inventory.read_text())["keys"]}
    assert len(inventory_ids) == 7
    assert {row["key_id"] for row in rows} <= inventory_ids
    assert all(row["path"].startswith("/v1/") for row in rows)
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps) and stamps[0] >= "2026-08-03" and stamps[-1] < "2026-11-01"


def test_synthetic_jsonl_is_deterministic_gzip_and_full_fields(tmp_path: Path) -> None:
    contents = []
    for name in ("a", "b"):
        output = tmp_path / f"{name}.jsonl.gz"
        arguments = ["--synthetic-keys", "3", "--lines", "1000", "--full-fields"]
        assert sample_data.main([*arguments, "--output", str(output)]) == 0
        contents.append(gzip.decompress(output.read_bytes()))
    assert contents[0] == contents[1]
    lines = contents[0].decode().splitlines()
    assert len(lines) == 1000
    first = json.loads(lines[0])
    assert {"request_id", "ip", "user_agent"} <= set(first)


def test_synthetic_zero_lines_writes_an_empty_log(tmp_path: Path) -> None:
    output = tmp_path / "empty.jsonl"
    assert sample_data.main(["--synthetic-keys", "2", "--lines", "0", "--output", str(output)]) == 0
    assert output.read_text() == ""


# --------------------------------------------------------------------------- errors and config


def test_bad_inputs_give_one_line_and_an_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.jsonl")
    assert sample_data.main(["--spec", str(tmp_path / "missing.yaml"), "--output", out]) == 3
    assert sample_data.main(["--lines", "10", "--output", out]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.1.0\npaths: [\n")
    assert sample_data.main(["--spec", str(broken), "--output", out]) == 3
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert all(line.startswith("keyscope.sample_data: error: ") for line in errors)
    assert "missing.yaml" in errors[0] and "broken.yaml:" in errors[2]


def test_repository_config_points_at_the_sample() -> None:
    from keyscope.settings import load_settings

    settings = load_settings(config=ROOT / "keyscope.toml", env={}, cwd=ROOT)
    assert settings.spec == SPEC_PATH and settings.keys == KEYS_PATH
    assert settings.as_of == AS_OF and settings.window_days == 90
    assert [Path(source.path).name for source in settings.usage] == ["*.jsonl.gz", "gateway.csv"]
    assert list(Path(settings.usage[0].path).parent.glob("*.jsonl.gz")) == [LOG_PATH]
    assert settings.usage[1].fields["key_id"] == "api_key_id"
    assert settings.as_of.date() == date(2026, 11, 1)
