"""Course use cases: categories, courses and their lifecycle, staff, prerequisites.

Rules of who may do what come from ``access``: editors (co-instructors, the owner, admins)
change settings and content and publish; the owner and admins manage staff, archive and delete;
only admins unpublish. Publishing needs at least one lesson, so students never enrol into an
empty shell.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, exists, literal, select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.admin import require_admin
from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses import access, schemas
from lms_core.courses.access import CourseRole
from lms_core.courses.errors import (
    CategoryNotFound,
    CategoryTaken,
    CourseEmpty,
    CourseNotDeletable,
    InvalidTransition,
    NotCourseManager,
    PrerequisiteCycle,
    SlugTaken,
    StaffUserNotFound,
)
from lms_core.courses.models import (
    Category,
    Course,
    CoursePrerequisite,
    CourseStaff,
    CourseStatus,
    Lesson,
    StaffRole,
)
from lms_core.courses.richtext import TextFormat, to_safe_html
from lms_core.courses.thumbnails import thumbnail_url
from lms_core.enrollment.models import Enrollment
from lms_core.errors import Conflict, FieldError, InvalidInput, PermissionDenied
from lms_core.pagination import decode_time_cursor, encode_time_cursor
from lms_core.payments.models import Order

# --- slugs -------------------------------------------------------------------------------------


def slugify(text_: str, *, max_length: int = 100) -> str:
    ascii_text = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "course"


async def _free_slug(session: AsyncSession, base: str) -> str:
    taken = set(
        await session.scalars(
            select(Course.slug).where(
                (Course.slug == base) | Course.slug.like(base.replace("_", r"\_") + "-%")
            )
        )
    )
    if base not in taken:
        return base
    for n in range(2, 200):
        candidate = f"{base}-{n}"
        if candidate not in taken:
            return candidate
    return f"{base}-{secrets.token_hex(3)}"


# --- categories --------------------------------------------------------------------------------


async def list_categories(session: AsyncSession) -> list[Category]:
    return list(await session.scalars(select(Category).order_by(Category.name, Category.id)))


async def _get_category(session: AsyncSession, category_id: uuid.UUID) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise CategoryNotFound()
    return category


async def _save_category(session: AsyncSession, category: Category) -> Category:
    try:
        async with session.begin_nested():
            session.add(category)
            await session.flush()
    except IntegrityError:
        raise CategoryTaken() from None
    return category


async def create_category(
    session: AsyncSession, actor: Actor, data: schemas.CategoryIn
) -> Category:
    require_admin(actor)
    return await _save_category(
        session, Category(name=data.name, slug=data.slug or slugify(data.name))
    )


async def update_category(
    session: AsyncSession, actor: Actor, category_id: uuid.UUID, data: schemas.CategoryUpdateIn
) -> Category:
    require_admin(actor)
    category = await _get_category(session, category_id)
    if data.name is not None:
        category.name = data.name
    if data.slug is not None:
        category.slug = data.slug
    return await _save_category(session, category)


async def delete_category(session: AsyncSession, actor: Actor, category_id: uuid.UUID) -> None:
    """Its courses keep existing, without a category."""
    require_admin(actor)
    await session.delete(await _get_category(session, category_id))
    await session.flush()


# --- courses -----------------------------------------------------------------------------------


async def prerequisite_ids(session: AsyncSession, course_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(CoursePrerequisite.required_course_id)
            .where(CoursePrerequisite.course_id == course_id)
            .order_by(CoursePrerequisite.required_course_id)
        )
    )


def description_source(course: Course, role: CourseRole) -> dict[str, object]:
    """The author's description and its format, for those who may edit the course only."""
    if not role.can_edit:
        return {"description_source": None, "description_format": None}
    if course.description_source is None:  # written without a source: the HTML is one
        return {
            "description_source": course.description_html,
            "description_format": TextFormat.HTML,
        }
    return {
        "description_source": course.description_source,
        "description_format": course.description_format,
    }


async def render(session: AsyncSession, course: Course, role: CourseRole) -> schemas.CourseOut:
    return schemas.CourseOut.model_validate(
        {
            **{k: getattr(course, k) for k in schemas.CourseOut.model_fields if hasattr(course, k)},
            **description_source(course, role),
            "prerequisite_ids": await prerequisite_ids(session, course.id),
            "thumbnail_url": thumbnail_url(course.id, course.thumbnail_key),
            "your_role": schemas.role_name(role),
        }
    )


def _check_window(course: Course) -> None:
    opens, closes = course.enrollment_opens_at, course.enrollment_closes_at
    if opens is not None and closes is not None and opens >= closes:
        raise InvalidInput(
            "Enrollment must open before it closes.",
            code="invalid_enrollment_window",
            errors=[
                FieldError(
                    ("body", "enrollment_closes_at"), "must be after enrollment_opens_at", "order"
                )
            ],
        )


