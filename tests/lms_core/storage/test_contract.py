"""The ``Storage`` contract, run against the local directory and S3 (moto's server) alike."""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest

from lms_core.errors import InvalidInput, NotFound, TooLarge
from lms_core.storage import StoredObject
from tests.lms_core.storage.conftest import Backend

MiB = 1024 * 1024
KEY = "courses/0b7c/files/4f1d"


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(backend: Backend, key: str, **kwargs: int) -> bytes:
    stream = await backend.storage.open(key, **kwargs)
    parts = [chunk async for chunk in stream]
    data = b"".join(parts)
    assert len(data) == stream.size
    return data


async def put(
    backend: Backend, key: str, data: bytes, *, max_bytes: int = 64 * MiB
) -> StoredObject:
    return await backend.storage.put_stream(
        key, chunks_of(data), content_type="application/pdf", max_bytes=max_bytes
    )


def pattern(index: int) -> bytes:
    """1 MiB that differs from one index to the next (so a lost or repeated chunk shows)."""
    return hashlib.sha256(index.to_bytes(8, "big")).digest() * (MiB // 32)


@dataclass
class Source:
    """A lazily generated stream that records how far it was read."""

    chunks: int
    chunk_size: int = MiB
    pulled: int = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index in range(self.chunks):
            self.pulled += 1
            yield pattern(index)[: self.chunk_size]
            await asyncio.sleep(0)

    def expected(self) -> tuple[int, str]:
        digest = hashlib.sha256()
        for index in range(self.chunks):
            digest.update(pattern(index)[: self.chunk_size])
        return self.chunks * self.chunk_size, digest.hexdigest()


async def test_roundtrip(backend: Backend) -> None:
    data = b"%PDF-1.7\n" + os.urandom(300_000)
    stored = await put(backend, KEY, data)

    assert stored == StoredObject(
        key=KEY,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/pdf",
    )
    assert await read_all(backend, KEY) == data
    assert await backend.storage.exists(KEY)
    assert await backend.storage.size(KEY) == len(data)
    assert await backend.leftovers() == [KEY]


async def test_empty_object(backend: Backend) -> None:
    stored = await put(backend, KEY, b"")
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert await read_all(backend, KEY) == b""
    assert await read_all(backend, KEY, start=0, length=10) == b""
    assert await backend.storage.size(KEY) == 0


async def test_put_replaces(backend: Backend) -> None:
    await put(backend, KEY, b"first version")
    await put(backend, KEY, b"second")
    assert await read_all(backend, KEY) == b"second"


async def test_delete_and_exists(backend: Backend) -> None:
    other = KEY + "-other"
    await put(backend, KEY, b"x")
    await put(backend, other, b"y")
    await backend.storage.delete(KEY)
    assert not await backend.storage.exists(KEY)
    assert await backend.storage.exists(other)
    await backend.storage.delete(KEY)  # already gone: not an error
    assert await backend.leftovers() == [other]


async def test_missing_object_is_not_found(backend: Backend) -> None:
    assert not await backend.storage.exists("no/such/key")
    with pytest.raises(NotFound):
        await backend.storage.open("no/such/key")
    with pytest.raises(NotFound):
        await backend.storage.size("no/such/key")
    with pytest.raises(NotFound):
        await backend.storage.open("no/such/key", start=5, length=0)


async def test_ranges(backend: Backend) -> None:
    data = bytes(range(256)) * 40
    await put(backend, KEY, data)
    assert await read_all(backend, KEY, start=10, length=5) == data[10:15]
    assert await read_all(backend, KEY, start=10_000) == data[10_000:]
    assert await read_all(backend, KEY, start=10_000, length=1000) == data[10_000:]
    assert await read_all(backend, KEY, start=len(data)) == b""
    assert await read_all(backend, KEY, start=len(data) + 100, length=3) == b""
    assert await read_all(backend, KEY, length=0) == b""
    with pytest.raises(ValueError, match="negative"):
        await backend.storage.open(KEY, start=-1)


async def test_stopping_a_read_early(backend: Backend) -> None:
    await put(backend, KEY, os.urandom(3 * MiB))
    async with await backend.storage.open(KEY) as stream:
        first = await anext(stream)
        assert first
    assert [chunk async for chunk in stream] == []  # closed: nothing more
    await backend.storage.delete(KEY)  # no handle left open on the file


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../x",
        "a/../../etc/passwd",
        "/etc/passwd",
        "a//b",
        "a/",
        ".hidden",
        "a/.tmp/b",
        "a\\b",
        "a b",
        "caf\u00e9",
        "a\x00b",
        "x" * 201,
        "/".join(["abcdefghij"] * 50),
    ],
)
async def test_unsafe_keys_are_refused(backend: Backend, key: str) -> None:
    storage = backend.storage
    attempts = [
        storage.put_stream(key, chunks_of(b"x"), content_type="text/plain", max_bytes=10),
        storage.open(key),
        storage.delete(key),
        storage.exists(key),
        storage.size(key),
        storage.presigned_get(key, filename="x.pdf", content_type="application/pdf"),
        storage.presigned_put(key, content_type="application/pdf", size=1),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput) as caught:
            await attempt
        assert caught.value.code == "invalid_storage_key"
    assert await backend.leftovers() == []


