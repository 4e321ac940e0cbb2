"""The load side of ``bench/sfu_fanout.py``: one publisher and N subscribers in this process.

    python bench/sfu/load.py load --mode worker --socket PATH --sfu-pid PID --n 10
    python bench/sfu/load.py load --mode relay --socket PATH --sfu-pid PID --n 2
    python bench/sfu/load.py load --mode direct --n 1
    python bench/sfu/load.py relay --socket PATH       # the MediaRelay baseline server

The publisher sends 640x360 at 30 fps VP8 (per-frame luma noise, so the encoder sits at its
target, ~1.4 Mbit/s) plus an Opus tone. The top 32 rows carry the wall clock (40-bit ms as
16x16 luma blocks), drawn right before the frame is handed to the encoder.

N-1 subscribers are cheap counters: their receivers' ``_handle_rtp_packet`` is replaced per
instance (no jitter buffer, no decoding, no RTCP from them), counting packets, bytes, sequence
gaps per SSRC, frames (marker bit) and VP8 keyframe starts. The last subscriber, joining after
all of them, is the probe: aiortc's full receive path, decoding every frame and reading the
clock back (latency) and its time to first decoded frame.

Modes: ``worker`` talks to a real ``python -m media.workers`` over its control socket (publish
-> answer, subscribe -> offer, subscribe_answer); ``relay`` to :func:`relay_server`, aiortc's
MediaRelay decoding once and encoding once per subscriber (the naive relay); ``direct`` has no
server at all: the publisher's peer connection sends straight to the probe (the P2P reference).

Prints one JSON line with the measurements of the steady window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import random
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
import aiortc.codecs.vpx
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket
from av import AudioFrame, VideoFrame
from av.frame import Frame
from av.packet import Packet

WIDTH, HEIGHT, FPS = 640, 360, 30
VIDEO_CLOCK = 90_000
BITS, BLOCK, BAND_ROWS = 40, 16, 32
TARGET_BITRATE = 1_400_000


def loopback_only() -> None:
    """Host candidates on 127.0.0.1 only (aioice skips loopback by default), no STUN."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    # aiortc's VP8 encoder starts at 500 kbit/s and follows REMB within 250k-1.5M
    aiortc.codecs.vpx.DEFAULT_BITRATE = TARGET_BITRATE


def make_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def now_ms() -> int:
    return int(time.time() * 1000) & ((1 << BITS) - 1)


class ClockVideoTrack(MediaStreamTrack):
    """640x360 at 30 fps: a noise texture cycling over 8 planes, the clock in the top band."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        rng = random.Random(1)
        table = bytes(60 + b % 48 for b in range(256))
        size = WIDTH * (HEIGHT - BAND_ROWS)
        self._bank = [rng.randbytes(size).translate(table) for _ in range(8)]
        self._chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> Frame | Packet[Any]:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._count / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        number = self._count
        self._count += 1
        ms = now_ms()
        row = b"".join(
            (b"\xeb" if ms >> (BITS - 1 - i) & 1 else b"\x10") * BLOCK for i in range(BITS)
        )
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(row * BAND_ROWS + self._bank[number % 8])
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = number * VIDEO_CLOCK // FPS
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


def read_clock(frame: VideoFrame) -> int:
    plane = frame.planes[0]
    data = bytes(plane)
    value = 0
    for i in range(BITS):
        x = i * BLOCK + BLOCK // 2
        level = sum(data[y * plane.line_size + x] for y in (BLOCK // 2, BLOCK + BLOCK // 2)) / 2
        value = value << 1 | (level > 125)
    return value


class ToneAudioTrack(MediaStreamTrack):
    """A 400 Hz tone in 20 ms stereo frames."""

    kind = "audio"
    RATE, SAMPLES = 48_000, 960

    def __init__(self) -> None:
        super().__init__()
        mono = [
            int(8000 * math.sin(2 * math.pi * 400 * i / self.RATE)) for i in range(self.SAMPLES)
        ]
        self._data = b"".join(struct.pack("<hh", s, s) for s in mono)
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> Frame | Packet[Any]:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._count * self.SAMPLES / self.RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = AudioFrame(format="s16", layout="stereo", samples=self.SAMPLES)
        frame.planes[0].update(self._data)
        frame.sample_rate = self.RATE
        frame.pts = self._count * self.SAMPLES
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._count += 1
        return frame


# ---------------------------------------------------------------- counting subscribers


@dataclass
class Counts:
    packets: int = 0
    video_bytes: int = 0
    video_frames: int = 0
    gaps: int = 0
    keyframes: int = 0
    first_keyframe: float | None = None
    last_seq: dict[int, int] = field(default_factory=dict)
    keyframe_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, kind: str, packet: RtpPacket) -> None:
        self.packets += 1
        last = self.last_seq.get(packet.ssrc)
        seq = packet.sequence_number
        if last is not None:
            jump = (seq - last) & 0xFFFF
            if 1 < jump < 3000:
                self.gaps += jump - 1
            if jump == 0 or jump >= 3000:  # duplicate or late: keep the highest
                return
        self.last_seq[packet.ssrc] = seq
        if kind != "video":
            return
        self.video_bytes += len(packet.payload)
        if packet.marker:
            self.video_frames += 1
        if is_vp8_keyframe_start(packet.payload):
            self.keyframes += 1
            if self.first_keyframe is None:
                self.first_keyframe = time.monotonic()
                self.keyframe_seen.set()


def is_vp8_keyframe_start(p: bytes) -> bool:
    """RFC 7741: S bit and partition 0, then the VP8 frame tag's P bit clear (keyframe)."""
    if len(p) < 2 or not p[0] & 0x10 or p[0] & 0x0F:
        return False
    offset = 1
    if p[0] & 0x80:
        x = p[1]
        offset = 2
        if x & 0x80:
            offset += 2 if len(p) > offset and p[offset] & 0x80 else 1
        if x & 0x40:
            offset += 1
        if x & 0x30:
            offset += 1
    return (
        len(p) > offset + 5 and not p[offset] & 1 and p[offset + 3 : offset + 6] == b"\x9d\x01\x2a"
    )


