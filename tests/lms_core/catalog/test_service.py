"""The catalog queries against straightforward reference formulations on random catalogs.

``search`` picks its page from ``courses`` alone and joins owner and category afterwards, with
the tsquery in an InitPlan; ``similar_courses`` picks its six the same way, counts shared tags
with one ``@>`` per tag and co-enrollment over a bounded sample of students. These tests hold
them to the plain definitions (rank every match and sort; INTERSECT the tags; join every
enrollment), also under generic plans, which asyncpg's prepared statements get after five
executions (``plan_cache_mode = force_generic_plan`` makes the first one generic).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.catalog import schemas, service
from lms_core.catalog.schemas import CatalogSort
from lms_core.courses.models import Category, Course, CourseLevel, CourseStatus
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from server.state import Database
from tests.lms_core.catalog import factory
from tests.lms_core.catalog.factory import EPOCH

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
QUERIES = ["alpha", "bravo charlie", "delta or echo", "golf -hotel", '"alpha bravo"', "zulu"]


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


@dataclass
class Catalog:
    courses: list[Course]
    categories: list[Category]
    owners: list[User]
    enrollments: list[tuple[uuid.UUID, uuid.UUID, EnrollmentStatus]]  # course, user, status


async def random_catalog(s: AsyncSession, rnd: random.Random, size: int = 40) -> Catalog:
    owners = [await factory.user(s, f"Owner {i}") for i in range(3)]
    categories = [await factory.category(s, f"cat{i}") for i in range(3)]
    made = []
    for i in range(size):
        words = rnd.sample(WORDS, 4)
        made.append(
            await factory.course(
                s,
                rnd.choice(owners),
                f"{words[0].title()} {i}",
                summary=f"About {words[1]}" if rnd.random() < 0.7 else "",
                description=f"<p>{' '.join(rnd.choices(WORDS, k=rnd.randint(0, 6)))}</p>",
                tags=rnd.sample(WORDS, rnd.randint(0, 3)),
                status=rnd.choices(list(CourseStatus), (1, 6, 1))[0],
                # Few distinct times, so the id tie-break is exercised.
                published_at=EPOCH + timedelta(days=rnd.randint(0, 4)),
                category=rnd.choice([*categories, None]),
                level=rnd.choice([CourseLevel.BEGINNER, CourseLevel.ADVANCED]),
                price_cents=rnd.choice([0, 0, 500]),
            )
        )
    people = await factory.students(s, 15)
    enrolled: list[tuple[uuid.UUID, uuid.UUID, EnrollmentStatus]] = []
    for person in people:
        for course in rnd.sample(made, rnd.randint(0, 6)):
            status = EnrollmentStatus.ACTIVE if rnd.random() < 0.85 else EnrollmentStatus.CANCELLED
            await factory.enroll(s, course, person, status)
            enrolled.append((course.id, person.id, status))
    await s.commit()
    return Catalog(made, categories, owners, enrolled)


async def every_page(s: AsyncSession, **params: Any) -> tuple[CatalogSort, list[uuid.UUID]]:
    query = schemas.CatalogQuery(limit=3, **params)
    page = await service.search(s, query)
    ids = [item.id for item in page.items]
    while page.next_cursor is not None:
        query = schemas.CatalogQuery(limit=3, cursor=page.next_cursor, **params)
        page = await service.search(s, query)
        ids += [item.id for item in page.items]
    return page.sort, ids


REFERENCE_KEYS = {
    CatalogSort.RELEVANCE: "ts_rank_cd(c.search_vector, websearch_to_tsquery('english', :q))",
    CatalogSort.NEWEST: "c.published_at",
    CatalogSort.MOST_ENROLLED: "(SELECT count(*) FROM enrollments e"
    " WHERE e.course_id = c.id AND e.status = 'active')",
}


async def reference_search(
    s: AsyncSession, sort: CatalogSort, q: str | None, where: str = "", **params: Any
) -> list[uuid.UUID]:
    """Every matching published course: rank (or count) computed for each, sorted."""
    match = "AND c.search_vector @@ websearch_to_tsquery('english', :q)" if q else ""
    order = f"{REFERENCE_KEYS[sort]} DESC, c.id DESC"
    sql = (
        f"SELECT c.id FROM courses c WHERE c.status = 'published' {match} {where} ORDER BY {order}"  # noqa: S608 (our constants)
    )
    rows = await s.execute(text(sql), {"q": q, **params})
    return list(rows.scalars())


@pytest.mark.parametrize("generic", [False, True], ids=["custom-plans", "generic-plans"])
async def test_search_pages_equal_the_reference_ranking(
    session: AsyncSession, generic: bool
) -> None:
    s = session
    catalog = await random_catalog(s, random.Random(7))
    if generic:
        await s.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    checked = 0
    for q in [*QUERIES, None]:
        for sort in CatalogSort:
            sort_, ids = await every_page(s, q=q, sort=sort)
            expected = await reference_search(s, sort_, q)
            assert ids == expected, (q, sort)
            assert len(set(ids)) == len(ids)
            checked += len(ids)
        # Filters narrow the same ordering.
        cat = catalog.categories[0]
        owner = catalog.owners[1]
        sort_, ids = await every_page(
            s, q=q, level="beginner", price="free", category=cat.slug, instructor=owner.id
        )
        where = (
            "AND c.level = 'beginner' AND c.price_cents = 0 AND c.category_id = :cat"
            " AND c.owner_id = :owner"
        )
        assert ids == await reference_search(s, sort_, q, where, cat=cat.id, owner=owner.id)
    assert checked > 200  # the random catalog really exercised the pages


async def test_search_ranks_title_then_summary_and_tags_then_description(
    session: AsyncSession,
) -> None:
    s = session
    owner = await factory.user(s)
    description = await factory.course(s, owner, "One", description="<p>quokka</p>")
    tag = await factory.course(s, owner, "Two", tags=["quokka"])
    summary = await factory.course(s, owner, "Three", summary="A quokka")
    title = await factory.course(s, owner, "Quokka four")
    await s.commit()
    page = await service.search(s, schemas.CatalogQuery(q="quokka"))
    ids = [item.id for item in page.items]
    # Summary and tags weigh the same (B); equal ranks fall back to the id.
    b_weight = sorted([tag.id, summary.id], reverse=True)
    assert ids == [title.id, *b_weight, description.id]


async def test_generic_plan_parses_the_query_once_and_joins_after_the_limit(
    session: AsyncSession,
) -> None:
    """The plan asyncpg's prepared statement gets after five runs: websearch_to_tsquery only
    in InitPlans (not per row inside ts_rank_cd), users joined to the page, not before it."""
    s = session
    await factory.course(s, await factory.user(s), "Anything")
    await s.commit()
    statements: list[tuple[str, tuple[Any, ...]]] = []
    sync_conn = (await s.connection()).sync_connection
    assert sync_conn is not None

    def capture(*args: Any) -> None:
        statements.append((args[2], tuple(args[3])))

    event.listen(sync_conn, "before_cursor_execute", capture)
    try:
        await service.search(s, schemas.CatalogQuery(q="anything"))
    finally:
        event.remove(sync_conn, "before_cursor_execute", capture)
    ((sql, params),) = statements
    assert all(isinstance(p, str | int) for p in params)
    args = ", ".join(
        repr(p) if isinstance(p, int) else "'" + p.replace("'", "''") + "'" for p in params
    )
    await s.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    await s.execute(text(f"PREPARE catalog_search_test AS {sql}"))
    try:
        explain = f"EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE catalog_search_test({args})"
        plan = (await s.execute(text(explain))).scalar_one()
    finally:
        await s.execute(text("DEALLOCATE catalog_search_test"))

    def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node, *(n for child in node.get("Plans", ()) for n in nodes(child))]

    every = nodes(plan[0]["Plan"])
    for node in every:
        if node.get("Parent Relationship") == "InitPlan":
            continue
        for key in ("Output", "Sort Key", "Filter", "Recheck Cond", "Index Cond"):
            assert "websearch_to_tsquery" not in str(node.get(key, "")), (key, node)
    assert any("ts_rank_cd(" in str(node.get("Output")) for node in every)
    (limit,) = [node for node in every if node["Node Type"] == "Limit"]
    below_limit = {node.get("Relation Name") for node in nodes(limit)}
    assert "courses" in below_limit
    assert "users" not in below_limit
    assert "users" in {node.get("Relation Name") for node in every}


# --- similar courses -------------------------------------------------------------------------


def reference_similar(catalog: Catalog, target: Course) -> list[uuid.UUID]:
    """The definition, computed in Python with every enrollment."""
    active = [(c, u) for c, u, status in catalog.enrollments if status is EnrollmentStatus.ACTIVE]
    mine = {u for c, u in active if c == target.id}
    co = Counter(c for c, u in active if u in mine and c != target.id)
    counts = Counter(c for c, _ in active)
    scored = []
    for course in catalog.courses:
        if course.status is not CourseStatus.PUBLISHED or course.id == target.id:
            continue
        same_category = target.category_id is not None and course.category_id == (
            target.category_id
        )
        shared = len(set(course.tags) & set(target.tags))
        if not (co[course.id] or same_category or shared):
            continue
        score = co[course.id] + 2 * same_category + shared
        scored.append(((score, counts[course.id], course.id), course.id))
    scored.sort(reverse=True)
    return [ident for _, ident in scored[: service.SIMILAR_LIMIT]]


@pytest.mark.parametrize("generic", [False, True], ids=["custom-plans", "generic-plans"])
async def test_similar_equals_the_reference_for_every_course(
    session: AsyncSession, generic: bool
) -> None:
    s = session
    catalog = await random_catalog(s, random.Random(11))
    if generic:
        await s.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    published = [c for c in catalog.courses if c.status is CourseStatus.PUBLISHED]
    with_co = 0
    for course in published:
        similar = await service.similar_courses(s, str(course.id))
        assert [item.id for item in similar.items] == reference_similar(catalog, course), (
            course.title
        )
        with_co += any(c == course.id for c, _, _ in catalog.enrollments)
    assert with_co > 10


async def test_similar_counts_co_enrollment_of_the_most_recent_students_only(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deliberate bound: co-enrollment comes from the CO_ENROLLMENT_SAMPLE most recently
    enrolled active students (exact for every course with fewer students)."""
    s = session
    owner = await factory.user(s)
    base = await factory.course(s, owner, "Base")
    old_crowd = await factory.course(s, owner, "Where the early students went")
    new_crowd = await factory.course(s, owner, "Where the recent students went")
    first, second, third, quitter = await factory.students(s, 4)
    for n, person in enumerate([first, second, third, quitter]):
        s.add(
            Enrollment(
                course_id=base.id,
                user_id=person.id,
                enrolled_at=EPOCH + timedelta(days=n),
                status=EnrollmentStatus.CANCELLED if person is quitter else EnrollmentStatus.ACTIVE,
            )
        )
    await factory.enroll(s, old_crowd, first)
    await factory.enroll(s, new_crowd, second)
    await factory.enroll(s, new_crowd, third)
    await factory.enroll(s, old_crowd, quitter)  # a cancelled student of Base does not count
    await s.commit()

    async def similar() -> list[str]:
        return [item.title for item in (await service.similar_courses(s, str(base.id))).items]

    assert await similar() == [new_crowd.title, old_crowd.title]
    monkeypatch.setattr(service, "CO_ENROLLMENT_SAMPLE", 2)
    # The two most recent active students (third, second) both went to new_crowd; the
    # cancelled fourth is not sampled in their place.
    assert await similar() == [new_crowd.title]
    monkeypatch.setattr(service, "CO_ENROLLMENT_SAMPLE", 1)
    assert await similar() == [new_crowd.title]


