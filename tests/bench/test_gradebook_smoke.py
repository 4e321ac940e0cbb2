"""The gradebook benchmark still runs (bench/gradebook.py at 12 students x 6 items): it seeds,
computes every total at once and per student (the same numbers), applies a grade change both
ways (the same total), and serves the first page and the CSV. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gradebook_tiny(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "gradebook.py"),
            "--database-url",
            database_url,
            "--students",
            "12",
            "--items",
            "6",
            "--repeat",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = {r["phase"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"compute", "http", "check"}
    compute = rows["compute"]
    assert (compute["students"], compute["items"], compute["naive_students"]) == (12, 6, 12)
    assert compute["mismatches"] == 0
    assert compute["change_ok"]
    assert compute["students_with_total"] == 12
    http = rows["http"]
    assert http["csv"]["lines"] == 1 + 12  # the header and every student
    assert http["page"]["bytes"] > 0
    assert rows["check"]["ok"]
