"""Shared fixtures: a real PostgreSQL with migrations applied, one rolled-back transaction per
test, an app client, and blockbuster failing any test that blocks the event loop.

PostgreSQL: ``SEMINAR_TEST_DATABASE_URL`` (a server; a scratch database is created on it and
dropped afterwards) or, when unset, an embedded PostgreSQL started for the run.
Redis: ``SEMINAR_TEST_REDIS_URL``; tests needing it skip when unset, and fail instead when
``SEMINAR_TEST_REQUIRE_SERVICES=1`` (CI sets it, so a missing Redis is never silent).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient
from blockbuster import BlockBuster, blockbuster_ctx
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from lms_core.accounts.passwords import PasswordHasher
from lms_core.db import create_engine
from lms_core.mail.models import OutboxMessage
from lms_core.migrate import migrate
from server.app import create_app
from server.embedded_pg import EmbeddedPostgres
from server.settings import Settings
from server.state import Database
from tests.s3_server import local_s3_server
from tests.smtp_server import LocalSmtpServer, local_smtp_server

ORIGIN = "http://127.0.0.1:8080"
PASSWORD = "correct horse battery staple"
REQUIRE_SERVICES = os.environ.get("SEMINAR_TEST_REQUIRE_SERVICES") == "1"

AppClient = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[AppClient]]


def _create_scratch_database(server_url: str) -> tuple[str, Callable[[], None]]:
    name = f"seminar_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(server_url).set(drivername="postgresql+asyncpg")

    async def run(sql: str) -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    return url, lambda: asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server = os.environ.get("SEMINAR_TEST_DATABASE_URL")
    embedded: EmbeddedPostgres | None = None
    if server:
        url, drop = _create_scratch_database(server)
    else:
        base = Path(tempfile.mkdtemp(prefix="semtest", dir="/tmp"))
        base.chmod(0o755)  # as root, pgserver needs its ancestors traversable (embedded_pg.py)
        embedded = EmbeddedPostgres(base / "pg")
        embedded.start()
        url, drop = embedded.create_database("seminar_test"), lambda: None

    async def apply() -> None:
        engine = create_engine(url, pool_size=1)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(apply())
    yield url
    drop()
    if embedded is not None:
        embedded.stop()
        shutil.rmtree(embedded.pgdata.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3 (moto's server, tests/s3_server.py), started once per run when first used."""
    with local_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("SEMINAR_TEST_REDIS_URL")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("SEMINAR_TEST_REDIS_URL is not set but services are required")
        pytest.skip("no Redis: set SEMINAR_TEST_REDIS_URL to run Redis tests")
    return url


@pytest.fixture(autouse=True)
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx(scanned_modules=["server", "lms_core", "rooms", "media"]) as bb:
        # redis-py reads its own package metadata from disk for every new connection
        # (redis/utils.py get_lib_version): a third-party cost we accept, not our code's.
        for function in bb.functions.values():
            function.can_block_in("redis/utils.py", "get_lib_version")
        yield bb


def allow_pgpass_read(blockbuster: BlockBuster) -> None:
    # A new asyncpg connection without a password reads ~/.pgpass with blocking file I/O.
    # Connections of the rolled-back `database` fixture open in the fixture; an engine of our
    # own first connects inside our code, where blockbuster would flag that read.
    for function in blockbuster.functions.values():
        function.can_block_in("asyncpg/connect_utils.py", "_parse_connect_dsn_and_args")


@pytest_asyncio.fixture
async def engine(database_url: str, blockbuster: BlockBuster) -> AsyncIterator[AsyncEngine]:
    """A real pooled engine: its commits are visible to other connections, so a test using it
    deletes what it added (by a unique marker) instead of relying on a rollback."""
    allow_pgpass_read(blockbuster)
    engine = create_engine(database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def smtp() -> AsyncIterator[LocalSmtpServer]:
    """A real SMTP server on 127.0.0.1 collecting what it receives."""
    async with local_smtp_server() as server:
        yield server


@pytest_asyncio.fixture
async def db_connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()
    await engine.dispose()


@pytest.fixture
def database(db_connection: AsyncConnection) -> Database:
    # Each unit of work becomes a SAVEPOINT inside the test's transaction: commits are real
    # to the code under test, and everything vanishes at the end.
    sessions = async_sessionmaker(
        bind=db_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return Database(engine=db_connection.engine, sessions=sessions)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_url": ORIGIN,
        "run_workers": False,
        "log_format": "console",
        "sfu_workers": 0,  # tests about SFU workers start their own
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[AppClient]], database: Database, database_url: str
) -> ClientFactory:
    """Build a client for an app with settings overrides (sharing the test's transaction)."""

    async def factory(**overrides: Any) -> AppClient:
        settings = make_settings(database_url, **overrides)
        # create_app is start-up code that may touch the disk; production calls it before the
        # loop runs, so here it runs off the loop too.
        app = await asyncio.to_thread(create_app, settings, database=database, hasher=FAST_HASHER)
        return await aiohttp_client(app, headers={"Origin": settings.base_url})

    return factory


@pytest_asyncio.fixture
async def client(make_client: ClientFactory) -> AppClient:
    return await make_client()


async def register(
    client: AppClient,
    email: str = "student@example.com",
    name: str = "Sam Student",
    password: str = PASSWORD,
) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": name}
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def login(client: AppClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def latest_mail(database: Database, to: str, template: str) -> OutboxMessage:
    async with database.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.to_address == to, OutboxMessage.template == template)
            .order_by(OutboxMessage.created_at.desc())
            .limit(1)
        )
    assert row is not None, f"no {template} mail to {to}"
    return row


def token_from(mail: OutboxMessage) -> str:
    return mail.body_text.split("token=", 1)[1].split()[0]
