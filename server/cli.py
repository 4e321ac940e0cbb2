"""The ``seminar`` command: serve, migrate, create-admin, worker, sfu-worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import SecretStr, ValidationError

from lms_core.accounts import schemas
from lms_core.accounts.config import AccountsConfig
from lms_core.accounts.models import Role
from lms_core.accounts.passwords import PasswordHasher, PasswordPolicy, load_common_passwords
from lms_core.accounts.service import AccountService
from lms_core.db import create_engine, create_session_factory, unit_of_work
from lms_core.errors import DomainError
from lms_core.mail.service import Mailer
from lms_core.migrate import current_revision, migrate
from media.workers.worker import (
    DEFAULT_CAPACITY,
    DEFAULT_UDP_RCVBUF,
    WorkerConfig,
    check_control_access,
)
from server import __version__, shutdown
from server.app import create_app, open_storage
from server.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from server.jobs import job_registry, run_job_runner
from server.logging import configure_logging
from server.mail_dispatch import run_mail_dispatcher, smtp_config
from server.settings import Settings, SettingsError, load_secret_key
from server.state import Database

log = logging.getLogger("seminar")
T = TypeVar("T")


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived command's main coroutine on uvloop where it is installed (measured
    +7-25% on the live room's broadcasts and on HTTP), else on asyncio's own loop."""
    try:
        import uvloop  # optional: not built for every platform
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        settings.check_production()
    except (SettingsError, ValidationError) as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose ``database_url`` is usable, starting embedded PostgreSQL if needed."""
    if settings.database_url is not None:
        yield settings
        return
    embedded = EmbeddedPostgres(settings.data_dir.resolve() / "pg")
    try:
        url = embedded.start()
    except EmbeddedPostgresError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield settings.model_copy(
            update={"database_url": url, "run_workers": settings.workers_in_process}
        )
    finally:
        embedded.stop()


async def _migrate(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _require_head(url: str) -> None:
    from alembic.script import ScriptDirectory

    from lms_core.migrate import alembic_config

    engine = create_engine(url, pool_size=1)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        raise click.ClickException(
            f"The database is at migration {current or 'none'}, the code needs {head}: "
            "run `seminar migrate` first."
        )


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where embedded PostgreSQL, the secret key and local files live [default: ./.seminar].",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Seminar: an open-source learning platform with a live classroom.

    Settings come from SEMINAR_* environment variables (plus DATABASE_URL and REDIS_URL);
    see the README for the full list.
    """


