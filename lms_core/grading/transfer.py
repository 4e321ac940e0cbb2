"""The grading queue, every latest submission as one zip, and grades in and out as CSV.

The queue lists the students with something to grade (a submission, a submitted attempt, or a
grade): ungraded first (oldest work first; a resubmission after grading, or a quiz attempt
waiting for essay grading, counts as ungraded), then drafts, then released grades. Its cursor is a
key of that order, so pages neither repeat nor skip a student while grading goes on.

The zip is planned here (which stored object or text goes under which name) and written by the
transport while it streams (``server/api/grading.py``), after the request's transaction ended.

A CSV upload (``email,points,feedback``) is all-or-nothing: every line is checked first and
any error refuses the whole file with the list of errors by line; only then are the changes
applied, each like a staff ``PUT`` of that grade (a revision each).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.assignments.errors import LessonNotAssignment
from lms_core.assignments.models import Submission, SubmissionFile
from lms_core.courses.models import Lesson, LessonKind
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.grading import errors, schemas, service
from lms_core.grading.access import lesson_as_staff
from lms_core.grading.models import Grade, GradeStatus
from lms_core.mail.service import Mailer
from lms_core.pagination import invalid_cursor
from lms_core.quizzes.models import AttemptStatus, Quiz, QuizAttempt
from lms_core.spreadsheet import defuse, undefuse
from lms_core.storage.filenames import sanitize_filename

BUCKETS = {"ungraded": 0, "draft": 1, "released": 2}
_FAR = datetime.max.replace(tzinfo=UTC)


# --- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Work:
    submission_id: uuid.UUID | None
    attempt_id: uuid.UUID | None
    submitted_at: datetime | None
    late: bool
    waiting: bool = False  # a quiz attempt with essays nobody has graded yet


async def _work(
    session: AsyncSession, lesson: Lesson, grades: dict[uuid.UUID, Grade]
) -> dict[uuid.UUID, Work]:
    """Per student: the latest submission, or the quiz attempt their grade stands on (without
    a grade: the earliest one waiting for a person, else the latest submitted)."""
    out: dict[uuid.UUID, Work] = {}
    if lesson.kind is LessonKind.ASSIGNMENT:
        for sub in await session.scalars(
            select(Submission).where(
                Submission.lesson_id == lesson.id, Submission.is_latest.is_(True)
            )
        ):
            out[sub.student_id] = Work(sub.id, None, sub.submitted_at, sub.is_late)
        return out
    quiz_id = await session.scalar(select(Quiz.id).where(Quiz.lesson_id == lesson.id))
    if quiz_id is None:
        return out
    rows = await session.execute(
        select(
            QuizAttempt.user_id, QuizAttempt.id, QuizAttempt.submitted_at, QuizAttempt.needs_manual
        )
        .where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.status == AttemptStatus.SUBMITTED)
        .order_by(QuizAttempt.number)
    )
    by_user: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    for user_id, attempts in by_user.items():
        grade = grades.get(user_id)
        chosen = next((a for a in attempts if grade and a.id == grade.attempt_id), None)
        if chosen is None:
            chosen = next((a for a in attempts if a.needs_manual), attempts[-1])
        out[user_id] = Work(None, chosen.id, chosen.submitted_at, False, bool(chosen.needs_manual))
    return out


def _bucket(grade: Grade | None, waiting: bool) -> str:
    if grade is None or grade.points is None or waiting:
        return "ungraded"
    return grade.status.value


def _key(bucket: str, submitted_at: datetime | None, student_id: uuid.UUID) -> tuple[Any, ...]:
    return (BUCKETS[bucket], submitted_at or _FAR, str(student_id))


def _encode(key: tuple[Any, ...]) -> str:
    bucket, moment, ident = key
    raw = f"{bucket}|{moment.isoformat()}|{ident}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str) -> tuple[Any, ...]:
    try:
        bucket, moment, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        when = datetime.fromisoformat(moment)
        if when.tzinfo is None or int(bucket) not in BUCKETS.values():
            raise ValueError("not a cursor")
        return (int(bucket), when.astimezone(UTC), str(uuid.UUID(ident)))
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None


async def queue(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> schemas.QueuePage:
    found = await lesson_as_staff(session, actor, lesson_id)
    after = _decode(cursor) if cursor is not None else None
    grades = {
        g.student_id: g
        for g in await session.scalars(select(Grade).where(Grade.lesson_id == lesson_id))
    }
    work = await _work(session, found.lesson, grades)
    ids = set(work) | set(grades)
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(ids)))}
    rows: list[tuple[tuple[Any, ...], schemas.QueueItem]] = []
    for student_id in ids:
        user = users.get(student_id)
        if user is None:
            continue
        grade = grades.get(student_id)
        done = work.get(student_id, Work(None, None, None, False))
        # Work handed in after it was graded (a resubmission) is to grade again.
        resubmitted = (
            grade is not None
            and done.submission_id is not None
            and grade.submission_id != done.submission_id
        )
        bucket = _bucket(grade, done.waiting or resubmitted)
        if status is not None and bucket != status:
            continue
        item = schemas.QueueItem(
            student=schemas.StudentOut(id=user.id, display_name=user.name, email=user.email),
            submission_id=done.submission_id,
            attempt_id=done.attempt_id,
            submitted_at=done.submitted_at,
            late=done.late,
            grade=None
            if grade is None
            else schemas.QueueGradeOut(
                id=grade.id,
                status=grade.status,
                points=grade.points,
                max_points=grade.max_points,
                version=grade.version,
            ),
        )
        rows.append((_key(bucket, done.submitted_at, student_id), item))
    rows.sort(key=lambda r: r[0])
    if after is not None:
        rows = [r for r in rows if r[0] > after]
    page = rows[:limit]
    next_cursor = _encode(page[-1][0]) if len(rows) > limit else None
    return schemas.QueuePage(items=[item for _, item in page], next_cursor=next_cursor)


# --- the zip of submissions --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZipEntry:
    name: str
    key: str | None = None  # a stored object's key, or
    text: str | None = None  # the submission's text


def _folder(email: str) -> str:
    return email.replace("/", "_").replace("\\", "_").strip(". ") or "student"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        taken.add(name)
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 2
    while True:
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        n += 1


async def submissions_zip(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, list[ZipEntry]]:
    """What goes into the zip: every student's latest submission, under their email."""
    found = await lesson_as_staff(session, actor, lesson_id)
    if found.lesson.kind is not LessonKind.ASSIGNMENT:
        raise LessonNotAssignment()
    rows = (
        await session.execute(
            select(Submission, User.email)
            .join(User, User.id == Submission.student_id)
            .where(Submission.lesson_id == lesson_id, Submission.is_latest.is_(True))
            .order_by(User.email)
        )
    ).all()
    files: dict[uuid.UUID, list[SubmissionFile]] = {}
    if rows:
        for f in await session.scalars(
            select(SubmissionFile)
            .where(SubmissionFile.submission_id.in_([s.id for s, _ in rows]))
            .order_by(SubmissionFile.position)
        ):
            files.setdefault(f.submission_id, []).append(f)
    entries: list[ZipEntry] = []
    for submission, email in rows:
        folder = _folder(email)
        taken: set[str] = set()
        if submission.text is not None:
            entries.append(
                ZipEntry(f"{folder}/{_unique('submission.txt', taken)}", text=submission.text)
            )
        for f in files.get(submission.id, []):
            name = _unique(sanitize_filename(f.filename), taken)
            entries.append(ZipEntry(f"{folder}/{name}", key=f.storage_key))
    return found.lesson, entries


