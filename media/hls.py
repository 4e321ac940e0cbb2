"""Transcode an uploaded video to HLS (H.264 + AAC in MPEG-TS segments) with PyAV.

Synchronous and CPU-heavy: the server runs it in a child process (``media.transcode``, through
``python -m media.hls SOURCE OUT_DIR``), never on its event loop.

What it produces in ``out_dir``::

    master.m3u8             the multivariant playlist, renditions lowest first
    poster.jpg              a frame at ~10 % of the duration (at most 5 s in), <= 1280 px wide
    360p/index.m3u8         a VOD media playlist (#EXT-X-ENDLIST), relative URIs
    360p/seg_00000.ts ...   ~4 s MPEG-TS segments
    720p/...

Decisions worth knowing:

- The input is decoded once; each video frame is scaled once per rung. A rung's ``height`` is
  the *shorter* side of the picture, so a portrait 1080x1920 phone video gets 360x640 and
  720x1280 renditions. Rungs taller than the source are skipped (no upscaling); when the source
  is smaller than every rung, the smallest rung is produced at the source's own size (even
  dimensions) and named after it (``180p`` for a 320x180 source).
- Timestamps come from the decoded frames (variable frame rate sources stay in sync with their
  sound): each frame goes on a grid of the output rate (the source's average rate capped at
  60 fps, 30 when unknown); frames that would land on an already used slot are dropped.
- Keyframes are forced every 2 s of *time* (IDR, scene-cut detection off) in every rendition,
  so the segments of all renditions start at the same instants and players can switch.
- Rate control is capped CRF: ``crf`` 23 with ``maxrate`` = the rung's kbps and ``bufsize`` =
  twice that, so easy content uses fewer bits than the cap.
- Only common container formats are opened (``format_whitelist``) and only local files
  (``protocol_whitelist=file``): an uploaded playlist or concat script cannot make FFmpeg read
  other files or the network.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.error import FFmpegError
from av.frame import Frame
from av.stream import Discard, Disposition
from av.video.frame import PictureType, VideoFrame
from av.video.stream import VideoStream

from media.errors import MediaError, TranscodeCancelled, TranscodeFailed, UnreadableMedia
from media.frames import Upright, turn, write_poster
from media.ladder import (
    ALLOWED_DEMUXERS,
    AUDIO_RATE,
    DEFAULT_FPS,
    DEFAULT_LADDER,
    KEYFRAME_SECONDS,
    MAX_DIMENSION,
    MAX_FPS,
    X264_PRESET,
    Rendition,
    RenditionResult,
    TranscodeResult,
    plan_ladder,
)
from media.rendition import RenditionWriter

__all__ = [
    "DEFAULT_LADDER",
    "Rendition",
    "RenditionResult",
    "TranscodeResult",
    "main",
    "plan_ladder",
    "transcode",
]

logger = logging.getLogger(__name__)


def _format_duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _open_input(source: Path) -> InputContainer:
    try:
        size = source.stat().st_size
    except FileNotFoundError as exc:
        raise TranscodeFailed(f"the source file {source} does not exist") from exc
    if size == 0:
        raise UnreadableMedia("The file is empty.")
    try:
        return av.open(
            str(source),
            mode="r",
            options={"format_whitelist": ALLOWED_DEMUXERS, "protocol_whitelist": "file"},
            metadata_errors="ignore",
        )
    except (FFmpegError, UnicodeDecodeError, ValueError) as exc:
        logger.info("cannot open %s: %s", source, exc)
        raise UnreadableMedia(
            "The file is not a video format we can read (it may be damaged or incomplete). "
            "Please upload an MP4, MOV, WebM or MKV video."
        ) from exc


def _pick_streams(container: InputContainer) -> tuple[VideoStream, AudioStream | None]:
    videos = [
        stream
        for stream in container.streams.video
        if not stream.disposition & Disposition.attached_pic
    ]
    audios = list(container.streams.audio)
    if not videos:
        if audios:
            raise UnreadableMedia("The file contains only sound; please upload a video.")
        raise UnreadableMedia("The file contains no video.")
    return videos[0], (audios[0] if audios else None)


def _declared_duration(container: InputContainer, video: VideoStream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if video.duration is not None and video.duration > 0 and video.time_base is not None:
        return float(video.duration * video.time_base)
    return None


def _output_rate(video: VideoStream) -> Fraction:
    rate = video.average_rate or video.guessed_rate
    if rate is None or rate <= 0 or rate > 1000:
        return Fraction(DEFAULT_FPS)
    return min(Fraction(rate).limit_denominator(1001), Fraction(MAX_FPS))


def _display_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    if sar is not None and sar > 0 and sar != 1:
        return max(2, round(width * sar)), height
    return width, height


def _seconds(value: int | None) -> float | None:
    """A container time (AV_TIME_BASE units; the stubs say never None, FFmpeg disagrees)."""
    return None if value is None else value / av.time_base


def _time(frame: Frame) -> float | None:
    """A frame's time in seconds; ``None`` when it has no pts (typed as ``float`` for video)."""
    return frame.time


