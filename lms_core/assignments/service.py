"""Assignment use cases: settings, the brief's attachments, submissions and their receipts.

Who may do what (course roles come from ``lms_core.courses.access``):

* **set** the settings and the brief's attachments: the course's editors (co-instructors, the
  owner, admins); **read** them: its staff (editors also get the brief's source).
* **read the brief** and its attachments: enrolled students, as they open other lessons (drip:
  not before ``release_at``). Visitors, even of a preview lesson, are refused.
* **submit**: enrolled students only, always as themselves (the student is the caller, never a
  field of the request). Staff are refused (403 ``students_only``).
* **read a submission** and its files: its student, and the course's staff. Anyone else gets
  *not found*, the same answer as for an id that does not exist.

The late policy (:func:`lateness`): on time is ``submitted_at <= due_at``. Late by ``d``
started days (``ceil((submitted_at - due_at) / 1 day)``) costs ``min(cap, d * per_day)``
percent under ``penalty``; under ``cutoff`` a late submission is refused (409
``assignment_closed``). Resubmitting (a new version; the latest counts) is possible while
``allow_resubmission`` and the due date has not passed (409 ``resubmission_closed``).

A submission runs in two steps around the upload (:func:`open_for_submission`, then the caller
streams the files, then :func:`record_submission`), so that refusals come before any byte is
stored. Recording takes a per-(assignment, student) advisory lock: concurrent submits of one
student number their versions one after another, and a retry carrying the same
``Idempotency-Key`` finds the submission the first one made instead of making another.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.assignments import errors, receipts, schemas
from lms_core.assignments.models import (
    Assignment,
    AssignmentAttachment,
    LatePolicy,
    Submission,
    SubmissionFile,
    SubmissionFormat,
)
from lms_core.clock import utcnow
from lms_core.courses import access, files
from lms_core.courses.access import CourseRole
from lms_core.courses.content import get_lesson
from lms_core.courses.errors import LessonNotFound
from lms_core.courses.models import Course, Lesson, LessonKind
from lms_core.courses.richtext import to_safe_html
from lms_core.enrollment.errors import EnrollmentRequired
from lms_core.errors import PermissionDenied
from lms_core.mail.service import Mailer
from lms_core.pagination import decode_time_cursor, encode_time_cursor
from lms_core.storage import StoredObject
from lms_core.storage.filenames import sanitize_filename

DAY = timedelta(days=1)
MAX_ATTACHMENTS = 20


# --- the late policy ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lateness:
    days_late: int
    penalty_percent: int


def lateness(
    due_at: datetime | None, submitted_at: datetime, *, per_day: int, cap: int
) -> Lateness:
    """Started days late, and the penalty in percent (``per_day`` each, at most ``cap``)."""
    if due_at is None or submitted_at <= due_at:
        return Lateness(0, 0)
    days = math.ceil((submitted_at - due_at) / DAY)
    return Lateness(days, min(cap, per_day * days))


# --- loading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    lesson: Lesson
    role: CourseRole


async def _lesson_as_staff(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, *, edit: bool
) -> Found:
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise LessonNotFound()
    try:
        _, role = await access.visible_course(session, actor, lesson.course_id)
    except access.CourseNotFound:
        raise LessonNotFound() from None
    if edit and not role.can_edit:
        raise PermissionDenied(
            "Only the course's instructors may change it.", code="not_course_editor"
        )
    if not role.is_staff:
        raise PermissionDenied("Only the course's staff may do this.", code="not_course_staff")
    if lesson.kind is not LessonKind.ASSIGNMENT:
        raise errors.LessonNotAssignment()
    return Found(lesson, role)


async def _lesson_as_reader(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> Found:
    """Staff, or an enrolled student once the lesson is released (as ``GET /lessons/{id}``)."""
    lesson, role = await get_lesson(session, actor, lesson_id)
    if not role.is_staff and role is not CourseRole.STUDENT:
        raise EnrollmentRequired()
    if lesson.kind is not LessonKind.ASSIGNMENT:
        raise errors.LessonNotAssignment()
    return Found(lesson, role)


async def _assignment(session: AsyncSession, lesson_id: uuid.UUID) -> Assignment:
    assignment = await session.get(Assignment, lesson_id)
    if assignment is None:
        raise errors.AssignmentNotConfigured()
    return assignment


# --- settings ----------------------------------------------------------------------------------


async def render(
    session: AsyncSession, lesson: Lesson, assignment: Assignment, role: CourseRole
) -> schemas.AssignmentOut:
    attachments = await session.scalars(
        select(AssignmentAttachment)
        .where(AssignmentAttachment.lesson_id == lesson.id)
        .order_by(AssignmentAttachment.created_at, AssignmentAttachment.id)
    )
    return schemas.AssignmentOut(
        lesson_id=lesson.id,
        course_id=lesson.course_id,
        title=lesson.title,
        brief_html=assignment.brief_html,
        brief_source=assignment.brief_source if role.can_edit else None,
        brief_format=assignment.brief_format if role.can_edit else None,
        due_at=assignment.due_at,
        late_policy=assignment.late_policy,
        penalty_percent_per_day=assignment.penalty_percent_per_day,
        max_penalty_percent=assignment.max_penalty_percent,
        submission_format=assignment.submission_format,
        allowed_types=list(assignment.allowed_types),
        max_file_bytes=assignment.max_file_bytes,
        max_files=assignment.max_files,
        allow_resubmission=assignment.allow_resubmission,
        points_possible=assignment.points_possible,
        attachments=[schemas.AttachmentOut.model_validate(a) for a in attachments],
        updated_at=assignment.updated_at,
    )


async def get_assignment(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, Assignment, CourseRole]:
    found = await _lesson_as_reader(session, actor, lesson_id)
    return found.lesson, await _assignment(session, lesson_id), found.role


async def set_assignment(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, data: schemas.AssignmentIn
) -> tuple[Lesson, Assignment, CourseRole]:
    found = await _lesson_as_staff(session, actor, lesson_id, edit=True)
    assignment = await session.get(Assignment, lesson_id, with_for_update=True)
    if assignment is None:
        assignment = Assignment(lesson_id=found.lesson.id, course_id=found.lesson.course_id)
        session.add(assignment)
    assignment.brief_source = data.brief
    assignment.brief_format = data.brief_format
    assignment.brief_html = to_safe_html(data.brief, data.brief_format)
    for name in (
        "due_at",
        "late_policy",
        "penalty_percent_per_day",
        "max_penalty_percent",
        "submission_format",
        "allowed_types",
        "max_file_bytes",
        "max_files",
        "allow_resubmission",
        "points_possible",
    ):
        setattr(assignment, name, getattr(data, name))
    assignment.updated_at = utcnow()
    await session.flush()
    return found.lesson, assignment, found.role


# --- the brief's attachments -------------------------------------------------------------------


def attachment_key(course_id: uuid.UUID, lesson_id: uuid.UUID) -> str:
    return f"courses/{course_id}/assignments/{lesson_id}/attachments/{uuid.uuid4().hex}"


async def _attachments_size(session: AsyncSession, course_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(AssignmentAttachment.size), 0)).where(
            AssignmentAttachment.course_id == course_id
        )
    )
    return int(total or 0)


async def _check_quota(
    session: AsyncSession, course_id: uuid.UUID, incoming: int, quota: int
) -> None:
    """Attachments count towards the course's storage quota, with its files and videos."""
    used = await files.quota_used(session, course_id) + await _attachments_size(session, course_id)
    if used + incoming > quota:
        raise files.CourseQuotaExceeded(
            extra={"quota_bytes": quota, "used_bytes": used, "file_bytes": incoming}
        )


