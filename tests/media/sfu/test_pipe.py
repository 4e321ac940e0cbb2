"""Two Routers in one process joined by a worker pipe: aiortc publisher -> Router A -> pipe ->
Router B -> aiortc subscribers, on loopback. What B's subscribers decode is the publisher's."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiortc import RTCDtlsTransport
from aiortc.mediastreams import MediaStreamTrack

from media.sfu import Publication, Router, aiortc_hooks
from media.sfu.active_speaker import AudioLevel
from media.sfu.keyframe_detection import starts_keyframe
from media.sfu.pipe import PipedSource, PipedTrackInfo, PipeReceiver, PipeSender
from tests.media.sfu.loopback import Classroom, Subscriber, make_pc, negotiate


@dataclass
class Downstream:
    """Worker B: its Router, the pipe's receiving side and the piped publications."""

    router: Router
    receiver: PipeReceiver
    sender: PipeSender
    publications: dict[str, Publication] = field(default_factory=dict)
    sources: dict[str, PipedSource] = field(default_factory=dict)
    subscribers: list[Subscriber] = field(default_factory=list)

    def pipe(self, publication: Publication) -> PipedTrackInfo:
        info = self.sender.add(publication)
        source = self.receiver.add(info)
        self.sources[info.kind] = source
        self.publications[info.kind] = self.router.publish(source)
        return info

    async def subscribe(self) -> Subscriber:
        loop = asyncio.get_running_loop()
        sfu_pc = make_pc()
        subscriptions = {kind: p.subscribe(sfu_pc) for kind, p in self.publications.items()}
        subscriber = Subscriber(make_pc(), sfu_pc, subscriptions, joined_at=loop.time())

        @subscriber.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            consume = Classroom._consume(subscriber, track)
            subscriber.tasks.append(loop.create_task(consume))

        await negotiate(sfu_pc, subscriber.pc)
        for transceiver in subscriber.pc.getTransceivers():
            subscriber.receivers[transceiver.kind] = transceiver.receiver
        Classroom._record_video_packets(subscriber)
        self.subscribers.append(subscriber)
        return subscriber

    async def close(self) -> None:
        for subscriber in self.subscribers:
            for task in subscriber.tasks:
                task.cancel()
            await subscriber.pc.close()
            await subscriber.sfu_pc.close()
        self.sender.close()
        await self.receiver.close()
        await self.router.close()


@pytest.fixture
async def rooms() -> AsyncIterator[tuple[Classroom, Downstream]]:
    origin = Classroom()
    await origin.start()
    receiver = PipeReceiver("127.0.0.1")
    downstream = Downstream(Router(), receiver, PipeSender(*receiver.address))
    try:
        yield origin, downstream
    finally:
        await downstream.close()
        await origin.close()


def assert_publishers_frames(origin: Classroom, subscriber: Subscriber) -> None:
    numbers = subscriber.video.numbers
    assert numbers, "no frame decoded"
    assert all(0 <= n < origin.video.count for n in numbers), numbers
    # whole frames, in order, none twice: the publisher's own stream
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    first_packet = subscriber.video_packets[0].payload
    assert starts_keyframe("VP8", first_packet), "the stream must begin with a keyframe"


