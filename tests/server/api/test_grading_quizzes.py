"""Grading quizzes over HTTP: an auto-graded result is released at once and follows the quiz's
scoring policy (highest, last, average over the submitted attempts); an attempt with an essay
waits in the queue as a draft without points until staff grade the essay, which completes the
attempt's score; the student sees it once released."""

from __future__ import annotations

from typing import Any

import pytest

from lms_core.question_banks.models import QuestionType
from tests.server.api.test_courses import People, ok, people, problem
from tests.server.api.test_quizzes import Classroom, key_of

__all__ = ["people"]

SINGLE, ESSAY = QuestionType.SINGLE_CHOICE, QuestionType.ESSAY
WRONG = {"type": "single_choice", "option_id": "a"}


async def take(room: Classroom, answers: dict[QuestionType, Any]) -> dict[str, Any]:
    attempt = await ok(await room.start(), 201)
    for kind, answer in answers.items():
        question = room.questions[kind]["id"]
        await ok(await room.save(attempt["id"], question, answer, 1))
    url = f"/api/v1/quiz-attempts/{attempt['id']}/submit"
    return await ok(await room.student.post(url))  # type: ignore[no-any-return]


def grades_url(room: Classroom) -> str:
    return f"/api/v1/lessons/{room.lesson_id}/grades/{room.people.ids['student']}"


@pytest.mark.parametrize(
    ("scoring", "expected"),
    [("highest", (2, 2)), ("last", (2, 0)), ("average", (2, 1))],
)
async def test_the_scoring_policy_picks_the_attempt(
    people: People, scoring: str, expected: tuple[float, float]
) -> None:
    room = await Classroom(people).build(kinds=(SINGLE,))
    await room.set_quiz(scoring=scoring, attempts_allowed=3)
    mine = f"/api/v1/lessons/{room.lesson_id}/my-grade"
    await problem(await room.student.get(mine), 404, "grade_not_found")

    right = key_of(room.questions[SINGLE], SINGLE)
    first = await take(room, {SINGLE: right})
    assert first["score"] == 2
    grade = await ok(await room.student.get(mine))  # released at once: nothing to grade by hand
    assert (grade["status"], grade["points"], grade["max_points"]) == ("released", 2, 2)
    assert grade["attempt_id"] == first["id"]

    second = await take(room, {SINGLE: WRONG})
    assert second["score"] == 0
    grade = await ok(await room.student.get(mine))
    assert (grade["points"], grade["max_points"]) == (expected[1], 2)
    counted = {"highest": first["id"], "last": second["id"], "average": second["id"]}[scoring]
    assert grade["attempt_id"] == counted
    # A revision for each change of the result (the highest stays the first attempt's).
    changes = [2] if scoring == "highest" else list(expected)
    staff_view = await ok(await room.owner.get(grades_url(room)))
    assert staff_view["version"] == len(changes)
    history = await ok(await room.owner.get(f"/api/v1/grades/{grade['id']}/history"))
    assert [h["points"] for h in history["items"]] == changes
    assert {h["changed_by"] for h in history["items"]} == {None}  # the quiz, not a person


