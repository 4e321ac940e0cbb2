"""The submissions zip benchmark still runs (bench/submissions_zip.py on two small files): both
the threaded stream and its baseline make an archive that holds every file byte for byte (the
benchmark checks each run's archive and exits non-zero otherwise). No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_submissions_zip_tiny() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "submissions_zip.py"),
            "--files",
            "2",
            "--megabytes",
            "0.3",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "threaded / baseline" in proc.stdout, proc.stdout
