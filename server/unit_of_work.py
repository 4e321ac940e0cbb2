"""One database transaction per request: opened on first use, committed once at the end.

Handlers and services never commit. If the handler raises, the transaction rolls back, so a
failed request leaves no partial writes.

Work outside the database that must follow the transaction's fate (deleting a stored object a
row no longer names; deleting a new object whose row was never committed) is registered with
:func:`after_commit` / :func:`after_rollback` and runs once the outcome is known.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from server.middlewares_base import Handler
from server.state import AFTER_COMMIT as _AFTER_COMMIT
from server.state import AFTER_ROLLBACK as _AFTER_ROLLBACK
from server.state import DATABASE, DB_SESSION

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


def after_commit(request: web.Request, hook: Hook) -> None:
    """Run ``hook`` once the request's transaction has committed (not if it rolls back)."""
    request.setdefault(_AFTER_COMMIT, []).append(hook)


def after_rollback(request: web.Request, hook: Hook) -> None:
    """Run ``hook`` if the request's transaction rolls back or fails to commit."""
    request.setdefault(_AFTER_ROLLBACK, []).append(hook)


async def _run(request: web.Request, key: web.RequestKey[list[Any]]) -> None:
    for hook in request.get(key, ()):
        try:
            await hook()
        except Exception:  # a cleanup that fails must not turn a done request into a 500
            log.exception("unit of work hook failed")


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
        await _run(request, _AFTER_ROLLBACK)
        raise
    session = request.get(DB_SESSION)
    if session is not None:
        try:
            await session.commit()
        except BaseException:
            await _run(request, _AFTER_ROLLBACK)
            raise
        finally:
            await session.close()
    await _run(request, _AFTER_COMMIT)
    return response
