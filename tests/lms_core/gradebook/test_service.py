"""The gradebook at the service layer: a course with weighted categories, drop lowest, extra
credit, attendance from live sessions and overrides, checked against hand-computed numbers;
drafts never count for the student; overrides win and are audited (append-only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.models import Course, LessonKind
from lms_core.gradebook import errors, reports, schemas, service
from lms_core.gradebook.models import GradeItem, GradeOverrideLog, ItemKind
from lms_core.gradebook.standing import Standing, course_standing
from lms_core.grading.models import Grade, GradeStatus
from lms_core.live.models import LiveRole, LiveSession, LiveSessionStatus
from lms_core.live.room_models import LiveAttendanceInterval, LiveParticipant, LiveRoom
from server.state import Database
from tests.factories import make_course, make_enrollment, make_lesson, make_module, make_user


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


@dataclass
class Book:
    course: Course
    owner: Actor
    student: User
    other: User
    lessons: dict[str, uuid.UUID] = field(default_factory=dict)
    items: dict[str, uuid.UUID] = field(default_factory=dict)
    categories: dict[str, uuid.UUID] = field(default_factory=dict)


async def grade(
    session: AsyncSession,
    b: Book,
    lesson: str,
    student: User,
    points: float | None,
    max_points: float,
    status: GradeStatus = GradeStatus.RELEASED,
    feedback: str = "",
) -> None:
    session.add(
        Grade(
            lesson_id=b.lessons[lesson],
            course_id=b.course.id,
            student_id=student.id,
            status=status,
            points=points,
            max_points=max_points,
            feedback_html=feedback,
        )
    )
    await session.flush()


async def live_sessions(
    session: AsyncSession, b: Book, attended: dict[User, int], total: int
) -> None:
    """``total`` ended sessions (plus one scheduled, which does not count); each user in
    ``attended`` was in the first n of them."""
    start = utcnow() - timedelta(days=10)
    for n in range(total + 1):
        live = LiveSession(
            course_id=b.course.id,
            title=f"Class {n}",
            scheduled_start=start + timedelta(days=n),
            duration_minutes=60,
            status=LiveSessionStatus.ENDED if n < total else LiveSessionStatus.SCHEDULED,
        )
        session.add(live)
        await session.flush()
        session.add(LiveRoom(live_session_id=live.id))
        await session.flush()
        for user, count in attended.items():
            if n < count:
                p = LiveParticipant(
                    live_session_id=live.id, user_id=user.id, role=LiveRole.ATTENDEE
                )
                session.add(p)
                await session.flush()
                joined = start + timedelta(days=n)
                # Two intervals (a reconnect) still make one session attended.
                session.add(
                    LiveAttendanceInterval(
                        participant_id=p.id,
                        joined_at=joined,
                        left_at=joined + timedelta(minutes=20),
                    )
                )
                session.add(
                    LiveAttendanceInterval(
                        participant_id=p.id,
                        joined_at=joined + timedelta(minutes=25),
                        left_at=joined + timedelta(minutes=50),
                    )
                )
    await session.flush()


async def build(session: AsyncSession) -> Book:
    owner = await make_user(session, role=Role.INSTRUCTOR)
    course = await make_course(session, owner)
    student = await make_user(session, name="Ada")
    other = await make_user(session, name="Bob")
    for u in (student, other):
        await make_enrollment(session, course, u)
    b = Book(course, Actor(user=owner), student, other)
    module = await make_module(session, course)
    for n, (name, kind) in enumerate(
        [
            ("q1", LessonKind.QUIZ),
            ("q2", LessonKind.QUIZ),
            ("q3", LessonKind.QUIZ),
            ("a1", LessonKind.ASSIGNMENT),
            ("a2", LessonKind.ASSIGNMENT),
            ("text", LessonKind.TEXT),
        ]
    ):
        b.lessons[name] = (await make_lesson(session, module, position=n, kind=kind, title=name)).id
    return b


async def setup_weighted(session: AsyncSession) -> Book:
    """Quizzes 30 % (drop 1), assignments 50 % (+ a bonus), attendance 20 %."""
    b = await build(session)
    items = await service.list_items(session, b.owner, b.course.id)
    assert [i.title for i in items] == ["q1", "q2", "q3", "a1", "a2"]  # lessons, in order
    b.items = {i.title: i.id for i in items}
    for name, weight in (("Quizzes", 30), ("Assignments", 50), ("Attendance", 20)):
        made = await service.create_category(
            session, b.owner, b.course.id, schemas.CategoryIn(name=name, weight_percent=weight)
        )
        b.categories[name] = made.id
    for name, cat in (
        ("q1", "Quizzes"),
        ("q2", "Quizzes"),
        ("q3", "Quizzes"),
        ("a1", "Assignments"),
        ("a2", "Assignments"),
    ):
        await service.update_item(
            session, b.owner, b.items[name], schemas.ItemPatch(category_id=b.categories[cat])
        )
    await service.update_category(
        session, b.owner, b.categories["Quizzes"], schemas.CategoryPatch(drop_lowest=1)
    )
    bonus = await service.create_item(
        session,
        b.owner,
        b.course.id,
        schemas.ItemIn(
            title="Bonus", max_points=10, extra_credit=True, category_id=b.categories["Assignments"]
        ),
    )
    attendance = await service.create_item(
        session,
        b.owner,
        b.course.id,
        schemas.ItemIn(
            title="Attendance",
            kind=ItemKind.ATTENDANCE,
            max_points=100,
            category_id=b.categories["Attendance"],
        ),
    )
    b.items["bonus"], b.items["attendance"] = bonus.id, attendance.id
    await grade(session, b, "q1", b.student, 10, 10)
    await grade(session, b, "q2", b.student, 4, 10, feedback="<p>Revise chapter 2</p>")
    await grade(session, b, "q3", b.student, 7, 10)
    await grade(session, b, "a1", b.student, 80, 100)
    await grade(
        session, b, "a2", b.student, 90, 100, status=GradeStatus.DRAFT, feedback="draft note"
    )
    await service.set_score(session, b.owner, bonus.id, b.student.id, schemas.ScoreIn(points=5))
    await live_sessions(session, b, {b.student: 3, b.other: 1}, total=4)
    await service.set_settings(
        session,
        b.owner,
        b.course.id,
        schemas.SettingsIn.model_validate(
            {
                "letter_scale": [
                    {"letter": "A", "min_percent": 90},
                    {"letter": "B", "min_percent": 80},
                    {"letter": "F", "min_percent": 0},
                ],
                "passing_percent": 60,
            }
        ),
    )
    return b


async def test_weighted_total_by_hand(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    # Quizzes: 10, 4, 7 of 10, drop the 4: 17/20 = 85 %. Assignments: 80/100 + 5 bonus (the
    # draft 90 does not count) = 85 %. Attendance: 3 of 4 ended sessions = 75 %.
    # 0.3*85 + 0.5*85 + 0.2*75 = 83.0 -> B, passed (60).
    standing = await course_standing(session, b.course.id, b.student.id)
    assert standing == Standing(83.0, "B", True, False)
    mine = await reports.my_grades(session, Actor(user=b.student), b.course.id)
    assert (mine.percent, mine.letter, mine.passed) == (83.0, "B", True)
    assert {c.name: c.percent for c in mine.categories} == {
        "Quizzes": 85.0,
        "Assignments": 85.0,
        "Attendance": 75.0,
    }
    by_title = {i.item.title: i for i in mine.items}
    assert (by_title["q2"].points, by_title["q2"].feedback_html) == (4, "<p>Revise chapter 2</p>")
    # The draft is invisible: no points, no status, no feedback.
    assert (by_title["a2"].points, by_title["a2"].status, by_title["a2"].feedback_html) == (
        None,
        None,
        None,
    )
    assert by_title["attendance".title()].points == 75.0
    assert by_title["Bonus"].points == 5
    # The other student: attended 1 of 4 (25 %) and nothing else graded: the running total
    # is attendance alone.
    other = await course_standing(session, b.course.id, b.other.id)
    assert other == Standing(25.0, "F", False, False)


async def test_drafts_count_once_released(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    await session.execute(
        update(Grade).where(Grade.lesson_id == b.lessons["a2"]).values(status=GradeStatus.RELEASED)
    )
    # Assignments: (80 + 90 + 5) / 200 = 87.5 %: 0.3*85 + 0.5*87.5 + 0.2*75 = 84.25
    standing = await course_standing(session, b.course.id, b.student.id)
    assert standing.percent == 84.25
    # Staff see the same totals; the table also shows drafts as drafts.
    page = await reports.gradebook_page(session, b.owner, b.course.id, cursor=None, limit=50)
    ada = next(s for s in page.students if s.student.id == b.student.id)
    assert ada.percent == 84.25


async def test_staff_table_shows_drafts_but_does_not_count_them(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    page = await reports.gradebook_page(session, b.owner, b.course.id, cursor=None, limit=1)
    assert [s.student.display_name for s in page.students] == ["Ada"]
    assert page.next_cursor is not None
    ada = page.students[0]
    draft = ada.scores[b.items["a2"]]
    assert draft is not None
    assert (draft.points, draft.status) == (90, "draft")
    assert (ada.percent, ada.letter) == (83.0, "B")
    assert ada.categories[b.categories["Quizzes"]] == 85.0
    rest = await reports.gradebook_page(
        session, b.owner, b.course.id, cursor=page.next_cursor, limit=1
    )
    assert [s.student.display_name for s in rest.students] == ["Bob"]
    assert rest.next_cursor is None
    assert rest.students[0].scores[b.items["q1"]] is None


async def test_override_wins_and_is_audited(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    with pytest.raises(errors.OverrideReasonRequired):
        await service.set_override(
            session,
            b.owner,
            b.items["q2"],
            b.student.id,
            schemas.OverrideIn(points=10, reason="  "),
        )
    await service.set_override(
        session,
        b.owner,
        b.items["q2"],
        b.student.id,
        schemas.OverrideIn(points=10, reason="regraded on appeal"),
    )
    # Quizzes 10, 10, 7: drop the 7 -> 100 %: 30 + 42.5 + 15 = 87.5
    assert (await course_standing(session, b.course.id, b.student.id)).percent == 87.5
    # An override on an ungraded (draft) item counts too: a2 at 100/100 -> (80+100+5)/200.
    await service.set_override(
        session,
        b.owner,
        b.items["a2"],
        b.student.id,
        schemas.OverrideIn(points=100, reason="oral exam"),
    )
    assert (
        await course_standing(session, b.course.id, b.student.id)
    ).percent == 30 + 0.5 * 92.5 + 15
    await service.set_override(
        session, b.owner, b.items["q2"], b.student.id, schemas.OverrideIn(points=8, reason="typo")
    )
    await service.remove_override(
        session,
        b.owner,
        b.items["q2"],
        b.student.id,
        schemas.OverrideRemoveIn(reason="back to the grade"),
    )
    with pytest.raises(errors.OverrideNotFound):
        await service.remove_override(
            session, b.owner, b.items["q2"], b.student.id, schemas.OverrideRemoveIn(reason="again")
        )
    log = await service.audit(session, b.owner, b.course.id, cursor=None, limit=2)
    assert [(e.item_title, e.old_points, e.new_points, e.reason) for e in log.items] == [
        ("q2", 8, None, "back to the grade"),
        ("q2", 10, 8, "typo"),
    ]
    first = log.items[0]
    assert first.changed_by is not None
    assert first.changed_by.id == b.owner.id
    assert first.student is not None
    assert first.student.id == b.student.id
    rest = await service.audit(session, b.owner, b.course.id, cursor=log.next_cursor, limit=10)
    assert [(e.old_points, e.new_points) for e in rest.items] == [(None, 100), (None, 10)]
    assert rest.next_cursor is None


async def test_override_log_is_append_only(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    await service.set_override(
        session, b.owner, b.items["q1"], b.student.id, schemas.OverrideIn(points=1, reason="r")
    )
    for stmt in (update(GradeOverrideLog).values(reason="rewritten"), delete(GradeOverrideLog)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(stmt.where(GradeOverrideLog.course_id == b.course.id))
    # Deleting the item (a cascade) keeps the entry, without its item.
    await service.delete_item(session, b.owner, b.items["bonus"])
    await session.execute(delete(GradeItem).where(GradeItem.id == b.items["q1"]))
    row = await session.scalar(
        select(GradeOverrideLog).where(GradeOverrideLog.course_id == b.course.id)
    )
    assert row is not None
    await session.refresh(row)
    assert (row.item_id, row.item_title) == (None, "q1")


async def test_items_sync_once_and_follow_lessons(session: AsyncSession) -> None:
    b = await build(session)
    first = await service.list_items(session, b.owner, b.course.id)
    again = await service.list_items(session, b.owner, b.course.id)
    assert [i.id for i in first] == [i.id for i in again]
    assert {i.kind for i in first} == {ItemKind.QUIZ, ItemKind.ASSIGNMENT}
    count = await session.scalar(
        text("SELECT count(*) FROM grade_items WHERE course_id = :c"), {"c": b.course.id}
    )
    assert count == 5
    with pytest.raises(errors.LessonItemFixed):
        await service.delete_item(session, b.owner, first[0].id)
    with pytest.raises(errors.LessonItemFixed):
        await service.update_item(session, b.owner, first[0].id, schemas.ItemPatch(title="x"))


async def test_without_categories_points_count(session: AsyncSession) -> None:
    b = await build(session)
    await grade(session, b, "q1", b.student, 6, 10)
    await grade(session, b, "a1", b.student, 70, 100)
    await grade(session, b, "a2", b.student, None, 100)  # released without points: not graded
    standing = await course_standing(session, b.course.id, b.student.id)
    assert standing == Standing(round(76 / 110 * 100, 2), "D", None, False)
    assert (await course_standing(session, b.course.id, b.other.id)).percent is None


async def test_bad_input(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    with pytest.raises(errors.DropLowestTooLarge):  # quizzes has 3 regular items
        await service.update_category(
            session, b.owner, b.categories["Quizzes"], schemas.CategoryPatch(drop_lowest=4)
        )
    with pytest.raises(errors.DropLowestTooLarge):
        await service.create_category(
            session,
            b.owner,
            b.course.id,
            schemas.CategoryIn(name="Labs", weight_percent=10, drop_lowest=1),
        )
    with pytest.raises(errors.NotManualItem):
        await service.set_score(
            session, b.owner, b.items["q1"], b.student.id, schemas.ScoreIn(points=1)
        )
    outsider = await make_user(session)
    with pytest.raises(errors.StudentNotEnrolled):
        await service.set_score(
            session, b.owner, b.items["bonus"], outsider.id, schemas.ScoreIn(points=1)
        )
    with pytest.raises(errors.AttendanceItemExists):
        await service.create_item(
            session, b.owner, b.course.id, schemas.ItemIn(title="Again", kind=ItemKind.ATTENDANCE)
        )
    other_course = await make_course(session, b.owner.user)
    with pytest.raises(errors.CategoryNotFound):
        await service.create_item(
            session,
            b.owner,
            other_course.id,
            schemas.ItemIn(title="X", category_id=b.categories["Quizzes"]),
        )
    with pytest.raises(errors.StudentsOnly):
        await reports.my_grades(session, b.owner, b.course.id)


async def test_an_override_on_a_draft_is_out_of_the_drafts_max(session: AsyncSession) -> None:
    b = await setup_weighted(session)
    await grade(session, b, "q1", b.other, 3, 10, status=GradeStatus.DRAFT)
    await service.set_override(
        session, b.owner, b.items["q1"], b.other.id, schemas.OverrideIn(points=5, reason="oral")
    )
    # Bob: quizzes 5/10 (not 5/100, the item's default) = 50 %, attendance 25 %:
    # (0.3*50 + 0.2*25) / 0.5 = 40.0
    assert (await course_standing(session, b.course.id, b.other.id)).percent == 40.0
    page = await reports.gradebook_page(session, b.owner, b.course.id, cursor=None, limit=50)
    bob = next(s for s in page.students if s.student.id == b.other.id)
    cell = bob.scores[b.items["q1"]]
    assert cell is not None
    assert (cell.points, cell.max_points, cell.overridden) == (5, 10, True)
    assert bob.percent == 40.0
