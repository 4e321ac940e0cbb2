"""Catalog read queries: search and listing, course detail for visitors, similar courses.

Read-only, in SQLAlchemy Core (no ORM identity map or unit of work on this hot path; see
DESIGN.md §4 and docs/benchmarks.md "Catalog"). Only published courses are ever returned:
drafts and archived courses are absent from every answer here, and their detail is a 404.

Ordering is always total, ``(sort key, id)`` descending, and pages are keyset-paginated on that
pair, so paging is stable under concurrent inserts: no duplicates, nothing skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.catalog import schemas
from lms_core.catalog.schemas import CatalogSort, PriceFilter
from lms_core.courses.access import CourseNotFound
from lms_core.courses.models import (
    Category,
    Course,
    CoursePrerequisite,
    CourseStaff,
    CourseStatus,
    Lesson,
    Module,
    StaffRole,
)
from lms_core.courses.thumbnails import thumbnail_url
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.pagination import invalid_cursor

courses = Course.__table__
categories = Category.__table__
users = User.__table__
enrollments = Enrollment.__table__
modules = Module.__table__
lessons = Lesson.__table__
staff = CourseStaff.__table__
prerequisites = CoursePrerequisite.__table__

SEARCH_CONFIG = "english"  # must match course_search_vector() in migration 0003_catalog
SIMILAR_LIMIT = 6
# Co-enrollment is counted over at most this many of a course's most recent active students.
CO_ENROLLMENT_SAMPLE = 500

# A constant in the SQL, not a bound parameter: asyncpg's prepared statements turn into
# generic plans after five executions, and a generic plan that cannot see 'published' guesses a
# third of the table and ANDs ix_courses_status into every search (docs/benchmarks.md "Catalog").
PUBLISHED = courses.c.status == literal_column(f"'{CourseStatus.PUBLISHED.value}'")


def _constant(n: int) -> ColumnElement[int]:
    """An integer written into the SQL. A LIMIT given as a parameter is a guess of 10 % of the
    rows in a generic plan, which then joins the page to owner and category by hashing whole
    tables instead of looking up its few rows."""
    return literal_column(str(int(n)), Integer)


def _item_columns() -> list[Any]:
    return [
        courses.c.id,
        courses.c.slug,
        courses.c.title,
        courses.c.summary,
        courses.c.level,
        courses.c.language,
        courses.c.tags,
        courses.c.price_cents,
        courses.c.currency,
        courses.c.included_in_subscription,
        courses.c.thumbnail_key,
        courses.c.published_at,
        categories.c.id.label("category_id"),
        categories.c.slug.label("category_slug"),
        categories.c.name.label("category_name"),
        users.c.id.label("owner_id"),
        users.c.name.label("owner_name"),
        courses.c.enrollment_count,
    ]


def _item_from() -> Any:
    return courses.join(users, users.c.id == courses.c.owner_id).outerjoin(
        categories, categories.c.id == courses.c.category_id
    )


def _item(row: Row[Any]) -> schemas.CatalogItem:
    m = row._mapping
    category = (
        schemas.CategoryOut(id=m["category_id"], slug=m["category_slug"], name=m["category_name"])
        if m["category_id"] is not None
        else None
    )
    return schemas.CatalogItem(
        id=m["id"],
        slug=m["slug"],
        title=m["title"],
        summary=m["summary"],
        category=category,
        level=m["level"],
        language=m["language"],
        tags=list(m["tags"] or ()),
        price_cents=m["price_cents"],
        currency=m["currency"],
        is_free=m["price_cents"] == 0,
        included_in_subscription=m["included_in_subscription"],
        instructor=schemas.PersonOut(id=m["owner_id"], name=m["owner_name"]),
        enrollment_count=m["enrollment_count"],
        thumbnail_url=thumbnail_url(m["id"], m["thumbnail_key"]),
        published_at=m["published_at"],
    )


# --- cursors -------------------------------------------------------------------------------


def _encode_cursor(sort: CatalogSort, key: Any, ident: uuid.UUID) -> str:
    if isinstance(key, datetime):
        key = key.isoformat()
    raw = json.dumps([sort.value, key, str(ident)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: CatalogSort) -> tuple[Any, uuid.UUID]:
    """The cursor's (sort key, id); a cursor from another sort or a forged one is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, key, ident = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if kind != sort.value:
            raise ValueError("cursor of another sort")
        course_id = uuid.UUID(ident)
        if sort is CatalogSort.NEWEST:
            if key is None:
                return None, course_id
            moment = datetime.fromisoformat(key)
            if moment.tzinfo is None:
                raise ValueError("naive cursor time")
            return moment.astimezone(UTC), course_id
        if sort is CatalogSort.MOST_ENROLLED:
            if type(key) is not int or not 0 <= key < 2**62:
                raise ValueError("bad count")
            return key, course_id
        if not isinstance(key, int | float) or isinstance(key, bool) or not math.isfinite(key):
            raise ValueError("bad rank")
        return float(key), course_id
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None


