"""Mail leaves the outbox over real SMTP: through the HTTP API, the in-process dispatcher that
``serve`` runs, and the ``seminar worker`` process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from blockbuster import BlockBuster
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import User
from lms_core.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from lms_core.mail.models import MailStatus, OutboxMessage
from lms_core.mail.service import Mailer, deliver_pending
from lms_core.mail.smtp import SmtpConfig, SmtpTransport
from server.app import create_app
from server.mail_dispatch import run_mail_dispatcher, smtp_config
from server.state import MAILER, SETTINGS, Database
from tests.conftest import (
    FAST_HASHER,
    ORIGIN,
    PASSWORD,
    AppClient,
    ClientFactory,
    allow_pgpass_read,
    latest_mail,
    login,
    make_settings,
    register,
)
from tests.smtp_server import LocalSmtpServer, ReceivedMail, closed_port

NEW_PASSWORD = "a brand new passphrase for ann"


async def forget(factory: SessionFactory, email: str) -> None:
    """Delete what a test committed for ``email`` (tokens and sessions cascade with the user)."""
    async with unit_of_work(factory) as session:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.to_address == email))
        await session.execute(delete(User).where(User.email == email))


async def load(factory: SessionFactory, message_id: uuid.UUID) -> OutboxMessage:
    async with factory() as session:
        row = await session.get(OutboxMessage, message_id)
    assert row is not None
    return row


def reset_token(mail: ReceivedMail) -> str:
    """The token of the reset link in a received email, checking the link points at us."""
    [link] = [word for word in mail.body.split() if "/reset-password?" in word]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == ORIGIN
    assert parts.path == "/reset-password"
    [token] = parse_qs(parts.query)["token"]
    return token


def is_reset_for(address: str) -> Callable[[ReceivedMail], bool]:
    return lambda m: address in m.rcpt_tos and m.message["Subject"] == "Reset your Seminar password"


async def reset_with_emailed_link(client: AppClient, email: str, mail: ReceivedMail) -> None:
    resp = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": reset_token(mail), "new_password": NEW_PASSWORD},
    )
    assert resp.status == 204, await resp.text()
    await login(client, email, NEW_PASSWORD)
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 401


def test_smtp_config_comes_from_settings(database_url: str) -> None:
    assert smtp_config(make_settings(database_url)) is None
    settings = make_settings(
        database_url,
        smtp_host="mail.example.org",
        smtp_port=465,
        smtp_username="seminar",
        smtp_password=SecretStr("s3cret"),
        smtp_security="tls",
    )
    assert smtp_config(settings) == SmtpConfig(
        host="mail.example.org", port=465, username="seminar", password="s3cret", security="tls"
    )


async def test_without_smtp_reset_mail_is_held_in_the_outbox(
    make_client: ClientFactory, database: Database, smtp: LocalSmtpServer
) -> None:
    client = await make_client()
    await register(client, "ann@example.com")
    resp = await client.post("/api/v1/auth/password-reset", json={"email": "ann@example.com"})
    assert resp.status == 202

    mail = await latest_mail(database, "ann@example.com", "password_reset")
    assert mail.status is MailStatus.HELD
    working = SmtpTransport(SmtpConfig(host=smtp.host, port=smtp.port, security="none"))
    assert await deliver_pending(database.sessions, client.app[MAILER], working) == 0
    assert smtp.data_commands == 0


async def test_password_reset_email_arrives_over_smtp_and_its_link_works(
    make_client: ClientFactory, database: Database, smtp: LocalSmtpServer
) -> None:
    # The in-process dispatcher is not started here (run_workers=False): the test's database is
    # one connection shared through savepoints, and a dispatcher polling it while a request runs
    # interleaves savepoints ("savepoint sa_savepoint_2 does not exist"). The dispatcher itself is
    # tested below with an engine of its own; here the test delivers the way it would.
    client = await make_client(smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none")
    app = client.app
    await register(client, "ann@example.com", "Ann Example")
    resp = await client.post("/api/v1/auth/password-reset", json={"email": "Ann@Example.com"})
    assert resp.status == 202
    # Unknown addresses get the same answer and no mail.
    resp = await client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert resp.status == 202
    assert (await latest_mail(database, "ann@example.com", "password_reset")).status is (
        MailStatus.PENDING
    )

    config = smtp_config(app[SETTINGS])
    assert config is not None
    sent = await deliver_pending(database.sessions, app[MAILER], SmtpTransport(config))
    assert sent == 2  # the verification email from registering, and the reset email

    mail = await smtp.wait_for_mail(is_reset_for("ann@example.com"))
    assert mail.message["From"] == app[SETTINGS].mail_from
    assert mail.message["To"] == "ann@example.com"
    assert "Hello Ann Example" in mail.body
    assert not smtp.to("nobody@example.com")
    assert (await latest_mail(database, "ann@example.com", "password_reset")).status is (
        MailStatus.SENT
    )

    await reset_with_emailed_link(client, "ann@example.com", mail)


async def test_in_process_dispatcher_delivers_reset_email(
    aiohttp_client: Callable[..., Awaitable[AppClient]],
    database_url: str,
    engine: AsyncEngine,
    smtp: LocalSmtpServer,
) -> None:
    # `serve` with run_workers: the app has its own engine (committed data, cleaned up below)
    # and its mail_dispatcher cleanup context polls the outbox while requests are served.
    settings = make_settings(
        database_url,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security="none",
        run_workers=True,
    )
    app = await asyncio.to_thread(create_app, settings, hasher=FAST_HASHER)
    email = f"dispatch-{uuid.uuid4().hex[:12]}@example.com"
    try:
        client = await aiohttp_client(app, headers={"Origin": settings.base_url})
        await register(client, email, "Dee Spatch")
        resp = await client.post("/api/v1/auth/password-reset", json={"email": email})
        assert resp.status == 202

        mail = await smtp.wait_for_mail(is_reset_for(email))
        await reset_with_emailed_link(client, email, mail)
        await client.close()  # stops the dispatcher (it finishes its current iteration)

        async with create_session_factory(engine)() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.to_address == email)
                )
            ).all()
        assert sorted(r.template for r in rows) == ["email_verification", "password_reset"]
        assert all(r.status is MailStatus.SENT and r.attempts == 1 for r in rows)
        assert len(smtp.to(email)) == 2
    finally:
        await forget(create_session_factory(engine), email)


async def test_dispatcher_survives_a_failing_iteration_and_stops_when_asked(
    blockbuster: BlockBuster, smtp: LocalSmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    allow_pgpass_read(blockbuster)
    # A database nobody listens on: every iteration fails, and the loop must keep going.
    down = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{await closed_port()}/x")
    stop = asyncio.Event()
    transport = SmtpTransport(SmtpConfig(host=smtp.host, port=smtp.port, security="none"))
    with caplog.at_level(logging.ERROR, logger="server.mail_dispatch"):
        task = asyncio.create_task(
            run_mail_dispatcher(
                Database(engine=down, sessions=create_session_factory(down)),
                Mailer(sender="x@example.com", deliver=True),
                transport,
                stop,
            )
        )
        try:
            for _ in range(100):
                if any(r.message == "mail dispatcher iteration failed" for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
            assert not task.done()
            assert any(r.message == "mail dispatcher iteration failed" for r in caplog.records)
            stop.set()
            await asyncio.wait_for(task, 5)  # returns promptly from its wait, not after polling
        finally:
            task.cancel()
            await down.dispose()


def seminar_executable() -> str:
    path = Path(sys.executable).parent / "seminar"
    assert path.exists(), f"the `seminar` console script is not installed beside {sys.executable}"
    return str(path)


def worker_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEMINAR_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        SEMINAR_DATA_DIR=str(data_dir),
        SEMINAR_LOG_FORMAT="console",
        SEMINAR_MAIL_FROM="Seminar Worker <worker@seminar.test>",
        **extra,
    )
    return env


async def stop_worker(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, stderr.decode(errors="replace")


async def test_seminar_worker_delivers_pending_mail_and_stops_on_sigterm(
    database_url: str, engine: AsyncEngine, smtp: LocalSmtpServer, tmp_path: Path
) -> None:
    factory = create_session_factory(engine)
    email = f"worker-{uuid.uuid4().hex[:12]}@example.com"
    process: asyncio.subprocess.Process | None = None
    try:
        async with unit_of_work(factory) as session:
            row = await Mailer(sender="unused", deliver=True).queue(
                session, to=email, subject="Sent by a worker", body="Hello.\n", template="test"
            )
        process = await asyncio.create_subprocess_exec(
            seminar_executable(),
            "worker",
            env=worker_env(
                database_url,
                tmp_path,
                SEMINAR_SMTP_HOST=smtp.host,
                SEMINAR_SMTP_PORT=str(smtp.port),
                SEMINAR_SMTP_SECURITY="none",
            ),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        mail = await smtp.wait_for_mail(lambda m: email in m.rcpt_tos, within=60)
        assert mail.message["From"] == "Seminar Worker <worker@seminar.test>"
        assert mail.message["Subject"] == "Sent by a worker"
        assert mail.body == "Hello.\n"

        # The worker commits SENT just after the server accepted the message.
        stored = await load(factory, row.id)
        for _ in range(100):
            if stored.status is MailStatus.SENT:
                break
            await asyncio.sleep(0.1)
            stored = await load(factory, row.id)
        assert stored.status is MailStatus.SENT
        assert stored.attempts == 1

        returncode, stderr = await stop_worker(process)
        assert returncode == 0, stderr
        assert "worker stopped" in stderr
        assert len(smtp.to(email)) == 1
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await forget(factory, email)


async def test_seminar_worker_without_smtp_idles_until_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        seminar_executable(),
        "worker",
        env=worker_env(database_url, tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        while not any("no SMTP configured" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), 60)
            assert line, f"worker exited early: {''.join(seen)}"
            seen.append(line.decode(errors="replace"))
        returncode, stderr = await stop_worker(process)
        assert returncode == 0, "".join(seen) + stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
