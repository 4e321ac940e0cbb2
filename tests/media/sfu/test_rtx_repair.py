"""A packet lost between the publisher and the SFU is repaired by the publisher's RTX and the
repair is forwarded: subscribers decode every frame."""

from __future__ import annotations

import asyncio

from aiortc.rtp import RtpPacket

from tests.media.sfu.loopback import Classroom


async def test_a_packet_lost_before_the_sfu_is_repaired_for_every_subscriber() -> None:
    room = Classroom(audio=False)
    await room.start()
    try:
        subscribers = [await room.subscribe(), await room.subscribe()]
        for subscriber in subscribers:
            await subscriber.wait_frames(15)
        publication = room.publications["video"]
        receiver = room.transceiver("video").receiver
        dropped: list[RtpPacket] = []
        lost = asyncio.Event()

        # Lose the next media packet on its way into the SFU: outermost wrapper of the
        # receiver's handler (test-only use of the private aiortc_hooks.intercept_rtp wraps).
        forward = receiver._handle_rtp_packet

        async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
            if not dropped and packet.payload_type == publication.payload_type:
                dropped.append(packet)
                lost.set()
                return
            await forward(packet, arrival_time_ms)

        receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]
        async with asyncio.timeout(5):
            await lost.wait()
        counts = [len(s.video.numbers) for s in subscribers]
        for subscriber, count in zip(subscribers, counts, strict=True):
            await subscriber.wait_frames(count + 30)

        assert publication.repairs >= 1
        for subscriber in subscribers:
            repaired = [p for p in subscriber.video_packets if p.payload == dropped[0].payload]
            assert repaired, "the repair never reached the subscriber"
            # forwarded in the stream itself (the SFU never had it to retransmit on its own)
            assert repaired[0].payload_type == subscriber.video_packets[0].payload_type
            numbers = subscriber.video.numbers
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    finally:
        await room.close()


async def test_a_packet_lost_after_the_sfu_is_retransmitted_from_its_history() -> None:
    room = Classroom(audio=False)
    await room.start()
    try:
        subscriber = await room.subscribe()
        await subscriber.wait_frames(15)
        receiver = subscriber.receivers["video"]
        media_payload_type = subscriber.video_packets[0].payload_type
        dropped: list[RtpPacket] = []
        lost = asyncio.Event()
        deliver = receiver._handle_rtp_packet  # test-only: lose one packet at the subscriber

        async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
            if not dropped and packet.payload_type == media_payload_type:
                dropped.append(packet)
                lost.set()
                return
            await deliver(packet, arrival_time_ms)

        receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]
        async with asyncio.timeout(5):
            await lost.wait()
        await subscriber.wait_frames(len(subscriber.video.numbers) + 30)

        # the SFU answered the subscriber's NACK from its sender history, wrapped in RTX
        retransmissions = [
            p for p in subscriber.video_packets if p.payload_type != media_payload_type
        ]
        assert retransmissions, "no retransmission reached the subscriber"
        assert room.publications["video"].repairs == 0  # not a publisher-side repair
        numbers = subscriber.video.numbers
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    finally:
        await room.close()
