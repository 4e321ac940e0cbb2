"""An SFU worker process: the control channel's server, its built-in requests, and its life.

It listens on a Unix socket (or TCP, for a worker on another node), answers ``hello``,
``ping``, ``stats`` and ``shutdown``, and stops cleanly on SIGTERM/SIGINT, on a ``shutdown``
request and, when started with ``exit_on_stdin_eof`` (as ``seminar serve`` starts it), when its
stdin reaches EOF: the parent closed it or died, even by SIGKILL, so a worker never outlives
the server that started it. The forwarding core adds its request handlers and its session
count through :class:`WorkerContext`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from media.workers.protocol import (
    PROTOCOL_VERSION,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    Shutdown,
    ShuttingDown,
    Stats,
    StatsReport,
    Stopping,
    Welcome,
)
from media.workers.server import WorkerServer, stream_limit

log = logging.getLogger(__name__)

# The spike (research/sfu-spike/REPORT.md §2.2, §5): ingest stalls under keyframe bursts drop
# UDP packets at the default buffer; 4 MiB absorbed them. One asyncio worker stays stable to
# about 40 subscribers at <= 50% of a core.
DEFAULT_UDP_RCVBUF = 4 * 1024 * 1024
DEFAULT_CAPACITY = 40
# The private directory a supervisor makes for its workers' sockets (tempfile prefix).
SOCKET_DIR_PREFIX = "seminar-sfu-"


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    control_socket: Path | None = None  # a Unix socket path, or
    control_host: str | None = None  # TCP host and port
    control_port: int = 0
    capacity: int = DEFAULT_CAPACITY
    udp_rcvbuf: int = DEFAULT_UDP_RCVBUF
    exit_on_stdin_eof: bool = False
    version: str = "unknown"
    control_token: str | None = None  # required on a TCP channel off loopback


TOKEN_ENV = "SEMINAR_SFU_CONTROL_TOKEN"  # noqa: S105 -- the variable's name, not a secret
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_control_access(config: WorkerConfig) -> None:
    """A control channel others can reach must authenticate: TCP off loopback needs a token
    (a Unix socket is guarded by its directory's permissions)."""
    reachable = config.control_socket is None and config.control_host not in _LOOPBACK
    if reachable and not config.control_token:
        raise ValueError(
            f"a control channel on {config.control_host} needs a token: set {TOKEN_ENV}"
        )


def raise_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a ``size``-byte SO_RCVBUF on ``sock`` and return what the kernel granted.

    Linux caps the request at ``net.core.rmem_max`` (then doubles it for bookkeeping); as root
    SO_RCVBUFFORCE goes past the cap. Every media socket the forwarding core opens goes
    through here.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if force is not None and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def probe_receive_buffer(size: int) -> int:
    """The SO_RCVBUF a media socket of this worker gets for a ``size`` request."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return raise_receive_buffer(sock, size)


@dataclass
class WorkerContext:
    """What one running worker shares with the request handlers plugged into it."""

    config: WorkerConfig
    server: WorkerServer = field(default_factory=WorkerServer)
    udp_rcvbuf: int = 0  # granted, see probe_receive_buffer
    sessions: Callable[[], int] = lambda: 0  # the forwarding core replaces this
    stop_reason: Literal["signal", "shutdown", "parent_gone"] | None = None
    started: float = field(default_factory=time.monotonic)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)
    _cpu_mark: tuple[float, float] = field(default_factory=lambda: (time.monotonic(), _cpu()))

    def stop(self, reason: Literal["signal", "shutdown", "parent_gone"]) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:  # Linux
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # elsewhere: the peak, in KiB on Linux/BSD, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def install_builtin_handlers(ctx: WorkerContext) -> None:
    config = ctx.config

    async def hello(request: Hello) -> Welcome:
        if request.protocol != PROTOCOL_VERSION:
            raise ProtocolError(
                "protocol_mismatch",
                f"this worker speaks protocol {PROTOCOL_VERSION}, not {request.protocol}",
            )
        return Welcome(
            worker_id=config.worker_id,
            pid=os.getpid(),
            version=config.version,
            protocol=PROTOCOL_VERSION,
            capacity=config.capacity,
            udp_rcvbuf=ctx.udp_rcvbuf,
        )

    async def ping(request: Ping) -> Pong:
        return Pong()

    async def stats(request: Stats) -> StatsReport:
        now, cpu = time.monotonic(), _cpu()
        then, cpu_then = ctx._cpu_mark
        ctx._cpu_mark = (now, cpu)
        percent = 100.0 * (cpu - cpu_then) / (now - then) if now > then else 0.0
        return StatsReport(
            cpu_percent=max(percent, 0.0),
            rss_bytes=await asyncio.to_thread(_rss_bytes),
            sessions=ctx.sessions(),
            uptime=now - ctx.started,
        )

    async def shutdown(request: Shutdown) -> ShuttingDown:
        ctx.stop("shutdown")
        return ShuttingDown()

    ctx.server.register(Hello, hello)
    ctx.server.register(Ping, ping)
    ctx.server.register(Stats, stats)
    ctx.server.register(Shutdown, shutdown)


async def _watch_stdin(ctx: WorkerContext) -> None:
    """Stop the worker when stdin reaches EOF: the parent closed it or died."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
        )
    except (OSError, ValueError) as exc:  # e.g. a regular file: no end to wait for
        log.error("sfu worker %s cannot watch its stdin: %s", ctx.config.worker_id, exc)
        return
    try:
        while await reader.read(4096):
            pass  # nothing is sent on stdin; its end is the message
    finally:
        transport.close()
    log.info("sfu worker %s: stdin closed, the parent is gone", ctx.config.worker_id)
    ctx.stop("parent_gone")


