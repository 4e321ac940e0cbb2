"""One HLS rendition being written: its hls muxer, H.264 encoder and optional AAC encoder."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from media.errors import TranscodeFailed
from media.ladder import (
    AUDIO_CODEC,
    AUDIO_RATE,
    KEYFRAME_SECONDS,
    SEGMENT_SECONDS,
    X264_CRF,
    X264_PRESET,
    Rendition,
    RenditionResult,
)


def _h264_codec(packet_data: bytes) -> str | None:
    """``avc1.PPCCLL`` from the SPS in an Annex B access unit (x264 repeats it at each IDR)."""
    start = 0
    while True:
        start = packet_data.find(b"\x00\x00\x01", start)
        if start < 0 or start + 6 > len(packet_data):
            return None
        header = packet_data[start + 3]
        if header & 0x1F == 7:
            profile, constraints, level = packet_data[start + 4 : start + 7]
            return f"avc1.{profile:02x}{constraints:02x}{level:02x}"
        start += 3


class RenditionWriter:
    """One rendition: its hls muxer, H.264 encoder and (optional) AAC encoder."""

    def __init__(
        self,
        rung: Rendition,
        width: int,
        height: int,
        directory: Path,
        rate: Fraction,
        with_audio: bool,
        preset: str = X264_PRESET,
    ) -> None:
        self.rung = rung
        self.width = width
        self.height = height
        self.directory = directory
        self.video_codec: str | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.container: OutputContainer = av.open(
            str(directory / "index.m3u8"),
            mode="w",
            format="hls",
            options={
                "hls_time": str(SEGMENT_SECONDS),
                "hls_playlist_type": "vod",
                "hls_segment_type": "mpegts",
                "hls_segment_filename": str(directory / "seg_%05d.ts"),
                "hls_flags": "independent_segments",
            },
        )
        video = self.container.add_stream("libx264", rate=rate)
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = 1 / rate
        video.codec_context.thread_count = os.cpu_count() or 1
        kbps = rung.video_kbps
        keyint = math.ceil(rate * KEYFRAME_SECONDS) * 2  # a safety net: forced IDRs rule
        video.options = {
            "preset": preset,
            "profile": "main",
            "crf": str(X264_CRF),
            "maxrate": f"{kbps}k",
            "bufsize": f"{kbps * 2}k",
            "forced-idr": "1",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:open-gop=0",
        }
        self.video: VideoStream = video
        self.audio: AudioStream | None = None
        if with_audio:
            audio = self.container.add_stream("aac", rate=AUDIO_RATE)
            audio.layout = "stereo"
            audio.format = "fltp"
            audio.bit_rate = rung.audio_kbps * 1000
            audio.codec_context.time_base = Fraction(1, AUDIO_RATE)
            self.audio = audio

    def encode_video(self, frame: VideoFrame | None) -> None:
        packets = self.video.encode(frame)
        if self.video_codec is None:
            for packet in packets:
                self.video_codec = _h264_codec(bytes(packet))
                if self.video_codec is not None:
                    break
        self.container.mux(packets)

    def encode_audio(self, frame: AudioFrame | None) -> None:
        if self.audio is not None:
            self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        self.container.close()

    def result(self) -> RenditionResult:
        durations: list[tuple[float, int]] = []
        duration: float | None = None
        for line in (self.directory / "index.m3u8").read_text().splitlines():
            if line.startswith("#EXTINF:"):
                duration = float(line[len("#EXTINF:") :].split(",")[0])
            elif line and not line.startswith("#") and duration is not None:
                if "/" in line or ":" in line:
                    raise TranscodeFailed(f"unexpected segment URI {line!r} in the playlist")
                durations.append((duration, (self.directory / line).stat().st_size))
                duration = None
        if not durations:
            raise TranscodeFailed(f"rendition {self.rung.name} has no segments")
        total_seconds = sum(seconds for seconds, _ in durations)
        total_bits = sum(size for _, size in durations) * 8
        # The peak over segments of at least a second: a short tail segment that is mostly a
        # keyframe would otherwise claim an absurd peak.
        long_enough = [(s, b) for s, b in durations if s >= 1.0] or durations
        peak = max(size * 8 / max(seconds, 0.001) for seconds, size in long_enough)
        average = total_bits / max(total_seconds, 0.001)
        codecs = self.video_codec or "avc1.4d401f"
        if self.audio is not None:
            codecs += f",{AUDIO_CODEC}"
        return RenditionResult(
            name=self.rung.name,
            width=self.width,
            height=self.height,
            bandwidth=math.ceil(max(peak, average)),
            average_bandwidth=math.ceil(average),
            codecs=codecs,
        )
