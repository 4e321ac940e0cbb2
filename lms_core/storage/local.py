"""The embedded default: files in a local directory (``SEMINAR_DATA_DIR/files``).

Every file operation runs in a worker thread. A write goes to a temporary file in ``.tmp``
under the same root, is flushed to disk, and is renamed into place only when complete, so a
reader never sees a partial file and a refused or failed upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from lms_core.errors import NotFound, StorageFull
from lms_core.storage.port import (
    ByteLimit,
    ObjectStream,
    PresignedUpload,
    StoredObject,
    validate_expiry,
    validate_key,
    validate_range,
)

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
WRITE_BATCH = 1024 * 1024
"""Bytes gathered before a write is handed to a thread: fewer hops, still a small buffer."""

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
TEMP_DIR = ".tmp"  # keys cannot start a segment with ".", so no key ever lands here


class LocalStorage:
    """A ``Storage`` over a directory. Presigned URLs do not exist here: the application serves
    the bytes itself (``open``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._temp = root / TEMP_DIR

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        max_bytes: int,
    ) -> StoredObject:
        target = self._path(key)
        limit = ByteLimit(max_bytes)
        try:
            writer = await asyncio.to_thread(_TempFile.create, self._temp)
        except OSError as exc:
            if _disk_full(exc):
                raise StorageFull() from exc
            raise
        try:
            batch: list[bytes] = []
            batched = 0
            async for chunk in chunks:
                limit.add(chunk)
                batch.append(chunk)
                batched += len(chunk)
                if batched >= WRITE_BATCH:
                    await asyncio.to_thread(writer.write, batch)
                    batch, batched = [], 0
            if batch:
                await asyncio.to_thread(writer.write, batch)
            digest = await asyncio.to_thread(writer.commit, target)
        except BaseException as exc:
            # The writer's lock makes this wait for a write still running in its thread.
            await asyncio.to_thread(writer.discard)
            if isinstance(exc, OSError) and _disk_full(exc):
                raise StorageFull() from exc
            raise
        return StoredObject(key=key, size=limit.size, sha256=digest, content_type=content_type)

    async def open(self, key: str, *, start: int = 0, length: int | None = None) -> ObjectStream:
        path = self._path(key)
        validate_range(start, length)
        try:
            file, size = await asyncio.to_thread(_open_for_reading, path, start)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _not_found() from None
        available = max(0, size - start)
        remaining = available if length is None else min(length, available)
        total = remaining

        async def read() -> bytes:
            nonlocal remaining
            if remaining <= 0:
                return b""
            chunk = await asyncio.to_thread(file.read, min(READ_CHUNK, remaining))
            remaining -= len(chunk)
            return chunk

        async def close() -> None:
            await asyncio.to_thread(file.close)

        return ObjectStream(total, read, close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def size(self, key: str) -> int:
        path = self._path(key)
        try:
            info = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found() from None
        if not stat.S_ISREG(info.st_mode):
            raise _not_found()
        return info.st_size

    async def presigned_get(
        self, key: str, *, filename: str, content_type: str, expires_s: int = 300
    ) -> str | None:
        validate_key(key)
        validate_expiry(expires_s)
        return None

    async def presigned_put(
        self, key: str, *, content_type: str, size: int, expires_s: int = 300
    ) -> PresignedUpload | None:
        validate_key(key)
        validate_expiry(expires_s)
        return None

    async def close(self) -> None:
        return None

    def remove_stale_temp_files(self, older_than_s: float = 86400) -> int:
        """Delete temporary files left by a crash (blocking: call it in a thread at start-up).

        Only old ones: another process sharing the directory may be uploading right now.
        """
        removed = 0
        cutoff = time.time() - older_than_s
        try:
            entries = list(os.scandir(self._temp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        if removed:
            log.info("removed %d stale temporary upload file(s) from %s", removed, self._temp)
        return removed


class _TempFile:
    """A temporary file written from worker threads; hashes what it writes."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self._file = file
        self._sha256 = hashlib.sha256()
        self._lock = threading.Lock()
        self._done = False

    @classmethod
    def create(cls, directory: Path) -> _TempFile:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
        return cls(Path(name), os.fdopen(fd, "wb"))

    def write(self, chunks: list[bytes]) -> None:
        with self._lock:
            for chunk in chunks:
                self._sha256.update(chunk)
                self._file.write(chunk)

    def commit(self, target: Path) -> str:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, target)
            self._done = True
            _fsync_directory(target.parent)
            return self._sha256.hexdigest()

    def discard(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            # A failed flush (disk full) of a file that is about to be deleted is no matter.
            with contextlib.suppress(OSError):
                self._file.close()
            self.path.unlink(missing_ok=True)


def _open_for_reading(path: Path, start: int) -> tuple[BinaryIO, int]:
    file = path.open("rb")
    try:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(str(path))
        if start:
            file.seek(start)
    except BaseException:
        file.close()
        raise
    return file, info.st_size


def _fsync_directory(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk too.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _not_found() -> NotFound:
    return NotFound("The file does not exist.", code="file_not_found")


def _disk_full(exc: OSError) -> bool:
    if exc.errno in _DISK_FULL:
        log.error("file storage is full: %s", exc)
        return True
    return False
