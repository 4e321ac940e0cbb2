"""Seed a catalog-sized database fast: 10,000 courses, 200,000 lessons, 100,000 enrollments.

Rows go in with PostgreSQL COPY (asyncpg ``copy_records_to_table``); the generated
``courses.search_vector`` and every index are maintained by the server as the rows arrive.

    python bench/seed_catalog.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

creates a scratch database on that server, migrates it, seeds it, prints the timings and drops
it (``--keep`` leaves it for inspection). ``bench/catalog.py`` calls ``seed()`` the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.db import create_engine
from lms_core.migrate import migrate

WORDS = [
    "python",
    "rust",
    "kubernetes",
    "docker",
    "statistics",
    "algebra",
    "calculus",
    "painting",
    "photography",
    "guitar",
    "piano",
    "marketing",
    "finance",
    "accounting",
    "chemistry",
    "biology",
    "physics",
    "astronomy",
    "history",
    "poetry",
    "spanish",
    "french",
    "german",
    "japanese",
    "cooking",
    "baking",
    "nutrition",
    "yoga",
    "running",
    "chess",
    "writing",
    "design",
    "typography",
    "excel",
    "sql",
    "postgres",
    "networking",
    "security",
    "cloud",
    "linux",
    "javascript",
    "react",
    "testing",
    "leadership",
    "negotiation",
    "economics",
    "philosophy",
    "drawing",
    "sculpture",
    "gardening",
    "robotics",
]
ADJECTIVES = [
    "practical",
    "complete",
    "modern",
    "applied",
    "essential",
    "advanced",
    "hands-on",
    "rapid",
    "deep",
    "gentle",
]
# Descriptions draw from a larger vocabulary, as real ones do: a search word then matches a
# few percent of the catalog rather than half of it.
FILLER = [
    a + b + c
    for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu")
    for b in ("bar", "dren", "fel", "gost", "hin", "jat", "kol", "lum", "mor", "nix")
    for c in ("a", "e", "i", "o", "u", "an", "el", "is", "or", "um")
]
LEVELS = ("beginner", "intermediate", "advanced", "all")
LANGUAGES = ("en", "en", "en", "es", "fr", "de")
KINDS = ("text", "video", "video", "file", "link", "quiz")


@dataclass
class Seeded:
    published_ids: list[uuid.UUID] = field(default_factory=list)
    published_slugs: list[str] = field(default_factory=list)
    category_slugs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed(
    database_url: str,
    *,
    courses: int = 10_000,
    lessons: int = 200_000,
    enrollments: int = 100_000,
    students: int = 25_000,
    instructors: int = 500,
    rnd: random.Random | None = None,
    vacuum: bool = True,
) -> Seeded:
    rnd = rnd or random.Random(42)
    out = Seeded()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:

        async def copy(table: str, columns: list[str], records: list[tuple[object, ...]]) -> None:
            start = time.perf_counter()
            await conn.copy_records_to_table(table, records=records, columns=columns)
            out.timings[f"{table} ({len(records):,} rows)"] = time.perf_counter() - start

        user_cols = ["id", "email", "name", "password_hash", "role", "is_active"]
        teacher_ids = [uuid.uuid4() for _ in range(instructors)]
        student_ids = [uuid.uuid4() for _ in range(students)]
        await copy(
            "users",
            user_cols,
            [
                (u, f"t{i}@bench.example", f"Instructor {i}", "x", "instructor", True)
                for i, u in enumerate(teacher_ids)
            ]
            + [
                (u, f"s{i}@bench.example", f"Student {i}", "x", "student", True)
                for i, u in enumerate(student_ids)
            ],
        )

        category_ids = [uuid.uuid4() for _ in range(20)]
        out.category_slugs = [f"cat-{i}" for i in range(20)]
        await copy(
            "categories",
            ["id", "name", "slug"],
            [(c, f"Category {i}", out.category_slugs[i]) for i, c in enumerate(category_ids)],
        )

        course_ids = [uuid.uuid4() for _ in range(courses)]
        course_rows = []
        for i, cid in enumerate(course_ids):
            topic = rnd.sample(WORDS, 3)
            status = rnd.choices(("published", "draft", "archived"), (90, 5, 5))[0]
            slug = f"{topic[0]}-{i}"
            if status == "published":
                out.published_ids.append(cid)
                out.published_slugs.append(slug)
            description = " ".join(
                f"<p>{' '.join(rnd.choices(FILLER, k=12))} {topic[rnd.randrange(3)]}.</p>"
                for _ in range(rnd.randint(2, 6))
            )
            course_rows.append(
                (
                    cid,
                    slug,
                    f"{rnd.choice(ADJECTIVES).title()} {topic[0]} and {topic[1]}",
                    f"Learn {topic[0]}, {topic[1]} and some {topic[2]} step by step.",
                    description,
                    rnd.choice(category_ids),
                    rnd.choice(LEVELS),
                    rnd.choice(LANGUAGES),
                    rnd.sample(WORDS, rnd.randint(1, 4)),
                    rnd.choice((0, 0, 0, 1900, 4900, 9900)),
                    "USD",
                    status,
                    rnd.choice(teacher_ids),
                    now - timedelta(minutes=rnd.randint(0, 2_000_000))
                    if status != "draft"
                    else None,
                )
            )
        await copy(
            "courses",
            [
                "id",
                "slug",
                "title",
                "summary",
                "description_html",
                "category_id",
                "level",
                "language",
                "tags",
                "price_cents",
                "currency",
                "status",
                "owner_id",
                "published_at",
            ],
            course_rows,
        )

        # Lessons spread evenly: `lessons / courses` per course in modules of 5.
        per_course = lessons // courses
        module_rows, lesson_rows = [], []
        for cid in course_ids:
            mid = None
            for n in range(per_course):
                if n % 5 == 0:
                    mid = uuid.uuid4()
                    module_rows.append((mid, cid, f"Module {n // 5 + 1}", n // 5))
                lesson_rows.append(
                    (
                        uuid.uuid4(),
                        mid,
                        cid,
                        f"Lesson {n + 1}: {rnd.choice(WORDS)}",
                        rnd.choice(KINDS),
                        n % 5,
                        "<p>body</p>",
                        rnd.randint(3, 30),
                        n == 0,
                        True,
                    )
                )
        await copy("modules", ["id", "course_id", "title", "position"], module_rows)
        await copy(
            "lessons",
            [
                "id",
                "module_id",
                "course_id",
                "title",
                "kind",
                "position",
                "body_html",
                "estimated_minutes",
                "is_preview",
                "is_required",
            ],
            lesson_rows,
        )

        # Skewed popularity (a few courses have hundreds of students, most a handful).
        weights = [1.0 / (rank + 10) for rank in range(courses)]
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < enrollments:
            picks = rnd.choices(range(courses), weights, k=enrollments - len(pairs))
            pairs.update((c, rnd.randrange(students)) for c in picks)
        await copy(
            "enrollments",
            ["id", "course_id", "user_id", "status", "source", "enrolled_at"],
            [
                (
                    uuid.uuid4(),
                    course_ids[c],
                    student_ids[s],
                    "active" if rnd.random() < 0.95 else "cancelled",
                    "self",
                    now,
                )
                for c, s in pairs
            ],
        )
        # Each enrollment's trigger rewrote its course's row (enrollment_count is indexed, so
        # no HOT update): 100,000 dead versions of 10,000 courses, a 10x heap and GIN index.
        # A server's autovacuum keeps a table like this near its live size; the benchmark
        # server runs with autovacuum off, so without this every scan of courses read ten
        # times the pages production would (docs/benchmarks.md "Catalog").
        start = time.perf_counter()
        if vacuum:
            await conn.execute("VACUUM (FULL) courses")
            await conn.execute("VACUUM (ANALYZE)")
            out.timings["VACUUM FULL courses, VACUUM ANALYZE"] = time.perf_counter() - start
        else:
            await conn.execute("ANALYZE")
            out.timings["ANALYZE"] = time.perf_counter() - start
    finally:
        await conn.close()
    return out


async def admin_sql(server_url: str, sql: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def create_scratch(server_url: str) -> tuple[str, str]:
    """A new migrated database on the server: (its name, its URL)."""
    name = f"seminar_bench_{uuid.uuid4().hex[:8]}"
    await admin_sql(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    await migrate(engine)
    await engine.dispose()
    return name, url


async def main(args: argparse.Namespace) -> None:
    name, url = await create_scratch(args.database_url)
    try:
        start = time.perf_counter()
        seeded = await seed(url, vacuum=not args.no_vacuum)
        total = time.perf_counter() - start
        for what, seconds in seeded.timings.items():
            print(f"{what:>32}: {seconds:6.2f} s")
        print(f"{'total':>32}: {total:6.2f} s  ({len(seeded.published_ids):,} published courses)")
        if args.keep:
            print(f"kept database {name}")
    finally:
        if not args.keep:
            await admin_sql(args.database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="skip the final VACUUM (leaves the courses table as bloated as the load made it)",
    )
    asyncio.run(main(parser.parse_args()))
