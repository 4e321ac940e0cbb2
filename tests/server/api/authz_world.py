"""The world of the authorization matrix (test_authorization_matrix.py), built over HTTP.

Eight personas, each signed in with its own session cookie (anonymous has none):

* ``anonymous``; ``outsider`` (a student not enrolled); ``student`` (enrolled in the published
  course); ``other_instructor`` (an instructor without any relation to the courses);
* ``ta`` and ``co`` (teaching assistant and co-instructor of the published and the draft
  course); ``owner`` (their instructor); ``admin``.

Two more users take no part as callers: ``classmate`` (a second enrolled student with progress
of their own, whose data nobody else may see) and ``newcomer`` (a user staff may enroll).

Courses, all of the owner's:

* ``course``, published: ``module`` with a released lesson, a drip lesson (``release_at`` in a
  month) and a preview lesson; ``module2`` with a file lesson (a PDF uploaded), a preview file
  lesson (a PDF uploaded) and a file lesson without a file yet (``blank_file``);
* ``draft``, never published, with the same category and tags (a "similar" candidate);
* ``draft``'s lessons are preview lessons (a text one and a file one), so only the draft itself
  keeps them from visitors;
* ``unpublished``: published, the student enrolled and completed its (preview) lesson, then an
  admin returned it to draft.

And ``other_course``, the other instructor's own published course, for references across
courses (a lesson or module of one course used in a request about another).

Live sessions: ``live_scheduled`` and ``live_live`` (started) on the published course,
``live_draft`` (scheduled, its title a draft secret) on the draft; ``calendar_token`` is the
student's calendar-feed token (the feed is public to whoever holds the URL).

Everything is created through the API except the first administrator's role (no API can make
the first admin). Texts that only some personas may ever see carry the ``SECRET_*`` markers
below, so that every response can be searched for them.
"""

from __future__ import annotations

import asyncio
import enum
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import update

from lms_core.accounts.models import Role, User
from lms_core.clock import utcnow
from lms_core.jobs import JobRunner
from server.state import JOB_REGISTRY, Database
from tests.conftest import PASSWORD, AppClient
from tests.lms_core.storage import samples
from tests.media.clips import make_clip


class Persona(enum.StrEnum):
    ANONYMOUS = "anonymous"
    OUTSIDER = "outsider"
    STUDENT = "student"
    OTHER_INSTRUCTOR = "other_instructor"
    TA = "ta"
    CO = "co"
    OWNER = "owner"
    ADMIN = "admin"


PERSONAS = tuple(Persona)
STAFF = frozenset({Persona.TA, Persona.CO, Persona.OWNER, Persona.ADMIN})

# Marker texts and who may see each of them (in any response of any route).
SECRET_RELEASED = "released-secret-body"
SECRET_DRIP = "drip-secret-body"
SECRET_FILE = b"file-secret-bytes"
SECRET_DRAFT = "draft-secret-title"
SECRET_UNPUBLISHED = "unpublished-secret-title"
CLASSMATE_EMAIL = "classmate-authz@example.com"
SECRETS: dict[str, frozenset[Persona]] = {
    SECRET_RELEASED: STAFF | {Persona.STUDENT},
    SECRET_DRIP: STAFF,
    SECRET_FILE.decode(): STAFF | {Persona.STUDENT},
    SECRET_DRAFT: STAFF,
    SECRET_UNPUBLISHED: frozenset({Persona.OWNER, Persona.ADMIN}),
    # The roster shows students' addresses to course staff; the admin sees every user.
    CLASSMATE_EMAIL: STAFF,
}

# --- question banks: answer keys (options' correctness, accepted answers, grader notes) are
# for the course's staff; the draft's bank title is a draft secret (SECRET_DRAFT) as well.
SECRET_ANSWER_KEY = "answer-key-secret"
SECRETS[SECRET_ANSWER_KEY] = STAFF

PDF = samples.pdf() + b"%" + SECRET_FILE + b"\n%" + b"x" * 512 + b"\n"
PREVIEW_PDF = samples.pdf() + b"%syllabus\n"
DRAFT_PDF = samples.pdf() + b"%" + SECRET_DRAFT.encode() + b"\n"

