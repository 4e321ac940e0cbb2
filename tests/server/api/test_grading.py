"""Grading assignments over HTTP: rubrics, drafts the student cannot see until release, regrades
that need a reason and keep history, version conflicts, the late penalty, feedback files, the
queue, every submission as one zip, and grades in and out as CSV (all or nothing)."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from lms_core.accounts.models import User
from lms_core.clock import utcnow
from lms_core.grading.models import Grade, GradeRevision
from lms_core.mail.models import OutboxMessage
from server.state import Database
from tests.conftest import AppClient, ClientFactory
from tests.lms_core.storage import samples
from tests.server.api.test_assignments import Setup, form, submit
from tests.server.api.test_course_files import files_people
from tests.server.api.test_courses import add_lesson, add_module, ok, problem

PDF = samples.pdf() + b"%feedback\n"
RUBRIC = {
    "criteria": [
        {
            "title": "Argument",
            "description": "Is it convincing?",
            "levels": [{"title": "Weak", "points": 0}, {"title": "Strong", "points": 6}],
        },
        {
            "title": "Style",
            "levels": [{"title": "Poor", "points": 1}, {"title": "Good", "points": 4}],
        },
    ]
}


@pytest.fixture
def setup(make_client: ClientFactory, database: Database, tmp_path: Any) -> Setup:
    return Setup(files_people(make_client, database, tmp_path), tmp_path / "files", database)


async def user_id(setup: Setup, client: AppClient) -> str:
    me = await ok(await client.get("/api/v1/users/me"))
    return str(me["id"])


async def email_of(setup: Setup, uid: str) -> str:
    async with setup.database.sessions() as session:
        email = await session.scalar(select(User.email).where(User.id == uuid.UUID(uid)))
    assert email is not None
    return email


async def table_counts(setup: Setup) -> tuple[int, int]:
    async with setup.database.sessions() as session:
        grades = await session.scalar(select(func.count()).select_from(Grade))
        revisions = await session.scalar(select(func.count()).select_from(GradeRevision))
    return int(grades or 0), int(revisions or 0)


def grade_url(lesson: str, student: str) -> str:
    return f"/api/v1/lessons/{lesson}/grades/{student}"


# --- rubrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"criteria": []}, "criteria"),
        ({"criteria": [{"title": "A", "levels": []}]}, "levels"),
        ({"criteria": [{"title": "", "levels": [{"title": "x", "points": 1}]}]}, "title"),
        ({"criteria": [{"title": "A", "levels": [{"title": "x", "points": -1}]}]}, "points"),
        ({"criteria": [{"title": "A", "levels": [{"title": "x", "points": "NaN"}]}]}, "points"),
        (
            {
                "criteria": [
                    {"title": "A", "levels": [{"title": "x", "points": 1}]},
                    {"title": "a", "levels": [{"title": "y", "points": 1}]},
                ]
            },
            "criteria",
        ),
        (
            {
                "criteria": [
                    {
                        "title": "A",
                        "levels": [{"title": "x", "points": 1}, {"title": "X", "points": 2}],
                    }
                ]
            },
            "criteria",
        ),
        ({"criteria": [{"title": "A", "levels": [{"title": "x", "points": 1}]}], "x": 1}, "x"),
    ],
)
async def test_bad_rubrics_are_refused(setup: Setup, body: dict[str, Any], field: str) -> None:
    teacher, _, lesson = await setup.assignment()
    resp = await teacher.put(f"/api/v1/lessons/{lesson}/rubric", json=body)
    assert resp.status == 422, await resp.text()
    problem_body = await resp.json()
    assert problem_body["code"] == "validation_failed"
    assert any(field in e["loc"] for e in problem_body["errors"]), problem_body
    await problem(await teacher.get(f"/api/v1/lessons/{lesson}/rubric"), 404, "rubric_not_found")


async def test_rubric_lifecycle_and_who_may_set_it(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    rubric = await ok(await teacher.put(f"/api/v1/lessons/{lesson}/rubric", json=RUBRIC))
    assert rubric["max_points"] == 10
    assert [c["title"] for c in rubric["criteria"]] == ["Argument", "Style"]
    assert rubric["criteria"][0]["levels"][1] == {
        "id": rubric["criteria"][0]["levels"][1]["id"],
        "title": "Strong",
        "points": 6,
    }
    assert await ok(await teacher.get(f"/api/v1/lessons/{lesson}/rubric")) == rubric
    student = await setup.student(course)
    await problem(
        await student.put(f"/api/v1/lessons/{lesson}/rubric", json=RUBRIC), 403, "not_course_staff"
    )
    await problem(await student.get(f"/api/v1/lessons/{lesson}/rubric"), 403)
    # A lesson that is not graded has no rubric.
    module = await add_module(teacher, course, "Week 2")
    text = await add_lesson(teacher, module, kind="text", title="Reading")
    await problem(
        await teacher.put(f"/api/v1/lessons/{text['id']}/rubric", json=RUBRIC),
        409,
        "lesson_not_graded",
    )
    # Once a grade used it, it stays as it was.
    sid = await user_id(setup, student)
    scores = {c["id"]: c["levels"][0]["id"] for c in rubric["criteria"]}
    await ok(await teacher.put(grade_url(lesson, sid), json={"rubric_scores": scores}))
    await problem(
        await teacher.put(f"/api/v1/lessons/{lesson}/rubric", json=RUBRIC), 409, "rubric_in_use"
    )
    await problem(await teacher.delete(f"/api/v1/lessons/{lesson}/rubric"), 409, "rubric_in_use")
    _, _, other = await setup.assignment()
    await problem(await teacher.delete(f"/api/v1/lessons/{other}/rubric"), 403)


# --- grades ------------------------------------------------------------------------------------


async def test_draft_release_regrade_and_history(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment(points_possible=20)
    student = await setup.student(course)
    sid = await user_id(setup, student)
    submission = await ok(await submit(student, lesson), 201)
    rubric = await ok(await teacher.put(f"/api/v1/lessons/{lesson}/rubric", json=RUBRIC))
    argument, style = rubric["criteria"]
    await problem(await teacher.get(grade_url(lesson, sid)), 404, "grade_not_found")

    # Strong argument (6) + poor style (1) = 7 of 10 on the rubric = 14 of 20.
    scores = {argument["id"]: argument["levels"][1]["id"], style["id"]: style["levels"][0]["id"]}
    body = {"rubric_scores": scores, "feedback": "Good **work**.<script>x()</script>"}
    draft = await ok(await teacher.put(grade_url(lesson, sid), json=body))
    assert (draft["status"], draft["points"], draft["max_points"]) == ("draft", 14, 20)
    assert draft["version"] == 1
    assert draft["submission_id"] == submission["id"]
    assert draft["feedback_html"] == "<p>Good <strong>work</strong>.</p>"
    assert draft["rubric_scores"] == scores
    # A draft is the staff's: the student sees nothing yet.
    await problem(await student.get(f"/api/v1/lessons/{lesson}/my-grade"), 404, "grade_not_found")

    # A stale editor is told, not overwritten.
    await problem(
        await teacher.put(grade_url(lesson, sid), json={"points": 1, "expected_version": 0}),
        409,
        "grade_version_conflict",
    )
    draft = await ok(
        await teacher.put(grade_url(lesson, sid), json={"points": 15, "expected_version": 1})
    )
    assert (draft["points"], draft["rubric_scores"], draft["version"]) == (15, {}, 2)
    await problem(
        await teacher.put(grade_url(lesson, sid), json={"points": 21}), 422, "points_out_of_range"
    )
    await problem(
        await teacher.put(
            grade_url(lesson, sid),
            json={"rubric_scores": {argument["id"]: argument["levels"][0]["id"]}},
        ),
        422,
        "invalid_rubric_scores",
    )

    released = await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release", json={}))
    assert released == {"released": 1}
    mine = await ok(await student.get(f"/api/v1/lessons/{lesson}/my-grade"))
    assert (mine["status"], mine["points"], mine["version"]) == ("released", 15, 3)
    assert mine["feedback_html"] == draft["feedback_html"]
    assert mine["rubric"] is None  # graded with points, not the rubric
    again = await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release"))
    assert again == {"released": 0}

    # A regrade needs a reason, keeps the grade released and tells the student.
    await problem(
        await teacher.put(grade_url(lesson, sid), json={"points": 18}),
        422,
        "regrade_reason_required",
    )
    await problem(
        await teacher.put(grade_url(lesson, sid), json={"points": 18, "reason": "   "}),
        422,
        "regrade_reason_required",
    )
    regraded = await ok(
        await teacher.put(
            grade_url(lesson, sid),
            json={"points": 18, "reason": "Missed page 2", "expected_version": 3},
        )
    )
    assert (regraded["status"], regraded["points"], regraded["version"]) == ("released", 18, 4)
    email = await email_of(setup, sid)
    async with setup.database.sessions() as session:
        mail = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.to_address == email, OutboxMessage.template == "grade_changed"
            )
        )
    assert mail is not None
    assert "Missed page 2" in mail.body_text
    assert "18 / 20" in mail.body_text

    history = await ok(await teacher.get(f"/api/v1/grades/{regraded['id']}/history"))
    assert [(h["version"], h["status"], h["points"], h["reason"]) for h in history["items"]] == [
        (1, "draft", 14, None),
        (2, "draft", 15, None),
        (3, "released", 15, None),
        (4, "released", 18, "Missed page 2"),
    ]
    assert history["items"][0]["rubric_scores"] == scores
    mine = await ok(await student.get(f"/api/v1/lessons/{lesson}/my-grade"))
    assert mine["points"] == 18


async def test_students_cannot_grade_or_read_others_grades(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    alice, bob = await setup.student(course), await setup.student(course)
    alice_id, bob_id = await user_id(setup, alice), await user_id(setup, bob)
    await ok(await submit(alice, lesson), 201)
    grade = await ok(await teacher.put(grade_url(lesson, alice_id), json={"points": 50}))
    await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release"))
    before = await table_counts(setup)

    # Alice cannot edit her released grade, nor grade herself or Bob, nor read the staff views.
    await problem(await alice.put(grade_url(lesson, alice_id), json={"points": 100}), 403)
    await problem(await alice.put(grade_url(lesson, bob_id), json={"points": 0}), 403)
    await problem(await alice.get(grade_url(lesson, alice_id)), 403)
    await problem(await bob.get(grade_url(lesson, alice_id)), 403)
    await problem(await alice.get(f"/api/v1/grades/{grade['id']}/history"), 404)
    await problem(await bob.post(f"/api/v1/lessons/{lesson}/grades/release"), 403)
    await problem(await bob.get(f"/api/v1/lessons/{lesson}/grading-queue"), 403)
    await problem(await bob.get(f"/api/v1/lessons/{lesson}/grades.csv"), 403)
    await problem(await bob.get(f"/api/v1/lessons/{lesson}/submissions.zip"), 403)
    # Bob's own view is his (none), never Alice's.
    await problem(await bob.get(f"/api/v1/lessons/{lesson}/my-grade"), 404, "grade_not_found")
    assert (await ok(await alice.get(f"/api/v1/lessons/{lesson}/my-grade")))["points"] == 50
    # Staff of another course see nothing of this one's grades.
    stranger, _, _ = await setup.assignment()
    await problem(await stranger.get(grade_url(lesson, alice_id)), 403)
    await problem(await stranger.get(f"/api/v1/grades/{grade['id']}/history"), 404)
    # Someone who is not a student of the course cannot be graded.
    outsider = await setup.people.user("outsider")
    outsider_id = await user_id(setup, outsider)
    await problem(
        await teacher.put(grade_url(lesson, outsider_id), json={"points": 1}),
        404,
        "student_not_found",
    )
    assert await table_counts(setup) == before


async def test_the_late_penalty_is_applied_and_shown(setup: Setup) -> None:
    # Due two and a half days ago at 10% a started day: 3 days late, 30% off.
    teacher, course, lesson = await setup.assignment(
        due_at=(utcnow() - timedelta(days=2, hours=12)).isoformat(),
        penalty_percent_per_day=10,
        points_possible=50,
    )
    student = await setup.student(course)
    sid = await user_id(setup, student)
    submission = await ok(await submit(student, lesson), 201)
    assert submission["penalty_percent"] == 30
    grade = await ok(await teacher.put(grade_url(lesson, sid), json={"points": 40}))
    assert (grade["raw_points"], grade["penalty_percent"], grade["points"]) == (40, 30, 28)
    assert grade["max_points"] == 50
    queue = await ok(await teacher.get(f"/api/v1/lessons/{lesson}/grading-queue"))
    assert queue["items"][0]["late"] is True


async def test_feedback_files(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    student = await setup.student(course)
    sid = await user_id(setup, student)
    grade = await ok(await teacher.put(grade_url(lesson, sid), json={"points": 70}))
    data = FormData()
    data.add_field("file", PDF, filename="notes.pdf", content_type="application/pdf")
    meta = await ok(await teacher.post(f"/api/v1/grades/{grade['id']}/files", data=data), 201)
    assert meta["filename"] == "notes.pdf"
    assert meta["size"] == len(PDF)
    url = f"/api/v1/grades/{grade['id']}/files/{meta['id']}"
    # Not the student's while the grade is a draft.
    await problem(await student.get(url), 404)
    data = FormData()
    data.add_field("file", PDF, filename="x.pdf", content_type="application/pdf")
    await problem(await student.post(f"/api/v1/grades/{grade['id']}/files", data=data), 404)
    detail = await ok(await teacher.get(grade_url(lesson, sid)))
    assert [f["id"] for f in detail["files"]] == [meta["id"]]
    await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release"))
    resp = await student.get(url)
    assert resp.status == 200
    assert await resp.read() == PDF
    mine = await ok(await student.get(f"/api/v1/lessons/{lesson}/my-grade"))
    assert mine["files"][0]["sha256"] == meta["sha256"]
    await problem(await student.delete(url), 404)
    await ok(await teacher.delete(url), 204)
    await problem(await teacher.get(url), 404, "grade_file_not_found")
    await asyncio.sleep(0)
    assert not [k for k in await setup.stored() if "/grades/" in k]


async def test_the_queue_lists_ungraded_work_first(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    students = [await setup.student(course) for _ in range(4)]
    ids = [await user_id(setup, s) for s in students]
    for s in students:
        await ok(await submit(s, lesson), 201)
    # 0 released, 1 draft, 2 and 3 ungraded (2 handed in before 3).
    await ok(await teacher.put(grade_url(lesson, ids[0]), json={"points": 10}))
    await ok(
        await teacher.post(
            f"/api/v1/lessons/{lesson}/grades/release", json={"student_ids": [ids[0]]}
        )
    )
    await ok(await teacher.put(grade_url(lesson, ids[1]), json={"points": 20}))
    queue = await ok(await teacher.get(f"/api/v1/lessons/{lesson}/grading-queue"))
    assert [i["student"]["id"] for i in queue["items"]] == [ids[2], ids[3], ids[1], ids[0]]
    assert queue["items"][0]["grade"] is None
    assert queue["items"][0]["submission_id"]
    assert queue["items"][2]["grade"]["status"] == "draft"
    # Pages of one follow the same order.
    seen, cursor = [], None
    while True:
        url = f"/api/v1/lessons/{lesson}/grading-queue?limit=1"
        page = await ok(await teacher.get(url + (f"&cursor={cursor}" if cursor else "")))
        seen += [i["student"]["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[2], ids[3], ids[1], ids[0]]
    drafts = await ok(await teacher.get(f"/api/v1/lessons/{lesson}/grading-queue?status=draft"))
    assert [i["student"]["id"] for i in drafts["items"]] == [ids[1]]
    await problem(
        await teacher.get(f"/api/v1/lessons/{lesson}/grading-queue?cursor=bm9wZQ"),
        422,
        "invalid_cursor",
    )


# --- zip ---------------------------------------------------------------------------------------


async def test_zip_holds_every_latest_submission(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    alice, bob = await setup.student(course), await setup.student(course)
    first = samples.pdf() + b"%first\n"
    big = samples.pdf() + bytes(range(256)) * 2000  # several chunks
    await ok(
        await submit(alice, lesson, form("Old text", (("old.pdf", first, "application/pdf"),))), 201
    )
    await ok(
        await submit(
            alice,
            lesson,
            form(
                "Alice's essay",
                (("a.pdf", big, "application/pdf"), ("a.pdf", PDF, "application/pdf")),
            ),
        ),
        201,
    )
    await ok(await submit(bob, lesson, form(None, (("b.pdf", PDF, "application/pdf"),))), 201)
    alice_email = await email_of(setup, await user_id(setup, alice))
    bob_email = await email_of(setup, await user_id(setup, bob))
    resp = await teacher.get(f"/api/v1/lessons/{lesson}/submissions.zip")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    assert archive.testzip() is None
    contents = {name: archive.read(name) for name in archive.namelist()}
    assert contents == {
        f"{alice_email}/submission.txt": b"Alice's essay",
        f"{alice_email}/a.pdf": big,
        f"{alice_email}/a (2).pdf": PDF,
        f"{bob_email}/b.pdf": PDF,
    }
    # Quizzes have no submissions to zip.
    module = await add_module(teacher, course, "Quizzes")
    quiz = await add_lesson(teacher, module, kind="quiz", title="Q")
    await problem(
        await teacher.get(f"/api/v1/lessons/{quiz['id']}/submissions.zip"),
        409,
        "lesson_not_assignment",
    )


# --- CSV ---------------------------------------------------------------------------------------


def csv_body(*rows: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


async def post_csv(
    client: AppClient, lesson: str, text: str, content_type: str = "text/csv"
) -> Any:
    return await client.post(
        f"/api/v1/lessons/{lesson}/grades.csv",
        data=text.encode(),
        headers={"Content-Type": content_type},
    )


async def test_csv_upload_is_all_or_nothing(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment(points_possible=10)
    alice, bob = await setup.student(course), await setup.student(course)
    alice_id, bob_id = await user_id(setup, alice), await user_id(setup, bob)
    a, b = await email_of(setup, alice_id), await email_of(setup, bob_id)
    c, d, e = [
        await email_of(setup, await user_id(setup, await setup.student(course))) for _ in range(3)
    ]
    before = await table_counts(setup)
    bad = csv_body(
        ("email", "points", "feedback"),
        (a, "7", "ok"),
        ("nobody@example.com", "5", ""),
        (b, "seven", ""),
        (c, "11", ""),
        (a.upper(), "3", ""),
        (d, "-1", ""),
        (e, "inf", ""),
        (c, "1", ""),
    )
    resp = await post_csv(teacher, lesson, bad)
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert body["code"] == "invalid_grades_csv"
    assert [(e["line"], e["code"]) for e in body["errors"]] == [
        (3, "unknown_student"),
        (4, "invalid_points"),
        (5, "points_out_of_range"),
        (6, "duplicate_student"),
        (7, "points_out_of_range"),
        (8, "invalid_points"),
        (9, "duplicate_student"),
    ]
    assert await table_counts(setup) == before  # nothing changed, not even line 2
    resp = await post_csv(teacher, lesson, "mail,score\nx,1\n")
    assert (await resp.json())["errors"] == [
        {
            "line": 1,
            "code": "invalid_header",
            "detail": "The first line must be: email,points,feedback",
        }
    ]
    await problem(await post_csv(teacher, lesson, "email,points\n", "application/json"), 415)
    await problem(await post_csv(alice, lesson, csv_body(("email", "points", "feedback"))), 403)

    good = csv_body(("email", "points", "feedback"), (a, "7.5", "Nice *work*"), (b, "", ""))
    assert await ok(await post_csv(teacher, lesson, good)) == {"updated": 1}
    grade = await ok(await teacher.get(grade_url(lesson, alice_id)))
    assert (grade["points"], grade["status"]) == (7.5, "draft")
    assert grade["feedback_html"] == "<p>Nice <em>work</em></p>"
    await problem(await teacher.get(grade_url(lesson, bob_id)), 404)

    exported = await teacher.get(f"/api/v1/lessons/{lesson}/grades.csv")
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await exported.text())))
    assert rows[0] == ["email", "points", "feedback", "status"]
    assert sorted(rows[1:]) == sorted(
        [[a, "7.5", "Nice *work*", "draft"], *[[x, "", "", ""] for x in (b, c, d, e)]]
    )
    # The export goes back in unchanged; a released grade is not changed by a CSV.
    assert await ok(await post_csv(teacher, lesson, await exported.text())) == {"updated": 0}
    await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release"))
    resp = await post_csv(teacher, lesson, csv_body(("email", "points", "feedback"), (a, "2", "")))
    assert [(e["line"], e["code"]) for e in (await resp.json())["errors"]] == [
        (2, "grade_released")
    ]


async def test_a_resubmission_after_grading_is_to_grade_again(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    student = await setup.student(course)
    sid = await user_id(setup, student)
    await ok(await submit(student, lesson), 201)
    await ok(await teacher.put(grade_url(lesson, sid), json={"points": 60}))
    await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release"))
    ungraded = f"/api/v1/lessons/{lesson}/grading-queue?status=ungraded"
    assert (await ok(await teacher.get(ungraded)))["items"] == []
    second = await ok(await submit(student, lesson, form("Better essay")), 201)
    [item] = (await ok(await teacher.get(ungraded)))["items"]
    assert item["submission_id"] == second["id"]
    assert item["grade"]["status"] == "released"
    regraded = await ok(
        await teacher.put(grade_url(lesson, sid), json={"points": 80, "reason": "Resubmitted"})
    )
    assert regraded["submission_id"] == second["id"]
    assert (await ok(await teacher.get(ungraded)))["items"] == []
