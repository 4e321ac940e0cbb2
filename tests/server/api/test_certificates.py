"""Certificates over HTTP: completing a course queues the job that issues exactly one
certificate (run twice, still one), whose PDF says who, what, when and by whom, with a QR code of
the public verification URL; verification is public, revocation is for admins, the PDF for its
student (and admins). Not completing, or leaving before the job runs, earns nothing."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select, update

from lms_core.accounts.models import Role, User
from lms_core.certificates import jobs as certificate_jobs
from lms_core.certificates.models import Certificate
from lms_core.certificates.render import QR_BORDER, QR_SCALE
from lms_core.jobs import JobRunner, enqueue
from lms_core.jobs.models import Job
from server.state import JOB_REGISTRY, Database
from tests.conftest import ORIGIN, AppClient, ClientFactory, login, register
from tests.server.api.test_courses import LIMITS, add_lesson, add_module, new_course, ok, problem

STUDENT_NAME = "Zoë Łukasiewicz"
INSTRUCTOR_NAME = "Ada Lovelace"
COURSE_TITLE = "Logic for Everyone: ∀x ∃y"


class School:
    """An instructor's published course of two required lessons, and its people; every app
    shares one data directory, so a PDF stored by the job is there for any client to serve."""

    def __init__(self, make_client: ClientFactory, database: Database, data_dir: Path) -> None:
        self.make_client = make_client
        self.database = database
        self.data_dir = data_dir
        self.ids: dict[str, str] = {}
        self.clients: dict[str, AppClient] = {}
        self.course_id = ""
        self.lessons: list[str] = []

    async def client(self) -> AppClient:
        return await self.make_client(data_dir=self.data_dir, **LIMITS)

    async def user(self, label: str, name: str, role: Role = Role.STUDENT) -> AppClient:
        client = await self.client()
        email = f"{label}-{uuid.uuid4().hex[:6]}@example.com"
        body = await register(client, email, name)
        if role is not Role.STUDENT:
            async with self.database.sessions() as session:
                await session.execute(update(User).where(User.email == email).values(role=role))
                await session.commit()
        await login(client, email)
        self.ids[label] = body["id"]
        self.clients[label] = client
        return client

    async def build(self) -> School:
        owner = await self.user("owner", INSTRUCTOR_NAME, Role.INSTRUCTOR)
        self.course_id = (await new_course(owner, title=COURSE_TITLE))["id"]
        module = await add_module(owner, self.course_id)
        for title in ("One", "Two"):
            self.lessons.append((await add_lesson(owner, module, title))["id"])
        await ok(await owner.post(f"/api/v1/courses/{self.course_id}/publish"))
        for label, name in (("student", STUDENT_NAME), ("classmate", "Li Lei 李雷")):
            client = await self.user(label, name)
            await ok(await client.post(f"/api/v1/courses/{self.course_id}/enrollments"), 201)
        await self.user("admin", "Admin", Role.ADMIN)
        return self

    async def complete(self, label: str, lessons: list[str] | None = None) -> None:
        for lesson in self.lessons if lessons is None else lessons:
            await ok(await self.clients[label].post(f"/api/v1/lessons/{lesson}/complete"))

    async def run_jobs(self) -> int:
        app = self.clients["owner"].app
        assert app is not None
        runner = JobRunner(self.database.sessions, app[JOB_REGISTRY], concurrency=1)
        return await runner.run_until_idle()

    async def queued(self) -> int:
        async with self.database.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(
                        Job.kind == certificate_jobs.ISSUE_CERTIFICATE.name,
                        Job.payload["course_id"].astext == self.course_id,
                    )
                )
                or 0
            )

    async def certificates(self) -> list[Certificate]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(Certificate).where(Certificate.course_id == uuid.UUID(self.course_id))
            )
            return list(rows)

    async def mine(self, label: str) -> list[dict[str, Any]]:
        body = await ok(await self.clients[label].get("/api/v1/me/certificates"))
        return body["items"]  # type: ignore[no-any-return]

    def stored_pdfs(self) -> list[Path]:
        return sorted((self.data_dir).rglob("certificates/**/*.pdf"))


@pytest.fixture
def school(make_client: ClientFactory, database: Database, tmp_path: Path) -> School:
    return School(make_client, database, tmp_path)


async def issued(school: School, label: str = "student") -> str:
    """Complete the course as ``label``, run the jobs, return the certificate's code."""
    await school.complete(label)
    await school.run_jobs()
    [item] = await school.mine(label)
    return str(item["code"])


