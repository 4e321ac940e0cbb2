"""``seminar serve`` with ``SEMINAR_SFU_WORKERS=2``: it starts two SFU workers, stops them on
SIGTERM, and they never outlive it (SIGKILLed, its workers see their stdin close and exit)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psutil  # type: ignore[import-untyped,unused-ignore]

SEMINAR = str(Path(sys.executable).parent / "seminar")
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _workers_of(pid: int) -> list[int]:
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            if "media.workers" in child.cmdline():
                found.append(child.pid)
    return found


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def _gone(pids: list[int], seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while any([await asyncio.to_thread(_running, pid) for pid in pids]):  # noqa: ASYNC110 -- other processes
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def serve_with_workers(
    database_url: str, data_dir: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[int]]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEMINAR_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        SEMINAR_HOST=HOST,
        SEMINAR_PORT=str(_free_port()),
        SEMINAR_SECRET_KEY=uuid.uuid4().hex * 2,
        SEMINAR_DATA_DIR=str(data_dir),
        SEMINAR_RUN_WORKERS="false",
        SEMINAR_SFU_WORKERS="2",
        SEMINAR_SHUTDOWN_TIMEOUT="5",
        SEMINAR_LOG_FORMAT="console",
    )
    process = await asyncio.create_subprocess_exec(
        SEMINAR,
        "serve",
        env=env,
        cwd=data_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    workers: list[int] = []
    output: list[bytes] = []

    async def collect() -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            output.append(line)

    collector = asyncio.create_task(collect())
    try:
        async with asyncio.timeout(60):
            while b"Seminar is running" not in b"".join(output):
                assert process.returncode is None, b"".join(output).decode()
                await asyncio.sleep(0.05)
        # The workers said welcome before the app finished starting.
        workers = await asyncio.to_thread(_workers_of, process.pid)
        yield process, workers
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await collector


async def test_serve_starts_two_workers_and_stops_them(database_url: str, tmp_path: Path) -> None:
    async with serve_with_workers(database_url, tmp_path) as (process, workers):
        assert len(workers) == 2
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
        await _gone(workers)


async def test_workers_do_not_outlive_a_killed_serve(database_url: str, tmp_path: Path) -> None:
    async with serve_with_workers(database_url, tmp_path) as (process, workers):
        assert len(workers) == 2
        sockets = await asyncio.to_thread(_socket_dirs, workers)
        assert len(sockets) == 1
        process.kill()  # no cleanup runs: only the closed stdin pipe tells the workers
        await process.wait()
        await _gone(workers)
        # The last worker out removed the socket directory the supervisor could not.
        assert not await asyncio.to_thread(sockets.pop().exists)


def _socket_dirs(pids: list[int]) -> set[Path]:
    dirs = set()
    for pid in pids:
        args = psutil.Process(pid).cmdline()
        dirs.add(Path(args[args.index("--control-socket") + 1]).parent)
    return dirs