class _Transcoder:
    def __init__(
        self,
        source: Path,
        out_dir: Path,
        ladder: Sequence[Rendition],
        on_progress: Callable[[float], None] | None,
        should_stop: Callable[[], bool] | None,
        max_duration_seconds: float,
        preset: str,
    ) -> None:
        self.preset = preset
        self.source = source
        self.out_dir = out_dir
        self.ladder = ladder
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.max_duration = max_duration_seconds
        self.reported = 0.0
        self.outputs: list[RenditionWriter] = []

    def progress(self, percent: float) -> None:
        percent = min(percent, 99.0)
        if self.on_progress is not None and percent >= self.reported + 1.0:
            self.reported = percent
            self.on_progress(round(percent, 1))

    def run(self) -> TranscodeResult:
        container = _open_input(self.source)
        try:
            return self._run(container)
        finally:
            for output in self.outputs:
                try:
                    output.close()
                except (FFmpegError, OSError) as exc:  # already failing or cancelled
                    logger.debug("closing %s: %s", output.directory, exc)
            container.close()

    def _run(self, container: InputContainer) -> TranscodeResult:
        video, audio = _pick_streams(container)
        context = video.codec_context
        if context.width > MAX_DIMENSION or context.height > MAX_DIMENSION:
            raise UnreadableMedia(
                f"The video is {context.width}x{context.height} pixels; the largest supported "
                f"size is {MAX_DIMENSION} pixels on a side."
            )
        duration = _declared_duration(container, video)
        if duration is not None and duration > self.max_duration:
            raise UnreadableMedia(
                f"The video is {_format_duration(duration)} long; the longest supported is "
                f"{_format_duration(self.max_duration)}."
            )
        rate = _output_rate(video)
        context.thread_type = "AUTO"
        file_size = self.source.stat().st_size
        streams: list[VideoStream | AudioStream] = [video] if audio is None else [video, audio]
        for stream in container.streams:
            if stream not in streams:
                stream.discard = Discard.all  # do not even demux subtitles, data...

        self.out_dir.mkdir(parents=True, exist_ok=True)
        origin = _seconds(container.start_time)
        resampler = AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE, frame_size=1024)
        audio_next: int | None = None  # next output sample, 1/48000 s
        last_slot = -1
        last_time = 0.0
        next_key = 0.0
        frames = 0
        decode_errors = 0
        width = height = 0
        first_frame: VideoFrame | None = None
        upright: Upright | None = None
        angle = 0
        poster_written = False
        poster_at = min(5.0, 0.1 * duration) if duration else 0.0

        def encode_audio(frame: AudioFrame | None) -> None:
            nonlocal audio_next
            for sound in resampler.resample(frame):
                assert audio_next is not None
                sound.pts = audio_next
                sound.time_base = Fraction(1, AUDIO_RATE)
                audio_next += sound.samples
                for output in self.outputs:
                    output.encode_audio(sound)

        def start(frame: VideoFrame) -> None:
            nonlocal width, height
            if frame.width > MAX_DIMENSION or frame.height > MAX_DIMENSION:
                raise UnreadableMedia(
                    f"The video is {frame.width}x{frame.height} pixels; the largest supported "
                    f"size is {MAX_DIMENSION} pixels on a side."
                )
            sar = context.sample_aspect_ratio
            if angle in (90, 270):  # the pixel aspect ratio applies to the stored orientation
                height, width = _display_size(frame.height, frame.width, sar)
            else:
                width, height = _display_size(frame.width, frame.height, sar)
            for rung, out_width, out_height in plan_ladder(width, height, self.ladder):
                self.outputs.append(
                    RenditionWriter(
                        rung,
                        out_width,
                        out_height,
                        self.out_dir / rung.name,
                        rate,
                        with_audio=audio is not None,
                        preset=self.preset,
                    )
                )

        pending_audio: list[AudioFrame] = []  # sound decoded before the first picture
        for packet in container.demux(streams):
            if self.should_stop is not None and self.should_stop():
                raise TranscodeCancelled("the transcode was cancelled")
            try:
                decoded = packet.decode()
            except FFmpegError as exc:
                decode_errors += 1
                logger.debug("decode error in %s: %s", self.source, exc)
                continue
            for item in decoded:
                if isinstance(item, AudioFrame):
                    if origin is None:
                        origin = item.time or 0.0
                    if audio_next is None:
                        offset = max(0.0, (item.time or origin) - origin)
                        audio_next = round(offset * AUDIO_RATE)
                    if not self.outputs:
                        pending_audio.append(item)
                        continue
                    encode_audio(item)
                    continue
                if not isinstance(item, VideoFrame):
                    continue
                if origin is None:
                    origin = _time(item) or 0.0
                moment = _time(item)
                if moment is None:
                    moment = last_time + 1 / float(rate)
                last_time = moment
                elapsed = max(0.0, moment - origin)
                if elapsed > self.max_duration:
                    raise UnreadableMedia(
                        f"The video is longer than {_format_duration(self.max_duration)}, "
                        "the longest supported."
                    )
                slot = round(elapsed * rate)
                if slot <= last_slot:
                    continue  # above the output rate, or a repeated timestamp
                last_slot = slot
                if not self.outputs:
                    angle = turn(item)
                    upright = Upright(item, angle) if angle else None
                if upright is not None:
                    item = upright(item)
                if not self.outputs:
                    start(item)
                    first_frame = item
                    for sound in pending_audio:
                        encode_audio(sound)
                    pending_audio.clear()
                if not poster_written and elapsed >= poster_at:
                    write_poster(item, self.out_dir / "poster.jpg", width, height)
                    poster_written = True
                keyframe = slot / rate >= next_key
                if keyframe:
                    while next_key <= slot / rate:
                        next_key += KEYFRAME_SECONDS
                # Largest rung first, each smaller one scaled from the previous: 720p -> 360p
                # costs a quarter of 1080p -> 360p, and scaling is a fifth of the CPU.
                larger = item
                for output in reversed(self.outputs):
                    scaled = larger.reformat(
                        width=output.width, height=output.height, format="yuv420p"
                    )
                    larger = scaled
                    scaled.pts = slot
                    scaled.time_base = 1 / rate
                    scaled.pict_type = PictureType.I if keyframe else PictureType.NONE
                    output.encode_video(scaled)
                frames += 1
                if duration:
                    self.progress(100.0 * elapsed / duration)
                elif packet.pos is not None and packet.pos >= 0:
                    self.progress(100.0 * packet.pos / file_size)

        if frames == 0:
            raise UnreadableMedia(
                "No picture could be decoded from the file; it may be damaged, incomplete, "
                "or use a video format we do not support."
            )
        if decode_errors:
            logger.warning("%s: %d packets could not be decoded", self.source, decode_errors)
        if audio is not None and audio_next is not None:
            encode_audio(None)
        for output in self.outputs:
            output.encode_video(None)
            output.encode_audio(None)
            output.close()
        if not poster_written and first_frame is not None:
            write_poster(first_frame, self.out_dir / "poster.jpg", width, height)

        video_end = (last_slot + 1) / float(rate)
        audio_end = 0.0 if audio_next is None else audio_next / AUDIO_RATE
        results = tuple(output.result() for output in self.outputs)
        _write_master(self.out_dir / "master.m3u8", results, rate)
        if self.on_progress is not None:
            self.on_progress(100.0)
        return TranscodeResult(
            duration_seconds=round(max(video_end, audio_end), 3),
            width=width,
            height=height,
            has_audio=audio is not None,
            renditions=results,
        )


