"""What only the S3 adapter does: presigned URLs, multipart uploads, an unreachable store."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from lms_core.errors import Unavailable
from tests.lms_core.storage.conftest import make_s3_storage
from tests.lms_core.storage.test_contract import MiB, Source, chunks_of

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

    from lms_core.storage.s3 import S3Storage

KEY = "courses/1/files/2"


@pytest_asyncio.fixture
async def s3(s3_endpoint: str) -> AsyncIterator[tuple[S3Storage, S3Client, str]]:
    storage, admin, bucket = await asyncio.to_thread(make_s3_storage, s3_endpoint)
    yield storage, admin, bucket
    await storage.close()
    await asyncio.to_thread(admin.close)


async def test_presigned_get_downloads_as_an_attachment(
    s3: tuple[S3Storage, S3Client, str],
) -> None:
    storage, _, _ = s3
    data = b"%PDF-1.7\n" + os.urandom(5000)
    await storage.put_stream(
        KEY, chunks_of(data), content_type="application/pdf", max_bytes=len(data)
    )
    url = await storage.presigned_get(
        KEY, filename="../Résumé \u202eexe.pdf", content_type="application/pdf", expires_s=120
    )
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]

    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, await response.text()
        body = await response.read()
        disposition = response.headers["Content-Disposition"]
        content_type = response.headers["Content-Type"]
    assert body == data
    assert content_type == "application/pdf"
    assert disposition.startswith("attachment; ")
    assert 'filename="R_sum_ exe.pdf"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "Résumé exe.pdf"  # no path, no right-to-left override


async def test_presigned_put_uploads_directly(s3: tuple[S3Storage, S3Client, str]) -> None:
    storage, admin, bucket = s3
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    upload = await storage.presigned_put(KEY, content_type="image/png", size=len(data))
    assert upload is not None
    assert upload.method == "PUT"
    assert upload.headers == {"Content-Type": "image/png", "Content-Length": str(len(data))}
    # Size and type are signed: S3 refuses a body of another length or type.
    signed = parse_qs(urlsplit(upload.url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-length", "content-type"} <= set(signed)

    async with (
        aiohttp.ClientSession() as http,
        http.put(upload.url, data=data, headers=upload.headers) as response,
    ):
        assert response.status == 200, await response.text()

    assert await storage.size(KEY) == len(data)
    async with await storage.open(KEY, length=8) as head:
        assert b"".join([chunk async for chunk in head]) == data[:8]
    info = await asyncio.to_thread(admin.head_object, Bucket=bucket, Key=KEY)
    assert info["ContentType"] == "image/png"


async def test_presigned_put_is_limited_to_a_single_put(
    s3: tuple[S3Storage, S3Client, str],
) -> None:
    storage, _, _ = s3
    with pytest.raises(ValueError, match="presigned upload"):
        await storage.presigned_put(KEY, content_type="video/mp4", size=6 * 1024 * MiB)


async def test_large_objects_go_in_parts(s3: tuple[S3Storage, S3Client, str]) -> None:
    storage, admin, bucket = s3
    source = Source(20)  # 20 MiB: parts of 8, 8 and 4 MiB
    size, digest = source.expected()
    stored = await storage.put_stream(
        KEY, aiter(source), content_type="video/mp4", max_bytes=100 * MiB
    )
    assert (stored.size, stored.sha256) == (size, digest)
    info = await asyncio.to_thread(admin.head_object, Bucket=bucket, Key=KEY)
    assert info["ETag"].strip('"').endswith("-3")  # S3 tags a multipart object with its parts
    assert info["ContentType"] == "video/mp4"
    assert info["ContentLength"] == size

    read = hashlib.sha256()
    async for chunk in await storage.open(KEY):
        read.update(chunk)
    assert read.hexdigest() == digest


async def test_small_objects_go_in_one_put(s3: tuple[S3Storage, S3Client, str]) -> None:
    storage, admin, bucket = s3
    await storage.put_stream(KEY, aiter(Source(7)), content_type="video/mp4", max_bytes=8 * MiB)
    info = await asyncio.to_thread(admin.head_object, Bucket=bucket, Key=KEY)
    assert "-" not in info["ETag"]


async def test_part_size_keeps_within_10000_parts(s3: tuple[S3Storage, S3Client, str]) -> None:
    storage, _, _ = s3
    assert storage.part_size(2 * 1024 * MiB) == 8 * MiB
    assert storage.part_size(200 * 1024 * MiB) == 21 * MiB
    assert 200 * 1024 * MiB / storage.part_size(200 * 1024 * MiB) <= 10_000


async def test_unreachable_store_is_unavailable() -> None:
    from lms_core.storage.s3 import S3Storage

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    storage = await asyncio.to_thread(
        S3Storage.connect,
        bucket="nowhere",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id="testing",
        secret_access_key="testing",
    )
    try:
        with pytest.raises(Unavailable) as caught:
            await storage.exists(KEY)
        assert caught.value.code == "storage_unavailable"
        with pytest.raises(Unavailable):
            await storage.put_stream(
                KEY, chunks_of(b"x" * 100), content_type="text/plain", max_bytes=100
            )
    finally:
        await storage.close()