@main.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8080].")
@data_dir_option
def serve(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the web server.

    Without DATABASE_URL it starts an embedded PostgreSQL in the data dir and applies
    migrations; with DATABASE_URL it expects `seminar migrate` to have run. SIGTERM or Ctrl-C
    stops accepting connections, lets running requests finish, then closes everything.
    """
    settings = _settings(host=host, port=port, data_dir=data_dir)
    if settings.secret_key is None:  # embedded mode: generated once, kept in the data dir
        settings = settings.model_copy(update={"secret_key": SecretStr(load_secret_key(settings))})
    with _database(settings) as settings:
        assert settings.database_url is not None
        if settings.run_workers:  # embedded mode: this process is the whole installation
            asyncio.run(_migrate(settings.database_url))
        else:
            asyncio.run(_require_head(settings.database_url))
        app = create_app(settings)
        url = settings.base_url
        _run_loop(
            shutdown.serve(
                app,
                host=settings.host,
                port=settings.port,
                shutdown_timeout=settings.shutdown_timeout,
                on_ready=lambda: click.echo(
                    f"Seminar is running at {url}/  (API docs: {url}/api/docs)  Ctrl-C to stop."
                ),
            )
        )


@main.command(name="migrate")
@data_dir_option
def migrate_command(data_dir: Path | None) -> None:
    """Apply database migrations up to the newest (safe to run on every deploy)."""
    settings = _settings(data_dir=data_dir)
    with _database(settings) as settings:
        assert settings.database_url is not None
        asyncio.run(_migrate(settings.database_url))
    click.echo("Database is up to date.")


@main.command(name="create-admin")
@click.option("--email", required=True, help="The administrator's email address.")
@click.option("--name", default="Administrator", show_default=True, help="Display name.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts)."
)
@data_dir_option
def create_admin(email: str, name: str, password_stdin: bool, data_dir: Path | None) -> None:
    """Create an administrator account (Seminar ships with none)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(data_dir=data_dir)
    with _database(settings) as settings:
        assert settings.database_url is not None
        if settings.run_workers:
            asyncio.run(_migrate(settings.database_url))
        try:
            user_id = asyncio.run(_create_admin(settings, email, name, password))
        except (DomainError, ValidationError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Administrator {email} created (id {user_id}).")


async def _create_admin(settings: Settings, email: str, name: str, password: str) -> str:
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        common = await asyncio.to_thread(load_common_passwords)
        service = AccountService(
            AccountsConfig(public_url=settings.base_url),
            PasswordHasher(),
            PasswordPolicy(common),
            Mailer(sender=settings.mail_from, deliver=settings.smtp_host is not None),
        )
        data = schemas.RegisterIn(email=email, password=password, name=name)
        async with unit_of_work(create_session_factory(engine)) as session:
            # The operator vouches for the address: no verification mail to a console user.
            user = await service.register(session, data, role=Role.ADMIN, email_verified=True)
        return str(user.id)
    finally:
        await engine.dispose()


@main.command()
@data_dir_option
def worker(data_dir: Path | None) -> None:
    """Run background jobs and mail delivery until SIGTERM.

    Run any number of these beside `serve` on any node; they share the database's queue.
    SIGTERM lets running jobs finish (up to SEMINAR_SHUTDOWN_TIMEOUT), then hands the rest
    back to the queue.
    """
    settings = _settings(data_dir=data_dir)
    with _database(settings) as settings:
        _run_loop(_worker(settings))


async def _worker(settings: Settings) -> None:
    assert settings.database_url is not None
    await _require_head(settings.database_url)
    # One connection per running job, one to LISTEN, a few for claims, heartbeats and mail.
    engine = create_engine(settings.database_url, pool_size=settings.worker_concurrency + 3)
    database = Database(engine=engine, sessions=create_session_factory(engine))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    config = smtp_config(settings)
    storage = await open_storage(settings)
    try:
        async with asyncio.TaskGroup() as work:
            registry = job_registry(settings, storage)
            work.create_task(run_job_runner(database, registry, settings, stop))
            if config is None:
                log.warning("no SMTP configured: mail stays in the outbox")
            else:
                from lms_core.mail.smtp import SmtpTransport

                mailer = Mailer(sender=settings.mail_from, deliver=True)
                work.create_task(run_mail_dispatcher(database, mailer, SmtpTransport(config), stop))
            log.info("worker started")
    finally:
        await storage.close()
        await engine.dispose()
        log.info("worker stopped")


@main.command(name="sfu-worker")
@click.option(
    "--worker-id", default=None, help="Name the control plane knows it by [default: host-pid]."
)
@click.option(
    "--control-socket",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Unix socket to take control requests on (instead of TCP).",
)
@click.option("--control-host", default="127.0.0.1", show_default=True, help="TCP interface.")
@click.option("--control-port", type=int, default=0, show_default=True, help="TCP port (0: any).")
@click.option(
    "--capacity", type=int, default=None, help="Subscribers it should carry [default: 40]."
)
@click.option(
    "--udp-rcvbuf", type=int, default=None, help="SO_RCVBUF of media sockets [default: 4 MiB]."
)
@click.option(
    "--exit-on-stdin-eof", is_flag=True, help="Stop when stdin closes (a parent process died)."
)
@click.option(
    "--control-token",
    envvar="SEMINAR_SFU_CONTROL_TOKEN",
    default=None,
    help="Shared secret the control plane must present (required on TCP off loopback); "
    "prefer the environment variable SEMINAR_SFU_CONTROL_TOKEN to the command line.",
)
@click.option(
    "--ice-servers",
    envvar="SEMINAR_SFU_ICE_SERVERS",
    default="[]",
    show_default=True,
    help="JSON list of RTCIceServer objects for the worker's own transports ([]: host candidates).",
)
@click.option(
    "--media-address",
    "media_addresses",
    multiple=True,
    help="Gather host candidates on this address only (repeatable) [default: every interface].",
)
def sfu_worker(
    worker_id: str | None,
    control_socket: Path | None,
    control_host: str,
    control_port: int,
    capacity: int | None,
    udp_rcvbuf: int | None,
    exit_on_stdin_eof: bool,
    control_token: str | None,
    ice_servers: str,
    media_addresses: tuple[str, ...],
) -> None:
    """Run one SFU media worker until SIGTERM (or a `shutdown` request).

    `serve` starts and supervises its own (SEMINAR_SFU_WORKERS); run this on other nodes. The
    control channel authenticates with SEMINAR_SFU_CONTROL_TOKEN, required on TCP off loopback.
    """
    _settings()  # logging as configured for the other commands
    config = WorkerConfig(
        worker_id=worker_id or f"{socket.gethostname()}-{os.getpid()}",
        control_socket=control_socket,
        control_host=control_host,
        control_port=control_port,
        capacity=DEFAULT_CAPACITY if capacity is None else capacity,
        udp_rcvbuf=DEFAULT_UDP_RCVBUF if udp_rcvbuf is None else udp_rcvbuf,
        exit_on_stdin_eof=exit_on_stdin_eof,
        version=__version__,
        control_token=control_token or None,
    )
    try:
        check_control_access(config)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--control-token") from None
    # Imported here: it loads aiortc, which the other commands do not need.
    from media.workers.__main__ import serve as serve_media
    from media.workers.media_host import MediaOptions

    try:
        options = MediaOptions.parse(ice_servers, media_addresses)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ice-servers") from None
    _run_loop(serve_media(config, options))
