"""Which attempt counts, by the quiz's scoring policy (a pure function over attempts)."""

from __future__ import annotations

import uuid

import pytest

from lms_core.grading.quiz_results import quiz_result
from lms_core.quizzes.models import AttemptStatus, QuizAttempt, Scoring

ESSAY_Q = {"question_id": "e", "prompt_html": "", "definition": {"type": "essay", "points": 5}}
CHOICE_Q = {"question_id": "c", "prompt_html": "", "definition": {"type": "single_choice"}}


def attempt(
    number: int, score: float, max_score: float = 10, *, essay: bool = False, pending: bool = False
) -> QuizAttempt:
    return QuizAttempt(
        id=uuid.uuid4(),
        number=number,
        status=AttemptStatus.SUBMITTED,
        score=score,
        max_score=max_score,
        needs_manual=pending,
        questions=[CHOICE_Q, ESSAY_Q] if essay else [CHOICE_Q],
        results={},
    )


def test_no_attempt_no_result() -> None:
    assert quiz_result(Scoring.HIGHEST, []) is None


@pytest.mark.parametrize(
    ("scoring", "points", "counted"),
    [(Scoring.HIGHEST, 8, 1), (Scoring.LAST, 4, 2), (Scoring.AVERAGE, 5, 2)],
)
def test_each_policy(scoring: Scoring, points: float, counted: int) -> None:
    attempts = [attempt(1, 3), attempt(2, 8), attempt(3, 4)]
    result = quiz_result(scoring, attempts)
    assert result is not None
    assert (result.points, result.max_points, result.manual) == (points, 10, False)
    assert result.attempt is attempts[counted]


def test_highest_compares_percentages_and_keeps_the_earliest_on_a_tie() -> None:
    # 6/12 (50%) beats 5/11; 6/12 and 5/10 tie: the earlier counts.
    attempts = [attempt(1, 5, 11), attempt(2, 6, 12), attempt(3, 5, 10)]
    result = quiz_result(Scoring.HIGHEST, attempts)
    assert result is not None
    assert result.attempt is attempts[1]
    assert (result.points, result.max_points) == (6, 12)


def test_an_essay_waiting_for_a_person_leaves_no_points() -> None:
    attempts = [attempt(1, 9), attempt(2, 2, essay=True, pending=True)]
    for scoring in (Scoring.HIGHEST, Scoring.LAST, Scoring.AVERAGE):
        result = quiz_result(scoring, attempts)
        assert result is not None
        assert result.points is None
        assert result.attempt is attempts[1]  # the one to grade
        assert result.manual
    # Under "last", an earlier attempt waiting does not matter once a later one is complete.
    later = [attempt(1, 2, essay=True, pending=True), attempt(2, 7)]
    result = quiz_result(Scoring.LAST, later)
    assert result is not None
    assert (result.points, result.manual) == (7, False)


def test_a_graded_essay_counts_and_marks_the_result_manual() -> None:
    result = quiz_result(Scoring.HIGHEST, [attempt(1, 9, essay=True)])
    assert result is not None
    assert (result.points, result.manual) == (9, True)
