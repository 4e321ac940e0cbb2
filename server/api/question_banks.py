"""Question banks and their questions: thin handlers over lms_core.question_banks.

Who may do what is decided in the service (``lms_core/question_banks/service.py``): the
course's staff read (answer keys included), its editors change.
"""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.errors import TooLarge, UnsupportedMediaType
from lms_core.question_banks import interchange, qti, schemas, service
from lms_core.question_banks.models import Question, QuestionBank
from lms_core.schemas import Input
from server.api.framework import Call, Empty, Router
from server.api.paths import CoursePath

router = Router(tags=("question banks",))


class BankPath(BaseModel):
    bank_id: uuid.UUID


class QuestionPath(BaseModel):
    question_id: uuid.UUID


class StudentViewQuery(Input):
    seed: str = Field(
        default="preview",
        min_length=1,
        max_length=100,
        description="Fixes the shuffles (a quiz uses the attempt's id).",
    )


async def _bank_out(db: AsyncSession, bank: QuestionBank) -> schemas.BankOut:
    counts = await service.question_counts(db, [bank.id])
    return _bank_row(bank, counts[bank.id])


def _bank_row(bank: QuestionBank, count: int) -> schemas.BankOut:
    return schemas.BankOut(
        id=bank.id,
        course_id=bank.course_id,
        title=bank.title,
        description=bank.description,
        question_count=count,
        created_by=bank.created_by,
        created_at=bank.created_at,
        updated_at=bank.updated_at,
    )


def _question_out(question: Question) -> schemas.QuestionOut:
    return schemas.QuestionOut(
        id=question.id,
        bank_id=question.bank_id,
        prompt_html=question.prompt_html,
        question=service.definition(question),
        created_at=question.created_at,
        updated_at=question.updated_at,
    )


# -- banks -------------------------------------------------------------------------------------


@router.route(
    "POST",
    "/courses/{course_id}/question-banks",
    summary="Create a question bank (the course's instructors)",
    body=schemas.BankCreateIn,
    path_params=CoursePath,
    response=schemas.BankOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def create_question_bank(
    call: Call[schemas.BankCreateIn, Empty, CoursePath],
) -> schemas.BankOut:
    bank = await service.create_bank(call.db, call.actor, call.path.course_id, call.body)
    return _bank_row(bank, 0)


@router.route(
    "GET",
    "/courses/{course_id}/question-banks",
    summary="A course's question banks, oldest first (the course's staff)",
    query=schemas.BankQuery,
    path_params=CoursePath,
    response=schemas.BankPage,
    errors=(401, 403, 404, 422),
)
async def list_question_banks(
    call: Call[Empty, schemas.BankQuery, CoursePath],
) -> schemas.BankPage:
    banks, cursor = await service.list_banks(call.db, call.actor, call.path.course_id, call.query)
    counts = await service.question_counts(call.db, [b.id for b in banks])
    return schemas.BankPage(items=[_bank_row(b, counts[b.id]) for b in banks], next_cursor=cursor)


@router.route(
    "GET",
    "/question-banks/{bank_id}",
    summary="A question bank (the course's staff)",
    path_params=BankPath,
    response=schemas.BankOut,
    errors=(401, 403, 404, 422),
)
async def get_question_bank(call: Call[Empty, Empty, BankPath]) -> schemas.BankOut:
    return await _bank_out(call.db, await service.get_bank(call.db, call.actor, call.path.bank_id))


@router.route(
    "PATCH",
    "/question-banks/{bank_id}",
    summary="Rename or describe a question bank (the course's instructors)",
    body=schemas.BankUpdateIn,
    path_params=BankPath,
    response=schemas.BankOut,
    errors=(401, 403, 404, 409, 422),
)
async def update_question_bank(
    call: Call[schemas.BankUpdateIn, Empty, BankPath],
) -> schemas.BankOut:
    bank = await service.update_bank(call.db, call.actor, call.path.bank_id, call.body)
    return await _bank_out(call.db, bank)


@router.route(
    "DELETE",
    "/question-banks/{bank_id}",
    summary="Delete a question bank and its questions (the course's instructors)",
    path_params=BankPath,
    status=204,
    errors=(401, 403, 404, 409, 422),
)
async def delete_question_bank(call: Call[Empty, Empty, BankPath]) -> None:
    await service.delete_bank(call.db, call.actor, call.path.bank_id)


@router.route(
    "GET",
    "/question-banks/{bank_id}/export",
    summary="The bank as a JSON document (format seminar.question-bank, version 1), as a download",
    path_params=BankPath,
    response=interchange.BankExport,
    errors=(401, 403, 404, 422),
)
async def export_question_bank(call: Call[Empty, Empty, BankPath]) -> web.Response:
    exported = await interchange.export_bank(call.db, call.actor, call.path.bank_id)
    return web.Response(
        body=exported.model_dump_json(indent=2).encode(),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="question-bank-{call.path.bank_id}.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.route(
    "POST",
    "/question-banks/{bank_id}/import",
    summary="Add the questions of an exported bank (all or nothing; per-question errors)",
    body=interchange.BankImportIn,
    path_params=BankPath,
    response=interchange.ImportResultOut,
    status=201,
    errors=(401, 403, 404, 409, 413, 422),
)
async def import_question_bank(
    call: Call[interchange.BankImportIn, Empty, BankPath],
) -> interchange.ImportResultOut:
    rows = await interchange.import_questions(call.db, call.actor, call.path.bank_id, call.body)
    return interchange.ImportResultOut(imported=len(rows), question_ids=[r.id for r in rows])


QTI_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip-compressed",
        "application/octet-stream",
        "application/xml",
        "text/xml",
    }
)


