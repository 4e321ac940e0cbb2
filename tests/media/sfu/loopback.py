"""A publisher, the SFU and subscribers, all aiortc in this process, on loopback.

The publisher's video draws its frame number into every frame (20 bits as 16x16 luma blocks
in the top 32 rows, robust to lossy coding); subscribers decode and read it back, which proves
the forwarded frames are the publisher's, whole and in order.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket
from av import AudioFrame, VideoFrame
from av.frame import Frame
from av.packet import Packet

from media.sfu import Publication, Router, Subscription, aiortc_hooks

WIDTH, HEIGHT, FPS = 320, 180, 30
BLOCK = 16
BITS = WIDTH // BLOCK  # 20 bits of frame number
VIDEO_CLOCK = 90_000


def make_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


def _stripes() -> bytes:
    return bytes(((x // BLOCK) % 2) * 120 + 60 for x in range(WIDTH + 2 * BLOCK))


class NumberedVideoTrack(MediaStreamTrack):
    """Frames 0, 1, 2... at FPS, each showing its number; ``sent_at[n]`` is when n left."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.sent_at: dict[int, float] = {}
        self._stripes = _stripes()
        self._chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
        self._start: float | None = None

    async def recv(self) -> Frame | Packet[Any]:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self.count / FPS - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        number = self.count
        self.count += 1
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(self._luma(number))
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = number * VIDEO_CLOCK // FPS
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.sent_at[number] = loop.time()
        return frame

    def _luma(self, number: int) -> bytes:
        band = b"".join(
            (b"\xeb" if number >> (BITS - 1 - i) & 1 else b"\x10") * BLOCK for i in range(BITS)
        )
        shift = (2 * number) % (2 * BLOCK)
        rows = [band] * (2 * BLOCK)
        rows += [
            self._stripes[(y + shift) % (2 * BLOCK) :][:WIDTH] for y in range(2 * BLOCK, HEIGHT)
        ]
        return b"".join(rows)


