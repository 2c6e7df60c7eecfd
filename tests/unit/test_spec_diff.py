"""Catalog drift between two spec versions (ANCHORS #8): pure comparison on small specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from keyscope.analysis.spec_diff import Requirement, diff_specs
from keyscope.model import ApiKey
from keyscope.sources.openapi import load_spec


def write_spec(
    folder: Path,
    name: str,
    scopes: dict[str, str],
    operations: dict[str, Any],
    version: str = "1",
) -> Path:
    """An OpenAPI 3.1 file: ``operations`` maps ``"GET /x"`` to a list of alternatives
    (each a list of scopes), ``"public"``, or None (no security stated)."""
    paths: dict[str, dict[str, Any]] = {}
    for key, requirement in operations.items():
        method, path = key.split(" ", 1)
        plain = path.replace("/", "_").replace("{", "").replace("}", "")
        entry: dict[str, Any] = {
            "operationId": f"{method.lower()}{plain}",
            "responses": {"200": {"description": "ok"}},
        }
        if requirement == "public":
            entry["security"] = []
        elif requirement is not None:
            entry["security"] = [{"oauth": list(alternative)} for alternative in requirement]
        paths.setdefault(path, {})[method.lower()] = entry
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Partner", "version": version},
        "x-write-implies-read": True,  # the partner platform's rule
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": scopes}},
                }
            }
        },
    }
    target = folder / name
    target.write_text(yaml.safe_dump(document, sort_keys=True))
    return target


BASE_SCOPES = {
    "invoices:read": "Read invoices.",
    "invoices:write": "Write invoices.",
    "payments:read": "Read payments.",
}
BASE_OPERATIONS: dict[str, Any] = {
    "GET /invoices": [["invoices:read"]],
    "POST /invoices": [["invoices:write"]],
    "GET /invoices/{id}": [["invoices:read"]],
    "GET /payments": [["payments:read"]],
    "GET /payments/{id}/disputes": [["payments:read"]],
    "GET /health": "public",
}


def key(key_id: str, *scopes: str, **changes: Any) -> ApiKey:
    return ApiKey(key_id=key_id, name=f"name of {key_id}", scopes=frozenset(scopes), **changes)


def pair(tmp_path: Path, new_scopes: dict[str, str], new_operations: dict[str, Any]):  # type: ignore[no-untyped-def]
    old = load_spec(write_spec(tmp_path, "old.yaml", BASE_SCOPES, BASE_OPERATIONS))
    new = load_spec(write_spec(tmp_path, "new.yaml", new_scopes, new_operations, version="2"))
    return old, new


def test_identical_specs_have_no_change(tmp_path: Path) -> None:
    old, new = pair(tmp_path, BASE_SCOPES, BASE_OPERATIONS)
    diff = diff_specs(old, new, [key("a", "invoices:write"), key("b", full_access=True)])
    assert not diff.changed and not diff.catalog_changed
    assert diff.keys == () and diff.active_keys == 2 and diff.keys_checked


def test_scopes_added_removed_and_redescribed(tmp_path: Path) -> None:
    scopes = {
        "invoices:read": "Read invoices and their lines.",
        "invoices:write": "Write invoices.",
        "refunds:read": "Read refunds.",
    }
    operations = {
        **{k: v for k, v in BASE_OPERATIONS.items() if "payments" not in k},
        "GET /refunds": [["refunds:read"]],
    }
    diff = diff_specs(*pair(tmp_path, scopes, operations))
    assert diff.scopes_added == ("refunds:read",)
    assert diff.scopes_removed == ("payments:read",)
    assert [(c.scope, c.old, c.new) for c in diff.descriptions_changed] == [
        ("invoices:read", "Read invoices.", "Read invoices and their lines.")
    ]
    assert [d.operation for d in diff.operations_added] == ["GET /refunds"]
    assert diff.operations_added[0].new == Requirement(False, (("refunds:read",),))
    assert [d.operation for d in diff.operations_removed] == [
        "GET /payments",
        "GET /payments/{id}/disputes",
    ]
    assert diff.likely_renames == ()  # its operations are gone, nothing took them over
    assert diff.changed and not diff.keys_checked


def test_a_renamed_scope_is_recognised_and_its_holders_remapped(tmp_path: Path) -> None:
    scopes = {**BASE_SCOPES}
    del scopes["payments:read"]
    scopes["payments:view"] = "Read payments."
    operations = {
        **BASE_OPERATIONS,
        "GET /payments": [["payments:view"]],
        "GET /payments/{id}/disputes": [["payments:view"]],
    }
    old, new = pair(tmp_path, scopes, operations)
    diff = diff_specs(old, new, [key("recon", "payments:read"), key("erp", full_access=True)])
    (rename,) = diff.likely_renames
    assert (rename.kind, rename.scope, rename.removed) == ("rename", "payments:read", True)
    assert rename.successors == ("payments:view",)
    assert rename.operations == ("GET /payments", "GET /payments/{id}/disputes")
    # The scoped key holds a scope that no longer exists: it loses both operations.
    (drift,) = diff.keys  # the full-access key holds each version's catalog: unchanged
    assert drift.key.key_id == "recon"
    assert drift.lost == ("GET /payments", "GET /payments/{id}/disputes")
    assert drift.gained == ()
    assert (drift.operations_before, drift.operations_after) == (2, 0)
    (gone,) = drift.vanished_scopes
    assert (gone.scope, gone.likely_successors) == ("payments:read", ("payments:view",))


def test_a_split_keeps_the_scope_and_moves_some_operations(tmp_path: Path) -> None:
    scopes = {**BASE_SCOPES, "disputes:read": "Read disputes."}
    operations = {**BASE_OPERATIONS, "GET /payments/{id}/disputes": [["disputes:read"]]}
    old, new = pair(tmp_path, scopes, operations)
    diff = diff_specs(old, new, [key("recon", "payments:read"), key("books", "invoices:read")])
    (split,) = diff.likely_renames
    assert (split.kind, split.scope, split.removed) == ("split", "payments:read", False)
    assert split.successors == ("payments:read", "disputes:read")
    assert split.operations == ("GET /payments/{id}/disputes",)
    (changed,) = diff.requirements_changed
    assert changed.old == Requirement(False, (("payments:read",),))
    assert changed.new == Requirement(False, (("disputes:read",),))
    (drift,) = diff.keys
    assert drift.key.key_id == "recon" and drift.lost == ("GET /payments/{id}/disputes",)
    assert drift.vanished_scopes == ()


def test_a_removed_scope_split_in_two(tmp_path: Path) -> None:
    scopes = {**BASE_SCOPES, "payments:list": "List.", "disputes:read": "Disputes."}
    del scopes["payments:read"]
    operations = {
        **BASE_OPERATIONS,
        "GET /payments": [["payments:list"]],
        "GET /payments/{id}/disputes": [["disputes:read"]],
    }
    (split,) = diff_specs(*pair(tmp_path, scopes, operations)).likely_renames
    assert (split.kind, split.removed) == ("split", True)
    assert split.successors == ("disputes:read", "payments:list")


def test_a_removed_scope_merged_into_an_existing_one(tmp_path: Path) -> None:
    scopes = {k: v for k, v in BASE_SCOPES.items() if k != "payments:read"}
    operations = {
        **BASE_OPERATIONS,
        "GET /payments": [["invoices:read"]],
        "GET /payments/{id}/disputes": [["invoices:read"]],
    }
    old, new = pair(tmp_path, scopes, operations)
    diff = diff_specs(old, new, [key("books", "invoices:read")])
    (merge,) = diff.likely_renames
    assert (merge.kind, merge.successors) == ("merge", ("invoices:read",))
    (drift,) = diff.keys  # the invoices key now reaches the payments operations
    assert drift.gained == ("GET /payments", "GET /payments/{id}/disputes")
    assert drift.lost == ()


def test_write_implies_read_is_applied_per_version(tmp_path: Path) -> None:
    # NEW drops the implication source: invoices:write no longer exists, so a key holding
    # only it loses everything it reached through the implied invoices:read too.
    scopes = {k: v for k, v in BASE_SCOPES.items() if k != "invoices:write"}
    operations = {k: v for k, v in BASE_OPERATIONS.items() if k != "POST /invoices"}
    old, new = pair(tmp_path, scopes, operations)
    (drift,) = diff_specs(old, new, [key("w", "invoices:write")]).keys
    assert drift.lost == ("GET /invoices", "GET /invoices/{id}", "POST /invoices")
    assert [gone.scope for gone in drift.vanished_scopes] == ["invoices:write"]


def test_requirement_changes_public_and_alternatives(tmp_path: Path) -> None:
    operations = {
        **BASE_OPERATIONS,
        "GET /health": [["invoices:read"]],  # was public
        "GET /invoices/{id}": [["invoices:read"], ["payments:read"]],  # an alternative added
        "GET /invoices": None,  # the spec no longer says
    }
    old, new = pair(tmp_path, BASE_SCOPES, operations)
    diff = diff_specs(old, new, [key("p", "payments:read")])
    changed = {d.operation: (d.old, d.new) for d in diff.requirements_changed}
    assert changed["GET /health"] == (
        Requirement(True, ()),
        Requirement(False, (("invoices:read",),)),
    )
    assert changed["GET /invoices/{id}"][1] == Requirement(
        False, (("invoices:read",), ("payments:read",))
    )
    assert changed["GET /invoices"][1] == Requirement(False, ())
    (drift,) = diff.keys
    # Now an alternative allows it; an operation with no stated requirement is open to any key.
    assert drift.gained == ("GET /invoices", "GET /invoices/{id}")


def test_a_renamed_path_parameter_is_the_same_operation(tmp_path: Path) -> None:
    operations = {k: v for k, v in BASE_OPERATIONS.items() if k != "GET /invoices/{id}"}
    operations["GET /invoices/{invoice_id}"] = [["invoices:read"]]
    old, new = pair(tmp_path, BASE_SCOPES, operations)
    diff = diff_specs(old, new, [key("books", "invoices:read")])
    assert [(r.old, r.new) for r in diff.paths_renamed] == [
        ("GET /invoices/{id}", "GET /invoices/{invoice_id}")
    ]
    assert diff.operations_added == () and diff.operations_removed == ()
    assert diff.keys == ()  # same reach, under the new name
    assert diff.changed  # the catalog did change (a path)


def test_revoked_keys_are_counted_not_remapped(tmp_path: Path) -> None:
    scopes = {k: v for k, v in BASE_SCOPES.items() if k != "payments:read"}
    operations = {k: v for k, v in BASE_OPERATIONS.items() if "payments" not in k}
    old, new = pair(tmp_path, scopes, operations)
    diff = diff_specs(old, new, [key("gone", "payments:read", status="revoked")])
    assert diff.keys == () and diff.revoked_keys == 1 and diff.active_keys == 0


def test_the_result_does_not_depend_on_input_order(tmp_path: Path) -> None:
    scopes = {**BASE_SCOPES, "disputes:read": "Read disputes."}
    operations = {**BASE_OPERATIONS, "GET /payments/{id}/disputes": [["disputes:read"]]}
    old, new = pair(tmp_path, scopes, operations)
    keys = [key(f"k{index}", "payments:read") for index in range(5)]
    assert diff_specs(old, new, keys) == diff_specs(old, new, list(reversed(keys)))
