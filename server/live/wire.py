"""Writing to ``/live`` WebSocket clients directly: the transport half of the broadcast path.

Stock python-engineio gives every connection a queue and a writer task; a room broadcast in
python-socketio then costs one asyncio task, one queue hop and one WebSocket frame per
recipient (80-130 µs of CPU each, ../shared/research/realtime/REPORT.md). Here, once a
connection is on WebSocket, every packet for it is framed and written to its transport at once,
in call order; a broadcast frames its packet once and writes the same bytes to every member
(server/live/manager.py). What stays of Engine.IO: the handshake, pings, long-polling (which
keeps the queue) and the upgrade from polling.

Per-connection compression (permessage-deflate) is off: it would compress each broadcast once
per recipient and keep a zlib context (~120 KB) per connection. A connection whose unsent
bytes pass ``send_buffer_bytes`` is too slow to keep up: it is dropped (its client reconnects
and replays by sequence number) instead of buffering without limit.

The hooks into engineio 4.15 (pinned in constraints.txt) are the socket class, its
``_websocket_handler`` (adapted from upstream) and the ``websocket`` driver entry; the tests in
tests/server/live/test_wire.py fail if an upgrade moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass
from typing import Any

import engineio  # type: ignore[import-untyped]
from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket  # type: ignore[import-untyped]

log = logging.getLogger("seminar.live")

_TEXT = 0x81  # FIN + text opcode
_BINARY = 0x82  # FIN + binary opcode


def ws_frame(payload: bytes, first_byte: int = _TEXT) -> bytes:
    """An unmasked, uncompressed server-to-client WebSocket frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((first_byte, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", first_byte, 126, n) + payload
    return struct.pack("!BBQ", first_byte, 127, n) + payload


def eio_message_frame(socketio_packet: str) -> bytes:
    """The frame of an Engine.IO message (``4``) carrying an encoded Socket.IO packet."""
    return ws_frame(b"4" + socketio_packet.encode())


def _frame_of(pkt: Any) -> bytes:
    encoded = pkt.encode()
    if isinstance(encoded, str):
        return ws_frame(encoded.encode())
    return ws_frame(encoded, _BINARY)


@dataclass
class WireStats:
    """Counters read by /metrics (server/live/metrics.py) at scrape time."""

    slow_clients_dropped: int = 0


class Wire:
    """One client's WebSocket transport, written to directly, with a bound on unsent bytes."""

    __slots__ = ("_limit", "_stats", "_transport", "dropped", "sid")

    def __init__(
        self, transport: asyncio.Transport, limit: int, sid: str, stats: WireStats
    ) -> None:
        self._transport = transport
        self._limit = limit
        self._stats = stats
        self.sid = sid
        self.dropped = False

    def write(self, frame: bytes) -> None:
        if self.dropped:
            return
        transport = self._transport
        if transport.is_closing():
            self.dropped = True
            return
        if transport.get_write_buffer_size() > self._limit:
            # A client this far behind would make the server hold every broadcast for it.
            self.dropped = True
            self._stats.slow_clients_dropped += 1
            log.warning("live: dropping a client too slow to keep up (eio sid %s)", self.sid)
            transport.abort()
            return
        transport.write(frame)


class FramedWebSocket:
    """engineio's aiohttp ``websocket`` driver entry, without permessage-deflate, exposing the
    request's transport."""

    def __init__(self, handler: Any, server: Any) -> None:
        self.handler = handler
        self.server = server
        self._sock: web.WebSocketResponse | None = None
        self.transport: asyncio.Transport | None = None
        self.environ: dict[str, Any] = {}

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request: web.Request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.transport = request.transport
        self.environ = environ
        await self.handler(self)
        return self._sock

    async def close(self) -> None:
        assert self._sock is not None
        await self._sock.close()

    async def send(self, message: str | bytes) -> None:
        assert self._sock is not None
        if isinstance(message, bytes):
            await self._sock.send_bytes(message)
        else:
            await self._sock.send_str(message)

    async def wait(self) -> str | bytes:
        assert self._sock is not None
        msg = await self._sock.receive()
        if not isinstance(msg.data, (bytes, str)):
            raise OSError()
        return msg.data


class FramedSocket(AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket that, once on WebSocket, writes each packet straight to its wire."""

    _wire: Wire | None = None
    _ws: FramedWebSocket | None = None
    _closer: asyncio.Task[None] | None = None
    connected: bool
    upgraded: bool
    upgrading: bool

    async def send(self, pkt: Any) -> None:
        wire = self._wire
        if wire is None:  # long-polling, or not upgraded yet: engineio's queue
            await super().send(pkt)
            return
        if not await self.check_ping_timeout():
            return
        wire.write(_frame_of(pkt))

    def send_broadcast(self, frame: bytes, socketio_packet: str) -> None:
        """Deliver one broadcast: ``frame`` is its ready WebSocket frame (the same bytes for
        every member), ``socketio_packet`` the encoded packet, for a polling client."""
        if self.closed or self.closing:
            return
        wire = self._wire
        if wire is not None:
            wire.write(frame)
        else:
            self.queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, socketio_packet))

    async def _websocket_handler(self, ws: FramedWebSocket) -> None:
        """Upstream's handler (engineio 4.15 async_socket.py), with the writer task replaced by
        direct writes: after the handshake, whatever is queued is written in order and every
        later send goes straight to the wire."""
        server = self.server

        async def websocket_wait() -> str | bytes:
            data = await ws.wait()
            if data and len(data) > server.max_http_buffer_size:
                raise ValueError("packet is too large")
            return data

        if self.connected:  # an upgrade from long-polling: the probe handshake first
            self.upgrading = True
            try:
                pkt = await websocket_wait()
            except OSError:
                self.upgrading = False
                return
            probe = eio_packet.Packet(encoded_packet=pkt)
            if probe.packet_type != eio_packet.PING or probe.data != "probe":
                self.upgrading = False
                return
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            await self.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending poll
            try:
                pkt = await websocket_wait()
            except OSError:
                self.upgrading = False
                return
            if eio_packet.Packet(encoded_packet=pkt).packet_type != eio_packet.UPGRADE:
                self.upgrading = False
                return
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True

        assert ws.transport is not None
        wire = Wire(ws.transport, server.send_buffer_bytes, self.sid, server.wire_stats)
        self._flush_queue(wire)
        self._wire = wire  # no await since the flush: nothing can slip in between
        self._ws = ws

        try:
            await self._receive_until_closed(websocket_wait)
        finally:
            # Also when aiohttp cancels this handler (the transport was aborted, e.g. a dropped
            # slow client): the disconnect handlers must still run, so they are shielded.
            wire.dropped = True
            await asyncio.shield(self._finish(ws))

    async def _receive_until_closed(self, websocket_wait: Any) -> None:
        server = self.server
        while True:
            try:
                received = await asyncio.wait_for(
                    websocket_wait(), server.ping_interval + server.ping_timeout
                )
            except Exception:  # noqa: BLE001 -- closed, timed out or too large: the end
                return
            try:
                await self.receive(eio_packet.Packet(encoded_packet=received))
            except engineio.exceptions.SocketIsClosedError:
                return
            except engineio.exceptions.UnknownPacketError:
                pass
            except Exception:
                log.exception("live: receiving a packet failed")

    async def _finish(self, ws: FramedWebSocket) -> None:
        # The disconnect handlers first: closing a WebSocket whose transport was aborted can
        # wait for a close frame that never comes.
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        with contextlib.suppress(Exception):
            await ws.close()

    def _flush_queue(self, wire: Wire) -> None:
        while True:
            try:
                pkt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            self.queue.task_done()
            if pkt is not None and pkt.packet_type != eio_packet.NOOP:
                wire.write(_frame_of(pkt))

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        was_open = not (self.closed or self.closing)
        await super().close(wait=wait, abort=abort, reason=reason)
        if was_open and abort and not self.upgraded:
            # A long-polling client said goodbye: answer its pending GET with CLOSE, as Node's
            # engine.io does, instead of leaving it to the poll timeout (~45 s).
            self.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))
        wire, ws = self._wire, self._ws
        if wire is not None and not wire.dropped and ws is not None:
            # The server hangs up (a kick, shutdown): the CLOSE packet is written, so close
            # the WebSocket too rather than hold it until the client's ping timeout.
            wire.dropped = True
            self._closer = asyncio.get_running_loop().create_task(ws.close())


class _FramedSockets(dict[str, Any]):
    """engineio keeps its sockets in ``server.sockets``; each one stored is made a
    FramedSocket (it adds no state of its own, only behaviour)."""

    def __init__(self, initial: dict[str, Any]) -> None:
        super().__init__()
        for sid, sock in initial.items():
            self[sid] = sock

    def __setitem__(self, sid: str, sock: Any) -> None:
        if type(sock) is AsyncSocket:
            sock.__class__ = FramedSocket
        super().__setitem__(sid, sock)


class FramedEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    send_buffer_bytes = 2 * 1024 * 1024
    _async: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire_stats = WireStats()
        self._async = {**self._async, "websocket": FramedWebSocket}

    @property
    def sockets(self) -> dict[str, Any]:
        return self._framed_sockets

    @sockets.setter
    def sockets(self, value: dict[str, Any]) -> None:
        self._framed_sockets = _FramedSockets(value)