def read_frame_number(frame: VideoFrame) -> int:
    plane = frame.planes[0]
    data = bytes(plane)
    number = 0
    for i in range(BITS):
        x = i * BLOCK + BLOCK // 2
        level = sum(data[y * plane.line_size + x] for y in (BLOCK // 2, BLOCK + BLOCK // 2)) / 2
        number = number << 1 | (level > 125)
    return number


class ToneAudioTrack(MediaStreamTrack):
    """A 400 Hz tone in 20 ms stereo frames (Opus-friendly)."""

    kind = "audio"
    RATE, SAMPLES = 48_000, 960

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        mono = [
            int(8000 * math.sin(2 * math.pi * 400 * i / self.RATE)) for i in range(self.SAMPLES)
        ]
        self._data = b"".join(struct.pack("<hh", s, s) for s in mono)
        self._start: float | None = None

    async def recv(self) -> Frame | Packet[Any]:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self.count * self.SAMPLES / self.RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = AudioFrame(format="s16", layout="stereo", samples=self.SAMPLES)
        frame.planes[0].update(self._data)
        frame.sample_rate = self.RATE
        frame.pts = self.count * self.SAMPLES
        frame.time_base = fractions.Fraction(1, self.RATE)
        self.count += 1
        return frame


@dataclass
class DecodedVideo:
    numbers: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)


@dataclass
class Subscriber:
    """A student: an aiortc peer that decodes what the SFU sends it."""

    pc: RTCPeerConnection
    sfu_pc: RTCPeerConnection
    subscriptions: dict[str, Subscription]
    joined_at: float
    video: DecodedVideo = field(default_factory=DecodedVideo)
    audio_frames: int = 0
    video_packets: list[RtpPacket] = field(default_factory=list)
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_frames(self, count: int, within: float = 20) -> None:
        await self._until(lambda: len(self.video.numbers) >= count, within)

    async def wait_audio(self, count: int, within: float = 20) -> None:
        await self._until(lambda: self.audio_frames >= count, within)

    async def _until(self, done: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not done():
                self.progress.clear()
                await self.progress.wait()

    @property
    def time_to_first_frame(self) -> float:
        return self.video.arrivals[0] - self.joined_at

    async def sender_reports(self, kind: str) -> int:
        """Packets the SFU's last RTCP sender report for ``kind`` counted (0: none yet)."""
        stats = await self.receivers[kind].getStats()
        return max(
            (s.packetsSent for s in stats.values() if s.type == "remote-outbound-rtp"), default=0
        )

    async def send_pli(self) -> None:
        """Ask the SFU for a keyframe, as a browser does after loss."""
        sender_ssrc = self.subscriptions["video"].ssrc
        assert sender_ssrc is not None
        await aiortc_hooks.send_pli(self.receivers["video"], sender_ssrc)


class Classroom:
    """A publisher's tracks through a :class:`Router` to any number of subscribers."""

    def __init__(
        self,
        *,
        video_codec: str = "video/VP8",
        audio: bool = True,
        keyframe_delay: float = 0,
    ) -> None:
        """``keyframe_delay``: the publisher answers a keyframe request that much later (a
        busy encoder), so a joining subscriber sees inter frames first. Set
        ``keyframe_requests_to_ignore`` to have it ignore the next ones (lost on the way)."""
        self.router = Router()
        self.video = NumberedVideoTrack()
        self.audio = ToneAudioTrack() if audio else None
        self.video_codec = video_codec
        self.keyframe_delay = keyframe_delay
        self.keyframe_requests_to_ignore = 0
        self.publisher_pc = make_pc()
        self.sfu_publisher_pc = make_pc()
        self.publications: dict[str, Publication] = {}
        self.subscribers: list[Subscriber] = []
        self.publisher_keyframe_requests = 0
        self._publisher_asked = asyncio.Event()

    async def start(self) -> None:
        transceiver = self.publisher_pc.addTransceiver(self.video, direction="sendonly")
        capabilities = RTCRtpSender.getCapabilities("video").codecs
        codec = next(c for c in capabilities if c.mimeType == self.video_codec)
        rtx = next(c for c in capabilities if c.mimeType == "video/rtx")
        transceiver.setCodecPreferences([codec, rtx])
        self._count_publisher_keyframes(transceiver.sender)
        if self.audio is not None:
            self.publisher_pc.addTransceiver(self.audio, direction="sendonly")
        await self.publisher_pc.setLocalDescription(await self.publisher_pc.createOffer())
        await self.sfu_publisher_pc.setRemoteDescription(self.publisher_pc.localDescription)
        for sfu_transceiver in self.sfu_publisher_pc.getTransceivers():
            self.publications[sfu_transceiver.kind] = self.router.publish(sfu_transceiver)
        await self.sfu_publisher_pc.setLocalDescription(await self.sfu_publisher_pc.createAnswer())
        await self.publisher_pc.setRemoteDescription(self.sfu_publisher_pc.localDescription)

    def _count_publisher_keyframes(self, sender: RTCRtpSender) -> None:
        produce_keyframe = sender._send_keyframe

        def on_request() -> None:
            self.publisher_keyframe_requests += 1
            if self.keyframe_requests_to_ignore > 0:
                self.keyframe_requests_to_ignore -= 1
                return
            if self.keyframe_delay:
                asyncio.get_running_loop().call_later(self.keyframe_delay, produce_keyframe)
            else:
                produce_keyframe()
            self._publisher_asked.set()

        aiortc_hooks.intercept_keyframe_requests(sender, on_request)

    async def wait_publisher_keyframe_requests(self, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while self.publisher_keyframe_requests < count:
                self._publisher_asked.clear()
                await self._publisher_asked.wait()

    async def subscribe(self) -> Subscriber:
        loop = asyncio.get_running_loop()
        sfu_pc = make_pc()
        subscriptions = {kind: p.subscribe(sfu_pc) for kind, p in self.publications.items()}
        subscriber = Subscriber(make_pc(), sfu_pc, subscriptions, joined_at=loop.time())

        @subscriber.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            subscriber.tasks.append(loop.create_task(self._consume(subscriber, track)))

        await negotiate(sfu_pc, subscriber.pc)
        for transceiver in subscriber.pc.getTransceivers():
            subscriber.receivers[transceiver.kind] = transceiver.receiver
        self._record_video_packets(subscriber)
        self.subscribers.append(subscriber)
        return subscriber

    @staticmethod
    def _record_video_packets(subscriber: Subscriber) -> None:
        async def record(packet: RtpPacket) -> None:
            subscriber.video_packets.append(packet)

        aiortc_hooks.intercept_rtp(subscriber.receivers["video"], record)

    @staticmethod
    async def _consume(subscriber: Subscriber, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, VideoFrame):
                subscriber.video.arrivals.append(loop.time())
                subscriber.video.numbers.append(read_frame_number(frame))
            elif isinstance(frame, AudioFrame):
                subscriber.audio_frames += 1
            subscriber.progress.set()

    def transceiver(self, kind: str) -> RTCRtpTransceiver:
        return next(t for t in self.sfu_publisher_pc.getTransceivers() if t.kind == kind)

    async def close(self) -> None:
        for subscriber in self.subscribers:
            for task in subscriber.tasks:
                task.cancel()
            await subscriber.pc.close()
            await subscriber.sfu_pc.close()
        await self.router.close()
        await self.publisher_pc.close()
        await self.sfu_publisher_pc.close()
