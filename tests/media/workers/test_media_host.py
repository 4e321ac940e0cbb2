"""A real SFU worker process driven over its control channel: aiortc publisher -> worker ->
aiortc subscribers, all on loopback (the worker gathers on 127.0.0.1 via --media-address)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.workers import media_messages
from media.workers.client import WorkerClient, WorkerError
from media.workers.media_messages import (
    AnswerApplied,
    Candidate,
    CandidateAdded,
    ClosePipe,
    CloseTransport,
    HeaderExtension,
    IceCandidate,
    PipeReceive,
    PipeSend,
    PipeTrack,
    PipeTracks,
    Publish,
    PublishAnswer,
    Speaker,
    Subscribe,
    SubscribeAnswer,
    SubscribeOffer,
    TrackEnded,
    TrackKind,
    TrackPublished,
    TrackSpec,
    TransportClosed,
    TransportState,
    Unpublish,
    Unpublished,
    Unsubscribe,
)
from media.workers.protocol import (
    REQUESTS,
    Event,
    ProtocolError,
    Request,
    decode_incoming,
    decode_request,
    encode,
)
from tests.media.sfu.loopback import (
    NumberedVideoTrack,
    ToneAudioTrack,
    make_pc,
    read_frame_number,
)
from tests.media.workers.conftest import child_env, connect, worker_process


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


class Events(list[Event]):
    """The worker's events as they arrive (``connect`` appends them), waitable."""

    def __init__(self) -> None:
        super().__init__()
        self._arrived = asyncio.Event()

    @property
    def seen(self) -> list[Event]:
        return self

    def append(self, event: Event) -> None:
        super().append(event)
        self._arrived.set()

    async def wait_for(self, match: Callable[[Event], bool], within: float = 10) -> Event:
        async with asyncio.timeout(within):
            while True:
                for event in self.seen:
                    if match(event):
                        return event
                self._arrived.clear()
                await self._arrived.wait()


@dataclass
class Worker:
    client: WorkerClient
    events: Events


@pytest.fixture
async def worker(sock_dir: Path) -> AsyncIterator[Worker]:
    async with worker_process(sock_dir, "--media-address", "127.0.0.1") as (_, path):
        events = Events()
        client = await connect(path, events)
        await client.hello(timeout=20)
        try:
            yield Worker(client, events)
        finally:
            await client.close()


@dataclass
class Publisher:
    pc: RTCPeerConnection
    video: NumberedVideoTrack
    answer: PublishAnswer


