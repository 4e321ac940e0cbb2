"""The caller's own account and personal access tokens, including the wrong-user cases."""

from __future__ import annotations

from sqlalchemy import select

from lms_core.accounts.models import AccessToken
from server.state import Database
from tests.conftest import PASSWORD, AppClient, ClientFactory, latest_mail, login, register


async def test_me_requires_authentication(client: AppClient) -> None:
    resp = await client.get("/api/v1/users/me")
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"


async def test_update_profile_name_and_email(client: AppClient, database: Database) -> None:
    await register(client, "me@example.com", "Me")
    await login(client, "me@example.com")
    resp = await client.patch(
        "/api/v1/users/me", json={"name": "  New Name  ", "email": "new@example.com"}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["name"] == "New Name"
    assert body["email"] == "new@example.com"
    assert body["email_verified"] is False
    await latest_mail(database, "new@example.com", "email_verification")


async def test_role_cannot_be_self_assigned(client: AppClient) -> None:
    await register(client, "climber@example.com")
    await login(client, "climber@example.com")
    resp = await client.patch("/api/v1/users/me", json={"role": "admin"})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["loc"] == ["body", "role"]
    me = await (await client.get("/api/v1/users/me")).json()
    assert me["role"] == "student"


async def test_email_change_to_a_taken_address(client: AppClient) -> None:
    await register(client, "taken@example.com")
    await register(client, "mover@example.com")
    await login(client, "mover@example.com")
    resp = await client.patch("/api/v1/users/me", json={"email": "TAKEN@example.com"})
    assert resp.status == 409


async def test_change_password_signs_out_other_sessions(make_client: ClientFactory) -> None:
    laptop = await make_client()
    phone = await make_client()
    await register(laptop, "pw@example.com")
    await login(laptop, "pw@example.com")
    await login(phone, "pw@example.com")

    wrong = await laptop.post(
        "/api/v1/users/me/password",
        json={"current_password": "not my password", "new_password": "fresh passphrase 1"},
    )
    assert wrong.status == 422
    assert (await wrong.json())["code"] == "current_password_incorrect"

    ok = await laptop.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "fresh passphrase 1"},
    )
    assert ok.status == 204
    assert (await laptop.get("/api/v1/users/me")).status == 200  # this session stays
    assert (await phone.get("/api/v1/users/me")).status == 401  # the other one ends
    await login(phone, "pw@example.com", "fresh passphrase 1")


async def test_personal_access_tokens(client: AppClient, database: Database) -> None:
    await register(client, "api@example.com")
    await login(client, "api@example.com")
    created = await client.post("/api/v1/users/me/tokens", json={"name": "CI"})
    assert created.status == 201
    body = await created.json()
    token = body["token"]
    assert token.startswith("smr_pat_")
    assert body["prefix"] == token[:12]

    # Stored hashed: the secret itself is nowhere in the table.
    async with database.sessions() as session:
        stored = (await session.scalars(select(AccessToken))).all()
    assert all(token.encode() not in row.token_hash for row in stored)

    listing = await (await client.get("/api/v1/users/me/tokens")).json()
    assert [t["name"] for t in listing["items"]] == ["CI"]
    assert "token" not in listing["items"][0]

    client.session.cookie_jar.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/v1/users/me", headers=bearer)
    assert me.status == 200
    assert (await me.json())["email"] == "api@example.com"
    # Bearer requests are not subject to the cookie CSRF check.
    patched = await client.patch(
        "/api/v1/users/me", json={"name": "Bot"}, headers={**bearer, "Origin": "https://x.example"}
    )
    assert patched.status == 200

    revoke = await client.delete(f"/api/v1/users/me/tokens/{body['id']}", headers=bearer)
    assert revoke.status == 204
    after = await client.get("/api/v1/users/me", headers=bearer)
    assert after.status == 401
    assert (await after.json())["code"] == "invalid_token"


async def test_bad_bearer_tokens(client: AppClient) -> None:
    for value in ("Bearer nope", "Bearer smr_pat_forged", "Basic dXNlcjpwYXNz", "Bearer "):
        resp = await client.get("/api/v1/users/me", headers={"Authorization": value})
        assert resp.status == 401, value
        assert (await resp.json())["code"] == "invalid_token"


async def test_cannot_revoke_someone_elses_token(make_client: ClientFactory) -> None:
    alice = await make_client()
    mallory = await make_client()
    await register(alice, "alice@example.com")
    await login(alice, "alice@example.com")
    token = await (await alice.post("/api/v1/users/me/tokens", json={"name": "a"})).json()
    await register(mallory, "mallory@example.com")
    await login(mallory, "mallory@example.com")

    resp = await mallory.delete(f"/api/v1/users/me/tokens/{token['id']}")
    assert resp.status == 404
    assert (await mallory.get("/api/v1/users/me/tokens")).status == 200
    assert (await (await mallory.get("/api/v1/users/me/tokens")).json())["items"] == []
    still = await alice.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token['token']}"}
    )
    assert still.status == 200


async def test_invalid_token_id_is_a_validation_error(client: AppClient) -> None:
    await register(client, "uuid@example.com")
    await login(client, "uuid@example.com")
    resp = await client.delete("/api/v1/users/me/tokens/not-a-uuid")
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["loc"][:2] == ["path", "token_id"]
