"""The quiz start benchmark still runs (bench/quiz_start.py at five students, the fast scenario):
it seeds, serves, starts, autosaves and submits over HTTP, and every attempt is in the
database once with its ten answers. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quiz_start_tiny(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "quiz_start.py"),
            "--database-url",
            database_url,
            "--students",
            "5",
            "--scenarios",
            "fast",
            "--pause",
            "0.1",
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
    assert set(rows) == {"solo", "floor-fast", "quiz-fast", "check"}
    assert rows["solo"]["start"]["n"] == 5
    quiz = rows["quiz-fast"]
    assert [quiz[k]["n"] for k in ("start", "save", "submit")] == [5, 50, 5]
    assert not any(quiz[k]["errors"] for k in ("start", "save", "submit"))
    check = rows["check"]
    assert (check["attempts"], check["duplicates"], check["with_10_answers"]) == (5, 0, 5)
    assert (check["submitted"], check["score_as_answered"], check["answers"]) == (5, 5, 50)
    assert check["ok"]
    assert check["all_n"]
