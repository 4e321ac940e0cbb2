"""Fixtures for tests whose jobs are really committed (runners in tasks and processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.jobs import Job
from tests.lms_core.jobs.helpers import unique_kind


class KindNames:
    """Hands out unique kind names and remembers them, so the test's jobs can be deleted."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, label: str = "job") -> str:
        name = unique_kind(label)
        self.names.append(name)
        return name


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest_asyncio.fixture
async def kind_names(sessions: SessionFactory) -> AsyncIterator[KindNames]:
    names = KindNames()
    yield names
    if names.names:
        async with unit_of_work(sessions) as session:
            await session.execute(delete(Job).where(Job.kind.in_(names.names)))
