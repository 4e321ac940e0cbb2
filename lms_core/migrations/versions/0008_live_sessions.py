"""live sessions: scheduled classes of a course, their join tickets, calendar-feed tokens

Revision ID: 0008_live_sessions
Revises: 0007_author_source
Create Date: 2026-11-22 19:39:17.290590

``live_sessions`` (lms_core/live/models.py ``LiveSession``): a course's live class, optionally
of one of its ``live_session`` lessons, with its state (scheduled, live, ended, cancelled).
Indexed for a course's list (course_id, scheduled_start) and for the lists across courses and
the calendar feed (status, scheduled_start). ``live_join_tickets``: single-use, 60-second
credentials for the live room, stored as SHA-256. ``calendar_tokens``: one per user, the
SHA-256 of the token in the user's iCalendar feed URL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_live_sessions"
down_revision: str | None = "0007_author_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_tokens_token_hash")),
    )
    op.create_table(
        "live_sessions",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("lesson_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "live",
                "ended",
                "cancelled",
                name="live_session_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "duration_minutes BETWEEN 5 AND 720", name=op.f("ck_live_sessions_duration_bounded")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_live_sessions_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_live_sessions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_live_sessions_lesson_id_lessons"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_sessions")),
    )
    op.create_index(
        "ix_live_sessions_course_id_scheduled_start",
        "live_sessions",
        ["course_id", "scheduled_start"],
        unique=False,
    )
    op.create_index(
        op.f("ix_live_sessions_lesson_id"), "live_sessions", ["lesson_id"], unique=False
    )
    op.create_index(
        "ix_live_sessions_status_scheduled_start",
        "live_sessions",
        ["status", "scheduled_start"],
        unique=False,
    )
    op.create_table(
        "live_join_tickets",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
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
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name=op.f("fk_live_join_tickets_live_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_join_tickets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_join_tickets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_live_join_tickets_token_hash")),
    )
    op.create_index(
        op.f("ix_live_join_tickets_live_session_id"),
        "live_join_tickets",
        ["live_session_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_live_join_tickets_user_id"), "live_join_tickets", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_live_join_tickets_user_id"), table_name="live_join_tickets")
    op.drop_index(op.f("ix_live_join_tickets_live_session_id"), table_name="live_join_tickets")
    op.drop_table("live_join_tickets")
    op.drop_index("ix_live_sessions_status_scheduled_start", table_name="live_sessions")
    op.drop_index(op.f("ix_live_sessions_lesson_id"), table_name="live_sessions")
    op.drop_index("ix_live_sessions_course_id_scheduled_start", table_name="live_sessions")
    op.drop_table("live_sessions")
    op.drop_table("calendar_tokens")
