"""live presence per connection and node; removal is a ban

Revision ID: 0012_live_presence_and_bans
Revises: 0011_live_whiteboard
Create Date: 2026-11-22 21:30:00.000000

``live_nodes``: the server processes serving ``/live``, each beating ``last_seen_at``.
``live_connections``: one row per open socket, naming its participant and its node, so that a
node that dies (SIGKILL) leaves rows another node's sweeper can remove. They replace the
``live_participants.connections`` counter; intervals still open when this runs (their
connections are not known) are closed now. ``live_participants.removed_at``: the host's removal
is a ban from the session until readmitted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_live_presence_and_bans"
down_revision: str | None = "0011_live_whiteboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_nodes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_nodes")),
    )
    op.create_index(
        op.f("ix_live_nodes_last_seen_at"), "live_nodes", ["last_seen_at"], unique=False
    )
    op.create_table(
        "live_connections",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.Uuid(), nullable=True),
        sa.Column(
            "connected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["live_nodes.id"],
            name=op.f("fk_live_connections_node_id_live_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["live_participants.id"],
            name=op.f("fk_live_connections_participant_id_live_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_connections")),
    )
    op.create_index(
        op.f("ix_live_connections_node_id"), "live_connections", ["node_id"], unique=False
    )
    op.create_index(
        op.f("ix_live_connections_participant_id"),
        "live_connections",
        ["participant_id"],
        unique=False,
    )
    op.add_column(
        "live_participants", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True)
    )
    # The counter's connections are of processes that are restarting for this migration.
    op.execute(
        "UPDATE live_attendance_intervals SET left_at = greatest(now(), joined_at) "
        "WHERE left_at IS NULL"
    )
    op.execute("UPDATE live_participants SET hand_raised_at = NULL")
    op.drop_constraint(
        op.f("ck_live_participants_connections_non_negative"), "live_participants", type_="check"
    )
    op.drop_column("live_participants", "connections")


def downgrade() -> None:
    op.add_column(
        "live_participants",
        sa.Column("connections", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE live_participants p SET connections = "
        "(SELECT count(*) FROM live_connections c WHERE c.participant_id = p.id)"
    )
    op.create_check_constraint(
        op.f("ck_live_participants_connections_non_negative"),
        "live_participants",
        "connections >= 0",
    )
    op.drop_column("live_participants", "removed_at")
    op.drop_index(op.f("ix_live_connections_participant_id"), table_name="live_connections")
    op.drop_index(op.f("ix_live_connections_node_id"), table_name="live_connections")
    op.drop_table("live_connections")
    op.drop_index(op.f("ix_live_nodes_last_seen_at"), table_name="live_nodes")
    op.drop_table("live_nodes")
