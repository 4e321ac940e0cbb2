"""A course with N students x M graded items: the full gradebook computation, one grade change
applied and seen, and the staff table's first page and CSV over HTTP.

Issue 6 §10 b. Moodle's gradebook recalculation is a known bottleneck (see docs/benchmarks.md).

Seeding (a scratch database created on the given server, migrated, dropped afterwards), in bulk:
multi-row INSERTs for the instructor, N students (each with an access token) and their
enrollments, the course, one module and M lessons (60 % quizzes, 40 % assignments); COPY for the
N x M grades (90 % released, 10 % drafts, points 0-10 of 10; as a superuser, without the
foreign-key triggers for that transaction). The gradebook's items are made by its own first
read; then three categories (quizzes 30 % dropping the lowest 2, assignments 50 %, attendance
20 %), an extra-credit manual item with a score for every student, an attendance item over 10
ended live sessions (each student was in some of them), and N / 20 overrides.

Measured (median of ``--repeat`` runs, each in a fresh transaction):

  full       every student's totals at once: ``engine.all_totals`` (a few set-based queries,
             then the arithmetic in Python)
  naive      the baseline: ``standing.course_standing`` once per student, one after another
             (the per-student recomputation; on ``--naive`` students, extrapolated to N when
             fewer; every total it gives is checked against the full computation's)
  change     one grade changed (UPDATE grades) and that student's new total read back
             (``course_standing``), committed; against the same change followed by a full
             recomputation
  http       over a real ``seminar serve``: GET /courses/{id}/gradebook (the first page, 50
             students, every item) and GET /courses/{id}/gradebook.csv (everyone, streamed;
             time to first byte and to the end), against GET /users/me as the floor

    python bench/gradebook.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python bench/gradebook.py --database-url ... --students 20 --items 5 --repeat 1 --out r.jsonl

The machine is shared and noisy: compare the ratios printed for the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, make_url, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quiz_start import admin_sql, start_server, stop, wait_http

from lms_core.accounts.models import AccessToken, Role, User
from lms_core.accounts.tokens import hash_token, new_access_token
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus, Lesson, LessonKind, Module
from lms_core.db import create_engine
from lms_core.enrollment.models import Enrollment
from lms_core.gradebook import engine as gradebook
from lms_core.gradebook import standing
from lms_core.gradebook.models import (
    GradeCategory,
    GradeItem,
    GradeItemScore,
    GradeOverride,
    ItemKind,
)
from lms_core.live.models import LiveRole, LiveSession, LiveSessionStatus
from lms_core.live.room_models import (
    LiveAttendanceInterval,
    LiveParticipant,
    LiveRoom,
)
from lms_core.migrate import migrate

LIVE_SESSIONS = 10
PAGE = 50


@dataclass
class Seeded:
    instructor_token: str = ""
    instructor: uuid.UUID = field(default_factory=uuid.uuid4)
    course: uuid.UUID = field(default_factory=uuid.uuid4)
    students: list[uuid.UUID] = field(default_factory=list)
    lessons: list[uuid.UUID] = field(default_factory=list)


def rows_of(n: int, make: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    return [make(i) for i in range(n)]


async def seed(engine: AsyncEngine, students: int, items: int, rng: random.Random) -> Seeded:
    s = Seeded()
    now = utcnow()
    token = new_access_token()
    s.instructor_token = token
    s.students = [uuid.uuid4() for _ in range(students)]
    users = [
        {
            "id": s.instructor,
            "email": "gradebook-bench-instructor@example.com",
            "name": "Instructor",
            "password_hash": "!bench",
            "role": Role.INSTRUCTOR,
            "email_verified_at": now,
        }
    ] + [
        {
            "id": uid,
            "email": f"gradebook-bench-{uid.hex[:12]}@example.com",
            "name": f"Student {i:05d}",
            "password_hash": "!bench",
            "role": Role.STUDENT,
            "email_verified_at": now,
        }
        for i, uid in enumerate(s.students)
    ]
    quizzes = round(items * 0.6)
    module = uuid.uuid4()
    s.lessons = [uuid.uuid4() for _ in range(items)]
    async with engine.begin() as conn:
        await conn.execute(insert(User), users)
        await conn.execute(
            insert(AccessToken),
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": s.instructor,
                    "name": "gradebook bench",
                    "token_hash": hash_token(token),
                    "prefix": token[:12],
                    "last_used_at": now,
                }
            ],
        )
        await conn.execute(
            insert(Course),
            [
                {
                    "id": s.course,
                    "slug": f"gradebook-bench-{s.course.hex[:8]}",
                    "title": "Gradebook bench",
                    "owner_id": s.instructor,
                    "status": CourseStatus.PUBLISHED,
                    "published_at": now,
                }
            ],
        )
        await conn.execute(
            insert(Module), [{"id": module, "course_id": s.course, "title": "All", "position": 0}]
        )
        await conn.execute(
            insert(Lesson),
            [
                {
                    "id": lesson,
                    "module_id": module,
                    "course_id": s.course,
                    "title": f"{'Quiz' if n < quizzes else 'Assignment'} {n + 1}",
                    "kind": LessonKind.QUIZ if n < quizzes else LessonKind.ASSIGNMENT,
                    "position": n,
                }
                for n, lesson in enumerate(s.lessons)
            ],
        )
        await conn.execute(
            insert(Enrollment),
            [{"id": uuid.uuid4(), "course_id": s.course, "user_id": u} for u in s.students],
        )
        # The grades by COPY: N x M rows. As a superuser, without the foreign-key triggers for
        # this transaction (the rows are consistent by construction; the checks were 3/4 of
        # the seeding time).
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if await driver.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            await driver.execute("SET LOCAL session_replication_role = replica")
        records = []
        for student in s.students:
            for lesson in s.lessons:
                released = rng.random() < 0.9
                records.append(
                    (
                        uuid.uuid4(),
                        lesson,
                        s.course,
                        student,
                        "released" if released else "draft",
                        float(rng.randint(0, 10)),
                        10.0,
                        0,
                        1,
                        now,
                        now,
                        now if released else None,
                        "{}",
                        "{}",
                        "",
                        "",
                    )
                )
        await driver.copy_records_to_table(
            "grades",
            records=records,
            columns=[
                "id",
                "lesson_id",
                "course_id",
                "student_id",
                "status",
                "points",
                "max_points",
                "penalty_percent",
                "version",
                "created_at",
                "updated_at",
                "released_at",
                "rubric_scores",
                "question_points",
                "feedback_source",
                "feedback_html",
            ],
        )
    return s


async def gradebook_setup(
    sessions: async_sessionmaker[AsyncSession], s: Seeded, rng: random.Random
) -> None:
    """Items (the gradebook's own first read), categories, bonus, attendance, overrides."""
    async with sessions() as session, session.begin():
        await gradebook.sync_lesson_items(session, s.course)
        cats = {}
        for n, (name, weight, drop) in enumerate(
            (("Quizzes", 30.0, 2), ("Assignments", 50.0, 0), ("Attendance", 20.0, 0))
        ):
            row = GradeCategory(
                course_id=s.course, name=name, weight_percent=weight, drop_lowest=drop, position=n
            )
            session.add(row)
            cats[name] = row
        await session.flush()
        for kind, name in ((ItemKind.QUIZ, "Quizzes"), (ItemKind.ASSIGNMENT, "Assignments")):
            await session.execute(
                update(GradeItem)
                .where(GradeItem.course_id == s.course, GradeItem.kind == kind)
                .values(category_id=cats[name].id)
            )
        bonus = GradeItem(
            course_id=s.course,
            kind=ItemKind.MANUAL,
            title="Bonus",
            max_points=10,
            extra_credit=True,
            category_id=cats["Assignments"].id,
            position=1,
        )
        attendance = GradeItem(
            course_id=s.course,
            kind=ItemKind.ATTENDANCE,
            title="Attendance",
            max_points=100,
            category_id=cats["Attendance"].id,
            position=2,
        )
        session.add_all([bonus, attendance])
        await session.flush()
        await session.execute(
            insert(GradeItemScore),
            [
                {
                    "item_id": bonus.id,
                    "student_id": u,
                    "course_id": s.course,
                    "points": float(rng.randint(0, 10)),
                }
                for u in s.students
            ],
        )
        start = utcnow() - timedelta(days=30)
        lives = [uuid.uuid4() for _ in range(LIVE_SESSIONS)]
        await session.execute(
            insert(LiveSession),
            [
                {
                    "id": live,
                    "course_id": s.course,
                    "title": f"Class {n + 1}",
                    "scheduled_start": start + timedelta(days=n),
                    "duration_minutes": 60,
                    "status": LiveSessionStatus.ENDED,
                }
                for n, live in enumerate(lives)
            ],
        )
        await session.execute(insert(LiveRoom), [{"live_session_id": live} for live in lives])
        participants, intervals = [], []
        for n, live in enumerate(lives):
            joined = start + timedelta(days=n)
            for u in s.students:
                if rng.random() < 0.8:
                    pid = uuid.uuid4()
                    participants.append(
                        {
                            "id": pid,
                            "live_session_id": live,
                            "user_id": u,
                            "role": LiveRole.ATTENDEE,
                            "first_joined_at": joined,
                        }
                    )
                    intervals.append(
                        {
                            "id": uuid.uuid4(),
                            "participant_id": pid,
                            "joined_at": joined,
                            "left_at": joined + timedelta(minutes=50),
                        }
                    )
        await session.execute(insert(LiveParticipant), participants)
        await session.execute(insert(LiveAttendanceInterval), intervals)
        items = list(
            await session.scalars(
                select(GradeItem.id).where(
                    GradeItem.course_id == s.course, GradeItem.lesson_id.is_not(None)
                )
            )
        )
        overrides = {
            (rng.choice(items), rng.choice(s.students))
            for _ in range(max(1, len(s.students) // 20))
        }
        await session.execute(
            insert(GradeOverride),
            [
                {
                    "item_id": item,
                    "student_id": student,
                    "course_id": s.course,
                    "points": 10.0,
                    "reason": "bench",
                    "overridden_by": s.instructor,
                }
                for item, student in overrides
            ],
        )
    async with sessions() as session:
        await session.execute(text("ANALYZE"))


# --- measuring ---------------------------------------------------------------------------------


async def timed(repeat: int, run: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs and the last run's result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


async def full(
    sessions: async_sessionmaker[AsyncSession], course: uuid.UUID
) -> dict[uuid.UUID, float | None]:
    async with sessions() as session, session.begin():
        _, rows = await gradebook.all_totals(session, course)
    return {
        r.student_id: (
            round(r.totals.percent, 2) if r.totals and r.totals.percent is not None else None
        )
        for r in rows
    }


async def naive(
    sessions: async_sessionmaker[AsyncSession], course: uuid.UUID, students: list[uuid.UUID]
) -> dict[uuid.UUID, float | None]:
    out = {}
    async with sessions() as session, session.begin():
        for student in students:
            out[student] = (await standing.course_standing(session, course, student)).percent
    return out


async def change(
    sessions: async_sessionmaker[AsyncSession],
    s: Seeded,
    student: uuid.UUID,
    lesson: uuid.UUID,
    points: float,
    *,
    incremental: bool,
) -> float | None:
    """Change one released grade, then read the student's total (just them, or everyone)."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE grades SET points = :p, status = 'released', version = version + 1,"
                " updated_at = now() WHERE lesson_id = :l AND student_id = :s"
            ),
            {"p": points, "l": lesson, "s": student},
        )
        if incremental:
            return (await standing.course_standing(session, s.course, student)).percent
        _, rows = await gradebook.all_totals(session, s.course)
        row = next(r for r in rows if r.student_id == student)
        assert row.totals is not None
        return None if row.totals.percent is None else round(row.totals.percent, 2)


async def http_phase(base: str, s: Seeded, repeat: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {s.instructor_token}"}
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(base, headers=headers) as http:

        async def get(path: str) -> tuple[float, float, int, int]:
            began = time.perf_counter()
            async with http.get(path) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"GET {path}: {resp.status} {await resp.text()}")
                first = None
                size = lines = 0
                async for chunk in resp.content.iter_any():
                    if first is None:
                        first = time.perf_counter() - began
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            return first or 0.0, time.perf_counter() - began, size, lines

        await get("/api/v1/users/me")  # the connection, once
        for name, path in (
            ("floor", "/api/v1/users/me"),
            ("page", f"/api/v1/courses/{s.course}/gradebook?limit={PAGE}"),
            ("csv", f"/api/v1/courses/{s.course}/gradebook.csv"),
        ):
            runs = [await get(path) for _ in range(repeat)]
            out[name] = {
                "first_byte_s": statistics.median(r[0] for r in runs),
                "total_s": statistics.median(r[1] for r in runs),
                "bytes": runs[-1][2],
                "lines": runs[-1][3],
            }
    return out


def show(label: str, seconds: float, baseline: float | None = None, note: str = "") -> None:
    ratio = f"  x{baseline / seconds:8.1f} faster than the baseline" if baseline else ""
    print(f"  {label:<44} {seconds * 1000:10.1f} ms{ratio} {note}")


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    server_url = make_url(args.database_url)
    name = f"bench_gradebook_{uuid.uuid4().hex[:8]}"
    await admin_sql(
        server_url.set(database="postgres").render_as_string(hide_password=False),
        f'CREATE DATABASE "{name}"',
    )
    url = server_url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=4)
    rows: list[dict[str, Any]] = []
    try:
        await migrate(engine)
        began = time.perf_counter()
        s = await seed(engine, args.students, args.items, rng)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        await gradebook_setup(sessions, s, rng)
        seeded_s = time.perf_counter() - began
        print(
            f"gradebook bench: {args.students} students x {args.items} graded items "
            f"(+ a bonus and an attendance item); seeded in {seeded_s:.1f} s"
        )

        await full(sessions, s.course)  # warm the caches and the statements once
        full_s, totals = await timed(args.repeat, lambda: full(sessions, s.course))
        sample = s.students[: args.naive] if args.naive else s.students
        naive_s, naive_totals = await timed(1, lambda: naive(sessions, s.course, sample))
        naive_all = naive_s * len(s.students) / max(1, len(sample))
        mismatches = sum(naive_totals[u] != totals[u] for u in sample)
        one_s = naive_s / max(1, len(sample))

        student, lesson = rng.choice(s.students), rng.choice(s.lessons)
        inc_s, _ = await timed(
            args.repeat,
            lambda: change(
                sessions, s, student, lesson, float(rng.randint(0, 10)), incremental=True
            ),
        )
        rec_s, rec_total = await timed(
            args.repeat,
            lambda: change(sessions, s, student, lesson, 7.0, incremental=False),
        )
        check_total = await change(sessions, s, student, lesson, 7.0, incremental=True)
        change_ok = check_total == rec_total

        print(f"computation (median of {args.repeat})")
        show(f"full gradebook, {args.students} students", full_s, naive_all)
        show(
            f"naive: per-student standing x {len(sample)}",
            naive_s,
            note=f"(~{naive_all:.1f} s for all; {one_s * 1000:.1f} ms each)",
        )
        show("one grade change + that student's total", inc_s, rec_s)
        show("one grade change + full recomputation", rec_s)
        rows.append(
            {
                "phase": "compute",
                "students": args.students,
                "items": args.items,
                "full_s": full_s,
                "naive_s": naive_s,
                "naive_students": len(sample),
                "naive_all_s": naive_all,
                "mismatches": mismatches,
                "change_incremental_s": inc_s,
                "change_full_s": rec_s,
                "change_ok": change_ok,
                "students_with_total": sum(v is not None for v in totals.values()),
            }
        )
        print(
            f"  checks: naive and full totals differ for {mismatches} of {len(sample)}; "
            f"incremental == full after a change: {change_ok}"
        )

        if args.http:
            with tempfile.TemporaryDirectory(prefix="gbbench") as work:
                proc, port = start_server(url, Path(work), pool_size=8)
                try:
                    base = f"http://127.0.0.1:{port}"
                    await wait_http(f"{base}/healthz", proc)
                    http = await http_phase(base, s, args.repeat)
                finally:
                    stop(proc)
            floor = http["floor"]["total_s"]
            print(f"http (median of {args.repeat})")
            show("GET /users/me (floor)", floor)
            page = http["page"]
            show(
                f"GET gradebook, first page ({PAGE} students)",
                page["total_s"],
                note=f"({page['bytes'] / 1024:.0f} KiB, x{page['total_s'] / floor:.1f} the floor)",
            )
            c = http["csv"]
            show(
                "GET gradebook.csv, everyone (to the end)",
                c["total_s"],
                note=f"(first byte {c['first_byte_s'] * 1000:.1f} ms, {c['bytes'] / 1024:.0f} KiB)",
            )
            rows.append({"phase": "http", **http})
        ok = mismatches == 0 and change_ok
        rows.append({"phase": "check", "ok": ok})
        if args.out:
            text_out = "".join(json.dumps(r) + "\n" for r in rows)
            await asyncio.to_thread(Path(args.out).write_text, text_out)
        return 0 if ok else 1
    finally:
        await engine.dispose()
        await admin_sql(
            server_url.set(database="postgres").render_as_string(hide_password=False),
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (any db)")
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--items", type=int, default=100, help="graded lessons")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--naive", type=int, default=0, help="students the baseline runs for (0: all)"
    )
    parser.add_argument("--no-http", dest="http", action="store_false")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", help="write one JSON object per phase to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
