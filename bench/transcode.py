"""Video transcoding speed: the HLS ladder against a decode-only pass of the same clip.

Generates a 1080p30 H.264 + AAC clip (default 20 s) whose pictures are not trivially
compressible: FFmpeg's moving ``gradients`` with temporal ``noise`` on top, plus a tone. Then,
side by side in each round:

- decode: PyAV reads and decodes every frame of the clip and does nothing else (the floor:
  every transcode pays for it);
- transcode: ``media.hls.transcode`` into a temporary directory with the default ladder
  (360p + 720p), in this process, with the preset under test.

It prints per round the wall time, the speed as a multiple of real time (clip duration / wall
time) and the ratio transcode / decode, then the medians.

    python bench/transcode.py --seconds 20 --rounds 3
    python bench/transcode.py --presets veryfast,faster,ultrafast --rounds 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from media import hls


def make_clip(path: Path, seconds: float) -> None:
    """A 1080p30 clip: moving gradients with noise, ~12 Mbit/s (a phone upload), a 440 Hz tone."""
    video_source = f"gradients=s=1920x1080:r=30:d={seconds}:speed=0.03:n=4,noise=alls=6:allf=t+u"
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "20", "maxrate": "12M", "bufsize": "24M"}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        with av.open(video_source, format="lavfi") as lavfi:
            for frame in lavfi.decode(video=0):
                out.mux(video.encode(frame.reformat(format="yuv420p")))
        out.mux(video.encode(None))
        with av.open(f"sine=frequency=440:sample_rate=48000:d={seconds}", format="lavfi") as tone:
            for sound in tone.decode(audio=0):
                out.mux(audio.encode(sound))
        out.mux(audio.encode(None))


def decode_only(path: Path) -> int:
    frames = 0
    with av.open(str(path)) as container:
        container.streams.video[0].codec_context.thread_type = "AUTO"
        for _ in container.decode(*container.streams):
            frames += 1
    return frames


def timed_transcode(path: Path, scratch: Path, preset: str) -> tuple[float, int]:
    out = scratch / f"hls-{preset}"
    hls.X264_PRESET = preset
    started = time.perf_counter()
    hls.transcode(path, out)
    elapsed = time.perf_counter() - started
    size = sum(f.stat().st_size for f in out.rglob("*.ts"))
    for file in sorted(out.rglob("*"), reverse=True):
        file.rmdir() if file.is_dir() else file.unlink()
    out.rmdir()
    return elapsed, size


def main(seconds: float, rounds: int, presets: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        clip = scratch / "clip.mp4"
        started = time.perf_counter()
        make_clip(clip, seconds)
        with av.open(str(clip)) as container:
            assert container.duration is not None
            duration = container.duration / av.time_base
            bit_rate = container.bit_rate / 1e6
        print(
            f"clip: {duration:.1f} s of 1920x1080 at 30 fps, {bit_rate:.1f} Mbit/s "
            f"(made in {time.perf_counter() - started:.0f} s); {os.cpu_count()} cores; "
            f"ladder {', '.join(r.name for r in hls.DEFAULT_LADDER)}"
        )
        print(
            "| round | preset | decode s | decode x real time | transcode s "
            "| transcode x real time | transcode / decode | segments MiB |"
        )
        print("|---|---|---|---|---|---|---|---|")
        speeds: dict[str, list[float]] = {preset: [] for preset in presets}
        ratios: dict[str, list[float]] = {preset: [] for preset in presets}
        decodes: list[float] = []
        for number in range(1, rounds + 1):
            for preset in presets:
                started = time.perf_counter()
                decode_only(clip)
                decode_s = time.perf_counter() - started
                decodes.append(duration / decode_s)
                transcode_s, size = timed_transcode(clip, scratch, preset)
                speeds[preset].append(duration / transcode_s)
                ratios[preset].append(transcode_s / decode_s)
                print(
                    f"| {number} | {preset} | {decode_s:.2f} | {duration / decode_s:.1f} "
                    f"| {transcode_s:.2f} | {duration / transcode_s:.2f} "
                    f"| {transcode_s / decode_s:.1f} | {size / 2**20:.1f} |"
                )
        print(f"median decode-only: {statistics.median(decodes):.1f} x real time")
        for preset in presets:
            print(
                f"median transcode ({preset}): {statistics.median(speeds[preset]):.2f} x real "
                f"time, {statistics.median(ratios[preset]):.1f} x the decode-only time"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--presets",
        default=hls.X264_PRESET,
        help="comma-separated x264 presets to compare (default: the one media.hls uses)",
    )
    args = parser.parse_args()
    main(args.seconds, args.rounds, args.presets.split(","))
