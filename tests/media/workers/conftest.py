"""Helpers for tests that run SFU worker processes: short socket paths, cleanup on failure."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from media.workers.client import WorkerClient
from media.workers.protocol import Event

ROOT = str(Path(__file__).resolve().parents[3])


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for Unix sockets (their paths are limited to ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="sfuw", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


async def connect(path: Path, events: list[Event] | None = None) -> WorkerClient:
    """Connect to a worker's socket, waiting up to 20 s for it to appear."""
    async with asyncio.timeout(20):
        while True:
            try:
                return await WorkerClient.connect_unix(
                    str(path), on_event=None if events is None else events.append
                )
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def worker_process(
    sock_dir: Path, *extra: str, worker_id: str = "test-0"
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    """``python -m media.workers`` on a Unix socket, stdin on a pipe; killed and reaped after."""
    path = sock_dir / f"{worker_id}.sock"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.workers",
        "--worker-id",
        worker_id,
        "--control-socket",
        str(path),
        "--log-format",
        "console",
        *extra,
        stdin=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    try:
        yield process, path
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
                process.kill()
        await process.wait()
