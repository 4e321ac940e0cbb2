"""Grading one answer to one question: pure functions, no I/O.

``grade(question, answer)`` returns a ``Score``: the points awarded (always within
``[0, question.points]``), the maximum, whether a human must grade it (essays), and per-item
detail (one entry per option, blank, prompt or position) for feedback.

Partial credit, per type (``scoring: "all_or_nothing"`` turns it off where offered):

* single choice, true/false, numeric: all or nothing.
* multiple choice: ``hits / correct options - wrong picks / incorrect options``, floored at 0.
  Picking every option scores 0; full marks need exactly the correct set. (With no incorrect
  options the second term is 0.)
* fill in the blank: an equal share per blank answered acceptably.
* matching: an equal share per prompt matched to its choice.
* ordering: an equal share per item in its correct position.
* essay: 0 and ``needs_manual`` (a blank essay is 0 without a human).

Arithmetic is exact (``fractions.Fraction``) until the final float, so shares sum to the
question's points and the key always earns exactly ``points``.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

from lms_core.question_banks import errors
from lms_core.question_banks.schemas import (
    MAX_ANSWER_LENGTH,
    Answer,
    Blank,
    EssayAnswer,
    EssayIn,
    FillInBlankAnswer,
    FillInBlankIn,
    MatchingAnswer,
    MatchingIn,
    MultipleChoiceAnswer,
    MultipleChoiceIn,
    NumericAnswer,
    NumericIn,
    OrderingAnswer,
    OrderingIn,
    QuestionDefinition,
    SingleChoiceAnswer,
    SingleChoiceIn,
    TrueFalseAnswer,
    TrueFalseIn,
    compile_pattern,
)

# Numbers typed by people and computed in binary differ in the last bits (0.1 + 0.2): a
# relative hair of slack on top of the author's tolerance.
NUMERIC_EPSILON = 1e-9

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ItemScore:
    key: str  # the option, blank, prompt id, or the position ("0", "1", ...)
    correct: bool
    credit: float  # this item's signed contribution before the floor at 0


@dataclass(frozen=True, slots=True)
class Score:
    awarded: float
    max_points: float
    needs_manual: bool = False
    detail: tuple[ItemScore, ...] = ()

    @property
    def full_marks(self) -> bool:
        return not self.needs_manual and self.awarded == self.max_points


def grade(question: QuestionDefinition, answer: Answer | None) -> Score:
    """Grade ``answer`` (``None``: unanswered) against ``question``'s key."""
    if answer is not None and answer.type != question.type:
        raise errors.AnswerTypeMismatch()
    match question:
        case SingleChoiceIn():
            return _single(question, _as(answer, SingleChoiceAnswer))
        case MultipleChoiceIn():
            return _multiple(question, _as(answer, MultipleChoiceAnswer))
        case TrueFalseIn():
            return _true_false(question, _as(answer, TrueFalseAnswer))
        case FillInBlankIn():
            return _fill(question, _as(answer, FillInBlankAnswer))
        case NumericIn():
            return _numeric(question, _as(answer, NumericAnswer))
        case MatchingIn():
            return _matching(question, _as(answer, MatchingAnswer))
        case OrderingIn():
            return _ordering(question, _as(answer, OrderingAnswer))
        case EssayIn():
            return _essay(question, _as(answer, EssayAnswer))


def _as(answer: Any, cls: type[_T]) -> _T | None:
    return answer if isinstance(answer, cls) else None


def _points(points: float, fraction: Fraction) -> float:
    fraction = min(Fraction(1), max(Fraction(0), fraction))
    return float(Fraction(points) * fraction)


def _all_or_nothing(points: float, right: bool) -> Score:
    return Score(awarded=points if right else 0.0, max_points=points)


def _single(q: SingleChoiceIn, a: SingleChoiceAnswer | None) -> Score:
    key = next(o.id for o in q.options if o.correct)
    return _all_or_nothing(q.points, a is not None and a.option_id == key)


