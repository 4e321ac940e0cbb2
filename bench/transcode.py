"""Video transcoding speed: the HLS ladder against a decode-only pass of the same clip.

Generates a 1080p30 H.264 + AAC clip (default 20 s) whose pictures are not trivially
compressible: FFmpeg's moving ``gradients`` with temporal ``noise`` on top, plus a tone
(``--content screen``: ``testsrc2``, closer to slides and screen recordings). Then,
side by side in each round:

- decode: PyAV reads and decodes every frame of the clip and does nothing else (the floor:
  every transcode pays for it);
- transcode: ``media.hls.transcode`` into a temporary directory with the default ladder
  (360p + 720p), in this process, with the preset under test.

It prints per round the wall time, the speed as a multiple of real time (clip duration / wall
time) and the ratio transcode / decode, then the medians.

    python bench/transcode.py --seconds 20 --rounds 3
    python bench/transcode.py --seconds 10 --rounds 2 --presets veryfast,faster,ultrafast --psnr

On a shared machine wall times swing with the load; the CPU seconds of this process (all its
threads, ``time.process_time``) are printed next to them and are the steadier measure of cost.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.video.frame import VideoFrame

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from media import hls
from media.ladder import X264_PRESET

CONTENT = {
    # camera-like: moving gradients with sensor-like temporal noise (hard to compress)
    "noise": "gradients=s=1920x1080:r=30:d={seconds}:speed=0.03:n=4,noise=alls=6:allf=t+u",
    # screen-like: FFmpeg's testsrc2 (flat colours, sharp edges, text, a little motion)
    "screen": "testsrc2=s=1920x1080:r=30:d={seconds}",
}


def make_clip(path: Path, seconds: float, content: str = "noise") -> None:
    """A 1080p30 clip (``CONTENT``), at most 12 Mbit/s (a phone upload), with a 440 Hz tone."""
    video_source = CONTENT[content].format(seconds=seconds)
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


def psnr_720p(clip: Path, out: Path) -> float:
    """Mean luma PSNR (dB) of the 720p rendition against the source scaled to 1280x720."""
    graph = av.filter.Graph()
    template = VideoFrame(1280, 720, "yuv420p")
    inputs = [
        graph.add_buffer(width=1280, height=720, format=template.format, time_base=Fraction(1, 30))
        for _ in range(2)
    ]
    psnr = graph.add("psnr")
    sink = graph.add("buffersink")
    inputs[0].link_to(psnr, 0, 0)
    inputs[1].link_to(psnr, 0, 1)
    psnr.link_to(sink)
    graph.configure()
    playlist = (out / "720p" / "index.m3u8").read_text().splitlines()
    segments = [out / "720p" / line for line in playlist if line and not line.startswith("#")]
    errors: list[float] = []
    with av.open(str(clip)) as source:
        reference = (f.reformat(1280, 720, "yuv420p") for f in source.decode(video=0))
        for segment in segments:
            with av.open(str(segment)) as container:
                for index, (encoded, original) in enumerate(
                    zip(container.decode(video=0), reference, strict=False)
                ):
                    original.pts = encoded.pts = index
                    graph.vpush(original, at=0)
                    graph.vpush(encoded, at=1)
                    errors.append(float(graph.vpull().metadata["lavfi.psnr.mse.y"]))
    mse = statistics.fmean(errors)
    return 10 * math.log10(255**2 / mse) if mse else math.inf


def timed_transcode(
    path: Path, scratch: Path, preset: str, with_psnr: bool
) -> tuple[float, float, int, float | None]:
    """Wall and CPU seconds (all threads of this process), segment bytes, 720p PSNR."""
    out = scratch / f"hls-{preset}"
    started, cpu = time.perf_counter(), time.process_time()
    hls.transcode(path, out, preset=preset)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    size = sum(f.stat().st_size for f in out.rglob("*.ts"))
    quality = psnr_720p(path, out) if with_psnr else None
    shutil.rmtree(out)
    return elapsed, cpu, size, quality


def main(seconds: float, rounds: int, presets: list[str], with_psnr: bool, content: str) -> None:
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        clip = scratch / "clip.mp4"
        started = time.perf_counter()
        make_clip(clip, seconds, content)
        with av.open(str(clip)) as container:
            assert container.duration is not None
            duration = container.duration / av.time_base
            bit_rate = container.bit_rate / 1e6
        print(
            f"clip: {duration:.1f} s of 1920x1080 at 30 fps ({content}), {bit_rate:.1f} Mbit/s "
            f"(made in {time.perf_counter() - started:.0f} s); {os.cpu_count()} cores; "
            f"ladder {', '.join(r.name for r in hls.DEFAULT_LADDER)}; "
            f"load average at start {os.getloadavg()[0]:.1f}"
        )
        print(
            "| round | preset | decode s (CPU s) | decode x real time | transcode s (CPU s) "
            "| transcode x real time | transcode / decode (CPU) | segments MiB | 720p PSNR dB |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        speeds: dict[str, list[float]] = {preset: [] for preset in presets}
        ratios: dict[str, list[float]] = {preset: [] for preset in presets}
        cpu_ratios: dict[str, list[float]] = {preset: [] for preset in presets}
        decodes: list[float] = []
        for number in range(1, rounds + 1):
            for preset in presets:
                started, cpu = time.perf_counter(), time.process_time()
                decode_only(clip)
                decode_s, decode_cpu = time.perf_counter() - started, time.process_time() - cpu
                decodes.append(duration / decode_s)
                transcode_s, transcode_cpu, size, quality = timed_transcode(
                    clip, scratch, preset, with_psnr
                )
                speeds[preset].append(duration / transcode_s)
                ratios[preset].append(transcode_s / decode_s)
                cpu_ratios[preset].append(transcode_cpu / decode_cpu)
                psnr = "-" if quality is None else f"{quality:.2f}"
                print(
                    f"| {number} | {preset} | {decode_s:.2f} ({decode_cpu:.1f}) "
                    f"| {duration / decode_s:.1f} | {transcode_s:.2f} ({transcode_cpu:.1f}) "
                    f"| {duration / transcode_s:.2f} | {transcode_s / decode_s:.1f} "
                    f"({transcode_cpu / decode_cpu:.1f}) | {size / 2**20:.1f} | {psnr} |"
                )
        print(f"median decode-only: {statistics.median(decodes):.1f} x real time")
        for preset in presets:
            print(
                f"median transcode ({preset}): {statistics.median(speeds[preset]):.2f} x real "
                f"time, {statistics.median(ratios[preset]):.1f} x the decode-only time "
                f"({statistics.median(cpu_ratios[preset]):.1f} x its CPU time)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--presets",
        default=X264_PRESET,
        help="comma-separated x264 presets to compare (default: the one media.hls uses)",
    )
    parser.add_argument(
        "--psnr", action="store_true", help="also measure the 720p rendition's luma PSNR"
    )
    parser.add_argument("--content", choices=sorted(CONTENT), default="noise")
    args = parser.parse_args()
    main(args.seconds, args.rounds, args.presets.split(","), args.psnr, args.content)
