"""Reading an earlier ``keyscope audit --format json`` result as a baseline or a history point.

Only what triage needs is read: the findings (rule, severity, key, subject,
fingerprint, message) and the per-key totals the trend chart plots.  The file must
be a keyscope audit result (``schema_version`` present); a newer schema than this
keyscope knows is refused, because its findings might not mean the same thing.  A
result written with another fingerprint scheme is accepted: triage then matches
findings by what the fingerprint hashes (see ``keyscope.analysis.triage``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyscope.analysis.triage import Baseline
from keyscope.errors import ConfigError
from keyscope.model import (
    FINGERPRINT_VERSION,
    SCHEMA_VERSION,
    SEVERITIES,
    Finding,
    HistoryPoint,
)
from keyscope.redaction import redact
from keyscope.sources.yamlsafe import open_input
from keyscope.text import terminal_safe

__all__ = ["history_point_of", "load_baseline", "read_result_document"]

_MAX_BYTES = 512 * 1024 * 1024
"""A 10,000-key result is a few tens of MB; anything far larger is not a result."""


def read_result_document(path: Path) -> dict[str, Any]:
    """Read and check the envelope of an audit JSON result.

    Raises:
        ConfigError: missing, unreadable, not JSON, not an audit result, or a newer
            schema version than this keyscope reads.
    """
    where = str(path)
    with open_input(path, ConfigError) as stream:
        try:
            data = stream.read(_MAX_BYTES + 1)
        except OSError as error:
            raise ConfigError(where, f"cannot read: {error.strerror or error}") from None
    if len(data) > _MAX_BYTES:
        raise ConfigError(where, "too large to be a keyscope audit result")
    try:
        document = json.loads(data.decode("utf-8-sig"), parse_constant=_refuse)
    except (ValueError, RecursionError) as error:
        detail = getattr(error, "msg", None) or str(error)
        place = f"{error.lineno}:{error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise ConfigError(where, f"not valid JSON: {detail}", place) from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ConfigError(where, "not a keyscope audit result (no schema_version)")
    version = document["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(where, "schema_version must be a whole number", "schema_version")
    if version > SCHEMA_VERSION:
        raise ConfigError(
            where,
            f"written by a newer keyscope (schema {version}; "
            f"this one reads up to {SCHEMA_VERSION})",
            "schema_version",
        )
    return document


def load_baseline(path: Path) -> Baseline:
    """Read an earlier audit result's findings.

    Args:
        path: A JSON file written by ``keyscope audit --format json`` (or ``--history``).

    Returns:
        The baseline: its findings, when it was taken and its fingerprint version.

    Raises:
        ConfigError: the file is not a readable audit result, or a finding lacks the
            fields triage needs; the message names the file and the place.
    """
    document = read_result_document(path)
    where = redact(str(path))  # the new report names its baseline
    fingerprint_version = document.get("fingerprint_version", FINGERPRINT_VERSION)
    if not isinstance(fingerprint_version, int) or isinstance(fingerprint_version, bool):
        raise ConfigError(
            where, "fingerprint_version must be a whole number", "fingerprint_version"
        )
    raw_findings = _findings_of(document, where)
    findings: dict[str, Finding] = {}
    for place, raw in raw_findings:
        finding = _finding(raw, where, place)
        findings.setdefault(finding.fingerprint or f"{place}", finding)
    return Baseline(
        source=where,
        as_of=_moment(document.get("as_of"), where, "as_of"),
        schema_version=document["schema_version"],
        fingerprint_version=fingerprint_version,
        findings=tuple(findings.values()),
    )


def _findings_of(document: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """Top-level findings and those it carried without re-checking, plus any key
    findings the top level does not repeat."""
    found: list[tuple[str, dict[str, Any]]] = []
    for member in ("findings", "carried_findings"):
        top = document.get(member, [])
        if not isinstance(top, list):
            raise ConfigError(where, f"'{member}' must be a list", member)
        for index, raw in enumerate(top):
            found.append((f"{member}[{index}]", raw))
    keys = document.get("keys", [])
    if not isinstance(keys, list):
        raise ConfigError(where, "'keys' must be a list", "keys")
    for key_index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise ConfigError(where, "expected an object", f"keys[{key_index}]")
        nested = key.get("findings", [])
        if not isinstance(nested, list):
            raise ConfigError(where, "'findings' must be a list", f"keys[{key_index}].findings")
        for index, raw in enumerate(nested):
            if isinstance(raw, dict) and "key_id" not in raw and "key" not in raw:
                raw = {**raw, "key_id": key.get("id", "")}
            found.append((f"keys[{key_index}].findings[{index}]", raw))
    return found


def _finding(raw: Any, where: str, place: str) -> Finding:
    if not isinstance(raw, dict):
        raise ConfigError(where, "expected a finding object", place)
    rule = raw.get("rule")
    if not isinstance(rule, str) or not rule:
        raise ConfigError(where, "finding without a rule", place)
    severity = raw.get("severity", "info")
    if severity not in SEVERITIES:
        raise ConfigError(where, f"unknown severity {severity!r}", place)
    key_id = raw.get("key_id", raw.get("key", ""))
    subject = raw.get("subject", "")
    fingerprint = raw.get("fingerprint", "")
    message = raw.get("message", "")
    for name, value in (("key_id", key_id), ("subject", subject), ("fingerprint", fingerprint),
                        ("message", message)):  # fmt: skip
        if not isinstance(value, str):
            raise ConfigError(where, f"{name} must be text", place)
    # The file may have been edited: what a report copies from it is masked and made
    # terminal-safe like fresh findings (which these match by fingerprint, or by text
    # that a keyscope-written file holds masked already).
    return Finding(
        rule=rule,
        severity=severity,
        key_id=_clean(key_id),
        subject=_clean(subject),
        message=_clean(message),
        fingerprint=fingerprint,
        suppressed=bool(raw.get("suppressed", False)),
    )


def _clean(text: str) -> str:
    return terminal_safe(redact(text))


def _moment(value: Any, where: str, place: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(where, "expected an ISO timestamp", place)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(where, f"not an ISO timestamp: {value!r}", place) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def history_point_of(document: dict[str, Any], where: str) -> HistoryPoint:
    """The trend totals of one stored result (the same sums as ``triage.history_point``).

    Raises:
        ConfigError: the result has no ``as_of`` or its keys are malformed.
    """
    as_of = _moment(document.get("as_of"), where, "as_of")
    if as_of is None:
        raise ConfigError(where, "result without as_of", "as_of")
    keys = document.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        raise ConfigError(where, "'keys' must be a list of objects", "keys")
    active = [key for key in keys if key.get("status", "active") == "active"]
    risks = [key.get("risk_score", 0) for key in active]
    if not all(isinstance(risk, int | float) and not isinstance(risk, bool) for risk in risks):
        raise ConfigError(where, "risk_score must be a number", "keys")
    excess = 0
    for key in active:
        scopes = key.get("excess_scopes", [])
        excess += len(scopes) if isinstance(scopes, list) else 0
    findings = document.get("findings", [])
    unsuppressed = sum(
        1 for finding in findings if isinstance(finding, dict) and not finding.get("suppressed")
    ) if isinstance(findings, list) else 0  # fmt: skip
    return HistoryPoint(
        as_of=as_of,
        excess_scopes=excess,
        mean_risk=round(sum(risks) / len(risks), 1) if risks else 0.0,
        legacy_keys=sum(1 for key in active if key.get("full_access") is True),
        findings=unsuppressed,
        complete=document.get("complete") is not False,
    )


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