def count_instead_of_receiving(receiver: RTCRtpReceiver, kind: str, counts: Counts) -> None:
    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        counts.count(kind, packet)

    setattr(receiver, "_handle_rtp_packet", handle)  # noqa: B010 -- per instance, on purpose


def count_then_receive(receiver: RTCRtpReceiver, kind: str, counts: Counts) -> None:
    original = receiver._handle_rtp_packet

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        counts.count(kind, packet)
        await original(packet, arrival_time_ms)

    setattr(receiver, "_handle_rtp_packet", handle)  # noqa: B010


@dataclass
class Sub:
    pc: RTCPeerConnection
    joined: float
    counts: Counts = field(default_factory=Counts)
    decoded: list[tuple[float, int]] = field(default_factory=list)  # (time, latency ms)
    first_frame: float | None = None
    bad_clock: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def hook(sub: Sub, probe: bool) -> None:
    for transceiver in sub.pc.getTransceivers():
        if probe:
            count_then_receive(transceiver.receiver, transceiver.kind, sub.counts)
        else:
            count_instead_of_receiving(transceiver.receiver, transceiver.kind, sub.counts)
    if probe:

        @sub.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            sub.tasks.append(asyncio.get_running_loop().create_task(decode(sub, track)))


async def decode(sub: Sub, track: MediaStreamTrack) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, VideoFrame):
            continue
        if sub.first_frame is None:
            sub.first_frame = time.monotonic()
        latency = (now_ms() - read_clock(frame)) % (1 << BITS)
        if latency < 10_000:
            sub.decoded.append((time.monotonic(), latency))
        else:
            sub.bad_clock += 1


# ---------------------------------------------------------------- backends


Subscribe = Callable[[bool], Awaitable[Sub]]


async def json_call(path: str, message: dict[str, str]) -> dict[str, str]:
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()
    reply: dict[str, str] = json.loads(await reader.readline())
    writer.close()
    return reply


