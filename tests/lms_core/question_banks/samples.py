"""One valid question of every type, with marker texts in every piece of its answer key, and
the answer that earns full marks."""

from __future__ import annotations

from typing import Any

from lms_core.question_banks.models import QuestionType
from lms_core.question_banks.schemas import (
    Answer,
    AnswerIn,
    EssayIn,
    FillInBlankIn,
    MatchingIn,
    MultipleChoiceIn,
    NumericIn,
    OrderingIn,
    QuestionDefinition,
    QuestionIn,
    SingleChoiceIn,
    TrueFalseIn,
)

# Texts that belong to an answer key only: no student view may contain them.
KEY_MARKERS = (
    "keyfeedback",
    "keyoptionfeedback",
    "keyaccepted",
    "keypattern",
    "keygradernotes",
    "4242.125",
    "17.5",
)
KEY_FIELDS = frozenset(
    {
        "correct",
        "accepted",
        "pattern",
        "case_sensitive",
        "normalize_whitespace",
        "tolerance",
        "tolerance_mode",
        "answer",
        "pairs",
        "correct_order",
        "grader_notes",
        "feedback",
        "scoring",
    }
)


def _opt(i: str, text: str, correct: bool = False) -> dict[str, Any]:
    return {"id": i, "text": text, "correct": correct, "feedback": "keyoptionfeedback"}


SAMPLES: dict[QuestionType, dict[str, Any]] = {
    QuestionType.SINGLE_CHOICE: {
        "type": "single_choice",
        "prompt": "Which is a **prime**?",
        "points": 2,
        "feedback": "keyfeedback",
        "tags": ["Primes", "arith"],
        "options": [_opt("a", "4"), _opt("b", "7", True), _opt("c", "9")],
    },
    QuestionType.MULTIPLE_CHOICE: {
        "type": "multiple_choice",
        "prompt": "Which are even?",
        "points": 3,
        "feedback": "keyfeedback",
        "tags": ["arith"],
        "options": [_opt("a", "2", True), _opt("b", "3"), _opt("c", "4", True), _opt("d", "5")],
    },
    QuestionType.TRUE_FALSE: {
        "type": "true_false",
        "prompt": "The sky is green.",
        "feedback": "keyfeedback",
        "correct": False,
    },
    QuestionType.FILL_IN_BLANK: {
        "type": "fill_in_blank",
        "prompt": "The capital of France is [[city]] and 2+2 is [[sum]].",
        "points": 4,
        "feedback": "keyfeedback",
        "blanks": [
            {"id": "city", "accepted": ["Paris", "keyaccepted"]},
            {"id": "sum", "accepted": ["four"], "pattern": "4|keypattern"},
        ],
    },
    QuestionType.NUMERIC: {
        "type": "numeric",
        "prompt": "A number?",
        "feedback": "keyfeedback",
        "answer": 4242.125,
        "tolerance": 17.5,
    },
    QuestionType.MATCHING: {
        "type": "matching",
        "prompt": "Match the capitals.",
        "feedback": "keyfeedback",
        "prompts": [{"id": "fr", "text": "France"}, {"id": "it", "text": "Italy"}],
        "choices": [
            {"id": "c1", "text": "Paris"},
            {"id": "c2", "text": "Rome"},
            {"id": "c3", "text": "Oslo"},
        ],
        "pairs": {"fr": "c1", "it": "c2"},
    },
    QuestionType.ORDERING: {
        "type": "ordering",
        "prompt": "Smallest first.",
        "feedback": "keyfeedback",
        "items": [
            {"id": "i1", "text": "one"},
            {"id": "i2", "text": "two"},
            {"id": "i3", "text": "three"},
        ],
        "correct_order": ["i1", "i2", "i3"],
    },
    QuestionType.ESSAY: {
        "type": "essay",
        "prompt": "Discuss.",
        "points": 10,
        "feedback": "keyfeedback",
        "min_words": 10,
        "max_words": 500,
        "grader_notes": "keygradernotes",
    },
}


def question(kind: QuestionType) -> QuestionDefinition:
    return QuestionIn.model_validate(SAMPLES[kind]).root


def answer(data: dict[str, Any]) -> Answer:
    return AnswerIn.model_validate(data).root


def key_answer(q: QuestionDefinition) -> Answer:
    """The answer that earns full marks (for an essay: some text)."""
    match q:
        case SingleChoiceIn():
            return answer({"type": q.type, "option_id": next(o.id for o in q.options if o.correct)})
        case MultipleChoiceIn():
            return answer({"type": q.type, "option_ids": [o.id for o in q.options if o.correct]})
        case TrueFalseIn():
            return answer({"type": q.type, "value": q.correct})
        case FillInBlankIn():
            return answer(
                {"type": q.type, "blanks": {b.id: b.accepted[0] for b in q.blanks if b.accepted}}
            )
        case NumericIn():
            return answer({"type": q.type, "value": q.answer})
        case MatchingIn():
            return answer({"type": q.type, "matches": dict(q.pairs)})
        case OrderingIn():
            return answer({"type": q.type, "order": list(q.correct_order)})
        case EssayIn():
            return answer({"type": q.type, "text": "An essay."})