async def prepare_attachment(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    *,
    declared_size: int | None,
    quota: int,
) -> Assignment:
    found = await _lesson_as_staff(session, actor, lesson_id, edit=True)
    assignment = await _assignment(session, found.lesson.id)
    if declared_size is not None:
        await _check_quota(session, assignment.course_id, declared_size, quota)
    return assignment


async def add_attachment(
    session: AsyncSession,
    actor: Actor,
    assignment: Assignment,
    stored: StoredObject,
    *,
    filename: str | None,
    quota: int,
) -> AssignmentAttachment:
    # The course row lock serialises uploads racing for the last bytes of the quota.
    await access.editable_course(session, actor, assignment.course_id, for_update=True)
    await _check_quota(session, assignment.course_id, stored.size, quota)
    count = await session.scalar(
        select(func.count()).where(AssignmentAttachment.lesson_id == assignment.lesson_id)
    )
    if (count or 0) >= MAX_ATTACHMENTS:
        raise errors.TooManyFiles(f"A brief has at most {MAX_ATTACHMENTS} attachments.")
    row = AssignmentAttachment(
        lesson_id=assignment.lesson_id,
        course_id=assignment.course_id,
        storage_key=stored.key,
        filename=sanitize_filename(filename),
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by=actor.id,
    )
    session.add(row)
    await session.flush()
    return row


