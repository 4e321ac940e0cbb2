"""Cross-cutting request handling, outermost first:

0. ``in_flight_middleware`` (shutdown.py): counts requests so shutdown can drain them;
1. ``errors_middleware``: request id, access log, metrics, and every failure as problem+json;
2. ``body_limit_middleware``: 413 from Content-Length before a byte of the body is read
   (upload routes marked ``@streams_body`` enforce their own limit: server/uploads.py);
3. ``unit_of_work_middleware`` (unit_of_work.py): one transaction per request;
4. ``auth_middleware``: session cookie or bearer token -> ``Actor`` (``/api/`` only);
5. ``csrf_middleware``: Origin check on unsafe cookie requests.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
import uuid
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from lms_core.accounts.sessions import resolve_access_token, resolve_session
from lms_core.errors import DomainError, NotAuthenticated, PermissionDenied, RateLimited
from server.api.framework import MalformedJson, UnsupportedMediaType, client_ip
from server.cookies import session_cookie_name
from server.middlewares_base import Handler
from server.problems import from_domain, problem, problem_response
from server.state import (
    ACCOUNTS,
    ACTOR,
    AUTH_FAILURE,
    HTTP_METRICS,
    REQUEST_ID,
    RESPONSE_STATUS,
    SETTINGS,
    VIA_COOKIE,
)
from server.unit_of_work import db_session
from server.uploads import is_streaming_route

log = logging.getLogger("seminar.http")

# Engines from lms_core.db.create_engine turn connect failures into OperationalError; these
# cover an engine made elsewhere. Other OSErrors are bugs and stay 500s.
_CONNECT_ERRORS = (ConnectionRefusedError, TimeoutError, socket.gaierror)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    try:
        response = await _render_errors(request, handler, request_id)
        response.headers["X-Request-ID"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        status = _status_of(request)
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[HTTP_METRICS].observe(request.method, route, status, elapsed)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client_ip": client_ip(request),
                # Who was refused matters as much as who succeeded (ASVS 16.3: denied authz).
                "user_id": str(actor.id) if (actor := request.get(ACTOR)) else None,
            },
        )
        structlog.contextvars.unbind_contextvars("request_id")


def _status_of(request: web.Request) -> int:
    status: int = request.get(RESPONSE_STATUS, 500)
    return status


async def _render_errors(
    request: web.Request, handler: Handler, request_id: str
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except DomainError as exc:
        status, body = from_domain(exc, request_id)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, NotAuthenticated):
            headers["WWW-Authenticate"] = 'Bearer realm="seminar"'
        response = problem_response(status, body, headers)
    except UnsupportedMediaType:
        response = _simple(
            415, "The body must be JSON (Content-Type: application/json).", request_id
        )
    except MalformedJson:
        response = _simple(400, "The body is not valid JSON.", request_id, code="malformed_json")
    except web.HTTPException as exc:
        if exc.status < 400:
            # A raised redirect is a response: log and count its real status, tag its id.
            request[RESPONSE_STATUS] = exc.status
            exc.headers["X-Request-ID"] = request_id
            raise
        response = _from_http_exception(exc, request_id)
    except (OperationalError, InterfaceError, PoolTimeout, *_CONNECT_ERRORS) as exc:
        response = _unavailable(exc, request_id)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            response = _unavailable(exc, request_id)
        else:  # an IntegrityError & co. is a bug, not an outage: a 500 like any other
            log.exception("unhandled error")
            response = _internal(request_id)
    except asyncio.CancelledError:
        raise
    except Exception:
        # The traceback goes to the log (with the request id), never to the client.
        log.exception("unhandled error")
        response = _internal(request_id)
    request[RESPONSE_STATUS] = response.status
    return response


def _internal(request_id: str) -> web.Response:
    return _simple(500, "An internal error occurred.", request_id, code="internal_error")


def _unavailable(exc: Exception, request_id: str) -> web.Response:
    log.warning("database unavailable: %s", type(exc).__name__)
    response = _simple(
        503, "The database is unavailable; retry shortly.", request_id, code="database_unavailable"
    )
    response.headers["Retry-After"] = "5"
    return response


def _simple(status: int, detail: str, request_id: str, *, code: str | None = None) -> web.Response:
    return problem_response(
        status,
        problem(status, code or _HTTP_CODES.get(status, "error"), detail, request_id=request_id),
    )


def _from_http_exception(exc: web.HTTPException, request_id: str) -> web.Response:
    details = {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
        413: "The request body is too large.",
    }
    response = _simple(exc.status, details.get(exc.status, exc.reason), request_id)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = request.app[SETTINGS].max_body_bytes
    length = request.content_length
    if length is not None and length > limit and not is_streaming_route(request):
        # Refuse from the header alone; the body is never read (ASVS 5.2.1).
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    authorization = request.headers.get("Authorization")
    cookie = request.cookies.get(session_cookie_name(request.app[SETTINGS]))
    request[VIA_COOKIE] = bool(cookie) and authorization is None
    if not request.path.startswith("/api/"):
        # Pages, static files and probes never need the caller: they keep answering (without a
        # database round trip) for signed-in browsers too, even while PostgreSQL is down.
        return await handler(request)
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Use 'Authorization: Bearer <token>'.", code="invalid_token")
        request[ACTOR] = await resolve_access_token(db_session(request), token.strip())
    elif cookie:
        try:
            request[ACTOR] = await resolve_session(
                db_session(request), request.app[ACCOUNTS].config, cookie
            )
        except NotAuthenticated as exc:
            request[AUTH_FAILURE] = exc
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unsafe requests must come from our own origin when a browser could have sent them.

    Bearer-token requests are exempt: a browser never attaches them on its own.
    """
    if request.method not in SAFE_METHODS and "Authorization" not in request.headers:
        origin = request.headers.get("Origin") or _referer_origin(request)
        allowed = request.app[SETTINGS].origins
        if origin is not None and origin not in allowed:
            raise _csrf("The request's Origin is not allowed.", "csrf_origin_mismatch")
        if origin is None and request.get(VIA_COOKIE):
            raise _csrf("A cookie-authenticated request must send Origin.", "csrf_origin_missing")
    return await handler(request)


def _referer_origin(request: web.Request) -> str | None:
    referer = request.headers.get("Referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _csrf(detail: str, code: str) -> DomainError:
    return PermissionDenied(detail, code=code)