@router.route(
    "GET",
    "/question-banks/{bank_id}/export.qti",
    summary=(
        "The bank as a QTI 2.1 content package (a zip: imsmanifest.xml and one assessmentItem "
        "per question), as a download (the course's staff)"
    ),
    path_params=BankPath,
    errors=(401, 403, 404, 422),
    download=True,
)
async def export_question_bank_qti(call: Call[Empty, Empty, BankPath]) -> web.Response:
    exported = await interchange.export_bank(call.db, call.actor, call.path.bank_id)
    data = await asyncio.to_thread(qti.package, exported.bank.title, exported.questions)
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="question-bank-{call.path.bank_id}.zip"',
            "Cache-Control": "private, no-store",
        },
    )


@router.route(
    "POST",
    "/question-banks/{bank_id}/import-qti",
    summary=(
        "Add the items of a QTI 2.1 content package (zip) or one assessmentItem (XML) as the "
        "raw body, at most 5 MiB (the course's instructors; all or nothing, 422 qti_invalid "
        "names each item that cannot be imported)"
    ),
    path_params=BankPath,
    response=interchange.ImportResultOut,
    status=201,
    errors=(400, 401, 403, 404, 409, 413, 415, 422),
    upload=True,
)
async def import_question_bank_qti(
    call: Call[Empty, Empty, BankPath],
) -> interchange.ImportResultOut:
    request = call.request
    await service.bank_for(call.db, call.actor, call.path.bank_id, edit=True)
    if request.content_type not in QTI_TYPES:
        raise UnsupportedMediaType(
            "Send a QTI package as application/zip or an item as application/xml."
        )
    limit = qti.MAX_PACKAGE_BYTES
    too_large = TooLarge(f"A QTI package is at most {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    definitions = await asyncio.to_thread(qti.parse_package, b"".join(chunks))
    rows = await qti.add_questions(call.db, call.actor, call.path.bank_id, definitions)
    return interchange.ImportResultOut(imported=len(rows), question_ids=[r.id for r in rows])


# -- questions ---------------------------------------------------------------------------------


@router.route(
    "POST",
    "/question-banks/{bank_id}/questions",
    summary="Add a question (the course's instructors); `type` selects its fields",
    body=schemas.QuestionIn,
    path_params=BankPath,
    response=schemas.QuestionOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def create_question(
    call: Call[schemas.QuestionIn, Empty, BankPath],
) -> schemas.QuestionOut:
    question = await service.create_question(call.db, call.actor, call.path.bank_id, call.body.root)
    return _question_out(question)


@router.route(
    "GET",
    "/question-banks/{bank_id}/questions",
    summary="A bank's questions with their keys, oldest first; filter by tag or type",
    query=schemas.QuestionQuery,
    path_params=BankPath,
    response=schemas.QuestionPage,
    errors=(401, 403, 404, 422),
)
async def list_questions(
    call: Call[Empty, schemas.QuestionQuery, BankPath],
) -> schemas.QuestionPage:
    rows, cursor = await service.list_questions(call.db, call.actor, call.path.bank_id, call.query)
    return schemas.QuestionPage(items=[_question_out(q) for q in rows], next_cursor=cursor)


@router.route(
    "GET",
    "/questions/{question_id}",
    summary="A question with its answer key (the course's staff)",
    path_params=QuestionPath,
    response=schemas.QuestionOut,
    errors=(401, 403, 404, 422),
)
async def get_question(call: Call[Empty, Empty, QuestionPath]) -> schemas.QuestionOut:
    return _question_out(await service.get_question(call.db, call.actor, call.path.question_id))


@router.route(
    "PUT",
    "/questions/{question_id}",
    summary="Replace a question's definition, its type included (the course's instructors)",
    body=schemas.QuestionIn,
    path_params=QuestionPath,
    response=schemas.QuestionOut,
    errors=(401, 403, 404, 409, 422),
)
async def replace_question(
    call: Call[schemas.QuestionIn, Empty, QuestionPath],
) -> schemas.QuestionOut:
    question = await service.replace_question(
        call.db, call.actor, call.path.question_id, call.body.root
    )
    return _question_out(question)


@router.route(
    "DELETE",
    "/questions/{question_id}",
    summary="Delete a question (the course's instructors)",
    path_params=QuestionPath,
    status=204,
    errors=(401, 403, 404, 409, 422),
)
async def delete_question(call: Call[Empty, Empty, QuestionPath]) -> None:
    await service.delete_question(call.db, call.actor, call.path.question_id)


@router.route(
    "GET",
    "/questions/{question_id}/student-view",
    summary="Preview a question as a student sees it: no answer key (the course's staff)",
    query=StudentViewQuery,
    path_params=QuestionPath,
    response=schemas.StudentQuestion,
    errors=(401, 403, 404, 422),
)
async def question_student_view(
    call: Call[Empty, StudentViewQuery, QuestionPath],
) -> schemas.StudentQuestion:
    question = await service.get_question(call.db, call.actor, call.path.question_id)
    return service.student_view(question, seed=call.query.seed)
