"""Administration of users: admins only, and the effects of deactivation."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import update

from lms_core.accounts.models import Role, User
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login, register


async def make_admin(client: AppClient, database: Database, email: str) -> dict[str, Any]:
    user = await register(client, email, "Ada Admin")
    async with database.sessions() as session:
        await session.execute(update(User).where(User.email == email).values(role=Role.ADMIN))
        await session.commit()
    await login(client, email)
    return user


async def test_students_and_instructors_cannot_use_admin_routes(
    make_client: ClientFactory, database: Database
) -> None:
    client = await make_client()
    target = await register(client, "target@example.com")
    await register(client, "plain@example.com")
    await login(client, "plain@example.com")
    uid = target["id"]
    calls = [
        client.get("/api/v1/admin/users"),
        client.get(f"/api/v1/admin/users/{uid}"),
        client.put(f"/api/v1/admin/users/{uid}/role", json={"role": "admin"}),
        client.post(f"/api/v1/admin/users/{uid}/deactivate"),
        client.post(f"/api/v1/admin/users/{uid}/activate"),
    ]
    for call in calls:
        resp = await call
        assert resp.status == 403
        assert (await resp.json())["code"] == "admin_required"

    anonymous = await make_client()
    assert (await anonymous.get("/api/v1/admin/users")).status == 401


async def test_search_and_paginate(client: AppClient, database: Database) -> None:
    await make_admin(client, database, "root@example.com")
    for i in range(5):
        await register(client, f"user{i}@school.example", f"Pupil {i}")
    page = await (
        await client.get("/api/v1/admin/users", params={"q": "school", "limit": 2})
    ).json()
    assert len(page["items"]) == 2
    seen = [u["email"] for u in page["items"]]
    while page["next_cursor"]:
        page = await (
            await client.get(
                "/api/v1/admin/users",
                params={"q": "school", "limit": 2, "cursor": page["next_cursor"]},
            )
        ).json()
        seen += [u["email"] for u in page["items"]]
    assert sorted(seen) == [f"user{i}@school.example" for i in range(5)]
    assert len(set(seen)) == 5

    by_role = await (await client.get("/api/v1/admin/users", params={"role": "admin"})).json()
    assert [u["email"] for u in by_role["items"]] == ["root@example.com"]
    # LIKE wildcards in the query are literal.
    none = await (await client.get("/api/v1/admin/users", params={"q": "%"})).json()
    assert none["items"] == []
    bad = await client.get("/api/v1/admin/users", params={"cursor": "garbage!"})
    assert bad.status == 422
    assert (await bad.json())["code"] == "invalid_cursor"


async def test_change_role(client: AppClient, database: Database) -> None:
    admin = await make_admin(client, database, "boss@example.com")
    teacher = await register(client, "teacher@example.com")
    resp = await client.put(
        f"/api/v1/admin/users/{teacher['id']}/role", json={"role": "instructor"}
    )
    assert resp.status == 200
    assert (await resp.json())["role"] == "instructor"
    bad = await client.put(f"/api/v1/admin/users/{teacher['id']}/role", json={"role": "king"})
    assert bad.status == 422
    # The last admin cannot demote themself.
    last = await client.put(f"/api/v1/admin/users/{admin['id']}/role", json={"role": "student"})
    assert last.status == 409
    assert (await last.json())["code"] == "last_admin"
    missing = await client.put(
        "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/role", json={"role": "student"}
    )
    assert missing.status == 404


async def test_deactivation_ends_sessions_and_tokens(
    make_client: ClientFactory, database: Database
) -> None:
    admin = await make_client()
    victim = await make_client()
    await make_admin(admin, database, "chief@example.com")
    user = await register(victim, "leaver@example.com")
    await login(victim, "leaver@example.com")
    token = (await (await victim.post("/api/v1/users/me/tokens", json={"name": "t"})).json())[
        "token"
    ]

    resp = await admin.post(f"/api/v1/admin/users/{user['id']}/deactivate")
    assert resp.status == 200
    assert (await resp.json())["is_active"] is False

    # The old cookie, the token, and a fresh login all fail.
    assert (await victim.get("/api/v1/users/me")).status == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await victim.get("/api/v1/users/me", headers=bearer)).status == 401
    relogin = await victim.post(
        "/api/v1/auth/login",
        json={"email": "leaver@example.com", "password": "correct horse battery staple"},
    )
    assert relogin.status == 403
    assert (await relogin.json())["code"] == "account_inactive"

    assert (await admin.post(f"/api/v1/admin/users/{user['id']}/activate")).status == 200
    await login(victim, "leaver@example.com")


async def test_a_deactivated_admin_can_be_demoted(client: AppClient, database: Database) -> None:
    await make_admin(client, database, "active-admin@example.com")
    other = await register(client, "old-admin@example.com")
    uid = other["id"]
    assert (
        await client.put(f"/api/v1/admin/users/{uid}/role", json={"role": "admin"})
    ).status == 200
    assert (await client.post(f"/api/v1/admin/users/{uid}/deactivate")).status == 200
    # Only one active admin remains, but demoting an inactive one removes no active admin.
    resp = await client.put(f"/api/v1/admin/users/{uid}/role", json={"role": "student"})
    assert resp.status == 200
    assert (await resp.json())["role"] == "student"


async def test_denied_admin_calls_are_logged_with_the_user(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = await register(client, "snoop@example.com")
    await login(client, "snoop@example.com")
    with caplog.at_level(logging.INFO, logger="seminar.http"):
        resp = await client.get("/api/v1/admin/users")
    assert resp.status == 403
    [record] = [r for r in caplog.records if getattr(r, "route", None) == "/api/v1/admin/users"]
    assert record.__dict__["status"] == 403
    assert record.__dict__["user_id"] == user["id"]
