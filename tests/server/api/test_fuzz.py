"""Schemathesis fuzzes every operation of the live OpenAPI document (ASVS 2.2.1, 2.2.2; fault
table row 13 of the reliability research): valid and invalid inputs (``--mode all``) must never
produce a 5xx, and every response must have a documented status, content type and body schema.

The app listens on a real port in the test's event loop, sharing the test's rolled-back
transaction (so nothing the fuzzer creates outlives the test), and the ``st`` CLI runs against it
in a subprocess. Generation is deterministic (``--generation-deterministic``, no example
database): the same code and document send the same requests, so CI is stable. One worker,
because every request shares the test's single database connection. Rate limits are raised so the
fuzzer reaches the handlers instead of collecting 429s. ``schemathesis_hooks.py`` keeps back the
rare case too large for aiohttp's HTTP parser (a request line over 8190 bytes gets its plain-text
400 before the app runs: a transport limit, not API behaviour).

Three passes:

* signed in as an administrator with a personal access token (``Authorization: Bearer``, which
  the CSRF check exempts), every operation except the three that can end that credential or its
  role; afterwards the token must still work and its owner still be an admin, so the whole pass
  really ran signed in;
* those three (``deactivate_user``, ``change_role``, ``revoke_token``), with the operations
  whose responses feed them ids, under a second administrator's token: the fuzzer may promote a
  user it registered, then demote or deactivate the caller or revoke the token, after which that
  pass sees documented 401s/403s. Accepted;
* anonymously: protected operations must refuse with documented 401/403s, public ones work.

A failure's message is schemathesis's report, with a ``curl`` line reproducing each failure.
For a longer, random hunt: ``SEMINAR_FUZZ_SEED=7 SEMINAR_FUZZ_MAX_EXAMPLES=300 pytest
tests/server/api/test_fuzz.py --timeout 0``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from lms_core.accounts.models import Role, User
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login, register

OPENAPI_URL = "/api/v1/openapi.json"
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Operations that can end the fuzzing credential or its admin role (the fuzzer promotes a user it
# registered, then demotes or deactivates the caller), and those whose responses give them ids.
DESTRUCTIVE = ("deactivate_user", "change_role", "revoke_token")
ID_SOURCES = ("register", "search_users", "get_user", "create_token", "list_tokens")
# Without Stripe settings these answer 503 payments_not_configured (documented, but a 5xx to
# schemathesis); test_payments_fuzz.py fuzzes them with Stripe configured (the stand-in), as
# test_payouts_fuzz.py does the payout ones with Connect on and test_subscriptions_fuzz.py the
# platform plan's with its prices set.
NEEDS_STRIPE = (
    "checkout",
    "stripe_webhook",
    "payout_onboarding",
    "run_payouts",
    "create_course_code",
    "stop_course_code",
    "create_platform_code",
    "stop_platform_code",
    "subscription_plans",
    "subscribe_to_plan",
    "subscription_portal",
)
UNLIMITED = {
    "login_rate_limit": "1000000/minute",
    "ip_rate_limit": "1000000/minute",
    "register_rate_limit": "1000000/hour",
    "reset_rate_limit": "1000000/hour",
}
# Under the module's pytest limit (a pass takes ~100 s on a quiet 2-core machine, over 4 min
# with the machine busy); a longer hunt (SEMINAR_FUZZ_MAX_EXAMPLES) gets no limit.
RUN_TIMEOUT = None if os.environ.get("SEMINAR_FUZZ_MAX_EXAMPLES") else 420.0
pytestmark = pytest.mark.timeout(0 if RUN_TIMEOUT is None else RUN_TIMEOUT + 60)


def generation_args() -> list[str]:
    examples = os.environ.get("SEMINAR_FUZZ_MAX_EXAMPLES", "30")
    seed = os.environ.get("SEMINAR_FUZZ_SEED")
    # Deterministic generation implies no example database; a seeded run must be told.
    if seed:
        mode = ["--seed", seed, "--generation-database", "none"]
    else:
        mode = ["--generation-deterministic"]
    return ["--mode", "all", "--max-examples", examples, *mode]


async def schemathesis(client: AppClient, tmp_path: Path, *args: str) -> str:
    """Run ``st run`` against the app; fail the test with its report unless it passes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(client.make_url(OPENAPI_URL)),
        "--checks",
        ",".join(CHECKS),
        *generation_args(),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # no stray schemathesis.toml is read, no report files land in the repo
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "COLUMNS": "120"},
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"schemathesis did not finish in {RUN_TIMEOUT} s")
    report = stdout.decode(errors="replace")
    assert process.returncode == 0, report
    assert "Operations:" in report, report
    return report


async def admin_token(client: AppClient, database: Database, email: str) -> str:
    """Register ``email``, make them an administrator, and return a new bearer token."""
    await register(client, email, "Fuzz Admin")
    async with database.sessions() as session:
        await session.execute(update(User).where(User.email == email).values(role=Role.ADMIN))
        await session.commit()
    await login(client, email)
    resp = await client.post("/api/v1/users/me/tokens", json={"name": "fuzz"})
    assert resp.status == 201, await resp.text()
    token: str = (await resp.json())["token"]
    client.session.cookie_jar.clear()
    return token


