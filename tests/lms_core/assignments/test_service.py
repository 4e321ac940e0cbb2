"""Assignments at the service layer: settings, who may submit, lateness, versions, receipts."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role
from lms_core.accounts.sessions import Actor
from lms_core.assignments import errors, schemas, service
from lms_core.assignments.models import Assignment
from lms_core.clock import utcnow
from lms_core.courses.errors import LessonLocked, LessonNotFound
from lms_core.courses.models import CourseStatus, LessonKind
from lms_core.enrollment.errors import EnrollmentRequired
from lms_core.errors import PermissionDenied
from lms_core.mail.models import OutboxMessage
from server.state import Database
from tests.factories import make_course, make_enrollment, make_lesson, make_module, make_user
from tests.lms_core.assignments.helpers import configure, submit, world


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def _due(session: AsyncSession, lesson_id: uuid.UUID, delta: timedelta) -> None:
    assignment = await session.get(Assignment, lesson_id)
    assert assignment is not None
    assignment.due_at = utcnow() + delta
    await session.flush()


async def _mails(session: AsyncSession, to: str) -> list[OutboxMessage]:
    return list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_address == to, OutboxMessage.template == "submission_receipt")
            .order_by(OutboxMessage.created_at)
        )
    )


# --- settings ----------------------------------------------------------------------------------


async def test_editors_set_the_assignment_tas_and_students_may_not(session: AsyncSession) -> None:
    w = await world(session)
    for who in (w.c.co, w.c.admin):
        await configure(session, who, w.lesson, brief="<p onclick=x>Hi<script>bad()</script></p>")
    for who, code in ((w.c.ta, "not_course_editor"), (w.c.student, "not_course_editor")):
        with pytest.raises(PermissionDenied) as refused:
            await configure(session, who, w.lesson)
        assert refused.value.code == code
    lesson, assignment, role = await service.get_assignment(session, w.c.student, w.lesson.id)
    out = await service.render(session, lesson, assignment, role)
    assert out.brief_html == "<p>Hi</p>"  # sanitised
    assert out.brief_source is None  # the author's text is for editors
    lesson, assignment, role = await service.get_assignment(session, w.c.co, w.lesson.id)
    out = await service.render(session, lesson, assignment, role)
    assert out.brief_source == "<p onclick=x>Hi<script>bad()</script></p>"


async def test_settings_only_on_assignment_lessons(session: AsyncSession) -> None:
    w = await world(session)
    module = await make_module(session, w.c.course, position=1)
    text_lesson = await make_lesson(session, module, kind=LessonKind.TEXT)
    with pytest.raises(errors.LessonNotAssignment):
        await configure(session, w.c.owner, text_lesson)


def test_allowed_types_are_checked() -> None:
    with pytest.raises(ValidationError):
        schemas.AssignmentIn(allowed_types=["application/x-msdownload"])
    with pytest.raises(ValidationError):
        schemas.AssignmentIn(allowed_types=["application/x-made-up"])
    data = schemas.AssignmentIn(allowed_types=["application/x-pdf", "application/pdf", "image/JPG"])
    assert data.allowed_types == ["application/pdf", "image/jpeg"]


async def test_brief_readers(session: AsyncSession) -> None:
    w = await world(session)
    with pytest.raises(PermissionDenied) as refused:
        await service.get_assignment(session, w.c.outsider, w.lesson.id)
    assert refused.value.code == "enrollment_required"
    w.lesson.is_preview = True  # a preview lesson still needs an enrollment here
    with pytest.raises(EnrollmentRequired):
        await service.get_assignment(session, w.c.outsider, w.lesson.id)
    w.lesson.release_at = utcnow() + timedelta(days=2)
    await session.flush()
    with pytest.raises(LessonLocked):
        await service.get_assignment(session, w.c.student, w.lesson.id)
    with pytest.raises(LessonLocked):
        await submit(session, w.c.student, w.lesson)
    await service.get_assignment(session, w.c.ta, w.lesson.id)  # staff see drip lessons


async def test_draft_course_assignment_is_not_found(session: AsyncSession) -> None:
    w = await world(session, CourseStatus.DRAFT)
    for who in (w.c.student, w.c.outsider):
        with pytest.raises(LessonNotFound):
            await service.get_assignment(session, who, w.lesson.id)


# --- submitting --------------------------------------------------------------------------------


async def test_only_enrolled_students_submit(session: AsyncSession) -> None:
    w = await world(session)
    for who in (w.c.owner, w.c.co, w.c.ta, w.c.admin):
        with pytest.raises(errors.StudentsOnly):
            await submit(session, who, w.lesson)
    with pytest.raises(PermissionDenied) as refused:
        await submit(session, w.c.outsider, w.lesson)
    assert refused.value.code == "enrollment_required"
    recorded = await submit(session, w.c.student, w.lesson)
    # The student is the caller: nothing in the request names another.
    assert recorded.submission.student_id == w.c.student.id
    assert recorded.created


async def test_student_of_another_course_cannot_submit(session: AsyncSession) -> None:
    w = await world(session)
    elsewhere = await make_course(session, w.c.owner.user)
    other = Actor(user=await make_user(session))
    await make_enrollment(session, elsewhere, other.user)
    with pytest.raises(PermissionDenied) as refused:
        await submit(session, other, w.lesson)
    assert refused.value.code == "enrollment_required"


async def test_formats(session: AsyncSession) -> None:
    w = await world(session, submission_format="text")
    with pytest.raises(errors.WrongSubmissionFormat):
        await submit(session, w.c.student, w.lesson, files=(b"%PDF-1.7",))
    with pytest.raises(errors.NothingSubmitted):
        await submit(session, w.c.student, w.lesson, text="   ")
    await configure(session, w.c.owner, w.lesson, submission_format="files", max_files=2)
    with pytest.raises(errors.WrongSubmissionFormat):
        await submit(session, w.c.student, w.lesson, text="words", files=(b"a",))
    with pytest.raises(errors.NothingSubmitted):
        await submit(session, w.c.student, w.lesson, text=None)
    with pytest.raises(errors.TooManyFiles):
        await submit(session, w.c.student, w.lesson, text=None, files=(b"a", b"b", b"c"))
    recorded = await submit(session, w.c.student, w.lesson, text=None, files=(b"a", b"b"))
    assert recorded.submission.text is None


async def test_hard_cutoff_refuses_after_the_due_date(session: AsyncSession) -> None:
    w = await world(session, late_policy="cutoff", due_at=utcnow() + timedelta(hours=1))
    await submit(session, w.c.student, w.lesson)
    await _due(session, w.lesson.id, -timedelta(seconds=1))
    classmate = Actor(user=await make_user(session))
    await make_enrollment(session, w.c.course, classmate.user)
    with pytest.raises(errors.AssignmentClosed) as closed:
        await submit(session, classmate, w.lesson)
    assert closed.value.code == "assignment_closed"
    with pytest.raises(errors.AssignmentClosed):
        await submit(session, w.c.student, w.lesson)
    assert await _mails(session, classmate.user.email) == []


async def test_late_with_penalty_is_accepted_and_marked(session: AsyncSession) -> None:
    w = await world(
        session,
        due_at=utcnow() - timedelta(days=2, hours=1),
        penalty_percent_per_day=15,
        max_penalty_percent=40,
    )
    recorded = await submit(session, w.c.student, w.lesson)
    sub = recorded.submission
    assert (sub.is_late, sub.days_late, sub.penalty_percent) == (True, 3, 40)
    [mail] = await _mails(session, w.c.student.user.email)
    assert "Late by: 3 day(s)" in mail.body_text


async def test_resubmission_until_the_due_date_keeps_history(session: AsyncSession) -> None:
    w = await world(session, due_at=utcnow() + timedelta(days=1))
    first = (await submit(session, w.c.student, w.lesson, text="draft")).submission
    second = (await submit(session, w.c.student, w.lesson, text="final")).submission
    assert (first.version, second.version) == (1, 2)
    await session.refresh(first)
    assert (first.is_latest, second.is_latest) == (False, True)
    versions = await service.my_submissions(session, w.c.student, w.lesson.id)
    assert [(v.version, v.text) for v in versions] == [(2, "final"), (1, "draft")]
    await _due(session, w.lesson.id, -timedelta(minutes=1))
    with pytest.raises(errors.ResubmissionClosed):
        await submit(session, w.c.student, w.lesson, text="too late")


async def test_resubmission_can_be_off(session: AsyncSession) -> None:
    w = await world(session, allow_resubmission=False)
    await submit(session, w.c.student, w.lesson)
    with pytest.raises(errors.ResubmissionClosed):
        await submit(session, w.c.student, w.lesson)


async def test_a_retry_with_the_same_key_makes_one_submission(session: AsyncSession) -> None:
    w = await world(session)
    first = await submit(session, w.c.student, w.lesson, key="retry-1", files=(b"one",))
    again = await submit(session, w.c.student, w.lesson, key="retry-1", files=(b"one",))
    assert first.created
    assert not again.created
    assert again.submission.id == first.submission.id
    other = await submit(session, w.c.student, w.lesson, key="retry-2")
    assert other.created
    assert other.submission.version == 2
    count = len(await service.my_submissions(session, w.c.student, w.lesson.id))
    assert count == 2
    assert len(await _mails(session, w.c.student.user.email)) == 2  # one receipt each


async def test_the_receipt_mail_carries_every_checksum(session: AsyncSession) -> None:
    w = await world(session)
    files = (b"%PDF-1.7 chapter one", b"%PDF-1.7 chapter two")
    recorded = await submit(session, w.c.student, w.lesson, text="Essay text", files=files)
    [out] = await service.render_submissions(session, [recorded.submission])
    receipt = out.receipt
    assert receipt.submission_id == recorded.submission.id
    assert receipt.text_sha256 == hashlib.sha256(b"Essay text").hexdigest()
    assert [f.sha256 for f in receipt.files] == [hashlib.sha256(d).hexdigest() for d in files]
    [mail] = await _mails(session, w.c.student.user.email)
    assert str(receipt.submission_id) in mail.body_text
    assert receipt.text_sha256 in mail.body_text
    for f in receipt.files:
        assert f.sha256 in mail.body_text
    assert "Essay 1" in mail.subject


async def test_reading_submissions(session: AsyncSession) -> None:
    w = await world(session)
    mine = (await submit(session, w.c.student, w.lesson, files=(b"x",))).submission
    classmate = Actor(user=await make_user(session))
    await make_enrollment(session, w.c.course, classmate.user)
    theirs = (await submit(session, classmate, w.lesson)).submission
    assert (await service.get_submission(session, w.c.student, mine.id)).id == mine.id
    # Another's submission reads as absent, exactly like an id that does not exist.
    for who in (w.c.student, w.c.outsider):
        with pytest.raises(errors.SubmissionNotFound):
            await service.get_submission(session, who, theirs.id)
    [file_row] = await service.render_submissions(session, [mine])
    with pytest.raises(errors.SubmissionNotFound):
        await service.submission_file(session, classmate, mine.id, file_row.files[0].id)
    # Staff of this course read everyone's; staff of another course nothing.
    for who in (w.c.ta, w.c.co, w.c.owner, w.c.admin):
        assert (await service.get_submission(session, who, theirs.id)).id == theirs.id
    stranger = Actor(user=await make_user(session, role=Role.INSTRUCTOR))
    await make_course(session, stranger.user)
    with pytest.raises(errors.SubmissionNotFound):
        await service.get_submission(session, stranger, theirs.id)
    with pytest.raises(PermissionDenied):
        await service.latest_submissions(session, stranger, w.lesson.id, cursor=None, limit=10)
    with pytest.raises(PermissionDenied):
        await service.latest_submissions(session, w.c.student, w.lesson.id, cursor=None, limit=10)


async def test_staff_list_latest_per_student_with_a_cursor(session: AsyncSession) -> None:
    w = await world(session)
    students = [w.c.student]
    for _ in range(2):
        user = await make_user(session)
        await make_enrollment(session, w.c.course, user)
        students.append(Actor(user=user))
    for who in students:
        await submit(session, who, w.lesson, text="v1")
    await submit(session, students[0], w.lesson, text="v2")
    seen = []
    cursor = None
    while True:
        rows, cursor = await service.latest_submissions(
            session, w.c.ta, w.lesson.id, cursor=cursor, limit=2
        )
        seen += rows
        if cursor is None:
            break
    assert sorted(r.student_id for r in seen) == sorted(s.id for s in students)
    by_student = {r.student_id: r for r in seen}
    assert by_student[students[0].id].text == "v2"
    assert all(r.is_latest for r in seen)
