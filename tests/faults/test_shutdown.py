"""Graceful shutdown of ``seminar serve``: SIGTERM stops accepting, drains, then closes.

A real server process on a free port, against the migrated test database, spoken to over raw
sockets so we control exactly when each byte of a request arrives.

What we observed (aiohttp 3.14.5) and why ``serve`` no longer uses ``web.run_app``: aiohttp's
shutdown marks every connection as closing before it waits for the handlers, and a closing
connection drops the bytes that arrive on it. A login whose body was still being uploaded at
SIGTERM therefore never finished: the server waited the whole shutdown timeout, cancelled it
(logged as a 500) and the client read an empty reply. ``server/shutdown.py`` now closes the
listening socket, waits for the requests in flight, and only then lets aiohttp close the
connections. Idle keep-alive connections stay open during that drain; a request sent on one
is answered, with ``Connection: close``; aiohttp closes the rest once the drain is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import User
from tests.conftest import PASSWORD

SEMINAR = str(Path(sys.executable).parent / "seminar")
HOST = "127.0.0.1"


@dataclass
class Server:
    process: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def events(self) -> list[str]:
        """The ``event`` of every JSON log line."""
        found = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                found.append(str(json.loads(line).get("event")))
        return found


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


async def _collect(server: Server) -> None:
    assert server.process.stdout is not None
    while line := await server.process.stdout.readline():
        server.lines.append(line.decode(errors="replace"))


@contextlib.asynccontextmanager
async def running_server(
    database_url: str, data_dir: Path, *, shutdown_timeout: float
) -> AsyncIterator[Server]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEMINAR_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    port = free_port()
    env.update(
        DATABASE_URL=database_url,
        SEMINAR_HOST=HOST,
        SEMINAR_PORT=str(port),
        SEMINAR_SHUTDOWN_TIMEOUT=str(shutdown_timeout),
        SEMINAR_SECRET_KEY=uuid.uuid4().hex * 2,
        SEMINAR_DATA_DIR=str(data_dir),
        SEMINAR_LOG_FORMAT="json",
        SEMINAR_LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        SEMINAR,
        "serve",
        env=env,
        cwd=data_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    server = Server(process, port)
    collector = asyncio.create_task(_collect(server))
    try:
        # The banner is printed once the signal handlers are installed.
        async with asyncio.timeout(60):
            while "Seminar is running" not in server.output:
                assert process.returncode is None, server.output
                await asyncio.sleep(0.05)
        yield server
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await collector


async def send_head(
    writer: asyncio.StreamWriter, method: str, path: str, *, content_length: int = 0
) -> None:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
    writer.write(head.encode())
    await writer.drain()


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Response(int(status_line.split()[1]), headers, body)


async def request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    body: bytes = b"",
) -> Response:
    await send_head(writer, method, path, content_length=len(body))
    writer.write(body)
    await writer.drain()
    return await read_response(reader)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, port)


async def wait_until_refused(port: int, within: float) -> float:
    """Seconds until a new TCP connection to ``port`` is refused."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            try:
                _, writer = await connect(port)
            except ConnectionRefusedError:
                return time.monotonic() - started
            writer.close()
            await writer.wait_closed()
            await asyncio.sleep(0.02)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def forget_user(database_url: str, email: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(User).where(User.email == email))
    finally:
        await engine.dispose()


async def test_sigterm_drains_a_request_still_uploading_then_exits_0(
    database_url: str, tmp_path: Path
) -> None:
    email = f"shutdown-{uuid.uuid4().hex[:10]}@example.com"
    credentials = json.dumps({"email": email, "password": PASSWORD}).encode()
    try:
        async with running_server(database_url, tmp_path, shutdown_timeout=10) as server:
            # A keep-alive connection that has finished a request and sits idle.
            idle_reader, idle_writer = await connect(server.port)
            registration = json.dumps({"email": email, "password": PASSWORD, "name": "Shut Down"})
            registered = await request(
                idle_reader, idle_writer, "POST", "/api/v1/auth/register", registration.encode()
            )
            assert registered.status == 201, registered.body
            assert registered.headers.get("connection", "").lower() != "close"

            # A login whose body is only half uploaded when SIGTERM arrives.
            reader, writer = await connect(server.port)
            half = len(credentials) // 2
            await send_head(writer, "POST", "/api/v1/auth/login", content_length=len(credentials))
            writer.write(credentials[:half])
            await writer.drain()
            await asyncio.sleep(0.3)  # the server parses the head and starts the handler

            sigterm_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            refused_after = await wait_until_refused(server.port, within=5)

            # Draining: the idle keep-alive connection is still served, and told to go away.
            during = await request(idle_reader, idle_writer, "GET", "/healthz")
            assert during.status == 200
            assert during.headers["connection"].lower() == "close"
            assert await idle_reader.read() == b""
            await close(idle_writer)

            await asyncio.sleep(0.5)  # well into the drain: still waiting for the body
            assert server.process.returncode is None
            writer.write(credentials[half:])
            await writer.drain()
            async with asyncio.timeout(10):
                response = await read_response(reader)
            assert response.status == 200, response.body
            assert "seminar_sid=" in response.headers["set-cookie"]
            assert response.headers["connection"].lower() == "close"
            await close(writer)

            async with asyncio.timeout(10):
                returncode = await server.process.wait()
            stopped_after = time.monotonic() - sigterm_at
            print(
                f"\nnew connections refused {refused_after * 1000:.0f} ms after SIGTERM; "
                f"exited {stopped_after:.2f} s after SIGTERM (shutdown timeout 10 s)"
            )
        assert returncode == 0, server.output
        assert stopped_after < 10
        events = server.events()
        drain_start = "shutting down: no new connections; waiting up to 10.0s for 1 request(s)"
        assert any(e.startswith(drain_start) for e in events), server.output
        assert events[-1] == "server stopped", server.output
        assert not any(e.startswith("shutdown timeout") for e in events), server.output
        assert "Traceback" not in server.output
    finally:
        await forget_user(database_url, email)


async def test_an_upload_that_never_finishes_is_cut_at_the_shutdown_timeout(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, tmp_path, shutdown_timeout=2) as server:
        reader, writer = await connect(server.port)
        await send_head(writer, "POST", "/api/v1/auth/login", content_length=100)
        writer.write(b'{"email": ')
        await writer.drain()
        await asyncio.sleep(0.3)

        sigterm_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            returncode = await server.process.wait()
        stopped_after = time.monotonic() - sigterm_at
        print(f"\nexited {stopped_after:.2f} s after SIGTERM (shutdown timeout 2 s)")
        # The connection is closed without a response: nothing else could be sent.
        try:
            leftover = await reader.read()
        except ConnectionResetError:
            leftover = b""
        assert leftover == b""
        await close(writer)
    assert returncode == 0, server.output
    # The drain's timeout, plus aiohttp's 1 s cancellation grace, plus closing the pool.
    assert 2 <= stopped_after < 6, server.output
    assert "shutdown timeout: cancelling 1 unfinished request(s)" in server.events()
    assert server.events()[-1] == "server stopped"


async def test_ctrl_c_stops_an_idle_server_at_once(database_url: str, tmp_path: Path) -> None:
    async with running_server(database_url, tmp_path, shutdown_timeout=10) as server:
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            returncode = await server.process.wait()
        elapsed = time.monotonic() - started
    assert returncode == 0, server.output
    assert elapsed < 5, server.output
    assert server.events()[-1] == "server stopped"
    assert "Traceback" not in server.output