# --- CSV ---------------------------------------------------------------------------------------

HEADER = ("email", "points", "feedback")
MAX_CSV_ROWS = 10_000


async def _roster(session: AsyncSession, course_id: uuid.UUID) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(
                Enrollment.course_id == course_id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
            .order_by(User.email)
        )
    )


async def export_csv(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> str:
    found = await lesson_as_staff(session, actor, lesson_id)
    grades = {
        g.student_id: g
        for g in await session.scalars(select(Grade).where(Grade.lesson_id == lesson_id))
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*HEADER, "status"])
    for user in await _roster(session, found.lesson.course_id):
        grade = grades.get(user.id)
        points = "" if grade is None or grade.raw_points is None else f"{grade.raw_points:g}"
        writer.writerow(
            [
                defuse(user.email),
                points,
                defuse(grade.feedback_source if grade is not None else ""),
                grade.status.value if grade is not None else "",
            ]
        )
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class CsvLine:
    line: int
    user: User
    points: float | None
    feedback: str | None


def _error(line: int, code: str, detail: str) -> dict[str, Any]:
    return {"line": line, "code": code, "detail": detail}


async def _max_points(session: AsyncSession, lesson: Lesson, grade: Grade | None) -> float | None:
    if lesson.kind is LessonKind.ASSIGNMENT:
        return await service.points_possible(session, lesson)
    return grade.max_points if grade is not None else None


