"""Uploads stream into storage: 413 before memory grows, 415 on a type mismatch, nothing partial.

The course endpoints that upload files come later; these tests mount a small route of their
own on a real application (all middlewares in place) that calls ``receive_upload``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from lms_core.storage.local import LocalStorage
from lms_core.storage.sniff import COURSE_FILE_TYPES
from server.app import create_app, open_storage
from server.state import SETTINGS, STORAGE, Database
from server.uploads import receive_upload, streams_body
from tests.conftest import FAST_HASHER, ORIGIN, AppClient, make_settings
from tests.lms_core.storage import samples
from tests.lms_core.storage.conftest import local_leftovers, make_s3_storage
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.server.test_errors import assert_problem

MiB = 1024 * 1024
OUTCOMES = web.AppKey("upload_outcomes", asyncio.Queue)
"""What each upload ended with (a StoredObject or the exception), once the handler is done."""


@streams_body
async def upload(request: web.Request) -> web.StreamResponse:
    outcome: object = None
    try:
        stored = await receive_upload(
            request,
            request.app[STORAGE],
            f"uploads/{uuid.uuid4().hex}",
            max_bytes=request.app[SETTINGS].max_upload_bytes,
            allowed_types=COURSE_FILE_TYPES,
            filename=request.query.get("filename"),
        )
        outcome = stored
        return web.json_response(asdict(stored), status=201)
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        request.app[OUTCOMES].put_nowait(outcome)


UploadClient = tuple[AppClient, Path]


@pytest.fixture
def upload_client(
    aiohttp_client: Callable[..., Awaitable[AppClient]],
    database: Database,
    database_url: str,
    tmp_path: Path,
) -> Callable[..., Awaitable[UploadClient]]:
    async def factory(**overrides: Any) -> UploadClient:
        settings = make_settings(database_url, data_dir=tmp_path, **overrides)
        app = await asyncio.to_thread(create_app, settings, database=database, hasher=FAST_HASHER)
        app[OUTCOMES] = asyncio.Queue()
        app.router.add_post("/test-upload", upload)
        client = await aiohttp_client(app, headers={"Origin": ORIGIN})
        return client, tmp_path / "files"

    return factory


async def outcome(client: AppClient) -> object:
    return await asyncio.wait_for(client.app[OUTCOMES].get(), timeout=10)


async def stored_files(root: Path) -> list[str]:
    return await asyncio.to_thread(local_leftovers, root)


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


def big_pdf(size: int) -> bytes:
    head = samples.pdf()
    return head + os.urandom(size - len(head))


@pytest.mark.parametrize("mode", ["content-length", "chunked"])
async def test_upload_is_stored_with_its_checked_type(
    upload_client: Callable[..., Awaitable[UploadClient]], mode: str
) -> None:
    client, root = await upload_client(max_upload_bytes=8 * MiB)
    data = big_pdf(3 * MiB)  # three times the JSON body limit: upload routes are exempt
    body = io.BytesIO(data) if mode == "content-length" else chunked(data)
    resp = await client.post(
        "/test-upload",
        params={"filename": "../Lecture 1.pdf"},
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status == 201, await resp.text()
    stored = await resp.json()
    assert stored["size"] == len(data)
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["content_type"] == "application/pdf"
    assert stored["key"].startswith("uploads/")  # generated, never the user's name
    assert await stored_files(root) == [stored["key"]]
    assert (await asyncio.to_thread((root / stored["key"]).read_bytes)) == data


async def test_content_length_over_the_limit_is_413_before_reading(
    upload_client: Callable[..., Awaitable[UploadClient]],
) -> None:
    client, root = await upload_client(max_upload_bytes=MiB)
    # Headers only: a server that tried to read the promised 2 GiB would never answer.
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /test-upload?filename=big.pdf HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Content-Type: application/pdf\r\n"
        b"Content-Length: 2147483648\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413 "), status_line
    assert b"application/problem+json" in headers
    result = await outcome(client)
    assert type(result).__name__ == "TooLarge"
    assert await stored_files(root) == []


async def test_chunked_body_over_the_limit_is_cut_with_413(
    upload_client: Callable[..., Awaitable[UploadClient]],
) -> None:
    client, root = await upload_client(max_upload_bytes=MiB)
    resp = await client.post(
        "/test-upload",
        params={"filename": "big.pdf"},
        data=chunked(big_pdf(4 * MiB)),
        headers={"Content-Type": "application/pdf"},
    )
    assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
    body = await assert_problem(resp, 413, "payload_too_large")
    assert body["max_bytes"] == MiB
    assert type(await outcome(client)).__name__ == "TooLarge"
    assert await stored_files(root) == []


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (samples.elf() + bytes(20_000), "syllabus.pdf", "executable_refused"),
        (samples.pe() + bytes(20_000), "syllabus.pdf", "executable_refused"),
        (samples.png(), "slides.pdf", "content_type_mismatch"),
        (b"BM" + bytes(100), "image.bmp", "unsupported_media_type"),
    ],
)
async def test_type_mismatch_is_415_and_nothing_is_stored(
    upload_client: Callable[..., Awaitable[UploadClient]],
    data: bytes,
    filename: str,
    code: str,
) -> None:
    client, root = await upload_client()
    resp = await client.post(
        "/test-upload",
        params={"filename": filename},
        data=data,
        headers={"Content-Type": "application/pdf"},
    )
    await assert_problem(resp, 415, code)
    await outcome(client)
    assert await stored_files(root) == []


async def test_declared_type_is_checked_without_a_filename(
    upload_client: Callable[..., Awaitable[UploadClient]],
) -> None:
    client, _ = await upload_client()
    resp = await client.post(
        "/test-upload", data=samples.png(), headers={"Content-Type": "application/pdf"}
    )
    await assert_problem(resp, 415, "content_type_mismatch")
    resp = await client.post(
        "/test-upload", data=samples.png(), headers={"Content-Type": "image/png"}
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["content_type"] == "image/png"


@pytest.mark.parametrize("handler_cancellation", [False, True])
async def test_interrupted_upload_leaves_nothing(
    database: Database, database_url: str, tmp_path: Path, handler_cancellation: bool
) -> None:
    """A client that disconnects mid-body: production's runner (no handler cancellation) sees
    the connection error, aiohttp's test server cancels the handler; neither leaves a file."""
    settings = make_settings(database_url, data_dir=tmp_path, max_upload_bytes=8 * MiB)
    app = await asyncio.to_thread(create_app, settings, database=database, hasher=FAST_HASHER)
    app[OUTCOMES] = asyncio.Queue()
    app.router.add_post("/test-upload", upload)
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /test-upload?filename=cut.pdf HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\n"
            b"Content-Type: application/pdf\r\n"
            b"Content-Length: 4194304\r\n\r\n" + big_pdf(2 * MiB)
        )
        await writer.drain()
        await asyncio.sleep(0.2)  # let the server store some of it
        writer.close()
        await writer.wait_closed()
        result = await asyncio.wait_for(app[OUTCOMES].get(), timeout=10)
    finally:
        await runner.cleanup()
    expected = "CancelledError" if handler_cancellation else "UploadInterrupted"
    assert type(result).__name__ == expected, repr(result)
    assert await stored_files(tmp_path / "files") == []


