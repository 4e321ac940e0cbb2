"""The stand-in as tests use it: the ``standin`` fixture (a fresh stand-in on a free port per
test; a module imports it by name) and the real ``stripe`` library's client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest_asyncio
import stripe

from tests.stripe_standin.server import StripeStandin, stripe_standin


@pytest_asyncio.fixture
async def standin() -> AsyncIterator[StripeStandin]:
    async with stripe_standin() as s:
        yield s


@asynccontextmanager
async def standin_client(
    standin: StripeStandin, *, answer_within: float = 10.0
) -> AsyncIterator[stripe.StripeClient]:
    """A ``StripeClient`` for the stand-in: ``answer_within`` seconds per call, no retries (a test
    that wants the retry makes it itself), closed when the block ends."""
    stripe.enable_telemetry = False
    http = stripe.AIOHTTPClient(
        timeout=aiohttp.ClientTimeout(total=answer_within), connector=aiohttp.TCPConnector()
    )
    try:
        yield stripe.StripeClient(
            "sk_test_standin",
            base_addresses={"api": standin.url},
            http_client=http,
            max_network_retries=0,
        )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
