"""The session cookie: HttpOnly, SameSite=Lax, Secure (and ``__Host-``) except on localhost."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from lms_core.clock import utcnow
from server.settings import Settings


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless Secure, Path=/ and no Domain,
    # so a sibling subdomain cannot plant one. It cannot be used without TLS.
    return "__Host-seminar_sid" if settings.secure_cookies else "seminar_sid"


def set_session_cookie(
    response: web.StreamResponse, settings: Settings, token: str, expires_at: datetime
) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        token,
        max_age=max(0, int((expires_at - utcnow()).total_seconds())),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Lax",
    )


def clear_session_cookie(response: web.StreamResponse, settings: Settings) -> None:
    response.del_cookie(
        session_cookie_name(settings),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
