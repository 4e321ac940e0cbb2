"""The live broadcast benchmark still runs (bench/live_broadcast.py --tiny): the driver builds,
connects five clients and a sender to a real ``seminar serve`` with join tickets, and every
chat message is acked and delivered to every receiver. No timing is asserted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]


def test_live_broadcast_tiny(database_url: str, tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        if REQUIRE_SERVICES:
            pytest.fail("gcc is needed to build the benchmark's driver")
        pytest.skip("gcc is not installed (the benchmark's driver is C)")
    out = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "live_broadcast.py"),
            "--database-url",
            database_url,
            "--tiny",
            "--no-pin",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    connect = next(r for r in rows if r["phase"] == "connect")
    assert (connect["ready"], connect["refused"]) == (6, 0)
    (load,) = [r for r in rows if r["phase"] == "load"]
    assert (load["acks_ok"], load["acks_failed"]) == (load["msgs"], 0)
    assert load["received"] == load["expected"] == load["msgs"] * 5
    assert (load["stale"], load["dead"]) == (0, 0)