async def run_worker(
    config: WorkerConfig, *, setup: Callable[[WorkerContext], None] | None = None
) -> str:
    """Run a worker until it is told to stop; return why it stopped.

    ``setup`` (the forwarding core's entry point) runs after the built-in handlers are in
    place and before the control channel opens: it registers more handlers on ``ctx.server``
    and sets ``ctx.sessions``.
    """
    ctx = WorkerContext(config, server=WorkerServer(token=config.control_token))
    ctx.udp_rcvbuf = probe_receive_buffer(config.udp_rcvbuf)
    if ctx.udp_rcvbuf < config.udp_rcvbuf:
        log.warning(
            "sfu worker %s: asked for a %d-byte UDP receive buffer, got %d; raise "
            "net.core.rmem_max (sysctl) or packets will drop under load",
            config.worker_id,
            config.udp_rcvbuf,
            ctx.udp_rcvbuf,
        )
    install_builtin_handlers(ctx)
    if setup is not None:
        setup(ctx)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, ctx.stop, "signal")
    if config.control_socket is not None:
        path = config.control_socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale socket from a killed predecessor
        listener = await asyncio.start_unix_server(
            ctx.server.serve_connection, path=str(path), limit=stream_limit()
        )
        path.chmod(0o600)
        where = str(path)
    else:
        listener = await asyncio.start_server(
            ctx.server.serve_connection,
            host=config.control_host or "127.0.0.1",
            port=config.control_port,
            limit=stream_limit(),
        )
        host, port = listener.sockets[0].getsockname()[:2]
        where = f"{host}:{port}"
    watcher = asyncio.create_task(_watch_stdin(ctx)) if config.exit_on_stdin_eof else None
    log.info("sfu worker %s (pid %d) listening on %s", config.worker_id, os.getpid(), where)
    try:
        await ctx.wait_stopped()
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        listener.close()
        reason = ctx.stop_reason or "signal"
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await ctx.server.broadcast(Stopping(reason=reason))
        ctx.server.close_connections()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                await listener.wait_closed()
        if config.control_socket is not None:
            with contextlib.suppress(FileNotFoundError):
                config.control_socket.unlink()
            if reason == "parent_gone" and config.control_socket.parent.name.startswith(
                SOCKET_DIR_PREFIX
            ):
                # The supervisor died without removing its directory: the last worker out does.
                with contextlib.suppress(OSError):
                    config.control_socket.parent.rmdir()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("sfu worker %s stopped (%s)", config.worker_id, reason)
    return reason
