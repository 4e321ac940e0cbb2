"""The certificate's background work: issuing one (the PDF with its QR code, stored, then the row).

Queued by ``service.enqueue_if_eligible`` in the transaction that made the student eligible.
The handler checks eligibility again, renders the PDF in a thread (font subsetting is CPU
work), stores it under a key of its own new code, then inserts the row with ``ON CONFLICT DO
NOTHING`` on (course, student): a second run, or a concurrent one, finds the certificate there
and issues nothing (its stored PDF, if it got that far, is deleted). No transaction is held
while the PDF is made and stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert

from lms_core.certificates import render, service
from lms_core.certificates.models import Certificate
from lms_core.clock import utcnow
from lms_core.db import unit_of_work
from lms_core.jobs.registry import Backoff, JobContext, JobKind
from lms_core.storage import Storage

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 20 * 1024 * 1024  # a certificate is tens of kilobytes; CJK fonts add a little


class IssuePayload(BaseModel):
    course_id: uuid.UUID
    student_id: uuid.UUID


ISSUE_CERTIFICATE = JobKind(
    "certificates.issue",
    IssuePayload,
    max_attempts=5,
    backoff=Backoff(first=timedelta(seconds=30)),
    timeout=timedelta(minutes=5),
    max_concurrency=2,  # CPU-bound rendering
)


def verify_url(base_url: str, code: str) -> str:
    """The public verification page the QR code points at."""
    return f"{base_url.rstrip('/')}/certificates/{code}"


@dataclass(frozen=True, slots=True)
class IssueCertificateJob:
    """The handler of :data:`ISSUE_CERTIFICATE`: ``IssueCertificateJob(storage, base_url)``,
    ``base_url`` being the site's public address (the QR code's and the PDF's link)."""

    storage: Storage
    base_url: str
    font_dirs: Sequence[Path] = render.FONT_DIRS

    async def __call__(self, ctx: JobContext, payload: IssuePayload) -> None:
        async with unit_of_work(ctx.sessions) as session:
            if await service.existing(session, payload.course_id, payload.student_id):
                return
            eligible = await service.eligibility(session, payload.course_id, payload.student_id)
        if eligible is None:
            return  # no longer (or not yet) eligible: whatever makes them eligible queues again
        code = service.new_code()
        content = render.CertificateText(
            student_name=eligible.student_name,
            course_title=eligible.course_title,
            instructor_name=eligible.instructor_name,
            completed_at=eligible.completed_at,
            code=code,
            verify_url=verify_url(self.base_url, code),
        )
        pdf = await asyncio.to_thread(render.render_pdf, content, font_dirs=self.font_dirs)
        key = service.storage_key(eligible.course_id, code)
        stored = await self.storage.put_stream(
            key, _once(pdf), content_type="application/pdf", max_bytes=MAX_PDF_BYTES
        )
        try:
            issued = await self._insert(ctx, eligible, code, key, pdf)
        except BaseException:
            await self._discard(key)
            raise
        if not issued:
            await self._discard(key)
        else:
            log.info("certificate %s issued (%d bytes)", code, stored.size)

    async def _insert(
        self, ctx: JobContext, eligible: service.Eligible, code: str, key: str, pdf: bytes
    ) -> bool:
        async with unit_of_work(ctx.sessions) as session:
            # Still eligible (not unenrolled, not unpublished while the PDF was made)?
            if await service.eligibility(session, eligible.course_id, eligible.student_id) is None:
                return False
            made = await session.scalar(
                insert(Certificate)
                .values(
                    id=uuid.uuid4(),
                    code=code,
                    course_id=eligible.course_id,
                    user_id=eligible.student_id,
                    student_name=eligible.student_name,
                    course_title=eligible.course_title,
                    instructor_name=eligible.instructor_name,
                    completed_at=eligible.completed_at,
                    issued_at=utcnow(),
                    storage_key=key,
                    pdf_size=len(pdf),
                    pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                )
                .on_conflict_do_nothing(index_elements=[Certificate.course_id, Certificate.user_id])
                .returning(Certificate.id)
            )
        return made is not None

    async def _discard(self, key: str) -> None:
        try:
            await self.storage.delete(key)
        except Exception:  # an unreferenced object costs space, not correctness
            log.warning("could not delete %s", key, exc_info=True)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


# --- a course's rules changed -------------------------------------------------------------------


class RecheckPayload(BaseModel):
    course_id: uuid.UUID


RECHECK_COURSE = JobKind(
    "certificates.recheck_course",
    RecheckPayload,
    max_attempts=3,
    backoff=Backoff(first=timedelta(seconds=30)),
    timeout=timedelta(minutes=10),
)


async def recheck_course(ctx: JobContext, payload: RecheckPayload) -> None:
    """The handler of :data:`RECHECK_COURSE`: after a change to the gradebook's rules (pass
    mark, weights, items), every student who completed the course and has no certificate is
    checked again; those who pass now get their issuing job."""
    async with unit_of_work(ctx.sessions) as session:
        for student_id in await service.completed_without_certificate(session, payload.course_id):
            await service.enqueue_if_eligible(session, payload.course_id, student_id)
