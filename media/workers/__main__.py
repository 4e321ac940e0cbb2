"""``python -m media.workers``: the SFU worker as ``seminar serve`` starts it.

The same worker as ``seminar sfu-worker``, without importing the web server (3 s and 120 MB of
imports a worker does not need). Logs go to stderr, one JSON object per line with
``--log-format json`` (the server's shape: ``event``, ``level``, ``logger``, ``timestamp``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from media.workers.media_host import MediaHost, MediaOptions
from media.workers.worker import (
    DEFAULT_CAPACITY,
    DEFAULT_UDP_RCVBUF,
    TOKEN_ENV,
    WorkerConfig,
    check_control_access,
    run_worker,
)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def package_version() -> str:
    try:
        return version("seminar")
    except PackageNotFoundError:
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m media.workers", description=__doc__)
    parser.add_argument("--worker-id", required=True)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--control-socket", type=Path, help="Unix socket to listen on")
    where.add_argument("--control-host", help="TCP interface to listen on")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--capacity", type=int, default=DEFAULT_CAPACITY)
    parser.add_argument("--udp-rcvbuf", type=int, default=DEFAULT_UDP_RCVBUF)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument(
        "--ice-servers",
        default=os.environ.get("SEMINAR_SFU_ICE_SERVERS", "[]"),
        help="JSON list of RTCIceServer objects for the worker's transports (default "
        "$SEMINAR_SFU_ICE_SERVERS, else []: host candidates only)",
    )
    parser.add_argument(
        "--media-address",
        action="append",
        dest="media_addresses",
        help="gather host candidates on this address only (repeatable; default: every "
        "interface but loopback)",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", choices=["json", "console"], default="json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    config = WorkerConfig(
        worker_id=args.worker_id,
        control_socket=args.control_socket,
        control_host=args.control_host,
        control_port=args.control_port,
        capacity=args.capacity,
        udp_rcvbuf=args.udp_rcvbuf,
        exit_on_stdin_eof=args.exit_on_stdin_eof,
        version=package_version(),
        # From the environment, not argv: a command line is visible to every local user.
        control_token=os.environ.get(TOKEN_ENV) or None,
    )
    try:
        check_control_access(config)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    try:
        options = MediaOptions.parse(args.ice_servers, args.media_addresses)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    try:
        import uvloop  # optional, as for `seminar serve`
    except ImportError:
        asyncio.run(serve(config, options))
    else:
        uvloop.run(serve(config, options))


async def serve(config: WorkerConfig, options: MediaOptions) -> str:
    """A worker hosting a Router; its transports are closed once it has stopped."""
    host = MediaHost(options)
    try:
        return await run_worker(config, setup=host.install)
    finally:
        await host.close()


if __name__ == "__main__":
    main()