# --- listing and search --------------------------------------------------------------------


def _category_filter(value: str) -> ColumnElement[bool]:
    try:
        return courses.c.category_id == uuid.UUID(value)
    except ValueError:
        by_slug = select(categories.c.id).where(categories.c.slug == value).scalar_subquery()
        return courses.c.category_id == by_slug


def _filters(query: schemas.CatalogQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [PUBLISHED]
    if query.category is not None:
        where.append(_category_filter(query.category))
    if query.level is not None:
        where.append(courses.c.level == query.level)
    if query.language is not None:
        where.append(courses.c.language == query.language)
    if query.price is PriceFilter.FREE:
        where.append(courses.c.price_cents == 0)
    elif query.price is PriceFilter.PAID:
        where.append(courses.c.price_cents > 0)
    if query.instructor is not None:
        where.append(courses.c.owner_id == query.instructor)
    if query.included_in_subscription is not None:
        where.append(courses.c.included_in_subscription.is_(query.included_in_subscription))
    return where


def effective_sort(query: schemas.CatalogQuery) -> CatalogSort:
    has_q = bool(query.q and query.q.strip())
    if query.sort is None:
        return CatalogSort.RELEVANCE if has_q else CatalogSort.NEWEST
    if query.sort is CatalogSort.RELEVANCE and not has_q:
        return CatalogSort.NEWEST
    return query.sort


async def search(session: AsyncSession, query: schemas.CatalogQuery) -> schemas.CatalogPage:
    """One page of published courses matching ``query``, in the requested order.

    Two steps in one statement: the page is chosen from ``courses`` alone (filters, match, sort
    key, keyset, LIMIT), and only its rows are joined to their owner and category. Joining
    before the LIMIT made PostgreSQL hash all 25,000 users for every search (a seq scan + hash
    of ``users`` was two thirds of a relevance search's time on the seeded catalog;
    docs/benchmarks.md "Catalog"). The tsquery is parsed once per execution, and
    ``ts_rank_cd`` runs once per matching row, only in the inner query.
    """
    sort = effective_sort(query)
    where = _filters(query)
    columns: list[Any] = [courses.c.id, courses.c.published_at, courses.c.enrollment_count]
    if query.q and query.q.strip():
        # websearch_to_tsquery never raises on user syntax (`&|!():*` are just separators).
        # A scalar subquery, so an InitPlan: parsed once per execution. As a plain expression,
        # a generic plan (see PUBLISHED) re-parsed the query inside ts_rank_cd for every
        # matching row, which doubled the cost of a search.
        tsquery = select(
            func.websearch_to_tsquery(literal(SEARCH_CONFIG, REGCONFIG), bindparam("q", query.q))
        ).scalar_subquery()
        where.append(courses.c.search_vector.bool_op("@@")(tsquery))
        columns.append(func.ts_rank_cd(courses.c.search_vector, tsquery, type_=Float).label("rank"))
    sort_key = columns[-1] if sort is CatalogSort.RELEVANCE else courses.c[_SORT_COLUMNS[sort]]
    if query.cursor:
        key, ident = _decode_cursor(query.cursor, sort)
        where.append(_after(sort, sort_key, courses.c.id, key, ident))
    page = (
        select(*columns)
        .where(*where)
        .order_by(sort_key.desc(), courses.c.id.desc())
        .limit(_constant(query.limit + 1))
        .subquery("page")
    )
    page_key = page.c[_SORT_COLUMNS[sort]]
    stmt: Select[Any] = (
        select(*_item_columns(), page_key.label("sort_key"))
        .select_from(_item_from().join(page, page.c.id == courses.c.id))
        .order_by(page_key.desc(), page.c.id.desc())
    )
    rows = list(await session.execute(stmt))
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]._mapping
        next_cursor = _encode_cursor(sort, last["sort_key"], last["id"])
    return schemas.CatalogPage(
        items=[_item(r) for r in rows[: query.limit]], sort=sort, next_cursor=next_cursor
    )


