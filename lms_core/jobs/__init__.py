"""Background jobs: a durable queue in PostgreSQL, run by ``seminar worker`` and by ``serve``.

A domain declares a :class:`JobKind` (a name and a pydantic payload model) in its ``jobs.py``,
enqueues it with :func:`enqueue` inside the transaction that causes the work (a rollback
leaves no job behind), and the server registers its handler in a :class:`JobRegistry` that
a :class:`JobRunner` executes. Execution is at least once: a handler must be idempotent.
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
