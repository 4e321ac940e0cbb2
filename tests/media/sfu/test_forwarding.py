"""aiortc publisher -> SFU -> aiortc subscribers on loopback: what arrives decodes and is the
publisher's content."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from media.sfu.keyframe_detection import starts_keyframe
from tests.media.sfu.loopback import Classroom, Subscriber


@pytest.fixture
async def classroom() -> AsyncIterator[Classroom]:
    room = Classroom()
    await room.start()
    yield room
    await room.close()


def assert_publishers_frames(room: Classroom, subscriber: Subscriber) -> None:
    numbers = subscriber.video.numbers
    assert all(0 <= n < room.video.count for n in numbers), numbers
    assert numbers == sorted(set(numbers)), numbers  # in order, none twice
    first_packet = subscriber.video_packets[0].payload
    assert starts_keyframe(room.publications["video"].codec.name, first_packet), (
        "the subscriber's stream must begin with a keyframe"
    )


async def test_two_subscribers_decode_the_publishers_video_and_audio(classroom: Classroom) -> None:
    first = await classroom.subscribe()
    second = await classroom.subscribe()
    for subscriber in (first, second):
        await subscriber.wait_frames(45)
        await subscriber.wait_audio(50)
        assert_publishers_frames(classroom, subscriber)
        # whole frames: a forwarded stream has no holes once started
        numbers = subscriber.video.numbers
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    video = classroom.publications["video"]
    assert video.codec.name == "VP8"
    # the SFU's sender reports count what was forwarded to each subscriber
    for kind in ("video", "audio"):
        async with asyncio.timeout(5):
            # RTCP comes every 0.5-1.5 s; the stats have no event to wait on
            while not await first.sender_reports(kind):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        reported = await first.sender_reports(kind)
        assert 0 < reported <= first.subscriptions[kind].forwarded
    assert classroom.publications["audio"].codec.name == "opus"
    assert all(s.forwarded > 0 for s in video.subscriptions)


async def test_a_late_joiner_starts_at_a_keyframe_requested_for_it(
    classroom: Classroom, record_property: Callable[[str, object], None]
) -> None:
    early = await classroom.subscribe()
    await early.wait_frames(45)  # the stream's own first keyframe is long gone
    requests_before = classroom.publisher_keyframe_requests

    late = await classroom.subscribe()
    await late.wait_frames(10, within=10)

    # aiortc's VP8 encoder makes a keyframe every 3000 frames on its own: only the join PLI
    # brings this one
    assert classroom.publisher_keyframe_requests > requests_before
    assert_publishers_frames(classroom, late)
    assert late.video.numbers[0] > early.video.numbers[0]
    record_property("late_joiner_time_to_first_frame_s", round(late.time_to_first_frame, 3))
    print(f"late joiner: first decoded frame {late.time_to_first_frame * 1000:.0f} ms after join")


async def test_h264_is_forwarded_and_decodes() -> None:
    room = Classroom(video_codec="video/H264", audio=False)
    await room.start()
    try:
        first = await room.subscribe()
        await first.wait_frames(20)
        late = await room.subscribe()
        await late.wait_frames(20)
        assert room.publications["video"].codec.name == "H264"
        for subscriber in (first, late):
            assert_publishers_frames(room, subscriber)
    finally:
        await room.close()


async def test_a_new_subscriber_is_held_until_a_keyframe_starts() -> None:
    room = Classroom(audio=False, keyframe_delay=0.4)
    await room.start()
    try:
        early = await room.subscribe()
        await early.wait_frames(30)
        late = await room.subscribe()
        await late.wait_frames(10)
        held_back = late.subscriptions["video"].held_back
        assert held_back > 0, "the publisher's inter frames before the keyframe were held back"
        assert_publishers_frames(room, late)
        numbers = late.video.numbers
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    finally:
        await room.close()


async def test_unsubscribing_stops_that_subscriber_only(classroom: Classroom) -> None:
    leaving, staying = await classroom.subscribe(), await classroom.subscribe()
    await leaving.wait_frames(10)
    await staying.wait_frames(10)
    video = classroom.publications["video"]
    subscription = leaving.subscriptions["video"]
    subscription.close()
    assert subscription.closed
    assert subscription not in video.subscriptions
    forwarded = subscription.forwarded
    await staying.wait_frames(len(staying.video.numbers) + 15)
    assert subscription.forwarded == forwarded

    await staying.sfu_pc.close()  # the subscriber's connection ends: its subscriptions go too
    assert all(s.closed for s in staying.subscriptions.values())
    assert video.subscriptions == ()
    assert classroom.publications["audio"].subscriptions == (leaving.subscriptions["audio"],)


async def test_a_waiting_subscriber_asks_again_when_its_keyframe_request_is_lost() -> None:
    room = Classroom(audio=False)
    await room.start()
    try:
        early = await room.subscribe()
        await early.wait_frames(30)
        requests = room.publisher_keyframe_requests
        room.keyframe_requests_to_ignore = 1
        late = await room.subscribe()  # its join PLI is lost
        await late.wait_frames(10, within=10)
        assert room.publisher_keyframe_requests >= requests + 2  # asked again ~1 s later
        assert late.subscriptions["video"].held_back > 0
        assert_publishers_frames(room, late)
        print(f"after a lost join PLI: first frame {late.time_to_first_frame * 1000:.0f} ms")
    finally:
        await room.close()
