from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin
from lms_core.enums import text_enum


class MailStatus(enum.StrEnum):
    HELD = "held"  # no transport configured: kept in the outbox for a developer to read
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry


class OutboxMessage(IdMixin, Base):
    __tablename__ = "mail_outbox"

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    # What kind of mail this is (e.g. "password_reset"), for tests, metrics and support.
    template: Mapped[str] = mapped_column(String(64))
    status: Mapped[MailStatus] = mapped_column(text_enum(MailStatus, "mail_status", length=16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),)
