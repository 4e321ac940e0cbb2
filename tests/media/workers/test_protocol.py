"""The control protocol in one process: framing, typed round trips, timeouts, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from media.workers.client import ChannelClosed, WorkerClient, WorkerError
from media.workers.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    REQUESTS,
    Event,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    Stats,
    Stopping,
    decode_incoming,
    decode_request,
    encode,
    reply_for,
)
from media.workers.server import stream_limit
from media.workers.worker import WorkerConfig, WorkerContext, install_builtin_handlers

Callback = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(callback: Callback) -> AsyncIterator[tuple[str, int]]:
    server = await asyncio.start_server(callback, "127.0.0.1", 0, limit=stream_limit())
    try:
        host, port = server.sockets[0].getsockname()[:2]
        yield host, port
    finally:
        server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()


@contextlib.asynccontextmanager
async def worker(ctx: WorkerContext) -> AsyncIterator[tuple[str, int]]:
    async with tcp_server(ctx.server.serve_connection) as address:
        try:
            yield address
        finally:
            ctx.server.close_connections()


def context(**config: Any) -> WorkerContext:
    ctx = WorkerContext(WorkerConfig(worker_id="w-test", version="9.9", **config))
    ctx.udp_rcvbuf = 123456
    install_builtin_handlers(ctx)
    return ctx


@contextlib.asynccontextmanager
async def raw(address: tuple[str, int]) -> AsyncIterator[tuple[Any, Any]]:
    reader, writer = await asyncio.open_connection(*address, limit=stream_limit())
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> Any:
    writer.write(line)
    await writer.drain()
    async with asyncio.timeout(5):
        return json.loads(await reader.readline())


def test_every_request_round_trips_through_its_frame() -> None:
    for name, cls in REQUESTS.items():
        if any(f.is_required() for f in cls.model_fields.values()):
            continue  # one with fields round-trips where it is tested (test_media_host.py)
        request_id, decoded = decode_request(encode(cls(), 42))
        assert (request_id, decoded) == (42, cls())
        assert decoded.type == name
    hello = b'{"type":"hello","id":1,"protocol":%d,"token":null}\n' % PROTOCOL_VERSION
    assert encode(Hello(), 1) == hello
    reply_id, body = decode_incoming(encode(Pong(), 3))
    assert reply_id == 3
    assert isinstance(body, dict)
    assert reply_for(Ping(), body) == Pong()
    assert decode_incoming(encode(Stopping(reason="signal"))) == (None, Stopping(reason="signal"))
    with pytest.raises(ProtocolError) as info:
        reply_for(Stats(), body)  # a pong is no answer to stats
    assert info.value.code == "bad_frame"


async def test_client_and_worker_round_trip() -> None:
    ctx = context(capacity=7)
    ctx.sessions = lambda: 3
    async with worker(ctx) as address:
        client = await WorkerClient.connect_tcp(*address)
        welcome = await client.hello()
        assert welcome.worker_id == "w-test"
        assert welcome.version == "9.9"
        assert welcome.protocol == PROTOCOL_VERSION
        assert welcome.capacity == 7
        assert welcome.udp_rcvbuf == 123456
        assert welcome.pid > 0
        await client.ping()
        stats = await client.stats()
        assert stats.sessions == 3
        assert stats.rss_bytes > 0
        assert stats.cpu_percent >= 0
        # Requests in flight together are matched to their replies by id.
        answers = await asyncio.gather(client.stats(), client.ping(), client.hello())
        assert answers[2] == welcome
        await client.shutdown()
        assert ctx.stop_reason == "shutdown"
        await client.close()
        assert client.closed


async def test_a_protocol_mismatch_is_refused() -> None:
    async with worker(context()) as address:
        client = await WorkerClient.connect_tcp(*address)
        with pytest.raises(WorkerError) as info:
            await client.request(Hello(protocol=PROTOCOL_VERSION + 1))
        assert info.value.code == "protocol_mismatch"
        await client.ping()  # and the connection carries on
        await client.close()


async def test_malformed_input_is_answered_not_crashed() -> None:
    ctx = context()

    async def broken(request: Stats) -> Pong:
        raise RuntimeError("a handler bug")

    ctx.server.register(Stats, broken)
    async with worker(ctx) as address, raw(address) as (reader, writer):
        cases = [
            (b"not json\n", "bad_frame", None),
            (b"[1, 2]\n", "bad_frame", None),
            (b'{"type": "nope", "id": 5}\n', "unknown_type", 5),
            (b'{"id": 6}\n', "unknown_type", 6),
            (b'{"type": "ping"}\n', "bad_request", None),
            (b'{"type": "ping", "id": -1}\n', "bad_request", -1),
            (b'{"type": "ping", "id": true}\n', "bad_request", None),
            (b'{"type": "hello", "id": 2, "protocol": "one"}\n', "bad_request", 2),
            (b'{"type": "stats", "id": 3}\n', "internal", 3),
        ]
        for line, code, request_id in cases:
            answer = await exchange(reader, writer, line)
            assert answer["type"] == "error", line
            assert answer["code"] == code, (line, answer)
            assert answer["id"] == request_id, (line, answer)
            assert answer["message"]
        # Blank lines are skipped; unknown fields are ignored (forward compatible).
        answer = await exchange(reader, writer, b'\n{"type": "ping", "id": 9, "extra": 1}\n')
        assert answer == {"type": "pong", "id": 9}

        # A frame over the limit: answered, then the connection is closed (no resync).
        writer.write(b"x" * (MAX_FRAME_BYTES + 10) + b"\n")
        await writer.drain()
        async with asyncio.timeout(5):
            answer = json.loads(await reader.readline())
            assert answer["code"] == "frame_too_large"
            assert await reader.read() == b""
    assert ctx.stop_reason is None  # the worker itself never stopped


async def test_a_request_times_out_and_a_late_reply_is_dropped() -> None:
    async def slow_pongs(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            await asyncio.sleep(0.3)
            writer.write(encode(Pong(), json.loads(line)["id"]))
        writer.close()

    async with tcp_server(slow_pongs) as address:
        client = await WorkerClient.connect_tcp(*address)
        with pytest.raises(TimeoutError):
            await client.ping(timeout=0.05)
        # The late pong of the first ping arrives first and is not taken for this one's.
        assert await client.request(Ping(), timeout=10) == Pong()
        await client.close()


async def test_a_closed_channel_fails_waiting_requests() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    async with tcp_server(hang_up) as address:
        client = await WorkerClient.connect_tcp(*address)
        with pytest.raises(ChannelClosed):
            await client.ping(timeout=10)
        async with asyncio.timeout(5):
            await client.wait_closed()
        with pytest.raises(ChannelClosed):
            await client.ping()


async def test_events_reach_every_connection() -> None:
    ctx = context()
    async with worker(ctx) as address:
        seen: list[list[Event]] = [[], []]
        clients = [await WorkerClient.connect_tcp(*address, on_event=s.append) for s in seen]
        for client in clients:
            await client.ping()  # the worker has registered both connections
        await ctx.server.broadcast(Stopping(reason="shutdown"))
        async with asyncio.timeout(5):
            while not all(seen):  # noqa: ASYNC110 -- polling what on_event appends
                await asyncio.sleep(0.01)
        assert seen == [[Stopping(reason="shutdown")]] * 2
        for client in clients:
            await client.close()
