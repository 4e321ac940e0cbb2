"""The live room's shared state in PostgreSQL: its chat log, its participants and their
attendance intervals, its polls and their votes, its whiteboard op log and snapshots. Several
server nodes serve one room, so nothing here lives in a process's memory (issue 4 §2-§4)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin
from lms_core.enums import text_enum
from lms_core.live.models import LiveRole

MAX_CHAT_CHARS = 4096
MAX_CLIENT_ID_CHARS = 64
MAX_POLL_QUESTION_CHARS = 500
MAX_POLL_OPTION_CHARS = 200
MIN_POLL_OPTIONS = 2
MAX_POLL_OPTIONS = 10
MAX_WB_OP_BYTES = 64 * 1024


class LiveRoom(Base):
    """One row per live session that has been joined: the per-room sequence counter.

    ``last_seq`` is the sequence number of the room's latest chat message; a send locks this
    row, so sequence numbers are gap-free and unique across processes (``chat.send``).
    """

    __tablename__ = "live_rooms"

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The whiteboard's own counter (lms_core/live/whiteboard.py), allocated under the same lock.
    wb_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LiveChatMessage(IdMixin, Base):
    __tablename__ = "live_chat_messages"

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_rooms.live_session_id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    # Chosen by the client; a resend with the same one returns the stored message.
    client_id: Mapped[str] = mapped_column(String(MAX_CLIENT_ID_CHARS))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("live_session_id", "seq"),
        UniqueConstraint("live_session_id", "user_id", "client_id"),
        CheckConstraint(f"char_length(body) BETWEEN 1 AND {MAX_CHAT_CHARS}", name="body_length"),
    )


class LiveParticipant(IdMixin, Base):
    """One row per user per room, however many connections (tabs, nodes) the user has: they
    are its ``live_connections`` rows; a participant with none is not present."""

    __tablename__ = "live_participants"

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_rooms.live_session_id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[LiveRole] = mapped_column(text_enum(LiveRole, "live_role", length=16))
    first_joined_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    hand_raised_at: Mapped[datetime | None] = mapped_column(default=None)
    chat_muted: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Set when the host removes the user: a ban from this session until the host readmits.
    removed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("live_session_id", "user_id"),)


class LiveNode(Base):
    """A server process serving ``/live`` sockets; it beats (``last_seen_at``, the database's
    clock) every few seconds. A node not seen for a while is dead: any node's sweeper removes
    its connections (lms_core/live/nodes.py)."""

    __tablename__ = "live_nodes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class LiveConnection(IdMixin, Base):
    """One open Socket.IO connection of a participant, on the node that holds it (``node_id``
    NULL: recorded by a caller that is no node, e.g. a script; never swept)."""

    __tablename__ = "live_connections"

    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_participants.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("live_nodes.id", ondelete="CASCADE"), index=True
    )
    connected_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LiveAttendanceInterval(IdMixin, Base):
    """A stretch of presence; ``left_at`` is NULL while the participant is connected."""

    __tablename__ = "live_attendance_intervals"

    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_participants.id", ondelete="CASCADE")
    )
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index(
            "ix_live_attendance_intervals_participant_id_joined_at", "participant_id", "joined_at"
        ),
        CheckConstraint("left_at IS NULL OR left_at >= joined_at", name="ordered"),
    )


class PollStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class LivePoll(IdMixin, Base):
    """A multiple-choice question asked by the host; at most one open poll per room (a partial
    unique index, so two nodes opening at once cannot both succeed)."""

    __tablename__ = "live_polls"

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_rooms.live_session_id", ondelete="CASCADE")
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    # The option texts, in order; a vote names an option by its index.
    options: Mapped[list[str]] = mapped_column(JSONB)
    status: Mapped[PollStatus] = mapped_column(text_enum(PollStatus, "live_poll_status", length=16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_live_polls_live_session_id_created_at", "live_session_id", "created_at"),
        Index(
            "uq_live_polls_one_open_per_room",
            "live_session_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        CheckConstraint(
            f"char_length(question) BETWEEN 1 AND {MAX_POLL_QUESTION_CHARS}",
            name="question_length",
        ),
        CheckConstraint(
            "jsonb_typeof(options) = 'array' AND jsonb_array_length(options) "
            f"BETWEEN {MIN_POLL_OPTIONS} AND {MAX_POLL_OPTIONS}",
            name="options_count",
        ),
        CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_at_iff_closed"),
    )


class LivePollVote(IdMixin, Base):
    """One vote per user per poll; who voted what is never broadcast."""

    __tablename__ = "live_poll_votes"

    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_polls.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    option: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("poll_id", "user_id"),
        CheckConstraint(f"option BETWEEN 0 AND {MAX_POLL_OPTIONS - 1}", name="option_range"),
    )


class WhiteboardOpKind(enum.StrEnum):
    STROKE = "stroke"
    SHAPE = "shape"
    TEXT = "text"
    ERASE = "erase"
    CLEAR = "clear"
    UNDO = "undo"


class LiveWhiteboardOp(IdMixin, Base):
    """One whiteboard op, numbered by the room's gap-free ``wb_seq``."""

    __tablename__ = "live_whiteboard_ops"

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_rooms.live_session_id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Chosen by the client; a resend with the same one returns the stored op.
    client_op_id: Mapped[str] = mapped_column(String(MAX_CLIENT_ID_CHARS))
    page: Mapped[int]
    kind: Mapped[WhiteboardOpKind] = mapped_column(
        text_enum(WhiteboardOpKind, "live_whiteboard_op_kind", length=16)
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("live_session_id", "seq"),
        UniqueConstraint("live_session_id", "user_id", "client_op_id"),
        CheckConstraint("page >= 0", name="page_non_negative"),
    )


class LiveWhiteboardSnapshot(IdMixin, Base):
    """The materialised whiteboard (live ops per page) as of op ``seq``."""

    __tablename__ = "live_whiteboard_snapshots"

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_rooms.live_session_id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    # {"<page>": [op, ...]} with each op as on the wire (whiteboard.WhiteboardOp.out).
    pages: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (UniqueConstraint("live_session_id", "seq"),)
