"""deliver_pending over real SMTP (aiosmtplib -> a local aiosmtpd server) and real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import time_machine
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.clock import utcnow
from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.mail.models import MailStatus, OutboxMessage
from lms_core.mail.service import MAX_ATTEMPTS, Mailer, deliver_pending, retry_delay
from lms_core.mail.smtp import SmtpConfig, SmtpTransport
from server.state import Database
from tests.smtp_server import LocalSmtpServer, closed_port

MAILER = Mailer(sender="Seminar <no-reply@seminar.test>", deliver=True)


def transport(port: int) -> SmtpTransport:
    return SmtpTransport(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=5))


async def queue(
    factory: SessionFactory,
    *,
    to: str = "ann@example.com",
    subject: str = "Welcome to Seminar",
    body: str = "Hello Ann,\n\nWelcome aboard.\n",
) -> OutboxMessage:
    async with unit_of_work(factory) as session:
        return await MAILER.queue(session, to=to, subject=subject, body=body, template="test")


async def load(factory: SessionFactory, message_id: uuid.UUID) -> OutboxMessage:
    async with factory() as session:
        row = await session.get(OutboxMessage, message_id)
    assert row is not None
    return row


def test_retry_delay_doubles_from_30_seconds_up_to_an_hour() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


async def test_pending_mail_is_delivered_once(database: Database, smtp: LocalSmtpServer) -> None:
    body = "Hello Zoë,\n\nYour course «Café physics» starts on Monday.\n"
    row = await queue(database.sessions, to="zoe@example.com", subject="Bienvenue, Zoë", body=body)

    before = utcnow()
    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 1
    after = utcnow()

    [mail] = await smtp.wait_for(1)
    assert mail.mail_from == "no-reply@seminar.test"
    assert mail.rcpt_tos == ("zoe@example.com",)
    assert mail.message["From"] == "Seminar <no-reply@seminar.test>"
    assert mail.message["To"] == "zoe@example.com"
    assert mail.message["Subject"] == "Bienvenue, Zoë"
    assert mail.message["Message-ID"] == f"<{row.id}@seminar>"
    # RFC 5322 makes Date mandatory; it is when the mail was queued, the same on every retry.
    date = mail.message["Date"]
    assert date is not None
    assert date.datetime == row.created_at.replace(microsecond=0)
    assert mail.body == body

    sent = await load(database.sessions, row.id)
    assert sent.status is MailStatus.SENT
    assert sent.attempts == 1
    assert sent.last_error is None
    assert sent.sent_at is not None
    assert before <= sent.sent_at <= after

    # A second run finds nothing to do: no duplicate reaches the server.
    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 0
    assert smtp.data_commands == 1
    assert len(smtp.messages) == 1
    assert (await load(database.sessions, row.id)).attempts == 1


async def test_a_batch_sends_every_due_message(database: Database, smtp: LocalSmtpServer) -> None:
    for n in range(5):
        await queue(database.sessions, to=f"user{n}@example.com", subject=f"Message {n}")
    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port), batch=3) == 3
    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port), batch=3) == 2
    received = sorted(str(m.message["Subject"]) for m in smtp.messages)
    assert received == [f"Message {n}" for n in range(5)]


async def test_unreachable_server_is_retried_after_the_delay(
    database: Database, smtp: LocalSmtpServer
) -> None:
    row = await queue(database.sessions)
    down = transport(await closed_port())

    before = utcnow()
    assert await deliver_pending(database.sessions, MAILER, down) == 0
    after = utcnow()

    failed = await load(database.sessions, row.id)
    assert failed.status is MailStatus.PENDING
    assert failed.attempts == 1
    assert failed.sent_at is None
    assert failed.last_error is not None
    assert failed.last_error.startswith("SMTPConnect")
    assert before + retry_delay(1) <= failed.next_attempt_at <= after + retry_delay(1)

    # Not due yet: even a working server is not tried.
    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 0
    assert smtp.data_commands == 0
    assert (await load(database.sessions, row.id)).attempts == 1

    with time_machine.travel(failed.next_attempt_at + timedelta(seconds=1), tick=True):
        assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 1

    [mail] = smtp.messages
    assert mail.message["Message-ID"] == f"<{row.id}@seminar>"
    sent = await load(database.sessions, row.id)
    assert sent.status is MailStatus.SENT
    assert sent.attempts == 2


async def test_temporary_rejection_of_data_is_retried(
    database: Database, smtp: LocalSmtpServer
) -> None:
    row = await queue(database.sessions)
    smtp.reject_data = "451 4.3.0 Mailbox temporarily unavailable"

    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 0
    failed = await load(database.sessions, row.id)
    assert failed.status is MailStatus.PENDING
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "451" in failed.last_error
    assert smtp.data_commands == 1
    assert smtp.messages == []

    smtp.reject_data = None
    with time_machine.travel(failed.next_attempt_at + timedelta(seconds=1), tick=True):
        assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 1
    assert len(smtp.messages) == 1
    assert (await load(database.sessions, row.id)).status is MailStatus.SENT


async def test_mail_fails_for_good_after_max_attempts(
    database: Database, smtp: LocalSmtpServer
) -> None:
    row = await queue(database.sessions)
    down = transport(await closed_port())

    due = row.next_attempt_at
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # Just before the due time nothing happens; just after, one more attempt fails.
        with time_machine.travel(due - timedelta(seconds=1), tick=False):
            assert await deliver_pending(database.sessions, MAILER, down) == 0
        assert (await load(database.sessions, row.id)).attempts == attempt - 1
        now = due + timedelta(seconds=1)
        with time_machine.travel(now, tick=False):
            assert await deliver_pending(database.sessions, MAILER, down) == 0

        stored = await load(database.sessions, row.id)
        assert stored.attempts == attempt
        assert stored.last_error is not None
        if attempt < MAX_ATTEMPTS:
            assert stored.status is MailStatus.PENDING
            assert stored.next_attempt_at == now + retry_delay(attempt)
        else:
            assert stored.status is MailStatus.FAILED
        due = stored.next_attempt_at

    # Given up: a working server a day later receives nothing.
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 0
    assert smtp.data_commands == 0
    final = await load(database.sessions, row.id)
    assert final.status is MailStatus.FAILED
    assert final.attempts == MAX_ATTEMPTS
    assert final.sent_at is None


async def test_one_refused_recipient_does_not_hold_up_the_rest(
    database: Database, smtp: LocalSmtpServer
) -> None:
    smtp.reject_recipients = {"nobody@example.com"}
    bad = await queue(database.sessions, to="nobody@example.com")
    good = await queue(database.sessions, to="ann@example.com")

    assert await deliver_pending(database.sessions, MAILER, transport(smtp.port)) == 1
    assert [m.rcpt_tos for m in smtp.messages] == [("ann@example.com",)]
    assert (await load(database.sessions, good.id)).status is MailStatus.SENT
    refused = await load(database.sessions, bad.id)
    assert refused.status is MailStatus.PENDING
    assert refused.attempts == 1
    assert refused.last_error is not None
    assert "550" in refused.last_error


async def test_concurrent_workers_claim_different_rows(
    engine: AsyncEngine, smtp: LocalSmtpServer
) -> None:
    factory = create_session_factory(engine)
    marker = f"concurrency-{uuid.uuid4().hex}"
    subjects = [f"{marker} #{n}" for n in range(6)]
    try:
        async with unit_of_work(factory) as session:
            for n, subject in enumerate(subjects):
                await MAILER.queue(
                    session, to=f"user{n}@example.com", subject=subject, body=".", template="t"
                )
        # The first two messages are held at DATA until both are in flight: that only
        # completes if the second worker skipped the row the first one has locked.
        smtp.hold_until(2)
        first, second = await asyncio.wait_for(
            asyncio.gather(
                deliver_pending(factory, MAILER, transport(smtp.port)),
                deliver_pending(factory, MAILER, transport(smtp.port)),
            ),
            timeout=30,
        )
        assert first > 0
        assert second > 0

        received = [str(m.message["Subject"]) for m in smtp.messages]
        assert sorted(s for s in received if s.startswith(marker)) == sorted(subjects)

        async with factory() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.subject.startswith(marker))
                )
            ).all()
        assert len(rows) == len(subjects)
        assert all(r.status is MailStatus.SENT and r.attempts == 1 for r in rows)
    finally:
        async with unit_of_work(factory) as session:
            await session.execute(
                delete(OutboxMessage).where(OutboxMessage.subject.startswith(marker))
            )


async def test_many_workers_deliver_each_message_exactly_once(
    engine: AsyncEngine, smtp: LocalSmtpServer
) -> None:
    workers = 3
    factory = create_session_factory(engine)
    marker = f"exactly-once-{uuid.uuid4().hex}"
    subjects = [f"{marker} #{n}" for n in range(20)]
    try:
        async with unit_of_work(factory) as session:
            for n, subject in enumerate(subjects):
                await MAILER.queue(
                    session, to=f"user{n}@example.com", subject=subject, body=".", template="t"
                )
        counts = await asyncio.gather(
            *(deliver_pending(factory, MAILER, transport(smtp.port)) for _ in range(workers))
        )
        assert sum(counts) >= len(subjects)
        received = [str(m.message["Subject"]) for m in smtp.messages]
        assert sorted(s for s in received if s.startswith(marker)) == sorted(subjects)
    finally:
        async with unit_of_work(factory) as session:
            await session.execute(
                delete(OutboxMessage).where(OutboxMessage.subject.startswith(marker))
            )
