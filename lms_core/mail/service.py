"""Writing mail into the outbox (inside the caller's transaction) and delivering it later."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.db import SessionFactory, unit_of_work
from lms_core.mail.models import MailStatus, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class MailTransport(Protocol):
    """Delivers one message or raises; implemented by ``lms_core.mail.smtp.SmtpTransport``."""

    async def send(self, message: EmailMessage) -> None: ...


class Mailer:
    """Queues mail in the outbox. ``deliver`` says whether a transport will send it."""

    def __init__(self, *, sender: str, deliver: bool) -> None:
        self.sender = sender
        self.deliver = deliver

    async def queue(
        self, session: AsyncSession, *, to: str, subject: str, body: str, template: str
    ) -> OutboxMessage:
        message = OutboxMessage(
            to_address=to,
            subject=subject,
            body_text=body,
            template=template,
            status=MailStatus.PENDING if self.deliver else MailStatus.HELD,
        )
        session.add(message)
        await session.flush()
        # The body may hold a secret link, so only the envelope is logged.
        log.info(
            "mail queued",
            extra={"mail_id": str(message.id), "template": template, "delivery": self.deliver},
        )
        return message

    def build(self, row: OutboxMessage) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = row.to_address
        message["Subject"] = row.subject
        message["Message-ID"] = f"<{row.id}@seminar>"
        # Mandatory in RFC 5322 and not added by aiosmtplib; spam filters punish its absence.
        message["Date"] = format_datetime(row.created_at)
        message.set_content(row.body_text)
        return message


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


async def deliver_pending(
    factory: SessionFactory, mailer: Mailer, transport: MailTransport, *, batch: int = 20
) -> int:
    """Send due outbox rows; returns how many were sent.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several workers never send one message
    twice; each message is its own transaction so one bad address does not hold up the rest.
    """
    sent = 0
    for _ in range(batch):
        async with unit_of_work(factory) as session:
            row = await session.scalar(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == MailStatus.PENDING,
                    OutboxMessage.next_attempt_at <= utcnow(),
                )
                .order_by(OutboxMessage.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return sent
            row.attempts += 1
            try:
                await transport.send(mailer.build(row))
            except Exception as exc:  # noqa: BLE001 - any transport failure is retried later
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = MailStatus.FAILED
                    log.error("mail failed permanently", extra={"mail_id": str(row.id)})
                else:
                    row.next_attempt_at = utcnow() + retry_delay(row.attempts)
                    log.warning("mail delivery failed", extra={"mail_id": str(row.id)})
            else:
                row.status = MailStatus.SENT
                row.sent_at = utcnow()
                sent += 1
    return sent
