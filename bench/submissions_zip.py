"""The submissions zip (GET /assignments/{id}/submissions.zip): how long the event loop stalls
while an archive is deflated, and what the archive costs in time.

``lms_core.grading.zipstream.zip_stream`` writes each stored chunk into the deflating member from
a worker thread; the baseline is the same code writing on the event loop (the implementation
before it, kept here as it was). Both stream the same files from a ``LocalStorage`` in a scratch
folder: ``--files`` submissions of ``--megabytes`` each, half text (compresses well), half random
bytes (does not). A ticker coroutine sleeps 1 ms at a time during the run; its overshoot is the
loop's stall, the delay every other request and classroom message on that node would see.

Runs alternate (baseline, threaded, baseline, ...) so load from elsewhere hits both alike;
printed: the median over ``--repeat`` runs of each and their ratios.

    python bench/submissions_zip.py
    python bench/submissions_zip.py --files 20 --megabytes 5 --repeat 7

The machine is shared and noisy: compare the ratios printed for the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import statistics
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lms_core.grading import zipstream
from lms_core.grading.transfer import ZipEntry
from lms_core.storage import Storage
from lms_core.storage.local import LocalStorage

Streamer = Callable[[Storage, Sequence[ZipEntry]], AsyncIterator[bytes]]


async def baseline_stream(storage: Storage, entries: Sequence[ZipEntry]) -> AsyncIterator[bytes]:
    """zip_stream as it was: every chunk deflated on the event loop."""
    sink = zipstream._Sink()
    stamp = (2026, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                assert entry.key is not None
                async with await storage.open(entry.key) as stream:
                    async for chunk in stream:
                        member.write(chunk)
                        if sink.pending >= zipstream.FLUSH_BYTES:
                            yield sink.take()
            if sink.pending:
                yield sink.take()
    if sink.pending:
        yield sink.take()


@dataclass
class Run:
    seconds: float
    worst_stall_ms: float
    p99_stall_ms: float
    out_bytes: int


async def measure(stream: Streamer, storage: Storage, entries: Sequence[ZipEntry]) -> Run:
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(max(0.0, time.perf_counter() - start - 0.001))

    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    archive = io.BytesIO()
    async for part in stream(storage, entries):
        archive.write(part)
    seconds = time.perf_counter() - start
    done.set()
    await tick
    check(archive, storage, entries)
    stalls.sort()
    return Run(
        seconds=seconds,
        worst_stall_ms=stalls[-1] * 1000,
        p99_stall_ms=stalls[int(len(stalls) * 0.99)] * 1000,
        out_bytes=archive.tell(),
    )


def check(archive: io.BytesIO, storage: Storage, entries: Sequence[ZipEntry]) -> None:
    """The archive holds every file, byte for byte (a fast run that is wrong counts for nothing)."""
    assert isinstance(storage, LocalStorage)
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == [e.name for e in entries], zf.namelist()
        for entry in entries:
            assert entry.key is not None
            if zf.read(entry.name) != (storage.root / entry.key).read_bytes():
                raise SystemExit(f"{entry.name}: the archive's bytes differ from the file's")


def seed(root: Path, files: int, megabytes: float) -> list[ZipEntry]:
    size = int(megabytes * 1_000_000)
    entries = []
    for i in range(files):
        data = os.urandom(size)
        if i % 2 == 0:  # text: base64 of random bytes, deflates to ~75 %
            data = base64.b64encode(data)[:size]
        (root / "s").mkdir(exist_ok=True)
        (root / "s" / f"{i}.bin").write_bytes(data)
        entries.append(
            ZipEntry(f"student-{i}/{i}.{'txt' if i % 2 == 0 else 'bin'}", key=f"s/{i}.bin")
        )
    return entries


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        entries = seed(root, args.files, args.megabytes)
        storage = LocalStorage(root)
        runs: dict[str, list[Run]] = {"baseline": [], "threaded": []}
        streams: dict[str, Streamer] = {
            "baseline": baseline_stream,
            "threaded": zipstream.zip_stream,
        }
        for _ in range(args.repeat):
            for name, stream in streams.items():
                runs[name].append(await measure(stream, storage, entries))
        print(
            f"{args.files} files x {args.megabytes} MB (half text, half random), "
            f"median of {args.repeat} alternating runs"
        )
        medians: dict[str, dict[str, float]] = {}
        for name, results in runs.items():
            medians[name] = {
                field: statistics.median(getattr(r, field) for r in results)
                for field in ("seconds", "worst_stall_ms", "p99_stall_ms", "out_bytes")
            }
            m = medians[name]
            print(
                f"  {name:9} {m['seconds']:.2f} s, {m['out_bytes'] / 1e6:.1f} MB out, "
                f"loop stall worst {m['worst_stall_ms']:.1f} ms, p99 {m['p99_stall_ms']:.2f} ms"
            )
        b, t = medians["baseline"], medians["threaded"]
        print(
            f"  threaded / baseline: time {t['seconds'] / b['seconds']:.2f}x, "
            f"worst stall {t['worst_stall_ms'] / b['worst_stall_ms']:.2f}x, "
            f"p99 stall {t['p99_stall_ms'] / max(b['p99_stall_ms'], 1e-6):.2f}x"
        )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=5)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
