"""The JSON interchange format: an export reads back as the same questions; an import is
validated question by question and refused whole, with each invalid question's errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from lms_core.clock import utcnow
from lms_core.question_banks import errors
from lms_core.question_banks.interchange import (
    BankExport,
    BankHeader,
    BankImportIn,
    validate_questions,
)
from lms_core.question_banks.models import QuestionType
from tests.lms_core.question_banks.samples import SAMPLES, question


def document(questions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": "seminar.question-bank", "version": 1, "questions": questions}


def test_an_export_imports_as_the_same_questions() -> None:
    originals = [question(kind) for kind in QuestionType]
    exported = BankExport(
        exported_at=utcnow(), bank=BankHeader(title="B", description="d"), questions=originals
    )
    text = exported.model_dump_json()
    parsed = json.loads(text)
    assert (parsed["format"], parsed["version"]) == ("seminar.question-bank", 1)
    assert [q["type"] for q in parsed["questions"]] == [k.value for k in QuestionType]
    imported = BankImportIn.model_validate_json(text)
    assert validate_questions(imported.questions) == originals


def test_one_bad_question_refuses_the_whole_import_with_its_errors() -> None:
    bad_order = {**SAMPLES[QuestionType.ORDERING], "correct_order": ["i1", "i1", "i2"]}
    raw = [
        SAMPLES[QuestionType.TRUE_FALSE],
        bad_order,
        {"type": "nope"},
        SAMPLES[QuestionType.ESSAY],
    ]
    with pytest.raises(errors.ImportInvalid) as caught:
        validate_questions(raw)
    refusal = caught.value
    assert refusal.code == "question_import_invalid"
    per_question = refusal.extra["question_errors"]
    assert [p["index"] for p in per_question] == [1, 2]
    assert per_question[0]["errors"][0]["loc"] == ["ordering", "correct_order"]
    assert ("body", "questions", 1, "ordering", "correct_order") in [e.loc for e in refusal.errors]


@pytest.mark.parametrize(
    "doc",
    [
        {"format": "qti", "version": 1, "questions": [SAMPLES[QuestionType.ESSAY]]},
        {
            "format": "seminar.question-bank",
            "version": 2,
            "questions": [SAMPLES[QuestionType.ESSAY]],
        },
        document([]),
        document([SAMPLES[QuestionType.ESSAY]] * 501),
    ],
)
def test_unknown_formats_versions_and_sizes_are_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BankImportIn.model_validate(doc)
