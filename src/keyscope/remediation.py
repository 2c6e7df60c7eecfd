"""Remediation plans: what to change on the platform, and applying it safely.

A plan is built from one audit (:func:`build_plan`) and written as JSON.  For every
active key the audit could judge (confidence above ``insufficient``):

* an over-privileged or legacy full-access key that was used gets a **replacement**:
  ``create`` a key with the suggested scopes (named after the old one), a ``dual-run``
  note (run both, confirm no denied requests on the new key), and ``revoke`` the old
  key once the dual run is over (``wait_days`` after the create step was applied);
* a dormant key (no successful request in the window) is **time-boxed** rather than
  revoked at once (``dormant="expire"``, the default): ``expire`` sets its
  ``expires_at`` to ``as_of`` + ``expire_after_days`` (the key keeps working until
  then, so an unknown consumer has time to surface), a ``recheck`` note says to re-run
  the audit the day before, and ``revoke`` is due once the expiry has passed.  With
  ``dormant="downgrade"`` a scoped key holding write scopes also gets a read-only
  replacement (``create`` with the read scopes it held) to hand to a consumer that
  turns up; ``dormant="revoke"`` keeps the immediate ``revoke`` step;
* a key whose name held a secret, hides characters, or is empty gets a ``rename``.

Revoked keys and keys with too little data never get a step.  Every step has a stable
id (``create:key_…``), and the plan records the digest of the inputs it came from, so
:func:`check_inputs` can refuse a stale plan.

Applying (:class:`PlanApplier`) is safe by default: a dry run makes no call at all;
``--execute`` checks that the inputs are unchanged, that the platform still matches
what the plan saw, that no revoke or expiry targets the key keyscope itself is using,
and that no expiry it would set has already passed, then asks for confirmation.  Each
change carries an ``Idempotency-Key`` written to the journal
(``<plan>.journal.jsonl``, append-only, fsynced) *before* the first attempt, so a
retry after a timeout or a crash reuses it and the platform replays its answer
instead of acting twice.  The run stops at the first failure.  New secrets go only to
the file the operator names (mode 600), never to output, logs or the journal.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import stat
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from keyscope import __version__
from keyscope.errors import (
    EXIT_INCOMPLETE,
    FetchError,
    KeyscopeError,
    ReportError,
    SourceError,
    UsageError,
)
from keyscope.redaction import redact
from keyscope.text import SUSPICIOUS

if TYPE_CHECKING:
    from keyscope.model import AuditResult, KeyAudit
    from keyscope.settings import Settings
    from keyscope.sources.live import ApiResponse, PlatformClient

__all__ = [
    "DEFAULT_EXPIRE_AFTER_DAYS",
    "DORMANT_MODES",
    "PLAN_SCHEMA",
    "ApplyReport",
    "IncompleteDataError",
    "InputDigest",
    "KeyState",
    "PlanApplier",
    "PlanError",
    "PlanStep",
    "RemediationPlan",
    "SecretsFile",
    "build_plan",
    "check_inputs",
    "describe_step",
    "digest_inputs",
    "digest_settings",
    "dormant_expiry",
    "due_steps",
    "journal_path",
    "load_plan",
    "plan_to_json",
    "read_journal",
    "refuse_stale",
]

PLAN_SCHEMA = 1
DEFAULT_DUAL_RUN_DAYS = 14
DEFAULT_EXPIRE_AFTER_DAYS = 30
"""Days from ``as_of`` to the expiry a plan sets on a dormant key (``--expire-after-days``)."""
DORMANT_MODES = ("expire", "downgrade", "revoke")
"""What a plan does with a dormant key (``--dormant``); the first is the default."""
_MAX_NAME = 200
_MAX_PLAN_BYTES = 32 * 1024 * 1024
_STEP_ORDER = {"rename": 0, "create": 1, "dual-run": 2, "expire": 3, "recheck": 4, "revoke": 5}
_MIN_EXPIRY_LEAD = timedelta(days=1)
"""An expiry closer than this when the step is applied is refused: it would cut the key
off nearly at once, which is the revoke the time box exists to avoid."""

Action = Literal["create", "revoke", "rename", "dual-run", "expire", "recheck"]


class PlanError(SourceError):
    """A plan file is malformed or stale, or the platform changed since (exit 3)."""


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class KeyState:
    """What the plan saw of a key; ``apply`` checks the platform still shows it."""

    status: str
    full_access: bool
    scopes: tuple[str, ...]
    name: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "full_access": self.full_access,
            "scopes": list(self.scopes),
            "name": self.name,
        }


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One change (or the dual-run note between two changes)."""

    step_id: str
    """Stable: ``<action>:<key id>``."""
    action: Action
    key_id: str
    """The key the step is about (for ``create``: the key being replaced)."""
    reason: str
    name: str = ""
    """``create``: the new key's name; ``rename``: the new name."""
    scopes: tuple[str, ...] = ()
    """``create``: the scopes of the new key, sorted."""
    after_step: str = ""
    """``revoke`` of a replaced key: the ``create`` step it waits for."""
    wait_days: int = 0
    """Days after ``after_step`` was applied before this step is due."""
    expect: KeyState | None = None
    """The key as the plan saw it (None for notes)."""
    expires_at: datetime | None = None
    """``expire``: the expiry to set (UTC)."""

    @property
    def changes_platform(self) -> bool:
        return self.action not in ("dual-run", "recheck")