def qr_matrix(image: Image.Image) -> list[list[bool]]:
    """Read the QR code's modules back from the embedded image (QR_SCALE pixels a module,
    QR_BORDER modules of quiet zone): sample each module's centre."""
    gray = image.convert("L")
    modules = gray.width // QR_SCALE - 2 * QR_BORDER

    def dark(row: int, col: int) -> bool:
        centre = (
            (QR_BORDER + col) * QR_SCALE + QR_SCALE // 2,
            (QR_BORDER + row) * QR_SCALE + QR_SCALE // 2,
        )
        return bool(gray.getpixel(centre) < 128)  # type: ignore[operator]

    return [[dark(row, col) for col in range(modules)] for row in range(modules)]


# --- issuing -----------------------------------------------------------------------------------


async def test_completing_the_course_issues_exactly_one_certificate(school: School) -> None:
    await school.build()
    await school.complete("student", school.lessons[:1])
    await school.run_jobs()
    assert await school.queued() == 0  # half-way: nothing queued, nothing issued
    assert await school.certificates() == []
    assert await school.mine("student") == []

    await school.complete("student", school.lessons[1:])
    assert await school.queued() == 1
    await school.run_jobs()
    [row] = await school.certificates()
    assert row.user_id == uuid.UUID(school.ids["student"])
    assert (row.student_name, row.course_title, row.instructor_name) == (
        STUDENT_NAME,
        COURSE_TITLE,
        INSTRUCTOR_NAME,
    )
    assert len(row.code) >= 16
    [item] = await school.mine("student")
    assert item == {
        "code": row.code,
        "course_id": school.course_id,
        "course_title": COURSE_TITLE,
        "issued_at": item["issued_at"],
        "status": "valid",
        "pdf_url": f"/api/v1/certificates/{row.code}/pdf",
    }
    assert await school.mine("classmate") == []  # one's own only

    # The job again (a retry after a crash, a duplicate): still one certificate and one PDF.
    async with school.database.sessions() as session:
        payload = certificate_jobs.IssuePayload(
            course_id=uuid.UUID(school.course_id), student_id=row.user_id
        )
        await enqueue(session, certificate_jobs.ISSUE_CERTIFICATE, payload)
        await session.commit()
    await school.run_jobs()
    assert [r.id for r in await school.certificates()] == [row.id]
    assert [p.name for p in school.stored_pdfs()] == [f"{row.code}.pdf"]
    # Completing another lesson again, or reading progress, queues nothing more.
    await school.complete("student", school.lessons[:1])
    await ok(await school.clients["student"].get(f"/api/v1/courses/{school.course_id}/progress"))
    assert await school.queued() == 2  # the first job and the one enqueued by hand


async def test_leaving_before_the_job_runs_earns_nothing(school: School) -> None:
    await school.build()
    await school.complete("student")
    assert await school.queued() == 1
    student = school.clients["student"]
    await ok(await student.delete(f"/api/v1/courses/{school.course_id}/enrollments/me"), 204)
    await school.run_jobs()
    assert await school.certificates() == []
    assert school.stored_pdfs() == []


async def test_a_course_returned_to_draft_issues_nothing(school: School) -> None:
    await school.build()
    await school.complete("student")
    admin = school.clients["admin"]
    await ok(await admin.post(f"/api/v1/courses/{school.course_id}/unpublish"))
    await school.run_jobs()
    assert await school.certificates() == []


# --- the PDF -----------------------------------------------------------------------------------


async def test_the_pdf_says_who_what_when_and_carries_the_verification_qr(school: School) -> None:
    await school.build()
    code = await issued(school)
    resp = await school.clients["student"].get(f"/api/v1/certificates/{code}/pdf")
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/pdf"
    assert f"certificate-{code}.pdf" in resp.headers["Content-Disposition"]
    data = await resp.read()
    reader = PdfReader(io.BytesIO(data))
    [page] = reader.pages
    text = page.extract_text()
    for expected in (
        STUDENT_NAME,
        COURSE_TITLE,
        INSTRUCTOR_NAME,
        code,
        "Certificate of Completion",
    ):
        assert expected in text, (expected, text)
    [row] = await school.certificates()
    day = row.completed_at
    assert f"Completed on {day.day} " in text
    assert str(day.year) in text

    url = f"{ORIGIN}/certificates/{code}"
    [image] = page.images
    assert image.image is not None
    found = qr_matrix(image.image)
    assert found == [[bool(v) for v in line] for line in segno.make(url, error="m").matrix]
    # ...and not merely any QR code: another URL's differs.
    assert found != [[bool(v) for v in line] for line in segno.make(url + "X", error="m").matrix]


async def test_a_chinese_name_renders(school: School) -> None:
    await school.build()
    code = await issued(school, "classmate")
    resp = await school.clients["classmate"].get(f"/api/v1/certificates/{code}/pdf")
    text = PdfReader(io.BytesIO(await resp.read())).pages[0].extract_text()
    assert "Li Lei 李雷" in text, text


