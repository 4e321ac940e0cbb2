"""The HLS ladder: the renditions a transcode produces, and what each one turned out to be.

Shared by ``media.hls`` (the transcoder) and its rendition writer; no PyAV here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

SEGMENT_SECONDS = 4
KEYFRAME_SECONDS = 2
MAX_FPS = 60
DEFAULT_FPS = 30
MAX_DIMENSION = 8192
POSTER_MAX_WIDTH = 1280
AUDIO_RATE = 48000
X264_PRESET = "veryfast"  # bench/transcode.py and docs/benchmarks.md: why
X264_CRF = 23
# Demuxers we accept (FFmpeg names). Not image2, concat, hls, dash, lavfi...: formats that
# read other files or sources would let an upload reach outside itself.
ALLOWED_DEMUXERS = "mov,mp4,matroska,webm,avi,mpegts,flv,ogg,asf,mpeg,3gp"
AUDIO_CODEC = "mp4a.40.2"  # AAC-LC


@dataclass(frozen=True, slots=True)
class Rendition:
    """One rung of the ladder; ``height`` is the shorter side of the picture."""

    name: str  # also the sub-directory name
    height: int
    video_kbps: int
    audio_kbps: int


DEFAULT_LADDER: tuple[Rendition, ...] = (
    Rendition("360p", 360, 800, 96),
    Rendition("720p", 720, 2800, 128),
)


@dataclass(frozen=True, slots=True)
class RenditionResult:
    name: str
    width: int
    height: int
    bandwidth: int  # peak bits/s over segments (EXT-X-STREAM-INF BANDWIDTH)
    average_bandwidth: int
    codecs: str  # 'avc1.4d401e,mp4a.40.2'; without audio only the video codec


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    duration_seconds: float
    width: int  # the source's display size
    height: int
    has_audio: bool
    renditions: tuple[RenditionResult, ...]
    master: str = "master.m3u8"  # relative to out_dir
    poster: str = "poster.jpg"  # relative to out_dir

    def to_json(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration_seconds,
            "width": self.width,
            "height": self.height,
            "has_audio": self.has_audio,
            "renditions": [
                {
                    "name": r.name,
                    "width": r.width,
                    "height": r.height,
                    "bandwidth": r.bandwidth,
                    "average_bandwidth": r.average_bandwidth,
                    "codecs": r.codecs,
                }
                for r in self.renditions
            ],
            "master": self.master,
            "poster": self.poster,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TranscodeResult:
        return cls(
            duration_seconds=float(data["duration_seconds"]),
            width=int(data["width"]),
            height=int(data["height"]),
            has_audio=bool(data["has_audio"]),
            renditions=tuple(
                RenditionResult(
                    name=str(r["name"]),
                    width=int(r["width"]),
                    height=int(r["height"]),
                    bandwidth=int(r["bandwidth"]),
                    average_bandwidth=int(r["average_bandwidth"]),
                    codecs=str(r["codecs"]),
                )
                for r in data["renditions"]
            ),
            master=str(data.get("master", "master.m3u8")),
            poster=str(data.get("poster", "poster.jpg")),
        )


def even(value: int) -> int:
    return max(2, value // 2 * 2)


def plan_ladder(
    width: int, height: int, ladder: Sequence[Rendition]
) -> list[tuple[Rendition, int, int]]:
    """The rungs to produce for a ``width`` x ``height`` (display) source, with their sizes.

    Rungs whose height (shorter side) exceeds the source's shorter side are skipped; if none
    is left, the smallest rung is produced at the source's size, named after it.
    """
    if not ladder:
        raise ValueError("the ladder is empty")
    short = min(width, height)
    rungs = sorted(ladder, key=lambda rung: rung.height)
    chosen = [rung for rung in rungs if rung.height <= short]
    if not chosen:
        side = even(short)
        chosen = [replace(rungs[0], name=f"{side}p", height=side)]
    planned: list[tuple[Rendition, int, int]] = []
    for rung in chosen:
        side = even(rung.height)
        if width >= height:
            size = (even(width * side // height), side)
        else:
            size = (side, even(height * side // width))
        if all((w, h) != size for _, w, h in planned):
            planned.append((rung, *size))
    return planned
