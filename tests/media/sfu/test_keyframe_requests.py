from __future__ import annotations

import asyncio

from media.sfu.keyframe_requests import KeyframeRequester, KeyframeRequestThrottle


def test_first_request_goes_at_once_and_the_next_waits_for_the_window() -> None:
    throttle = KeyframeRequestThrottle(1.0)
    assert throttle.request(10.0) == 0.0
    throttle.sent(10.0)
    assert throttle.request(10.25) == 0.75  # deferred to the window's end, not dropped


def test_requests_inside_a_pending_window_share_the_deferred_request() -> None:
    throttle = KeyframeRequestThrottle(1.0)
    throttle.request(0.0)
    throttle.sent(0.0)
    assert throttle.request(0.2) == 0.8
    assert throttle.request(0.5) is None  # covered: the pending one goes out at 1.0, after it
    assert throttle.pending_at == 1.0
    throttle.sent(1.0)
    assert throttle.request(1.5) == 0.5
    assert throttle.request(3.0) is None
    throttle.sent(2.0)
    assert throttle.request(3.5) == 0.0


async def test_requester_sends_deferred_requests_when_the_window_ends() -> None:
    sent_at: list[float] = []
    loop = asyncio.get_running_loop()

    async def send() -> None:
        sent_at.append(loop.time())

    requester = KeyframeRequester(send, min_interval=0.2, clock=loop.time)
    start = loop.time()
    requester.request()
    requester.request()  # inside the window: deferred
    requester.request()  # shares the deferred one
    await asyncio.sleep(0.01)
    assert len(sent_at) == 1
    await asyncio.sleep(0.3)
    assert len(sent_at) == 2
    assert sent_at[1] - start >= 0.2 - 0.01
    assert (requester.requested, requester.deferred, requester.sent) == (3, 1, 2)
    await requester.close()


async def test_close_cancels_a_deferred_request() -> None:
    calls: list[None] = []

    async def send() -> None:
        calls.append(None)

    loop = asyncio.get_running_loop()
    requester = KeyframeRequester(send, min_interval=0.1, clock=loop.time)
    requester.request()
    await asyncio.sleep(0.01)
    requester.request()  # deferred by 0.1 s
    await requester.close()
    await asyncio.sleep(0.15)
    assert len(calls) == 1
    requester.request()
    assert requester.sent == 1
