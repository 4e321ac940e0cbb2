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
    exists,
    false,
    func,
    literal,
    select,
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
from lms_core.grading.models import Grade
from lms_core.live.models import LiveSession, LiveSessionStatus
from lms_core.live.room_models import LiveAttendanceInterval, LiveParticipant

# Grades are the grading domain's ``grades`` rows (lms_core/grading/models.py), read by the
# columns it promises the gradebook: course_id, lesson_id, student_id, status, points,
# max_points (and feedback_html for the student's own view).
_GRADES = "SELECT lesson_id, student_id, status, points, max_points"
_OF = " FROM grades WHERE course_id = $1 AND student_id = ANY($2::uuid[])"
# (with feedback, for some students) -> everything staff see of a page of students
GRADES_SQL = {
    (False, True): _GRADES + _OF,
    (True, True): _GRADES + ", feedback_html" + _OF,
}
# What counts, for totals alone: released and graded grades, each with its item's place in the
# array of lesson ids ($2, in item order) and the student as text: no join for the planner to
# misjudge, and Python hashes ints and strings (asyncpg's UUIDs hash slowly).
_COUNTED = (
    "SELECT array_position($2::uuid[], g.lesson_id), g.student_id::text, g.points,"
    " g.max_points FROM grades g"
    " WHERE g.course_id = $1 AND g.status = 'released' AND g.points IS NOT NULL"
)
COUNTED_SQL = {False: _COUNTED, True: _COUNTED + " AND g.student_id = ANY($3::uuid[])"}
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
    index_of: dict[uuid.UUID, int]  # item id -> its place in ``items``
    item_rules: list[compute.ItemRule]
    category_rules: list[compute.CategoryRule]

    @property
    def attendance(self) -> schemas.ItemOut | None:
        return next((i for i in self.items if i.kind is ItemKind.ATTENDANCE), None)


class Cell:
    """One student's score on one item, as staff see it; ``counted``: what counts for the
    totals (None for a draft or an ungraded grade)."""

    __slots__ = ("counted", "feedback_html", "max_points", "overridden", "points", "status")

    def __init__(
        self,
        points: float | None,
        max_points: float,
        status: str,
        *,
        overridden: bool = False,
        feedback_html: str | None = None,
    ) -> None:
        self.points = points
        self.max_points = max_points
        self.status = status
        self.overridden = overridden
        self.feedback_html = feedback_html
        counts = points is not None and (overridden or status == RELEASED)
        self.counted = compute.Counted(points, max_points) if counts else None  # type: ignore[arg-type]

    @property
    def counts(self) -> bool:
        return self.counted is not None