async def test_json_routes_keep_their_body_limit(
    upload_client: Callable[..., Awaitable[UploadClient]],
) -> None:
    client, _ = await upload_client(max_body_bytes=2048)
    resp = await client.post(
        "/api/v1/auth/register",
        data=json.dumps({"name": "n" * 4096}),
        headers={"Content-Type": "application/json"},
    )
    await assert_problem(resp, 413, "payload_too_large")


async def test_storage_follows_the_settings(
    database_url: str, tmp_path: Path, s3_endpoint: str
) -> None:
    local = await open_storage(make_settings(database_url, data_dir=tmp_path))
    assert isinstance(local, LocalStorage)
    assert local.root == tmp_path / "files"

    setup, admin, bucket = await asyncio.to_thread(make_s3_storage, s3_endpoint)
    await setup.close()
    settings = make_settings(
        database_url,
        storage="s3",
        s3_bucket=bucket,
        s3_region=REGION,
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id=ACCESS_KEY_ID,
        s3_secret_access_key=SECRET_ACCESS_KEY,
    )
    s3 = await open_storage(settings)
    try:
        await s3.put_stream("a/b", chunked(b"hello"), content_type="text/plain", max_bytes=5)
        listed = await asyncio.to_thread(admin.list_objects_v2, Bucket=bucket)
        assert [o.get("Key") for o in listed.get("Contents", [])] == ["a/b"]
    finally:
        await s3.close()
        await asyncio.to_thread(admin.close)


def test_s3_storage_needs_a_bucket(database_url: str) -> None:
    with pytest.raises(ValidationError, match="SEMINAR_S3_BUCKET"):
        make_settings(database_url, storage="s3")
