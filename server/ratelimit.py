"""Rate limits on the endpoints attackers like (login, registration, password reset).

Moving windows from the ``limits`` library, in memory by default and in Redis when REDIS_URL is
set, so every node sees the same counters. Limits are keyed on (account, client IP) plus the IP
alone: an attacker hammering someone's account from one address is throttled while the real
user, from theirs, can still log in (no malicious lockout, ASVS 6.3.1).
"""

from __future__ import annotations

import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from redis.asyncio import Redis

from lms_core.errors import RateLimited


class RateLimiter:
    def __init__(self, storage: Storage, client: Redis | None = None) -> None:
        self._storage = storage
        self._client = client
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def create(cls, redis_url: str | None) -> RateLimiter:
        if redis_url is None:
            storage = storage_from_string("async+memory://")
            assert isinstance(storage, Storage)
            return cls(storage)
        # redis-py (already a dependency) rather than limits' default, coredis; our own pool
        # so that close() can release its connections.
        client: Redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        options: dict[str, Any] = {"connection_pool": client.connection_pool}
        storage = storage_from_string(
            "async+" + redis_url, implementation="redispy", key_prefix="seminar:limits", **options
        )
        assert isinstance(storage, Storage)
        return cls(storage, client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def hit(self, rule: str | RateLimitItem, scope: str, *keys: str) -> None:
        """Count one attempt; raise ``RateLimited`` with the wait if over the limit."""
        item = parse(rule) if isinstance(rule, str) else rule
        if await self._limiter.hit(item, scope, *keys):
            return
        stats = await self._limiter.get_window_stats(item, scope, *keys)
        raise RateLimited(
            "Too many attempts; wait before trying again.",
            retry_after=int(stats.reset_time - time.time()) + 1,
        )

    async def clear(self, rule: str, scope: str, *keys: str) -> None:
        await self._limiter.clear(parse(rule), scope, *keys)

    async def check_storage(self) -> bool:
        return bool(await self._storage.check())

    async def reset(self) -> None:
        await self._storage.reset()