async def _attachment(
    session: AsyncSession, lesson_id: uuid.UUID, attachment_id: uuid.UUID
) -> AssignmentAttachment:
    row = await session.get(AssignmentAttachment, attachment_id)
    if row is None or row.lesson_id != lesson_id:
        raise errors.AttachmentNotFound()
    return row


async def remove_attachment(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, attachment_id: uuid.UUID
) -> str:
    """Delete the row; return the stored object's key (delete it once committed)."""
    await _lesson_as_staff(session, actor, lesson_id, edit=True)
    row = await _attachment(session, lesson_id, attachment_id)
    key = row.storage_key
    await session.delete(row)
    await session.flush()
    return key


async def attachment_for_download(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, attachment_id: uuid.UUID
) -> AssignmentAttachment:
    await _lesson_as_reader(session, actor, lesson_id)
    return await _attachment(session, lesson_id, attachment_id)


# --- submitting --------------------------------------------------------------------------------


def submission_key(course_id: uuid.UUID, lesson_id: uuid.UUID) -> str:
    return f"courses/{course_id}/assignments/{lesson_id}/submissions/{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Opening:
    """An assignment the caller may submit to now; ``replay``: the submission an earlier
    request with the same Idempotency-Key made (answer it; take no new upload)."""

    lesson: Lesson
    assignment: Assignment
    replay: Submission | None


async def _by_key(
    session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID, key: str | None
) -> Submission | None:
    if key is None:
        return None
    return await session.scalar(
        select(Submission).where(
            Submission.lesson_id == lesson_id,
            Submission.student_id == student_id,
            Submission.idempotency_key == key,
        )
    )


async def _versions(session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Submission.lesson_id == lesson_id, Submission.student_id == student_id
        )
    )
    return int(count or 0)


def _check_open(assignment: Assignment, now: datetime, previous: int) -> None:
    past_due = assignment.due_at is not None and now > assignment.due_at
    if past_due and assignment.late_policy is LatePolicy.CUTOFF:
        raise errors.AssignmentClosed(extra={"due_at": assignment.due_at.isoformat()})  # type: ignore[union-attr]
    if previous and (not assignment.allow_resubmission or past_due):
        raise errors.ResubmissionClosed()


async def open_for_submission(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, *, idempotency_key: str | None
) -> Opening:
    """Refuse early (before any byte is read): who may submit, and whether it is open."""
    found = await _lesson_as_reader(session, actor, lesson_id)
    if found.role is not CourseRole.STUDENT:
        raise errors.StudentsOnly()
    assignment = await _assignment(session, lesson_id)
    replay = await _by_key(session, lesson_id, actor.id, idempotency_key)
    if replay is None:
        previous = await _versions(session, lesson_id, actor.id)
        _check_open(assignment, utcnow(), previous)
    return Opening(found.lesson, assignment, replay)


@dataclass(frozen=True, slots=True)
class IncomingFile:
    stored: StoredObject
    filename: str | None


def _check_format(
    assignment: Assignment, text: str | None, incoming: Sequence[IncomingFile]
) -> None:
    kind = assignment.submission_format
    if kind is SubmissionFormat.TEXT and incoming:
        raise errors.WrongSubmissionFormat("This assignment takes text only, not files.")
    if kind is SubmissionFormat.FILES and text is not None:
        raise errors.WrongSubmissionFormat("This assignment takes files only, not text.")
    if text is None and not incoming:
        raise errors.NothingSubmitted()
    if len(incoming) > assignment.max_files:
        raise errors.TooManyFiles(extra={"max_files": assignment.max_files})


@dataclass(frozen=True, slots=True)
class Recorded:
    submission: Submission
    created: bool  # False: an earlier request with the same Idempotency-Key made it


