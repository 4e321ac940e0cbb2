"""Staff read a student's quiz attempt to grade it (GET /quiz-attempts/{id}/review): the
questions as drawn with their keys, the student's answers (an essay's text in full), each
question's points; for anyone else the attempt does not exist. An essay drawn from a pool is
graded like a fixed one, through the grade's question_points."""

from __future__ import annotations

import json
import uuid
from typing import Any

from lms_core.accounts.models import Role
from lms_core.question_banks.models import QuestionType
from tests.lms_core.question_banks.samples import SAMPLES
from tests.server.api.test_courses import People, new_course, ok, people, problem
from tests.server.api.test_question_banks import add_question, new_bank
from tests.server.api.test_quizzes import Classroom, key_of

__all__ = ["people"]

SINGLE, ESSAY = QuestionType.SINGLE_CHOICE, QuestionType.ESSAY
ESSAY_TEXT = "Birds migrate\nfor food and warmth.\n\n<b>Not HTML</b>, & no markup."


async def pool_quiz(people: People) -> tuple[Classroom, str]:
    """A quiz of one fixed single-choice question and one essay drawn from a pool; the
    student's submitted attempt (the essay waits for a person)."""
    room = await Classroom(people).build(kinds=(SINGLE,))
    pool = await new_bank(room.owner, room.course_id, "Essay pool")
    room.questions[ESSAY] = await add_question(room.owner, pool["id"], SAMPLES[ESSAY])
    items = [{"question_id": room.questions[SINGLE]["id"]}, {"bank_id": pool["id"], "count": 1}]
    await ok(
        await room.owner.put(
            f"/api/v1/lessons/{room.lesson_id}/quiz",
            json={"items": items, "show_answers": "never"},
        )
    )
    attempt = await ok(await room.start(), 201)
    single, essay = room.questions[SINGLE]["id"], room.questions[ESSAY]["id"]
    await ok(await room.save(attempt["id"], single, key_of(room.questions[SINGLE], SINGLE), 1))
    await ok(await room.save(attempt["id"], essay, {"type": "essay", "text": ESSAY_TEXT}, 1))
    done = await ok(await room.student.post(f"/api/v1/quiz-attempts/{attempt['id']}/submit"))
    assert (done["score"], done["needs_manual"]) == (2, True)
    return room, str(attempt["id"])


async def staff_member(people: People, room: Classroom, label: str, role: str) -> Any:
    client = await people.user(label, Role.INSTRUCTOR)
    url = f"/api/v1/courses/{room.course_id}/staff/{people.ids[label]}"
    await ok(await room.owner.put(url, json={"role": role}))
    return client


async def test_staff_read_the_attempt_with_the_essay_text_and_the_key(people: People) -> None:
    room, attempt_id = await pool_quiz(people)
    url = f"/api/v1/quiz-attempts/{attempt_id}/review"
    ta = await staff_member(people, room, "ta", "teaching_assistant")
    co = await staff_member(people, room, "co", "co_instructor")
    admin = await people.user("admin", Role.ADMIN)
    for reader in (room.owner, ta, co, admin):
        body = await ok(await reader.get(url))
        assert body["id"] == attempt_id
        assert (body["status"], body["score"], body["max_score"]) == ("submitted", 2, 12)
        assert body["needs_manual"] is True
        assert body["student"] == {
            "id": people.ids["student"],
            "display_name": "Student",
            "email": body["student"]["email"],
        }
        assert body["student"]["email"].startswith("student-")
        by_id = {q["question_id"]: q for q in body["questions"]}
        assert [q["position"] for q in body["questions"]] == [1, 2]
        essay = by_id[room.questions[ESSAY]["id"]]
        assert essay["type"] == "essay"
        assert essay["answer"] == {"type": "essay", "text": ESSAY_TEXT}  # in full, as saved
        assert essay["answered_at"] is not None
        assert (essay["points"], essay["max_points"], essay["needs_manual"]) == (None, 10, True)
        assert essay["definition"]["grader_notes"] == "keygradernotes"  # staff see the key
        assert "Discuss." in essay["prompt_html"]
        single = by_id[room.questions[SINGLE]["id"]]
        assert (single["points"], single["max_points"], single["needs_manual"]) == (2, 2, False)
        assert single["answer"] == key_of(room.questions[SINGLE], SINGLE)
        correct = [o["id"] for o in single["definition"]["options"] if o.get("correct")]
        assert correct == ["b"]
    # The student's own view keeps the key hidden (show_answers: never).
    own = await ok(await room.student.get(f"/api/v1/quiz-attempts/{attempt_id}"))
    assert "keygradernotes" not in json.dumps(own)


async def test_no_one_else_reads_an_attempt(people: People) -> None:
    room, attempt_id = await pool_quiz(people)
    url = f"/api/v1/quiz-attempts/{attempt_id}/review"
    classmate = await people.user("classmate")
    await people.enroll("classmate", room.course_id)
    outsider = await people.user("outsider")
    other = await people.user("other", Role.INSTRUCTOR)
    await new_course(other)  # the instructor of another course
    for stranger in (room.student, classmate, outsider, other):
        await problem(await stranger.get(url), 404, "attempt_not_found")
    anonymous = await people.anonymous()
    await problem(await anonymous.get(url), 401)
    unknown = f"/api/v1/quiz-attempts/{uuid.uuid4()}/review"
    await problem(await room.owner.get(unknown), 404, "attempt_not_found")
    await problem(await room.owner.get("/api/v1/quiz-attempts/nope/review"), 422)


async def test_a_pool_essay_is_graded_and_the_score_completes(people: People) -> None:
    room, attempt_id = await pool_quiz(people)
    url = f"/api/v1/quiz-attempts/{attempt_id}/review"
    manual = [
        q["question_id"]
        for q in (await ok(await room.owner.get(url)))["questions"]
        if q["needs_manual"]
    ]
    assert manual == [room.questions[ESSAY]["id"]]  # drawn from the pool, not in quiz.items
    grades = f"/api/v1/lessons/{room.lesson_id}/grades/{people.ids['student']}"
    graded = await ok(await room.owner.put(grades, json={"question_points": {manual[0]: 7.5}}))
    assert (graded["status"], graded["points"], graded["max_points"]) == ("draft", 9.5, 12)
    assert graded["question_points"] == {manual[0]: 7.5}
    body = await ok(await room.owner.get(url))
    assert (body["score"], body["needs_manual"]) == (9.5, False)
    essay = next(q for q in body["questions"] if q["question_id"] == manual[0])
    assert (essay["points"], essay["needs_manual"]) == (7.5, True)
