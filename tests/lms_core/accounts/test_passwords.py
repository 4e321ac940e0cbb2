"""argon2id hashing, rehash on login, and the password policy, below the HTTP layer."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from lms_core.accounts import schemas
from lms_core.accounts.config import AccountsConfig
from lms_core.accounts.passwords import (
    PasswordHasher,
    PasswordPolicy,
    load_common_passwords,
)
from lms_core.accounts.service import AccountService
from lms_core.errors import InvalidInput
from lms_core.mail.service import Mailer
from server.state import Database

PASSWORD = "a perfectly fine passphrase"


def service(hasher: PasswordHasher) -> AccountService:
    return AccountService(
        AccountsConfig(),
        hasher,
        PasswordPolicy(frozenset({"password"})),
        Mailer(sender="test@example.com", deliver=False),
    )


async def test_login_rehashes_when_parameters_change(database: Database) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    new = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    async with database.sessions() as session:
        user = await service(old).register(
            session, schemas.RegisterIn(email="re@example.com", password=PASSWORD, name="Re")
        )
        before = user.password_hash
        assert extract_parameters(before).time_cost == 1

        again = await service(new).authenticate(session, "re@example.com", PASSWORD)
        assert again.password_hash != before
        params = extract_parameters(again.password_hash)
        assert (params.time_cost, params.memory_cost) == (2, 2048)
        assert await new.verify(again.password_hash, PASSWORD)

        # Same parameters: no rehash, no write.
        current = again.password_hash
        await service(new).authenticate(session, "re@example.com", PASSWORD)
        assert again.password_hash == current


async def test_default_parameters_meet_owasp_minimum() -> None:
    hashed = await PasswordHasher().hash(PASSWORD)
    params = extract_parameters(hashed)
    assert hashed.startswith("$argon2id$")
    # OWASP: m >= 19 MiB with t >= 2, or stronger; we use 64 MiB, t = 3.
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2


async def test_verify_never_raises_on_garbage() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    assert not await hasher.verify("not a hash", PASSWORD)
    assert not await hasher.verify(None, PASSWORD)


def test_shipped_common_password_list() -> None:
    common = load_common_passwords()
    assert len(common) == 10_000
    assert {"123456", "password", "qwerty", "iloveyou"} <= common
    policy = PasswordPolicy(common)
    for bad in ("password", "PASSWORD", "Password1", "12345678"):
        with pytest.raises(InvalidInput) as caught:
            policy.check(bad)
        assert caught.value.code in ("password_too_common", "password_too_short")
    policy.check("sunflower meadow river")  # not in the list, long enough
