"""Every type's payload is validated; a key that contradicts itself is refused, naming the
field at fault."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lms_core.question_banks.models import QuestionType
from lms_core.question_banks.schemas import (
    MAX_ANSWER_LENGTH,
    MAX_PATTERN_LENGTH,
    AnswerIn,
    QuestionIn,
    content_of,
    definition_of,
)
from tests.lms_core.question_banks.samples import SAMPLES, question


def refused(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        QuestionIn.model_validate(data)
    return [(tuple(e["loc"]), e["type"]) for e in caught.value.errors()]


def sample(kind: QuestionType, **changes: Any) -> dict[str, Any]:
    return {**SAMPLES[kind], **changes}


def opts(*correct: bool) -> list[dict[str, Any]]:
    return [{"id": f"o{i}", "text": f"t{i}", "correct": c} for i, c in enumerate(correct)]


@pytest.mark.parametrize(
    ("data", "loc", "kind"),
    [
        (
            sample(QuestionType.SINGLE_CHOICE, options=opts(True, True, False)),
            ("single_choice", "options"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.SINGLE_CHOICE, options=opts(False, False)),
            ("single_choice", "options"),
            "key_inconsistent",
        ),
        (
            sample(
                QuestionType.SINGLE_CHOICE,
                options=[{"id": "a", "text": "x", "correct": True}, {"id": "a", "text": "y"}],
            ),
            ("single_choice", "options"),
            "duplicate_id",
        ),
        (
            sample(QuestionType.MULTIPLE_CHOICE, options=opts(False, False, False)),
            ("multiple_choice", "options"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.ORDERING, correct_order=["i1", "i1", "i2"]),
            ("ordering", "correct_order"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.ORDERING, correct_order=["i1", "i2"]),
            ("ordering", "correct_order"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.MATCHING, pairs={"fr": "c1", "it": "nowhere"}),
            ("matching", "pairs"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.MATCHING, pairs={"fr": "c1"}),
            ("matching", "pairs"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.FILL_IN_BLANK, blanks=[{"id": "b"}]),
            ("fill_in_blank", "blanks"),
            "key_inconsistent",
        ),
        (
            sample(QuestionType.FILL_IN_BLANK, blanks=[{"id": "b", "pattern": "(unclosed"}]),
            ("fill_in_blank", "blanks", 0, "pattern"),
            "invalid_pattern",
        ),
        (
            sample(
                QuestionType.FILL_IN_BLANK,
                blanks=[{"id": "b", "pattern": "a" * (MAX_PATTERN_LENGTH + 1)}],
            ),
            ("fill_in_blank", "blanks", 0, "pattern"),
            "string_too_long",
        ),
        (
            # Too big an automaton for RE2's memory budget.
            sample(QuestionType.FILL_IN_BLANK, blanks=[{"id": "b", "pattern": "(a{1,999}){99}"}]),
            ("fill_in_blank", "blanks", 0, "pattern"),
            "invalid_pattern",
        ),
        (
            sample(QuestionType.FILL_IN_BLANK, blanks=[{"id": "b", "accepted": ["x" * 201]}]),
            ("fill_in_blank", "blanks", 0, "accepted", 0),
            "string_too_long",
        ),
        (
            sample(QuestionType.NUMERIC, tolerance=150, tolerance_mode="percent"),
            ("numeric", "tolerance_mode"),
            "key_inconsistent",
        ),
        (sample(QuestionType.NUMERIC, answer="nan"), ("numeric", "answer"), "finite_number"),
        (
            sample(QuestionType.ESSAY, min_words=50, max_words=10),
            ("essay", "max_words"),
            "key_inconsistent",
        ),
        (sample(QuestionType.TRUE_FALSE, points=0), ("true_false", "points"), "greater_than"),
        (sample(QuestionType.TRUE_FALSE, points=1001), ("true_false", "points"), "less_than_equal"),
        (sample(QuestionType.TRUE_FALSE, extra=1), ("true_false", "extra"), "extra_forbidden"),
        ({"type": "hotspot", "prompt": "x"}, (), "union_tag_invalid"),
        (
            sample(QuestionType.TRUE_FALSE, prompt="a\x00b"),
            ("true_false", "prompt"),
            "nul_character",
        ),
    ],
)
def test_inconsistent_keys_are_refused_naming_the_field(
    data: dict[str, Any], loc: tuple[str | int, ...], kind: str
) -> None:
    assert (loc, kind) in refused(data), refused(data)


def test_tags_are_trimmed_lowered_and_unique() -> None:
    q = QuestionIn.model_validate(
        sample(QuestionType.TRUE_FALSE, tags=[" Algebra", "algebra", "X"])
    )
    assert q.root.tags == ["algebra", "x"]


@pytest.mark.parametrize("kind", list(QuestionType))
def test_stored_columns_rebuild_the_definition(kind: QuestionType) -> None:
    q = question(kind)
    content = content_of(q)
    assert content["type"] == kind.value
    assert "prompt" not in content
    assert "points" not in content
    rebuilt = definition_of(
        prompt=q.prompt,
        prompt_format=q.prompt_format.value,
        points=q.points,
        feedback=q.feedback,
        tags=q.tags,
        content=content,
    )
    assert rebuilt == q


def test_answers_are_bounded() -> None:
    with pytest.raises(ValidationError):
        AnswerIn.model_validate(
            {"type": "fill_in_blank", "blanks": {"b": "x" * (MAX_ANSWER_LENGTH + 1)}}
        )
    with pytest.raises(ValidationError):
        AnswerIn.model_validate({"type": "numeric", "value": "inf"})
