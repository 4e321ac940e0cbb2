from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.server.live.harness import World


@pytest_asyncio.fixture
async def world(
    engine: AsyncEngine, database_url: str, aiohttp_client: Any
) -> AsyncIterator[World]:
    w = World(engine, database_url, aiohttp_client)
    await w.start_server()
    try:
        yield w
    finally:
        await w.close()
