"""Streaming a request body into storage: the one way files enter Seminar over HTTP.

The body is the file itself (``fetch(url, {method: "PUT", body: file})``), never buffered:

1. a ``Content-Length`` over the limit is refused (413) before a byte is read;
2. the first bytes are read and sniffed; a type that is not allowed, or bytes that are not what
   the filename or ``Content-Type`` says, are refused (415) before anything is stored;
3. the rest streams into ``Storage.put_stream``, which counts bytes as they arrive: a body
   without a length (chunked) is cut with a 413 the moment it passes the limit, and nothing is
   left behind.

A route that streams uploads must be marked with ``@streams_body``: the application-wide
``SEMINAR_MAX_BODY_BYTES`` check (meant for JSON bodies) then leaves it to this module.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection
from contextlib import aclosing
from typing import TypeVar

from aiohttp import StreamReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from lms_core.errors import DomainError, TooLarge
from lms_core.storage import Storage, StoredObject
from lms_core.storage.sniff import SNIFF_BYTES, check_content_type

READ_CHUNK = 256 * 1024
_STREAMS_BODY = "_seminar_streams_body"

H = TypeVar("H")


class UploadInterrupted(DomainError):
    """The client stopped sending before the body was complete (400)."""

    default_code = "upload_interrupted"
    default_detail = "The upload was interrupted before it was complete."


def streams_body(handler: H) -> H:
    """Mark a handler that reads its own (large) body, exempting it from the JSON body limit."""
    setattr(handler, _STREAMS_BODY, True)
    return handler


def is_streaming_route(request: web.Request) -> bool:
    return bool(getattr(request.match_info.handler, _STREAMS_BODY, False))


async def receive_upload(
    request: web.Request,
    storage: Storage,
    key: str,
    *,
    max_bytes: int,
    allowed_types: Collection[str],
    filename: str | None = None,
) -> StoredObject:
    """Stream the request body to ``key``; return what was stored, with its checked type.

    ``filename`` is the user's name for the file (its extension is checked against the bytes);
    without one, the request's ``Content-Type`` is what the bytes must match.
    Raises ``TooLarge`` (413), ``UnsupportedMediaType`` (415), ``UploadInterrupted`` (400),
    ``StorageFull`` (507) or ``Unavailable`` (503).
    """
    length = request.content_length
    if length is not None and length > max_bytes:
        raise TooLarge(
            f"The file is larger than the limit of {max_bytes} bytes.",
            extra={"max_bytes": max_bytes},
        )
    try:
        head = await _read_head(request.content, min(SNIFF_BYTES, max_bytes + 1))
    except (HttpProcessingError, ConnectionError) as exc:
        raise UploadInterrupted() from exc
    content_type = check_content_type(
        head,
        filename=filename,
        declared=request.headers.get(hdrs.CONTENT_TYPE),
        allowed=allowed_types,
    )
    try:
        async with aclosing(_body(head, request.content)) as chunks:
            return await storage.put_stream(
                key, chunks, content_type=content_type, max_bytes=max_bytes
            )
    except (HttpProcessingError, ConnectionError) as exc:
        # aiohttp reports a connection lost mid-body as a payload or connection error.
        raise UploadInterrupted() from exc


async def _read_head(content: StreamReader, size: int) -> bytes:
    head = bytearray()
    while len(head) < size:
        chunk = await content.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return bytes(head)


async def _body(head: bytes, content: StreamReader) -> AsyncGenerator[bytes, None]:
    if head:
        yield head
    async for chunk in content.iter_chunked(READ_CHUNK):
        yield chunk