@dataclass(frozen=True, slots=True)
class InputDigest:
    """sha256 of the files the audit read, and one digest over all of them."""

    spec_sha256: str
    keys_sha256: str
    usage_sha256: str
    """sha256 over the sorted sha256 of every usage file."""
    digest: str
    spec: str
    keys: str
    usage: tuple[str, ...]
    """The usage sources as configured (files or globs), absolute."""

    def to_json(self) -> dict[str, Any]:
        # A path holding a secret is written masked: apply then finds no such input and
        # refuses the plan as stale, which is safer than a secret in the plan file.
        return {
            "digest": self.digest,
            "spec_sha256": self.spec_sha256,
            "keys_sha256": self.keys_sha256,
            "usage_sha256": self.usage_sha256,
            "spec": redact(self.spec),
            "keys": redact(self.keys),
            "usage": [redact(pattern) for pattern in self.usage],
        }


@dataclass(frozen=True, slots=True)
class RemediationPlan:
    """A plan: its provenance and its steps, in the order they run."""

    as_of: datetime
    inputs: InputDigest
    steps: tuple[PlanStep, ...]
    base_url: str = ""
    """The platform the inputs came from, when known; ``apply`` refuses another one."""
    dual_run_days: int = DEFAULT_DUAL_RUN_DAYS
    expire_after_days: int = DEFAULT_EXPIRE_AFTER_DAYS
    dormant: str = DORMANT_MODES[0]
    tool_version: str = __version__
    source: str = ""
    """The plan file, once read."""

    def step(self, step_id: str) -> PlanStep:
        for step in self.steps:
            if step.step_id == step_id:
                return step
        raise KeyError(step_id)


# --------------------------------------------------------------------------- inputs


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _usage_files(patterns: Sequence[str]) -> list[Path]:
    files: set[Path] = set()
    for pattern in patterns:
        matches = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]  # noqa: PTH207 - absolute patterns
        files.update(Path(match) for match in matches)
    return sorted(files)


def digest_inputs(spec: Path, keys: Path, usage: Sequence[str]) -> InputDigest:
    """Digest the audit's input files (contents only: renaming a file changes nothing).

    Raises:
        PlanError: a file cannot be read.
    """
    try:
        spec_sha = _file_sha256(spec)
        keys_sha = _file_sha256(keys)
        usage_shas = sorted(_file_sha256(path) for path in _usage_files(usage))
    except OSError as error:
        raise PlanError(
            str(error.filename or spec), f"cannot read an input: {error.strerror}"
        ) from None
    usage_sha = hashlib.sha256("\n".join(usage_shas).encode("ascii")).hexdigest()
    combined = hashlib.sha256(
        f"spec {spec_sha}\nkeys {keys_sha}\nusage {usage_sha}\n".encode()
    ).hexdigest()
    return InputDigest(
        spec_sha256=spec_sha, keys_sha256=keys_sha, usage_sha256=usage_sha, digest=combined,
        spec=str(spec), keys=str(keys), usage=tuple(usage),
    )  # fmt: skip


def digest_settings(settings: Settings) -> InputDigest:
    """:func:`digest_inputs` of the files a (resolved) settings object names."""
    if settings.spec is None or settings.keys is None:
        raise UsageError("no spec or key inventory configured")
    return digest_inputs(settings.spec, settings.keys, [source.path for source in settings.usage])


def check_inputs(plan: RemediationPlan) -> None:
    """Refuse a plan whose inputs changed (or vanished) since it was made.

    Raises:
        PlanError: the digest differs, naming which input changed.
    """
    recorded = plan.inputs
    for path in (recorded.spec, recorded.keys):
        if not Path(path).is_file():
            raise PlanError(
                plan.source, f"stale plan: its input {path} is gone; run keyscope plan again"
            )
    current = digest_inputs(Path(recorded.spec), Path(recorded.keys), recorded.usage)
    if current.digest == recorded.digest:
        return
    changed = [
        name
        for name, before, now in (
            ("spec", recorded.spec_sha256, current.spec_sha256),
            ("keys", recorded.keys_sha256, current.keys_sha256),
            ("usage", recorded.usage_sha256, current.usage_sha256),
        )
        if before != now
    ]
    raise PlanError(
        plan.source,
        f"stale plan: its inputs changed since it was made ({', '.join(changed) or 'digest'}); "
        "run keyscope plan again",
    )


# --------------------------------------------------------------------------- building


def dormant_expiry(as_of: datetime, expire_after_days: int = DEFAULT_EXPIRE_AFTER_DAYS) -> datetime:
    """The expiry a plan sets on a dormant key: ``as_of`` plus ``expire_after_days`` (UTC)."""
    return as_of.astimezone(UTC) + timedelta(days=expire_after_days)