def _true_false(q: TrueFalseIn, a: TrueFalseAnswer | None) -> Score:
    return _all_or_nothing(q.points, a is not None and a.value is q.correct)


def _numeric(q: NumericIn, a: NumericAnswer | None) -> Score:
    if a is None or a.value is None:
        return _all_or_nothing(q.points, False)
    allowed = q.tolerance if q.tolerance_mode == "absolute" else abs(q.answer) * q.tolerance / 100
    slack = NUMERIC_EPSILON * max(1.0, abs(q.answer))
    return _all_or_nothing(q.points, abs(a.value - q.answer) <= allowed + slack)


def _multiple(q: MultipleChoiceIn, a: MultipleChoiceAnswer | None) -> Score:
    picked = set(a.option_ids) if a is not None else set()
    correct = [o for o in q.options if o.correct]
    wrong = [o for o in q.options if not o.correct]
    hit_share = Fraction(1, len(correct))
    miss_share = Fraction(1, len(wrong)) if wrong else Fraction(0)
    detail = []
    fraction = Fraction(0)
    for option in q.options:
        chosen = option.id in picked
        credit = Fraction(0)
        if chosen:
            credit = hit_share if option.correct else -miss_share
        fraction += credit
        detail.append(ItemScore(option.id, chosen is option.correct, _signed(q.points, credit)))
    exact = all(d.correct for d in detail)
    if q.scoring == "all_or_nothing":
        fraction = Fraction(1 if exact else 0)
    return Score(_points(q.points, fraction), q.points, detail=tuple(detail))


def _signed(points: float, fraction: Fraction) -> float:
    return float(Fraction(points) * fraction)


def _shares(points: float, results: list[tuple[str, bool]], scoring: str) -> Score:
    """An equal share per item right (or all or nothing)."""
    share = Fraction(1, len(results))
    right = sum(ok for _, ok in results)
    if scoring == "all_or_nothing":
        fraction = Fraction(1 if right == len(results) else 0)
    else:
        fraction = share * right
    detail = tuple(ItemScore(k, ok, _signed(points, share) if ok else 0.0) for k, ok in results)
    return Score(_points(points, fraction), points, detail=detail)


def _fill(q: FillInBlankIn, a: FillInBlankAnswer | None) -> Score:
    given = a.blanks if a is not None else {}
    return _shares(q.points, [(b.id, _blank_ok(b, given.get(b.id))) for b in q.blanks], q.scoring)


def normalise(text: str, blank: Blank) -> str:
    text = unicodedata.normalize("NFC", text)
    if blank.normalize_whitespace:
        text = " ".join(text.split())
    return text


def _blank_ok(blank: Blank, given: str | None) -> bool:
    if given is None or len(given) > MAX_ANSWER_LENGTH:
        return False
    text = normalise(given, blank)
    if not text:
        return False
    fold = (lambda s: s) if blank.case_sensitive else str.casefold
    if any(fold(text) == fold(normalise(accepted, blank)) for accepted in blank.accepted):
        return True
    if blank.pattern is not None:
        return _pattern(blank.pattern, blank.case_sensitive).fullmatch(text) is not None
    return False


@functools.lru_cache(maxsize=1024)
def _pattern(pattern: str, case_sensitive: bool) -> Any:
    return compile_pattern(pattern, case_sensitive=case_sensitive)


def _matching(q: MatchingIn, a: MatchingAnswer | None) -> Score:
    given = a.matches if a is not None else {}
    results = [(p.id, given.get(p.id) == q.pairs[p.id]) for p in q.prompts]
    return _shares(q.points, results, q.scoring)


def _ordering(q: OrderingIn, a: OrderingAnswer | None) -> Score:
    given = a.order if a is not None else []
    results = [
        (str(i), i < len(given) and given[i] == item) for i, item in enumerate(q.correct_order)
    ]
    return _shares(q.points, results, q.scoring)


def _essay(q: EssayIn, a: EssayAnswer | None) -> Score:
    blank = a is None or not a.text.strip()
    return Score(awarded=0.0, max_points=q.points, needs_manual=not blank)