def _write_master(path: Path, renditions: Sequence[RenditionResult], rate: Fraction) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in sorted(renditions, key=lambda r: (r.bandwidth, r.height)):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},"
            f"AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f"RESOLUTION={rendition.width}x{rendition.height},"
            f"FRAME-RATE={float(rate):.3f},"
            f'CODECS="{rendition.codecs}"'
        )
        lines.append(f"{rendition.name}/index.m3u8")
    path.write_text("\n".join(lines) + "\n")


def transcode(
    source: Path,
    out_dir: Path,
    *,
    ladder: Sequence[Rendition] = DEFAULT_LADDER,
    on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_duration_seconds: float = 6 * 3600,
    preset: str = X264_PRESET,
) -> TranscodeResult:
    """Transcode ``source`` into an HLS ladder in ``out_dir`` (created if missing).

    ``on_progress`` gets a percentage (0-100, non-decreasing, about every 1 %, 100 at the end);
    ``should_stop`` is polled once per demuxed packet and ``True`` raises
    ``TranscodeCancelled``. Raises ``UnreadableMedia`` (permanent, a plain-English message for
    the uploader) when the input is not a readable video, ``TranscodeFailed`` otherwise.

    On any failure ``out_dir`` may hold partial output: the caller deletes it.
    """
    try:
        return _Transcoder(
            source, out_dir, ladder, on_progress, should_stop, max_duration_seconds, preset
        ).run()
    except MediaError:
        raise
    except (FFmpegError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        raise TranscodeFailed(f"transcoding failed: {type(exc).__name__}: {exc}") from exc


def _watch_stdin(stop: threading.Event) -> None:
    """Set ``stop`` when stdin reaches EOF: the parent closed it or died."""
    try:
        fd = sys.stdin.fileno()
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader holds its
        # lock, and the interpreter aborts at exit trying to take it.
        while os.read(fd, 4096):
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def _emit(message: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """The child-process entry: JSON lines on stdout; exit 0 done, 2 unreadable, 1 failed."""
    parser = argparse.ArgumentParser(prog="python -m media.hls", description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--ignore-stdin",
        action="store_true",
        help="do not stop when stdin reaches EOF (by default closing stdin cancels the run)",
    )
    parser.add_argument("--nice", type=int, default=10, help="niceness increment (default 10)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="media.hls: %(message)s")
    if args.nice:
        os.nice(args.nice)  # let the web server's process win the CPU on small machines
    stop = threading.Event()
    if not args.ignore_stdin:
        threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    try:
        result = transcode(
            args.source,
            args.out_dir,
            on_progress=lambda percent: _emit({"progress": percent}),
            should_stop=stop.is_set,
        )
    except UnreadableMedia as exc:
        _emit({"error": str(exc), "permanent": True})
        return 2
    except MediaError as exc:
        logger.warning("%s: %s", type(exc).__name__, exc, exc_info=exc.__cause__ is not None)
        _emit({"error": str(exc), "permanent": False})
        return 1
    except Exception as exc:  # the process boundary: report it, never a traceback on stdout
        logger.exception("unexpected failure")
        _emit({"error": f"unexpected failure: {type(exc).__name__}: {exc}", "permanent": False})
        return 1
    _emit({"result": result.to_json()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