def build_plan(
    result: AuditResult,
    inputs: InputDigest,
    *,
    dual_run_days: int = DEFAULT_DUAL_RUN_DAYS,
    base_url: str = "",
    dormant: str = DORMANT_MODES[0],
    expire_after_days: int = DEFAULT_EXPIRE_AFTER_DAYS,
) -> RemediationPlan:
    """Derive the remediation steps from one audit result (pure).

    Args:
        result: The audit.
        inputs: Digest of the files the audit read.
        dual_run_days: Days both keys run side by side before the old one is revoked.
        base_url: The platform the data came from, when known.
        dormant: What to do with a dormant key: ``expire`` (time-box it: an expiry
            ``expire_after_days`` after ``as_of``, a re-check, then revoke), ``downgrade``
            (the same, plus a read-only replacement for a scoped key holding write
            scopes) or ``revoke`` (at once).
        expire_after_days: Days from ``as_of`` to a dormant key's expiry (1 or more).

    Raises:
        ValueError: an unknown ``dormant`` mode or an ``expire_after_days`` below 1.
    """
    if dormant not in DORMANT_MODES:
        raise ValueError(f"dormant must be one of {', '.join(DORMANT_MODES)}, not {dormant!r}")
    if expire_after_days < 1:
        raise ValueError("expire_after_days must be 1 or more")
    box = _TimeBox(
        mode=dormant,
        days=expire_after_days,
        since=result.as_of.astimezone(UTC),
        expires_at=dormant_expiry(result.as_of, expire_after_days),
    )
    steps: list[PlanStep] = []
    for audit in result.keys:
        steps.extend(_steps_for(audit, result.window.days, dual_run_days, box))
    steps.sort(key=lambda step: (step.key_id, _STEP_ORDER[step.action]))
    return RemediationPlan(
        as_of=result.as_of, inputs=inputs, steps=tuple(steps), base_url=base_url,
        dual_run_days=dual_run_days, expire_after_days=expire_after_days, dormant=dormant,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _TimeBox:
    """How a plan treats dormant keys."""

    mode: str
    days: int
    since: datetime
    expires_at: datetime


def _state_of(audit: KeyAudit) -> KeyState:
    key = audit.key
    return KeyState(
        status=key.status,
        full_access=key.full_access,
        scopes=tuple(sorted(key.scopes)),
        name=redact(key.name),
    )


def _steps_for(
    audit: KeyAudit, window_days: int, dual_run_days: int, box: _TimeBox
) -> list[PlanStep]:
    key = audit.key
    if key.status != "active" or audit.confidence == "insufficient":
        return []
    state = _state_of(audit)
    key_id = key.key_id
    rules = {finding.rule for finding in audit.findings}
    steps: list[PlanStep] = []
    new_name = _clean_name(state.name, key_id)
    if audit.requests == 0 and box.mode == "revoke":
        return _dormant_steps(audit, state, new_name, window_days, box)
    # The inventory already shows a secret-bearing name redacted; the platform still
    # holds the secret in it until the key is renamed.
    secret_in_name = "name" in key.redacted_fields or any(
        finding.rule == "secret-in-name" and finding.subject == "name" for finding in audit.findings
    )
    hidden = "suspicious-key-name" in rules or not key.name.strip()
    if secret_in_name or (hidden and new_name != key.name):
        why = (
            "secret-in-name: the name held a secret (shown redacted)"
            if secret_in_name
            else "the name is empty or hides characters"
        )
        steps.append(
            PlanStep(f"rename:{key_id}", "rename", key_id, why, name=new_name, expect=state)
        )
    if audit.requests == 0:
        # Time-boxed, the key lives on until its expiry: a secret in its name must go now.
        return steps + _dormant_steps(audit, state, new_name, window_days, box)
    # In use: replaced even when its requests need no scope at all (a key with none),
    # but only when every one of them reached an operation the spec describes: traffic
    # to unknown routes says nothing of what those routes need.
    replay = audit.replay
    needs_known = bool(audit.suggested_scopes) or (
        replay is not None and replay.requests > 0 and not replay.unreplayable
    )
    if (key.full_access or audit.excess_scopes) and needs_known:
        scopes = tuple(sorted(audit.suggested_scopes))
        excess = sorted(audit.excess_scopes)
        why = (
            (
                f"legacy-full-access: usage needs {len(scopes)} of its scopes"
                if scopes
                else "legacy-full-access: its requests need no scope"
            )
            if key.full_access
            else f"unused-scope: {len(excess)} granted scopes were not needed "
            f"({', '.join(excess[:6])}" + (", …" if len(excess) > 6 else "") + ")"
        )
        create_id = f"create:{key_id}"
        steps.append(
            PlanStep(
                create_id, "create", key_id, why,
                name=_replacement_name(new_name, key_id), scopes=scopes, expect=state,
            )
        )  # fmt: skip
        steps.append(
            PlanStep(
                f"dual-run:{key_id}", "dual-run", key_id,
                f"deploy the new key beside the old one for {dual_run_days} days; confirm it gets "
                "no denied (401/403) requests before the old key is revoked",
                after_step=create_id, wait_days=dual_run_days,
            )
        )  # fmt: skip
        steps.append(
            PlanStep(
                f"revoke:{key_id}", "revoke", key_id,
                f"replaced by the key of {create_id} after a {dual_run_days}-day dual run",
                after_step=create_id, wait_days=dual_run_days, expect=state,
            )
        )  # fmt: skip
    return steps


def _dormant_steps(
    audit: KeyAudit, state: KeyState, new_name: str, window_days: int, box: _TimeBox
) -> list[PlanStep]:
    """Time-box a dormant key (or revoke it at once with ``dormant="revoke"``)."""
    key_id = audit.key.key_id
    kind = "legacy full-access key" if audit.key.full_access else "key"
    why = f"dormant-key: this {kind} made no successful request in {window_days} days"
    if box.mode == "revoke":
        return [PlanStep(f"revoke:{key_id}", "revoke", key_id, why, expect=state)]
    expire_id = f"expire:{key_id}"
    expiry_day = box.expires_at.date().isoformat()
    recheck_day = (box.expires_at - timedelta(days=1)).date().isoformat()
    steps: list[PlanStep] = []
    reads = _read_only_scopes(audit) if box.mode == "downgrade" else ()
    if reads:
        steps.append(
            PlanStep(
                f"create:{key_id}", "create", key_id,
                f"{why}; a read-only replacement ({', '.join(reads)}) to hand to a consumer "
                f"that turns up before {expiry_day}, instead of its write scopes",
                name=_suffixed(new_name, " (read-only)"), scopes=reads, expect=state,
            )
        )  # fmt: skip
    steps.append(
        PlanStep(
            expire_id, "expire", key_id,
            f"{why}: time-boxed instead of revoked now; it keeps working until {expiry_day}, "
            "so a consumer nobody knew about can still surface",
            expires_at=box.expires_at, expect=state,
        )
    )  # fmt: skip
    steps.append(
        PlanStep(
            f"recheck:{key_id}", "recheck", key_id,
            f"re-run keyscope audit on {recheck_day}: if {key_id} made no successful request "
            f"since {box.since.date().isoformat()}, let it expire on {expiry_day} and revoke it "
            f"(revoke:{key_id}); if it did, someone depends on it: extend its expiry and plan "
            "a least-privilege replacement",
            after_step=expire_id, wait_days=box.days - 1,
        )
    )  # fmt: skip
    steps.append(
        PlanStep(
            f"revoke:{key_id}", "revoke", key_id,
            f"expired on {expiry_day} (time box of {box.days} days) with no use found by the "
            "re-check",
            after_step=expire_id, wait_days=box.days, expect=state,
        )
    )  # fmt: skip
    return steps


def _read_only_scopes(audit: KeyAudit) -> tuple[str, ...]:
    """The read scopes a scoped key holding write scopes effectively has; else ``()``."""
    from keyscope.analysis.risk import infer_access

    if audit.key.full_access or not any(
        infer_access(scope) == "write" for scope in audit.key.scopes
    ):
        return ()
    return tuple(sorted(s for s in audit.granted_scopes if infer_access(s) == "read"))


_INVISIBLE_OR_CONTROL = re.compile(f"{SUSPICIOUS.pattern}|[\\x00-\\x1f\\x7f-\\x9f]")


def _clean_name(name: str, key_id: str) -> str:
    """The name without secrets, invisible or control characters; never empty."""
    cleaned = " ".join(_INVISIBLE_OR_CONTROL.sub("", redact(name)).split())
    return cleaned[:_MAX_NAME] if cleaned else f"unnamed key {key_id}"


def _replacement_name(name: str, key_id: str) -> str:
    return _suffixed(name, " (least privilege)")


def _suffixed(name: str, suffix: str) -> str:
    return name[: _MAX_NAME - len(suffix)] + suffix


# --------------------------------------------------------------------------- JSON


def plan_to_json(plan: RemediationPlan) -> str:
    """The plan file's text: sorted keys inside steps, stable order, ASCII only."""
    payload = {
        "schema_version": PLAN_SCHEMA,
        "kind": "keyscope-remediation-plan",
        "tool_version": plan.tool_version,
        "as_of": plan.as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "base_url": plan.base_url,
        "dual_run_days": plan.dual_run_days,
        "dormant": plan.dormant,
        "expire_after_days": plan.expire_after_days,
        "inputs": plan.inputs.to_json(),
        "steps": [_step_json(step) for step in plan.steps],
    }
    return json.dumps(payload, ensure_ascii=True, indent=2) + "\n"


def _step_json(step: PlanStep) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": step.step_id,
        "action": step.action,
        "key_id": step.key_id,
        "reason": step.reason,
    }
    if step.name:
        data["name"] = step.name
    if step.scopes or step.action == "create":
        data["scopes"] = list(step.scopes)  # a create step's [] is a key with no scopes
    if step.after_step:
        data["after_step"] = step.after_step
        data["wait_days"] = step.wait_days
    if step.expires_at is not None:
        data["expires_at"] = _stamp(step.expires_at)
    if step.expect is not None:
        data["expect"] = step.expect.to_json()
    return data