ROLES = {
    Persona.OTHER_INSTRUCTOR: Role.INSTRUCTOR,
    Persona.CO: Role.INSTRUCTOR,
    Persona.OWNER: Role.INSTRUCTOR,
    Persona.ADMIN: Role.ADMIN,
}

# --- assignments: a student's own work is for them and the course's staff; the classmate's
# work for the staff only (Builder.assignments).
SECRET_STUDENT_WORK = "student-work-secret"
SECRET_CLASSMATE_WORK = "classmate-work-secret"
SECRETS[SECRET_STUDENT_WORK] = STAFF | {Persona.STUDENT}
SECRETS[SECRET_CLASSMATE_WORK] = STAFF
FORM_BOUNDARY = "seminar-matrix-boundary"


def submission_form(text: str) -> tuple[str, bytes]:
    """A multipart submission: ``text`` as the text field and inside one PDF file."""
    pdf = samples.pdf() + b"%" + text.encode() + b"\n"
    head = (
        f'--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'
        f'--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        'filename="essay.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    )
    tail = f"\r\n--{FORM_BOUNDARY}--\r\n"
    return f"multipart/form-data; boundary={FORM_BOUNDARY}", head.encode() + pdf + tail.encode()


@dataclass
class AssignmentIds:
    lesson: str = ""  # in module2 of the published course, with an attachment
    attachment: str = ""
    submission: str = ""  # the student's (text and file hold SECRET_STUDENT_WORK)
    submission_file: str = ""
    classmate_submission: str = ""  # the classmate's (SECRET_CLASSMATE_WORK)
    classmate_file: str = ""
    draft_lesson: str = ""  # on the draft, with an attachment (DRAFT_PDF)
    draft_attachment: str = ""
    # Deleted by the DELETE cases: deleting removes the stored object once the case's
    # savepoint "commits", so no read case may use them.
    spare: str = ""
    draft_spare: str = ""


# --- grading: the student's released grade is for them and the course's staff; the classmate's
# draft grade for the staff only (Builder.grading).
SECRET_STUDENT_GRADE = "student-grade-secret"
SECRET_CLASSMATE_GRADE = "classmate-grade-secret"
SECRETS[SECRET_STUDENT_GRADE] = STAFF | {Persona.STUDENT}
SECRETS[SECRET_CLASSMATE_GRADE] = STAFF


@dataclass
class GradingIds:
    grade: str = ""  # the student's on asg.lesson, released (feedback SECRET_STUDENT_GRADE)
    file: str = ""  # a feedback file of it
    spare_file: str = ""  # another, deleted by the DELETE cases
    classmate_grade: str = ""  # the classmate's, a draft (feedback SECRET_CLASSMATE_GRADE)


def feedback_form(name: str) -> tuple[str, bytes]:
    """A multipart body with one feedback PDF in the field ``file``."""
    pdf = samples.pdf() + b"%feedback\n"
    head = (
        f'--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{name}"\r\nContent-Type: application/pdf\r\n\r\n'
    )
    tail = f"\r\n--{FORM_BOUNDARY}--\r\n"
    return f"multipart/form-data; boundary={FORM_BOUNDARY}", head.encode() + pdf + tail.encode()


@dataclass
class Person:
    id: str
    email: str
    cookie: str  # "name=value" for the Cookie header; "" for the anonymous
    token_id: str  # one of their personal access tokens (a random id for the anonymous)
    token: str = ""  # that token's secret, for "Authorization: Bearer" ("" for the anonymous)


@dataclass
class World:
    people: dict[Persona, Person] = field(default_factory=dict)
    classmate: Person | None = None
    classmate_token_id: str = ""
    newcomer_id: str = ""
    newcomer_email: str = ""
    category: str = ""
    course: str = ""
    course_slug: str = ""
    module: str = ""
    module2: str = ""
    released: str = ""
    drip: str = ""
    preview: str = ""
    file_lesson: str = ""
    preview_file: str = ""
    blank_file: str = ""
    draft: str = ""
    draft_slug: str = ""
    draft_module: str = ""
    draft_lesson: str = ""
    draft_file: str = ""
    unpublished: str = ""
    unpublished_lesson: str = ""
    other_course: str = ""
    other_module: str = ""
    other_lesson: str = ""
    asg: AssignmentIds = field(default_factory=AssignmentIds)  # --- assignments
    grd: GradingIds = field(default_factory=GradingIds)  # --- grading
    video_lesson: str = ""  # in module2, transcoded (ready)
    blank_video: str = ""  # in module2, no video yet
    video_id: str = ""
    hls_token: str = ""  # the owner's playback token for video_id
    hls_rendition: str = ""  # a rendition's directory name in that output
    live_scheduled: str = ""
    live_live: str = ""
    live_draft: str = ""
    calendar_token: str = ""  # the student's
    # --- question banks (Builder.question_banks)
    bank: str = ""  # on the published course
    question: str = ""  # in bank: a fill-in-the-blank whose key is SECRET_ANSWER_KEY
    draft_bank: str = ""  # on the draft, titled with SECRET_DRAFT
    draft_question: str = ""
    # --- quizzes (Builder.quizzes)
    quiz_lesson: str = ""  # in module2 of the published course: the bank's question
    quiz_attempt: str = ""  # the student's, in progress
    classmate_quiz_attempt: str = ""  # the classmate's, in progress
    cert: CertificateCodes = field(default_factory=lambda: CertificateCodes())  # --- certificates
    # --- gradebook (Builder.gradebook): on the published course, a category and a manual item
    # with the student's score and an override (so that removing it is possible)
    gb_category: str = ""
    gb_item: str = ""

    def person(self, persona: Persona) -> Person:
        return self.people[persona]


def auth_headers(person: Person, *, bearer: bool = False) -> dict[str, str]:
    """The persona's session cookie (the browser's way), or its personal access token."""
    if bearer:
        return {"Authorization": f"Bearer {person.token}"} if person.token else {}
    return {"Cookie": person.cookie} if person.cookie else {}


class Builder:
    def __init__(self, client: AppClient, database: Database, cookie_name: str) -> None:
        self.client = client
        self.database = database
        self.cookie_name = cookie_name
        self.world = World()

    async def call(
        self,
        method: str,
        url: str,
        who: Person | None,
        expect: int,
        json: Any = None,
        **kw: Any,
    ) -> Any:
        headers = {**kw.pop("headers", {}), **(auth_headers(who) if who else {})}
        resp: ClientResponse = await self.client.request(
            method, url, json=json, headers=headers, **kw
        )
        text = await resp.text()
        assert resp.status == expect, f"{method} {url}: {resp.status} {text}"
        return await resp.json() if text else None

    async def user(self, label: str, email: str | None = None) -> Person:
        email = email or f"{label}-{uuid.uuid4().hex[:8]}@example.com"
        body = await self.call(
            "POST",
            "/api/v1/auth/register",
            None,
            201,
            json={"email": email, "password": PASSWORD, "name": label.title()},
        )
        resp = await self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        cookie = resp.cookies[self.cookie_name].value
        person = Person(
            id=body["id"], email=email, cookie=f"{self.cookie_name}={cookie}", token_id=""
        )
        token = await self.call(
            "POST", "/api/v1/users/me/tokens", person, 201, json={"name": f"{label} token"}
        )
        person.token_id, person.token = token["id"], token["token"]
        return person

    async def build(self) -> World:
        w = self.world
        people = w.people
        for persona in PERSONAS:
            if persona is Persona.ANONYMOUS:
                people[persona] = Person(
                    id=str(uuid.uuid4()), email="", cookie="", token_id=str(uuid.uuid4())
                )
            else:
                people[persona] = await self.user(persona.value)
        w.classmate = await self.user("classmate", CLASSMATE_EMAIL)
        w.classmate_token_id = w.classmate.token_id
        newcomer = await self.user("newcomer")
        w.newcomer_id, w.newcomer_email = newcomer.id, newcomer.email

        # No API makes the first administrator (the CLI does); the admin sets the other roles.
        admin = people[Persona.ADMIN]
        async with self.database.sessions() as session:
            await session.execute(
                update(User).where(User.id == uuid.UUID(admin.id)).values(role=Role.ADMIN)
            )
            await session.commit()
        for persona, role in ROLES.items():
            if persona is not Persona.ADMIN:
                await self.call(
                    "PUT",
                    f"/api/v1/admin/users/{people[persona].id}/role",
                    admin,
                    200,
                    json={"role": role.value},
                )

        owner, student = people[Persona.OWNER], people[Persona.STUDENT]
        classmate = w.classmate
        category = await self.call(
            "POST", "/api/v1/categories", admin, 201, json={"name": "Authz matrix"}
        )
        w.category = category["id"]

        # The published course.
        course = await self.call(
            "POST",
            "/api/v1/courses",
            owner,
            201,
            json={"title": "Matrix course", "category_id": w.category, "tags": ["authz"]},
        )
        w.course, w.course_slug = course["id"], course["slug"]
        w.module = await self.module(w.course, "Week 1")
        w.module2 = await self.module(w.course, "Week 2")
        w.released = await self.lesson(w.module, "Released", body=SECRET_RELEASED)
        w.drip = await self.lesson(
            w.module,
            "Drip",
            body=SECRET_DRIP,
            release_at=(utcnow() + timedelta(days=30)).isoformat(),
        )
        w.preview = await self.lesson(w.module, "Preview", body="preview body", is_preview=True)
        w.file_lesson = await self.lesson(w.module2, "Handout", kind="file")
        w.preview_file = await self.lesson(w.module2, "Syllabus", kind="file", is_preview=True)
        w.blank_file = await self.lesson(w.module2, "Later handout", kind="file")
        await self.upload(w.file_lesson, PDF)
        await self.upload(w.preview_file, PREVIEW_PDF)
        w.video_lesson = await self.lesson(w.module2, "Lecture", kind="video")
        w.blank_video = await self.lesson(w.module2, "Later lecture", kind="video")
        await self.video(w.video_lesson)
        await self.call(
            "PUT",
            f"/api/v1/courses/{w.course}/thumbnail",
            owner,
            200,
            data=samples.png(),
            headers={"Content-Type": "image/png", "X-Filename": "cover.png"},
        )
        await self.staff(w.course)
        await self.call("POST", f"/api/v1/courses/{w.course}/publish", owner, 200)
        for who in (student, classmate):
            await self.call("POST", f"/api/v1/courses/{w.course}/enrollments", who, 201)
        await self.call("POST", f"/api/v1/lessons/{w.released}/complete", student, 200)
        await self.call(
            "PUT",
            f"/api/v1/lessons/{w.preview}/progress",
            student,
            200,
            json={"position_seconds": 12},
        )
        for lesson in (w.released, w.preview, w.file_lesson):
            await self.call("POST", f"/api/v1/lessons/{lesson}/complete", classmate, 200)

        # The draft: same category and tags, so that "similar" would find it if it leaked.
        draft = await self.call(
            "POST",
            "/api/v1/courses",
            owner,
            201,
            json={"title": SECRET_DRAFT, "category_id": w.category, "tags": ["authz"]},
        )
        w.draft, w.draft_slug = draft["id"], draft["slug"]
        w.draft_module = await self.module(w.draft, "Draft week")
        # Preview lessons, yet a draft's: nobody but its staff may open them.
        w.draft_lesson = await self.lesson(
            w.draft_module, "Draft lesson", body=f"{SECRET_DRAFT} body", is_preview=True
        )
        w.draft_file = await self.lesson(w.draft_module, "Draft file", kind="file", is_preview=True)
        await self.upload(w.draft_file, DRAFT_PDF)
        await self.staff(w.draft)

        # Published, taken by the student, then returned to draft by an admin.
        unpublished = await self.call(
            "POST",
            "/api/v1/courses",
            owner,
            201,
            json={"title": SECRET_UNPUBLISHED, "category_id": w.category, "tags": ["authz"]},
        )
        w.unpublished = unpublished["id"]
        module = await self.module(w.unpublished, "Old week")
        w.unpublished_lesson = await self.lesson(
            module, "Old lesson", body=f"{SECRET_UNPUBLISHED} body", is_preview=True
        )
        await self.call("POST", f"/api/v1/courses/{w.unpublished}/publish", owner, 200)
        await self.call("POST", f"/api/v1/courses/{w.unpublished}/enrollments", student, 201)
        await self.call("POST", f"/api/v1/lessons/{w.unpublished_lesson}/complete", student, 200)
        await self.call("POST", f"/api/v1/courses/{w.unpublished}/unpublish", admin, 200)
        await self.assignments()  # --- assignments

        # The other instructor's own course, for references across courses.
        other = people[Persona.OTHER_INSTRUCTOR]
        body = await self.call("POST", "/api/v1/courses", other, 201, json={"title": "Elsewhere"})
        w.other_course = body["id"]
        w.other_module = await self.module(w.other_course, "Elsewhere week", other)
        w.other_lesson = await self.lesson(w.other_module, "Elsewhere lesson", who=other)
        await self.call("POST", f"/api/v1/courses/{w.other_course}/publish", other, 200)
        await self.live_sessions()
        await self.question_banks()
        await self.quizzes()
        await self.grading()  # --- grading
        await self.certificates()  # --- certificates
        await self.gradebook()  # --- gradebook
        return w

    async def live_sessions(self) -> None:
        w = self.world
        owner = w.people[Persona.OWNER]
        start = (utcnow() + timedelta(days=1)).isoformat()

        async def schedule(course: str, title: str) -> str:
            body = await self.call(
                "POST",
                f"/api/v1/courses/{course}/live-sessions",
                owner,
                201,
                json={"title": title, "scheduled_start": start, "duration_minutes": 60},
            )
            return str(body["id"])

        w.live_scheduled = await schedule(w.course, "Matrix office hours")
        w.live_live = await schedule(w.course, "Matrix live class")
        await self.call("POST", f"/api/v1/live-sessions/{w.live_live}/start", owner, 200)
        w.live_draft = await schedule(w.draft, f"{SECRET_DRAFT} live")
        body = await self.call(
            "POST", "/api/v1/users/me/calendar-token", w.people[Persona.STUDENT], 201
        )
        w.calendar_token = body["url"].rsplit("/", 1)[1].removesuffix(".ics")

    # --- question banks ------------------------------------------------------------------------

    async def question_banks(self) -> None:
        w = self.world
        owner = w.people[Persona.OWNER]
        question = {
            "type": "fill_in_blank",
            "prompt": "The password is [[p]].",
            "tags": ["authz"],
            "feedback": f"{SECRET_ANSWER_KEY} feedback",
            "blanks": [{"id": "p", "accepted": [SECRET_ANSWER_KEY]}],
        }

        async def bank(course: str, title: str) -> tuple[str, str]:
            url = f"/api/v1/courses/{course}/question-banks"
            body = await self.call("POST", url, owner, 201, json={"title": title})
            url = f"/api/v1/question-banks/{body['id']}/questions"
            added = await self.call("POST", url, owner, 201, json=question)
            return str(body["id"]), str(added["id"])

        w.bank, w.question = await bank(w.course, "Matrix bank")
        w.draft_bank, w.draft_question = await bank(w.draft, f"{SECRET_DRAFT} bank")

    # --- quizzes ---------------------------------------------------------------------------------

    async def quizzes(self) -> None:
        w = self.world
        owner, student = w.people[Persona.OWNER], w.people[Persona.STUDENT]
        assert w.classmate is not None
        w.quiz_lesson = await self.lesson(w.module2, "Matrix quiz", kind="quiz")
        settings = {
            "items": [{"question_id": w.question}],
            "attempts_allowed": None,
            "show_answers": "never",
        }
        await self.call("PUT", f"/api/v1/lessons/{w.quiz_lesson}/quiz", owner, 200, json=settings)
        url = f"/api/v1/lessons/{w.quiz_lesson}/quiz/attempts"
        w.quiz_attempt = (await self.call("POST", url, student, 201))["id"]
        w.classmate_quiz_attempt = (await self.call("POST", url, w.classmate, 201))["id"]

    # --- grading ---------------------------------------------------------------------------------

    async def grading(self) -> None:
        w, g = self.world, self.world.grd
        owner, student = w.people[Persona.OWNER], w.people[Persona.STUDENT]
        assert w.classmate is not None
        lesson = f"/api/v1/lessons/{w.asg.lesson}"
        rubric = {"criteria": [{"title": "Matrix", "levels": [{"title": "Done", "points": 1}]}]}
        await self.call("PUT", f"{lesson}/rubric", owner, 200, json=rubric)
        mine = {"points": 80, "feedback": SECRET_STUDENT_GRADE}
        g.grade = (await self.call("PUT", f"{lesson}/grades/{student.id}", owner, 200, json=mine))[
            "id"
        ]
        release = {"student_ids": [student.id]}
        await self.call("POST", f"{lesson}/grades/release", owner, 200, json=release)
        theirs = {"points": 40, "feedback": SECRET_CLASSMATE_GRADE}
        url = f"{lesson}/grades/{w.classmate.id}"
        g.classmate_grade = (await self.call("PUT", url, owner, 200, json=theirs))["id"]

        async def attach(name: str) -> str:
            content_type, body = feedback_form(name)
            url = f"/api/v1/grades/{g.grade}/files"
            headers = {"Content-Type": content_type}
            return str((await self.call("POST", url, owner, 201, data=body, headers=headers))["id"])

        g.file, g.spare_file = await attach("feedback.pdf"), await attach("spare.pdf")

    # --- gradebook -------------------------------------------------------------------------------

    async def gradebook(self) -> None:
        w = self.world
        owner, student = w.people[Persona.OWNER], w.people[Persona.STUDENT]
        url = f"/api/v1/courses/{w.course}/gradebook"
        category = {"name": "Matrix labs", "weight_percent": 25}
        w.gb_category = (await self.call("POST", f"{url}/categories", owner, 201, json=category))[
            "id"
        ]
        item = {"title": "Matrix lab", "max_points": 10, "category_id": w.gb_category}
        w.gb_item = (await self.call("POST", f"{url}/items", owner, 201, json=item))["id"]
        cell = f"/api/v1/gradebook/items/{w.gb_item}"
        await self.call("PUT", f"{cell}/scores/{student.id}", owner, 200, json={"points": 7})
        override = {"points": 9, "reason": "matrix"}
        await self.call("PUT", f"{cell}/overrides/{student.id}", owner, 200, json=override)

    async def upload(self, lesson: str, data: bytes) -> None:
        await self.call(
            "PUT",
            f"/api/v1/lessons/{lesson}/file",
            self.world.people[Persona.OWNER],
            200,
            data=data,
            headers={"Content-Type": "application/pdf", "X-Filename": "notes.pdf"},
        )

    async def video(self, lesson: str) -> None:
        """Upload a short clip and transcode it (the app's own job kinds, run here: the test
        app has no workers), then keep the owner's playback link."""
        owner = self.world.people[Persona.OWNER]
        clip = await asyncio.to_thread(video_clip)
        await self.call(
            "PUT",
            f"/api/v1/lessons/{lesson}/video",
            owner,
            202,
            data=clip,
            headers={"Content-Type": "video/mp4", "X-Filename": "lecture.mp4"},
        )
        runner = JobRunner(self.database.sessions, self.client.app[JOB_REGISTRY], concurrency=1)
        await runner.run_until_idle()
        body = await self.call("GET", f"/api/v1/lessons/{lesson}/video", owner, 200)
        assert body["status"] == "ready", body
        self.world.video_id = body["id"]
        self.world.hls_token = body["playback_url"].split("/hls/")[1].split("/")[0]
        self.world.hls_rendition = body["renditions"][0]["name"]

    async def module(self, course: str, title: str, who: Person | None = None) -> str:
        who = who or self.world.people[Persona.OWNER]
        body = await self.call(
            "POST", f"/api/v1/courses/{course}/modules", who, 201, json={"title": title}
        )
        return str(body["id"])

    async def lesson(
        self, module: str, title: str, kind: str = "text", who: Person | None = None, **fields: Any
    ) -> str:
        who = who or self.world.people[Persona.OWNER]
        payload = {"title": title, "kind": kind, **fields}
        body = await self.call("POST", f"/api/v1/modules/{module}/lessons", who, 201, json=payload)
        return str(body["id"])

    async def staff(self, course: str) -> None:
        people = self.world.people
        for persona, role in ((Persona.CO, "co_instructor"), (Persona.TA, "teaching_assistant")):
            await self.call(
                "PUT",
                f"/api/v1/courses/{course}/staff/{people[persona].id}",
                people[Persona.OWNER],
                200,
                json={"role": role},
            )

    # --- assignments ---------------------------------------------------------------------------

    async def assignments(self) -> None:
        w, a = self.world, self.world.asg
        owner, student = w.people[Persona.OWNER], w.people[Persona.STUDENT]
        assert w.classmate is not None

        async def attach(lesson: str, pdf: bytes) -> str:
            body = await self.call(
                "POST",
                f"/api/v1/lessons/{lesson}/assignment/attachments",
                owner,
                201,
                data=pdf,
                headers={"Content-Type": "application/pdf", "X-Filename": "brief.pdf"},
            )
            return str(body["id"])

        async def assignment(module: str, title: str, pdf: bytes) -> tuple[str, str, str]:
            lesson = await self.lesson(module, title, kind="assignment")
            url = f"/api/v1/lessons/{lesson}/assignment"
            await self.call("PUT", url, owner, 200, json={"brief": "Write an essay."})
            return lesson, await attach(lesson, pdf), await attach(lesson, pdf)

        a.lesson, a.attachment, a.spare = await assignment(w.module2, "Essay", PDF)
        a.draft_lesson, a.draft_attachment, a.draft_spare = await assignment(
            w.draft_module, "Draft essay", DRAFT_PDF
        )

        async def submit(who: Person, text: str) -> tuple[str, str]:
            content_type, data = submission_form(text)
            url = f"/api/v1/lessons/{a.lesson}/submissions"
            body = await self.call(
                "POST", url, who, 201, data=data, headers={"Content-Type": content_type}
            )
            return str(body["id"]), str(body["files"][0]["id"])

        a.submission, a.submission_file = await submit(student, SECRET_STUDENT_WORK)
        a.classmate_submission, a.classmate_file = await submit(w.classmate, SECRET_CLASSMATE_WORK)

    # --- certificates --------------------------------------------------------------------------

    async def certificates(self) -> None:
        """The student and the classmate complete the other instructor's course, the app's own
        job issues their certificates, then both leave the course (so that no list of their
        enrollments or of that course's roster changes)."""
        w = self.world
        assert w.classmate is not None
        student = w.people[Persona.STUDENT]
        for who in (student, w.classmate):
            await self.call("POST", f"/api/v1/courses/{w.other_course}/enrollments", who, 201)
            await self.call("POST", f"/api/v1/lessons/{w.other_lesson}/complete", who, 200)
        runner = JobRunner(self.database.sessions, self.client.app[JOB_REGISTRY], concurrency=1)
        await runner.run_until_idle()
        codes = []
        for who in (student, w.classmate):
            [item] = (await self.call("GET", "/api/v1/me/certificates", who, 200))["items"]
            codes.append(str(item["code"]))
            url = f"/api/v1/courses/{w.other_course}/enrollments/me"
            await self.call("DELETE", url, who, 204)
        w.cert.student, w.cert.classmate = codes


@dataclass
class CertificateCodes:
    student: str = ""  # the student's certificate of the other instructor's course
    classmate: str = ""  # the classmate's, of the same course


def video_clip() -> bytes:
    """A one-second MP4 (generated, never committed)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        make_clip(path, seconds=1.0, width=320, height=180)
        return path.read_bytes()