async def _check_lines(
    session: AsyncSession, lesson: Lesson, text: str
) -> tuple[list[CsvLine], list[dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    problems: list[dict[str, Any]] = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        return [], [_error(1, "malformed_csv", str(exc))]
    if header[:3] != list(HEADER) or header[3:] not in ([], ["status"]):
        return [], [_error(1, "invalid_header", "The first line must be: email,points,feedback")]
    roster = {u.email.casefold(): u for u in await _roster(session, lesson.course_id)}
    grades = {
        g.student_id: g
        for g in await session.scalars(select(Grade).where(Grade.lesson_id == lesson.id))
    }
    seen: dict[str, int] = {}
    lines: list[CsvLine] = []
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(lines) + len(problems) >= MAX_CSV_ROWS:
                problems.append(_error(number, "too_many_rows", f"At most {MAX_CSV_ROWS} rows."))
                break
            if len(row) < 2 or len(row) > len(header):
                problems.append(_error(number, "wrong_column_count", f"Expected {len(header)}."))
                continue
            email = undefuse(row[0].strip())
            raw_points = row[1].strip()
            feedback = undefuse(row[2]) if len(row) > 2 and row[2].strip() else None
            user = roster.get(email.casefold())
            if user is None:
                problems.append(
                    _error(number, "unknown_student", f"{email!r} is not a student of the course.")
                )
                continue
            if email.casefold() in seen:
                problems.append(
                    _error(
                        number,
                        "duplicate_student",
                        f"{email!r} is also on line {seen[email.casefold()]}.",
                    )
                )
                continue
            seen[email.casefold()] = number
            points: float | None = None
            if raw_points:
                try:
                    points = float(raw_points)
                except ValueError:
                    points = None
                if points is None or not math.isfinite(points):
                    problems.append(
                        _error(number, "invalid_points", f"{raw_points!r} is not a number.")
                    )
                    continue
                grade = grades.get(user.id)
                top = await _max_points(session, lesson, grade)
                if top is None:
                    problems.append(
                        _error(number, "nothing_to_grade", "This student has no attempt to grade.")
                    )
                    continue
                if points < 0 or points > top:
                    problems.append(
                        _error(number, "points_out_of_range", f"Points must be within 0..{top:g}.")
                    )
                    continue
            grade = grades.get(user.id)
            if points is None and feedback is None:
                continue  # nothing to change (an export's ungraded row)
            if grade is not None and _unchanged(grade, points, feedback):
                continue
            if grade is not None and grade.status is GradeStatus.RELEASED:
                problems.append(
                    _error(
                        number,
                        "grade_released",
                        "This grade is released: change it on its own, with a reason.",
                    )
                )
                continue
            lines.append(CsvLine(number, user, points, feedback))
    except csv.Error as exc:
        problems.append(_error(reader.line_num, "malformed_csv", str(exc)))
    return lines, problems


def _unchanged(grade: Grade, points: float | None, feedback: str | None) -> bool:
    same_points = points is None or grade.raw_points == points
    same_feedback = feedback is None or grade.feedback_source == feedback
    return same_points and same_feedback


async def import_csv(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    text: str,
    *,
    mailer: Mailer,
) -> int:
    found = await lesson_as_staff(session, actor, lesson_id)
    lines, problems = await _check_lines(session, found.lesson, text)
    if problems:
        raise errors.InvalidGradesCsv(extra={"errors": problems})
    for line in lines:
        change = service.Change(points=line.points, feedback=line.feedback)
        await service.apply_change(session, actor, found.lesson, line.user, change, mailer=mailer)
    return len(lines)