async def test_a_piped_track_decodes_at_the_other_routers_subscribers(
    rooms: tuple[Classroom, Downstream],
) -> None:
    origin, downstream = rooms
    video_info = downstream.pipe(origin.publications["video"])
    audio_info = downstream.pipe(origin.publications["audio"])
    # the description carries what B negotiates its subscribers with
    assert (video_info.kind, video_info.codec.mimeType, video_info.codec.clockRate) == (
        "video",
        "video/VP8",
        90_000,
    )
    assert video_info.rtx_payload_type == origin.publications["video"].rtx_payload_type
    assert (audio_info.codec.mimeType, audio_info.codec.clockRate) == ("audio/opus", 48_000)
    assert any(e.uri.endswith("ssrc-audio-level") for e in audio_info.header_extensions)
    assert video_info.channel != audio_info.channel

    levels: list[AudioLevel] = []
    downstream.publications["audio"].on_audio_level = levels.append
    subscriber = await downstream.subscribe()
    await subscriber.wait_frames(45)
    await subscriber.wait_audio(50)
    assert_publishers_frames(origin, subscriber)
    piped_video = downstream.publications["video"]
    assert piped_video.codec.mimeType == "video/VP8"
    assert piped_video.received > 45
    # forwarded by B's own rewriting path, not by A: A has no subscriber at all
    assert origin.publications["video"].subscriptions == ()
    assert subscriber.subscriptions["video"].forwarded > 0
    assert downstream.receiver.received > 45
    assert downstream.sender.sent >= downstream.receiver.received  # some may be in flight
    assert downstream.sender.dropped == downstream.receiver.dropped == 0
    # the audio level travels in the piped packets, parsed by the publisher's extension ids
    # (MediaHost still leaves the speaker to the origin worker)
    assert downstream.publications["audio"].received > 50
    assert len(levels) > 50
    assert all(-127 <= level.level_dbov < 0 for level in levels)
    # B's RTCP sender reports to its subscriber count what B forwarded
    async with asyncio.timeout(5):
        while not await subscriber.sender_reports("video"):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    reported = await subscriber.sender_reports("video")
    assert 0 < reported <= subscriber.subscriptions["video"].forwarded


async def test_a_late_subscriber_on_the_far_side_gets_a_keyframe_from_the_publisher(
    rooms: tuple[Classroom, Downstream], record_property: Callable[[str, object], None]
) -> None:
    origin, downstream = rooms
    downstream.pipe(origin.publications["video"])
    early = await downstream.subscribe()
    await early.wait_frames(45)  # the stream's own first keyframe is long gone
    publisher_requests = origin.publisher_keyframe_requests
    piped_back = downstream.sender.keyframe_requests
    asked = downstream.sources["video"].keyframe_requests

    late = await downstream.subscribe()
    await late.wait_frames(10, within=10)

    # B asked through the pipe, A received it and asked the publisher: aiortc's VP8 encoder
    # makes a keyframe every 3000 frames on its own, so only this request brings one
    assert downstream.sources["video"].keyframe_requests > asked
    assert downstream.sender.keyframe_requests > piped_back
    assert origin.publisher_keyframe_requests > publisher_requests
    assert_publishers_frames(origin, late)
    assert late.video.numbers[0] > early.video.numbers[0]
    record_property("piped_late_joiner_time_to_first_frame_s", round(late.time_to_first_frame, 3))

    # a subscriber's own PLI (after loss, as a browser sends it) travels back the same way
    piped_back = downstream.sender.keyframe_requests
    await asyncio.sleep(1.1)  # past the 1 s throttles
    await late.send_pli()
    async with asyncio.timeout(5):
        while downstream.sender.keyframe_requests == piped_back:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_piped_track_ended_at_the_origin_goes_silent_and_ends_on_the_far_side(
    rooms: tuple[Classroom, Downstream],
) -> None:
    origin, downstream = rooms
    downstream.pipe(origin.publications["video"])
    downstream.pipe(origin.publications["audio"])
    subscriber = await downstream.subscribe()
    await subscriber.wait_frames(15)
    await subscriber.wait_audio(15)

    await origin.router.unpublish(origin.publications["video"])  # the publisher stopped
    sent = downstream.sender.sent
    piped_video = downstream.publications["video"]
    received = piped_video.received
    await subscriber.wait_audio(subscriber.audio_frames + 25)  # audio still flows
    assert piped_video.received == received, "an ended track is no longer piped"
    assert downstream.sender.sent > sent

    # the control plane then ends it on B: its subscribers' tracks end
    source = downstream.sources["video"]
    await downstream.router.unpublish(piped_video)
    assert source not in downstream.receiver.sources.values()
    await subscriber.subscriptions["video"].sender.stop()  # what MediaHost does: an RTCP BYE
    async with asyncio.timeout(5):
        while subscriber.receivers["video"].track.readyState != "ended":  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_pipe_whose_sender_is_gone_leaves_the_far_side_silent_not_broken(
    rooms: tuple[Classroom, Downstream],
) -> None:
    origin, downstream = rooms
    downstream.pipe(origin.publications["video"])
    subscriber = await downstream.subscribe()
    await subscriber.wait_frames(10)
    downstream.sender.close()  # as if worker A died
    received = downstream.receiver.received
    await asyncio.sleep(0.5)
    assert downstream.receiver.received == received
    # keyframe requests towards the dead side are sent into the void, without an error
    downstream.publications["video"].request_keyframe()
    downstream.receiver.send_keyframe_request(0)
    await asyncio.sleep(0.2)
    assert not downstream.receiver.closed