async def publisher_pc() -> RTCPeerConnection:
    pc = make_pc()
    transceiver = pc.addTransceiver(ClockVideoTrack(), direction="sendonly")
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [next(c for c in capabilities if c.mimeType == m) for m in ("video/VP8", "video/rtx")]
    )
    pc.addTransceiver(ToneAudioTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def worker_backend(path: str, closing: list[RTCPeerConnection]) -> Subscribe:
    from media.workers.client import WorkerClient
    from media.workers.media_messages import (
        AnswerApplied,
        Publish,
        PublishAnswer,
        Subscribe,
        SubscribeAnswer,
        SubscribeOffer,
        TrackSpec,
    )

    client = await WorkerClient.connect_unix(path)
    # the worker inherits our environment, so its token (if any) is this one
    await client.hello(token=os.environ.get("SEMINAR_SFU_CONTROL_TOKEN") or None, timeout=20)
    pub = await publisher_pc()
    closing.append(pub)
    mids = {t.kind: t.mid or "" for t in pub.getTransceivers()}
    answer = await client.call(
        Publish(
            transport_id="pub",
            sdp=pub.localDescription.sdp,
            tracks=[
                TrackSpec(track_id="cam", kind="camera", mid=mids["video"]),
                TrackSpec(track_id="mic", kind="microphone", mid=mids["audio"]),
            ],
        ),
        PublishAnswer,
        timeout=20,
    )
    await pub.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
    counter = iter(range(1_000_000))

    async def subscribe(probe: bool) -> Sub:
        transport_id = f"sub-{next(counter)}"
        joined = time.monotonic()
        offer = await client.call(
            Subscribe(transport_id=transport_id, track_ids=["cam", "mic"]),
            SubscribeOffer,
            timeout=30,
        )
        sub = Sub(make_pc(), joined)
        if probe:
            hook(sub, probe=True)  # the track event fires in setRemoteDescription
        await sub.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        if not probe:
            hook(sub, probe=False)
        else:
            for transceiver in sub.pc.getTransceivers():
                count_then_receive(transceiver.receiver, transceiver.kind, sub.counts)
        await sub.pc.setLocalDescription(await sub.pc.createAnswer())
        await client.call(
            SubscribeAnswer(transport_id=transport_id, sdp=sub.pc.localDescription.sdp),
            AnswerApplied,
            timeout=30,
        )
        return sub

    return subscribe


async def offer_side_subscribe(probe: bool, answer: Callable[[str], Awaitable[str]]) -> Sub:
    sub = Sub(make_pc(), time.monotonic())
    sub.pc.addTransceiver("video", direction="recvonly")
    sub.pc.addTransceiver("audio", direction="recvonly")
    hook(sub, probe)
    await sub.pc.setLocalDescription(await sub.pc.createOffer())
    sdp = await answer(sub.pc.localDescription.sdp)
    await sub.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
    return sub


async def relay_backend(path: str, closing: list[RTCPeerConnection]) -> Subscribe:
    pub = await publisher_pc()
    closing.append(pub)
    reply = await json_call(path, {"op": "publish", "sdp": pub.localDescription.sdp})
    await pub.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))

    async def answer(sdp: str) -> str:
        return (await json_call(path, {"op": "subscribe", "sdp": sdp}))["sdp"]

    async def subscribe(probe: bool) -> Sub:
        return await offer_side_subscribe(probe, answer)

    return subscribe


async def direct_backend(closing: list[RTCPeerConnection]) -> Subscribe:
    """The publisher's own peer connection answers each subscriber (one encoder each)."""
    video, audio = ClockVideoTrack(), ToneAudioTrack()
    relay = MediaRelay()

    async def answer(sdp: str) -> str:
        pc = make_pc()
        closing.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        pc.addTrack(relay.subscribe(video, buffered=False))
        pc.addTrack(relay.subscribe(audio))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def subscribe(probe: bool) -> Sub:
        return await offer_side_subscribe(probe, answer)

    return subscribe