async def test_similar_ignores_cancelled_drafts_archived_and_itself(session: AsyncSession) -> None:
    s = session
    owner = await factory.user(s)
    base = await factory.course(s, owner, "Base", tags=["x"])
    draft = await factory.course(s, owner, "Draft", tags=["x"], status=CourseStatus.DRAFT)
    archived = await factory.course(s, owner, "Old", tags=["x"], status=CourseStatus.ARCHIVED)
    cancelled_there = await factory.course(s, owner, "Cancelled there")
    plain = await factory.course(s, owner, "Co-enrolled, nothing in common")
    a, b = await factory.students(s, 2)
    for course in (base, draft, archived, plain):
        await factory.enroll(s, course, a)
    await factory.enroll(s, cancelled_there, a, EnrollmentStatus.CANCELLED)
    await factory.enroll(s, base, b, EnrollmentStatus.CANCELLED)
    await factory.enroll(s, cancelled_there, b)
    await s.commit()
    items = (await service.similar_courses(s, base.slug)).items
    assert [item.title for item in items] == ["Co-enrolled, nothing in common"]
    assert items[0].instructor.id == owner.id


async def test_limits_are_constants_in_the_sql(session: AsyncSession) -> None:
    """A LIMIT sent as a parameter is estimated at 10 % of the rows in a generic plan, which then
    hash-joins whole tables to a page of a few rows; written into the SQL it is exact."""
    s = session
    owner = await factory.user(s)
    base = await factory.course(s, owner, "Anything")
    await factory.course(s, owner, "Anything else")
    await s.commit()
    statements: list[str] = []
    sync_conn = (await s.connection()).sync_connection
    assert sync_conn is not None

    def capture(*args: Any) -> None:
        statements.append(args[2])

    event.listen(sync_conn, "before_cursor_execute", capture)
    try:
        await service.search(s, schemas.CatalogQuery(q="anything", limit=7))
        await service.search(s, schemas.CatalogQuery(sort="most_enrolled"))
        await service.similar_courses(s, str(base.id))
    finally:
        event.remove(sync_conn, "before_cursor_execute", capture)
    search_q, search_sorted, _target, similar = statements
    assert " LIMIT 8)" in search_q
    assert " LIMIT 21)" in search_sorted
    assert f" LIMIT {service.CO_ENROLLMENT_SAMPLE})" in similar
    assert f" LIMIT {service.SIMILAR_LIMIT})" in similar
