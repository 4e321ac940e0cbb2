"""A real SFU worker process (``python -m media.workers``, ``seminar sfu-worker``)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import pytest

from media.workers.client import WorkerClient, WorkerError
from media.workers.media_messages import Publish, TrackSpec
from media.workers.protocol import PROTOCOL_VERSION, Event, Stopping
from tests.media.workers.conftest import child_env, connect, worker_process

SEMINAR = str(Path(sys.executable).parent / "seminar")


async def test_a_worker_answers_and_stops_on_shutdown(sock_dir: Path) -> None:
    async with worker_process(sock_dir, "--capacity", "12", worker_id="w-a") as (process, path):
        events: list[Event] = []
        client = await connect(path, events)
        welcome = await client.hello()
        assert welcome.worker_id == "w-a"
        assert welcome.pid == process.pid
        assert welcome.protocol == PROTOCOL_VERSION
        assert welcome.capacity == 12
        assert welcome.udp_rcvbuf > 0
        await client.ping()
        stats = await client.stats()
        assert stats.sessions == 0
        assert stats.rss_bytes > 1024 * 1024
        assert stats.uptime > 0
        await client.shutdown()
        async with asyncio.timeout(20):
            assert await process.wait() == 0
            await client.wait_closed()
        assert events == [Stopping(reason="shutdown")]
        assert not path.exists()  # the worker removed its socket


async def test_a_worker_stops_on_sigterm(sock_dir: Path) -> None:
    async with worker_process(sock_dir) as (process, path):
        events: list[Event] = []
        client = await connect(path, events)
        await client.ping()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
            await client.wait_closed()
        assert events == [Stopping(reason="signal")]


async def test_a_worker_stops_when_its_stdin_closes(sock_dir: Path) -> None:
    async with worker_process(sock_dir, "--exit-on-stdin-eof") as (process, path):
        client = await connect(path)
        await client.ping()
        assert process.stdin is not None
        process.stdin.close()  # what the parent's death does
        async with asyncio.timeout(20):
            assert await process.wait() == 0


async def test_without_the_flag_stdin_eof_is_ignored(sock_dir: Path) -> None:
    # A worker run by systemd on another node has /dev/null for stdin.
    async with worker_process(sock_dir) as (process, path):
        assert process.stdin is not None
        process.stdin.close()
        client = await connect(path)
        await asyncio.sleep(0.3)
        await client.ping()
        assert process.returncode is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _connect_tcp(process: asyncio.subprocess.Process, port: int) -> WorkerClient:
    async with asyncio.timeout(30):  # `seminar` imports the whole server: ~3 s
        while True:
            try:
                return await WorkerClient.connect_tcp("127.0.0.1", port)
            except ConnectionRefusedError:
                assert process.returncode is None
                await asyncio.sleep(0.1)


async def test_seminar_sfu_worker_serves_over_tcp() -> None:
    port = _free_port()
    env = {k: v for k, v in child_env().items() if not k.startswith("SEMINAR_")}
    process = await asyncio.create_subprocess_exec(
        SEMINAR,
        "sfu-worker",
        "--worker-id",
        "node-b",
        "--control-port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        env={**env, "SEMINAR_LOG_FORMAT": "console"},
    )
    try:
        client = await _connect_tcp(process, port)
        welcome = await client.hello()
        assert welcome.worker_id == "node-b"
        assert welcome.pid == process.pid
        assert welcome.capacity == 40
        # It hosts the SFU: a media request is understood (and this offer refused as such).
        camera = [TrackSpec(track_id="cam", kind="camera", mid="0")]
        with pytest.raises(WorkerError) as refused:
            await client.request(
                Publish(transport_id="t1", sdp="not sdp", tracks=camera), timeout=20
            )
        assert refused.value.code == "sdp_invalid"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_tcp_control_channel_answers_only_after_a_hello_with_the_token() -> None:
    port = _free_port()
    env = {k: v for k, v in child_env().items() if not k.startswith("SEMINAR_")}
    env["SEMINAR_SFU_CONTROL_TOKEN"] = "a-long-shared-secret"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.workers",
        "--worker-id",
        "node-c",
        "--control-host",
        "127.0.0.1",
        "--control-port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        # Anything before the hello, or a hello with another token: refused, then hung up.
        client = await _connect_tcp(process, port)
        with pytest.raises(WorkerError) as refused:
            await client.ping()
        assert refused.value.code == "unauthorized"
        async with asyncio.timeout(10):
            await client.wait_closed()
        client = await _connect_tcp(process, port)
        with pytest.raises(WorkerError) as refused:
            await client.hello(token="not-the-secret")
        assert refused.value.code == "unauthorized"
        async with asyncio.timeout(10):
            await client.wait_closed()
        client = await _connect_tcp(process, port)
        welcome = await client.hello(token="a-long-shared-secret")
        assert welcome.worker_id == "node-c"
        await client.ping()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_worker_reachable_off_loopback_needs_a_token() -> None:
    env = {k: v for k, v in child_env().items() if not k.startswith("SEMINAR_")}
    process = await asyncio.create_subprocess_exec(
        SEMINAR,
        "sfu-worker",
        "--control-host",
        "0.0.0.0",  # noqa: S104 -- refused before it listens
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**env, "SEMINAR_LOG_FORMAT": "console"},
    )
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"SEMINAR_SFU_CONTROL_TOKEN" in err