@dataclass(slots=True)
class Row:
    student_id: uuid.UUID
    cells: dict[uuid.UUID, Cell] = field(default_factory=dict)
    counted: dict[int, compute.Score] = field(default_factory=dict)  # by item index
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
        index_of={i.id: n for n, i in enumerate(items)},
        item_rules=[
            compute.ItemRule(n, i.category_id, i.extra_credit) for n, i in enumerate(items)
        ],
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
    cells: bool = True,
    feedback: bool = False,
) -> dict[uuid.UUID, Row]:
    """The scores of ``students`` (None: every actively enrolled student) and their totals:
    at most five queries whatever their number. ``row.counted`` holds what counts (drafts never
    do); with ``cells``, ``row.cells`` also holds everything staff see, drafts included (a
    page's worth: the totals alone skip building them); ``feedback``: released grades' too."""
    course_id = book.course_id
    only = students  # the other reads filter by student only for a subset
    if students is None:
        students = list(
            await session.scalars(
                select(Enrollment.user_id).where(
                    Enrollment.course_id == course_id,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                )
            )
        )
    order = [Row(s) for s in students]
    rows = {r.student_id: r for r in order}
    if not order:
        return rows
    index_of = book.index_of
    if not cells:
        # The one big read (students x items rows) goes straight to the driver: SQLAlchemy's
        # per-row result processing cost more than the query itself at 200,000 rows.
        lessons = [i.lesson_id for i in book.items]
        by_text = {str(r.student_id): r for r in order}
        args: list[Any] = [course_id, lessons] + ([] if only is None else [list(only)])
        for r in await _fetch(session, COUNTED_SQL[only is not None], *args):
            target = by_text.get(r[1])
            if target is not None and r[0] is not None:
                target.counted[r[0] - 1] = (r[2], r[3])
    else:
        item_of = {lesson: index_of[item.id] for lesson, item in book.by_lesson.items()}
        ids_of = [i.id for i in book.items]
        for r in await _fetch(session, GRADES_SQL[feedback, True], course_id, list(students)):
            n = item_of.get(r[0])
            target = rows.get(r[1])
            if n is None or target is None:
                continue
            status = r[2]
            cell = Cell(
                r[3],
                r[4],
                status,
                feedback_html=(r[5] if status == RELEASED else None) if feedback else None,
            )
            target.cells[ids_of[n]] = cell
            if cell.counted is not None:
                target.counted[n] = cell.counted

    def put(target: Row, item_id: uuid.UUID, cell: Cell) -> None:
        if cell.counted is not None:
            target.counted[index_of[item_id]] = cell.counted
        if cells:
            target.cells[item_id] = cell

    manual = {i.id: i.max_points for i in book.items if i.kind is ItemKind.MANUAL}
    if manual:
        sc = GradeItemScore
        for r in await session.execute(
            select(sc.item_id, sc.student_id, sc.points).where(
                sc.course_id == course_id, _for(sc.student_id, only)
            )
        ):
            target = rows.get(r[1])
            if target is not None and r[0] in manual:
                put(target, r[0], Cell(r[2], manual[r[0]], RELEASED))
    attendance = book.attendance
    if attendance is not None and book.ended_sessions > 0:
        attended = await _attendance(session, course_id, only)
        for target in rows.values():
            share = attended.get(target.student_id, 0) / book.ended_sessions
            put(
                target,
                attendance.id,
                Cell(share * attendance.max_points, attendance.max_points, RELEASED),
            )
    # An override is out of its grade's max_points (a draft's too), else the item's.
    o, i = GradeOverride, GradeItem
    grade_max = (
        select(Grade.max_points)
        .where(Grade.lesson_id == i.lesson_id, Grade.student_id == o.student_id)
        .scalar_subquery()
    )
    for r in await session.execute(
        select(o.item_id, o.student_id, o.points, func.coalesce(grade_max, i.max_points))
        .join(i, i.id == o.item_id)
        .where(o.course_id == course_id, _for(o.student_id, only))
    ):
        target = rows.get(r[1])
        if target is None:
            continue
        under = target.cells.get(r[0])
        put(
            target,
            r[0],
            Cell(
                r[2],
                r[3],
                RELEASED,
                overridden=True,
                feedback_html=under.feedback_html if under is not None else None,
            ),
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
    row.totals = compute.totals(book.item_rules, book.category_rules, row.counted)
    row.letter = compute.letter_for(row.totals.percent, book.scale)
    row.passed = compute.passed(row.totals.percent, book.passing_percent)


async def student_totals(
    session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID, *, sync: bool = True
) -> tuple[Book, Row]:
    """One student's standing as they see it (released grades only)."""
    book = await load_book(session, course_id, sync=sync)
    rows = await load_rows(session, book, [student_id], cells=False)
    return book, rows[student_id]


async def all_totals(session: AsyncSession, course_id: uuid.UUID) -> tuple[Book, list[Row]]:
    """Everyone's totals at once (the benchmark's full computation)."""
    book = await load_book(session, course_id)
    rows = await load_rows(session, book, None, cells=False)
    return book, list(rows.values())


async def _fetch(session: AsyncSession, sql: str, *args: Any) -> list[Any]:
    """Rows of ``sql`` ($n parameters) from asyncpg itself, in the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows: list[Any] = await driver.fetch(sql, *args)
    return rows


def ids(students: Iterable[Student]) -> list[uuid.UUID]:
    return [s.id for s in students]
