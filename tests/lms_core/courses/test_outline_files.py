"""The outline describes file lessons' files with one query for the whole course (no N+1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from lms_core.accounts.models import Role, User
from lms_core.courses.access import CourseRole
from lms_core.courses.models import Course, CourseFile, Lesson, LessonKind, Module
from lms_core.courses.outline import outline_for
from server.state import Database


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sync_engine = database.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)


async def test_outline_reads_every_file_in_one_query(database: Database) -> None:
    marker = uuid.uuid4().hex[:8]
    async with database.sessions() as session:
        owner = User(
            email=f"o-{marker}@example.com", name="O", password_hash="!", role=Role.INSTRUCTOR
        )
        session.add(owner)
        await session.flush()
        course = Course(slug=f"files-{marker}", title="Files", owner_id=owner.id)
        session.add(course)
        await session.flush()
        module = Module(course_id=course.id, title="M", position=0)
        session.add(module)
        await session.flush()
        kinds = [LessonKind.FILE] * 6 + [LessonKind.TEXT, LessonKind.VIDEO]
        lessons = [
            Lesson(module_id=module.id, course_id=course.id, title=f"L{i}", kind=k, position=i)
            for i, k in enumerate(kinds)
        ]
        session.add_all(lessons)
        await session.flush()
        # Every lesson but the last file lesson has a file (the video's is its source upload).
        session.add_all(
            CourseFile(
                course_id=course.id,
                lesson_id=lesson.id,
                storage_key=f"courses/{course.id}/files/{uuid.uuid4().hex}",
                filename=f"f{i}.pdf",
                content_type="application/pdf",
                size=100 + i,
                sha256="0" * 64,
            )
            for i, lesson in enumerate(lessons)
            if i != 5
        )
        await session.flush()

        with statements(database) as seen:
            outline = await outline_for(session, course, CourseRole.OWNER)
        assert sum("course_files" in sql for sql in seen) == 1, seen
        files = {x.title: x.file for x in outline.modules[0].lessons}
        for i in range(5):
            described = files[f"L{i}"]
            assert described is not None
            assert (described.filename, described.size) == (f"f{i}.pdf", 100 + i)
            assert described.content_type == "application/pdf"
        assert files["L5"] is None  # no file yet
        assert files["L6"] is None  # a text lesson
        assert files["L7"] is None  # a video's source upload is not the lesson's file

        # Visitors of lessons they may not open: neither the files nor the query.
        with statements(database) as seen:
            outline = await outline_for(session, course, CourseRole.VISITOR)
        assert not any("course_files" in sql for sql in seen), seen
        assert all(x.file is None for x in outline.modules[0].lessons)
        await session.rollback()