def load_plan(path: Path) -> RemediationPlan:
    """Read and check a plan file.

    Raises:
        PlanError: not a keyscope plan, or a field is missing or wrong.
    """
    where = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(_MAX_PLAN_BYTES + 1)
    except OSError as error:
        raise PlanError(where, f"cannot read the plan: {error.strerror}") from None
    if len(raw) > _MAX_PLAN_BYTES:
        raise PlanError(where, "the plan file is too large")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise PlanError(where, "not valid JSON") from None
    if not isinstance(payload, dict) or payload.get("kind") != "keyscope-remediation-plan":
        raise PlanError(where, "not a keyscope remediation plan")
    if payload.get("schema_version") != PLAN_SCHEMA:
        raise PlanError(where, f"unsupported plan schema_version {payload.get('schema_version')!r}")
    try:
        inputs_raw = payload["inputs"]
        inputs = InputDigest(
            spec_sha256=_text(inputs_raw, "spec_sha256", "inputs."),
            keys_sha256=_text(inputs_raw, "keys_sha256", "inputs."),
            usage_sha256=_text(inputs_raw, "usage_sha256", "inputs."),
            digest=_text(inputs_raw, "digest", "inputs."),
            spec=_text(inputs_raw, "spec", "inputs."), keys=_text(inputs_raw, "keys", "inputs."),
            usage=tuple(_texts(inputs_raw, "usage", "inputs.")),
        )  # fmt: skip
        as_of = datetime.fromisoformat(_text(payload, "as_of").replace("Z", "+00:00"))
        steps = tuple(
            _step_from(entry, index) for index, entry in enumerate(_list(payload, "steps"))
        )
        dual = payload.get("dual_run_days", DEFAULT_DUAL_RUN_DAYS)
        if not isinstance(dual, int) or isinstance(dual, bool) or dual < 0:
            raise _Bad("dual_run_days", "a non-negative whole number")
        expire_days = payload.get("expire_after_days", DEFAULT_EXPIRE_AFTER_DAYS)
        if not isinstance(expire_days, int) or isinstance(expire_days, bool) or expire_days < 1:
            raise _Bad("expire_after_days", "a whole number of days, 1 or more")
        dormant = payload.get("dormant", DORMANT_MODES[0])
        if dormant not in DORMANT_MODES:
            raise _Bad("dormant", " or ".join(DORMANT_MODES))
    except _Bad as bad:
        raise PlanError(where, f"{bad.place}: expected {bad.expected}", bad.place) from None
    except (KeyError, TypeError, ValueError) as error:
        raise PlanError(where, f"malformed plan ({type(error).__name__}: {error})") from None
    ids = [step.step_id for step in steps]
    duplicates = sorted({step_id for step_id in ids if ids.count(step_id) > 1})
    if duplicates:
        raise PlanError(where, f"step id {duplicates[0]!r} appears twice", "steps")
    for step in steps:
        if step.after_step and step.after_step not in ids:
            raise PlanError(
                where, f"step {step.step_id} waits for unknown step {step.after_step!r}", "steps"
            )
    return RemediationPlan(
        as_of=as_of, inputs=inputs, steps=steps, base_url=str(payload.get("base_url", "")),
        dual_run_days=dual, tool_version=str(payload.get("tool_version", "")), source=where,
        expire_after_days=expire_days, dormant=dormant,
    )  # fmt: skip


