"""Mailer.queue writes a transactional outbox row: held or pending, and only if committed."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.clock import utcnow
from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.mail.models import MailStatus, OutboxMessage
from lms_core.mail.service import Mailer, deliver_pending
from lms_core.mail.smtp import SmtpConfig, SmtpTransport
from server.state import Database
from tests.smtp_server import LocalSmtpServer

SENDER = "Seminar <no-reply@seminar.test>"


class Boom(Exception):
    """Raised to make a unit of work roll back."""


async def queue(
    factory: SessionFactory, mailer: Mailer, *, subject: str = "Hello", to: str = "a@example.com"
) -> OutboxMessage:
    async with unit_of_work(factory) as session:
        return await mailer.queue(
            session, to=to, subject=subject, body="Hi there.\n", template="test"
        )


async def load(factory: SessionFactory, message_id: uuid.UUID) -> OutboxMessage:
    async with factory() as session:
        row = await session.get(OutboxMessage, message_id)
    assert row is not None
    return row


async def count(factory: SessionFactory, subject: str) -> int:
    async with factory() as session:
        n = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.subject == subject)
        )
    return n or 0


async def test_without_a_transport_mail_is_held_and_never_sent(
    database: Database, smtp: LocalSmtpServer
) -> None:
    row = await queue(database.sessions, Mailer(sender=SENDER, deliver=False))
    assert row.status is MailStatus.HELD

    # Even a running dispatcher with a working transport leaves held mail alone.
    transport = SmtpTransport(SmtpConfig(host=smtp.host, port=smtp.port, security="none"))
    delivering = Mailer(sender=SENDER, deliver=True)
    assert await deliver_pending(database.sessions, delivering, transport) == 0
    assert smtp.data_commands == 0

    stored = await load(database.sessions, row.id)
    assert stored.status is MailStatus.HELD
    assert stored.attempts == 0
    assert stored.sent_at is None


async def test_with_a_transport_mail_is_pending_and_due_now(database: Database) -> None:
    before = utcnow()
    row = await queue(
        database.sessions,
        Mailer(sender=SENDER, deliver=True),
        subject="Reset your password",
        to="zoe@example.com",
    )

    stored = await load(database.sessions, row.id)
    assert stored.status is MailStatus.PENDING
    assert stored.to_address == "zoe@example.com"
    assert stored.subject == "Reset your password"
    assert stored.body_text == "Hi there.\n"
    assert stored.template == "test"
    assert stored.attempts == 0
    assert stored.last_error is None
    assert stored.sent_at is None
    assert stored.next_attempt_at <= utcnow()
    assert stored.created_at >= before


async def test_mail_is_queued_in_the_callers_transaction(database: Database) -> None:
    mailer = Mailer(sender=SENDER, deliver=True)
    subject = f"rolled back {uuid.uuid4()}"

    async def queue_then_fail() -> None:
        async with unit_of_work(database.sessions) as session:
            await mailer.queue(session, to="a@example.com", subject=subject, body=".", template="t")
            raise Boom

    with pytest.raises(Boom):
        await queue_then_fail()
    assert await count(database.sessions, subject) == 0

    subject = f"committed {uuid.uuid4()}"
    await queue(database.sessions, mailer, subject=subject)
    assert await count(database.sessions, subject) == 1


async def test_other_connections_see_queued_mail_only_after_commit(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    mailer = Mailer(sender=SENDER, deliver=True)
    subject = f"outbox visibility {uuid.uuid4()}"
    try:
        async with factory() as writer:
            await mailer.queue(writer, to="a@example.com", subject=subject, body=".", template="t")
            assert await count(factory, subject) == 0  # flushed, but not committed
            await writer.rollback()
        assert await count(factory, subject) == 0

        async with factory() as writer:
            await mailer.queue(writer, to="a@example.com", subject=subject, body=".", template="t")
            assert await count(factory, subject) == 0
            await writer.commit()
        assert await count(factory, subject) == 1
    finally:
        async with unit_of_work(factory) as session:
            await session.execute(delete(OutboxMessage).where(OutboxMessage.subject == subject))
