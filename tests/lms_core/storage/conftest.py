"""One ``backend`` fixture, parametrized over the local directory and S3 (moto's server), so that
every contract test runs against both adapters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from lms_core.storage import Storage
from lms_core.storage.local import LocalStorage
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

    from lms_core.storage.s3 import S3Storage


@dataclass
class Backend:
    name: str
    storage: Storage
    leftovers: Callable[[], Awaitable[list[str]]]
    """Every object and every unfinished upload the backend holds, for "nothing left" checks."""


def s3_admin_client(endpoint: str) -> S3Client:
    """A plain boto3 client for test setup and inspection (blocking: call it in a thread)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def make_s3_storage(endpoint: str) -> tuple[S3Storage, S3Client, str]:
    """A new bucket and an adapter on it (blocking: boto3 imports and builds clients)."""
    from lms_core.storage.s3 import S3Storage

    bucket = f"test-{uuid.uuid4().hex[:16]}"
    admin = s3_admin_client(endpoint)
    admin.create_bucket(Bucket=bucket)
    storage = S3Storage.connect(
        bucket=bucket,
        region=REGION,
        endpoint_url=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    return storage, admin, bucket


def local_leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def s3_leftovers(admin: S3Client, bucket: str) -> list[str]:
    objects = admin.list_objects_v2(Bucket=bucket).get("Contents", [])
    uploads = admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted(
        [o["Key"] for o in objects if "Key" in o]
        + [f"unfinished multipart upload: {u.get('Key')}" for u in uploads]
    )


@pytest_asyncio.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        root = tmp_path / "files"
        yield Backend("local", LocalStorage(root), lambda: asyncio.to_thread(local_leftovers, root))
        return
    endpoint: str = request.getfixturevalue("s3_endpoint")
    storage, admin, bucket = await asyncio.to_thread(make_s3_storage, endpoint)
    yield Backend("s3", storage, lambda: asyncio.to_thread(s3_leftovers, admin, bucket))
    await storage.close()
    await asyncio.to_thread(admin.close)