async def publish(
    worker: Worker,
    transport_id: str = "pub-1",
    *,
    audio: bool = True,
    video: tuple[str, TrackKind] = ("cam-1", "camera"),
    mic: str = "mic-1",
    group: str | None = None,
) -> Publisher:
    pc = make_pc()
    numbered = NumberedVideoTrack()
    transceiver = pc.addTransceiver(numbered, direction="sendonly")
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [next(c for c in capabilities if c.mimeType == m) for m in ("video/VP8", "video/rtx")]
    )
    if audio:
        pc.addTransceiver(ToneAudioTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    mids = {t.kind: t.mid or "" for t in pc.getTransceivers()}
    tracks = [TrackSpec(track_id=video[0], kind=video[1], mid=mids["video"])]
    if audio:
        tracks.append(TrackSpec(track_id=mic, kind="microphone", mid=mids["audio"]))
    sdp = pc.localDescription.sdp
    answer = await worker.client.call(
        Publish(transport_id=transport_id, sdp=sdp, tracks=tracks, group=group),
        PublishAnswer,
        timeout=20,
    )
    await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
    return Publisher(pc, numbered, answer)


@dataclass
class Viewer:
    pc: RTCPeerConnection
    offer: SubscribeOffer
    numbers: list[int] = field(default_factory=list)
    audio_frames: int = 0
    ended: set[str] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def until(self, done: Callable[[], bool], within: float = 20) -> None:
        async with asyncio.timeout(within):
            while not done():
                self.progress.clear()
                await self.progress.wait()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def subscribe(worker: Worker, transport_id: str, track_ids: list[str]) -> Viewer:
    offer = await worker.client.call(
        Subscribe(transport_id=transport_id, track_ids=track_ids), SubscribeOffer, timeout=20
    )
    viewer = Viewer(make_pc(), offer)
    loop = asyncio.get_running_loop()

    async def consume(track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                viewer.ended.add(track.kind)
                viewer.progress.set()
                return
            if isinstance(frame, VideoFrame):
                viewer.numbers.append(read_frame_number(frame))
            elif isinstance(frame, AudioFrame):
                viewer.audio_frames += 1
            viewer.progress.set()

    @viewer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        viewer.tasks.append(loop.create_task(consume(track)))

    await answer_offer(worker, viewer, offer)
    return viewer


async def answer_offer(worker: Worker, viewer: Viewer, offer: SubscribeOffer) -> None:
    viewer.offer = offer
    await viewer.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
    await viewer.pc.setLocalDescription(await viewer.pc.createAnswer())
    await worker.client.call(
        SubscribeAnswer(transport_id=offer.transport_id, sdp=viewer.pc.localDescription.sdp),
        AnswerApplied,
        timeout=20,
    )


def m_line_directions(sdp: str) -> list[str]:
    directions = ("sendonly", "recvonly", "sendrecv", "inactive")
    sections = sdp.split("\r\nm=")[1:]
    return [next(d for d in directions if f"a={d}" in section) for section in sections]


@contextlib.asynccontextmanager
async def closing(*pcs: Publisher | Viewer) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for peer in pcs:
            if isinstance(peer, Viewer):
                await peer.close()
            else:
                await peer.pc.close()


async def test_publish_then_two_subscribers_decode_the_publishers_frames_in_order(
    worker: Worker,
) -> None:
    publisher = await publish(worker)
    async with closing(publisher):
        assert [(t.track_id, t.kind, t.codec) for t in publisher.answer.tracks] == [
            ("cam-1", "camera", "video/VP8"),
            ("mic-1", "microphone", "audio/opus"),
        ]
        assert "a=candidate:" in publisher.answer.sdp  # gathered before answering
        await worker.events.wait_for(
            lambda e: isinstance(e, TrackPublished) and e.track_id == "mic-1"
        )
        published = [e for e in worker.events if isinstance(e, TrackPublished)]
        assert published == [
            TrackPublished(track_id="cam-1", kind="camera", transport_id="pub-1"),
            TrackPublished(track_id="mic-1", kind="microphone", transport_id="pub-1"),
        ]
        first = await subscribe(worker, "sub-1", ["cam-1", "mic-1"])
        second = await subscribe(worker, "sub-2", ["cam-1"])
        async with closing(first, second):
            assert [t.track_id for t in first.offer.tracks] == ["cam-1", "mic-1"]
            for viewer in (first, second):
                await viewer.until(lambda v=viewer: len(v.numbers) >= 30)  # type: ignore[misc]
                numbers = viewer.numbers
                assert all(0 <= n < publisher.video.count for n in numbers), numbers
                # whole frames, in order, none twice: the publisher's own stream
                assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
            await first.until(lambda: first.audio_frames >= 25)
            await worker.events.wait_for(
                lambda e: (
                    isinstance(e, TransportState)
                    and e.transport_id == "sub-2"
                    and e.state == "connected"
                )
            )
            stats = await worker.client.stats()
            assert stats.sessions == 3  # one publish and two subscribe transports

            # unpublish: the track ends for the control plane and for both subscribers
            reply = await worker.client.call(Unpublish(track_id="cam-1"), Unpublished)
            assert reply.track_id == "cam-1"
            ended = await worker.events.wait_for(lambda e: isinstance(e, TrackEnded))
            assert ended == TrackEnded(track_id="cam-1", reason="unpublished")
            for viewer in (first, second):
                await viewer.until(lambda v=viewer: "video" in v.ended, within=10)  # type: ignore[misc]
            assert "audio" not in first.ended  # the microphone is still forwarded
            heard = first.audio_frames
            await first.until(lambda: first.audio_frames >= heard + 10)

            with pytest.raises(WorkerError) as unknown:
                await worker.client.call(Unpublish(track_id="cam-1"), Unpublished)
            assert unknown.value.code == "track_not_found"
            closed = await worker.client.call(CloseTransport(transport_id="pub-1"), TransportClosed)
            assert closed.track_ids == ["mic-1"]
            await worker.events.wait_for(
                lambda e: e == TrackEnded(track_id="mic-1", reason="transport_closed")
            )
            assert (await worker.client.stats()).sessions == 2


async def test_bad_requests_get_error_replies_and_the_worker_keeps_serving(
    worker: Worker,
) -> None:
    async def code_of(request: Request) -> str:
        with pytest.raises(WorkerError) as error:
            await worker.client.request(request, timeout=20)
        return error.value.code

    async def audio_offer(pc: RTCPeerConnection, *codecs: str) -> tuple[str, str]:
        transceiver = pc.addTransceiver(ToneAudioTrack(), direction="sendonly")
        if codecs:
            capabilities = RTCRtpSender.getCapabilities("audio").codecs
            transceiver.setCodecPreferences([c for c in capabilities if c.mimeType in codecs])
        await pc.setLocalDescription(await pc.createOffer())
        assert transceiver.mid is not None
        return pc.localDescription.sdp, transceiver.mid

    pc, pcmu_pc = make_pc(), make_pc()
    try:
        camera = [TrackSpec(track_id="cam-x", kind="camera", mid="0")]
        bad = Publish(transport_id="p", sdp="not an sdp", tracks=camera)
        assert await code_of(bad) == "sdp_invalid"
        # a real offer whose listed tracks do not match its sending m-lines
        offer, mid = await audio_offer(pc)
        assert await code_of(Publish(transport_id="p", sdp=offer, tracks=camera)) == "sdp_invalid"
        # PCMU only: a codec the SFU does not forward
        pcmu_offer, pcmu_mid = await audio_offer(pcmu_pc, "audio/PCMU")
        pcmu = [TrackSpec(track_id="mic-x", kind="microphone", mid=pcmu_mid)]
        assert await code_of(Publish(transport_id="p", sdp=pcmu_offer, tracks=pcmu)) == (
            "unsupported_codec"
        )
        assert await code_of(Subscribe(transport_id="s", track_ids=["nope"])) == "track_not_found"
        assert await code_of(SubscribeAnswer(transport_id="s", sdp=offer)) == "transport_not_found"
        assert await code_of(CloseTransport(transport_id="s")) == "transport_not_found"
        candidate = Candidate(candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid=mid)
        unknown = IceCandidate(transport_id="s", candidate=candidate)
        assert await code_of(unknown) == "transport_not_found"
        assert (await worker.client.stats()).sessions == 0  # nothing half-made was kept

        # and it still serves: the same offer with the right track list is answered
        mic = [TrackSpec(track_id="mic-y", kind="microphone", mid=mid)]
        answer = await worker.client.call(
            Publish(transport_id="p", sdp=offer, tracks=mic), PublishAnswer, timeout=20
        )
        await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        assert (await worker.client.stats()).sessions == 1
        # remote candidates: a well-formed one is added, a garbled one refused
        added = await worker.client.call(
            IceCandidate(transport_id="p", candidate=candidate), CandidateAdded
        )
        assert added.transport_id == "p"
        garbled = Candidate(candidate="candidate:garbage", sdpMid=mid)
        assert await code_of(IceCandidate(transport_id="p", candidate=garbled)) == "sdp_invalid"
        await worker.client.call(IceCandidate(transport_id="p", candidate=None), CandidateAdded)
    finally:
        await pc.close()
        await pcmu_pc.close()


async def test_speaker_events_follow_the_publishers_audio_level(worker: Worker) -> None:
    # aiortc's sender puts the RFC 6464 level on each Opus packet (rtcrtpsender.py); the tone
    # is about -12 dBov, well over the detector's -50 dBov threshold.
    publisher = await publish(worker)
    async with closing(publisher):
        started = asyncio.get_running_loop().time()
        speaker = await worker.events.wait_for(lambda e: isinstance(e, Speaker), within=10)
        assert speaker == Speaker(track_id="mic-1")
        print(f"speaker after {asyncio.get_running_loop().time() - started:.2f} s")
        await worker.client.call(Unpublish(track_id="mic-1"), Unpublished)
        await worker.events.wait_for(lambda e: e == Speaker(track_id=None), within=5)


async def test_each_speaker_group_has_its_own_active_speaker(worker: Worker) -> None:
    # Two rooms on one worker, someone speaking in each: neither masks the other.
    room_a = await publish(worker, "pub-a", video=("cam-a", "camera"), mic="mic-a", group="A")
    room_b = await publish(worker, "pub-b", video=("cam-b", "camera"), mic="mic-b", group="B")
    async with closing(room_a, room_b):
        for group in ("A", "B"):  # one shared detector would only ever name the louder one
            expected = Speaker(track_id=f"mic-{group.lower()}", group=group)
            await worker.events.wait_for(lambda e, x=expected: e == x, within=10)  # type: ignore[misc]
        await worker.client.call(Unpublish(track_id="mic-a"), Unpublished)
        await worker.events.wait_for(lambda e: e == Speaker(track_id=None, group="A"), within=5)
        assert Speaker(track_id=None, group="B") not in worker.events.seen


def test_every_media_message_round_trips_through_its_frame() -> None:
    candidate = Candidate(candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMLineIndex=0)
    requests: list[Request] = [
        Publish(
            transport_id="t", sdp="v=0", tracks=[TrackSpec(track_id="a", kind="screen", mid="2")]
        ),
        Subscribe(transport_id="t", track_ids=["a", "b"]),
        Unsubscribe(transport_id="t", track_ids=["a"]),
        SubscribeAnswer(transport_id="t", sdp="v=0"),
        IceCandidate(transport_id="t", candidate=candidate),
        IceCandidate(transport_id="t", candidate=None),
        Unpublish(track_id="a"),
        CloseTransport(transport_id="t"),
        PipeReceive(pipe_id="p"),
        PipeSend(pipe_id="p", host="127.0.0.1", port=5000, track_ids=["a"]),
        PipeTracks(
            pipe_id="p",
            tracks=[
                PipeTrack(
                    track_id="a",
                    kind="camera",
                    channel=0,
                    mime_type="video/H264",
                    clock_rate=90_000,
                    payload_type=102,
                    rtx_payload_type=103,
                    parameters={"packetization-mode": "1", "level-asymmetry-allowed": 1},
                    header_extensions=[HeaderExtension(id=3, uri="urn:x")],
                )
            ],
        ),
        ClosePipe(pipe_id="p"),
    ]
    assert {r.type for r in requests} == {
        name for name, cls in REQUESTS.items() if cls.__module__ == media_messages.__name__
    }
    for request in requests:
        assert decode_request(encode(request, 9)) == (9, request)
    events: list[Event] = [
        TrackPublished(track_id="a", kind="camera", transport_id="t"),
        TrackEnded(track_id="a", reason="unpublished"),
        TransportState(transport_id="t", state="connected"),
        Speaker(track_id=None),
    ]
    for event in events:
        assert decode_incoming(encode(event)) == (None, event)
    with pytest.raises(ProtocolError) as info:
        decode_request(
            encode(Unsubscribe(transport_id="t", track_ids=["a"]), 1).replace(b'["a"]', b"[]")
        )
    assert info.value.code == "bad_request"  # at least one track


async def test_a_subscribe_transport_is_renegotiated_to_add_and_drop_tracks(
    worker: Worker,
) -> None:
    teacher = await publish(worker)
    screen = await publish(worker, "pub-2", audio=False, video=("scr-1", "screen"))
    viewer = await subscribe(worker, "sub-1", ["mic-1"])
    async with closing(teacher, screen, viewer):
        await viewer.until(lambda: viewer.audio_frames >= 10)
        # the screen share is added to the open transport (mic-1 named again: kept as it is)
        offer = await worker.client.call(
            Subscribe(transport_id="sub-1", track_ids=["mic-1", "scr-1"]), SubscribeOffer
        )
        with pytest.raises(WorkerError) as busy:  # that offer is not answered yet
            await worker.client.request(Subscribe(transport_id="sub-1", track_ids=["cam-1"]))
        assert busy.value.code == "negotiation_in_progress"
        assert [t.track_id for t in offer.tracks] == ["mic-1", "scr-1"]
        await answer_offer(worker, viewer, offer)
        await viewer.until(lambda: len(viewer.numbers) >= 20)
        numbers = viewer.numbers
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
        assert all(n < screen.video.count for n in numbers)

        # unsubscribing the microphone: its m-line goes inactive, its track ends
        offer = await worker.client.call(
            Unsubscribe(transport_id="sub-1", track_ids=["mic-1"]), SubscribeOffer
        )
        assert [t.track_id for t in offer.tracks] == ["scr-1"]
        assert m_line_directions(offer.sdp) == ["inactive", "sendonly"]
        await answer_offer(worker, viewer, offer)
        await viewer.until(lambda: "audio" in viewer.ended, within=10)
        seen = len(viewer.numbers)
        await viewer.until(lambda: len(viewer.numbers) >= seen + 10)  # the screen goes on

        # the screen share stops: an offer without tracks marks its m-line inactive too
        await worker.client.call(Unpublish(track_id="scr-1"), Unpublished)
        await viewer.until(lambda: "video" in viewer.ended, within=10)
        offer = await worker.client.call(
            Subscribe(transport_id="sub-1", track_ids=[]), SubscribeOffer
        )
        assert offer.tracks == []
        assert m_line_directions(offer.sdp) == ["inactive", "inactive"]
        await answer_offer(worker, viewer, offer)
        with pytest.raises(WorkerError) as publishing:
            await worker.client.call(
                Subscribe(transport_id="pub-1", track_ids=["cam-1"]), SubscribeOffer
            )
        assert publishing.value.code == "transport_exists"
        assert (await worker.client.stats()).sessions == 3


async def test_a_presenter_adds_then_stops_a_screen_share_on_the_same_publish_transport(
    worker: Worker,
) -> None:
    teacher = await publish(worker)
    watcher = await subscribe(worker, "sub-1", ["cam-1"])
    async with closing(teacher, watcher):
        await watcher.until(lambda: len(watcher.numbers) >= 5)
        # the presenter shares the screen: a new offer with a third m-line
        screen_track = NumberedVideoTrack()
        screen = teacher.pc.addTransceiver(screen_track, direction="sendonly")
        await teacher.pc.setLocalDescription(await teacher.pc.createOffer())
        mids = {t.track_id: t.mid for t in teacher.answer.tracks}
        assert screen.mid is not None
        assert screen.mid not in mids.values()
        listed = [
            TrackSpec(track_id="cam-1", kind="camera", mid=mids["cam-1"]),
            TrackSpec(track_id="mic-1", kind="microphone", mid=mids["mic-1"]),
            TrackSpec(track_id="scr-1", kind="screen", mid=screen.mid),
        ]
        offer = teacher.pc.localDescription.sdp
        answer = await worker.client.call(
            Publish(transport_id="pub-1", sdp=offer, tracks=listed), PublishAnswer, timeout=20
        )
        await teacher.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        assert [(t.track_id, t.mid) for t in answer.tracks] == [
            ("cam-1", mids["cam-1"]),
            ("mic-1", mids["mic-1"]),
            ("scr-1", screen.mid),
        ]
        await worker.events.wait_for(
            lambda e: e == TrackPublished(track_id="scr-1", kind="screen", transport_id="pub-1")
        )
        student = await subscribe(worker, "sub-2", ["scr-1"])
        async with closing(student):
            await student.until(lambda: len(student.numbers) >= 20)
            numbers = student.numbers
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
            assert all(n < screen_track.count for n in numbers)

            # the share stops: the transceiver goes inactive and the offer no longer lists it
            screen.direction = "inactive"
            await teacher.pc.setLocalDescription(await teacher.pc.createOffer())
            answer = await worker.client.call(
                Publish(
                    transport_id="pub-1", sdp=teacher.pc.localDescription.sdp, tracks=listed[:2]
                ),
                PublishAnswer,
                timeout=20,
            )
            await teacher.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            assert [t.track_id for t in answer.tracks] == ["cam-1", "mic-1"]
            await worker.events.wait_for(
                lambda e: e == TrackEnded(track_id="scr-1", reason="unpublished")
            )
            await student.until(lambda: "video" in student.ended, within=10)
            seen = len(watcher.numbers)  # the camera goes on
            await watcher.until(lambda: len(watcher.numbers) >= seen + 10)
            assert "video" not in watcher.ended

            # an offer whose listed track changes an m-line's kind is refused, nothing changes
            wrong = [listed[0].model_copy(update={"track_id": "cam-2"}), listed[1]]
            with pytest.raises(WorkerError) as refused:
                await worker.client.request(
                    Publish(transport_id="pub-1", sdp=teacher.pc.localDescription.sdp, tracks=wrong)
                )
            assert refused.value.code == "sdp_invalid"
            assert (await worker.client.stats()).sessions == 3


async def test_a_worker_with_open_transports_stops_cleanly(sock_dir: Path) -> None:
    path = sock_dir / "clean.sock"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.workers",
        "--worker-id",
        "clean",
        "--control-socket",
        str(path),
        "--log-format",
        "console",
        "--media-address",
        "127.0.0.1",
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    assert process.stderr is not None
    stderr = asyncio.ensure_future(process.stderr.read())
    try:
        events = Events()
        client = await connect(path, events)
        worker = Worker(client, events)
        publisher = await publish(worker)
        async with closing(publisher):
            viewer = await subscribe(worker, "sub-1", ["cam-1"])
            async with closing(viewer):
                await viewer.until(lambda: len(viewer.numbers) >= 5)
                await client.shutdown()
                async with asyncio.timeout(20):
                    assert await process.wait() == 0
                    log = (await stderr).decode()
        await client.close()
        assert "stopped (shutdown)" in log
        # its peer connections were closed before the loop ended: no task left pending
        assert "ERROR" not in log, log
        assert "Traceback" not in log, log
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        stderr.cancel()


async def test_a_subscriber_or_publisher_that_hangs_up_is_forgotten(worker: Worker) -> None:
    publisher = await publish(worker)
    viewer = await subscribe(worker, "sub-1", ["cam-1", "mic-1"])
    async with closing(publisher, viewer):
        await viewer.until(lambda: len(viewer.numbers) >= 5)
        await viewer.pc.close()  # DTLS close_notify: the worker's side closes at once
        state = await worker.events.wait_for(
            lambda e: (
                isinstance(e, TransportState)
                and e.transport_id == "sub-1"
                and e.state in ("closed", "failed")
            )
        )
        assert state == TransportState(transport_id="sub-1", state="closed")
        assert (await worker.client.stats()).sessions == 1
        with pytest.raises(WorkerError) as gone:
            await worker.client.request(CloseTransport(transport_id="sub-1"))
        assert gone.value.code == "transport_not_found"

        await publisher.pc.close()  # a publisher that hangs up: its tracks end
        for track_id in ("cam-1", "mic-1"):
            await worker.events.wait_for(
                lambda e, t=track_id: e == TrackEnded(track_id=t, reason="transport_closed")  # type: ignore[misc]
            )
        assert (await worker.client.stats()).sessions == 0
