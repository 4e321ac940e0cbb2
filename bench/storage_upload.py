"""Streaming upload and download throughput of the two storage adapters, against a baseline.

Each round streams the same lazily generated object (1 MiB chunks) through:

- baseline: the bytes written to a file in a thread, 1 MiB per hop, no hashing and no fsync
  (what any async file write costs here);
- local: ``LocalStorage.put_stream`` (SHA-256, temporary file, fsync, rename), then ``open``;
- s3: ``S3Storage.put_stream`` to moto's S3 server in a child process (multipart, 8 MiB parts,
  one in flight), then ``open``. moto is a test double: its numbers say what the adapter costs
  on top of an S3 that answers on loopback, not what AWS would do;
- boto3: boto3's own managed transfer (``upload_fileobj``, 10 threads, 8 MiB parts) of the same
  bytes from memory to the same moto, the S3 baseline (it needs the whole file in memory).

It prints MiB/s per round, the ratio to the baseline, and the peak RSS growth of this process
during each upload (sampled from a thread every 5 ms).

    python bench/storage_upload.py --mib 256 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path

import boto3
import psutil  # type: ignore[import-untyped,unused-ignore]
from boto3.s3.transfer import TransferConfig

from lms_core.storage.local import LocalStorage
from lms_core.storage.port import Storage
from lms_core.storage.s3 import S3Storage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.s3_server import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    local_s3_server,
)

MiB = 1024 * 1024


async def source(mib: int) -> AsyncIterator[bytes]:
    for index in range(mib):
        yield hashlib.sha256(index.to_bytes(8, "big")).digest() * (MiB // 32)


class PeakRss:
    def __init__(self) -> None:
        self.process = psutil.Process()
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return (self.peak - self.baseline) / MiB


async def baseline(path: Path, mib: int) -> None:
    with path.open("wb") as file:
        async for chunk in source(mib):
            await asyncio.to_thread(file.write, chunk)


async def timed(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    rss = PeakRss()
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    return elapsed, rss.stop()


async def read_all(storage: Storage, key: str) -> None:
    async for _ in await storage.open(key):
        pass


async def main(mib: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch, local_s3_server() as endpoint:
        root = Path(scratch)
        admin = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        admin.create_bucket(Bucket=bucket)
        s3 = S3Storage.connect(
            bucket=bucket,
            region=REGION,
            endpoint_url=endpoint,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
        )
        local = LocalStorage(root / "files")
        results: dict[str, list[float]] = {}
        whole = b"".join([chunk async for chunk in source(mib)])
        transfer = TransferConfig(multipart_chunksize=8 * MiB, max_concurrency=10)

        def managed() -> None:
            admin.upload_fileobj(io.BytesIO(whole), bucket, "bench/boto3", Config=transfer)

        print(f"{mib} MiB per upload, {rounds} rounds")
        print("| round | path | upload MiB/s | ratio to baseline | RSS growth MiB | read MiB/s |")
        print("|---|---|---|---|---|---|")
        s3_ratios: list[float] = []
        for number in range(1, rounds + 1):
            base_s, base_rss = await timed(lambda: baseline(root / "baseline", mib))
            (root / "baseline").unlink()
            print(f"| {number} | baseline | {mib / base_s:.0f} | 1.00 | {base_rss:.1f} | - |")
            for name, storage in (("local", local), ("s3", s3)):
                key = f"bench/{name}"
                upload = partial(
                    storage.put_stream,
                    key,
                    source(mib),
                    content_type="video/mp4",
                    max_bytes=mib * MiB,
                )
                up_s, up_rss = await timed(upload)
                down_s, _ = await timed(partial(read_all, storage, key))
                await storage.delete(key)
                ratio = (mib / up_s) / (mib / base_s)
                results.setdefault(name, []).append(ratio)
                print(
                    f"| {number} | {name} | {mib / up_s:.0f} | {ratio:.2f} | {up_rss:.1f} "
                    f"| {mib / down_s:.0f} |"
                )
            boto_s, boto_rss = await timed(partial(asyncio.to_thread, managed))
            s3_ratios.append(boto_s / up_s)
            print(f"| {number} | boto3 managed | {mib / boto_s:.0f} | - | {boto_rss:.1f} | - |")
        for name, ratios in results.items():
            print(f"median {name} / baseline: {statistics.median(ratios):.2f}")
        print(f"median s3 / boto3 managed transfer: {statistics.median(s3_ratios):.2f}")
        await s3.close()
        admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.mib, args.rounds))
