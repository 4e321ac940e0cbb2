"""Question-bank use cases: banks of a course and their questions.

Who may do what (course roles from ``lms_core.courses.access``, never restated here):

* **read** banks and questions, answer keys included, and **export**: the course's staff
  (``CourseRole.is_staff``: teaching assistants, co-instructors, the owner, admins). TAs read
  the keys because they grade.
* **create, change, delete, import**: those who may edit the course (``CourseRole.can_edit``:
  co-instructors, the owner, admins). A teaching assistant is refused (403
  ``not_course_editor``); an archived course's banks are read-only (409 ``course_archived``).
* everyone else: a published course's banks are refused (403 ``not_course_staff``, or
  ``not_course_editor`` for changes); a draft course's are *not found*, as the draft itself is.

Services never commit: the request's unit of work does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses.access import CourseNotFound, editable_course, visible_course
from lms_core.courses.models import Course, CourseStatus
from lms_core.courses.richtext import to_safe_html
from lms_core.errors import Conflict
from lms_core.pagination import decode_time_cursor, encode_time_cursor
from lms_core.question_banks import errors, schemas
from lms_core.question_banks.models import Question, QuestionBank

MAX_QUESTIONS_PER_BANK = 2000

M = TypeVar("M", Question, QuestionBank)


# -- access ------------------------------------------------------------------------------------


async def _readable_course(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Course:
    course, role = await visible_course(session, actor, course_id)
    if not role.is_staff:
        raise errors.NotCourseStaff()
    return course


async def _editable_course(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Course:
    course = await editable_course(session, actor, course_id)
    if course.status is CourseStatus.ARCHIVED:
        raise errors.CourseArchived()
    return course


async def bank_for(
    session: AsyncSession,
    actor: Actor,
    bank_id: uuid.UUID,
    *,
    edit: bool = False,
    for_update: bool = False,
) -> QuestionBank:
    stmt = select(QuestionBank).where(QuestionBank.id == bank_id)
    if for_update:
        stmt = stmt.with_for_update()
    bank = await session.scalar(stmt)
    if bank is None:
        raise errors.BankNotFound()
    try:
        if edit:
            await _editable_course(session, actor, bank.course_id)
        else:
            await _readable_course(session, actor, bank.course_id)
    except CourseNotFound:
        raise errors.BankNotFound() from None
    return bank


async def _question(
    session: AsyncSession, actor: Actor, question_id: uuid.UUID, *, edit: bool = False
) -> tuple[Question, QuestionBank]:
    question = await session.scalar(select(Question).where(Question.id == question_id))
    if question is None:
        raise errors.QuestionNotFound()
    try:
        bank = await bank_for(session, actor, question.bank_id, edit=edit, for_update=edit)
    except errors.BankNotFound:
        raise errors.QuestionNotFound() from None
    return question, bank


# -- banks -------------------------------------------------------------------------------------


async def create_bank(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.BankCreateIn
) -> QuestionBank:
    course = await _editable_course(session, actor, course_id)
    bank = QuestionBank(
        course_id=course.id, title=data.title, description=data.description, created_by=actor.id
    )
    session.add(bank)
    await session.flush()
    return bank


async def list_banks(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, query: schemas.BankQuery
) -> tuple[list[QuestionBank], str | None]:
    course = await _readable_course(session, actor, course_id)
    stmt = select(QuestionBank).where(QuestionBank.course_id == course.id)
    return await _page(session, stmt, QuestionBank, query.cursor, query.limit)


async def get_bank(session: AsyncSession, actor: Actor, bank_id: uuid.UUID) -> QuestionBank:
    return await bank_for(session, actor, bank_id)


async def update_bank(
    session: AsyncSession, actor: Actor, bank_id: uuid.UUID, data: schemas.BankUpdateIn
) -> QuestionBank:
    bank = await bank_for(session, actor, bank_id, edit=True, for_update=True)
    if data.title is not None:
        bank.title = data.title
    if data.description is not None:
        bank.description = data.description
    await session.flush()
    return bank


async def delete_bank(session: AsyncSession, actor: Actor, bank_id: uuid.UUID) -> None:
    """The bank and its questions."""
    bank = await bank_for(session, actor, bank_id, edit=True, for_update=True)
    await session.delete(bank)
    await session.flush()


async def question_counts(
    session: AsyncSession, bank_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Question.bank_id, func.count())
        .where(Question.bank_id.in_(bank_ids))
        .group_by(Question.bank_id)
    )
    counts = {bank_id: int(n) for bank_id, n in rows}
    return {bank_id: counts.get(bank_id, 0) for bank_id in bank_ids}


# -- questions ---------------------------------------------------------------------------------


def new_question(
    bank: QuestionBank, actor: Actor, definition: schemas.QuestionDefinition
) -> Question:
    question = Question(bank_id=bank.id, created_by=actor.id)
    _fill(question, definition)
    return question


def _fill(question: Question, d: schemas.QuestionDefinition) -> None:
    question.type = d.type
    question.prompt = d.prompt
    question.prompt_format = d.prompt_format.value
    question.prompt_html = to_safe_html(d.prompt, d.prompt_format)
    question.points = d.points
    question.feedback = d.feedback
    question.tags = list(d.tags)
    question.content = schemas.content_of(d)


async def require_room(session: AsyncSession, bank: QuestionBank, adding: int) -> None:
    """Refuse to grow a bank past ``MAX_QUESTIONS_PER_BANK`` (the caller holds its row lock)."""
    count = await session.scalar(
        select(func.count()).select_from(Question).where(Question.bank_id == bank.id)
    )
    if (count or 0) + adding > MAX_QUESTIONS_PER_BANK:
        raise Conflict(
            f"A bank holds at most {MAX_QUESTIONS_PER_BANK} questions.", code="question_bank_full"
        )


async def create_question(
    session: AsyncSession,
    actor: Actor,
    bank_id: uuid.UUID,
    definition: schemas.QuestionDefinition,
) -> Question:
    bank = await bank_for(session, actor, bank_id, edit=True, for_update=True)
    await require_room(session, bank, 1)
    question = new_question(bank, actor, definition)
    session.add(question)
    await session.flush()
    return question


async def list_questions(
    session: AsyncSession, actor: Actor, bank_id: uuid.UUID, query: schemas.QuestionQuery
) -> tuple[list[Question], str | None]:
    bank = await bank_for(session, actor, bank_id)
    stmt = select(Question).where(Question.bank_id == bank.id)
    if query.tag is not None:
        stmt = stmt.where(Question.tags.contains([query.tag]))
    if query.type is not None:
        stmt = stmt.where(Question.type == query.type)
    return await _page(session, stmt, Question, query.cursor, query.limit)


async def get_question(session: AsyncSession, actor: Actor, question_id: uuid.UUID) -> Question:
    return (await _question(session, actor, question_id))[0]


async def replace_question(
    session: AsyncSession,
    actor: Actor,
    question_id: uuid.UUID,
    definition: schemas.QuestionDefinition,
) -> Question:
    """The whole definition is replaced (its type may change)."""
    question, _ = await _question(session, actor, question_id, edit=True)
    _fill(question, definition)
    await session.flush()
    return question


async def delete_question(session: AsyncSession, actor: Actor, question_id: uuid.UUID) -> None:
    question, _ = await _question(session, actor, question_id, edit=True)
    await session.delete(question)
    await session.flush()


def definition(question: Question) -> schemas.QuestionDefinition:
    return schemas.definition_of(
        prompt=question.prompt,
        prompt_format=question.prompt_format,
        points=question.points,
        feedback=question.feedback,
        tags=list(question.tags),
        content=question.content,
    )


def student_view(question: Question, *, seed: str) -> schemas.StudentQuestion:
    return schemas.to_student(question.id, question.prompt_html, definition(question), seed=seed)


# -- pages -------------------------------------------------------------------------------------


async def _page(
    session: AsyncSession, stmt: Select[M], model: type[M], cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    """Oldest first, keyset-paginated on (created_at, id)."""
    if cursor:
        moment, ident = decode_time_cursor(cursor)
        after: ColumnElement[bool] = tuple_(model.created_at, model.id) > tuple_(moment, ident)
        stmt = stmt.where(after)
    stmt = stmt.order_by(model.created_at, model.id).limit(limit + 1)
    rows = list((await session.scalars(stmt)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_time_cursor(last.created_at, last.id)
