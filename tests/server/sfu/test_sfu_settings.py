"""SEMINAR_SFU_WORKERS: one worker per usable CPU by default, 0 for none."""

from __future__ import annotations

import os

import pytest

from server.settings import Settings


def test_one_worker_per_cpu_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEMINAR_SFU_WORKERS", raising=False)
    assert Settings().sfu_worker_count == len(os.sched_getaffinity(0))
    monkeypatch.setenv("SEMINAR_SFU_WORKERS", "0")
    assert Settings().sfu_worker_count == 0
    monkeypatch.setenv("SEMINAR_SFU_WORKERS", "3")
    assert Settings().sfu_worker_count == 3
    monkeypatch.setenv("SEMINAR_SFU_WORKERS", "-1")
    with pytest.raises(ValueError, match="sfu_workers"):
        Settings()