async def _check_category(session: AsyncSession, category_id: uuid.UUID | None) -> None:
    if category_id is not None and await session.get(Category, category_id) is None:
        raise InvalidInput(
            "No such category.",
            code="unknown_category",
            errors=[FieldError(("body", "category_id"), "no such category", "unknown")],
        )


async def _set_prerequisites(
    session: AsyncSession, actor: Actor, course: Course, wanted: Sequence[uuid.UUID]
) -> None:
    wanted = list(dict.fromkeys(wanted))
    if course.id in wanted:
        raise PrerequisiteCycle("A course cannot require itself.")
    # One writer of the prerequisite graph at a time, so that two edits adding A->B and B->A
    # concurrently cannot both pass the cycle check.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('course_prerequisites'))"))
    for required_id in wanted:
        try:
            await access.visible_course(session, actor, required_id)
        except access.CourseNotFound:
            raise InvalidInput(
                "A prerequisite course does not exist.",
                code="unknown_prerequisite",
                errors=[FieldError(("body", "prerequisite_ids"), str(required_id), "unknown")],
            ) from None
    if wanted:
        # Every course reachable from the wanted ones through existing prerequisites.
        reach = (
            select(CoursePrerequisite.required_course_id.label("id"))
            .where(CoursePrerequisite.course_id.in_(wanted))
            .cte("reach", recursive=True)
        )
        reach = reach.union(
            select(CoursePrerequisite.required_course_id).join(
                reach, CoursePrerequisite.course_id == reach.c.id
            )
        )
        if course.id in set(await session.scalars(select(reach.c.id))):
            raise PrerequisiteCycle()
    await session.execute(
        delete(CoursePrerequisite).where(CoursePrerequisite.course_id == course.id)
    )
    session.add_all(CoursePrerequisite(course_id=course.id, required_course_id=r) for r in wanted)
    await session.flush()


async def create_course(
    session: AsyncSession, actor: Actor, data: schemas.CourseCreateIn
) -> Course:
    access.require_instructor(actor)
    await _check_category(session, data.category_id)
    if data.slug is not None:
        if await session.scalar(select(exists().where(Course.slug == data.slug))):
            raise SlugTaken()
        slug = data.slug
    else:
        slug = await _free_slug(session, slugify(data.title))
    course = Course(
        slug=slug,
        title=data.title,
        summary=data.summary,
        description_html=to_safe_html(data.description, data.description_format),
        description_source=data.description,
        description_format=data.description_format,
        category_id=data.category_id,
        level=data.level,
        language=data.language,
        tags=data.tags,
        price_cents=data.price_cents,
        currency=data.currency,
        included_in_subscription=data.included_in_subscription,
        capacity=data.capacity,
        enrollment_opens_at=data.enrollment_opens_at,
        enrollment_closes_at=data.enrollment_closes_at,
        status=CourseStatus.DRAFT,
        owner_id=actor.id,
    )
    _check_window(course)
    try:
        async with session.begin_nested():
            session.add(course)
            await session.flush()
    except IntegrityError:
        # Another course took the slug between the check and the insert.
        raise SlugTaken() from None
    if data.prerequisite_ids:
        await _set_prerequisites(session, actor, course, data.prerequisite_ids)
    return course


async def list_taught(
    session: AsyncSession, actor: Actor, query: schemas.TaughtCoursesQuery
) -> schemas.CoursePage:
    """The courses the caller teaches (owner or staff, any status; admins: every course),
    newest first."""
    staff_role = (
        select(CourseStaff.role)
        .where(CourseStaff.course_id == Course.id, CourseStaff.user_id == actor.id)
        .scalar_subquery()
    )
    stmt = select(Course, staff_role).order_by(Course.created_at.desc(), Course.id.desc())
    is_admin = actor.user.role is Role.ADMIN
    if not is_admin:
        stmt = stmt.where((Course.owner_id == actor.id) | staff_role.is_not(None))
    if query.cursor:
        moment, ident = decode_time_cursor(query.cursor)
        stmt = stmt.where(tuple_(Course.created_at, Course.id) < tuple_(moment, ident))
    rows = (await session.execute(stmt.limit(query.limit + 1))).all()
    items = []
    for course, staff in rows[: query.limit]:
        if is_admin:
            role = CourseRole.ADMIN
        elif course.owner_id == actor.id:
            role = CourseRole.OWNER
        elif staff is StaffRole.CO_INSTRUCTOR:
            role = CourseRole.CO_INSTRUCTOR
        else:
            role = CourseRole.TEACHING_ASSISTANT
        items.append(await render(session, course, role))
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1][0]
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return schemas.CoursePage(items=items, next_cursor=next_cursor)


async def get_course(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID
) -> tuple[Course, CourseRole]:
    return await access.visible_course(session, actor, course_id)


_PLAIN_FIELDS = (
    "title",
    "summary",
    "level",
    "language",
    "tags",
    "price_cents",
    "currency",
    "included_in_subscription",
)
_NULLABLE_FIELDS = ("category_id", "capacity", "enrollment_opens_at", "enrollment_closes_at")


