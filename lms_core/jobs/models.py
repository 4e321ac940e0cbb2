"""The ``jobs`` table: one row per job, from enqueue to its final status.

States: ``queued`` (waiting for ``run_at``) -> ``running`` (a worker holds a lease) -> one of
``succeeded`` / ``failed``, or back to ``queued`` for a retry, after a lost worker, or when a
stopping worker hands it back. Rows are the job's history too: the API reads status, progress
and the last error from here.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin
from lms_core.enums import text_enum


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up: max attempts reached or a permanent failure; see last_error


# The partial unique index's predicate; ON CONFLICT must repeat it literally (a bound
# parameter would not let PostgreSQL infer the index).
ACTIVE_DEDUPE = "dedupe_key IS NOT NULL AND status IN ('queued', 'running')"


class Job(IdMixin, Base):
    __tablename__ = "jobs"

    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[JobStatus] = mapped_column(text_enum(JobStatus, "job_status", length=16))
    # The same logical job is not enqueued twice while one is queued or running (see the index).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Held while running: a fresh token per claim fences a worker whose lease ran out (its late
    # writes match no row), and the expiry lets another worker take over from a dead one.
    lease_token: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    progress: Mapped[int | None] = mapped_column(Integer, default=None)
    progress_message: Mapped[str | None] = mapped_column(String(500), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, server_default=func.now(), onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        # What workers poll: due queued jobs, oldest first.
        Index("ix_jobs_queued_run_at", "run_at", postgresql_where=text("status = 'queued'")),
        # What the sweeper polls: running jobs whose worker stopped renewing its lease.
        Index(
            "ix_jobs_running_lease_expires_at",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
        ),
        Index(
            "uq_jobs_kind_dedupe_key_active",
            "kind",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL AND status IN ('queued', 'running')"),
        ),
        # Retention deletes old succeeded jobs by finish time.
        Index(
            "ix_jobs_succeeded_finished_at",
            "finished_at",
            postgresql_where=text("status = 'succeeded'"),
        ),
    )
