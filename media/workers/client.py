"""The control plane's side of the channel: :class:`WorkerClient`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from media.workers.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ErrorReply,
    Event,
    Hello,
    Ping,
    ProtocolError,
    Reply,
    Request,
    Shutdown,
    Stats,
    StatsReport,
    Welcome,
    decode_incoming,
    encode,
    reply_for,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
Rep = TypeVar("Rep", bound=Reply)


class WorkerError(Exception):
    """The worker answered a request with an error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ChannelClosed(ConnectionError):
    """The connection to the worker is closed: no reply will come."""


class WorkerClient:
    """Requests to one worker over one connection, matched to replies by id.

    ``on_event`` is called (synchronously, on the reading task) with each event the worker
    sends. A request that is not answered within its timeout raises ``TimeoutError``; its late
    reply, if any, is dropped. When the connection ends every waiting request raises
    :class:`ChannelClosed`, and :meth:`wait_closed` returns.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._next_id = 0
        self._pending: dict[int, tuple[Request, asyncio.Future[Reply]]] = {}
        self._closed = asyncio.Event()
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def connect_unix(
        cls, path: str, *, on_event: Callable[[Event], None] | None = None
    ) -> WorkerClient:
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_FRAME_BYTES + 1)
        return cls(reader, writer, on_event=on_event)

    @classmethod
    async def connect_tcp(
        cls, host: str, port: int, *, on_event: Callable[[Event], None] | None = None
    ) -> WorkerClient:
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_FRAME_BYTES + 1)
        return cls(reader, writer, on_event=on_event)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def request(self, request: Request, *, timeout: float = DEFAULT_TIMEOUT) -> Reply:  # noqa: ASYNC109
        """Send ``request`` and return its reply (an instance of ``request.reply``).

        Raises :class:`WorkerError` for an error reply, ``TimeoutError``, or
        :class:`ChannelClosed`.
        """
        if self.closed:
            raise ChannelClosed("the worker connection is closed")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (request, future)
        try:
            self._writer.write(encode(request, request_id))
            async with asyncio.timeout(timeout):
                await self._writer.drain()
                reply = await future
        except (ConnectionError, RuntimeError) as exc:
            if isinstance(exc, ChannelClosed):
                raise
            raise ChannelClosed(str(exc)) from exc
        finally:
            self._pending.pop(request_id, None)
        if isinstance(reply, ErrorReply):
            raise WorkerError(reply.code, reply.message)
        return reply

    async def call(
        self,
        request: Request,
        reply: type[Rep],
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a per-request timeout is the API)
    ) -> Rep:
        """:meth:`request`, typed: the reply checked to be a ``reply``."""
        answer = await self.request(request, timeout=timeout)
        assert isinstance(answer, reply)
        return answer

    async def hello(
        self,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> Welcome:
        """The first request on a connection (with the worker's token, if it has one)."""
        hello = Hello(protocol=PROTOCOL_VERSION, token=token)
        return await self.call(hello, Welcome, timeout=timeout)

    async def ping(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:  # noqa: ASYNC109
        await self.request(Ping(), timeout=timeout)

    async def stats(self, *, timeout: float = DEFAULT_TIMEOUT) -> StatsReport:  # noqa: ASYNC109
        return await self.call(Stats(), StatsReport, timeout=timeout)

    async def shutdown(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:  # noqa: ASYNC109
        await self.request(Shutdown(), timeout=timeout)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._finish()

    async def _read(self) -> None:
        try:
            while True:
                try:
                    frame = await self._reader.readuntil(b"\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                self._dispatch(frame)
        except ConnectionError:
            return
        finally:
            self._finish()

    def _dispatch(self, frame: bytes) -> None:
        try:
            request_id, incoming = decode_incoming(frame)
        except ProtocolError as exc:
            log.warning("sfu worker sent an unreadable frame (%s): %r", exc, frame[:200])
            return
        if isinstance(incoming, Event):
            if self._on_event is not None:
                self._on_event(incoming)
            return
        if request_id is None:
            if isinstance(incoming, dict):
                # A worker's error about a frame it could not read (we never send one).
                log.warning("sfu worker error without id: %r", frame[:200])
            return
        waiting = self._pending.get(request_id)
        if waiting is None or waiting[1].done():
            return  # timed out already
        request, future = waiting
        assert isinstance(incoming, dict)
        try:
            future.set_result(reply_for(request, incoming))
        except ProtocolError as exc:
            future.set_exception(WorkerError(exc.code, exc.message))

    def _finish(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._writer.close()
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(ChannelClosed("the worker connection closed"))
        self._pending.clear()