async def test_only_the_student_and_admins_download_the_pdf(school: School) -> None:
    await school.build()
    code = await issued(school)
    url = f"/api/v1/certificates/{code}/pdf"
    await problem(await school.clients["classmate"].get(url), 403, "not_your_certificate")
    await problem(await school.clients["owner"].get(url), 403, "not_your_certificate")
    await problem(await (await school.client()).get(url), 401, "not_authenticated")
    resp = await school.clients["admin"].get(url)
    assert resp.status == 200
    assert (await resp.read()).startswith(b"%PDF-")
    unknown = "A" * 24
    await problem(
        await school.clients["admin"].get(f"/api/v1/certificates/{unknown}/pdf"),
        404,
        "certificate_not_found",
    )


# --- verification and revocation ---------------------------------------------------------------


async def test_verification_is_public_and_revocation_shows(school: School) -> None:
    await school.build()
    code = await issued(school)
    anonymous = await school.client()
    body = await ok(await anonymous.get(f"/api/v1/certificates/{code}"))
    assert body["status"] == "valid"
    assert body["revoked_at"] is None
    assert (body["code"], body["student_name"], body["course_title"]) == (
        code,
        STUDENT_NAME,
        COURSE_TITLE,
    )
    assert body["instructor_name"] == INSTRUCTOR_NAME
    # Typed in lower case, it still verifies; an unknown code is a stable 404.
    assert (await ok(await anonymous.get(f"/api/v1/certificates/{code.lower()}")))["code"] == code
    for unknown in ("A" * 24, "nope", code[:-1]):
        await problem(
            await anonymous.get(f"/api/v1/certificates/{unknown}"), 404, "certificate_not_found"
        )
    # The public page.
    page = await anonymous.get(f"/certificates/{code}")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "/static/certificate.js" in await page.text()

    revoke = f"/api/v1/certificates/{code}/revoke"
    for label in ("student", "owner"):
        await problem(
            await school.clients[label].post(revoke, json={"reason": "mine"}), 403, "admin_required"
        )
    await problem(await anonymous.post(revoke, json={"reason": "x"}), 401)
    admin = school.clients["admin"]
    for bad in ({}, {"reason": ""}, {"reason": "   "}):
        await problem(await admin.post(revoke, json=bad), 422)
    assert (await ok(await anonymous.get(f"/api/v1/certificates/{code}")))["status"] == "valid"

    revoked = await ok(await admin.post(revoke, json={"reason": "Plagiarised final essay"}))
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] is not None
    body = await ok(await anonymous.get(f"/api/v1/certificates/{code}"))
    assert body["status"] == "revoked"
    assert body["revoked_at"] == revoked["revoked_at"]
    # The reason is for the record, not for the public.
    assert "Plagiarised" not in str(body)
    [item] = await school.mine("student")
    assert item["status"] == "revoked"
    assert item["pdf_url"] is None
    # Its PDF would still present it as valid: gone for the student, kept for admins.
    pdf = f"/api/v1/certificates/{code}/pdf"
    await problem(await school.clients["student"].get(pdf), 410, "certificate_revoked")
    await problem(await school.clients["owner"].get(pdf), 403, "not_your_certificate")
    kept = await admin.get(pdf)
    assert kept.status == 200, await kept.text()
    assert (await kept.read()).startswith(b"%PDF")
    await problem(
        await admin.post(revoke, json={"reason": "again"}), 409, "certificate_already_revoked"
    )
    [row] = await school.certificates()
    assert row.revoke_reason == "Plagiarised final essay"
    assert row.revoked_by == uuid.UUID(school.ids["admin"])
    await problem(
        await admin.post(f"/api/v1/certificates/{'B' * 24}/revoke", json={"reason": "x"}),
        404,
        "certificate_not_found",
    )
    # Still one certificate: a revoked one is not issued again.
    await school.complete("student", school.lessons[:1])
    await school.run_jobs()
    assert len(await school.certificates()) == 1


async def test_my_certificates_needs_a_sign_in(school: School) -> None:
    anonymous = await school.client()
    await problem(await anonymous.get("/api/v1/me/certificates"), 401, "not_authenticated")


async def test_verification_is_rate_limited_per_client(make_client: ClientFactory) -> None:
    """Public lookups are counted per address (the codes cannot be guessed; scraping is the
    concern): past the limit, a 429 with the usual problem code, known codes or not."""
    anonymous = await make_client(ip_rate_limit="3/minute")
    for _ in range(3):
        await problem(await anonymous.get(f"/api/v1/certificates/{'C' * 24}"), 404)
    resp = await anonymous.get(f"/api/v1/certificates/{'C' * 24}")
    await problem(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0
