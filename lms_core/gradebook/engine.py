"""Loading a course's gradebook and computing it, set-based: a handful of queries for any number
of students (never one query per student), then the arithmetic of ``compute`` in Python.

A *book* is the course-wide part (settings, categories, items in order, the number of ended
live sessions); *cells* are the students' scores, loaded for a page of students, one student, or
everyone, with the same queries filtered by ``student_id``. Applying one grade change costs one
student's load and computation (:func:`student_totals`), about the price of a page.

Lesson items are created lazily here (:func:`sync_lesson_items`): one INSERT ... SELECT of the
quiz and assignment lessons without an item, ``ON CONFLICT (lesson_id) DO NOTHING``, so two
readers racing make one row and a read with nothing missing writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Float,
    String,
    Uuid,
    and_,
    column,
    exists,
    false,
    func,
    literal,
    select,
    table,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.courses.models import Lesson, LessonKind, Module
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.gradebook import compute, schemas
from lms_core.gradebook.models import (
    DEFAULT_LETTER_SCALE,
    GradebookSettings,
    GradeCategory,
    GradeItem,
    GradeItemScore,
    GradeOverride,
    ItemKind,
)
from lms_core.live.models import LiveSession, LiveSessionStatus
from lms_core.live.room_models import LiveAttendanceInterval, LiveParticipant

# The grading domain's table, read by the columns its models promise the gradebook (see
# lms_core/grading/models.py): a light table clause keeps the two domains' code apart.
GRADES = table(
    "grades",
    column("course_id", Uuid),
    column("lesson_id", Uuid),
    column("student_id", Uuid),
    column("status", String),
    column("points", Float),
    column("max_points", Float),
    column("feedback_html", String),
)
RELEASED = "released"
GRADED_KINDS = (LessonKind.QUIZ, LessonKind.ASSIGNMENT)


@dataclass(frozen=True, slots=True)
class Book:
    course_id: uuid.UUID
    items: list[schemas.ItemOut]
    categories: list[schemas.CategoryOut]
    scale: list[tuple[str, float]]
    passing_percent: float | None
    requires_passing_grade: bool
    ended_sessions: int
    by_lesson: dict[uuid.UUID, schemas.ItemOut]
    item_rules: list[compute.ItemRule]
    category_rules: list[compute.CategoryRule]

    @property
    def attendance(self) -> schemas.ItemOut | None:
        return next((i for i in self.items if i.kind is ItemKind.ATTENDANCE), None)


@dataclass(slots=True)
class Cell:
    points: float | None
    max_points: float
    status: str
    overridden: bool = False
    feedback_html: str | None = None

    @property
    def counts(self) -> bool:
        return self.points is not None and (self.overridden or self.status == RELEASED)


@dataclass(slots=True)
class Row:
    student_id: uuid.UUID
    cells: dict[uuid.UUID, Cell] = field(default_factory=dict)
    totals: compute.Totals | None = None
    letter: str | None = None
    passed: bool | None = None


# --- the course-wide part ----------------------------------------------------------------------


async def sync_lesson_items(session: AsyncSession, course_id: uuid.UUID) -> None:
    missing = select(
        func.gen_random_uuid(),
        Lesson.course_id,
        Lesson.kind,
        Lesson.id,
        literal(""),
        literal(100.0),
        false(),
        literal(0),
    ).where(
        Lesson.course_id == course_id,
        Lesson.kind.in_(GRADED_KINDS),
        ~exists().where(GradeItem.lesson_id == Lesson.id),
    )
    stmt = (
        insert(GradeItem)
        .from_select(
            [
                "id",
                "course_id",
                "kind",
                "lesson_id",
                "title",
                "max_points",
                "extra_credit",
                "position",
            ],
            missing,
        )
        .on_conflict_do_nothing(index_elements=["lesson_id"])
    )
    await session.execute(stmt)


def default_scale() -> list[tuple[str, float]]:
    return [(s["letter"], float(s["min_percent"])) for s in DEFAULT_LETTER_SCALE]


async def load_book(session: AsyncSession, course_id: uuid.UUID, *, sync: bool = True) -> Book:
    if sync:
        await sync_lesson_items(session, course_id)
    settings = await session.get(GradebookSettings, course_id)
    categories = list(
        await session.scalars(
            select(GradeCategory)
            .where(GradeCategory.course_id == course_id)
            .order_by(GradeCategory.position, GradeCategory.created_at, GradeCategory.id)
        )
    )
    rows = await session.execute(
        select(GradeItem, Lesson.title, Module.position, Lesson.position)
        .outerjoin(Lesson, Lesson.id == GradeItem.lesson_id)
        .outerjoin(Module, Module.id == Lesson.module_id)
        .where(GradeItem.course_id == course_id)
    )

    def order(r: Any) -> tuple[Any, ...]:
        item: GradeItem = r[0]
        if item.lesson_id is not None:
            return (0, r[2], r[3], item.created_at, item.id)
        return (1, item.position, 0, item.created_at, item.id)

    items = [
        schemas.ItemOut(
            id=r[0].id,
            kind=r[0].kind,
            lesson_id=r[0].lesson_id,
            title=r[1] if r[0].lesson_id is not None else r[0].title,
            category_id=r[0].category_id,
            max_points=r[0].max_points,
            extra_credit=r[0].extra_credit,
            position=n,
        )
        for n, r in enumerate(sorted(rows, key=order))
    ]
    ended = 0
    if any(i.kind is ItemKind.ATTENDANCE for i in items):
        ended = (
            await session.scalar(
                select(func.count()).where(
                    LiveSession.course_id == course_id,
                    LiveSession.status == LiveSessionStatus.ENDED,
                )
            )
            or 0
        )
    scale = (
        [(s["letter"], float(s["min_percent"])) for s in settings.letter_scale]
        if settings is not None
        else default_scale()
    )
    return Book(
        course_id=course_id,
        items=items,
        categories=[
            schemas.CategoryOut(
                id=c.id,
                name=c.name,
                weight_percent=c.weight_percent,
                drop_lowest=c.drop_lowest,
                position=c.position,
            )
            for c in categories
        ],
        scale=scale,
        passing_percent=settings.passing_percent if settings is not None else None,
        requires_passing_grade=settings.requires_passing_grade if settings is not None else False,
        ended_sessions=ended,
        by_lesson={i.lesson_id: i for i in items if i.lesson_id is not None},
        item_rules=[compute.ItemRule(i.id, i.category_id, i.extra_credit) for i in items],
        category_rules=[
            compute.CategoryRule(c.id, c.weight_percent, c.drop_lowest) for c in categories
        ],
    )


# --- students ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Student:
    id: uuid.UUID
    name: str
    email: str


async def students_page(
    session: AsyncSession,
    course_id: uuid.UUID,
    *,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[Student]:
    """Actively enrolled students ordered by (name, id), after the keyset ``after``."""
    stmt = (
        select(User.id, User.name, User.email)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course_id, Enrollment.status == EnrollmentStatus.ACTIVE)
    )
    if after is not None:
        stmt = stmt.where(tuple_(User.name, User.id) > tuple_(literal(after[0]), after[1]))
    rows = await session.execute(stmt.order_by(User.name, User.id).limit(limit))
    return [Student(r.id, r.name, r.email) for r in rows]


async def is_enrolled(session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == course_id,
            Enrollment.user_id == student_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    return found is not None


# --- scores ------------------------------------------------------------------------------------


def _for(col: Any, students: Sequence[uuid.UUID] | None) -> Any:
    if students is None:
        return True
    if len(students) == 1:
        return col == students[0]
    return col.in_(students)


async def load_rows(
    session: AsyncSession,
    book: Book,
    students: Sequence[uuid.UUID] | None,
    *,
    released_only: bool,
    feedback: bool = False,
) -> dict[uuid.UUID, Row]:
    """The cells of ``students`` (None: every student with a score or an enrollment): at most
    four queries whatever their number. ``released_only``: what the student sees (drafts are
    left out, as if not graded)."""
    course_id = book.course_id
    rows: dict[uuid.UUID, Row] = {}
    if students is not None:
        rows = {s: Row(s) for s in students}
        if not students:
            return rows
    else:
        enrolled = await session.scalars(
            select(Enrollment.user_id).where(
                Enrollment.course_id == course_id, Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )
        rows = {s: Row(s) for s in enrolled}

    def row(student: uuid.UUID) -> Row | None:
        return rows.get(student)

    g = GRADES.c
    cols = [g.lesson_id, g.student_id, g.status, g.points, g.max_points]
    if feedback:
        cols.append(g.feedback_html)
    grade_filter = [g.course_id == course_id, _for(g.student_id, students)]
    if released_only:
        grade_filter.append(g.status == RELEASED)
    by_lesson = book.by_lesson
    for r in await session.execute(select(*cols).where(and_(*grade_filter))):
        item = by_lesson.get(r[0])
        target = row(r[1])
        if item is None or target is None:
            continue
        target.cells[item.id] = Cell(
            points=r[3],
            max_points=r[4],
            status=r[2],
            feedback_html=(r[5] if r[2] == RELEASED else None) if feedback else None,
        )
    manual = {i.id for i in book.items if i.kind is ItemKind.MANUAL}
    maxima = {i.id: i.max_points for i in book.items}
    if manual:
        s = GradeItemScore
        for r in await session.execute(
            select(s.item_id, s.student_id, s.points).where(
                s.course_id == course_id, _for(s.student_id, students)
            )
        ):
            target = row(r[1])
            if target is not None and r[0] in manual:
                target.cells[r[0]] = Cell(points=r[2], max_points=maxima[r[0]], status=RELEASED)
    attendance = book.attendance
    if attendance is not None and book.ended_sessions > 0:
        attended = await _attendance(session, course_id, students)
        for target in rows.values():
            share = attended.get(target.student_id, 0) / book.ended_sessions
            target.cells[attendance.id] = Cell(
                points=share * attendance.max_points,
                max_points=attendance.max_points,
                status=RELEASED,
            )
    o = GradeOverride
    for r in await session.execute(
        select(o.item_id, o.student_id, o.points).where(
            o.course_id == course_id, _for(o.student_id, students)
        )
    ):
        target = row(r[1])
        if target is None or r[0] not in maxima:
            continue
        under = target.cells.get(r[0])
        target.cells[r[0]] = Cell(
            points=r[2],
            max_points=under.max_points if under is not None else maxima[r[0]],
            status=RELEASED,
            overridden=True,
            feedback_html=under.feedback_html if under is not None else None,
        )
    for target in rows.values():
        finish(book, target)
    return rows


async def _attendance(
    session: AsyncSession, course_id: uuid.UUID, students: Sequence[uuid.UUID] | None
) -> dict[uuid.UUID, int]:
    """Per student: the course's ended live sessions they were in (any interval)."""
    p = LiveParticipant
    stmt = (
        select(p.user_id, func.count(func.distinct(p.live_session_id)))
        .join(LiveSession, LiveSession.id == p.live_session_id)
        .where(
            LiveSession.course_id == course_id,
            LiveSession.status == LiveSessionStatus.ENDED,
            _for(p.user_id, students),
            exists().where(LiveAttendanceInterval.participant_id == p.id),
        )
        .group_by(p.user_id)
    )
    return {r[0]: int(r[1]) for r in await session.execute(stmt)}


def finish(book: Book, row: Row) -> None:
    """Compute ``row``'s totals, letter and pass from its cells."""
    counted = {
        item_id: compute.Counted(c.points, c.max_points)  # type: ignore[arg-type]
        for item_id, c in row.cells.items()
        if c.counts
    }
    row.totals = compute.totals(book.item_rules, book.category_rules, counted)
    row.letter = compute.letter_for(row.totals.percent, book.scale)
    row.passed = compute.passed(row.totals.percent, book.passing_percent)


async def student_totals(
    session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID, *, sync: bool = True
) -> tuple[Book, Row]:
    """One student's standing as they see it (released grades only)."""
    book = await load_book(session, course_id, sync=sync)
    rows = await load_rows(session, book, [student_id], released_only=True)
    return book, rows[student_id]


async def all_totals(session: AsyncSession, course_id: uuid.UUID) -> tuple[Book, list[Row]]:
    """Everyone's totals at once (the benchmark's full computation)."""
    book = await load_book(session, course_id)
    rows = await load_rows(session, book, None, released_only=False)
    return book, list(rows.values())


def ids(students: Iterable[Student]) -> list[uuid.UUID]:
    return [s.id for s in students]