async def record_submission(
    session: AsyncSession,
    actor: Actor,
    opening: Opening,
    *,
    text: str | None,
    incoming: Sequence[IncomingFile],
    idempotency_key: str | None,
    mailer: Mailer,
) -> Recorded:
    """Make the caller's next version (or find the one ``idempotency_key`` made) and queue its
    receipt mail. ``text``: None or blank means no text."""
    assignment, lesson = opening.assignment, opening.lesson
    if text is not None and not text.strip():
        text = None
    _check_format(assignment, text, incoming)
    lock_name = f"assignment-submission:{lesson.id}:{actor.id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(lock_name, 0))))
    replay = await _by_key(session, lesson.id, actor.id, idempotency_key)
    if replay is not None:
        return Recorded(replay, created=False)
    now = utcnow()
    previous = await _versions(session, lesson.id, actor.id)
    _check_open(assignment, now, previous)
    late = lateness(
        assignment.due_at,
        now,
        per_day=assignment.penalty_percent_per_day,
        cap=assignment.max_penalty_percent,
    )
    await session.execute(
        update(Submission)
        .where(
            Submission.lesson_id == lesson.id,
            Submission.student_id == actor.id,
            Submission.is_latest.is_(True),
        )
        .values(is_latest=False)
    )
    submission = Submission(
        lesson_id=lesson.id,
        course_id=lesson.course_id,
        student_id=actor.id,
        version=previous + 1,
        is_latest=True,
        idempotency_key=idempotency_key,
        text=text,
        text_sha256=receipts.text_digest(text),
        submitted_at=now,
        days_late=late.days_late,
        penalty_percent=late.penalty_percent,
    )
    session.add(submission)
    await session.flush()
    rows = [
        SubmissionFile(
            submission_id=submission.id,
            position=i,
            storage_key=f.stored.key,
            filename=sanitize_filename(f.filename),
            content_type=f.stored.content_type,
            size=f.stored.size,
            sha256=f.stored.sha256,
        )
        for i, f in enumerate(incoming)
    ]
    session.add_all(rows)
    await session.flush()
    course = await session.get(Course, lesson.course_id)
    await receipts.send_receipt(
        session,
        mailer,
        receipts.receipt(submission, rows),
        to=actor.user.email,
        student=actor.user.name,
        assignment=lesson.title,
        course=course.title if course is not None else "",
        days_late=late.days_late,
    )
    return Recorded(submission, created=True)


# --- reading submissions -----------------------------------------------------------------------


async def render_submissions(
    session: AsyncSession, rows: Sequence[Submission]
) -> list[schemas.SubmissionOut]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    by_submission: dict[uuid.UUID, list[SubmissionFile]] = {i: [] for i in ids}
    for f in await session.scalars(
        select(SubmissionFile)
        .where(SubmissionFile.submission_id.in_(ids))
        .order_by(SubmissionFile.position)
    ):
        by_submission[f.submission_id].append(f)
    users = await session.execute(
        select(User.id, User.name).where(User.id.in_({r.student_id for r in rows}))
    )
    names: dict[uuid.UUID, str] = {row.id: row.name for row in users}
    return [
        schemas.SubmissionOut(
            id=r.id,
            lesson_id=r.lesson_id,
            student=schemas.StudentOut(id=r.student_id, name=names.get(r.student_id, "")),
            version=r.version,
            is_latest=r.is_latest,
            text=r.text,
            submitted_at=r.submitted_at,
            is_late=r.is_late,
            days_late=r.days_late,
            penalty_percent=r.penalty_percent,
            files=[schemas.SubmissionFileOut.model_validate(f) for f in by_submission[r.id]],
            receipt=receipts.receipt(r, by_submission[r.id]),
        )
        for r in rows
    ]


async def my_submissions(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> list[Submission]:
    """Every version of the caller's own work, newest first."""
    await _lesson_as_reader(session, actor, lesson_id)
    return list(
        await session.scalars(
            select(Submission)
            .where(Submission.lesson_id == lesson_id, Submission.student_id == actor.id)
            .order_by(Submission.version.desc())
        )
    )


async def latest_submissions(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Submission], str | None]:
    """Each student's latest version, oldest first (the order work came in); staff only."""
    await _lesson_as_staff(session, actor, lesson_id, edit=False)
    stmt = select(Submission).where(
        Submission.lesson_id == lesson_id, Submission.is_latest.is_(True)
    )
    if cursor is not None:
        moment, ident = decode_time_cursor(cursor)
        stmt = stmt.where(tuple_(Submission.submitted_at, Submission.id) > tuple_(moment, ident))
    rows = list(
        await session.scalars(
            stmt.order_by(Submission.submitted_at, Submission.id).limit(limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_time_cursor(rows[-1].submitted_at, rows[-1].id)
    return rows, next_cursor


async def get_submission(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID
) -> Submission:
    """Its student's, or the course's staff's; *not found* for anyone else."""
    row = await session.get(Submission, submission_id)
    if row is None:
        raise errors.SubmissionNotFound()
    if row.student_id == actor.id:
        return row
    course = await session.get(Course, row.course_id)
    if course is None or not (await access.role_in(session, actor, course)).is_staff:
        raise errors.SubmissionNotFound()
    return row


async def submission_file(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID, file_id: uuid.UUID
) -> SubmissionFile:
    submission = await get_submission(session, actor, submission_id)
    row = await session.get(SubmissionFile, file_id)
    if row is None or row.submission_id != submission.id:
        raise errors.SubmissionFileNotFound()
    return row
