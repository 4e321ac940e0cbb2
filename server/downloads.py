"""Answering with a stored object: a redirect to a presigned URL (S3), else the bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from lms_core.storage import Storage


async def stored_object_response(
    storage: Storage,
    key: str,
    *,
    content_type: str,
    filename: str,
    headers: Mapping[str, str],
    redirect_seconds: int = 300,
) -> web.StreamResponse:
    """Call only after the authorization check. ``headers`` go on either answer;
    ``filename`` names the download (the presigned URL's disposition; for the bytes served
    here, set ``Content-Disposition`` in ``headers`` if one is wanted)."""
    url = await storage.presigned_get(
        key, filename=filename, content_type=content_type, expires_s=redirect_seconds
    )
    if url is not None:
        return web.Response(status=302, headers={**headers, "Location": url})
    stream = await storage.open(key)

    async def body() -> AsyncIterator[bytes]:
        async with stream:
            async for chunk in stream:
                yield chunk

    # The bytes are written after the handler returns, so the request's transaction has
    # already ended and no database connection is held while a large object is sent.
    return web.Response(
        body=body(),
        headers={**headers, "Content-Length": str(stream.size)},
        content_type=content_type,
    )