class _Bad(Exception):
    def __init__(self, place: str, expected: str) -> None:
        super().__init__(place)
        self.place = place
        self.expected = expected


def _utc_time(value: Any, place: str) -> datetime:
    """An RFC 3339 time with a zone (``2026-12-01T00:00:00Z``), in UTC."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(place, "an RFC 3339 time such as 2026-12-01T00:00:00Z") from None
    if not isinstance(value, str) or moment.tzinfo is None:
        raise _Bad(place, "an RFC 3339 time with a zone, such as 2026-12-01T00:00:00Z")
    return moment.astimezone(UTC)


def _text(data: Any, name: str, place: str = "") -> str:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise _Bad(f"{place}{name}", "a string")
    return value


def _texts(data: Any, name: str, place: str = "") -> list[str]:
    value = data.get(name, []) if isinstance(data, dict) else None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"{place}{name}", "a list of strings")
    return value


def _list(data: Any, name: str) -> list[Any]:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise _Bad(name, "a list")
    return value


def _step_from(entry: Any, index: int) -> PlanStep:
    place = f"steps[{index}]."
    if not isinstance(entry, dict):
        raise _Bad(f"steps[{index}]", "an object")
    action = _text(entry, "action", place)
    if action not in _STEP_ORDER:
        raise _Bad(f"{place}action", "create, revoke, rename, expire, dual-run or recheck")
    expect = None
    if "expect" in entry:
        raw = entry["expect"]
        if not isinstance(raw, dict) or not isinstance(raw.get("full_access"), bool):
            raise _Bad(f"{place}expect", "an object with status, full_access, scopes, name")
        expect = KeyState(
            status=_text(raw, "status", f"{place}expect."), full_access=raw["full_access"],
            scopes=tuple(_texts(raw, "scopes", f"{place}expect.")),
            name=_text(raw, "name", f"{place}expect."),
        )  # fmt: skip
    wait = entry.get("wait_days", 0)
    if not isinstance(wait, int) or isinstance(wait, bool) or wait < 0:
        raise _Bad(f"{place}wait_days", "a non-negative whole number")
    expires_at = None
    if "expires_at" in entry:
        expires_at = _utc_time(entry["expires_at"], f"{place}expires_at")
    step = PlanStep(
        step_id=_text(entry, "id", place), action=action, key_id=_text(entry, "key_id", place),  # type: ignore[arg-type]
        reason=str(entry.get("reason", "")), name=str(entry.get("name", "")),
        scopes=tuple(_texts(entry, "scopes", place)), after_step=str(entry.get("after_step", "")),
        wait_days=wait, expect=expect, expires_at=expires_at,
    )  # fmt: skip
    if step.action == "expire" and step.expires_at is None:
        raise _Bad(f"{place}expires_at", "the expiry to set for an expire step")
    if step.action == "create" and (not isinstance(entry.get("scopes"), list) or not step.name):
        raise _Bad(f"{place}scopes", "a name and a list of scopes ([] for none) for a create step")
    if step.action == "rename" and not step.name.strip():
        raise _Bad(f"{place}name", "a new name for a rename step")
    if step.changes_platform and step.expect is None:
        raise _Bad(f"{place}expect", "the key's expected state")
    return step


# --------------------------------------------------------------------------- journal


def journal_path(plan_path: Path) -> Path:
    """``plan.json`` -> ``plan.journal.jsonl`` beside it."""
    return plan_path.with_name(f"{plan_path.stem}.journal.jsonl")


@dataclass(slots=True)
class StepRecord:
    """What the journal says about one step."""

    state: Literal["pending", "in-doubt", "done", "failed"] = "pending"
    idempotency_key: str = ""
    done_at: datetime | None = None
    new_key_id: str = ""


def read_journal(path: Path) -> dict[str, StepRecord]:
    """Replay the journal: the latest state of every step it mentions.

    A line that cannot be read (a crash mid-write leaves at most the last one short)
    is skipped; an ``intent`` without an answer is ``in-doubt`` and keeps its key.
    """
    records: dict[str, StepRecord] = {}
    if not path.exists():
        return records
    with path.open("rb") as stream:
        for raw in stream:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(event, dict) or not isinstance(event.get("step_id"), str):
                continue
            record = records.setdefault(event["step_id"], StepRecord())
            kind = event.get("event")
            if kind == "intent":
                record.state = "in-doubt"
                record.idempotency_key = str(event.get("idempotency_key", ""))
            elif kind == "done":
                record.state = "done"
                with contextlib.suppress(TypeError, ValueError):
                    record.done_at = datetime.fromisoformat(
                        str(event.get("time")).replace("Z", "+00:00")
                    )
                record.new_key_id = str(event.get("new_key_id", ""))
            elif kind == "in-doubt":
                # Sent, no usable answer: the next run resends it under the same key.
                record.state = "in-doubt"
                record.idempotency_key = str(event.get("idempotency_key") or record.idempotency_key)
            elif kind == "failed":
                record.state = "failed"
    return records


class Journal:
    """Append-only JSON lines, each fsynced before the call it announces is made."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path = path
        self._clock = clock
        try:
            self._descriptor = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600
            )
        except OSError as error:
            raise ReportError(f"{path}: cannot open the journal: {error.strerror}") from None

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": _stamp(self._clock()), "event": event, **fields}
        line = json.dumps(record, ensure_ascii=True, sort_keys=True) + "\n"
        os.write(self._descriptor, line.encode("ascii"))
        os.fsync(self._descriptor)

    def close(self) -> None:
        os.close(self._descriptor)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- secrets file


