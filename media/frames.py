"""Frame helpers of the transcoder: turning phone videos upright, and the poster image."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.codec.context import CodecContext
from av.video.frame import VideoFrame

from media.ladder import POSTER_MAX_WIDTH, even


class Upright:
    """Turns frames the way their display matrix says (phones store portrait video sideways).

    ``rotation`` is ``VideoFrame.rotation``: counter-clockwise degrees; as FFmpeg's own
    autorotate, 90 -> ``transpose=cclock``, -90 -> ``transpose=clock``, 180 -> both flips.
    """

    FILTERS: dict[int, tuple[tuple[str, str | None], ...]] = {
        90: (("transpose", "cclock"),),
        270: (("transpose", "clock"),),
        180: (("hflip", None), ("vflip", None)),
    }

    def __init__(self, frame: VideoFrame, turn: int) -> None:
        self.graph = av.filter.Graph()
        nodes = [
            self.graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=Fraction(1, 1000),
            )
        ]
        nodes += [self.graph.add(name, args) for name, args in self.FILTERS[turn]]
        nodes.append(self.graph.add("buffersink"))
        self.graph.link_nodes(*nodes).configure()

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        self.graph.vpush(frame)
        return self.graph.vpull()


def turn(frame: VideoFrame) -> int:
    """The counter-clockwise turn (0, 90, 180, 270) a frame needs to be shown upright."""
    try:
        rotation = frame.rotation
    except (AttributeError, ValueError):
        return 0
    return round((rotation or 0) / 90) % 4 * 90


def write_poster(frame: VideoFrame, path: Path, width: int, height: int) -> None:
    poster_width = even(min(width, POSTER_MAX_WIDTH))
    poster_height = even(height * poster_width // width)
    picture = frame.reformat(width=poster_width, height=poster_height, format="yuvj420p")
    picture.pts = 0
    encoder = CodecContext.create("mjpeg", "w")
    encoder.width = poster_width
    encoder.height = poster_height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qmin": "2", "qmax": "5"}
    data = b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])
    path.write_bytes(data)