async def test_max_bytes_is_inclusive(backend: Backend) -> None:
    stored = await put(backend, KEY, b"a" * 1000, max_bytes=1000)
    assert stored.size == 1000


@pytest.mark.parametrize(
    ("chunks", "max_bytes"),
    [(5, 2 * MiB + 1), (30, 20 * MiB)],  # within one part; after two parts went to S3
    ids=["single-part", "multipart"],
)
async def test_too_large_is_cut_mid_stream_and_leaves_nothing(
    backend: Backend, chunks: int, max_bytes: int
) -> None:
    await put(backend, KEY, b"the previous version")
    source = Source(chunks)
    with pytest.raises(TooLarge) as caught:
        await backend.storage.put_stream(
            KEY, aiter(source), content_type="video/mp4", max_bytes=max_bytes
        )
    assert caught.value.code == "payload_too_large"
    assert caught.value.extra == {"max_bytes": max_bytes}
    # Reading stopped at the chunk that crossed the limit, not at the end of the source.
    assert source.pulled == max_bytes // MiB + 1 < chunks
    assert await backend.leftovers() == [KEY]
    assert await read_all(backend, KEY) == b"the previous version"


async def test_failing_source_leaves_nothing(backend: Backend) -> None:
    async def broken() -> AsyncIterator[bytes]:
        for index in range(12):
            yield pattern(index)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await backend.storage.put_stream(
            KEY, broken(), content_type="video/mp4", max_bytes=100 * MiB
        )
    assert await backend.leftovers() == []


async def test_cancelled_upload_leaves_nothing(backend: Backend) -> None:
    stalled = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for index in range(10):
            yield pattern(index)
        stalled.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b""

    task = asyncio.create_task(
        backend.storage.put_stream(KEY, slow(), content_type="video/mp4", max_bytes=100 * MiB)
    )
    await stalled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await backend.leftovers() == []


async def test_large_object_streams_in_bounded_memory(backend: Backend) -> None:
    """64 MiB generated lazily go in and come back out while resident memory stays flat."""
    source = Source(64)
    size, digest = source.expected()
    with peak_rss_growth() as growth:
        stored = await backend.storage.put_stream(
            KEY, aiter(source), content_type="video/mp4", max_bytes=size
        )
    assert (stored.size, stored.sha256) == (size, digest)
    assert growth.mib < 40, f"{backend.name}: RSS grew {growth.mib:.1f} MiB while uploading"

    with peak_rss_growth() as growth:
        read = hashlib.sha256()
        total = 0
        async for chunk in await backend.storage.open(KEY):
            read.update(chunk)
            total += len(chunk)
    assert (total, read.hexdigest()) == (size, digest)
    assert growth.mib < 40, f"{backend.name}: RSS grew {growth.mib:.1f} MiB while reading"


async def test_presigned_expiry_is_at_most_15_minutes(backend: Backend) -> None:
    with pytest.raises(ValueError, match="expires_s"):
        await backend.storage.presigned_get(
            KEY, filename="a.pdf", content_type="application/pdf", expires_s=901
        )
    with pytest.raises(ValueError, match="expires_s"):
        await backend.storage.presigned_put(
            KEY, content_type="application/pdf", size=1, expires_s=0
        )


async def test_local_storage_serves_through_the_app(backend: Backend) -> None:
    if backend.name != "local":
        pytest.skip("S3 hands out presigned URLs (tests/lms_core/storage/test_s3.py)")
    await put(backend, KEY, b"x")
    url = await backend.storage.presigned_get(KEY, filename="a.pdf", content_type="application/pdf")
    assert url is None
    assert await backend.storage.presigned_put(KEY, content_type="text/plain", size=1) is None


@dataclass
class Growth:
    mib: float = 0.0


@contextmanager
def peak_rss_growth(interval: float = 0.005) -> Iterator[Growth]:
    """Peak resident memory above the starting point, sampled from a thread (off the loop)."""
    _release_free_memory()
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(interval):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth = Growth()
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        peak = max(peak, process.memory_info().rss)
        growth.mib = (peak - baseline) / MiB


def _release_free_memory() -> None:
    # Give freed heap back to the OS first, so that growth shows against a low baseline
    # instead of being absorbed by memory an earlier test left free but mapped.
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
