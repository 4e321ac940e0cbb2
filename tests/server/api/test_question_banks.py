"""Question banks over HTTP: every route, one question of every type, the tag and type
filters and their cursor, the student view, export then import, and the refusals: bad input
(422 naming the field, never a 500), the wrong user (a student, an outsider, another course's
instructor, a TA changing things), an archived course."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from lms_core.accounts.models import Role
from lms_core.question_banks.models import QuestionType
from tests.lms_core.question_banks.samples import KEY_MARKERS, SAMPLES
from tests.lms_core.question_banks.test_qti import BILLION_LAUGHS, HOTSPOT, MOODLE_CHOICE
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


async def published_course(people: People) -> tuple[Any, str]:
    owner = await people.user("owner", Role.INSTRUCTOR)
    course = await new_course(owner)
    await add_lesson(owner, await add_module(owner, course["id"]))
    await ok(await owner.post(f"/api/v1/courses/{course['id']}/publish"))
    return owner, course["id"]


async def new_bank(client: Any, course_id: str, title: str = "Week 1 bank") -> dict[str, Any]:
    return await ok(  # type: ignore[no-any-return]
        await client.post(
            f"/api/v1/courses/{course_id}/question-banks",
            json={"title": title, "description": "For quizzes"},
        ),
        201,
    )


async def add_question(client: Any, bank_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return await ok(  # type: ignore[no-any-return]
        await client.post(f"/api/v1/question-banks/{bank_id}/questions", json=data), 201
    )


async def test_banks_and_questions_of_every_type(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    assert (bank["question_count"], bank["course_id"]) == (0, course_id)
    bank_url = f"/api/v1/question-banks/{bank['id']}"

    created = {}
    for kind, data in SAMPLES.items():
        body = await add_question(owner, bank["id"], data)
        assert body["question"]["type"] == kind.value
        assert body["bank_id"] == bank["id"]
        created[kind] = body
    sc = created[QuestionType.SINGLE_CHOICE]
    assert sc["prompt_html"] == "<p>Which is a <strong>prime</strong>?</p>"
    assert sc["question"]["tags"] == ["primes", "arith"]
    assert sc["question"]["options"][1]["correct"] is True  # staff see the key

    assert (await ok(await owner.get(bank_url)))["question_count"] == len(SAMPLES)
    listed = await ok(await owner.get(f"/api/v1/courses/{course_id}/question-banks"))
    assert [b["id"] for b in listed["items"]] == [bank["id"]]
    assert listed["items"][0]["question_count"] == len(SAMPLES)

    # Oldest first, three a page, the cursor carrying on to the end.
    seen: list[str] = []
    url = f"{bank_url}/questions?limit=3"
    while True:
        page = await ok(await owner.get(url))
        seen += [q["id"] for q in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"{bank_url}/questions?limit=3&cursor={page['next_cursor']}"
    assert seen == [created[k]["id"] for k in SAMPLES]
    tagged = await ok(await owner.get(f"{bank_url}/questions?tag=ARITH"))
    assert [q["id"] for q in tagged["items"]] == [
        created[QuestionType.SINGLE_CHOICE]["id"],
        created[QuestionType.MULTIPLE_CHOICE]["id"],
    ]
    assert (await ok(await owner.get(f"{bank_url}/questions?tag=nothing")))["items"] == []
    essays = await ok(await owner.get(f"{bank_url}/questions?type=essay"))
    assert [q["id"] for q in essays["items"]] == [created[QuestionType.ESSAY]["id"]]

    q_url = f"/api/v1/questions/{sc['id']}"
    assert (await ok(await owner.get(q_url))) == sc
    # A full replacement, even of the type.
    replaced = await ok(await owner.put(q_url, json=SAMPLES[QuestionType.TRUE_FALSE]))
    assert replaced["question"]["type"] == "true_false"
    assert replaced["id"] == sc["id"]
    assert replaced["created_at"] == sc["created_at"]

    renamed = await ok(await owner.patch(bank_url, json={"title": "Renamed"}))
    assert (renamed["title"], renamed["description"]) == ("Renamed", "For quizzes")

    await ok(await owner.delete(q_url), 204)
    await problem(await owner.get(q_url), 404, "question_not_found")
    await ok(await owner.delete(bank_url), 204)
    await problem(await owner.get(bank_url), 404, "question_bank_not_found")
    gone = created[QuestionType.ESSAY]["id"]
    await problem(await owner.get(f"/api/v1/questions/{gone}"), 404, "question_not_found")


async def test_the_student_view_of_every_type_has_no_key(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    for kind, data in SAMPLES.items():
        body = await add_question(owner, bank["id"], data)
        resp = await owner.get(f"/api/v1/questions/{body['id']}/student-view?seed=attempt-7")
        view = await ok(resp)
        assert view["type"] == kind.value
        text = json.dumps(view)
        assert not [m for m in KEY_MARKERS if m in text], (kind, text)
        for field in ("correct", "accepted", "pattern", "pairs", "correct_order", "tolerance"):
            assert f'"{field}"' not in text, (kind, field)
        again = await ok(
            await owner.get(f"/api/v1/questions/{body['id']}/student-view?seed=attempt-7")
        )
        assert again == view  # one seed, one order
        unknown = await owner.get(f"/api/v1/questions/{body['id']}/student-view?colour=red")
        await problem(unknown, 422, "validation_failed")


async def test_export_then_import(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    for data in SAMPLES.values():
        await add_question(owner, bank["id"], data)
    resp = await owner.get(f"/api/v1/question-banks/{bank['id']}/export")
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    document = json.loads(await resp.read())
    assert (document["format"], document["version"]) == ("seminar.question-bank", 1)
    assert document["bank"]["title"] == "Week 1 bank"
    assert [q["type"] for q in document["questions"]] == [k.value for k in SAMPLES]

    copy = await new_bank(owner, course_id, "Copy")
    result = await ok(
        await owner.post(f"/api/v1/question-banks/{copy['id']}/import", json=document), 201
    )
    assert result["imported"] == len(SAMPLES)
    again = await owner.get(f"/api/v1/question-banks/{copy['id']}/export")
    assert json.loads(await again.read())["questions"] == document["questions"]
    listed = await ok(await owner.get(f"/api/v1/question-banks/{copy['id']}/questions"))
    assert [q["id"] for q in listed["items"]] == result["question_ids"]  # the file's order

    # One bad question: nothing is imported, and the problem says which and why.
    bad = {**document, "questions": [*document["questions"], {"type": "ordering", "prompt": "x"}]}
    bad["questions"][0] = {**bad["questions"][0], "options": []}
    resp = await owner.post(f"/api/v1/question-banks/{copy['id']}/import", json=bad)
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert body["code"] == "question_import_invalid"
    assert [p["index"] for p in body["question_errors"]] == [0, len(SAMPLES)]
    assert ["body", "questions", 0, "single_choice", "options"] in [
        e["loc"] for e in body["errors"]
    ]
    count = (await ok(await owner.get(f"/api/v1/question-banks/{copy['id']}")))["question_count"]
    assert count == len(SAMPLES)
    for wrong in (
        {**document, "version": 2},
        {**document, "format": "qti"},
        {**document, "questions": []},
    ):
        resp = await owner.post(f"/api/v1/question-banks/{copy['id']}/import", json=wrong)
        await problem(resp, 422, "validation_failed")


async def test_bad_input_is_a_422_naming_the_field(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    url = f"/api/v1/question-banks/{bank['id']}/questions"
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (
            {
                **SAMPLES[QuestionType.SINGLE_CHOICE],
                "options": [
                    {"id": "a", "text": "x", "correct": True},
                    {"id": "b", "text": "y", "correct": True},
                ],
            },
            ["body", "single_choice", "options"],
        ),
        (
            {**SAMPLES[QuestionType.ORDERING], "correct_order": ["i1", "i1", "i3"]},
            ["body", "ordering", "correct_order"],
        ),
        (
            {**SAMPLES[QuestionType.FILL_IN_BLANK], "blanks": [{"id": "b", "pattern": "(a"}]},
            ["body", "fill_in_blank", "blanks", 0, "pattern"],
        ),
        ({**SAMPLES[QuestionType.NUMERIC], "answer": 1e300}, ["body", "numeric", "answer"]),
        ({"type": "hotspot", "prompt": "x"}, ["body"]),
        ({**SAMPLES[QuestionType.ESSAY], "prompt": ""}, ["body", "essay", "prompt"]),
        ({**SAMPLES[QuestionType.ESSAY], "tags": ["a\x00"]}, ["body", "essay", "tags", 0]),
        (
            {**SAMPLES[QuestionType.FILL_IN_BLANK], "blanks": [{"id": "b", "accepted": ["\x00"]}]},
            ["body", "fill_in_blank", "blanks", 0, "accepted", 0],
        ),
    ]
    for data, loc in cases:
        resp = await owner.post(url, json=data)
        assert resp.status == 422, await resp.text()
        body = await resp.json()
        assert body["code"] == "validation_failed"
        assert loc in [e["loc"] for e in body["errors"]], (loc, body)
    await problem(
        await owner.post(url, data=b"{", headers={"Content-Type": "application/json"}), 400
    )
    await problem(await owner.post(url, data=b"x", headers={"Content-Type": "text/plain"}), 415)
    await problem(await owner.get(f"{url}?cursor=not-a-cursor"), 422, "invalid_cursor")
    await problem(await owner.get(f"{url}?limit=0"), 422, "validation_failed")
    await problem(await owner.get(f"{url}?type=hotspot"), 422, "validation_failed")
    await problem(await owner.get("/api/v1/question-banks/not-a-uuid"), 422, "validation_failed")
    await problem(await owner.get(f"/api/v1/question-banks/{uuid.uuid4()}"), 404)
    await problem(
        await owner.put(f"/api/v1/questions/{uuid.uuid4()}", json=SAMPLES[QuestionType.ESSAY]),
        404,
        "question_not_found",
    )
    await problem(
        await owner.post(f"/api/v1/courses/{uuid.uuid4()}/question-banks", json={"title": "x"}),
        404,
        "course_not_found",
    )
    await problem(
        await owner.post(f"/api/v1/courses/{course_id}/question-banks", json={"title": ""}), 422
    )
    await problem(await owner.patch(f"/api/v1/question-banks/{bank['id']}", json={"x": 1}), 422)
    assert (await ok(await owner.get(f"/api/v1/question-banks/{bank['id']}")))[
        "question_count"
    ] == 0


async def test_the_wrong_users(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    question = await add_question(owner, bank["id"], SAMPLES[QuestionType.NUMERIC])
    student = await people.user("student")
    await people.enroll("student", course_id)
    outsider = await people.user("outsider")
    stranger = await people.user("stranger", Role.INSTRUCTOR)
    ta = await people.user("ta", Role.INSTRUCTOR)
    co = await people.user("co", Role.INSTRUCTOR)
    for label, role in (("ta", "teaching_assistant"), ("co", "co_instructor")):
        await ok(
            await owner.put(
                f"/api/v1/courses/{course_id}/staff/{people.ids[label]}", json={"role": role}
            )
        )
    anonymous = await people.anonymous()
    b, q = f"/api/v1/question-banks/{bank['id']}", f"/api/v1/questions/{question['id']}"
    reads = [
        f"/api/v1/courses/{course_id}/question-banks",
        b,
        f"{b}/questions",
        f"{b}/export",
        q,
        f"{q}/student-view",
    ]
    for who in (student, outsider, stranger):
        for url in reads:
            await problem(await who.get(url), 403, "not_course_staff")
        await problem(await who.post(f"{b}/questions", json=SAMPLES[QuestionType.ESSAY]), 403)
        await problem(await who.delete(q), 403)
        await problem(await who.patch(b, json={"title": "mine"}), 403)
    for url in reads:
        await problem(await anonymous.get(url), 401)
        await ok(await ta.get(url))  # a TA reads (and grades) ...
    # ... but changes nothing.
    await problem(await ta.put(q, json=SAMPLES[QuestionType.ESSAY]), 403, "not_course_editor")
    await problem(await ta.delete(b), 403, "not_course_editor")
    await problem(
        await ta.post(f"/api/v1/courses/{course_id}/question-banks", json={"title": "x"}),
        403,
        "not_course_editor",
    )
    await problem(
        await ta.post(
            f"{b}/import",
            json={
                "format": "seminar.question-bank",
                "version": 1,
                "questions": [SAMPLES[QuestionType.ESSAY]],
            },
        ),
        403,
        "not_course_editor",
    )
    await ok(await co.put(q, json=SAMPLES[QuestionType.ESSAY]))
    assert (await ok(await owner.get(b)))["question_count"] == 1

    # A draft's banks do not exist for those outside its staff.
    draft = await new_course(owner, title="Draft")
    draft_bank = await new_bank(owner, draft["id"])
    for who in (student, outsider, stranger):
        await problem(await who.get(f"/api/v1/question-banks/{draft_bank['id']}"), 404)
        await problem(
            await who.get(f"/api/v1/courses/{draft['id']}/question-banks"), 404, "course_not_found"
        )

    # Another instructor's own bank is no door into this course.
    theirs = await new_course(stranger, title="Theirs")
    await new_bank(stranger, theirs["id"])
    await problem(await stranger.get(f"{b}/questions"), 403)


async def test_an_archived_course_keeps_its_banks_read_only(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    question = await add_question(owner, bank["id"], SAMPLES[QuestionType.TRUE_FALSE])
    await ok(await owner.post(f"/api/v1/courses/{course_id}/archive"))
    b = f"/api/v1/question-banks/{bank['id']}"
    await ok(await owner.get(f"{b}/questions"))
    await ok(await owner.get(f"{b}/export"))
    for resp in (
        await owner.post(f"/api/v1/courses/{course_id}/question-banks", json={"title": "x"}),
        await owner.patch(b, json={"title": "y"}),
        await owner.post(f"{b}/questions", json=SAMPLES[QuestionType.ESSAY]),
        await owner.delete(f"/api/v1/questions/{question['id']}"),
        await owner.delete(b),
    ):
        await problem(resp, 409, "course_archived")


# -- QTI 2.1 -----------------------------------------------------------------------------------


async def test_qti_export_then_import(people: People) -> None:
    owner, course_id = await published_course(people)
    bank = await new_bank(owner, course_id)
    for data in SAMPLES.values():
        await add_question(owner, bank["id"], data)
    b = f"/api/v1/question-banks/{bank['id']}"
    resp = await owner.get(f"{b}/export.qti")
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/zip"
    assert "attachment" in resp.headers["Content-Disposition"]
    package = await resp.read()
    assert package.startswith(b"PK")

    copy = await new_bank(owner, course_id, "Copy")
    c = f"/api/v1/question-banks/{copy['id']}"
    zip_headers = {"Content-Type": "application/zip"}
    result = await ok(await owner.post(f"{c}/import-qti", data=package, headers=zip_headers), 201)
    assert result["imported"] == len(SAMPLES)
    original = json.loads(await (await owner.get(f"{b}/export")).read())["questions"]
    imported = json.loads(await (await owner.get(f"{c}/export")).read())["questions"]
    assert imported == original
    listed = await ok(await owner.get(f"{c}/questions"))
    assert [q["id"] for q in listed["items"]] == result["question_ids"]

    # One item, as XML.
    xml_headers = {"Content-Type": "application/xml"}
    one = await ok(
        await owner.post(f"{c}/import-qti", data=MOODLE_CHOICE, headers=xml_headers), 201
    )
    assert one["imported"] == 1

    # Refusals: nothing is added.
    refusals: list[tuple[bytes | io.BytesIO, dict[str, str], int, str | None]] = [
        (b"not a package", zip_headers, 422, "qti_invalid"),
        (HOTSPOT, xml_headers, 422, "qti_invalid"),
        (BILLION_LAUGHS, xml_headers, 422, "qti_invalid"),
        (MOODLE_CHOICE, {"Content-Type": "application/json"}, 415, None),
        (io.BytesIO(b"PK" + b"\0" * (5 * 1024 * 1024)), zip_headers, 413, "payload_too_large"),
    ]
    for body_sent, headers, status, code in refusals:
        resp = await owner.post(f"{c}/import-qti", data=body_sent, headers=headers)
        await problem(resp, status, code)
    resp = await owner.post(f"{c}/import-qti", data=HOTSPOT, headers=xml_headers)
    body = await resp.json()
    assert body["item_errors"] == [
        {"item": "item.xml", "reason": "unsupported interaction hotspotInteraction"}
    ]
    count = (await ok(await owner.get(c)))["question_count"]
    assert count == len(SAMPLES) + 1

    # A TA exports but does not import; a student does neither.
    ta = await people.user("qti-ta", Role.INSTRUCTOR)
    staff_url = f"/api/v1/courses/{course_id}/staff/{people.ids['qti-ta']}"
    await ok(await owner.put(staff_url, json={"role": "teaching_assistant"}))
    assert (await ta.get(f"{b}/export.qti")).status == 200
    resp = await ta.post(f"{c}/import-qti", data=MOODLE_CHOICE, headers=xml_headers)
    await problem(resp, 403, "not_course_editor")
    student = await people.user("qti-student")
    await problem(await student.get(f"{b}/export.qti"), 403, "not_course_staff")
    resp = await student.post(f"{c}/import-qti", data=MOODLE_CHOICE, headers=xml_headers)
    await problem(resp, 403)
