"""The worker's side of the control channel: read requests, run their handlers, answer.

Connections are served one request at a time, in order (a ``subscribe`` sent after its
``publish`` sees it). A handler must therefore be quick: one that blocks also delays the
supervisor's pings, and a worker that misses enough of them is restarted as hung.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from media.workers.protocol import (
    MAX_FRAME_BYTES,
    ErrorReply,
    Event,
    Hello,
    ProtocolError,
    Reply,
    Request,
    decode_request,
    encode,
)

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Request)
Handler = Callable[[Any], Awaitable[Reply]]


class WorkerServer:
    """Dispatches each request to the handler registered for its type."""

    def __init__(self, token: str | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self.token = token  # with a token, each connection starts with a hello carrying it

    def register(self, request: type[R], handler: Callable[[R], Awaitable[Reply]]) -> None:
        """Answer ``request`` messages with ``handler``'s reply (of ``request.reply``)."""
        self._handlers[request.type] = handler

    async def broadcast(self, event: Event) -> None:
        """Send ``event`` to every connected control plane (a closed one is skipped)."""
        frame = encode(event)
        for writer in list(self._writers):
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.write(frame)
                await writer.drain()

    def close_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The ``asyncio.start_*_server`` callback: serve one connection until it closes."""
        self._writers.add(writer)
        authenticated = self.token is None
        try:
            while True:
                try:
                    frame = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    return  # EOF (a partial last frame is dropped)
                except asyncio.LimitOverrunError:
                    # We cannot find where the next frame starts: say why, then hang up.
                    writer.write(encode(_error("frame_too_large", "frame over limit"), None))
                    await writer.drain()
                    return
                if not frame.strip():
                    continue
                if not authenticated:
                    authenticated, request_id = self._check_token(frame)
                    if not authenticated:  # answered (to its id, if it had one), then hung up
                        refusal = _error("unauthorized", "hello with the token first")
                        writer.write(encode(refusal, request_id))
                        await writer.drain()
                        return
                writer.write(await self._answer(frame))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _check_token(self, frame: bytes) -> tuple[bool, Any]:
        """(whether ``frame`` is a hello with this worker's token, its request id)."""
        try:
            request_id, request = decode_request(frame)
        except ProtocolError as exc:
            return False, exc.request_id
        token = request.token if isinstance(request, Hello) else None
        expected = (self.token or "").encode()
        return token is not None and hmac.compare_digest(token.encode(), expected), request_id

    async def _answer(self, frame: bytes) -> bytes:
        try:
            request_id, request = decode_request(frame)
        except ProtocolError as exc:
            return encode(_error(exc.code, exc.message), exc.request_id)
        handler = self._handlers.get(request.type)
        if handler is None:
            return encode(_error("unknown_type", f"no handler for {request.type}"), request_id)
        try:
            reply = await handler(request)
        except ProtocolError as exc:
            return encode(_error(exc.code, exc.message), request_id)
        except Exception:
            log.exception("sfu worker: %s request failed", request.type)
            return encode(_error("internal", f"{request.type} failed"), request_id)
        return encode(reply, request_id)


def _error(code: str, message: str) -> ErrorReply:
    return ErrorReply(code=code, message=message)


def stream_limit() -> int:
    """The ``limit`` to give ``asyncio.start_*_server``: the largest frame plus its newline."""
    return MAX_FRAME_BYTES + 1
