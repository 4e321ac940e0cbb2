"""Quizzes over HTTP: an instructor builds a quiz of every question type from a bank; a student
starts it (idempotently, also concurrently), autosaves answers (an older seq never overwrites a
newer answer), submits (concurrently: one result) and sees the result and, by the quiz's
policy, the answer key — never before. The server's deadline closes an attempt and submits its
last saved answers. The wrong users and bad input get problems."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lms_core.accounts.models import Role
from lms_core.question_banks.models import QuestionType
from lms_core.question_banks.schemas import QuestionIn
from tests.lms_core.question_banks.samples import KEY_MARKERS, SAMPLES, key_answer
from tests.server.api.test_courses import (
    People,
    add_lesson,
    add_module,
    new_course,
    ok,
    people,
    problem,
)
from tests.server.api.test_question_banks import add_question, new_bank

__all__ = ["people"]


class Classroom:
    def __init__(self, people: People) -> None:
        self.people = people
        self.owner: Any = None
        self.student: Any = None
        self.course_id = ""
        self.lesson_id = ""
        self.bank_id = ""
        self.questions: dict[QuestionType, dict[str, Any]] = {}

    async def build(self, *, kinds: tuple[QuestionType, ...] = tuple(SAMPLES)) -> Classroom:
        self.owner = await self.people.user("owner", Role.INSTRUCTOR)
        course = await new_course(self.owner)
        self.course_id = course["id"]
        module = await add_module(self.owner, self.course_id)
        self.lesson_id = (await add_lesson(self.owner, module, "Quiz 1", kind="quiz"))["id"]
        await ok(await self.owner.post(f"/api/v1/courses/{self.course_id}/publish"))
        self.bank_id = (await new_bank(self.owner, self.course_id))["id"]
        for kind in kinds:
            self.questions[kind] = await add_question(self.owner, self.bank_id, SAMPLES[kind])
        self.student = await self.people.user("student")
        await self.people.enroll("student", self.course_id)
        return self

    async def set_quiz(self, **settings: Any) -> dict[str, Any]:
        items = [{"question_id": q["id"]} for q in self.questions.values()]
        body = {"items": items, **settings}
        resp = await self.owner.put(f"/api/v1/lessons/{self.lesson_id}/quiz", json=body)
        return await ok(resp)  # type: ignore[no-any-return]

    async def start(self, client: Any = None) -> Any:
        return await (client or self.student).post(
            f"/api/v1/lessons/{self.lesson_id}/quiz/attempts"
        )

    async def save(self, attempt: str, question: str, answer: Any, seq: int) -> Any:
        return await self.student.put(
            f"/api/v1/quiz-attempts/{attempt}/answers/{question}",
            json={"answer": answer, "seq": seq},
        )


def key_of(question: dict[str, Any], kind: QuestionType) -> dict[str, Any]:
    return key_answer(QuestionIn.model_validate(SAMPLES[kind]).root).model_dump(mode="json")


def assert_no_key(body: Any) -> None:
    """No key material anywhere but in the student's own saved answers (which may be right)."""
    text = json.dumps({k: v for k, v in body.items() if k != "answers"})
    for marker in KEY_MARKERS:
        assert marker not in text, (marker, text)


async def test_a_student_takes_a_quiz_of_every_type(people: People) -> None:
    room = await Classroom(people).build()
    settings = await room.set_quiz(passing_percent=50, show_answers="after_submission")
    assert len(settings["items"]) == 8
    student_view = await ok(await room.student.get(f"/api/v1/lessons/{room.lesson_id}/quiz"))
    assert student_view["items"] is None  # which questions: the staff's business
    assert student_view["attempts_used"] == 0

    attempt = await ok(await room.start(), 201)
    again = await ok(await room.start(), 201)
    assert again["id"] == attempt["id"]  # start is idempotent
    assert attempt["status"] == "in_progress"
    assert len(attempt["questions"]) == 8
    assert_no_key(attempt)  # every type, before any answer
    url = f"/api/v1/quiz-attempts/{attempt['id']}"

    for kind, question in room.questions.items():
        saved = await ok(await room.save(attempt["id"], question["id"], key_of(question, kind), 2))
        assert (saved["seq"], saved["stored"]) == (2, True)
    # A late retry of an older answer: ignored, the newer one stays.
    single = room.questions[QuestionType.SINGLE_CHOICE]
    wrong = {"type": "single_choice", "option_id": "b"}
    stale = await ok(await room.save(attempt["id"], single["id"], wrong, 1))
    assert (stale["seq"], stale["stored"]) == (2, False)
    resumed = await ok(await room.student.get(url))  # e.g. after a reload
    assert len(resumed["answers"]) == 8
    assert_no_key(resumed)

    result = await ok(await room.student.post(f"{url}/submit"))
    essay = room.questions[QuestionType.ESSAY]
    objective = sum(
        q["question"]["points"] for k, q in room.questions.items() if k is not QuestionType.ESSAY
    )
    assert result["status"] == "submitted"
    assert result["score"] == objective  # full marks on every objective question
    assert result["needs_manual"] is True  # the essay waits for a person
    assert result["passed"] is None  # not decided before the essay is graded
    by_question = {r["question_id"]: r for r in result["review"]}
    assert by_question[essay["id"]]["points"] is None
    assert all(r["answer_key"] is not None for r in result["review"])  # policy: after submission
    assert any(marker in json.dumps(result) for marker in KEY_MARKERS)
    repeat = await ok(await room.student.post(f"{url}/submit"))
    assert (repeat["score"], repeat["submitted_at"]) == (result["score"], result["submitted_at"])
    closed = await room.save(attempt["id"], single["id"], wrong, 3)
    await problem(closed, 409, "attempt_closed")
    await problem(await room.start(), 409, "no_attempts_left")


