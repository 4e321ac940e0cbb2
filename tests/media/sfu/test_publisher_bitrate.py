"""The SFU tells a video publisher the configured bitrate in every REMB, not aiortc's
delay-based estimate (which reads the worker's own event-loop lag as congestion)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci

from media.sfu.publication import PUBLISHER_MAX_BITRATE
from tests.media.sfu.loopback import Classroom


async def test_every_remb_to_the_video_publisher_carries_the_cap() -> None:
    classroom = Classroom(audio=False)
    remb: list[int] = []
    await classroom.start()
    video_sender = next(
        t.sender for t in classroom.publisher_pc.getTransceivers() if t.kind == "video"
    )
    original = video_sender._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            remb.append(unpack_remb_fci(packet.fci)[0])
        await original(packet)

    video_sender._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]
    try:
        subscriber = await classroom.subscribe()
        await subscriber.wait_frames(30)
        async with asyncio.timeout(20):
            while not remb:  # noqa: ASYNC110 -- the first REMB comes within a few seconds
                await asyncio.sleep(0.1)
        # exact after the 18-bit mantissa's rounding (REMB's own encoding)
        assert all(abs(b - PUBLISHER_MAX_BITRATE) < PUBLISHER_MAX_BITRATE / 2**17 for b in remb)
    finally:
        await classroom.close()
