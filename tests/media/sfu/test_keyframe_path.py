"""Subscribers' keyframe requests reach the publisher through the SFU, throttled to one a
second; a request inside the window is deferred, never dropped."""

from __future__ import annotations

import asyncio

from tests.media.sfu.loopback import Classroom


async def test_subscribers_plis_reach_the_publisher_throttled_and_deferred() -> None:
    room = Classroom(audio=False)
    await room.start()
    try:
        first = await room.subscribe()
        second = await room.subscribe()
        await first.wait_frames(20)
        await second.wait_frames(20)
        requester = room.publications["video"].keyframe_requester
        await asyncio.sleep(1.1)  # past the window of the join requests
        before = room.publisher_keyframe_requests
        sent_before = requester.sent

        await first.send_pli()  # goes out at once
        await room.wait_publisher_keyframe_requests(before + 1, within=5)
        for subscriber in (second, first, second):  # inside the window: one deferred request
            await subscriber.send_pli()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert room.publisher_keyframe_requests == before + 1

        # the deferred one arrives after the window
        await room.wait_publisher_keyframe_requests(before + 2, within=3)
        await asyncio.sleep(1.2)  # and nothing more: four requests, two PLIs
        assert room.publisher_keyframe_requests == before + 2
        assert requester.sent == sent_before + 2
        subscriptions = [s.subscriptions["video"] for s in (first, second)]
        assert [s.keyframe_requests for s in subscriptions] == [2, 2]
        # the subscribers keep decoding the publisher's frames across the keyframes
        count = len(first.video.numbers)
        await first.wait_frames(count + 10)
        assert first.video.numbers == sorted(set(first.video.numbers))
    finally:
        await room.close()
