"""Gradebook use cases: settings, categories, items, scores, and overrides with their audit (a
student's standing for other domains is in ``standing``; the staff table, its CSV and a
student's own grades in ``reports``). A change that may make a student pass tells
``certificates``, which queues the certificate of one who completed the course.

Who may do what (course roles from ``lms_core.courses.access``):

* **read** the settings, categories, items, the table, its CSV and the audit: the course's staff
  (TAs included);
* **change** the settings, categories and items: its editors (co-instructors, the owner,
  admins);
* **enter** manual scores and **override** any item: its staff (an override needs a reason, and
  every change of one is appended to the audit);
* **my grades**: an actively enrolled student, their own only; drafts never show or count.

The arithmetic is in ``compute``; loading, set-based, in ``engine``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.certificates import service as certificates
from lms_core.clock import utcnow
from lms_core.courses import access
from lms_core.courses.access import CourseRole
from lms_core.courses.models import Lesson
from lms_core.errors import FieldError, PermissionDenied
from lms_core.gradebook import engine, errors, schemas
from lms_core.gradebook.models import (
    DEFAULT_LETTER_SCALE,
    GradebookSettings,
    GradeCategory,
    GradeItem,
    GradeItemScore,
    GradeOverride,
    GradeOverrideLog,
    ItemKind,
)
from lms_core.pagination import decode_time_cursor, encode_time_cursor

# --- access ------------------------------------------------------------------------------------


async def staff_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, *, edit: bool = False
) -> CourseRole:
    _, role = await access.visible_course(session, actor, course_id)
    if edit and not role.can_edit:
        raise PermissionDenied(
            "Only the course's instructors may change it.", code="not_course_editor"
        )
    if not role.is_staff:
        raise PermissionDenied("Only the course's staff may do this.", code="not_course_staff")
    return role


async def _category(
    session: AsyncSession, actor: Actor, category_id: uuid.UUID, *, for_update: bool = False
) -> GradeCategory:
    row = await session.get(GradeCategory, category_id, with_for_update=for_update)
    if row is None:
        raise errors.CategoryNotFound()
    try:
        await staff_course(session, actor, row.course_id, edit=True)
    except access.CourseNotFound:
        raise errors.CategoryNotFound() from None
    return row


async def _item(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, *, edit: bool
) -> GradeItem:
    row = await session.get(GradeItem, item_id)
    if row is None:
        raise errors.ItemNotFound()
    try:
        await staff_course(session, actor, row.course_id, edit=edit)
    except access.CourseNotFound:
        raise errors.ItemNotFound() from None
    return row


async def _enrolled(session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID) -> None:
    if not await engine.is_enrolled(session, course_id, student_id):
        raise errors.StudentNotEnrolled()


# --- settings ----------------------------------------------------------------------------------


def _settings_out(row: GradebookSettings | None) -> schemas.SettingsOut:
    scale = row.letter_scale if row is not None else DEFAULT_LETTER_SCALE
    return schemas.SettingsOut(
        letter_scale=[schemas.LetterOut.model_validate(s) for s in scale],
        passing_percent=row.passing_percent if row is not None else None,
        requires_passing_grade=row.requires_passing_grade if row is not None else False,
    )


async def get_settings(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> schemas.SettingsOut:
    await staff_course(session, actor, course_id)
    return _settings_out(await session.get(GradebookSettings, course_id))


async def set_settings(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.SettingsIn
) -> schemas.SettingsOut:
    await staff_course(session, actor, course_id, edit=True)
    values = {
        "letter_scale": [s.model_dump() for s in data.letter_scale],
        "passing_percent": data.passing_percent,
        "requires_passing_grade": data.requires_passing_grade,
        "updated_at": utcnow(),
    }
    await session.execute(
        insert(GradebookSettings)
        .values(course_id=course_id, **values)
        .on_conflict_do_update(index_elements=["course_id"], set_=values)
    )
    row = await session.get(GradebookSettings, course_id, populate_existing=True)
    await certificates.enqueue_course_recheck(session, course_id)
    return _settings_out(row)


# --- categories --------------------------------------------------------------------------------


def category_out(row: GradeCategory) -> schemas.CategoryOut:
    return schemas.CategoryOut(
        id=row.id,
        name=row.name,
        weight_percent=row.weight_percent,
        drop_lowest=row.drop_lowest,
        position=row.position,
    )


async def list_categories(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> list[schemas.CategoryOut]:
    await staff_course(session, actor, course_id)
    rows = await session.scalars(
        select(GradeCategory)
        .where(GradeCategory.course_id == course_id)
        .order_by(GradeCategory.position, GradeCategory.created_at, GradeCategory.id)
    )
    return [category_out(r) for r in rows]


async def _regular_items(session: AsyncSession, category_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            GradeItem.category_id == category_id, GradeItem.extra_credit.is_(False)
        )
    )
    return int(count or 0)


def _check_drop(drop_lowest: int, items: int) -> None:
    if drop_lowest > items:
        raise errors.DropLowestTooLarge(
            f"This category has {items} regular (not extra credit) items; it cannot drop "
            f"{drop_lowest}.",
            errors=[FieldError(("body", "drop_lowest"), f"at most {items}", "too_large")],
            extra={"items": items},
        )


async def create_category(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.CategoryIn
) -> schemas.CategoryOut:
    await staff_course(session, actor, course_id, edit=True)
    _check_drop(data.drop_lowest, 0)
    position = data.position
    if position is None:
        last = await session.scalar(
            select(func.max(GradeCategory.position)).where(GradeCategory.course_id == course_id)
        )
        position = 0 if last is None else last + 1
    row = GradeCategory(
        course_id=course_id,
        name=data.name,
        weight_percent=data.weight_percent,
        drop_lowest=data.drop_lowest,
        position=position,
    )
    session.add(row)
    await session.flush()
    await certificates.enqueue_course_recheck(session, course_id)
    return category_out(row)


async def update_category(
    session: AsyncSession, actor: Actor, category_id: uuid.UUID, data: schemas.CategoryPatch
) -> schemas.CategoryOut:
    row = await _category(session, actor, category_id, for_update=True)
    if data.drop_lowest is not None:
        _check_drop(data.drop_lowest, await _regular_items(session, row.id))
    for name in ("name", "weight_percent", "drop_lowest", "position"):
        value = getattr(data, name)
        if value is not None:
            setattr(row, name, value)
    await session.flush()
    await certificates.enqueue_course_recheck(session, row.course_id)
    return category_out(row)


async def delete_category(session: AsyncSession, actor: Actor, category_id: uuid.UUID) -> None:
    """Its items stay, without a category."""
    row = await _category(session, actor, category_id)
    await session.delete(row)
    await session.flush()
    await certificates.enqueue_course_recheck(session, row.course_id)


# --- items -------------------------------------------------------------------------------------


async def list_items(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> list[schemas.ItemOut]:
    await staff_course(session, actor, course_id)
    return (await engine.load_book(session, course_id)).items


async def _item_out(session: AsyncSession, row: GradeItem) -> schemas.ItemOut:
    book = await engine.load_book(session, row.course_id, sync=False)
    return next(i for i in book.items if i.id == row.id)


async def _check_category(
    session: AsyncSession, course_id: uuid.UUID, category_id: uuid.UUID | None
) -> None:
    if category_id is None:
        return
    found = await session.scalar(
        select(GradeCategory.id).where(
            GradeCategory.id == category_id, GradeCategory.course_id == course_id
        )
    )
    if found is None:
        raise errors.CategoryNotFound(
            "No such category in this course.",
        )


async def create_item(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.ItemIn
) -> schemas.ItemOut:
    await staff_course(session, actor, course_id, edit=True)
    await _check_category(session, course_id, data.category_id)
    if data.kind is ItemKind.ATTENDANCE:
        taken = await session.scalar(
            select(GradeItem.id).where(
                GradeItem.course_id == course_id, GradeItem.kind == ItemKind.ATTENDANCE
            )
        )
        if taken is not None:
            raise errors.AttendanceItemExists(extra={"item_id": str(taken)})
    last = await session.scalar(
        select(func.max(GradeItem.position)).where(GradeItem.course_id == course_id)
    )
    row = GradeItem(
        course_id=course_id,
        kind=data.kind,
        title=data.title,
        category_id=data.category_id,
        max_points=data.max_points,
        extra_credit=data.extra_credit,
        position=0 if last is None else last + 1,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # a concurrent request made the course's attendance item first
        raise errors.AttendanceItemExists() from None
    await certificates.enqueue_course_recheck(session, course_id)
    return await _item_out(session, row)


async def update_item(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, data: schemas.ItemPatch
) -> schemas.ItemOut:
    row = await _item(session, actor, item_id, edit=True)
    fields = data.model_fields_set
    if row.lesson_id is not None and "title" in fields:
        raise errors.LessonItemFixed("A graded lesson's item has its lesson's title.")
    if "category_id" in fields:
        await _check_category(session, row.course_id, data.category_id)
        row.category_id = data.category_id
    for name in ("title", "max_points", "extra_credit"):
        value = getattr(data, name)
        if name in fields and value is not None:
            setattr(row, name, value)
    await session.flush()
    await certificates.enqueue_course_recheck(session, row.course_id)
    return await _item_out(session, row)


async def delete_item(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> None:
    row = await _item(session, actor, item_id, edit=True)
    if row.lesson_id is not None:
        raise errors.LessonItemFixed()
    await session.delete(row)
    await session.flush()
    await certificates.enqueue_course_recheck(session, row.course_id)


# --- scores and overrides ----------------------------------------------------------------------


async def set_score(
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    student_id: uuid.UUID,
    data: schemas.ScoreIn,
) -> schemas.ScoreOut:
    row = await _item(session, actor, item_id, edit=False)
    if row.kind is not ItemKind.MANUAL:
        raise errors.NotManualItem()
    await _enrolled(session, row.course_id, student_id)
    values = {"points": data.points, "updated_by": actor.id, "updated_at": utcnow()}
    await session.execute(
        insert(GradeItemScore)
        .values(item_id=row.id, student_id=student_id, course_id=row.course_id, **values)
        .on_conflict_do_update(index_elements=["item_id", "student_id"], set_=values)
    )
    await certificates.enqueue_if_eligible(session, row.course_id, student_id)
    return schemas.ScoreOut(item_id=row.id, student_id=student_id, points=data.points)


def _reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise errors.OverrideReasonRequired(
            errors=[FieldError(("body", "reason"), "required", "missing")]
        )
    return reason.strip()


async def _lock_override(session: AsyncSession, item_id: uuid.UUID, student_id: uuid.UUID) -> None:
    name = f"grade-override:{item_id}:{student_id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))


async def _title(session: AsyncSession, row: GradeItem) -> str:
    if row.lesson_id is None:
        return row.title
    return await session.scalar(select(Lesson.title).where(Lesson.id == row.lesson_id)) or ""


async def set_override(
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    student_id: uuid.UUID,
    data: schemas.OverrideIn,
) -> schemas.OverrideOut:
    reason = _reason(data.reason)
    row = await _item(session, actor, item_id, edit=False)
    await _enrolled(session, row.course_id, student_id)
    await _lock_override(session, row.id, student_id)
    current = await session.get(GradeOverride, (row.id, student_id), populate_existing=True)
    old = current.points if current is not None else None
    now = utcnow()
    if current is None:
        current = GradeOverride(item_id=row.id, student_id=student_id, course_id=row.course_id)
        session.add(current)
    current.points, current.reason = data.points, reason
    current.overridden_by, current.updated_at = actor.id, now
    session.add(
        GradeOverrideLog(
            course_id=row.course_id,
            item_id=row.id,
            item_title=await _title(session, row),
            student_id=student_id,
            old_points=old,
            new_points=data.points,
            reason=reason,
            changed_by=actor.id,
            changed_at=now,
        )
    )
    await session.flush()
    await certificates.enqueue_if_eligible(session, row.course_id, student_id)
    return schemas.OverrideOut(
        item_id=row.id,
        student_id=student_id,
        points=current.points,
        reason=current.reason,
        overridden_by=current.overridden_by,
        updated_at=current.updated_at,
    )


async def remove_override(
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    student_id: uuid.UUID,
    data: schemas.OverrideRemoveIn,
) -> None:
    reason = _reason(data.reason)
    row = await _item(session, actor, item_id, edit=False)
    await _lock_override(session, row.id, student_id)
    current = await session.get(GradeOverride, (row.id, student_id), populate_existing=True)
    if current is None:
        raise errors.OverrideNotFound()
    session.add(
        GradeOverrideLog(
            course_id=row.course_id,
            item_id=row.id,
            item_title=await _title(session, row),
            student_id=student_id,
            old_points=current.points,
            new_points=None,
            reason=reason,
            changed_by=actor.id,
            changed_at=utcnow(),
        )
    )
    await session.delete(current)
    await session.flush()
    await certificates.enqueue_if_eligible(session, row.course_id, student_id)


async def audit(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, *, cursor: str | None, limit: int
) -> schemas.AuditPage:
    """Override changes, newest first."""
    await staff_course(session, actor, course_id)
    log = GradeOverrideLog
    stmt = select(log).where(log.course_id == course_id)
    if cursor is not None:
        moment, ident = decode_time_cursor(cursor)
        stmt = stmt.where(tuple_(log.changed_at, log.id) < tuple_(moment, ident))
    rows = list(
        await session.scalars(stmt.order_by(log.changed_at.desc(), log.id.desc()).limit(limit + 1))
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_time_cursor(rows[-1].changed_at, rows[-1].id)
    people = await _people(session, {r.student_id for r in rows} | {r.changed_by for r in rows})
    return schemas.AuditPage(
        items=[
            schemas.AuditEntryOut(
                id=r.id,
                item_id=r.item_id,
                item_title=r.item_title,
                student=people.get(r.student_id) if r.student_id else None,
                old_points=r.old_points,
                new_points=r.new_points,
                reason=r.reason,
                changed_by=people.get(r.changed_by) if r.changed_by else None,
                changed_at=r.changed_at,
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


async def _people(
    session: AsyncSession, user_ids: set[uuid.UUID | None]
) -> dict[uuid.UUID, schemas.PersonOut]:
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name, User.email).where(User.id.in_(wanted)))
    return {r.id: schemas.PersonOut(id=r.id, display_name=r.name, email=r.email) for r in rows}
