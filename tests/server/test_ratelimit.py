"""Rate limits: one contract over both stores (memory and Redis), and the login rules."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from lms_core.errors import RateLimited
from server.ratelimit import RateLimiter
from tests.conftest import PASSWORD, ClientFactory, login, register


@pytest_asyncio.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield RateLimiter.create(None)
        return
    url = request.getfixturevalue("redis_url")
    limiter = RateLimiter.create(url)
    yield limiter
    await limiter.reset()
    await limiter.close()


async def test_allows_up_to_the_limit_then_refuses(limiter: RateLimiter) -> None:
    key = uuid.uuid4().hex
    for _ in range(3):
        await limiter.hit("3/minute", "test", key)
    with pytest.raises(RateLimited) as caught:
        await limiter.hit("3/minute", "test", key)
    assert 1 <= caught.value.retry_after <= 61


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    await limiter.hit("1/minute", "test", a)
    await limiter.hit("1/minute", "test", b)
    with pytest.raises(RateLimited):
        await limiter.hit("1/minute", "test", a)


async def test_clear(limiter: RateLimiter) -> None:
    key = uuid.uuid4().hex
    await limiter.hit("1/minute", "test", key)
    await limiter.clear("1/minute", "test", key)
    await limiter.hit("1/minute", "test", key)


async def test_storage_check(limiter: RateLimiter) -> None:
    assert await limiter.check_storage()


async def test_login_throttle_does_not_lock_out_the_real_user(
    make_client: ClientFactory,
) -> None:
    overrides = {"login_rate_limit": "3/minute", "ip_rate_limit": "100/minute"}
    attacker = await make_client(**overrides)
    await register(attacker, "victim@example.com")
    statuses = []
    for _ in range(5):
        resp = await attacker.post(
            "/api/v1/auth/login", json={"email": "victim@example.com", "password": "guess guess"}
        )
        statuses.append(resp.status)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
    throttled = await attacker.post(
        "/api/v1/auth/login", json={"email": "victim@example.com", "password": PASSWORD}
    )
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert (await throttled.json())["code"] == "rate_limited"

    # The real user, from another address, is not locked out. The test server sees every
    # client as 127.0.0.1, so a trusted proxy header stands in for a second address.
    victim = await make_client(**overrides, trust_forwarded_headers=True)
    resp = await victim.post(
        "/api/v1/auth/login",
        json={"email": "victim@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert resp.status == 200


async def test_per_ip_limit_across_accounts(make_client: ClientFactory) -> None:
    client = await make_client(ip_rate_limit="4/minute", login_rate_limit="100/minute")
    statuses = []
    for i in range(6):
        resp = await client.post(
            "/api/v1/auth/login", json={"email": f"spray{i}@example.com", "password": "x" * 10}
        )
        statuses.append(resp.status)
    assert statuses == [401, 401, 401, 401, 429, 429]


async def test_registration_is_rate_limited(make_client: ClientFactory) -> None:
    client = await make_client(register_rate_limit="2/hour")
    await register(client, "r1@example.com")
    await register(client, "r2@example.com")
    resp = await client.post(
        "/api/v1/auth/register",
        json={"email": "r3@example.com", "password": PASSWORD, "name": "R"},
    )
    assert resp.status == 429


async def test_limits_shared_through_redis(make_client: ClientFactory, redis_url: str) -> None:
    """Two app nodes on one Redis see one counter."""
    overrides = {"login_rate_limit": "2/minute", "redis_url": redis_url}
    node_a = await make_client(**overrides)
    node_b = await make_client(**overrides)
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    await register(node_a, email)
    await login(node_a, email)
    await login(node_b, email)
    resp = await node_a.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 429
    limiter = RateLimiter.create(redis_url)
    await limiter.reset()
    await limiter.close()
