"""One database transaction per request: opened on first use, committed once at the end.

Handlers and services never commit. If the handler raises, the transaction rolls back, so a
failed request leaves no partial writes.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from server.middlewares_base import Handler
from server.state import DATABASE, DB_SESSION


def db_session(request: web.Request) -> AsyncSession:
    session = request.get(DB_SESSION)
    if session is None:
        session = request.app[DATABASE].sessions()
        request[DB_SESSION] = session
    return session


@web.middleware
async def unit_of_work_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except BaseException:
        session = request.get(DB_SESSION)
        if session is not None:
            await session.rollback()
            await session.close()
        raise
    session = request.get(DB_SESSION)
    if session is not None:
        try:
            await session.commit()
        finally:
            await session.close()
    return response