async def update_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.CourseUpdateIn
) -> tuple[Course, CourseRole]:
    course = await access.editable_course(session, actor, course_id, for_update=True)
    given = data.model_fields_set
    if "category_id" in given:
        # Before any attribute changes: the lookup may autoflush them.
        await _check_category(session, data.category_id)
    for name in _PLAIN_FIELDS:
        value = getattr(data, name)
        if name in given and value is not None:
            setattr(course, name, value)
    for name in _NULLABLE_FIELDS:
        if name in given:
            setattr(course, name, getattr(data, name))
    if "description" in given and data.description is not None:
        course.description_html = to_safe_html(data.description, data.description_format)
        course.description_source = data.description
        course.description_format = data.description_format
    _check_window(course)
    if "prerequisite_ids" in given and data.prerequisite_ids is not None:
        await _set_prerequisites(session, actor, course, data.prerequisite_ids)
    await session.flush()
    return course, await access.role_in(session, actor, course)


async def _managed_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> tuple[Course, CourseRole]:
    course, role = await access.visible_course(session, actor, course_id, for_update=True)
    if role < CourseRole.OWNER:
        raise NotCourseManager()
    return course, role


async def delete_course(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> None:
    course, _ = await _managed_course(session, actor, course_id)
    enrolled = await session.scalar(select(exists().where(Enrollment.course_id == course.id)))
    # Orders are accounting records (kept, RESTRICT): a course anyone tried to buy stays.
    ordered = await session.scalar(select(exists().where(Order.course_id == course.id)))
    if course.status is not CourseStatus.DRAFT or enrolled or ordered:
        raise CourseNotDeletable()
    await session.delete(course)
    await session.flush()


async def publish(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> tuple[Course, CourseRole]:
    course = await access.editable_course(session, actor, course_id, for_update=True)
    if course.status is not CourseStatus.DRAFT:
        raise InvalidTransition("Only a draft can be published.")
    if not await session.scalar(select(exists().where(Lesson.course_id == course.id))):
        raise CourseEmpty()
    course.status = CourseStatus.PUBLISHED
    course.published_at = course.published_at or utcnow()
    await session.flush()
    return course, await access.role_in(session, actor, course)


async def unpublish(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> tuple[Course, CourseRole]:
    """Back to draft (admins only): a published or archived course disappears from students."""
    require_admin(actor)
    course, role = await access.visible_course(session, actor, course_id, for_update=True)
    if course.status is CourseStatus.DRAFT:
        raise InvalidTransition("The course is already a draft.")
    course.status = CourseStatus.DRAFT
    await session.flush()
    return course, role


async def archive(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> tuple[Course, CourseRole]:
    """Closed to new enrollments and hidden from the catalog; enrolled students keep access."""
    course, role = await _managed_course(session, actor, course_id)
    if course.status is CourseStatus.ARCHIVED:
        raise InvalidTransition("The course is already archived.")
    course.status = CourseStatus.ARCHIVED
    await session.flush()
    return course, role


# --- staff -------------------------------------------------------------------------------------


async def list_staff(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID
) -> list[schemas.StaffOut]:
    course, role = await access.visible_course(session, actor, course_id)
    if not role.is_staff:
        raise PermissionDenied("Only course staff see the staff list.", code="not_staff")
    rows = await session.execute(
        select(User.id, User.name, User.email, CourseStaff.role)
        .join(CourseStaff, CourseStaff.user_id == User.id)
        .where(CourseStaff.course_id == course.id)
        .order_by(User.name, User.id)
    )
    return [
        schemas.StaffOut(user_id=uid, name=name, email=email, role=staff_role)
        for uid, name, email, staff_role in rows
    ]


async def get_staff(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID, user_id: uuid.UUID
) -> schemas.StaffOut:
    for member in await list_staff(session, actor, course_id):
        if member.user_id == user_id:
            return member
    raise StaffUserNotFound("This user is not on the course's staff.", code="staff_not_found")


async def set_staff(
    session: AsyncSession,
    actor: Actor,
    course_id: uuid.UUID,
    user_id: uuid.UUID,
    role: StaffRole,
) -> schemas.StaffOut:
    course, _ = await _managed_course(session, actor, course_id)
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise StaffUserNotFound()
    if user.id == course.owner_id:
        raise Conflict("The owner is already the course's instructor.", code="owner_not_staff")
    member = await session.get(CourseStaff, (course.id, user.id))
    if member is None:
        session.add(CourseStaff(course_id=course.id, user_id=user.id, role=role))
    else:
        member.role = role
    await session.flush()
    return schemas.StaffOut(user_id=user.id, name=user.name, email=user.email, role=role)


async def remove_staff(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    course, _ = await _managed_course(session, actor, course_id)
    result = await session.execute(
        delete(CourseStaff)
        .where(CourseStaff.course_id == course.id, CourseStaff.user_id == user_id)
        .returning(literal(1))
    )
    if result.first() is None:
        raise StaffUserNotFound("This user is not on the course's staff.", code="staff_not_found")
