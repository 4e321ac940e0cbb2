"""live rooms: the per-room chat sequence, chat log, participants and attendance intervals

Revision ID: 0009_live_rooms
Revises: 0008_live_sessions
Create Date: 2026-11-22 19:53:27.164821

``live_rooms`` (lms_core/live/room_models.py): one row per joined live session, holding
``last_seq``; a chat send locks it, so per-room sequence numbers are gap-free across nodes.
``live_chat_messages``: unique (live_session_id, seq) and, for idempotent resends, unique
(live_session_id, user_id, client_id); bodies of 1-4096 characters. ``live_participants``: one
row per user per room (role, open connections across nodes, raised hand, chat mute).
``live_attendance_intervals``: presence stretches, merged across quick reconnects.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_live_rooms"
down_revision: str | None = "0008_live_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_rooms",
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_rooms_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_session_id", name=op.f("pk_live_rooms")),
    )
    op.create_table(
        "live_chat_messages",
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "char_length(body) BETWEEN 1 AND 4096", name=op.f("ck_live_chat_messages_body_length")
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_rooms.live_session_id"],
            name=op.f("fk_live_chat_messages_live_session_id_live_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_chat_messages_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_chat_messages")),
        sa.UniqueConstraint(
            "live_session_id", "seq", name=op.f("uq_live_chat_messages_live_session_id_seq")
        ),
        sa.UniqueConstraint(
            "live_session_id",
            "user_id",
            "client_id",
            name=op.f("uq_live_chat_messages_live_session_id_user_id_client_id"),
        ),
    )
    op.create_index(
        op.f("ix_live_chat_messages_user_id"), "live_chat_messages", ["user_id"], unique=False
    )
    op.create_table(
        "live_participants",
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "host",
                "presenter",
                "attendee",
                name="live_role",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("connections", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "first_joined_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("hand_raised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chat_muted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "connections >= 0", name=op.f("ck_live_participants_connections_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_rooms.live_session_id"],
            name=op.f("fk_live_participants_live_session_id_live_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_participants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_participants")),
        sa.UniqueConstraint(
            "live_session_id", "user_id", name=op.f("uq_live_participants_live_session_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_live_participants_user_id"), "live_participants", ["user_id"], unique=False
    )
    op.create_table(
        "live_attendance_intervals",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "left_at IS NULL OR left_at >= joined_at",
            name=op.f("ck_live_attendance_intervals_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["live_participants.id"],
            name=op.f("fk_live_attendance_intervals_participant_id_live_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_attendance_intervals")),
    )
    op.create_index(
        "ix_live_attendance_intervals_participant_id_joined_at",
        "live_attendance_intervals",
        ["participant_id", "joined_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_live_attendance_intervals_participant_id_joined_at",
        table_name="live_attendance_intervals",
    )
    op.drop_table("live_attendance_intervals")
    op.drop_index(op.f("ix_live_participants_user_id"), table_name="live_participants")
    op.drop_table("live_participants")
    op.drop_index(op.f("ix_live_chat_messages_user_id"), table_name="live_chat_messages")
    op.drop_table("live_chat_messages")
    op.drop_table("live_rooms")