class SecretsFile:
    """The one place new secrets are written: a file only its owner can read.

    Created with mode 600 (``O_EXCL``, no symlinks); an existing file is accepted only
    when it is empty, a regular file and the operator's own, and it is then made 600.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW
        try:
            descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            descriptor = self._reuse_empty(path, flags)
        except OSError as error:
            raise ReportError(f"{path}: cannot create the secrets file: {error.strerror}") from None
        self._descriptor = descriptor

    @staticmethod
    def _reuse_empty(path: Path, flags: int) -> int:
        try:
            descriptor = os.open(path, flags)
        except OSError as error:
            raise ReportError(f"{path}: cannot open the secrets file: {error.strerror}") from None
        info = os.fstat(descriptor)
        problem = ""
        if not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file"
        elif info.st_uid != os.getuid():
            problem = "belongs to another user"
        elif info.st_size > 0:
            problem = "is not empty; refusing to overwrite or mix secrets (name a new file)"
        if problem:
            os.close(descriptor)
            raise ReportError(f"{path}: the secrets file {problem}")
        os.fchmod(descriptor, 0o600)
        return descriptor

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(dict(record), ensure_ascii=True, sort_keys=True) + "\n"
        os.write(self._descriptor, line.encode("ascii"))
        os.fsync(self._descriptor)

    def close(self) -> None:
        os.close(self._descriptor)


# --------------------------------------------------------------------------- applying


@dataclass(slots=True)
class ApplyReport:
    """What one apply run did."""

    done: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    """Steps the journal already had as done."""
    waiting: list[tuple[str, str]] = field(default_factory=list)
    """``(step id, why)``: not due yet."""
    skipped: list[str] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)
    """``(step id, new key id)``."""
    notes: list[str] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)
    """``(step id, why)``: an expiry that has passed (or is under a day away); never
    applied: ``apply --execute`` refuses the plan while one is left in (exit 3)."""


def due_steps(
    plan: RemediationPlan, journal: Path, *, skip: Sequence[str] = (), now: datetime
) -> tuple[list[PlanStep], ApplyReport]:
    """Which changes are due at ``now``, given the journal (no network).

    Returns:
        The due steps in plan order, and a report of what is already done, waiting for
        its dual run, skipped, and the dual-run notes.
    """
    records = read_journal(journal)
    skipped = frozenset(skip)
    report = ApplyReport()
    due: list[PlanStep] = []
    for step in plan.steps:
        record = records.get(step.step_id, StepRecord())
        if step.step_id in skipped:
            report.skipped.append(step.step_id)
            continue
        if not step.changes_platform:
            report.notes.append(f"{step.step_id}: {step.reason}")
            continue
        if record.state == "done":
            report.already.append(step.step_id)
            continue
        if step.expires_at is not None and step.expires_at - now < _MIN_EXPIRY_LEAD:
            # Applying it now would cut the key off (nearly) at once: the time box is gone.
            report.stale.append((step.step_id, _stale_expiry(step)))
            continue
        if step.after_step:
            before = records.get(step.after_step, StepRecord())
            if step.after_step in skipped or before.state != "done" or before.done_at is None:
                report.waiting.append((step.step_id, f"waits for {step.after_step}"))
                continue
            due_at = before.done_at + timedelta(days=step.wait_days)
            if now < due_at:
                report.waiting.append((step.step_id, f"due after {_stamp(due_at)}"))
                continue
        due.append(step)
    return due, report


def _stale_expiry(step: PlanStep) -> str:
    assert step.expires_at is not None
    return (
        f"step {step.step_id} would set an expiry ({_stamp(step.expires_at)}) that has passed "
        "or is less than a day away; run keyscope plan again (or leave it out with "
        f"--skip {step.step_id})"
    )


def refuse_stale(plan: RemediationPlan, report: ApplyReport) -> None:
    """Refuse to apply a plan that still holds an expiry that has passed.

    Raises:
        PlanError: the first such step, naming it (exit 3).
    """
    if report.stale:
        raise PlanError(plan.source, f"stale plan: {report.stale[0][1]}")


class IncompleteDataError(KeyscopeError):
    """The audit data was incomplete, so no remediation is planned from it (exit 4)."""

    exit_code = EXIT_INCOMPLETE


class PlanApplier:
    """Apply a plan's due steps through a platform client (see the module docstring).

    Args:
        plan: The plan (from :func:`load_plan`).
        client: An open platform client.
        journal: The journal file (created if missing).
        secrets_path: Where new secrets go; required when a create step is due.
        skip: Step ids the operator chose to leave out.
        now: Wall clock (tests pass a fixed one).
        out: Receives one human-readable line per event (never a secret).
    """

    def __init__(
        self,
        plan: RemediationPlan,
        client: PlatformClient,
        journal: Path,
        *,
        secrets_path: Path | None = None,
        skip: Sequence[str] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        out: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.plan = plan
        self.client = client
        self.journal_path = journal
        self.secrets_path = secrets_path
        self.skip = frozenset(skip)
        self.now = now
        self.out = out
        unknown = sorted(self.skip - {step.step_id for step in plan.steps})
        if unknown:
            raise UsageError(f"--skip {unknown[0]}: the plan has no such step")

    # -- what is due

    def pending(self) -> tuple[list[PlanStep], ApplyReport]:
        """The changes due now, in order, and what is done, waiting or skipped."""
        return due_steps(self.plan, self.journal_path, skip=self.skip, now=self.now())

    # -- checks before any change

    def preflight(self, due: Sequence[PlanStep]) -> str:
        """Refuse before any change: wrong platform, a self-revoke, a changed key.

        Returns:
            The id of the key keyscope is using.

        Raises:
            PlanError: the plan was made for another platform, or a key changed.
            UsageError: a due or later revoke targets keyscope's own key, or a create is
                due and no secrets file was named.
            FetchError: the platform cannot be read whole.
        """
        from keyscope.sources.live import _origin

        settings = self.client.settings
        if self.plan.base_url and _origin(self.plan.base_url) != settings.origin:
            raise PlanError(
                self.plan.source,
                f"the plan was made from data of {self.plan.base_url}, not {settings.origin}",
            )
        if any(step.action == "create" for step in due) and self.secrets_path is None:
            raise UsageError(
                "the plan creates keys: name a file for their secrets with --secrets-file FILE "
                "(created with mode 600; secrets are never printed)"
            )
        own = self.client.current_key_id()
        for step in self.plan.steps:
            if (
                step.action in ("revoke", "expire")
                and step.key_id == own
                and step.step_id not in self.skip
            ):
                verb = "revoke" if step.action == "revoke" else "set an expiry on"
                raise UsageError(
                    f"refusing step {step.step_id}: it would {verb} {own}, the key keyscope is "
                    f"using right now; leave it out with --skip {step.step_id} and "
                    f"{step.action} it with another key"
                )
        listing = self.client.fetch_all(settings.paths.keys, what="keys")
        if not listing.complete:
            raise FetchError(
                "cannot check the plan against the platform: the key list is incomplete ("
                + "; ".join(listing.reasons)
                + ")"
            )
        current = {
            item.get("id"): item for item in listing.items if isinstance(item.get("id"), str)
        }
        for step in due:
            self._check_state(step, current.get(step.key_id))
        return own

    def _check_state(self, step: PlanStep, live: Mapping[str, Any] | None) -> None:
        expected = step.expect
        if expected is None:
            return
        if live is None:
            if step.action in ("revoke", "expire"):
                return  # gone already: the revoke (or expiry) will count as done
            raise PlanError(
                self.plan.source,
                f"stale plan: key {step.key_id} no longer exists (step {step.step_id})",
            )
        if step.action in ("revoke", "expire") and live.get("status") == "revoked":
            return
        scopes = live.get("scopes")
        full_access = bool(live.get("full_access")) or scopes is None
        state = KeyState(
            status=str(live.get("status", "active")),
            full_access=full_access,
            scopes=tuple(sorted(s for s in (scopes or []) if isinstance(s, str))),
            name=redact(str(live.get("name", ""))),
        )
        # A rename in this same plan may already have changed the name.
        names = {expected.name} | {
            redact(other.name)
            for other in self.plan.steps
            if other.action == "rename" and other.key_id == step.key_id
        }
        differences = [
            name
            for name in ("status", "full_access", "scopes")
            if getattr(state, name) != getattr(expected, name)
        ]
        if state.name not in names:
            differences.append("name")
        if differences:
            raise PlanError(
                self.plan.source,
                f"stale plan: key {step.key_id} changed on the platform since the plan was made "
                f"({', '.join(differences)}); run keyscope fetch and plan again",
            )

    # -- changes

    def execute(self, due: Sequence[PlanStep], report: ApplyReport) -> ApplyReport:
        """Apply ``due`` in order; stop at the first failure (raised as FetchError)."""
        from keyscope.sources.live import WriteInDoubtError, key_path

        records = read_journal(self.journal_path)
        journal = Journal(self.journal_path, self.now)
        secrets: SecretsFile | None = None
        try:
            if any(step.action == "create" for step in due):
                assert self.secrets_path is not None
                secrets = SecretsFile(self.secrets_path)
            journal.write(
                "run", plan_digest=self.plan.inputs.digest, base_url=self.client.settings.origin
            )
            paths = self.client.settings.paths
            for step in due:
                if step.expires_at is not None and step.expires_at - self.now() < _MIN_EXPIRY_LEAD:
                    raise PlanError(self.plan.source, f"stale plan: {_stale_expiry(step)}")
                record = records.get(step.step_id, StepRecord())
                # A step whose answer never came (timeout, crash) keeps its key: the
                # platform replays instead of acting twice.  A failed one gets a new key.
                idempotency_key = (
                    record.idempotency_key if record.state == "in-doubt" and record.idempotency_key
                    else f"keyscope-{uuid.uuid4()}"
                )  # fmt: skip
                method, path, body = self._request_of(step, paths, key_path)
                journal.write(
                    "intent", step_id=step.step_id, action=step.action, key_id=step.key_id,
                    idempotency_key=idempotency_key, method=method, path=path,
                )  # fmt: skip
                try:
                    response = self.client.send_write(
                        method, path, body, idempotency_key=idempotency_key
                    )
                except FetchError as error:
                    why = self.client.scrub(error.message)
                    in_doubt = isinstance(error, WriteInDoubtError)
                    self._journal_failure(journal, step, idempotency_key, why, in_doubt)
                    raise FetchError(self._stopped(step, why, report, in_doubt)) from None
                outcome = self._interpret(step, response, secrets)
                if outcome.error:
                    why = self.client.scrub(outcome.error)
                    self._journal_failure(
                        journal, step, idempotency_key, why, outcome.in_doubt,
                        status=response.status,
                    )  # fmt: skip
                    raise FetchError(self._stopped(step, why, report, outcome.in_doubt))
                journal.write(
                    "done", step_id=step.step_id, status=response.status,
                    replayed=response.headers.get("Idempotent-Replayed") == "true",
                    new_key_id=outcome.new_key_id, note=outcome.note,
                )  # fmt: skip
                report.done.append(step.step_id)
                if outcome.new_key_id:
                    report.created.append((step.step_id, outcome.new_key_id))
                self.out(f"done: {step.step_id}{' (' + outcome.note + ')' if outcome.note else ''}")
        finally:
            journal.close()
            if secrets is not None:
                secrets.close()
        return report

    @staticmethod
    def _journal_failure(
        journal: Journal,
        step: PlanStep,
        idempotency_key: str,
        why: str,
        in_doubt: bool,
        **fields: Any,
    ) -> None:
        """``in-doubt`` keeps the step's Idempotency-Key for the next run; ``failed`` drops it.

        ``why`` is already scrubbed by the client (its key and tokens, then the
        redactor): it may quote the platform's answer.
        """
        if in_doubt:
            journal.write(
                "in-doubt", step_id=step.step_id, idempotency_key=idempotency_key, error=why,
                **fields,
            )  # fmt: skip
        else:
            journal.write("failed", step_id=step.step_id, error=why, **fields)

    def _stopped(self, step: PlanStep, why: str, report: ApplyReport, in_doubt: bool) -> str:
        doubt = (
            "; it may have been applied: the next run resends it with the same Idempotency-Key"
            if in_doubt
            else ""
        )
        return (
            f"step {step.step_id} failed: {why}{doubt}; stopped ({len(report.done)} done in this "
            f"run, the rest not attempted; journal: {self.journal_path})"
        )

    @staticmethod
    def _request_of(
        step: PlanStep, paths: Any, key_path: Callable[[str, str], str]
    ) -> tuple[str, str, dict[str, Any] | None]:
        if step.action == "create":
            return "POST", paths.keys, {"name": step.name, "scopes": list(step.scopes)}
        if step.action == "rename":
            return "PATCH", key_path(paths.key, step.key_id), {"name": step.name}
        if step.action == "expire":
            assert step.expires_at is not None
            return (
                "PATCH",
                key_path(paths.key, step.key_id),
                {"expires_at": _stamp(step.expires_at)},
            )
        return "POST", key_path(paths.revoke, step.key_id), None

    def _interpret(
        self, step: PlanStep, response: ApiResponse, secrets: SecretsFile | None
    ) -> _Outcome:
        status = response.status
        if step.action == "revoke":
            if 200 <= status < 300:
                return _Outcome()
            if status == 404:
                # Revoked already (or gone): the goal state holds either way.
                return _Outcome(note="already revoked or gone (404)")
            return _Outcome(
                error=f"HTTP {status}{_detail(response)}", in_doubt=_maybe_applied(status)
            )
        if step.action == "expire" and status == 404:
            return _Outcome(note="the key is gone (404): nothing left to expire")
        if not 200 <= status < 300:
            return _Outcome(
                error=f"HTTP {status}{_detail(response)}", in_doubt=_maybe_applied(status)
            )
        if step.action == "expire":
            return _Outcome(note=f"expires {_stamp(step.expires_at)}" if step.expires_at else "")
        if step.action == "rename":
            return _Outcome()
        # A 2xx answer means the key exists: whatever is wrong with the answer, the step
        # stays in doubt, so a re-run replays it instead of creating another key.
        try:
            payload = response.json()
        except ValueError:
            return _Outcome(error="the create answer is not JSON", in_doubt=True)
        new_id = payload.get("id") if isinstance(payload, dict) else None
        secret = payload.get("secret") if isinstance(payload, dict) else None
        if not isinstance(new_id, str) or not new_id:
            return _Outcome(error="the create answer has no key id", in_doubt=True)
        if self.client.scrub(new_id, limit=len(new_id) + 1) != new_id:
            # Printed and journaled below: an id that is (or holds) a secret never is.
            return _Outcome(error="the create answer's key id looks like a secret", in_doubt=True)
        if not isinstance(secret, str) or not secret:
            return _Outcome(
                error=f"key {new_id} was created but the answer held no secret", in_doubt=True
            )
        assert secrets is not None
        secrets.write(
            {"step_id": step.step_id, "key_id": new_id, "name": step.name, "replaces": step.key_id,
             "scopes": list(step.scopes), "secret": secret, "created_at": _stamp(self.now())}
        )  # fmt: skip
        return _Outcome(
            new_key_id=new_id, note=f"new key {new_id}; secret written to {self.secrets_path}"
        )


@dataclass(frozen=True, slots=True)
class _Outcome:
    error: str = ""
    """Unscrubbed: it may quote the platform's answer (the caller scrubs it)."""
    note: str = ""
    new_key_id: str = ""
    in_doubt: bool = False
    """The change may have been made despite the error: keep its Idempotency-Key."""


