"""SQLAlchemy foundations shared by every domain: the declarative base, engine and sessions.

Services receive an ``AsyncSession`` and never commit; the unit of work that opened the
session (an HTTP request, a CLI command, a job) commits once at its end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, func
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lms_core.clock import utcnow

# Deterministic constraint names make Alembic autogenerate diffs stable and migrations portable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    # Python-side defaults too: now() is the transaction's start, the same for every row in it.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, server_default=func.now(), onupdate=utcnow
    )


SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> AsyncEngine:
    """An engine for ``url`` (``postgresql+asyncpg://``).

    ``pool_pre_ping`` turns a PostgreSQL restart into zero failed requests instead of one
    (measured in research/reliability-security.md §1). The pool is sized to the expected
    in-flight requests: a pool smaller than the concurrency turned a 20 ms p99 into 250-780 ms.
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        pool_pre_ping=True,
        pool_recycle=1800,
        echo=echo,
    )
    event.listen(engine.sync_engine, "do_connect", _connect_failure_is_operational)
    return engine


def _connect_failure_is_operational(
    dialect: Dialect, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> DBAPIConnection:
    """Open a connection; a server that cannot be reached raises ``OperationalError``.

    asyncpg lets the socket's ``OSError`` escape from connect (``ConnectionRefusedError``,
    ``TimeoutError``, and ``FileNotFoundError`` when a unix socket file is gone, as after a
    clean PostgreSQL shutdown), where SQLAlchemy passes it through unwrapped. As a DB-API error
    it becomes ``sqlalchemy.exc.OperationalError``, like any other driver's connect failure,
    so callers tell "database down" from a bug by type alone, without guessing which OSError
    came from the database.
    """
    try:
        connection: DBAPIConnection = dialect.connect(*cargs, **cparams)
    except OSError as exc:
        raise dialect.loaded_dbapi.OperationalError(
            f"cannot connect to PostgreSQL: {type(exc).__name__}: {exc}", exc
        ) from exc
    return connection


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def unit_of_work(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One transaction: commit if the block succeeds, roll back if it raises."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
