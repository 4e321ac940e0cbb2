"""live polls: the room's polls and their votes

Revision ID: 0010_live_polls
Revises: 0009_live_rooms
Create Date: 2026-11-22 20:21:36.292262

``live_polls`` (lms_core/live/room_models.py): a host's multiple-choice question in a room
(question of 1-500 characters, 2-10 options kept as a JSONB array, status open/closed); the
partial unique index ``uq_live_polls_one_open_per_room`` allows one open poll per room.
``live_poll_votes``: one vote per user per poll (unique (poll_id, user_id)), the option by index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_live_polls"
down_revision: str | None = "0009_live_rooms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_polls",
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                name="live_poll_status",
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
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(status = 'open') = (closed_at IS NULL)",
            name=op.f("ck_live_polls_closed_at_iff_closed"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(options) = 'array' AND jsonb_array_length(options) BETWEEN 2 AND 10",
            name=op.f("ck_live_polls_options_count"),
        ),
        sa.CheckConstraint(
            "char_length(question) BETWEEN 1 AND 500", name=op.f("ck_live_polls_question_length")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_live_polls_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_rooms.live_session_id"],
            name=op.f("fk_live_polls_live_session_id_live_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_polls")),
    )
    op.create_index(op.f("ix_live_polls_created_by"), "live_polls", ["created_by"], unique=False)
    op.create_index(
        "ix_live_polls_live_session_id_created_at",
        "live_polls",
        ["live_session_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_live_polls_one_open_per_room",
        "live_polls",
        ["live_session_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "live_poll_votes",
        sa.Column("poll_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("option BETWEEN 0 AND 9", name=op.f("ck_live_poll_votes_option_range")),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["live_polls.id"],
            name=op.f("fk_live_poll_votes_poll_id_live_polls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_poll_votes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_poll_votes")),
        sa.UniqueConstraint("poll_id", "user_id", name=op.f("uq_live_poll_votes_poll_id_user_id")),
    )
    op.create_index(
        op.f("ix_live_poll_votes_user_id"), "live_poll_votes", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_live_poll_votes_user_id"), table_name="live_poll_votes")
    op.drop_table("live_poll_votes")
    op.drop_index(
        "uq_live_polls_one_open_per_room",
        table_name="live_polls",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_live_polls_live_session_id_created_at", table_name="live_polls")
    op.drop_index(op.f("ix_live_polls_created_by"), table_name="live_polls")
    op.drop_table("live_polls")
