"""Shared pieces of the job tests: payload models, unique kind names, reading jobs back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from lms_core.db import SessionFactory
from lms_core.jobs import Job, get_job


class Echo(BaseModel):
    value: int


def unique_kind(label: str = "job") -> str:
    """A kind no other test (or leftover row) uses, so runners claim only this test's jobs."""
    return f"test.{label}.{uuid.uuid4().hex[:10]}"


async def load(sessions: SessionFactory, job_id: uuid.UUID) -> Job:
    async with sessions() as session:
        return await get_job(session, job_id)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, step: float = 0.05
) -> None:
    """Wait until ``check()`` (a database read) is true, failing after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polls the database, not a Python flag
            await asyncio.sleep(step)