async def relay_server(path: str) -> None:
    """MediaRelay: decode the publisher once, encode once per subscriber."""
    relay = MediaRelay()
    tracks: dict[str, MediaStreamTrack] = {}
    pcs: list[RTCPeerConnection] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        message = json.loads(await reader.readline())
        pc = make_pc()
        pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tracks[track.kind] = track

        await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
        if message["op"] == "subscribe":
            pc.addTrack(relay.subscribe(tracks["video"], buffered=False))
            pc.addTrack(relay.subscribe(tracks["audio"], buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        writer.write(json.dumps({"sdp": pc.localDescription.sdp}).encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, path)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------- measurement


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU-seconds spent by every CPU (user, nice, system, irq, softirq), from /proc/stat."""
    with open("/proc/stat") as f:
        columns = f.readline().split()[1:8]
    user, nice, system, _idle, _iowait, irq, softirq = (int(c) for c in columns)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def udp_drops(pid: int) -> int:
    """Drops counted by the kernel on ``pid``'s UDP sockets (/proc/net/udp), since created."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    total = 0
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            columns = line.split()
            if columns[9] in inodes:
                total += int(columns[12])
    return total


def percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    closing: list[RTCPeerConnection] = []
    if args.mode == "worker":
        subscribe = await worker_backend(args.socket, closing)
    elif args.mode == "relay":
        subscribe = await relay_backend(args.socket, closing)
    else:
        subscribe = await direct_backend(closing)
    await asyncio.sleep(args.settle)  # the publisher's encoder and REMB settle
    subs: list[Sub] = []
    cheap = args.n - 1
    for start in range(0, cheap, args.batch):
        batch = range(start, min(cheap, start + args.batch))
        subs += await asyncio.gather(*(subscribe(False) for _ in batch))
    probe = await subscribe(True)  # the late joiner
    subs.append(probe)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.join_timeout):
            await asyncio.gather(*(s.counts.keyframe_seen.wait() for s in subs))
    await asyncio.sleep(args.warmup)
    me = os.getpid()
    before = [(s.counts.packets, s.counts.video_frames, s.counts.gaps) for s in subs]
    bytes_before = [s.counts.video_bytes for s in subs]
    sfu_cpu_0 = cpu_seconds(args.sfu_pid) if args.sfu_pid else 0.0
    busy_0 = machine_busy_seconds()
    load_cpu_0, t0 = cpu_seconds(me), time.monotonic()
    await asyncio.sleep(args.window)
    sfu_cpu_1 = cpu_seconds(args.sfu_pid) if args.sfu_pid else 0.0
    load_cpu_1, t1 = cpu_seconds(me), time.monotonic()
    busy_1 = machine_busy_seconds()
    span = t1 - t0
    packets = sum(s.counts.packets - b[0] for s, b in zip(subs, before, strict=True))
    fps = [(s.counts.video_frames - b[1]) / span for s, b in zip(subs, before, strict=True)]
    gaps = sum(s.counts.gaps - b[2] for s, b in zip(subs, before, strict=True))
    kbps = [
        (s.counts.video_bytes - b) * 8 / span / 1000
        for s, b in zip(subs, bytes_before, strict=True)
    ]
    latencies = [lat for at, lat in probe.decoded if t0 <= at <= t1]
    first = [s.counts.first_keyframe - s.joined for s in subs if s.counts.first_keyframe]
    result = {
        "mode": args.mode,
        "n": args.n,
        "sfu_cores": round((sfu_cpu_1 - sfu_cpu_0) / span, 3) if args.sfu_pid else None,
        "load_cores": round((load_cpu_1 - load_cpu_0) / span, 3),
        "other_cores": round(
            (busy_1 - busy_0 - (sfu_cpu_1 - sfu_cpu_0) - (load_cpu_1 - load_cpu_0)) / span, 2
        ),
        "packets_per_s": round(packets / span),
        "video_fps_min": round(min(fps), 1),
        "video_fps_mean": round(sum(fps) / len(fps), 1),
        "video_kbps_mean": round(sum(kbps) / len(kbps)),
        "gaps": gaps,
        "sfu_udp_drops": udp_drops(args.sfu_pid) if args.sfu_pid else None,
        "load_udp_drops": udp_drops(me),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "latency_samples": len(latencies),
        "bad_clock": probe.bad_clock,
        "probe_first_frame_s": (
            round(probe.first_frame - probe.joined, 3) if probe.first_frame else None
        ),
        "first_keyframe_p50_s": round(sorted(first)[len(first) // 2], 3) if first else None,
        "first_keyframe_max_s": round(max(first), 3) if first else None,
        "no_keyframe": sum(1 for s in subs if s.counts.first_keyframe is None),
        "window_s": round(span, 1),
    }
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip closing N peer connections one by one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load")
    load.add_argument("--mode", choices=["worker", "relay", "direct"], required=True)
    load.add_argument("--socket", default="")
    load.add_argument("--sfu-pid", type=int, default=0)
    load.add_argument("--n", type=int, required=True)
    load.add_argument("--batch", type=int, default=10, help="subscribers joining at once")
    load.add_argument("--settle", type=float, default=3.0)
    load.add_argument("--warmup", type=float, default=3.0)
    load.add_argument("--window", type=float, default=12.0)
    load.add_argument("--join-timeout", type=float, default=20.0)
    relay = commands.add_parser("relay")
    relay.add_argument("--socket", required=True)
    args = parser.parse_args()
    loopback_only()
    if args.command == "relay":
        asyncio.run(relay_server(args.socket))
    else:
        asyncio.run(run_load(args))


if __name__ == "__main__":
    main()
