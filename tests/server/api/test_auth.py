"""Registration, login, logout, sessions and password reset over real HTTP and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from lms_core.accounts.models import User
from lms_core.clock import utcnow
from server.state import Database
from tests.conftest import (
    ORIGIN,
    PASSWORD,
    AppClient,
    ClientFactory,
    latest_mail,
    login,
    register,
    token_from,
)


async def test_register_login_and_see_oneself(client: AppClient) -> None:
    created = await register(client, "Ann@Example.com", "Ann")
    assert created["email"] == "ann@example.com"
    assert "password_hash" not in created
    assert "password" not in created

    await login(client, "ann@example.com")
    resp = await client.get("/api/v1/users/me")
    assert resp.status == 200
    me = await resp.json()
    assert me["id"] == created["id"]
    assert me["role"] == "student"


async def test_password_is_stored_as_argon2id(client: AppClient, database: Database) -> None:
    await register(client, "hash@example.com")
    async with database.sessions() as session:
        user = await session.scalar(select(User).where(User.email == "hash@example.com"))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")


async def test_duplicate_email_is_a_conflict(client: AppClient) -> None:
    await register(client, "dup@example.com")
    resp = await client.post(
        "/api/v1/auth/register",
        json={"email": "DUP@example.com", "password": PASSWORD, "name": "Again"},
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "email_taken"


async def test_password_policy(client: AppClient) -> None:
    async def attempt(password: str) -> tuple[int, str | None]:
        resp = await client.post(
            "/api/v1/auth/register",
            json={"email": f"p{len(password)}@example.com", "password": password, "name": "P"},
        )
        return resp.status, (await resp.json()).get("code")

    assert await attempt("short77") == (422, "password_too_short")
    assert await attempt("password1") == (422, "password_too_common")
    assert await attempt("Qwerty123") == (422, "password_too_common")  # case-insensitive
    assert await attempt("x" * 129) == (422, "password_too_long")
    assert (await attempt("long pass phrase " * 4))[0] == 201  # 68 characters
    assert (await attempt("aaaaaaaa-no-composition-rules"))[0] == 201


async def test_password_is_not_trimmed(client: AppClient) -> None:
    await register(client, "trim@example.com", password=PASSWORD + " ")
    resp = await client.post(
        "/api/v1/auth/login", json={"email": "trim@example.com", "password": PASSWORD}
    )
    assert resp.status == 401
    await login(client, "trim@example.com", PASSWORD + " ")


async def test_wrong_password_and_unknown_user_get_the_same_answer(client: AppClient) -> None:
    await register(client, "known@example.com")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "known@example.com", "password": "not it at all"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "not it at all"}
    )
    assert wrong.status == unknown.status == 401
    a, b = await wrong.json(), await unknown.json()
    assert a["code"] == b["code"] == "invalid_credentials"
    assert a["detail"] == b["detail"]


async def test_session_cookie_flags_and_fixation(client: AppClient) -> None:
    await register(client, "fix@example.com")
    # A cookie planted before login must not become the session.
    client.session.cookie_jar.update_cookies({"seminar_sid": "planted-by-attacker"})
    resp = await client.post(
        "/api/v1/auth/login", json={"email": "fix@example.com", "password": PASSWORD}
    )
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    assert "Path=/" in set_cookie
    new_value = resp.cookies["seminar_sid"].value
    assert new_value != "planted-by-attacker"
    assert len(new_value) >= 43  # 256 bits, urlsafe base64


async def test_secure_cookie_outside_localhost(make_client: ClientFactory) -> None:
    client = await make_client(public_url="https://learn.example.org")
    await register(client, "tls@example.com")
    resp = await client.post(
        "/api/v1/auth/login",
        json={"email": "tls@example.com", "password": PASSWORD},
        headers={"Origin": "https://learn.example.org"},
    )
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("__Host-seminar_sid=")
    assert "Secure" in cookie
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")


async def test_logout_revokes_the_session(client: AppClient) -> None:
    await register(client, "out@example.com")
    await login(client, "out@example.com")
    old = client.session.cookie_jar.filter_cookies(client.make_url("/"))["seminar_sid"].value
    assert (await client.post("/api/v1/auth/logout")).status == 204
    # Replaying the old cookie after logout is refused.
    resp = await client.get("/api/v1/users/me", cookies={"seminar_sid": old})
    assert resp.status == 401


async def test_session_idle_and_absolute_expiry(make_client: ClientFactory) -> None:
    client = await make_client(session_idle_minutes=30, session_absolute_days=1)
    await register(client, "idle@example.com")
    await login(client, "idle@example.com")
    with time_machine.travel(utcnow() + timedelta(minutes=29), tick=False):
        assert (await client.get("/api/v1/users/me")).status == 200
    with time_machine.travel(utcnow() + timedelta(minutes=29 + 31), tick=False):
        resp = await client.get("/api/v1/users/me")
        assert resp.status == 401
        assert (await resp.json())["code"] == "session_expired"

    await login(client, "idle@example.com")
    start = utcnow()
    for minutes in range(20, 60 * 24, 20):  # active all day, never idle
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert (await client.get("/api/v1/users/me")).status == 200
    with time_machine.travel(start + timedelta(days=1, minutes=1), tick=False):
        assert (await client.get("/api/v1/users/me")).status == 401


async def test_password_reset_flow(client: AppClient, database: Database) -> None:
    await register(client, "reset@example.com")
    await login(client, "reset@example.com")
    other = client.session.cookie_jar.filter_cookies(client.make_url("/"))["seminar_sid"].value

    resp = await client.post("/api/v1/auth/password-reset", json={"email": "reset@example.com"})
    assert resp.status == 202
    token = token_from(await latest_mail(database, "reset@example.com", "password_reset"))

    new_password = "a brand new passphrase"
    confirm = {"token": token, "new_password": new_password}
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=confirm)).status == 204
    # Single use.
    again = await client.post("/api/v1/auth/password-reset/confirm", json=confirm)
    assert again.status == 410
    assert (await again.json())["code"] == "token_invalid"
    # Sessions opened with the old password are over.
    resp = await client.get("/api/v1/users/me", cookies={"seminar_sid": other})
    assert resp.status == 401
    await login(client, "reset@example.com", new_password)


async def test_password_reset_for_unknown_email_looks_the_same(
    client: AppClient, database: Database
) -> None:
    resp = await client.post("/api/v1/auth/password-reset", json={"email": "ghost@example.com"})
    assert resp.status == 202


async def test_expired_reset_token(client: AppClient, database: Database) -> None:
    await register(client, "late@example.com")
    await client.post("/api/v1/auth/password-reset", json={"email": "late@example.com"})
    token = token_from(await latest_mail(database, "late@example.com", "password_reset"))
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        resp = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "another fine passphrase"},
        )
    assert resp.status == 410


async def test_email_verification(client: AppClient, database: Database) -> None:
    await register(client, "verify@example.com")
    token = token_from(await latest_mail(database, "verify@example.com", "email_verification"))
    resp = await client.post("/api/v1/auth/verify-email/confirm", json={"token": token})
    assert resp.status == 200
    assert (await resp.json())["email_verified"] is True
    again = await client.post("/api/v1/auth/verify-email/confirm", json={"token": token})
    assert again.status == 410


async def test_origin_checks(client: AppClient) -> None:
    await register(client, "csrf@example.com")
    await login(client, "csrf@example.com")
    patch = {"name": "Changed"}
    foreign = await client.patch(
        "/api/v1/users/me", json=patch, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status == 403
    assert (await foreign.json())["code"] == "csrf_origin_mismatch"
    # aiohttp's client adds no Origin of its own; the fixture's default is removed here.
    missing = await client.patch(
        "/api/v1/users/me", json=patch, skip_auto_headers=["Origin"], headers={"Origin": ""}
    )
    assert missing.status == 403
    ok = await client.patch("/api/v1/users/me", json=patch, headers={"Origin": ORIGIN})
    assert ok.status == 200


async def test_login_from_a_foreign_origin_is_refused(client: AppClient) -> None:
    await register(client, "lcsrf@example.com")
    resp = await client.post(
        "/api/v1/auth/login",
        json={"email": "lcsrf@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status == 403
