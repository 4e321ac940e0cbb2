"""Who is connecting to ``/live``, to which room, in which role: decided by the server.

Two ways in, both through lms_core's checks:

* ``auth={"ticket": "smr_lvt_..."}``: a single-use join ticket (``redeem_ticket``), which
  names the session and the role;
* the session cookie (resolved by ``resolve_session``, as ``auth_middleware`` does for HTTP)
  plus ``auth={"live_session_id": "..."}``: ``authorize_join`` decides.

A foreign ``Origin`` is refused whatever the credential (the CSRF middleware's rule:
``settings.origins``); a cookie connect must send an Origin (browsers always do), so another
site's page cannot ride a signed-in user's cookie (cross-site WebSocket hijacking).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from lms_core.accounts.sessions import resolve_session
from lms_core.db import unit_of_work
from lms_core.errors import FieldError, InvalidInput, NotAuthenticated, PermissionDenied
from lms_core.live.models import LiveRole
from lms_core.live.tickets import authorize_join, redeem_ticket
from server.cookies import session_cookie_name
from server.state import ACCOUNTS, DATABASE, SETTINGS


@dataclass(frozen=True, slots=True)
class Connection:
    user_id: uuid.UUID
    live_session_id: uuid.UUID
    role: LiveRole


def _request(environ: dict[str, Any]) -> web.Request:
    request = environ["aiohttp.request"]
    assert isinstance(request, web.Request)
    return request


async def authenticate(
    app: web.Application, environ: dict[str, Any], auth: Any, presented_at: datetime | None = None
) -> Connection:
    """Raise a ``DomainError`` (turned into the connect refusal) or say who this is. A ticket
    is judged as of ``presented_at`` (when the connect arrived; default now)."""
    request = _request(environ)
    settings = app[SETTINGS]
    origin = request.headers.get("Origin")
    if origin is not None and origin not in settings.origins:
        raise PermissionDenied(
            "The connection's Origin is not allowed.", code="csrf_origin_mismatch"
        )
    auth = auth if isinstance(auth, dict) else {}
    ticket = auth.get("ticket")
    async with unit_of_work(app[DATABASE].sessions) as session:
        if ticket is not None:
            if not isinstance(ticket, str):
                raise _invalid("ticket", "A join ticket is a string.")
            redeemed = await redeem_ticket(session, ticket, presented_at)
            return Connection(redeemed.user_id, redeemed.live_session_id, redeemed.role)
        cookie = request.cookies.get(session_cookie_name(settings))
        if not cookie:
            raise NotAuthenticated("Connect with a join ticket or the session cookie.")
        if origin is None:
            raise PermissionDenied(
                "A cookie-authenticated connection must send Origin.", code="csrf_origin_missing"
            )
        actor = await resolve_session(session, app[ACCOUNTS].config, cookie)
        try:
            live_session_id = uuid.UUID(str(auth.get("live_session_id")))
        except ValueError:
            raise _invalid("live_session_id", "The live session's id (a UUID).") from None
        live, role = await authorize_join(session, actor, live_session_id)
        return Connection(actor.id, live.id, role)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        "The connection's auth payload is not valid.",
        code="invalid_payload",
        errors=[FieldError(("auth", field), message, "invalid")],
    )
