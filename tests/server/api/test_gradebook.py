"""The gradebook over HTTP: staff set categories and items, enter scores and overrides and read
the table and its CSV; a student reads their own released grades only; bad input gets 422
problems with stable codes."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from lms_core.accounts.models import Role
from lms_core.grading.models import Grade, GradeStatus
from tests.server.api.test_courses import (
    People,
    add_lesson,
    add_module,
    new_course,
    ok,
    people,
    problem,
)

__all__ = ["people"]


class Course:
    def __init__(self, people: People) -> None:
        self.people = people
        self.owner: Any = None
        self.ta: Any = None
        self.student: Any = None
        self.classmate: Any = None
        self.id = ""
        self.lessons: dict[str, str] = {}

    async def build(self) -> Course:
        p = self.people
        self.owner = await p.user("owner", Role.INSTRUCTOR)
        self.id = (await new_course(self.owner))["id"]
        module = await add_module(self.owner, self.id)
        for title, kind in (("Quiz 1", "quiz"), ("Essay", "assignment"), ("Reading", "text")):
            self.lessons[title] = (await add_lesson(self.owner, module, title, kind=kind))["id"]
        await ok(await self.owner.post(f"/api/v1/courses/{self.id}/publish"))
        self.ta = await p.user("ta")
        await ok(
            await self.owner.put(
                f"/api/v1/courses/{self.id}/staff/{p.ids['ta']}",
                json={"role": "teaching_assistant"},
            )
        )
        self.student = await p.user("student")
        self.classmate = await p.user("=classmate")  # a name a spreadsheet would run
        for label in ("student", "=classmate"):
            await p.enroll(label, self.id)
        return self

    def sid(self, label: str) -> str:
        return self.people.ids[label]

    async def grade(
        self, lesson: str, label: str, points: float, max_points: float, status: GradeStatus
    ) -> None:
        async with self.people.database.sessions() as session:
            session.add(
                Grade(
                    lesson_id=uuid.UUID(self.lessons[lesson]),
                    course_id=uuid.UUID(self.id),
                    student_id=uuid.UUID(self.sid(label)),
                    status=status,
                    points=points,
                    max_points=max_points,
                    feedback_html=f"<p>feedback {label} {lesson}</p>",
                )
            )
            await session.commit()

    def url(self, tail: str = "") -> str:
        return f"/api/v1/courses/{self.id}/gradebook{tail}"


async def weighted(c: Course) -> dict[str, Any]:
    """Quizzes 40 %, assignments 60 %; a manual "Lab" item in assignments."""
    owner = c.owner
    quizzes = await ok(
        await owner.post(c.url("/categories"), json={"name": "Quizzes", "weight_percent": 40}), 201
    )
    assignments = await ok(
        await owner.post(c.url("/categories"), json={"name": "Assignments", "weight_percent": 60}),
        201,
    )
    items = {i["title"]: i for i in (await ok(await owner.get(c.url("/items"))))["items"]}
    assert {i["kind"] for i in items.values()} == {"quiz", "assignment"}
    for title, category in (("Quiz 1", quizzes), ("Essay", assignments)):
        await ok(
            await owner.patch(
                f"/api/v1/gradebook/items/{items[title]['id']}",
                json={"category_id": category["id"]},
            )
        )
    lab = await ok(
        await owner.post(
            c.url("/items"),
            json={"title": "Lab", "max_points": 20, "category_id": assignments["id"]},
        ),
        201,
    )
    assert lab["kind"] == "manual"
    await c.grade("Quiz 1", "student", 8, 10, GradeStatus.RELEASED)
    await c.grade("Essay", "student", 50, 100, GradeStatus.DRAFT)
    await c.grade("Quiz 1", "=classmate", 10, 10, GradeStatus.RELEASED)
    await ok(
        await c.ta.put(
            f"/api/v1/gradebook/items/{lab['id']}/scores/{c.sid('student')}", json={"points": 15}
        )
    )
    return {"quizzes": quizzes, "assignments": assignments, "items": items, "lab": lab}


async def test_student_sees_released_grades_and_running_total(people: People) -> None:
    c = await Course(people).build()
    w = await weighted(c)
    mine = await ok(await c.student.get(f"/api/v1/courses/{c.id}/my-grades"))
    # Quizzes 8/10 = 80 %; assignments: the essay is a draft, the lab 15/20 = 75 %.
    # 0.4*80 + 0.6*75 = 77.0 -> C
    assert (mine["percent"], mine["letter"], mine["passed"]) == (77.0, "C", None)
    rows = {i["item"]["title"]: i for i in mine["items"]}
    assert rows["Quiz 1"]["points"] == 8
    assert rows["Quiz 1"]["feedback_html"] == "<p>feedback student Quiz 1</p>"
    assert rows["Quiz 1"]["lesson_id"] == c.lessons["Quiz 1"]
    essay = rows["Essay"]
    assert (essay["points"], essay["status"], essay["feedback_html"]) == (None, None, None)
    assert {k["name"]: k["percent"] for k in mine["categories"]} == {
        "Quizzes": 80.0,
        "Assignments": 75.0,
    }
    text = str(mine)
    assert "classmate" not in text
    assert "feedback student Essay" not in text  # a draft's feedback
    # An override (with its reason) wins, and the student sees it at once.
    essay_item = w["items"]["Essay"]["id"]
    await ok(
        await c.ta.put(
            f"/api/v1/gradebook/items/{essay_item}/overrides/{c.sid('student')}",
            json={"points": 90, "reason": "late work accepted"},
        )
    )
    mine = await ok(await c.student.get(f"/api/v1/courses/{c.id}/my-grades"))
    # Assignments (90 + 15) / 120 = 87.5 %: 0.4*80 + 0.6*87.5 = 84.5 -> B
    assert (mine["percent"], mine["letter"]) == (84.5, "B")
    audit = await ok(await c.owner.get(c.url("/audit")))
    [entry] = audit["items"]
    assert (entry["item_title"], entry["old_points"], entry["new_points"]) == ("Essay", None, 90)
    assert entry["reason"] == "late work accepted"
    assert entry["changed_by"]["id"] == c.sid("ta")


async def test_staff_table_and_csv(people: People) -> None:
    c = await Course(people).build()
    w = await weighted(c)
    page = await ok(await c.ta.get(c.url("?limit=1")))
    assert [i["title"] for i in page["items"]] == ["Quiz 1", "Essay", "Lab"]
    [first] = page["students"]
    assert first["student"]["display_name"] == "=Classmate"  # names sort "=" before letters
    assert first["percent"] == 100.0
    page2 = await ok(await c.ta.get(c.url(f"?limit=1&cursor={page['next_cursor']}")))
    [student] = page2["students"]
    assert page2["next_cursor"] is None
    essay = student["scores"][w["items"]["Essay"]["id"]]
    assert essay == {"points": 50.0, "max_points": 100.0, "status": "draft", "overridden": False}
    assert student["categories"] == {w["quizzes"]["id"]: 80.0, w["assignments"]["id"]: 75.0}
    assert (student["percent"], student["letter"]) == (77.0, "C")

    resp = await c.owner.get(f"/api/v1/courses/{c.id}/gradebook.csv")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0] == [
        "email",
        "name",
        "Quiz 1 (100)",
        "Essay (100)",
        "Lab (20)",
        "Quizzes (%)",
        "Assignments (%)",
        "percent",
        "letter",
    ]
    by_name = {r[1]: r for r in rows[1:]}
    assert len(by_name) == 2
    assert by_name["'=Classmate"][2:] == ["10", "", "", "100", "", "100", "A"]
    # The draft essay is empty: the CSV holds what counts.
    assert by_name["Student"][2:] == ["8", "", "15", "80", "75", "77", "C"]


async def test_students_cannot_read_the_table_or_others(people: People) -> None:
    c = await Course(people).build()
    w = await weighted(c)
    for url in (c.url(), f"/api/v1/courses/{c.id}/gradebook.csv", c.url("/audit"), c.url("/items")):
        await problem(await c.student.get(url), 403, "not_course_staff")
    lab = w["lab"]["id"]
    await problem(
        await c.student.put(
            f"/api/v1/gradebook/items/{lab}/scores/{c.sid('student')}", json={"points": 20}
        ),
        403,
        "not_course_staff",
    )
    await problem(await c.owner.get(f"/api/v1/courses/{c.id}/my-grades"), 403, "students_only")
    outsider = await people.user("outsider")
    await problem(await outsider.get(f"/api/v1/courses/{c.id}/my-grades"), 403, "students_only")
    theirs = await ok(await c.classmate.get(f"/api/v1/courses/{c.id}/my-grades"))
    assert theirs["percent"] == 100.0
    assert "feedback student" not in str(theirs)
    # A TA grades but does not change the course's setup.
    await problem(
        await c.ta.post(c.url("/categories"), json={"name": "X", "weight_percent": 5}),
        403,
        "not_course_editor",
    )


async def test_bad_input_is_422_with_stable_codes(people: People) -> None:
    c = await Course(people).build()
    w = await weighted(c)
    owner = c.owner
    resp = await owner.post(c.url("/categories"), json={"name": "Neg", "weight_percent": -5})
    await problem(resp, 422, "validation_failed")
    assert (await resp.json())["errors"][0]["loc"] == ["body", "weight_percent"]
    quizzes = w["quizzes"]["id"]
    resp = await owner.patch(f"/api/v1/gradebook/categories/{quizzes}", json={"drop_lowest": 2})
    await problem(resp, 422, "drop_lowest_too_large")
    ok_drop = await owner.patch(f"/api/v1/gradebook/categories/{quizzes}", json={"drop_lowest": 1})
    assert (await ok(ok_drop))["drop_lowest"] == 1
    essay = w["items"]["Essay"]["id"]
    target = f"/api/v1/gradebook/items/{essay}/overrides/{c.sid('student')}"
    await problem(await owner.put(target, json={"points": 5}), 422, "override_reason_required")
    await problem(
        await owner.put(target, json={"points": 5, "reason": " "}), 422, "override_reason_required"
    )
    await problem(await owner.delete(target), 422, "override_reason_required")
    await problem(await owner.delete(target, json={"reason": "x"}), 404, "grade_override_not_found")
    await problem(
        await owner.put(target, json={"points": -1, "reason": "x"}), 422, "validation_failed"
    )
    await problem(
        await owner.put(
            f"/api/v1/gradebook/items/{essay}/scores/{c.sid('student')}", json={"points": 1}
        ),
        409,
        "not_manual_item",
    )
    await problem(
        await owner.put(
            c.url("/settings"), json={"letter_scale": [{"letter": "A", "min_percent": 50}]}
        ),
        422,
        "validation_failed",
    )
    await problem(await owner.get(c.url("?cursor=bm9wZQ")), 422, "invalid_cursor")
    await problem(
        await owner.post(c.url("/items"), json={"title": "Q", "kind": "quiz"}),
        422,
        "validation_failed",
    )
    await problem(await owner.delete(f"/api/v1/gradebook/items/{essay}"), 409, "lesson_item_fixed")
    await problem(
        await owner.patch(f"/api/v1/gradebook/items/{uuid.uuid4()}", json={}),
        404,
        "grade_item_not_found",
    )


async def test_settings_round_trip_and_letters(people: People) -> None:
    c = await Course(people).build()
    await weighted(c)
    default = await ok(await c.ta.get(c.url("/settings")))
    assert [s["letter"] for s in default["letter_scale"]] == ["A", "B", "C", "D", "F"]
    body = {
        "letter_scale": [
            {"letter": "Fail", "min_percent": 0},
            {"letter": "Pass", "min_percent": 75},
        ],
        "passing_percent": 75,
        "requires_passing_grade": True,
    }
    out = await ok(await c.owner.put(c.url("/settings"), json=body))
    assert [s["letter"] for s in out["letter_scale"]] == ["Pass", "Fail"]  # highest first
    assert out["requires_passing_grade"] is True
    mine = await ok(await c.student.get(f"/api/v1/courses/{c.id}/my-grades"))
    assert (mine["percent"], mine["letter"], mine["passed"]) == (77.0, "Pass", True)
