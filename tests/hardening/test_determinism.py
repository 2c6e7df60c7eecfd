"""P3: the same inputs give byte-identical outputs, whatever the order they come in.

Two runs of ``keyscope audit`` in subprocesses, each writing JSON, SARIF, HTML, Markdown
and CSV plus the text on stdout:

- run A: ``PYTHONHASHSEED=0``, every core, the usage lines in one order split over
  three files, the inventory in one order;
- run B: ``PYTHONHASHSEED=1``, one core (``sched_setaffinity``), the same lines shuffled
  and split over five files written in another order (and with a few lines repeated
  across files, as overlapping pages are), the inventory shuffled.

The input paths stay the same (the usage is one glob, the inventory one file), because
reports name their inputs.  The inventory is a single-line JSON document, as an API
returns it, so every record's location (``keys.json:1``) is the same in both orders.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import World, daily_lines, default_keys, key_record, subprocess_env

FORMATS = ("json", "sarif", "html", "md", "csv")


def _lines() -> list[str]:
    lines: list[str] = []
    calls = {
        "key_accountant01": [("GET", "/v1/customers"), ("GET", "/v1/invoices/inv_9")],
        "key_overpriv002": [("GET", "/v1/invoices?limit=5"), ("GET", "/v1/payments")],
        "key_legacy00003": [("GET", "/v1/payments"), ("POST", "/v1/refunds")],
        "key_extra000005": [("POST", "/v1/customers"), ("GET", "/v1/legacy/thing")],
        "key_unknown0009": [("GET", "/v1/invoices")],
    }
    for key_id, key_calls in calls.items():
        lines += daily_lines(key_id, key_calls)
    lines += daily_lines("key_extra000005", [("POST", "/v1/refunds")], status=403)
    # Every line gets a request id, so repeats across files are recognised.
    return [line[:-1] + f', "request_id": "req_{index:05d}"}}' for index, line in enumerate(lines)]


def _keys() -> list[dict[str, object]]:
    return [
        *default_keys(),
        key_record("key_extra000005", ["customers:write", "payments:read"], name="Same name"),
        key_record("key_extra000006", ["refunds:write"], name="Same name"),
        key_record("key_extra000007", None, name="Another legacy", status="revoked"),
    ]


def write_inputs(world: World, rng: random.Random | None, files: int, repeats: int) -> None:
    keys = _keys()
    lines = _lines()
    if rng is not None:
        rng.shuffle(keys)
        rng.shuffle(lines)
    world.spec_path.parent.mkdir(parents=True, exist_ok=True)
    world.write()
    world.keys_path.write_text(json.dumps({"keys": keys}), encoding="utf-8")  # one line
    usage = world.folder / "usage"
    shutil.rmtree(usage, ignore_errors=True)
    usage.mkdir()
    chunks = [lines[index::files] for index in range(files)]
    chunks[-1] += lines[:repeats]  # the same events again, as overlapping pages give them
    order = list(range(files))
    if rng is not None:
        rng.shuffle(order)
    for position in order:
        path = usage / f"part-{position:02d}.jsonl"
        path.write_text("\n".join(chunks[position]) + "\n", encoding="utf-8")
    world.usage_files = [usage / "*.jsonl"]


def run_audit(world: World, out: Path, seed: str, *, one_core: bool) -> dict[str, bytes]:
    out.mkdir()
    files = {fmt: out / f"report.{fmt}" for fmt in FORMATS}
    flags = [arg for fmt, path in files.items() for arg in (f"--{fmt}", str(path))]

    def pin() -> None:
        if one_core:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    done = subprocess.run(
        [sys.executable, "-m", "keyscope", "audit", *world.flags(), *flags],
        capture_output=True,
        cwd=world.folder,
        env=subprocess_env(PYTHONHASHSEED=seed),
        timeout=180,
        check=False,
        preexec_fn=pin,
    )
    assert done.returncode == 0, done.stderr.decode()
    outputs = {fmt: path.read_bytes() for fmt, path in files.items()}
    outputs["text"] = done.stdout
    return outputs


@pytest.mark.timeout(600)
def test_outputs_are_byte_identical_across_seeds_orders_splits_and_cores(
    world: World, tmp_path: Path
) -> None:
    write_inputs(world, None, files=3, repeats=0)
    first = run_audit(world, tmp_path / "a", "0", one_core=False)
    write_inputs(world, random.Random(7), files=5, repeats=0)
    second = run_audit(world, tmp_path / "b", "1", one_core=True)
    for fmt in (*FORMATS, "text"):
        assert first[fmt] == second[fmt], fmt
    data = json.loads(first["json"])
    assert data["complete"] is True
    assert [key["id"] for key in data["keys"]] == sorted(key["id"] for key in data["keys"])
    assert data["findings"]  # there is something to order


@pytest.mark.timeout(600)
def test_repeated_events_across_files_are_counted_once(world: World, tmp_path: Path) -> None:
    """BAD-INPUTS #39: the same events in overlapping files do not change any report
    except the duplicate count it states."""
    write_inputs(world, None, files=3, repeats=0)
    clean = run_audit(world, tmp_path / "a", "0", one_core=False)
    write_inputs(world, random.Random(11), files=4, repeats=40)
    repeated = run_audit(world, tmp_path / "b", "1", one_core=False)
    first, second = json.loads(clean["json"]), json.loads(repeated["json"])
    assert first["keys"] == second["keys"]
    assert first["findings"] == second["findings"]
    duplicates = sum(source["duplicates"] for source in second["data_quality"]["sources"])
    assert duplicates == 40
    for source in second["data_quality"]["sources"]:
        assert source["lines"] == (
            source["bad_lines"]
            + source["in_window"]
            + source["out_of_window"]
            + source["duplicates"]
        )
