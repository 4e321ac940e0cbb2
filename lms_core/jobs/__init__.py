"""Background jobs: a durable queue in PostgreSQL, run by ``seminar worker`` and by ``serve``.

A domain declares a :class:`JobKind` (a name and a pydantic payload model) in its ``jobs.py``,
enqueues it with :func:`enqueue` inside the transaction that causes the work (a rollback
leaves no job behind), and the server registers its handler in a :class:`JobRegistry` that
a :class:`JobRunner` executes. Execution is at least once: a handler must be idempotent.

Why our own queue and not pgqueuer (1.6.0, evaluated for this): its drivers write through the
raw asyncpg connection, and under SQLAlchemy the transaction is opened lazily, so a job
enqueued before the session's first statement was committed on its own and survived the
rollback of the change that caused it (reproduced); enqueueing inside our transaction would
have needed a driver of our own over ``AsyncSession``. Its schema (four tables, an enum type
and a trigger that NOTIFYs on every row change, heartbeats included) is installed and
upgraded by its own CLI, outside Alembic. It has no progress reporting; finished jobs move to
a log table; delays are relative to the database clock. What we need (one table, SKIP LOCKED,
leases, LISTEN/NOTIFY) is a few hundred lines that Alembic, mypy and our tests cover.
"""

from lms_core.jobs.errors import JobError, JobKindConflict, LeaseLost, PermanentJobFailure
from lms_core.jobs.models import Job, JobStatus
from lms_core.jobs.queue import enqueue, get_job
from lms_core.jobs.registry import Backoff, Handler, JobContext, JobKind, JobRegistry
from lms_core.jobs.runner import JobRunner
from lms_core.jobs.schemas import JobOut

__all__ = [
    "Backoff",
    "Handler",
    "Job",
    "JobContext",
    "JobError",
    "JobKind",
    "JobKindConflict",
    "JobOut",
    "JobRegistry",
    "JobRunner",
    "JobStatus",
    "LeaseLost",
    "PermanentJobFailure",
    "enqueue",
    "get_job",
]
