#!/usr/bin/env python3
"""Check that the Alembic migrations and the SQLAlchemy models agree.

On a scratch database (created with a unique name, dropped afterwards) this:

1. checks that the migration history has exactly one head;
2. applies every migration with ``lms_core.migrate.migrate`` (as ``seminar migrate`` does);
3. compares the migrated schema with ``lms_core.models.metadata`` using Alembic's
   autogenerate comparison and fails if there is any difference (a model change without a
   migration, or a migration that does not match the models);
4. downgrades to the base, checks that no table or type is left behind, and upgrades to
   head again (every migration's ``downgrade()`` works and the upgrade is repeatable).

The PostgreSQL server comes from ``--database-url`` or ``SEMINAR_TEST_DATABASE_URL`` (any
database on it; the user must be allowed to CREATE DATABASE). Without either, an embedded
PostgreSQL is started in a temporary directory, unless ``SEMINAR_TEST_REQUIRE_SERVICES=1``
(CI), which makes a missing server an error.

Usage: python scripts/check-migrations.py [--database-url URL]
Exit status: 0 when models and migrations agree, 1 on a difference or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pprint
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# Run from a checkout without installing: make the project importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lms_core.db import create_engine
from lms_core.migrate import alembic_config, current_revision, migrate
from lms_core.models import metadata

PREFIX = "check-migrations:"


class CheckFailed(Exception):
    """A check failed; the message says which and why."""


def say(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


def _diff(connection: Connection) -> list[Any]:
    # The same options as lms_core/migrations/env.py uses for autogenerate.
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _downgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def _leftovers(connection: Connection) -> list[str]:
    """Tables, views, sequences and types left in the public schema besides alembic_version."""
    rows = connection.execute(
        text(
            """
            SELECT 'relation ' || c.relname
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'S', 'p')
               AND c.relname <> 'alembic_version'
            UNION ALL
            SELECT 'type ' || t.typname
              FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
               AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid
                               AND c.relkind <> 'c')
            ORDER BY 1
            """
        )
    )
    return [str(r[0]) for r in rows]


async def _admin(server_url: str, sql: str) -> None:
    admin = make_url(server_url).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def check(url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    if len(heads) != 1:
        raise CheckFailed(
            f"the migration history has {len(heads)} heads {sorted(heads)}; "
            "expected exactly one (merge them with `alembic merge`)"
        )
    head = heads[0]
    say(f"single head: {head}")

    engine = create_engine(url, pool_size=1)
    try:
        await migrate(engine)
        current = await current_revision(engine)
        if current != head:
            raise CheckFailed(f"after migrating, the database is at {current}, not {head}")
        say(f"upgraded to head {head}")

        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        if diff:
            raise CheckFailed(
                "the models and the migrations disagree; Alembic autogenerate would emit:\n"
                + pprint.pformat(diff, width=100)
                + "\nWrite a migration for the model change (or fix the migration)."
            )
        say("models and migrations agree (autogenerate diff is empty)")

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "base")
        async with engine.connect() as conn:
            left = await conn.run_sync(_leftovers)
        if left:
            raise CheckFailed(
                "downgrading to base left these behind (drop them in downgrade()): "
                + ", ".join(left)
            )
        say("downgraded to base cleanly")

        await migrate(engine)
        current = await current_revision(engine)
        if current != head:
            raise CheckFailed(f"after re-migrating, the database is at {current}, not {head}")
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        if diff:
            raise CheckFailed(
                "after downgrade and upgrade again the schema differs from the models:\n"
                + pprint.pformat(diff, width=100)
            )
        say("upgraded to head again; schema still matches")
    finally:
        await engine.dispose()


def run_on_server(server_url: str) -> None:
    name = f"seminar_migcheck_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
    say(f"scratch database {name} on {url.host or 'local socket'}:{url.port or 5432}")
    try:
        asyncio.run(check(url.render_as_string(hide_password=False)))
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        say(f"dropped {name}")


def run_embedded() -> None:
    from server.embedded_pg import EmbeddedPostgres

    # A short path directly under /tmp, mode 0755: see server/embedded_pg.py (socket path
    # length; as root, private ancestors are refused).
    base = Path(tempfile.mkdtemp(prefix="semmig", dir="/tmp"))
    base.chmod(0o755)
    embedded = EmbeddedPostgres(base / "pg")
    try:
        say(f"no SEMINAR_TEST_DATABASE_URL: starting embedded PostgreSQL in {base}")
        embedded.start()
        url = embedded.create_database("migcheck")
        asyncio.run(check(url))
    finally:
        embedded.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SEMINAR_TEST_DATABASE_URL"),
        help="a PostgreSQL server URL [default: $SEMINAR_TEST_DATABASE_URL, else embedded]",
    )
    args = parser.parse_args()
    started = time.monotonic()
    try:
        if args.database_url:
            run_on_server(args.database_url)
        elif os.environ.get("SEMINAR_TEST_REQUIRE_SERVICES") == "1":
            raise CheckFailed(
                "SEMINAR_TEST_DATABASE_URL is not set but SEMINAR_TEST_REQUIRE_SERVICES=1"
            )
        else:
            run_embedded()
    except CheckFailed as exc:
        say(f"FAILED: {exc}")
        return 1
    say(f"OK ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
