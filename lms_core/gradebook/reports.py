"""What the gradebook shows: the staff table (a page of students by every item), its CSV (every
student, streamed in batches) and a student's own grades. Totals count released grades only
(with manual scores, attendance and overrides); staff also see drafts, as drafts."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses import access
from lms_core.courses.access import CourseRole
from lms_core.gradebook import compute, engine, errors, schemas
from lms_core.gradebook.service import staff_course
from lms_core.pagination import invalid_cursor
from lms_core.spreadsheet import defuse

# --- the staff table ---------------------------------------------------------------------------


def _encode_student_cursor(student: engine.Student) -> str:
    raw = json.dumps([student.name, str(student.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_student_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        name, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        if not isinstance(name, str) or "\x00" in name:
            raise ValueError("not a name")
        return name, uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None


def _cell_out(cell: engine.Cell | None) -> schemas.CellOut | None:
    if cell is None:
        return None
    return schemas.CellOut(
        points=compute.rounded(cell.points),
        max_points=cell.max_points,
        status=cell.status,
        overridden=cell.overridden,
    )


def _row_out(book: engine.Book, student: engine.Student, row: engine.Row) -> schemas.StudentRowOut:
    assert row.totals is not None
    return schemas.StudentRowOut(
        student=schemas.PersonOut(id=student.id, display_name=student.name, email=student.email),
        scores={i.id: _cell_out(row.cells.get(i.id)) for i in book.items},
        categories={c: compute.rounded(p) for c, p in row.totals.categories.items()},
        percent=compute.rounded(row.totals.percent),
        letter=row.letter,
    )


async def gradebook_page(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, *, cursor: str | None, limit: int
) -> schemas.GradebookPage:
    """A page of students (by name) with every item; totals count released grades only."""
    await staff_course(session, actor, course_id)
    after = _decode_student_cursor(cursor) if cursor is not None else None
    book = await engine.load_book(session, course_id)
    students = await engine.students_page(session, course_id, after=after, limit=limit + 1)
    more = len(students) > limit
    students = students[:limit]
    rows = await engine.load_rows(session, book, engine.ids(students))
    return schemas.GradebookPage(
        items=book.items,
        categories=book.categories,
        students=[_row_out(book, s, rows[s.id]) for s in students],
        next_cursor=_encode_student_cursor(students[-1]) if more and students else None,
    )


CSV_BATCH = 500


def _number(value: float | None) -> str:
    return "" if value is None else f"{round(value, compute.PLACES):g}"


async def gradebook_csv(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> AsyncIterator[str]:
    """Check access now; then the CSV (RFC 4180, formulas defused) in chunks of students.

    Each cell is what counts (released grades, manual scores, attendance, overrides); drafts
    are empty."""
    await staff_course(session, actor, course_id)
    book = await engine.load_book(session, course_id)
    return _csv_chunks(session, book)


async def _csv_chunks(session: AsyncSession, book: engine.Book) -> AsyncIterator[str]:
    header = ["email", "name"]
    header += [f"{i.title} ({i.max_points:g})" for i in book.items]
    header += [f"{c.name} (%)" for c in book.categories]
    header += ["percent", "letter"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([defuse(h) for h in header])
    after: tuple[str, uuid.UUID] | None = None
    while True:
        students = await engine.students_page(session, book.course_id, after=after, limit=CSV_BATCH)
        if not students:
            break
        rows = await engine.load_rows(session, book, engine.ids(students), cells=False)
        for s in students:
            row = rows[s.id]
            assert row.totals is not None
            line = [defuse(s.email), defuse(s.name)]
            for n in range(len(book.items)):
                score = row.counted.get(n)
                line.append("" if score is None else _number(score[0]))
            line += [_number(row.totals.categories.get(c.id)) for c in book.categories]
            line += [_number(row.totals.percent), row.letter or ""]
            writer.writerow(line)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        after = (students[-1].name, students[-1].id)
    if buffer.tell():
        yield buffer.getvalue()


# --- a student's own grades --------------------------------------------------------------------


async def my_grades(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> schemas.MyGradesOut:
    _, role = await access.visible_course(session, actor, course_id)
    if role is not CourseRole.STUDENT:
        raise errors.StudentsOnly()
    book = await engine.load_book(session, course_id)
    rows = await engine.load_rows(session, book, [actor.id], feedback=True)
    row = rows[actor.id]
    assert row.totals is not None
    items = []
    for item in book.items:
        cell = row.cells.get(item.id)
        shown = cell is not None and cell.counts
        items.append(
            schemas.MyItemOut(
                item=item,
                points=compute.rounded(cell.points) if shown and cell else None,
                max_points=cell.max_points if shown and cell else item.max_points,
                feedback_html=cell.feedback_html if cell is not None else None,
                lesson_id=item.lesson_id,
                status=engine.RELEASED if shown else None,
                overridden=cell.overridden if cell is not None else False,
            )
        )
    return schemas.MyGradesOut(
        items=items,
        categories=[
            schemas.MyCategoryOut(
                id=c.id,
                name=c.name,
                weight_percent=c.weight_percent,
                percent=compute.rounded(row.totals.categories.get(c.id)),
            )
            for c in book.categories
        ],
        percent=compute.rounded(row.totals.percent),
        letter=row.letter,
        passed=row.passed,
    )
