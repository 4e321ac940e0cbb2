"""media.hls.transcode on real clips generated with PyAV (tests/media/clips.py)."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from media.errors import TranscodeCancelled, UnreadableMedia
from media.hls import (
    DEFAULT_LADDER,
    Rendition,
    TranscodeResult,
    plan_ladder,
    transcode,
)
from tests.media.clips import make_clip

pytestmark = pytest.mark.timeout(60)

SMALL_LADDER = (Rendition("180p", 180, 300, 64), Rendition("360p", 360, 800, 96))


class Run:
    def __init__(self, source: Path, out: Path, result: TranscodeResult, progress: list[float]):
        self.source = source
        self.out = out
        self.result = result
        self.progress = progress


def _run(
    tmp: Path, name: str, make: Callable[[Path], Path], **kwargs: object
) -> Run:  # a transcode shared by the tests of one module
    source = make(tmp / name)
    out = tmp / f"{name}-hls"
    progress: list[float] = []
    result = transcode(source, out, on_progress=progress.append, **kwargs)  # type: ignore[arg-type]
    return Run(source, out, result, progress)


@pytest.fixture(scope="module")
def hd(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """3 s of 1280x720 at 25 fps with sound: both rungs of the default ladder."""
    tmp = tmp_path_factory.mktemp("hd")
    return _run(tmp, "hd.mp4", lambda p: make_clip(p, seconds=3, width=1280, height=720))


@pytest.fixture(scope="module")
def long_small(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """9 s of 640x360 (three segments) through a 180p + 360p ladder."""
    tmp = tmp_path_factory.mktemp("long")
    return _run(
        tmp,
        "long.mkv",
        lambda p: make_clip(p, seconds=9, width=640, height=360, fps=15),
        ladder=SMALL_LADDER,
    )


def media_playlist(path: Path) -> list[tuple[float, str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    segments: list[tuple[float, str]] = []
    for index, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            segments.append((float(line[8:].split(",")[0]), lines[index + 1]))
    return segments


def master_playlist(path: Path) -> list[tuple[dict[str, str], str]]:
    lines = path.read_text().splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    variants: list[tuple[dict[str, str], str]] = []
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = {
                key: value.strip('"')
                for key, value in re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line[18:])
            }
            variants.append((attributes, lines[index + 1]))
    return variants


def decode_segment(path: Path) -> tuple[list[VideoFrame], list[AudioFrame], str, str | None]:
    with av.open(str(path)) as container:
        video_codec = container.streams.video[0].codec_context.name
        audio_codec = (
            container.streams.audio[0].codec_context.name if container.streams.audio else None
        )
        pictures: list[VideoFrame] = []
        sounds: list[AudioFrame] = []
        for packet in container.demux():
            for frame in packet.decode():
                if isinstance(frame, VideoFrame):
                    pictures.append(frame)
                elif isinstance(frame, AudioFrame):
                    sounds.append(frame)
    return pictures, sounds, video_codec, audio_codec


def source_duration(path: Path) -> float:
    with av.open(str(path)) as container:
        assert container.duration is not None
        return container.duration / av.time_base


def test_output_layout(hd: Run) -> None:
    out = hd.out
    assert (out / "master.m3u8").is_file()
    assert (out / "poster.jpg").is_file()
    for name in ("360p", "720p"):
        assert (out / name / "index.m3u8").is_file()
        assert (out / name / "seg_00000.ts").is_file()
    assert hd.result.master == "master.m3u8"
    assert hd.result.poster == "poster.jpg"
    assert (hd.result.width, hd.result.height, hd.result.has_audio) == (1280, 720, True)


def test_master_lists_renditions_lowest_first(hd: Run) -> None:
    variants = master_playlist(hd.out / "master.m3u8")
    assert [uri for _, uri in variants] == ["360p/index.m3u8", "720p/index.m3u8"]
    assert [attrs["RESOLUTION"] for attrs, _ in variants] == ["640x360", "1280x720"]
    bandwidths = [int(attrs["BANDWIDTH"]) for attrs, _ in variants]
    assert bandwidths == sorted(bandwidths)
    for (attrs, _), rendition in zip(variants, hd.result.renditions, strict=True):
        assert int(attrs["BANDWIDTH"]) == rendition.bandwidth
        assert int(attrs["AVERAGE-BANDWIDTH"]) == rendition.average_bandwidth
        assert rendition.average_bandwidth <= rendition.bandwidth
        assert re.fullmatch(r"avc1\.4d[0-9a-f]{4},mp4a\.40\.2", attrs["CODECS"])
        assert attrs["CODECS"] == rendition.codecs


def test_media_playlists_are_vod_with_relative_uris(hd: Run) -> None:
    for name in ("360p", "720p"):
        segments = media_playlist(hd.out / name / "index.m3u8")
        assert segments
        for seconds, uri in segments:
            assert re.fullmatch(r"seg_\d{5}\.ts", uri)
            assert 0 < seconds <= 4.5
            assert (hd.out / name / uri).is_file()


def test_segments_decode_as_h264_and_aac_at_the_rung_size(hd: Run) -> None:
    for name, size in (("360p", (640, 360)), ("720p", (1280, 720))):
        for _, uri in media_playlist(hd.out / name / "index.m3u8"):
            pictures, sounds, video_codec, audio_codec = decode_segment(hd.out / name / uri)
            assert (video_codec, audio_codec) == ("h264", "aac")
            assert {(p.width, p.height) for p in pictures} == {size}
            assert {(s.sample_rate, s.layout.name) for s in sounds} == {(48000, "stereo")}


def test_duration_matches_the_source(hd: Run) -> None:
    expected = source_duration(hd.source)
    assert hd.result.duration_seconds == pytest.approx(expected, abs=0.5)
    for name in ("360p", "720p"):
        total = sum(seconds for seconds, _ in media_playlist(hd.out / name / "index.m3u8"))
        assert total == pytest.approx(expected, abs=0.5)


def test_progress_is_non_decreasing_and_ends_at_100(hd: Run) -> None:
    progress = hd.progress
    assert progress[-1] == 100.0
    assert progress == sorted(progress)
    assert all(0 <= value <= 100 for value in progress)
    assert 5 <= len(progress) <= 101


def test_poster_is_a_jpeg_of_the_video(hd: Run) -> None:
    data = (hd.out / "poster.jpg").read_bytes()
    assert data[:2] == b"\xff\xd8"
    with av.open(str(hd.out / "poster.jpg")) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (1280, 720)


def test_segments_and_keyframes_align_across_renditions(long_small: Run) -> None:
    out = long_small.out
    ladders = {name: media_playlist(out / name / "index.m3u8") for name in ("180p", "360p")}
    assert len(ladders["180p"]) >= 2
    assert [s for s, _ in ladders["180p"]] == [s for s, _ in ladders["360p"]]
    starts: dict[str, list[float]] = {}
    for name, segments in ladders.items():
        starts[name] = []
        for _, uri in segments:
            pictures, _, _, _ = decode_segment(out / name / uri)
            assert pictures[0].key_frame  # every segment starts with a keyframe
            assert pictures[0].time is not None
            starts[name].append(round(pictures[0].time, 3))
            keyframes = [p.time for p in pictures if p.key_frame]
            gaps = {round(b - a, 3) for a, b in itertools.pairwise(keyframes)}
            assert gaps <= {2.0}  # a keyframe every 2 s, none in between
    assert starts["180p"] == starts["360p"]
    assert [r.name for r in long_small.result.renditions] == ["180p", "360p"]
    assert [(r.width, r.height) for r in long_small.result.renditions] == [(320, 180), (640, 360)]


def test_video_without_audio(tmp_path: Path) -> None:
    run = _run(tmp_path, "mute.mp4", lambda p: make_clip(p, seconds=2, audio=False))
    assert run.result.has_audio is False
    assert run.result.renditions[0].codecs.startswith("avc1.")
    assert "mp4a" not in run.result.renditions[0].codecs
    pictures, sounds, _, audio_codec = decode_segment(run.out / "360p" / "seg_00000.ts")
    assert pictures
    assert (sounds, audio_codec) == ([], None)
    assert "mp4a" not in (run.out / "master.m3u8").read_text()


def test_portrait_video_keeps_its_orientation(tmp_path: Path) -> None:
    run = _run(tmp_path, "portrait.mp4", lambda p: make_clip(p, seconds=1, width=720, height=1280))
    assert (run.result.width, run.result.height) == (720, 1280)
    sizes = [(r.name, r.width, r.height) for r in run.result.renditions]
    assert sizes == [("360p", 360, 640), ("720p", 720, 1280)]
    pictures, _, _, _ = decode_segment(run.out / "720p" / "seg_00000.ts")
    assert (pictures[0].width, pictures[0].height) == (720, 1280)
    with av.open(str(run.out / "poster.jpg")) as container:
        poster = next(container.decode(video=0))
    assert (poster.width, poster.height) == (720, 1280)


def test_rotated_phone_video_is_turned_upright(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "phone.mp4", seconds=1, width=640, height=360, rotation=90)
    result = transcode(source, tmp_path / "out")
    assert (result.width, result.height) == (360, 640)
    assert [(r.width, r.height) for r in result.renditions] == [(360, 640)]
    with av.open(str(source)) as container:
        stored = next(container.decode(video=0))
    pictures, _, _, _ = decode_segment(tmp_path / "out" / "360p" / "seg_00000.ts")
    assert (pictures[0].width, pictures[0].height, pictures[0].rotation) == (360, 640, 0)

    def luma(frame: VideoFrame) -> Callable[[int, int], int]:
        plane = frame.planes[0]
        data, stride = bytes(plane), plane.line_size
        return lambda x, y: data[y * stride + x]

    before, after = luma(stored), luma(pictures[0])
    points = [(x, y) for x in range(20, 620, 60) for y in range(20, 340, 60)]
    # turned 90 degrees counter-clockwise: the stored (x, y) is shown at (y, 639 - x)
    error = sum(abs(before(x, y) - after(y, 639 - x)) for x, y in points) / len(points)
    assert error < 10


def test_small_source_gets_one_rung_at_its_own_size(tmp_path: Path) -> None:
    run = _run(tmp_path, "small.mp4", lambda p: make_clip(p, seconds=1, width=320, height=180))
    assert [(r.name, r.width, r.height) for r in run.result.renditions] == [("180p", 320, 180)]
    [(attrs, uri)] = master_playlist(run.out / "master.m3u8")
    assert (attrs["RESOLUTION"], uri) == ("320x180", "180p/index.m3u8")
    pictures, _, _, _ = decode_segment(run.out / "180p" / "seg_00000.ts")
    assert (pictures[0].width, pictures[0].height) == (320, 180)


def test_wide_poster_is_at_most_1280_wide(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        "wide.mp4",
        lambda p: make_clip(p, seconds=1, width=1600, height=400, audio=False),
        ladder=SMALL_LADDER[:1],
    )
    with av.open(str(run.out / "poster.jpg")) as container:
        poster = next(container.decode(video=0))
    assert (poster.width, poster.height) == (1280, 320)


def test_variable_frame_rate_stays_in_sync(tmp_path: Path) -> None:
    run = _run(tmp_path, "vfr.mkv", lambda p: make_clip(p, seconds=3, vfr=True))
    expected = source_duration(run.source)
    assert run.result.duration_seconds == pytest.approx(expected, abs=0.5)
    with av.open(str(run.source)) as container:
        source_times = [f.time for f in container.decode(video=0)]
    pictures, sounds, _, _ = decode_segment(run.out / "360p" / "seg_00000.ts")
    output_times = [p.time for p in pictures]
    assert len(output_times) == len(source_times)  # no frame dropped or duplicated
    offset = output_times[0] - source_times[0]
    for before, after in zip(source_times, output_times, strict=True):
        assert after - offset == pytest.approx(before, abs=0.021)  # the original gaps
    assert sounds[0].time is not None
    # the sound starts with the picture (AAC's 1024-sample priming aside)
    assert abs(sounds[0].time - output_times[0]) < 0.05


def test_should_stop_cancels_quickly(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "stop.mp4", seconds=3, width=1280, height=720)
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 5

    started = time.monotonic()
    with pytest.raises(TranscodeCancelled):
        transcode(source, tmp_path / "out", should_stop=should_stop)
    assert time.monotonic() - started < 2
    assert calls == 6


def test_too_long_is_refused(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "long.mp4", seconds=2, audio=False)
    with pytest.raises(UnreadableMedia, match="longest supported"):
        transcode(source, tmp_path / "out", max_duration_seconds=1)


def _pdf(path: Path) -> None:
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")


def _random(path: Path) -> None:
    path.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(200_000)))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    whole = make_clip(path.with_name("whole.mp4"), seconds=2)
    path.write_bytes(whole.read_bytes()[:20_000])  # the index (moov) is at the end: gone


def _audio_only(path: Path) -> None:
    make_clip(path.with_suffix(".m4a"), video=False, seconds=1).rename(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_pdf, "not a video format"),
        (_random, "not a video format"),
        (_empty, "empty"),
        (_truncated, "not a video format"),
        (_audio_only, "only sound"),
    ],
    ids=["pdf", "random", "empty", "truncated", "audio-only"],
)
def test_garbage_is_unreadable(tmp_path: Path, make: Callable[[Path], None], message: str) -> None:
    source = tmp_path / "upload.bin"
    make(source)
    with pytest.raises(UnreadableMedia, match=message):
        transcode(source, tmp_path / "out")


def test_result_json_round_trip(hd: Run) -> None:
    assert TranscodeResult.from_json(hd.result.to_json()) == hd.result


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), [("360p", 640, 360), ("720p", 1280, 720)]),
        ((1080, 1920), [("360p", 360, 640), ("720p", 720, 1280)]),
        ((1280, 718), [("360p", 640, 360)]),
        ((321, 181), [("180p", 318, 180)]),
        ((640, 480), [("360p", 480, 360)]),
    ],
)
def test_plan_ladder(size: tuple[int, int], expected: list[tuple[str, int, int]]) -> None:
    planned = plan_ladder(*size, DEFAULT_LADDER)
    assert [(rung.name, width, height) for rung, width, height in planned] == expected
