"""Live sessions, their single-use join tickets, and the calendar-feed tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 720  # 12 hours: beyond any class, and keeps end times sane


class LiveSessionStatus(enum.StrEnum):
    """SCHEDULED -> LIVE -> ENDED, or SCHEDULED -> CANCELLED; nothing else."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class LiveRole(enum.StrEnum):
    """A participant's role in the room, decided by the server (see live/tickets.py)."""

    HOST = "host"
    PRESENTER = "presenter"
    ATTENDEE = "attendee"


class LiveSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "live_sessions"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    # A ``live_session`` lesson of the same course that this session belongs to, if any.
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # plain text
    scheduled_start: Mapped[datetime]
    duration_minutes: Mapped[int]
    status: Mapped[LiveSessionStatus] = mapped_column(
        text_enum(LiveSessionStatus, "live_session_status", length=16),
        default=LiveSessionStatus.SCHEDULED,
    )
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        CheckConstraint(
            f"duration_minutes BETWEEN {MIN_DURATION_MINUTES} AND {MAX_DURATION_MINUTES}",
            name="duration_bounded",
        ),
        # A course's list: by course, in start order.
        Index("ix_live_sessions_course_id_scheduled_start", "course_id", "scheduled_start"),
        # "My sessions" and the calendar: the live and upcoming ones across courses.
        Index("ix_live_sessions_status_scheduled_start", "status", "scheduled_start"),
    )


class LiveJoinTicket(IdMixin, Base):
    """A single-use, short-lived credential to join one live session as one user.

    Only the SHA-256 of the ticket is stored; ``used_at`` is set by the one UPDATE that
    redeems it (``tickets.redeem_ticket``).
    """

    __tablename__ = "live_join_tickets"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[LiveRole] = mapped_column(text_enum(LiveRole, "live_role", length=16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class CalendarToken(Base):
    """A user's calendar-feed token (one per user; rotating it replaces the hash)."""

    __tablename__ = "calendar_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