async def test_answers_stay_hidden_until_the_policy_allows(people: People) -> None:
    room = await Classroom(people).build()
    for policy in ("never", "after_close"):
        closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        await room.set_quiz(show_answers=policy, closes_at=closes, attempts_allowed=None)
        attempt = await ok(await room.start(), 201)
        for kind, question in room.questions.items():
            await ok(await room.save(attempt["id"], question["id"], key_of(question, kind), 1))
        result = await ok(await room.student.post(f"/api/v1/quiz-attempts/{attempt['id']}/submit"))
        assert result["score"] > 0
        assert all(r["answer_key"] is None for r in result["review"]), policy
        assert_no_key(result)
        assert_no_key(await ok(await room.student.get(f"/api/v1/quiz-attempts/{attempt['id']}")))


async def test_the_deadline_is_the_servers(people: People) -> None:
    room = await Classroom(people).build(kinds=(QuestionType.TRUE_FALSE, QuestionType.NUMERIC))
    closes = datetime.now(UTC) + timedelta(seconds=2)
    await room.set_quiz(closes_at=closes.isoformat())
    attempt = await ok(await room.start(), 201)
    assert attempt["deadline_at"] is not None
    assert 0 < attempt["seconds_left"] <= 2
    true_false = room.questions[QuestionType.TRUE_FALSE]
    answer = key_of(true_false, QuestionType.TRUE_FALSE)
    await ok(await room.save(attempt["id"], true_false["id"], answer, 1))
    # the deadline (2 s) and the grace for a save in flight (2 s) pass
    await asyncio.sleep(4.5)
    late = await room.save(attempt["id"], true_false["id"], answer, 2)
    await problem(late, 409, "attempt_closed")
    after = await ok(await room.student.get(f"/api/v1/quiz-attempts/{attempt['id']}"))
    assert after["status"] == "submitted"
    assert after["auto_submitted"] is True
    assert after["score"] == true_false["question"]["points"]  # the answer saved in time counts
    assert after["submitted_at"] == after["deadline_at"]
    await problem(await room.start(), 409, "quiz_not_open")


async def test_pools_draw_from_the_tagged_questions(people: People) -> None:
    room = await Classroom(people).build(kinds=())
    tagged = []
    for n in range(3):
        body = {**SAMPLES[QuestionType.NUMERIC], "tags": ["week1"], "prompt": f"Q{n}"}
        tagged.append((await add_question(room.owner, room.bank_id, body))["id"])
    await add_question(room.owner, room.bank_id, {**SAMPLES[QuestionType.TRUE_FALSE], "tags": []})
    body = {"items": [{"bank_id": room.bank_id, "tag": "week1", "count": 2}]}
    await ok(await room.owner.put(f"/api/v1/lessons/{room.lesson_id}/quiz", json=body))
    attempt = await ok(await room.start(), 201)
    drawn = [q["id"] for q in attempt["questions"]]
    assert len(drawn) == 2
    assert set(drawn) <= set(tagged)
    too_many = {"items": [{"bank_id": room.bank_id, "tag": "week1", "count": 4}]}
    resp = await room.owner.put(f"/api/v1/lessons/{room.lesson_id}/quiz", json=too_many)
    await problem(resp, 422, "quiz_items_invalid")


