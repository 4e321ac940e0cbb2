"""When to ask a publisher for a keyframe: throttled to one request a second, never dropped.

Each keyframe costs the publisher several times a normal frame's bits, and every subscriber's
PLI/FIR reaches it through the SFU, so requests are throttled (mediasoup allows one a second
towards a producer). A request inside the throttle window is deferred to the window's end,
never dropped: the spike's first forwarder dropped them and left a late joiner black for as long
as aiortc's VP8 encoder goes without a keyframe on its own (``gop_size=3000``, ~100 s). Several
requests inside one window share the one deferred keyframe request, which is sent after all of
them and so satisfies each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

MIN_INTERVAL = 1.0
"""Seconds between two keyframe requests to one publisher."""


class KeyframeRequestThrottle:
    """The policy without a clock of its own: times are passed in (monotonic seconds)."""

    def __init__(self, min_interval: float = MIN_INTERVAL) -> None:
        self.min_interval = min_interval
        self.last_sent: float | None = None
        self.pending_at: float | None = None

    def request(self, now: float) -> float | None:
        """A keyframe is wanted at ``now``: the delay after which to send a request for it, or
        None when a request already scheduled (which goes out after ``now``) covers it."""
        if self.pending_at is not None:
            return None
        delay = 0.0
        if self.last_sent is not None:
            delay = max(0.0, self.last_sent + self.min_interval - now)
        self.pending_at = now + delay
        return delay

    def sent(self, now: float) -> None:
        """The scheduled request went out at ``now``."""
        self.last_sent = now
        self.pending_at = None


class KeyframeRequester:
    """Drives a :class:`KeyframeRequestThrottle` on the running loop.

    ``send`` delivers one keyframe request (a PLI) to the publisher. :meth:`request` is
    synchronous so that aiortc's synchronous keyframe callback can call it.
    """

    def __init__(
        self,
        send: Callable[[], Coroutine[Any, Any, None]],
        *,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._clock = clock
        self.throttle = KeyframeRequestThrottle(min_interval)
        self.requested = 0
        self.deferred = 0
        self.sent = 0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def request(self) -> None:
        if self._closed:
            return
        self.requested += 1
        delay = self.throttle.request(self._clock())
        if delay is None:
            return
        if delay == 0:
            self._fire()
        else:
            self.deferred += 1
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    @property
    def last_sent(self) -> float | None:
        return self.throttle.last_sent

    def _fire(self) -> None:
        self._timer = None
        if self._closed:
            return
        self.throttle.sent(self._clock())
        self.sent += 1
        task = asyncio.get_running_loop().create_task(self._send())
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("keyframe request failed: %r", error)

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
