"""PostgreSQL stopped, restarted and killed under a running app (research §1, fault table row 1).

Each test starts its own embedded PostgreSQL (never the machine's server), migrates a
database in it, and runs the real application against it: the real pool, with
``pool_pre_ping``. The faults are a fast shutdown (``pg_ctl stop``), a restart on the same
data directory, and SIGKILL of the postmaster (which leaves a stale ``postmaster.pid`` and
socket behind, for ``EmbeddedPostgres.start`` to clear).

What we observed (asyncpg 0.32, SQLAlchemy 2.1):

* After a clean stop the socket file is gone and asyncpg's connect raises the socket's
  ``FileNotFoundError``; after SIGKILL the file stays and it is ``ConnectionRefusedError``.
  SQLAlchemy passes such OSErrors through unwrapped, and ``FileNotFoundError`` reached the
  errors middleware as a bug: a 500 with a traceback in the log. ``lms_core.db`` now turns
  any OSError from connect into ``OperationalError`` (a 503 ``database_unavailable``).
* Queries running on a connection whose backend was killed fail with a ``DBAPIError``
  flagged ``connection_invalidated`` (also a 503); no request answered 500.
* With ``pool_pre_ping`` the first request after a restart succeeds, even when the pool
  still holds connections to the old server; it took 15-35 ms here.
* ``/healthz`` stays 200 for a probe without cookies. A request carrying a session cookie
  resolves the session first, so for a signed-in browser even ``/healthz`` is a 503.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from blockbuster import BlockBuster
from sqlalchemy.exc import OperationalError

from lms_core.db import create_engine
from lms_core.migrate import migrate
from server.app import create_app
from server.embedded_pg import EmbeddedPostgres
from tests.conftest import (
    FAST_HASHER,
    ORIGIN,
    AppClient,
    ClientFactory,
    login,
    make_settings,
    register,
)

EMAIL = "restart@example.com"


@pytest.fixture
def postgres() -> Iterator[EmbeddedPostgres]:
    # As root, pgserver needs every ancestor of its data directory traversable (embedded_pg.py).
    base = Path(tempfile.mkdtemp(prefix="semfault", dir="/tmp"))
    base.chmod(0o755)
    server = EmbeddedPostgres(base / "pg")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest_asyncio.fixture
async def database_url_in(postgres: EmbeddedPostgres, blockbuster: BlockBuster) -> str:
    for function in blockbuster.functions.values():
        # Every new asyncpg connection without a password looks for ~/.pgpass (os.stat, and a
        # read if it exists): a third-party cost, and here the pool really opens connections.
        function.can_block_in("asyncpg/connect_utils.py", "_read_password_from_pgpass")
        # Alembic reads the migration scripts: start-up work, done before serving (as the CLI).
        function.can_block_in("lms_core/migrate.py", "_upgrade")
    url = await asyncio.to_thread(postgres.create_database, "seminar_fault")
    engine = create_engine(url, pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return url


@pytest_asyncio.fixture
async def app_client(database_url_in: str, aiohttp_client: ClientFactory) -> AppClient:
    # No injected database: the app opens its own pool, exactly as in production.
    app = await asyncio.to_thread(create_app, make_settings(database_url_in), hasher=FAST_HASHER)
    client = await aiohttp_client(app, headers={"Origin": ORIGIN})
    await register(client, EMAIL)
    await login(client, EMAIL)
    return client


async def connect_failure(url: str) -> BaseException | None:
    """What a fresh connection attempt raises underneath SQLAlchemy's OperationalError."""
    engine = create_engine(url, pool_size=1)
    try:
        with pytest.raises(OperationalError) as caught:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert caught.value.orig is not None
    return caught.value.orig.__cause__


