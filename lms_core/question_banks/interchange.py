"""A bank as a JSON document, out and back in (QTI 2.1 is not supported yet).

The format, version 1::

    {
      "format": "seminar.question-bank",
      "version": 1,
      "exported_at": "2026-11-23T01:00:00+00:00",
      "bank": {"title": "...", "description": "..."},
      "questions": [ {"type": "single_choice", "prompt": "...", ...}, ... ]
    }

Each question is exactly the body ``POST /question-banks/{id}/questions`` takes (the author's
definition, answer key included), so an export is also a backup. Importing appends the
questions to an existing bank: every question is validated first, and if any is invalid nothing
is imported and the problem lists the errors of each invalid question by its index. A reader
refuses a version it does not know (a later version may add fields).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.errors import FieldError
from lms_core.question_banks import errors, schemas, service
from lms_core.question_banks.models import Question
from lms_core.schemas import Input

FORMAT: Literal["seminar.question-bank"] = "seminar.question-bank"
VERSION: Literal[1] = 1
MAX_IMPORT = 500

_definition: TypeAdapter[schemas.QuestionDefinition] = TypeAdapter(schemas.QuestionDefinition)


class BankHeader(BaseModel):
    title: str
    description: str = ""


class BankExport(BaseModel):
    format: Literal["seminar.question-bank"] = FORMAT
    version: Literal[1] = VERSION
    exported_at: datetime
    bank: BankHeader
    questions: list[schemas.QuestionDefinition]


class BankImportIn(Input):
    format: Literal["seminar.question-bank"]
    version: Literal[1] = Field(description="Only version 1 is known.")
    exported_at: datetime | None = None
    bank: dict[str, Any] | None = Field(
        default=None, description="Ignored on import: the questions join the bank in the URL."
    )
    questions: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_IMPORT,
        description="Each as POST /question-banks/{bank_id}/questions takes it.",
    )


class ImportResultOut(BaseModel):
    imported: int
    question_ids: list[uuid.UUID]


async def export_bank(session: AsyncSession, actor: Actor, bank_id: uuid.UUID) -> BankExport:
    bank = await service.get_bank(session, actor, bank_id)
    questions = await session.scalars(
        select(Question)
        .where(Question.bank_id == bank.id)
        .order_by(Question.created_at, Question.id)
    )
    return BankExport(
        exported_at=utcnow(),
        bank=BankHeader(title=bank.title, description=bank.description),
        questions=[service.definition(q) for q in questions],
    )


def validate_questions(raw: list[dict[str, Any]]) -> list[schemas.QuestionDefinition]:
    """Every question validated; ``ImportInvalid`` naming each invalid one by index."""
    valid: list[schemas.QuestionDefinition] = []
    field_errors: list[FieldError] = []
    per_question: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        try:
            valid.append(_definition.validate_python(item))
        except ValidationError as exc:
            found = [
                FieldError(("body", "questions", index, *e["loc"]), e["msg"], e["type"])
                for e in exc.errors(include_url=False, include_input=False)
            ]
            field_errors.extend(found)
            per_question.append(
                {
                    "index": index,
                    "errors": [
                        {"loc": list(e.loc[3:]), "message": e.message, "type": e.type}
                        for e in found
                    ],
                }
            )
    if per_question:
        raise errors.ImportInvalid(
            f"{len(per_question)} of {len(raw)} questions are not valid; nothing was imported.",
            errors=field_errors,
            extra={"question_errors": per_question},
        )
    return valid


async def import_questions(
    session: AsyncSession, actor: Actor, bank_id: uuid.UUID, data: BankImportIn
) -> list[Question]:
    """All or nothing: validated before anything is written, added in one flush."""
    bank = await service.bank_for(session, actor, bank_id, edit=True, for_update=True)
    definitions = validate_questions(data.questions)
    await service.require_room(session, bank, len(definitions))
    rows = [service.new_question(bank, actor, d) for d in definitions]
    start = utcnow()
    for i, row in enumerate(rows):  # the file's order is the bank's (lists sort by created_at)
        row.created_at = row.updated_at = start + timedelta(microseconds=i)
    session.add_all(rows)
    await session.flush()
    return rows
