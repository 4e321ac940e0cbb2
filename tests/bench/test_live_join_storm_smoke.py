"""The join storm benchmark still runs (bench/live_join_storm.py, C=6, this checkout): a real
``seminar serve``, six clients connecting at once with join tickets, each asking ``join`` and
ending with all six in its list. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_live_join_storm_tiny(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "live_join_storm.py"),
            "--database-url",
            database_url,
            "--seminar",
            "now=WORKTREE",
            "--clients",
            "6",
            "--rounds",
            "1",
            "--quiet-wait",
            "0",
            "--no-pin",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["admitted"], row["complete"], row["refused"]) == (6, 6, 0), row
    assert row["wall_s"] is not None
    assert row["events_max"] >= 1  # the first one in hears of the others in presence:changed
