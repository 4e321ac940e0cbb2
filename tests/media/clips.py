"""Test clips generated on the fly with PyAV (nothing binary is committed).

The pictures come from FFmpeg's ``testsrc2`` (a moving pattern with a running counter) and the
sound from ``sine``, both read through the ``lavfi`` pseudo-demuxer, then encoded (H.264 +
AAC, or MPEG-4 Part 2 for variety) into an ordinary container file.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream


def make_clip(
    path: Path,
    *,
    seconds: float = 3.0,
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    audio: bool = True,
    video: bool = True,
    vfr: bool = False,
    container: str | None = None,
    video_codec: str = "libx264",
    rotation: int = 0,
) -> Path:
    """Write a clip of ``seconds`` to ``path`` (the format follows the suffix unless given).

    ``vfr`` drops an irregular pattern of frames and keeps the others at their original times
    (a millisecond time base), as phones and screen recorders do. ``rotation`` stores a display
    matrix turning the picture that many degrees counter-clockwise (a phone held upright).
    """
    with av.open(str(path), mode="w", format=container) as out:
        vstream: VideoStream | None = None
        astream: AudioStream | None = None
        if video:  # every stream is added before the first packet is muxed
            added = out.add_stream(video_codec, rate=fps)
            assert isinstance(added, VideoStream)
            vstream = added
            vstream.width = width
            vstream.height = height
            vstream.pix_fmt = "yuv420p"
            if video_codec == "libx264":
                vstream.options = {"preset": "ultrafast", "crf": "30"}
            if vfr:
                vstream.codec_context.time_base = Fraction(1, 1000)
            if rotation:
                vstream.set_display_rotation(rotation)
        if audio:
            astream = out.add_stream("aac", rate=44100)
            astream.layout = "mono"
        if vstream is not None:
            source = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
            with av.open(source, format="lavfi") as lavfi:
                for index, frame in enumerate(lavfi.decode(video=0)):
                    if vfr and index % 7 in (2, 3, 5):
                        continue
                    picture = frame.reformat(format="yuv420p")
                    if vfr:
                        picture.pts = round(index * 1000 / fps)
                        picture.time_base = Fraction(1, 1000)
                    else:
                        picture.pts = index
                        picture.time_base = Fraction(1, fps)
                    out.mux(vstream.encode(picture))
            out.mux(vstream.encode(None))
        if astream is not None:
            source = f"sine=frequency=440:sample_rate=44100:duration={seconds}"
            with av.open(source, format="lavfi") as lavfi:
                for sound in lavfi.decode(audio=0):
                    out.mux(astream.encode(sound))
            out.mux(astream.encode(None))
    return path
