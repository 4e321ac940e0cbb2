"""A real ``seminar serve`` (running the background jobs) SIGKILLed between a student's
autosaves and the end of the quiz: nothing saved is lost. The student never comes back; once
the deadline passes, a restarted server's job runner submits the attempt with the answers saved
before the crash, and the student then reads the graded result."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from lms_core.courses.models import Course
from lms_core.question_banks.models import QuestionType
from tests.conftest import PASSWORD
from tests.e2e.conftest import running_server
from tests.lms_core.question_banks.samples import SAMPLES
from tests.server.api.test_quizzes import key_of

pytestmark = pytest.mark.timeout(180)


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {"Origin": url}

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        async with (
            aiohttp.ClientSession(self.url, headers=self.headers) as http,
            http.request(method, f"/api/v1{path}", json=body) as resp,
        ):
            assert resp.status == expect, (path, resp.status, await resp.text())
            return await resp.json() if resp.content_type.endswith("json") else None

    async def sign_up(self, email: str, database_url: str, role: Role = Role.STUDENT) -> None:
        await self.call(
            "POST", "/auth/register", {"email": email, "password": PASSWORD, "name": "Q"}, 201
        )
        if role is not Role.STUDENT:
            engine = create_async_engine(database_url, poolclass=NullPool)
            try:
                async with engine.begin() as conn:
                    await conn.execute(update(User).where(User.email == email).values(role=role))
            finally:
                await engine.dispose()
        async with (
            aiohttp.ClientSession(self.url, headers=self.headers) as http,
            http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}) as resp,
        ):
            assert resp.status == 200, await resp.text()
            cookie = "; ".join(f"{k}={m.value}" for k, m in resp.cookies.items())
        token = await self._token(cookie)
        self.headers = {"Authorization": f"Bearer {token}"}

    async def _token(self, cookie: str) -> str:
        async with (
            aiohttp.ClientSession(self.url, headers={**self.headers, "Cookie": cookie}) as http,
            http.post("/api/v1/users/me/tokens", json={"name": "quiz crash"}) as resp,
        ):
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["token"])


async def test_saved_answers_survive_a_killed_server(database_url: str, tmp_path: Path) -> None:
    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    try:
        await _crash_and_recover(database_url, tmp_path, stamp)
    finally:  # the scratch database is shared: other tests list every published course
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(delete(Course).where(Course.title == f"Crash {stamp}"))
                await conn.execute(
                    delete(User).where(User.email.like(f"quiz-%-{stamp}@example.com"))
                )
        finally:
            await engine.dispose()


async def _crash_and_recover(database_url: str, tmp_path: Path, stamp: str) -> None:
    with running_server(database_url, tmp_path / "a", run_workers=True) as server:
        owner, student = Client(server.url), Client(server.url)
        await owner.sign_up(f"quiz-owner-{stamp}@example.com", database_url, Role.INSTRUCTOR)
        await student.sign_up(f"quiz-student-{stamp}@example.com", database_url)
        course = await owner.call("POST", "/courses", {"title": f"Crash {stamp}"}, 201)
        module = await owner.call("POST", f"/courses/{course['id']}/modules", {"title": "W"}, 201)
        lesson = await owner.call(
            "POST", f"/modules/{module['id']}/lessons", {"title": "Q", "kind": "quiz"}, 201
        )
        await owner.call("POST", f"/courses/{course['id']}/publish")
        bank = await owner.call(
            "POST", f"/courses/{course['id']}/question-banks", {"title": "B"}, 201
        )
        questions = {
            kind: await owner.call(
                "POST", f"/question-banks/{bank['id']}/questions", SAMPLES[kind], 201
            )
            for kind in (QuestionType.TRUE_FALSE, QuestionType.NUMERIC, QuestionType.ORDERING)
        }
        closes = datetime.now(UTC) + timedelta(seconds=8)
        settings = {
            "items": [{"question_id": q["id"]} for q in questions.values()],
            "closes_at": closes.isoformat(),
        }
        await owner.call("PUT", f"/lessons/{lesson['id']}/quiz", settings)
        await student.call("POST", f"/courses/{course['id']}/enrollments", expect=201)
        attempt = await student.call("POST", f"/lessons/{lesson['id']}/quiz/attempts", expect=201)
        answered = (QuestionType.TRUE_FALSE, QuestionType.NUMERIC)
        for kind in answered:
            question = questions[kind]
            body = {"answer": key_of(question, kind), "seq": 1}
            await student.call(
                "PUT", f"/quiz-attempts/{attempt['id']}/answers/{question['id']}", body
            )
        server.process.send_signal(signal.SIGKILL)  # no shutdown, no flush: a crash
        server.process.wait(timeout=10)

    with running_server(database_url, tmp_path / "b", run_workers=True) as again:
        # Nobody touches the attempt: the job queued at the start submits it after the deadline.
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with asyncio.timeout(60):
                while True:
                    async with engine.connect() as conn:
                        status = (
                            await conn.exec_driver_sql(
                                "SELECT status FROM quiz_attempts WHERE id = $1",
                                (attempt["id"],),
                            )
                        ).scalar()
                    if status == "submitted":
                        break
                    await asyncio.sleep(0.5)
        finally:
            await engine.dispose()
        student.url = again.url
        result = await student.call("GET", f"/quiz-attempts/{attempt['id']}")
        assert result["auto_submitted"] is True
        expected = sum(questions[k]["question"]["points"] for k in answered)
        assert result["score"] == expected  # both answers saved before the crash count
        assert result["submitted_at"] == result["deadline_at"]
