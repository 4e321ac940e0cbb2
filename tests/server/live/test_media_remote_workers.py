"""A node without local SFU workers driving a ``seminar sfu-worker``-style worker over TCP
(``SEMINAR_SFU_REMOTE_WORKERS`` + ``SEMINAR_SFU_CONTROL_TOKEN``): the host's camera reaches a
student through it; when it is killed everyone is told to restart, and once a worker answers
at that address again the restarted transports carry video again. A worker that refuses the
token is never used."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest

from lms_core.accounts.models import Role
from tests.media.workers.conftest import child_env
from tests.server.live.harness import Sock, World
from tests.server.live.media_peer import (
    Publisher,
    Subscriber,
    data_of,
    eventually,
    media_call,
    problem_code,
)

pytestmark = pytest.mark.timeout(180)

TOKEN = "a-long-shared-secret-for-the-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def remote_worker(port: int, token: str = TOKEN) -> AsyncIterator[asyncio.subprocess.Process]:
    """A worker listening for its control plane on TCP, as ``seminar sfu-worker`` runs."""
    env = {k: v for k, v in child_env().items() if not k.startswith("SEMINAR_")}
    env["SEMINAR_SFU_CONTROL_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.workers",
        "--worker-id",
        "remote-1",
        "--control-host",
        "127.0.0.1",
        "--control-port",
        str(port),
        "--log-format",
        "console",
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _room(world: World) -> tuple[Sock, Sock]:
    host = await world.person("host", Role.INSTRUCTOR)
    pupil = await world.person("pupil")
    live_id = await world.live_session(host, "pupil")
    host_sock, pupil_sock = await world.join(host, live_id), await world.join(pupil, live_id)
    for sock in (host_sock, pupil_sock):
        data_of(await sock.call("join"))
    return host_sock, pupil_sock


async def _publish_when_a_worker_answers(publisher: Publisher, *, restart: bool) -> list[str]:
    """The remote pool connects in the background: retry while media is unavailable."""
    async with asyncio.timeout(30):
        while True:
            offer = await publisher.offer(audio=False)
            ack = await media_call(publisher.sock, "media:publish", {**offer, "restart": restart})
            if ack["ok"]:
                await publisher.apply_answer(ack["data"])
                return [t["track_id"] for t in ack["data"]["tracks"]]
            assert problem_code(ack) == "media_unavailable"
            await asyncio.sleep(0.2)


async def test_media_through_a_remote_worker_survives_its_death(world: World) -> None:
    port = _free_port()
    await world.servers.pop(0).close()
    await world.start_server(
        sfu_workers=0, sfu_remote_workers=[f"127.0.0.1:{port}"], sfu_control_token=TOKEN
    )
    host_sock, pupil_sock = await _room(world)
    publisher, subscriber = Publisher(host_sock), Subscriber(pupil_sock)
    try:
        async with remote_worker(port) as worker:
            track_ids = await _publish_when_a_worker_answers(publisher, restart=False)
            await subscriber.subscribe(track_ids)
            await subscriber.frames_after(15)
            worker.send_signal(signal.SIGKILL)
            await eventually(lambda: len(host_sock.of("media:restart")) == 1)
            assert host_sock.of("media:restart")[0]["reason"] == "worker_lost"
            await eventually(lambda: len(pupil_sock.of("media:restart")) == 1)

        async with remote_worker(port):  # the operator brings it back
            again = await _publish_when_a_worker_answers(publisher, restart=True)
            assert again == track_ids
            before = len(subscriber.numbers)
            await eventually(lambda: bool(data_of_tracks(pupil_sock)))
            await subscriber.subscribe(again, restart=True)
            await eventually(lambda: len(subscriber.numbers) >= before + 15)
    finally:
        await subscriber.close()
        await publisher.close()


def data_of_tracks(sock: Sock) -> list[object]:
    seen = sock.of("media:tracks")
    return max(seen, key=lambda d: d["version"])["tracks"] if seen else []


async def test_a_worker_that_refuses_the_token_is_never_used(world: World) -> None:
    port = _free_port()
    await world.servers.pop(0).close()
    await world.start_server(
        sfu_workers=0, sfu_remote_workers=[f"127.0.0.1:{port}"], sfu_control_token=TOKEN
    )
    host_sock, _ = await _room(world)
    publisher = Publisher(host_sock)
    try:
        async with remote_worker(port, token="another-secret-entirely-here"):
            await asyncio.sleep(3)  # several connection attempts, each refused
            ack = await media_call(host_sock, "media:publish", await publisher.offer())
            assert problem_code(ack) == "media_unavailable"
    finally:
        await publisher.close()
