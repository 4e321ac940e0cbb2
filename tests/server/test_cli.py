"""The `seminar` command, run as a real process against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User

SEMINAR = str(Path(sys.executable).parent / "seminar")


async def run(database_url: str, *args: str, stdin: str = "") -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SEMINAR_LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        SEMINAR,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await proc.communicate(stdin.encode())
    return proc.returncode or 0, out.decode()


async def test_help_explains_every_command(database_url: str) -> None:
    code, out = await run(database_url, "--help")
    assert code == 0
    for command in ("serve", "migrate", "create-admin", "worker", "sfu-worker"):
        assert command in out
    code, out = await run(database_url, "sfu-worker", "--help")
    assert code == 0
    assert "--control-socket" in out
    code, out = await run(database_url, "serve", "--help")
    assert "--data-dir" in out
    assert "--port" in out


async def test_migrate_is_idempotent(database_url: str) -> None:
    code, out = await run(database_url, "migrate")
    assert code == 0, out
    assert "up to date" in out


async def test_create_admin(database_url: str) -> None:
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        code, out = await run(
            database_url,
            "create-admin",
            "--email",
            email,
            "--password-stdin",
            stdin="an admin passphrase\n",
        )
        assert code == 0, out
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(User.role, User.email_verified_at).where(User.email == email)
                )
            ).one()
        assert row.role is Role.ADMIN
        assert row.email_verified_at is not None

        code, out = await run(
            database_url,
            "create-admin",
            "--email",
            email,
            "--password-stdin",
            stdin="an admin passphrase\n",
        )
        assert code != 0
        assert "already exists" in out

        code, out = await run(
            database_url,
            "create-admin",
            "--email",
            "weak@example.com",
            "--password-stdin",
            stdin="password\n",
        )
        assert code != 0
        assert "at least 8" in out or "common" in out
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(User).where(User.email == email))
        await engine.dispose()


async def test_production_refusal_names_the_setting(database_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        SEMINAR,
        "serve",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SEMINAR_ENV": "production", "DATABASE_URL": database_url},
    )
    out_bytes, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    assert "SEMINAR_SECRET_KEY" in out_bytes.decode()
