"""Worker pipes through the control messages: an aiortc publisher on worker A, its tracks piped
to worker B (``media.workers.piping``), aiortc subscribers on B decoding the publisher's frames.

Two MediaHosts in this process (their state inspected), then two real worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aioice.ice
import pytest

from media.workers import piping
from media.workers.client import WorkerClient, WorkerError
from media.workers.media_host import MediaHost, MediaOptions
from media.workers.media_messages import (
    ClosePipe,
    PipeReceive,
    PipeSend,
    PipeTrack,
    PipeTracks,
    Speaker,
    TrackEnded,
    TrackPublished,
    Unpublish,
    Unpublished,
)
from media.workers.protocol import Request
from media.workers.worker import WorkerConfig, WorkerContext, install_builtin_handlers
from tests.media.workers.conftest import connect, worker_process
from tests.media.workers.test_media_host import (
    Events,
    Publisher,
    Viewer,
    Worker,
    closing,
    publish,
    subscribe,
)


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@contextlib.asynccontextmanager
async def media_host(sock_dir: Path, name: str) -> AsyncIterator[tuple[Worker, MediaHost]]:
    """A MediaHost served on a Unix socket in this process (as ``run_worker`` serves it)."""
    host = MediaHost(MediaOptions(host_addresses=["127.0.0.1"]))
    ctx = WorkerContext(WorkerConfig(worker_id=name))
    install_builtin_handlers(ctx)
    host.install(ctx)
    path = sock_dir / f"{name}.sock"
    server = await asyncio.start_unix_server(ctx.server.serve_connection, path=str(path))
    events = Events()
    client = await connect(path, events)
    try:
        yield Worker(client, events), host
    finally:
        await client.close()
        server.close()
        ctx.server.close_connections()
        await server.wait_closed()
        await host.close()


def assert_in_order(viewer: Viewer, publisher: Publisher) -> None:
    numbers = viewer.numbers
    assert numbers, "no frame decoded"
    assert all(0 <= n < publisher.video.count for n in numbers), numbers
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers


async def code_of(client: WorkerClient, request: Request) -> str:
    with pytest.raises(WorkerError) as error:
        await client.request(request, timeout=20)
    return error.value.code


async def test_tracks_piped_between_two_media_hosts_reach_the_second_hosts_subscribers(
    sock_dir: Path,
) -> None:
    async with media_host(sock_dir, "a") as (a, host_a), media_host(sock_dir, "b") as (b, host_b):
        publisher = await publish(a)
        async with closing(publisher):
            pipe = await piping.open_pipe(
                a.client, b.client, "pipe-1", ["cam-1", "mic-1"], host="127.0.0.1"
            )
            assert (pipe.host, pipe.track_ids) == ("127.0.0.1", ["cam-1", "mic-1"])
            camera, microphone = pipe.tracks["cam-1"], pipe.tracks["mic-1"]
            assert (camera.kind, camera.mime_type, camera.clock_rate) == (
                "camera",
                "video/VP8",
                90_000,
            )
            assert camera.rtx_payload_type is not None
            assert (microphone.mime_type, microphone.clock_rate, microphone.channels) == (
                "audio/opus",
                48_000,
                2,
            )
            assert any(e.uri.endswith("ssrc-audio-level") for e in microphone.header_extensions)
            for track_id, kind in (("cam-1", "camera"), ("mic-1", "microphone")):
                published = TrackPublished(track_id=track_id, kind=kind, transport_id="pipe-1")
                await b.events.wait_for(lambda e, p=published: e == p)  # type: ignore[misc]
            assert set(host_b.tracks) == {"cam-1", "mic-1"}
            assert host_b.transports == {}  # a pipe is no transport

            # B's subscribers decode the publisher's frames; A forwards to nobody
            first = await subscribe(b, "sub-1", ["cam-1", "mic-1"])
            async with closing(first):
                await first.until(lambda: len(first.numbers) >= 45 and first.audio_frames >= 50)
                assert_in_order(first, publisher)
                origin_video = host_a.tracks["cam-1"].publication
                assert origin_video.subscriptions == ()
                sending = host_a.pipes.sending["pipe-1"].sender
                assert sending.sent > 0
                assert sending.dropped == 0

                # a late subscriber on B: its keyframe request goes back through the pipe to A,
                # whose publisher is asked (aiortc's VP8 makes no keyframe on its own for 100 s)
                piped_back = sending.keyframe_requests
                asked = origin_video.keyframe_requester.sent
                late = await subscribe(b, "sub-2", ["cam-1"])
                async with closing(late):
                    await late.until(lambda: len(late.numbers) >= 10, within=10)
                    assert_in_order(late, publisher)
                    assert late.numbers[0] > first.numbers[0]
                    assert sending.keyframe_requests > piped_back
                    assert origin_video.keyframe_requester.sent > asked

                    # the speaker is decided on the origin only
                    await a.events.wait_for(lambda e: e == Speaker(track_id="mic-1"))
                    assert not [e for e in b.events if isinstance(e, Speaker)]

                    # the publisher stops its camera: A stops piping it, then the control plane
                    # unpublishes it on B, which ends it for B's subscribers
                    await a.client.call(Unpublish(track_id="cam-1"), Unpublished)
                    piped_video = host_b.tracks["cam-1"].publication
                    received = piped_video.received
                    heard = first.audio_frames
                    await first.until(lambda: first.audio_frames >= heard + 25)
                    assert piped_video.received == received
                    await b.client.call(Unpublish(track_id="cam-1"), Unpublished)
                    await b.events.wait_for(
                        lambda e: e == TrackEnded(track_id="cam-1", reason="unpublished")
                    )
                    for viewer in (first, late):
                        await viewer.until(lambda v=viewer: "video" in v.ended, within=10)  # type: ignore[misc]
                    assert "audio" not in first.ended

                    # closing the pipe ends its remaining tracks on B
                    assert await piping.close(pipe) == ["mic-1"]
                    await b.events.wait_for(
                        lambda e: e == TrackEnded(track_id="mic-1", reason="transport_closed")
                    )
                    assert host_b.tracks == {}
                    assert host_a.pipes.sending == {}
                    assert host_b.pipes.receiving == {}
                    assert "mic-1" in host_a.tracks  # the origin's track is untouched


async def test_pipe_requests_are_checked_and_a_pipe_takes_more_tracks(sock_dir: Path) -> None:
    async with media_host(sock_dir, "a") as (a, _), media_host(sock_dir, "b") as (b, host_b):
        publisher = await publish(a)
        async with closing(publisher):
            pipe = await piping.open_pipe(a.client, b.client, "p", ["cam-1"], host="127.0.0.1")
            assert await code_of(b.client, PipeReceive(pipe_id="p")) == "pipe_exists"
            assert await code_of(b.client, PipeTracks(pipe_id="q", tracks=[])) == "pipe_not_found"
            assert await code_of(b.client, ClosePipe(pipe_id="q")) == "pipe_not_found"
            unknown = PipeSend(pipe_id="p", host=pipe.host, port=pipe.port, track_ids=["nope"])
            assert await code_of(a.client, unknown) == "track_not_found"
            elsewhere = PipeSend(pipe_id="p", host=pipe.host, port=1, track_ids=["cam-1"])
            assert await code_of(a.client, elsewhere) == "pipe_exists"
            bad_host = PipeSend(pipe_id="r", host="not-an-ip", port=9, track_ids=["cam-1"])
            assert await code_of(a.client, bad_host) == "pipe_address"
            bad_bind = PipeReceive(pipe_id="r", host="192.0.2.1")  # not an address of ours
            assert await code_of(b.client, bad_bind) == "pipe_address"
            # the wrong media for a kind, and a codec the SFU does not forward
            camera = pipe.tracks["cam-1"]
            as_audio = camera.model_copy(
                update={"track_id": "x", "channel": 7, "kind": "microphone"}
            )
            assert await code_of(b.client, PipeTracks(pipe_id="p", tracks=[as_audio])) == (
                "sdp_invalid"
            )
            pcmu = PipeTrack(
                track_id="y",
                kind="microphone",
                channel=8,
                mime_type="audio/PCMU",
                clock_rate=8000,
                payload_type=0,
            )
            assert await code_of(b.client, PipeTracks(pipe_id="p", tracks=[pcmu])) == (
                "unsupported_codec"
            )
            rtx = pcmu.model_copy(update={"mime_type": "audio/rtx", "clock_rate": 48_000})
            assert await code_of(b.client, PipeTracks(pipe_id="p", tracks=[rtx])) == "sdp_invalid"
            assert set(host_b.tracks) == {"cam-1"}  # nothing half-made was kept
            assert set(host_b.pipes.receiving["p"].receiver.sources) == {camera.channel}

            # again on the open pipe: the microphone is added, the camera is left as it is
            piped_camera = host_b.tracks["cam-1"].publication
            assert await piping.add_tracks(pipe, ["cam-1", "mic-1"]) == ["cam-1", "mic-1"]
            assert pipe.tracks["cam-1"] == camera
            assert host_b.tracks["cam-1"].publication is piped_camera
            viewer = await subscribe(b, "sub", ["cam-1", "mic-1"])
            async with closing(viewer):
                await viewer.until(lambda: len(viewer.numbers) >= 10 and viewer.audio_frames >= 10)
                assert_in_order(viewer, publisher)
            # a piped track unpublished on B (not at the origin) can be added again
            await b.client.call(Unpublish(track_id="mic-1"), Unpublished)
            await piping.add_tracks(pipe, ["mic-1"])
            assert "mic-1" in host_b.tracks
            assert await piping.close(pipe) == ["cam-1", "mic-1"]


async def test_two_worker_processes_pipe_and_the_target_survives_the_origin(
    sock_dir: Path,
) -> None:
    address = ("--media-address", "127.0.0.1")
    async with (
        worker_process(sock_dir, *address, worker_id="origin") as (origin_process, origin_path),
        worker_process(sock_dir, *address, worker_id="target") as (_, target_path),
    ):
        a = Worker(await connect(origin_path, Events()), Events())
        b_events = Events()
        b = Worker(await connect(target_path, b_events), b_events)
        try:
            await a.client.hello(timeout=20)
            await b.client.hello(timeout=20)
            publisher = await publish(a)
            async with closing(publisher):
                pipe = await piping.open_pipe(
                    a.client, b.client, "pipe-x", ["cam-1", "mic-1"], host="127.0.0.1", timeout=20
                )
                published = TrackPublished(track_id="cam-1", kind="camera", transport_id="pipe-x")
                await b.events.wait_for(lambda e: e == published)
                viewer = await subscribe(b, "sub-1", ["cam-1", "mic-1"])
                async with closing(viewer):
                    await viewer.until(
                        lambda: len(viewer.numbers) >= 30 and viewer.audio_frames >= 30
                    )
                    assert_in_order(viewer, publisher)

                    # the origin dies: the target keeps serving, its piped tracks go silent
                    origin_process.send_signal(signal.SIGKILL)
                    await origin_process.wait()
                    await asyncio.sleep(0.5)
                    frames = len(viewer.numbers)
                    await asyncio.sleep(1.0)
                    assert len(viewer.numbers) <= frames + 1  # one in the jitter buffer at most
                    await b.client.ping(timeout=5)
                    await b.client.call(Unpublish(track_id="cam-1"), Unpublished, timeout=5)
                    await b.events.wait_for(
                        lambda e: e == TrackEnded(track_id="cam-1", reason="unpublished")
                    )
                    # closing skips the dead origin and ends the rest on the target
                    assert await piping.close(pipe, timeout=5) == ["mic-1"]
                    stats = await b.client.stats()
                    assert stats.sessions == 1  # the subscriber's transport
        finally:
            await a.client.close()
            await b.client.close()