async def test_an_essay_waits_for_a_person_then_completes_the_score(people: People) -> None:
    room = await Classroom(people).build(kinds=(SINGLE, ESSAY))
    await room.set_quiz()
    essay_id = room.questions[ESSAY]["id"]
    single_id = room.questions[SINGLE]["id"]
    right = key_of(room.questions[SINGLE], SINGLE)
    attempt = await take(room, {SINGLE: right, ESSAY: {"type": "essay", "text": "My essay."}})
    assert (attempt["score"], attempt["needs_manual"]) == (2, True)
    mine = f"/api/v1/lessons/{room.lesson_id}/my-grade"
    await problem(await room.student.get(mine), 404, "grade_not_found")

    queue = await ok(await room.owner.get(f"/api/v1/lessons/{room.lesson_id}/grading-queue"))
    [item] = queue["items"]
    assert item["attempt_id"] == attempt["id"]
    assert item["grade"]["status"] == "draft"
    assert item["grade"]["points"] is None  # ungraded: the essay has no points yet
    ungraded = f"/api/v1/lessons/{room.lesson_id}/grading-queue?status=ungraded"
    assert len((await ok(await room.owner.get(ungraded)))["items"]) == 1
    # Nothing to release while it has no points.
    release = f"/api/v1/lessons/{room.lesson_id}/grades/release"
    assert await ok(await room.owner.post(release)) == {"released": 0}

    url = grades_url(room)
    await problem(
        await room.owner.put(url, json={"question_points": {single_id: 1}}),
        422,
        "invalid_question_points",
    )
    await problem(
        await room.owner.put(url, json={"question_points": {essay_id: 10.5}}),
        422,
        "invalid_question_points",
    )
    await problem(await room.student.put(url, json={"question_points": {essay_id: 10}}), 403)
    graded = await ok(
        await room.owner.put(
            url, json={"question_points": {essay_id: 7}, "feedback": "Well argued."}
        )
    )
    assert (graded["status"], graded["points"], graded["max_points"]) == ("draft", 9, 12)
    assert graded["question_points"] == {essay_id: 7}
    # The attempt's own score is complete now.
    result = await ok(await room.student.get(f"/api/v1/quiz-attempts/{attempt['id']}"))
    assert (result["score"], result["needs_manual"]) == (9, False)
    essay_result = next(r for r in result["review"] if r["question_id"] == essay_id)
    assert essay_result["points"] == 7
    await problem(await room.student.get(mine), 404, "grade_not_found")  # still a draft

    assert await ok(await room.owner.post(release)) == {"released": 1}
    grade = await ok(await room.student.get(mine))
    assert (grade["status"], grade["points"]) == ("released", 9)
    assert grade["feedback_html"] == "<p>Well argued.</p>"
    # Changing it now is a regrade: a reason, and the student is told.
    await problem(
        await room.owner.put(url, json={"question_points": {essay_id: 9}}),
        422,
        "regrade_reason_required",
    )
    regraded = await ok(
        await room.owner.put(
            url, json={"question_points": {essay_id: 9}, "reason": "Second reading"}
        )
    )
    assert (regraded["status"], regraded["points"]) == ("released", 11)


async def test_quiz_grades_take_no_rubric_and_need_an_attempt(people: People) -> None:
    room = await Classroom(people).build(kinds=(SINGLE,))
    await room.set_quiz()
    url = grades_url(room)
    await problem(await room.owner.put(url, json={"points": 1}), 409, "nothing_to_grade")
    await take(room, {SINGLE: WRONG})
    await problem(
        await room.owner.put(url, json={"rubric_scores": {}, "reason": "x"}), 422, "no_rubric"
    )
    await problem(
        await room.owner.put(url, json={"points": 3, "reason": "x"}), 422, "points_out_of_range"
    )
    override = await ok(await room.owner.put(url, json={"points": 1, "reason": "Partly right"}))
    assert (override["points"], override["status"]) == (1, "released")


async def test_a_later_attempt_with_an_essay_keeps_the_released_grade_until_graded(
    people: People,
) -> None:
    room = await Classroom(people).build(kinds=(SINGLE, ESSAY))
    single = {"question_id": room.questions[SINGLE]["id"]}
    quiz_url = f"/api/v1/lessons/{room.lesson_id}/quiz"
    settings = {"items": [single], "scoring": "last", "attempts_allowed": 2}
    await ok(await room.owner.put(quiz_url, json=settings))
    right = key_of(room.questions[SINGLE], SINGLE)
    await take(room, {SINGLE: right})
    mine = f"/api/v1/lessons/{room.lesson_id}/my-grade"
    assert (await ok(await room.student.get(mine)))["points"] == 2
    # The quiz gains an essay; the second (last) attempt waits for a person.
    await room.set_quiz(scoring="last", attempts_allowed=2)
    essay_id = room.questions[ESSAY]["id"]
    second = await take(room, {SINGLE: right, ESSAY: {"type": "essay", "text": "Later."}})
    assert second["needs_manual"] is True
    grade = await ok(await room.student.get(mine))
    assert (grade["status"], grade["points"]) == ("released", 2)  # the first attempt's
    assert grade["attempt_id"] == second["id"]  # the one to grade now
    queue = f"/api/v1/lessons/{room.lesson_id}/grading-queue?status=ungraded"
    [item] = (await ok(await room.owner.get(queue)))["items"]
    assert item["attempt_id"] == second["id"]
    assert item["grade"]["status"] == "released"

    graded = await ok(
        await room.owner.put(
            grades_url(room),
            json={"question_points": {essay_id: 7}, "reason": "Essay of attempt 2 graded"},
        )
    )
    assert (graded["points"], graded["max_points"], graded["attempt_id"]) == (9, 12, second["id"])
    assert (await ok(await room.student.get(mine)))["points"] == 9
    assert (await ok(await room.owner.get(queue)))["items"] == []
