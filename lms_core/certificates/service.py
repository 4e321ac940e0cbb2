"""Certificates of completion: who gets one, and reading, verifying and revoking them.

A student is *eligible* when their enrollment in the course is active and complete
(``completed_at``, set by lms_core.enrollment.progress), the course is not a draft, and, where
the course requires a passing grade, their standing passes (lms_core.gradebook's
``course_standing``). :func:`enqueue_if_eligible` queues the job that makes the PDF
(lms_core.certificates.jobs); whatever changes eligibility calls it in its own transaction
(completion does, in enrollment.progress; so should releasing a grade that makes a completed
student pass). The job checks again: a queued job whose student is no longer eligible issues
nothing.

One certificate per (course, student), enforced by a unique constraint: a job run twice, or two
jobs at once, make one. A revoked certificate stays (it verifies as revoked) and is not
issued again.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.certificates import errors, jobs
from lms_core.certificates.models import Certificate
from lms_core.certificates.schemas import CertificateStatus, VerificationOut
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.gradebook.standing import course_standing
from lms_core.jobs.queue import enqueue

CODE_BYTES = 15  # 120 bits: 24 base32 characters, no padding
MAX_CODE_CHARS = 64
# A burst of gradebook edits (weights, items, the pass mark) makes one recheck of the course.
RECHECK_DELAY = timedelta(seconds=30)


def new_code() -> str:
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii")


def normalise_code(code: str) -> str:
    """Codes are upper-case base32; one typed in lower case still verifies."""
    return code.strip().upper()


def storage_key(course_id: uuid.UUID, code: str) -> str:
    return f"certificates/{course_id}/{code}.pdf"


def status_of(certificate: Certificate) -> CertificateStatus:
    return CertificateStatus.REVOKED if certificate.revoked_at else CertificateStatus.VALID


@dataclass(frozen=True, slots=True)
class Eligible:
    """What a certificate issued now would say."""

    course_id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    course_title: str
    instructor_name: str
    completed_at: datetime


async def eligibility(
    session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID
) -> Eligible | None:
    """The certificate's content if the student is eligible now, else None."""
    enrollment = await session.scalar(
        select(Enrollment).where(
            Enrollment.course_id == course_id,
            Enrollment.user_id == student_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    if enrollment is None or enrollment.completed_at is None:
        return None
    course = await session.get(Course, course_id)
    # A draft is hidden from its students (an admin may have unpublished it for a reason).
    if course is None or course.status is CourseStatus.DRAFT:
        return None
    if not await passes(session, course_id, student_id):
        return None
    student = await session.get(User, student_id)
    owner = await session.get(User, course.owner_id)
    if student is None or owner is None:
        return None
    return Eligible(
        course_id=course_id,
        student_id=student_id,
        student_name=student.name,
        course_title=course.title,
        instructor_name=owner.name,
        completed_at=enrollment.completed_at,
    )


async def passes(session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID) -> bool:
    """Whether the student meets the course's grade requirement: always where the course has
    none; else their standing (released grades only) must pass. A course that requires a
    passing grade but sets no pass mark (``passed`` None) requires nothing it can check."""
    standing = await course_standing(session, course_id, student_id)
    return not standing.requires_passing_grade or standing.passed is not False


async def existing(
    session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID
) -> Certificate | None:
    found: Certificate | None = await session.scalar(
        select(Certificate).where(
            Certificate.course_id == course_id, Certificate.user_id == student_id
        )
    )
    return found


async def enqueue_if_eligible(
    session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID
) -> bool:
    """Queue the issuing job (in the caller's transaction) if the student is eligible and has
    no certificate yet; True if one is queued (or already was). Never commits."""
    if await existing(session, course_id, student_id) is not None:
        return False
    if await eligibility(session, course_id, student_id) is None:
        return False
    await enqueue(
        session,
        jobs.ISSUE_CERTIFICATE,
        jobs.IssuePayload(course_id=course_id, student_id=student_id),
        dedupe_key=f"{course_id}/{student_id}",
    )
    return True


async def enqueue_course_recheck(session: AsyncSession, course_id: uuid.UUID) -> None:
    """The course's grading rules changed (in the caller's transaction): queue one job that
    checks its completed students again (deduplicated while one is waiting)."""
    await enqueue(
        session,
        jobs.RECHECK_COURSE,
        jobs.RecheckPayload(course_id=course_id),
        dedupe_key=str(course_id),
        delay=RECHECK_DELAY,
    )


async def completed_without_certificate(
    session: AsyncSession, course_id: uuid.UUID
) -> list[uuid.UUID]:
    """Actively enrolled students who completed the course and hold no certificate of it."""
    rows = await session.scalars(
        select(Enrollment.user_id)
        .where(
            Enrollment.course_id == course_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.completed_at.is_not(None),
            ~select(Certificate.id)
            .where(
                Certificate.course_id == course_id,
                Certificate.user_id == Enrollment.user_id,
            )
            .exists(),
        )
        .order_by(Enrollment.user_id)
    )
    return list(rows)


async def get_by_code(session: AsyncSession, code: str, *, lock: bool = False) -> Certificate:
    code = normalise_code(code)
    found: Certificate | None = None
    if code:
        stmt = select(Certificate).where(Certificate.code == code)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        found = await session.scalar(stmt)
    if found is None:
        raise errors.CertificateNotFound()
    return found


def verification(certificate: Certificate) -> VerificationOut:
    return VerificationOut(
        code=certificate.code,
        student_name=certificate.student_name,
        course_title=certificate.course_title,
        instructor_name=certificate.instructor_name,
        completed_at=certificate.completed_at,
        issued_at=certificate.issued_at,
        status=status_of(certificate),
        revoked_at=certificate.revoked_at,
    )


async def verify(session: AsyncSession, code: str) -> VerificationOut:
    """Public: anyone holding the code sees what the certificate says and whether it holds."""
    return verification(await get_by_code(session, code))


async def my_certificates(session: AsyncSession, actor: Actor) -> list[Certificate]:
    rows = await session.scalars(
        select(Certificate)
        .where(Certificate.user_id == actor.id)
        .order_by(Certificate.issued_at.desc(), Certificate.id)
    )
    return list(rows)


async def for_download(session: AsyncSession, actor: Actor, code: str) -> Certificate:
    """The certificate whose PDF the caller may download: their own while it is valid, or any
    for an admin."""
    certificate = await get_by_code(session, code)
    if actor.is_admin:
        return certificate
    if certificate.user_id != actor.id:
        raise errors.NotYourCertificate()
    if certificate.revoked_at is not None:
        raise errors.CertificateRevoked(extra={"revoked_at": certificate.revoked_at.isoformat()})
    return certificate


async def revoke(session: AsyncSession, actor: Actor, code: str, reason: str) -> Certificate:
    if not actor.is_admin:
        raise errors.AdminRequired()
    certificate = await get_by_code(session, code, lock=True)
    if certificate.revoked_at is not None:
        raise errors.CertificateAlreadyRevoked(
            extra={"revoked_at": certificate.revoked_at.isoformat()}
        )
    certificate.revoked_at = utcnow()
    certificate.revoked_by = actor.id
    certificate.revoke_reason = reason
    await session.flush()
    return certificate
