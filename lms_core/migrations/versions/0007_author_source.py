"""author source: the author's own text and format beside the sanitised HTML

Revision ID: 0007_author_source
Revises: 0006_lesson_videos
Create Date: 2026-11-22 18:58:19.525908

Course descriptions and text-lesson bodies kept only their sanitised HTML, so the editor showed
an author their Markdown turned into HTML. ``courses.description_source`` /
``description_format`` and ``lessons.body_source`` / ``body_format`` keep what the author wrote
(returned only to those who may edit the course). Existing rows get their HTML as the source,
in the ``html`` format. A NULL source (rows inserted without it) means "the HTML is the source".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_author_source"
down_revision: str | None = "0006_lesson_videos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _format() -> sa.Enum:
    return sa.Enum(
        "markdown",
        "html",
        name="text_format",
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def upgrade() -> None:
    op.add_column("courses", sa.Column("description_source", sa.Text(), nullable=True))
    op.add_column(
        "courses",
        sa.Column("description_format", _format(), server_default="html", nullable=False),
    )
    op.add_column("lessons", sa.Column("body_source", sa.Text(), nullable=True))
    op.add_column(
        "lessons", sa.Column("body_format", _format(), server_default="html", nullable=False)
    )
    op.execute("UPDATE courses SET description_source = description_html")
    op.execute("UPDATE lessons SET body_source = body_html")


def downgrade() -> None:
    op.drop_column("lessons", "body_format")
    op.drop_column("lessons", "body_source")
    op.drop_column("courses", "description_format")
    op.drop_column("courses", "description_source")