def unavailable_types(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The exception types the errors middleware reported as 'database unavailable'."""
    return {
        str(r.args[0]) if isinstance(r.args, tuple) else ""
        for r in caplog.records
        if r.getMessage().startswith("database unavailable")
    }


async def assert_outage(client: AppClient) -> None:
    for method, path, body in [
        ("GET", "/api/v1/users/me", None),
        ("POST", "/api/v1/auth/login", {"email": EMAIL, "password": "wrong password!"}),
    ]:
        resp = await client.request(method, path, json=body)
        text = await resp.text()
        assert resp.status == 503, text
        assert resp.content_type == "application/problem+json"
        assert resp.headers["Retry-After"] == "5"
        problem: dict[str, Any] = await resp.json()
        assert problem["code"] == "database_unavailable"
        assert problem["request_id"] == resp.headers["X-Request-ID"]
        assert "Traceback" not in text
        assert "asyncpg" not in text
    # Probes come from an orchestrator without the user's cookie. (With a session cookie every
    # request, /healthz included, first resolves the session in the database: a 503 then.)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as probe:
        async with probe.get(client.make_url("/healthz")) as healthz:
            assert healthz.status == 200
        async with probe.get(client.make_url("/readyz")) as readyz:
            assert readyz.status == 503
            assert readyz.headers["Retry-After"] == "5"
            ready: dict[str, Any] = await readyz.json()
    assert ready["code"] == "not_ready"
    assert ready["checks"]["database"].startswith("error")


async def assert_recovered(client: AppClient, restarted_at: float, label: str) -> None:
    """The very first request after the restart succeeds, on the old session cookie."""
    started = time.perf_counter()
    me = await client.get("/api/v1/users/me")
    took = time.perf_counter() - started
    assert me.status == 200, await me.text()
    body: dict[str, Any] = await me.json()
    assert body["email"] == EMAIL
    print(
        f"\n{label}: first request after the restart succeeded in {took * 1000:.1f} ms "
        f"({(time.perf_counter() - restarted_at) * 1000:.0f} ms after PostgreSQL was ready)"
    )
    readyz = await client.get("/readyz")
    assert readyz.status == 200


async def restart(postgres: EmbeddedPostgres) -> tuple[float, float]:
    """Start PostgreSQL again on the same data directory: (seconds it took, perf_counter then)."""
    started = time.perf_counter()
    await asyncio.to_thread(postgres.start)
    return time.perf_counter() - started, time.perf_counter()


def postmaster_pid(postgres: EmbeddedPostgres) -> int:
    return int((postgres.pgdata / "postmaster.pid").read_text().splitlines()[0])


async def test_stop_answers_503_and_restart_needs_no_retry(
    postgres: EmbeddedPostgres,
    database_url_in: str,
    app_client: AppClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="seminar.http")
    await asyncio.to_thread(postgres.stop)  # pg_ctl stop: fast mode, socket file removed
    # asyncpg raises the socket's own error, which lms_core.db turns into OperationalError.
    assert isinstance(await connect_failure(database_url_in), FileNotFoundError)

    await assert_outage(app_client)
    seen = unavailable_types(caplog)
    print(f"\nafter pg_ctl stop, the errors middleware saw: {sorted(seen)}")
    assert seen, "no request was reported as 'database unavailable'"

    took, ready_at = await restart(postgres)
    print(f"restart took {took:.2f} s")
    await assert_recovered(app_client, ready_at, "stop + start")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_restart_between_requests_is_invisible(
    postgres: EmbeddedPostgres, app_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    """No request during the outage: the pool still holds connections to the old server,
    and pool_pre_ping replaces them (without it, the first request failed; research §1)."""
    caplog.set_level(logging.WARNING, logger="seminar.http")
    assert (await app_client.get("/api/v1/users/me")).status == 200
    await asyncio.to_thread(postgres.stop)
    _, ready_at = await restart(postgres)
    await assert_recovered(app_client, ready_at, "restart between requests")
    assert unavailable_types(caplog) == set()


async def test_sigkill_mid_run_answers_503_then_recovers_after_crash_recovery(
    postgres: EmbeddedPostgres,
    database_url_in: str,
    app_client: AppClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="seminar.http")
    statuses: list[int] = []
    stop = asyncio.Event()

    async def keep_asking() -> None:
        while not stop.is_set():
            resp = await app_client.get("/api/v1/users/me")
            statuses.append(resp.status)
            await resp.read()

    askers = [asyncio.create_task(keep_asking()) for _ in range(5)]
    await asyncio.sleep(0.3)
    pid = await asyncio.to_thread(postmaster_pid, postgres)
    os.kill(pid, signal.SIGKILL)  # backends notice and exit; postmaster.pid and socket stay
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*askers)
    assert 200 in statuses
    assert 503 in statuses
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    print(
        f"\nwhile PostgreSQL was killed: {statuses.count(200)} x 200, {statuses.count(503)} x 503"
    )

    # The socket file outlives the killed postmaster: refused rather than missing.
    assert isinstance(await connect_failure(database_url_in), ConnectionRefusedError)
    await assert_outage(app_client)
    seen = unavailable_types(caplog)
    print(f"after SIGKILL, the errors middleware saw: {sorted(seen)}")

    took, ready_at = await restart(postgres)  # clears the stale lock, runs crash recovery
    print(f"restart after SIGKILL (stale lock, crash recovery) took {took:.2f} s")
    assert postmaster_pid(postgres) != pid
    await assert_recovered(app_client, ready_at, "SIGKILL + start")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