async def test_a_receiver_takes_datagrams_from_its_first_peer_only(
    rooms: tuple[Classroom, Downstream],
) -> None:
    origin, downstream = rooms
    downstream.pipe(origin.publications["video"])
    subscriber = await downstream.subscribe()
    await subscriber.wait_frames(5)
    assert downstream.receiver.peer == downstream.sender.local_address
    stranger = PipeSender(*downstream.receiver.address)
    try:
        stranger.add(origin.publications["video"])  # same channel 0, another socket
        dropped = downstream.receiver.dropped
        async with asyncio.timeout(5):
            while downstream.receiver.dropped == dropped:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert stranger.sent > 0
        frames = len(subscriber.video.numbers)
        await subscriber.wait_frames(frames + 15)
        assert_publishers_frames(origin, subscriber)  # no packet twice
    finally:
        stranger.close()


async def test_a_piped_track_can_be_piped_on_to_a_third_router(
    rooms: tuple[Classroom, Downstream],
) -> None:
    origin, downstream = rooms
    downstream.pipe(origin.publications["video"])
    early = await downstream.subscribe()
    await early.wait_frames(45)  # the stream's own first keyframe is long gone
    publisher_requests = origin.publisher_keyframe_requests
    receiver = PipeReceiver("127.0.0.1")
    third = Downstream(Router(), receiver, PipeSender(*receiver.address))
    try:
        # B's piped publication is tapped like a publisher's: its datagrams go on unchanged
        third.pipe(downstream.publications["video"])
        subscriber = await third.subscribe()
        await subscriber.wait_frames(20)
        assert_publishers_frames(origin, subscriber)
        # its keyframe request went back two hops, to the publisher
        assert third.sender.keyframe_requests > 0
        assert downstream.sender.keyframe_requests > 0
        assert origin.publisher_keyframe_requests > publisher_requests
    finally:
        await third.close()


async def test_a_pipe_whose_receiver_is_gone_costs_the_origins_subscribers_nothing(
    rooms: tuple[Classroom, Downstream],
) -> None:
    origin, downstream = rooms
    downstream.pipe(origin.publications["video"])
    local = await origin.subscribe()  # a subscriber on the origin itself
    await local.wait_frames(10)
    await downstream.receiver.close()  # as if worker B died: ICMP port unreachable comes back
    sent, dropped = downstream.sender.sent, downstream.sender.dropped
    await local.wait_frames(len(local.video.numbers) + 30)
    assert downstream.sender.sent + downstream.sender.dropped > sent + dropped  # still tried
    assert_publishers_frames(origin, local)


async def test_the_hooked_aiortc_privates_a_pipe_needs_are_there() -> None:
    # RtpDatagrams wraps RTCDtlsTransport._handle_rtp_data(data, arrival_time_ms) and
    # negotiated_header_extensions reads RTCRtpTransceiver._headerExtensions (aiortc 1.16.0)
    parameters = list(inspect.signature(RTCDtlsTransport._handle_rtp_data).parameters)
    assert parameters == ["self", "data", "arrival_time_ms"]
    pc = make_pc()
    try:
        transceiver = pc.addTransceiver("audio")
        assert aiortc_hooks.negotiated_header_extensions(transceiver) == []
    finally:
        await pc.close()


async def test_h264_is_piped_with_its_fmtp_and_decodes() -> None:
    origin = Classroom(video_codec="video/H264", audio=False)
    await origin.start()
    receiver = PipeReceiver("127.0.0.1")
    downstream = Downstream(Router(), receiver, PipeSender(*receiver.address))
    try:
        info = downstream.pipe(origin.publications["video"])
        assert info.codec.name == "H264"
        assert info.codec.parameters == origin.publications["video"].codec.parameters
        assert "profile-level-id" in info.codec.parameters
        subscriber = await downstream.subscribe()
        await subscriber.wait_frames(20)
        numbers = subscriber.video.numbers
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
        assert all(0 <= n < origin.video.count for n in numbers)
    finally:
        await downstream.close()
        await origin.close()
