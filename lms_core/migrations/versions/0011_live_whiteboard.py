"""live whiteboard: the room's op log and its snapshots

Revision ID: 0011_live_whiteboard
Revises: 0010_live_polls
Create Date: 2026-11-22 20:26:30.116860

``live_rooms.wb_seq``: the whiteboard's own gap-free counter, allocated under the room row lock
like the chat's ``last_seq`` (lms_core/live/whiteboard.py). ``live_whiteboard_ops``: one op
(stroke, shape, text, erase, clear, undo) per row, unique (room, seq) and unique (room, user,
client_op_id) for idempotent resends; page >= 0. ``live_whiteboard_snapshots``: the materialised
live ops per page as of an op's seq, stored every N ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_live_whiteboard"
down_revision: str | None = "0010_live_polls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_whiteboard_ops",
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("client_op_id", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "stroke",
                "shape",
                "text",
                "erase",
                "clear",
                "undo",
                name="live_whiteboard_op_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("page >= 0", name=op.f("ck_live_whiteboard_ops_page_non_negative")),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_rooms.live_session_id"],
            name=op.f("fk_live_whiteboard_ops_live_session_id_live_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_whiteboard_ops_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_whiteboard_ops")),
        sa.UniqueConstraint(
            "live_session_id", "seq", name=op.f("uq_live_whiteboard_ops_live_session_id_seq")
        ),
        sa.UniqueConstraint(
            "live_session_id",
            "user_id",
            "client_op_id",
            name=op.f("uq_live_whiteboard_ops_live_session_id_user_id_client_op_id"),
        ),
    )
    op.create_index(
        op.f("ix_live_whiteboard_ops_user_id"), "live_whiteboard_ops", ["user_id"], unique=False
    )
    op.create_table(
        "live_whiteboard_snapshots",
        sa.Column("live_session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("pages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_rooms.live_session_id"],
            name=op.f("fk_live_whiteboard_snapshots_live_session_id_live_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_whiteboard_snapshots")),
        sa.UniqueConstraint(
            "live_session_id", "seq", name=op.f("uq_live_whiteboard_snapshots_live_session_id_seq")
        ),
    )
    op.add_column(
        "live_rooms", sa.Column("wb_seq", sa.BigInteger(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("live_rooms", "wb_seq")
    op.drop_table("live_whiteboard_snapshots")
    op.drop_index(op.f("ix_live_whiteboard_ops_user_id"), table_name="live_whiteboard_ops")
    op.drop_table("live_whiteboard_ops")