_SORT_COLUMNS = {
    CatalogSort.RELEVANCE: "rank",
    CatalogSort.NEWEST: "published_at",
    CatalogSort.MOST_ENROLLED: "enrollment_count",
}


def _after(
    sort: CatalogSort,
    sort_key: ColumnElement[Any],
    id_column: ColumnElement[uuid.UUID],
    key: Any,
    ident: uuid.UUID,
) -> ColumnElement[bool]:
    """Rows strictly after (key, ident) in ``ORDER BY sort_key DESC, id DESC``."""
    if sort is CatalogSort.NEWEST and key is None:
        # DESC puts NULLs first in PostgreSQL (and in the index's backward scan). A published
        # course always has published_at; this branch only keeps odd rows pageable.
        return or_(and_(sort_key.is_(None), id_column < ident), sort_key.is_not(None))
    key_type = Float() if sort is CatalogSort.RELEVANCE else sort_key.type
    return tuple_(sort_key, id_column) < tuple_(bindparam("cursor_key", key, type_=key_type), ident)


# --- course detail -------------------------------------------------------------------------


def _course_key(id_or_slug: str) -> ColumnElement[bool]:
    try:
        return courses.c.id == uuid.UUID(id_or_slug)
    except ValueError:
        return courses.c.slug == id_or_slug


async def _published_item(session: AsyncSession, id_or_slug: str) -> Row[Any]:
    stmt: Select[Any] = (
        select(*_item_columns(), courses.c.description_html)
        .select_from(_item_from())
        .where(_course_key(id_or_slug), PUBLISHED)
    )
    row: Row[Any] | None = (await session.execute(stmt)).first()
    if row is None:
        raise CourseNotFound()
    return row


async def course_detail(session: AsyncSession, id_or_slug: str) -> schemas.CourseDetail:
    """A published course as a visitor sees it: outline titles, never lesson bodies."""
    row = await _published_item(session, id_or_slug)
    course_id: uuid.UUID = row._mapping["id"]
    outline_rows = await session.execute(
        select(
            modules.c.id.label("module_id"),
            modules.c.title.label("module_title"),
            lessons.c.id,
            lessons.c.title,
            lessons.c.kind,
            lessons.c.estimated_minutes,
            lessons.c.is_preview,
            lessons.c.release_at,
        )
        .select_from(modules.outerjoin(lessons, lessons.c.module_id == modules.c.id))
        .where(modules.c.course_id == course_id)
        .order_by(modules.c.position, lessons.c.position)
    )
    outline: list[schemas.OutlineModule] = []
    lesson_count = total_minutes = 0
    for r in outline_rows:
        if not outline or outline[-1].id != r.module_id:
            outline.append(schemas.OutlineModule(id=r.module_id, title=r.module_title, lessons=[]))
        if r.id is not None:
            lesson_count += 1
            total_minutes += r.estimated_minutes or 0
            outline[-1].lessons.append(
                schemas.OutlineLesson(
                    id=r.id,
                    title=r.title,
                    kind=r.kind,
                    estimated_minutes=r.estimated_minutes,
                    is_preview=r.is_preview,
                    release_at=r.release_at,
                )
            )
    # Owner first, then co-instructors; teaching assistants are not presented as instructors.
    people = await session.execute(
        select(users.c.id, users.c.name, literal("co_instructor").label("role"))
        .select_from(staff.join(users, users.c.id == staff.c.user_id))
        .where(staff.c.course_id == course_id, staff.c.role == StaffRole.CO_INSTRUCTOR)
        .order_by(users.c.name, users.c.id)
    )
    m = row._mapping
    instructors = [schemas.InstructorOut(id=m["owner_id"], name=m["owner_name"], role="owner")]
    instructors += [schemas.InstructorOut(id=p.id, name=p.name, role=p.role) for p in people]
    # A prerequisite that is still a draft is not revealed (its title would leak).
    required = await session.execute(
        select(courses.c.id, courses.c.slug, courses.c.title)
        .select_from(
            prerequisites.join(courses, courses.c.id == prerequisites.c.required_course_id)
        )
        .where(
            prerequisites.c.course_id == course_id,
            courses.c.status != CourseStatus.DRAFT,
        )
        .order_by(courses.c.title, courses.c.id)
    )
    item = _item(row)
    return schemas.CourseDetail(
        **item.model_dump(),
        description_html=m["description_html"],
        instructors=instructors,
        prerequisites=[
            schemas.PrerequisiteOut(id=p.id, slug=p.slug, title=p.title) for p in required
        ],
        outline=outline,
        lesson_count=lesson_count,
        total_minutes=total_minutes,
    )


