"""Registration, login and logout, password reset, email verification."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from lms_core.accounts import schemas
from lms_core.accounts.sessions import open_session, revoke_session
from server.api.framework import Call, Empty, Router
from server.cookies import clear_session_cookie, set_session_cookie
from server.state import ACCOUNTS, LIMITER, SETTINGS

router = Router(tags=("auth",))


class Accepted(BaseModel):
    detail: str


@router.route(
    "POST",
    "/auth/register",
    summary="Create an account",
    body=schemas.RegisterIn,
    response=schemas.UserOut,
    status=201,
    auth="public",
    errors=(409, 422, 429),
)
async def register(call: Call[schemas.RegisterIn, Empty, Empty]) -> schemas.UserOut:
    app = call.request.app
    await app[LIMITER].hit(app[SETTINGS].register_rate_limit, "register", call.client_ip)
    user = await app[ACCOUNTS].register(call.db, call.body)
    return schemas.UserOut.model_validate(user)


@router.route(
    "POST",
    "/auth/login",
    summary="Log in; sets the session cookie",
    body=schemas.LoginIn,
    response=schemas.UserOut,
    auth="public",
    errors=(401, 403, 422, 429),
)
async def login(call: Call[schemas.LoginIn, Empty, Empty]) -> web.StreamResponse:
    app, settings = call.request.app, call.request.app[SETTINGS]
    email = call.body.email.lower()
    await app[LIMITER].hit(settings.ip_rate_limit, "login-ip", call.client_ip)
    await app[LIMITER].hit(settings.login_rate_limit, "login", email, call.client_ip)
    user = await app[ACCOUNTS].authenticate(call.db, email, call.body.password)
    token, row = await open_session(
        call.db,
        app[ACCOUNTS].config,
        user,
        ip=call.client_ip,
        user_agent=call.request.headers.get("User-Agent"),
    )
    response = web.json_response(text=schemas.UserOut.model_validate(user).model_dump_json())
    set_session_cookie(response, settings, token, row.expires_at)
    return response


@router.route(
    "POST", "/auth/logout", summary="Log out (revokes the session)", status=204, errors=(401,)
)
async def logout(call: Call[Empty, Empty, Empty]) -> web.StreamResponse:
    if call.actor.session_id is not None:
        await revoke_session(call.db, call.actor.session_id)
    response = web.Response(status=204)
    clear_session_cookie(response, call.request.app[SETTINGS])
    return response


@router.route(
    "POST",
    "/auth/password-reset",
    summary="Email a single-use password reset link",
    body=schemas.PasswordResetRequestIn,
    response=Accepted,
    status=202,
    auth="public",
    errors=(422, 429),
)
async def request_password_reset(
    call: Call[schemas.PasswordResetRequestIn, Empty, Empty],
) -> Accepted:
    app, settings = call.request.app, call.request.app[SETTINGS]
    await app[LIMITER].hit(settings.ip_rate_limit, "reset-ip", call.client_ip)
    await app[LIMITER].hit(settings.reset_rate_limit, "reset", call.body.email.lower())
    await app[ACCOUNTS].request_password_reset(call.db, call.body.email)
    return Accepted(detail="If an account exists for this address, a reset link is on its way.")


@router.route(
    "POST",
    "/auth/password-reset/confirm",
    summary="Set a new password with a reset token",
    body=schemas.PasswordResetConfirmIn,
    auth="public",
    status=204,
    errors=(410, 422, 429),
)
async def confirm_password_reset(
    call: Call[schemas.PasswordResetConfirmIn, Empty, Empty],
) -> None:
    app = call.request.app
    await app[LIMITER].hit(app[SETTINGS].ip_rate_limit, "reset-ip", call.client_ip)
    await app[ACCOUNTS].reset_password(call.db, call.body)


@router.route(
    "POST",
    "/auth/verify-email",
    summary="Send a new email verification link",
    response=Accepted,
    status=202,
    errors=(401, 429),
)
async def resend_verification(call: Call[Empty, Empty, Empty]) -> Accepted:
    app = call.request.app
    await app[LIMITER].hit(app[SETTINGS].reset_rate_limit, "verify", str(call.actor.id))
    if not call.actor.user.email_verified:
        await app[ACCOUNTS].send_verification(call.db, call.actor.user)
    return Accepted(detail="A verification link is on its way.")


@router.route(
    "POST",
    "/auth/verify-email/confirm",
    summary="Confirm an email address with its token",
    body=schemas.EmailVerificationConfirmIn,
    response=schemas.UserOut,
    auth="public",
    errors=(410, 422),
)
async def confirm_email(
    call: Call[schemas.EmailVerificationConfirmIn, Empty, Empty],
) -> schemas.UserOut:
    user = await call.request.app[ACCOUNTS].verify_email(call.db, call.body.token)
    return schemas.UserOut.model_validate(user)