async def whoami(client: AppClient, token: str) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


def only(*operation_ids: str) -> list[str]:
    return [arg for op in operation_ids for arg in ("--include-operation-id", op)]


def excluding(*operation_ids: str) -> list[str]:
    return [arg for op in operation_ids for arg in ("--exclude-operation-id", op)]


def bearer(token: str) -> list[str]:
    # The header is the credential; generated session cookies beside it would only be ignored.
    return [
        "--header",
        f"Authorization: Bearer {token}",
        "--generation-with-security-parameters",
        "false",
    ]


async def test_fuzz_signed_in(
    make_client: ClientFactory, database: Database, tmp_path: Path
) -> None:
    client = await make_client(**UNLIMITED)
    token = await admin_token(client, database, "fuzz-admin@example.com")

    await schemathesis(client, tmp_path, *bearer(token), *excluding(*DESTRUCTIVE, *NEEDS_STRIPE))

    # The credential lasted the whole pass, so every operation was fuzzed signed in as an admin.
    status, me = await whoami(client, token)
    assert status == 200, me
    assert me["role"] == "admin", me


async def test_fuzz_operations_that_end_the_credential(
    make_client: ClientFactory, database: Database, tmp_path: Path
) -> None:
    client = await make_client(**UNLIMITED)
    token = await admin_token(client, database, "fuzz-destroyer@example.com")
    await schemathesis(client, tmp_path, *bearer(token), *only(*DESTRUCTIVE, *ID_SOURCES))


async def test_fuzz_anonymous(make_client: ClientFactory, tmp_path: Path) -> None:
    client = await make_client(**UNLIMITED)
    await schemathesis(client, tmp_path, *excluding(*NEEDS_STRIPE))


# Regressions for what the fuzzer found.


async def admin_client(make_client: ClientFactory, database: Database) -> AppClient:
    client = await make_client()
    await register(client, "nul-admin@example.com", "Nul Admin")
    async with database.sessions() as session:
        await session.execute(
            update(User).where(User.email == "nul-admin@example.com").values(role=Role.ADMIN)
        )
        await session.commit()
    await login(client, "nul-admin@example.com")
    return client


async def assert_nul_refused(resp: Any, loc: list[str]) -> None:
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert body["code"] == "validation_failed"
    assert any(e["loc"] == loc and e["type"] == "nul_character" for e in body["errors"]), body


async def test_nul_characters_are_422_not_500(
    make_client: ClientFactory, database: Database
) -> None:
    # PostgreSQL text cannot store U+0000: these were 500s (CharacterNotInRepertoireError).
    client = await admin_client(make_client, database)
    await assert_nul_refused(
        await client.post("/api/v1/users/me/tokens", json={"name": "ci\x00"}), ["body", "name"]
    )
    await assert_nul_refused(
        await client.patch("/api/v1/users/me", json={"name": "a\x00b"}), ["body", "name"]
    )
    await assert_nul_refused(
        await client.get("/api/v1/admin/users", params={"q": "a\x00"}), ["query", "q"]
    )
    anonymous = await make_client()
    await assert_nul_refused(
        await anonymous.post(
            "/api/v1/auth/register",
            json={"email": "nul@example.com", "password": "correct horse battery", "name": "\x00"},
        ),
        ["body", "name"],
    )
    # Still fine without the NUL.
    ok = await client.patch("/api/v1/users/me", json={"name": "a b"})
    assert ok.status == 200


@pytest.mark.parametrize(
    "created",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        "2026-01-01T00:00:00",  # naive: never a cursor this API issued
    ],
)
async def test_forged_cursor_times_are_422_not_500(
    make_client: ClientFactory, database: Database, created: str
) -> None:
    client = await admin_client(make_client, database)
    cursor = base64.urlsafe_b64encode(
        f"{created}|00000000-0000-0000-0000-000000000000".encode()
    ).decode()
    resp = await client.get("/api/v1/admin/users", params={"cursor": cursor})
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["code"] == "invalid_cursor"


async def test_bad_credentials_on_public_operations_are_documented(client: AppClient) -> None:
    # A bad bearer token is refused on every API operation, public ones included; the document
    # said nothing of 401 there. Probes outside /api/ (healthz, readyz, metrics) ignore it.
    document = await (await client.get(OPENAPI_URL)).json()
    public = [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if op["security"] == [] and path.startswith("/api/")
    ]
    assert public
    for method, path, op in public:
        resp = await client.request(
            method, path, headers={"Authorization": "Bearer smr_pat_revoked"}
        )
        assert resp.status == 401, (method, path, resp.status)
        assert "401" in op["responses"], (method, path)
        assert resp.content_type == "application/problem+json"


async def test_probes_ignore_credentials(client: AppClient) -> None:
    for path in ("/healthz", "/readyz"):
        resp = await client.get(path, headers={"Authorization": "Bearer smr_pat_revoked"})
        assert resp.status == 200, path
