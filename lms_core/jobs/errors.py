"""Job errors. A handler raises :class:`PermanentJobFailure` to fail without retrying; any
other exception is retried with backoff until the kind's ``max_attempts``."""

from __future__ import annotations

from lms_core.errors import NotFound


class JobError(Exception):
    """Base of the job system's own errors."""


class PermanentJobFailure(JobError):
    """Raised by a handler when retrying cannot help (bad input, a corrupt file): the job
    ends ``failed`` at once with this message as its ``last_error``."""


class LeaseLost(JobError):
    """This worker no longer owns the job: its lease expired and the job went back to the
    queue (or to another worker). Raised from ``JobContext.progress``; the handler should stop."""


class JobKindConflict(JobError):
    """Two different kinds were registered under one name."""


class JobNotFound(NotFound):
    default_code = "job_not_found"
    default_detail = "No such job."