# --- similar courses -----------------------------------------------------------------------


async def similar_courses(session: AsyncSession, id_or_slug: str) -> schemas.SimilarCourses:
    """Up to six published courses like this one.

    Score = students of this course also actively enrolled there (co-enrollment)
    + 2 for the same category + 1 per shared tag. Ties go to the more enrolled, then the id.

    Co-enrollment is counted over the course's ``CO_ENROLLMENT_SAMPLE`` most recent active
    students (all of them for all but the most popular courses), so the request's work is
    bounded: a course with 1,400 students made PostgreSQL hash-join all 100,000 enrollments.
    The best six are chosen from ``courses`` alone; only they are joined to owner and
    category. Shared tags are counted with one ``tags @> ARRAY[tag]`` test per distinct tag
    of this course instead of an INTERSECT subquery per candidate (the same count: both are
    set semantics).
    """
    target = (
        await session.execute(
            select(courses.c.id, courses.c.category_id, courses.c.tags).where(
                _course_key(id_or_slug), PUBLISHED
            )
        )
    ).first()
    if target is None:
        raise CourseNotFound()
    mine = (
        select(enrollments.c.user_id)
        .where(
            enrollments.c.course_id == target.id,
            enrollments.c.status == EnrollmentStatus.ACTIVE,
        )
        .order_by(enrollments.c.enrolled_at.desc(), enrollments.c.id.desc())
        .limit(_constant(CO_ENROLLMENT_SAMPLE))
        .subquery("mine")
    )
    theirs = enrollments.alias("theirs")
    co = (
        select(theirs.c.course_id, func.count().label("n"))
        .select_from(mine.join(theirs, theirs.c.user_id == mine.c.user_id))
        .where(
            theirs.c.status == EnrollmentStatus.ACTIVE,
            theirs.c.course_id != target.id,
        )
        .group_by(theirs.c.course_id)
        .subquery("co")
    )
    tag_list = list(dict.fromkeys(t for t in (target.tags or ()) if t is not None))
    tag_type = courses.c.tags.type
    target_tags = bindparam("target_tags", tag_list, type_=tag_type)
    shared_tags: ColumnElement[int] = literal(0)
    for i, tag in enumerate(tag_list):
        one = bindparam(f"tag_{i}", [tag], type_=tag_type)
        shared_tags = shared_tags + case((courses.c.tags.op("@>")(one), 1), else_=0)
    same_category = (
        courses.c.category_id == target.category_id
        if target.category_id is not None
        else literal(False)
    )
    content_match = or_(same_category, courses.c.tags.op("&&")(target_tags))
    score = (func.coalesce(co.c.n, 0) + case((same_category, 2), else_=0) + shared_tags).label(
        "score"
    )
    best = (
        select(courses.c.id, courses.c.enrollment_count, score)
        .select_from(courses.outerjoin(co, co.c.course_id == courses.c.id))
        .where(PUBLISHED, courses.c.id != target.id, or_(co.c.n.is_not(None), content_match))
        .order_by(score.desc(), courses.c.enrollment_count.desc(), courses.c.id.desc())
        .limit(_constant(SIMILAR_LIMIT))
        .subquery("best")
    )
    stmt: Select[Any] = (
        select(*_item_columns())
        .select_from(_item_from().join(best, best.c.id == courses.c.id))
        .order_by(best.c.score.desc(), best.c.enrollment_count.desc(), best.c.id.desc())
    )
    return schemas.SimilarCourses(items=[_item(r) for r in await session.execute(stmt)])