async def test_the_wrong_users_and_bad_input(people: People) -> None:
    room = await Classroom(people).build(kinds=(QuestionType.TRUE_FALSE, QuestionType.NUMERIC))
    await room.set_quiz()
    attempt = await ok(await room.start(), 201)
    url = f"/api/v1/quiz-attempts/{attempt['id']}"
    true_false = room.questions[QuestionType.TRUE_FALSE]

    classmate = await people.user("classmate")
    await people.enroll("classmate", room.course_id)
    outsider = await people.user("outsider")
    # Another student's attempt does not exist for them: reading, saving, submitting.
    await problem(await classmate.get(url), 404, "attempt_not_found")
    answer = {"answer": {"type": "true_false", "value": True}, "seq": 1}
    await problem(
        await classmate.put(f"{url}/answers/{true_false['id']}", json=answer),
        404,
        "attempt_not_found",
    )
    await problem(await classmate.post(f"{url}/submit"), 404, "attempt_not_found")
    # The course's own staff do not take quizzes; a student does not change them.
    await problem(await room.start(room.owner), 403, "enrollment_required")
    resp = await room.student.put(f"/api/v1/lessons/{room.lesson_id}/quiz", json={"items": []})
    await problem(resp, 422, "validation_failed")
    resp = await room.student.put(
        f"/api/v1/lessons/{room.lesson_id}/quiz",
        json={"items": [{"question_id": true_false["id"]}]},
    )
    await problem(resp, 403, "not_course_editor")
    outsider_start = await room.start(outsider)
    assert outsider_start.status == 403
    # Another course's question cannot be put in this quiz.
    other = await Classroom(people).build(kinds=(QuestionType.TRUE_FALSE,))
    foreign = {"items": [{"question_id": other.questions[QuestionType.TRUE_FALSE]["id"]}]}
    resp = await room.owner.put(f"/api/v1/lessons/{room.lesson_id}/quiz", json=foreign)
    await problem(resp, 422, "quiz_items_invalid")
    # Answers that do not fit.
    numeric = {"type": "numeric", "value": 3}
    await problem(
        await room.save(attempt["id"], true_false["id"], numeric, 1), 422, "answer_type_mismatch"
    )
    await problem(
        await room.save(attempt["id"], other.questions[QuestionType.TRUE_FALSE]["id"], numeric, 1),
        404,
        "question_not_in_attempt",
    )
    bad = await room.student.put(
        f"{url}/answers/{true_false['id']}", json={"answer": {"type": "true_false"}, "seq": -1}
    )
    assert bad.status == 422
    # A text lesson has no quiz.
    module = await add_module(room.owner, room.course_id)
    text_lesson = await add_lesson(room.owner, module, "Reading")
    resp = await room.owner.put(
        f"/api/v1/lessons/{text_lesson['id']}/quiz",
        json={"items": [{"question_id": true_false["id"]}]},
    )
    await problem(resp, 409, "not_a_quiz_lesson")


async def test_a_student_lists_only_their_own_attempts(people: People) -> None:
    room = await Classroom(people).build(kinds=(QuestionType.TRUE_FALSE, QuestionType.ESSAY))
    await room.set_quiz(attempts_allowed=2, passing_percent=50)
    url = f"/api/v1/lessons/{room.lesson_id}/quiz/attempts"
    assert await ok(await room.student.get(url)) == {
        "items": [],
        "attempts_allowed": 2,
        "can_start": True,
    }
    true_false, true_false_kind = room.questions[QuestionType.TRUE_FALSE], QuestionType.TRUE_FALSE
    first = await ok(await room.start(), 201)
    essay = room.questions[QuestionType.ESSAY]
    await ok(await room.save(first["id"], true_false["id"], key_of(true_false, true_false_kind), 1))
    await ok(await room.save(first["id"], essay["id"], key_of(essay, QuestionType.ESSAY), 1))
    await ok(await room.student.post(f"/api/v1/quiz-attempts/{first['id']}/submit"))
    second = await ok(await room.start(), 201)
    listed = await ok(await room.student.get(url))
    assert [(a["id"], a["number"], a["status"]) for a in listed["items"]] == [
        (first["id"], 1, "submitted"),
        (second["id"], 2, "in_progress"),
    ]
    # The essay awaits a person: no score and no verdict yet.
    assert listed["items"][0]["score"] is None
    assert listed["items"][0]["passed"] is None
    assert listed["can_start"] is True  # the second one is in progress
    await ok(await room.student.post(f"/api/v1/quiz-attempts/{second['id']}/submit"))
    assert (await ok(await room.student.get(url)))["can_start"] is False
    assert_no_key(await ok(await room.student.get(url)))

    classmate = await people.user("classmate")
    await people.enroll("classmate", room.course_id)
    assert (await ok(await classmate.get(url)))["items"] == []  # never someone else's
    outsider = await people.user("outsider")
    await problem(await outsider.get(url), 403, "enrollment_required")