_REFUSED_BEFORE_ACTING = frozenset({400, 401, 403, 404, 405, 410, 411, 413, 414, 415, 422})
"""4xx answers that say the platform refused the change before making it."""


def _maybe_applied(status: int) -> bool:
    """Whether an error answer leaves the change possibly made (5xx, 409, 3xx, ...)."""
    return status not in _REFUSED_BEFORE_ACTING


def _detail(response: ApiResponse) -> str:
    """The platform's error message, unscrubbed: the caller runs the client's scrub."""
    from keyscope.sources.live import _error_detail

    detail = _error_detail(response)
    # Not cut here: a cut could split a secret so that no scrub recognises its half.
    return f": {detail}" if detail else ""


def describe_step(step: PlanStep) -> str:
    """One line for people: what the step does (untrusted names escaped by the caller)."""
    if step.action == "create":
        scopes = ", ".join(step.scopes) or "no scopes"
        return f"create key {step.name!r} with {scopes} (replaces {step.key_id})"
    if step.action == "rename":
        return f"rename {step.key_id} to {step.name!r}"
    if step.action == "expire" and step.expires_at is not None:
        return f"set {step.key_id} to expire at {_stamp(step.expires_at)} (it works until then)"
    if step.action == "revoke":
        when = f" {step.wait_days} days after {step.after_step}" if step.after_step else ""
        return f"revoke {step.key_id}{when}"
    return f"note: {step.reason}"
