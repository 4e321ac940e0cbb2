"""S3 (or any S3-compatible store: MinIO, Ceph, R2) through boto3, every call in a thread.

boto3 is synchronous; aioboto3/aiobotocore pin exact botocore versions, so the few server-side
calls go through ``asyncio.to_thread`` instead. Uploads of more than one part (8 MiB, or larger
when ``max_bytes`` needs it to stay under S3's 10,000 parts) are multipart: one part is sent
while the next is received, at most two parts are in memory, and any failure or cancellation
aborts the upload so that no parts linger (give the bucket a lifecycle rule aborting incomplete
multipart uploads too, for the case of a process killed mid-upload).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    ResponseStreamingError,
)

from lms_core.errors import NotFound, Unavailable
from lms_core.storage.filenames import content_disposition
from lms_core.storage.port import (
    ByteLimit,
    ObjectStream,
    PresignedUpload,
    StoredObject,
    validate_expiry,
    validate_key,
    validate_range,
)

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 8 * MiB
MAX_PARTS = 10_000
MAX_SINGLE_PUT = 5 * 1024 * MiB
"""S3's largest single PUT, so the largest presigned upload."""
READ_CHUNK = MiB

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
T = TypeVar("T")


def client_config(*, path_style: bool) -> Config:
    return Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
        tcp_keepalive=True,
        s3={"addressing_style": "path" if path_style else "auto"},
        # Checksums only where S3 demands them: several S3-compatible servers refuse the
        # newer default trailers, and put_stream computes its own SHA-256 anyway.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


class S3Storage:
    """A ``Storage`` over one S3 bucket."""

    def __init__(self, client: S3Client, bucket: str, *, min_part_size: int = MIN_PART_SIZE):
        self._client = client
        self.bucket = bucket
        self._min_part_size = min_part_size

    @classmethod
    def connect(
        cls,
        *,
        bucket: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> S3Storage:
        """Build the client. Blocking (boto3 reads its data files and may ask an instance role
        for credentials): call it in a thread. Without keys, boto3's default chain applies
        (environment, profile, instance role)."""
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=client_config(path_style=endpoint_url is not None),
        )
        return cls(client, bucket)

    def part_size(self, max_bytes: int) -> int:
        """Parts big enough for ``max_bytes`` to fit in S3's 10,000, in whole MiB."""
        needed = math.ceil(max_bytes / MAX_PARTS / MiB) * MiB
        return max(self._min_part_size, needed)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        max_bytes: int,
    ) -> StoredObject:
        validate_key(key)
        limit = ByteLimit(max_bytes)
        part_size = self.part_size(max_bytes)
        sha256 = hashlib.sha256()  # updated in worker threads, one part after another
        buffer: list[bytes] = []
        buffered = 0
        upload: _MultipartUpload | None = None
        try:
            async for chunk in chunks:
                limit.add(chunk)
                buffer.append(chunk)
                buffered += len(chunk)
                if buffered >= part_size:
                    if upload is None:
                        upload = await _MultipartUpload.start(self, key, content_type)
                    part = b"".join(buffer)
                    buffer, buffered = [], 0
                    await upload.send(part, sha256)
            rest = b"".join(buffer)
            buffer = []
            if upload is None:
                await self._call(self._put_object, key, rest, content_type, sha256)
            else:
                if rest:
                    await upload.send(rest, sha256)
                await upload.complete()
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise
        return StoredObject(
            key=key, size=limit.size, sha256=sha256.hexdigest(), content_type=content_type
        )

    def _put_object(self, key: str, data: bytes, content_type: str, sha256: Any) -> None:
        sha256.update(data)
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def open(self, key: str, *, start: int = 0, length: int | None = None) -> ObjectStream:
        validate_key(key)
        validate_range(start, length)
        if length == 0:
            await self.size(key)  # NotFound all the same
            return _empty_stream()
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            arguments["Range"] = f"bytes={start}-{end}"
        try:
            response = await self._call(lambda: self._client.get_object(**arguments))
        except ClientError as exc:
            if _error_code(exc) != "InvalidRange":
                raise
            # The range starts past the end (or the object is empty): nothing to read.
            await self.size(key)
            return _empty_stream()
        body = response["Body"]

        async def read() -> bytes:
            return await self._call(body.read, READ_CHUNK)

        async def close() -> None:
            await asyncio.to_thread(body.close)

        return ObjectStream(response["ContentLength"], read, close)

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call(lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except NotFound:
            return False
        return True

    async def size(self, key: str) -> int:
        validate_key(key)
        response = await self._call(lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        return response["ContentLength"]

    async def presigned_get(
        self, key: str, *, filename: str, content_type: str, expires_s: int = 300
    ) -> str | None:
        validate_key(key)
        validate_expiry(expires_s)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        # Signing is local CPU work, but refreshing expiring credentials (an instance role)
        # is network I/O, so it runs in a thread like every other boto3 call.
        return await asyncio.to_thread(
            self._client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires_s
        )

    async def presigned_put(
        self, key: str, *, content_type: str, size: int, expires_s: int = 300
    ) -> PresignedUpload | None:
        validate_key(key)
        validate_expiry(expires_s)
        if not 0 <= size <= MAX_SINGLE_PUT:
            raise ValueError(f"a presigned upload takes 0..{MAX_SINGLE_PUT} bytes, not {size}")
        params = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        # Content-Length becomes a signed header: S3 refuses a body of any other size.
        params["ContentLength"] = size  # type: ignore[assignment]
        url = await asyncio.to_thread(
            self._client.generate_presigned_url, "put_object", Params=params, ExpiresIn=expires_s
        )
        return PresignedUpload(
            url=url,
            method="PUT",
            headers={"Content-Type": content_type, "Content-Length": str(size)},
        )

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a boto3 call in a thread: a missing object is ``NotFound``; an unreachable or
        failing store (after botocore's retries) is ``Unavailable`` (503), not a 500."""
        try:
            return await asyncio.to_thread(function, *args)
        except ClientError as exc:
            code = _error_code(exc)
            if code in _NOT_FOUND_CODES:
                raise NotFound("The file does not exist.", code="file_not_found") from None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                raise _unavailable(exc) from exc
            raise
        except (ConnectionError, HTTPClientError, ResponseStreamingError) as exc:
            raise _unavailable(exc) from exc


class _MultipartUpload:
    """One multipart upload: at most one part in flight while the caller gathers the next."""

    def __init__(self, storage: S3Storage, key: str, upload_id: str) -> None:
        self._storage = storage
        self._key = key
        self._upload_id = upload_id
        self._parts: list[CompletedPartTypeDef] = []
        self._in_flight: asyncio.Future[CompletedPartTypeDef] | None = None

    @classmethod
    async def start(cls, storage: S3Storage, key: str, content_type: str) -> _MultipartUpload:
        client = storage._client
        response = await storage._call(
            lambda: client.create_multipart_upload(
                Bucket=storage.bucket, Key=key, ContentType=content_type
            )
        )
        return cls(storage, key, response["UploadId"])

    async def send(self, data: bytes, sha256: Any) -> None:
        await self._settle()
        number = len(self._parts) + 1
        self._in_flight = asyncio.ensure_future(
            self._storage._call(self._upload_part, number, data, sha256)
        )

    def _upload_part(self, number: int, data: bytes, sha256: Any) -> CompletedPartTypeDef:
        sha256.update(data)
        response = self._storage._client.upload_part(
            Bucket=self._storage.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    async def _settle(self) -> None:
        if self._in_flight is not None:
            # Shielded: if the caller is cancelled, the part's thread runs on regardless, and
            # abort() must wait for it before aborting.
            part = await asyncio.shield(self._in_flight)
            self._in_flight = None
            self._parts.append(part)

    async def complete(self) -> None:
        await self._settle()
        storage = self._storage
        await storage._call(
            lambda: storage._client.complete_multipart_upload(
                Bucket=storage.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        )

    async def abort(self) -> None:
        if self._in_flight is not None:
            await asyncio.gather(self._in_flight, return_exceptions=True)
            self._in_flight = None
        storage = self._storage
        try:
            await storage._call(
                lambda: storage._client.abort_multipart_upload(
                    Bucket=storage.bucket, Key=self._key, UploadId=self._upload_id
                )
            )
        except Exception:
            # The original failure matters more; the bucket's lifecycle rule cleans up.
            log.warning("could not abort multipart upload of %s", self._key, exc_info=True)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(exc: Exception) -> Unavailable:
    log.warning("file store unavailable: %s", exc)
    return Unavailable("The file store is unavailable; retry shortly.", code="storage_unavailable")


def _empty_stream() -> ObjectStream:
    async def read() -> bytes:
        return b""

    async def close() -> None:
        return None

    return ObjectStream(0, read, close)
