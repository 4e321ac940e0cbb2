"""grade() for every type: the partial-credit rules by example, and properties over generated
questions and answers (the score stays within [0, points], the key earns full marks, the order
of options or of an answer's picks does not matter)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_core.question_banks import errors
from lms_core.question_banks.grading import grade
from lms_core.question_banks.models import QuestionType
from lms_core.question_banks.schemas import QuestionDefinition, QuestionIn
from tests.lms_core.question_banks.samples import answer, key_answer, question

MC = QuestionType.MULTIPLE_CHOICE


def q(data: dict[str, Any]) -> QuestionDefinition:
    return QuestionIn.model_validate({"prompt": "?", **data}).root


# -- by example ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(QuestionType))
def test_the_key_earns_full_marks(kind: QuestionType) -> None:
    question_ = question(kind)
    score = grade(question_, key_answer(question_))
    assert score.max_points == question_.points
    if kind is QuestionType.ESSAY:
        assert (score.awarded, score.needs_manual) == (0.0, True)
    else:
        assert score.awarded == question_.points
        assert score.full_marks
        assert not score.needs_manual


@pytest.mark.parametrize("kind", list(QuestionType))
def test_unanswered_earns_nothing(kind: QuestionType) -> None:
    score = grade(question(kind), None)
    assert score.awarded == 0.0
    assert not score.needs_manual  # nothing for a human to read, even for an essay


def test_multiple_choice_right_minus_wrong_floored_at_zero() -> None:
    mc = question(MC)  # 3 points; a, c correct; b, d wrong

    def pts(*ids: str) -> float:
        return grade(mc, answer({"type": "multiple_choice", "option_ids": list(ids)})).awarded

    assert pts("a", "c") == 3.0
    assert pts("a") == 1.5  # 1/2 of the correct ones
    assert pts("a", "b") == 0.0  # 1/2 - 1/2
    assert pts("a", "c", "b") == 1.5  # 1 - 1/2
    assert pts("b") == 0.0  # -1/2, floored
    assert pts("a", "b", "c", "d") == 0.0  # everything: nothing
    assert pts("a", "zzz") == 1.5  # an unknown id is no option
    detail = grade(mc, answer({"type": "multiple_choice", "option_ids": ["a", "b"]})).detail
    assert [(d.key, d.correct, d.credit) for d in detail] == [
        ("a", True, 1.5),
        ("b", False, -1.5),
        ("c", False, 0.0),
        ("d", True, 0.0),
    ]


def test_all_or_nothing_scoring() -> None:
    data = {**_mc_dict(), "scoring": "all_or_nothing"}
    mc = q(data)
    assert grade(mc, answer({"type": "multiple_choice", "option_ids": ["a"]})).awarded == 0.0
    assert grade(mc, answer({"type": "multiple_choice", "option_ids": ["c", "a"]})).awarded == 3.0
    order = question(QuestionType.ORDERING).model_dump()
    strict = q({**order, "scoring": "all_or_nothing"})
    assert grade(strict, answer({"type": "ordering", "order": ["i1", "i3", "i2"]})).awarded == 0


def _mc_dict() -> dict[str, Any]:
    return question(MC).model_dump(mode="json")


def test_single_choice_and_true_false() -> None:
    sc = question(QuestionType.SINGLE_CHOICE)
    assert grade(sc, answer({"type": "single_choice", "option_id": "a"})).awarded == 0
    assert grade(sc, answer({"type": "single_choice", "option_id": "b"})).awarded == 2
    tf = question(QuestionType.TRUE_FALSE)
    assert grade(tf, answer({"type": "true_false", "value": True})).awarded == 0
    assert grade(tf, answer({"type": "true_false"})).awarded == 0
    assert grade(tf, answer({"type": "true_false", "value": False})).awarded == 1


def fill(blank: dict[str, Any]) -> QuestionDefinition:
    return q({"type": "fill_in_blank", "blanks": [{"id": "b", **blank}]})


def ok(question_: QuestionDefinition, text: str) -> bool:
    return grade(question_, answer({"type": "fill_in_blank", "blanks": {"b": text}})).full_marks


def test_fill_in_blank_case_and_whitespace_rules() -> None:
    loose = fill({"accepted": ["New  York"]})
    assert ok(loose, "new york")
    assert ok(loose, "  NEW\tYORK \n")
    assert not ok(loose, "newyork")
    strict_case = fill({"accepted": ["New York"], "case_sensitive": True})
    assert ok(strict_case, " New   York ")
    assert not ok(strict_case, "new york")
    exact_space = fill({"accepted": ["New York"], "normalize_whitespace": False})
    assert ok(exact_space, "new york")
    assert not ok(exact_space, "new  york")
    assert not ok(exact_space, " new york")
    # NFC: a composed and a decomposed é are the same letter.
    assert ok(fill({"accepted": ["café"]}), "cafe\u0301")
    assert not ok(loose, "")


def test_fill_in_blank_patterns() -> None:
    pattern = fill({"pattern": r"colou?r"})
    assert ok(pattern, "Color")  # case-insensitive unless asked
    assert ok(pattern, " colour ")
    assert not ok(pattern, "colors")  # the whole answer must match
    assert not ok(fill({"pattern": "colou?r", "case_sensitive": True}), "Color")


def test_a_catastrophic_pattern_answers_in_linear_time() -> None:
    # Under a backtracking engine this takes longer than the universe (the suite's timeout
    # would fail it); RE2 answers at once.
    evil = fill({"pattern": "(a+)+$", "normalize_whitespace": False})
    assert not ok(evil, "a" * 400 + "!")
    assert ok(evil, "a" * 400)


def test_fill_in_blank_partial_shares() -> None:
    fib = question(QuestionType.FILL_IN_BLANK)  # 4 points, 2 blanks
    score = grade(fib, answer({"type": "fill_in_blank", "blanks": {"city": "paris", "sum": "5"}}))
    assert score.awarded == 2.0
    assert [(d.key, d.correct) for d in score.detail] == [("city", True), ("sum", False)]
    both = grade(fib, answer({"type": "fill_in_blank", "blanks": {"city": "x", "sum": " 4 "}}))
    assert both.awarded == 2.0


def test_numeric_tolerance() -> None:
    def num(value: float, **key: Any) -> bool:
        question_ = q({"type": "numeric", **key})
        return grade(question_, answer({"type": "numeric", "value": value})).full_marks

    assert num(0.1 + 0.2, answer=0.3)  # binary noise is not a wrong answer
    assert not num(0.31, answer=0.3)
    assert num(10.5, answer=10, tolerance=0.5)
    assert not num(10.51, answer=10, tolerance=0.5)
    assert num(-9.5, answer=-10, tolerance=0.5)
    assert num(105, answer=100, tolerance=5, tolerance_mode="percent")
    assert not num(105.1, answer=100, tolerance=5, tolerance_mode="percent")
    assert num(-95, answer=-100, tolerance=5, tolerance_mode="percent")
    assert not grade(q({"type": "numeric", "answer": 1}), answer({"type": "numeric"})).awarded


def test_matching_and_ordering_shares() -> None:
    m = question(QuestionType.MATCHING)
    half = grade(m, answer({"type": "matching", "matches": {"fr": "c1", "it": "c3"}}))
    assert half.awarded == 0.5
    o = question(QuestionType.ORDERING)
    one_third = grade(o, answer({"type": "ordering", "order": ["i1", "i3", "i2"]}))
    assert one_third.awarded == pytest.approx(1 / 3)
    assert [d.correct for d in one_third.detail] == [True, False, False]
    short = grade(o, answer({"type": "ordering", "order": ["i1"]}))
    assert short.awarded == pytest.approx(1 / 3)


def test_essay_needs_a_human() -> None:
    essay = question(QuestionType.ESSAY)
    score = grade(essay, answer({"type": "essay", "text": "My view is..."}))
    assert (score.awarded, score.max_points, score.needs_manual) == (0.0, 10.0, True)
    assert not grade(essay, answer({"type": "essay", "text": "  \n"})).needs_manual


def test_an_answer_to_another_type_is_refused() -> None:
    with pytest.raises(errors.AnswerTypeMismatch):
        grade(question(QuestionType.TRUE_FALSE), answer({"type": "numeric", "value": 1}))


# -- properties ---------------------------------------------------------------------------------

ids = st.sampled_from([f"k{i}" for i in range(12)])
points = st.one_of(
    st.integers(1, 100).map(float), st.floats(0.01, 1000, allow_nan=False, allow_infinity=False)
)
words = st.text(alphabet="abcAB \t", min_size=1, max_size=8).filter(lambda s: s.strip())


@st.composite
def choice_question(draw: st.DrawFn, multiple: bool) -> dict[str, Any]:
    n = draw(st.integers(2, 8))
    if multiple:
        flags = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
    else:
        right = draw(st.integers(0, n - 1))
        flags = [i == right for i in range(n)]
    raw: dict[str, Any] = {
        "type": "multiple_choice" if multiple else "single_choice",
        "options": [{"id": f"o{i}", "text": f"t{i}", "correct": c} for i, c in enumerate(flags)],
    }
    if multiple:
        raw["scoring"] = draw(st.sampled_from(["partial", "all_or_nothing"]))
    return raw


@st.composite
def fill_question(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 4))
    blanks = [
        {
            "id": f"b{i}",
            "accepted": draw(st.lists(words, min_size=1, max_size=3)),
            "case_sensitive": draw(st.booleans()),
            "normalize_whitespace": draw(st.booleans()),
            "pattern": draw(st.sampled_from([None, "a+b?", "[ab ]*"])),
        }
        for i in range(n)
    ]
    return {"type": "fill_in_blank", "blanks": blanks}


@st.composite
def matching_question(draw: st.DrawFn) -> dict[str, Any]:
    n, m = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    pairs = {f"p{i}": f"c{draw(st.integers(0, m - 1))}" for i in range(n)}
    return {
        "type": "matching",
        "prompts": [{"id": f"p{i}", "text": "x"} for i in range(n)],
        "choices": [{"id": f"c{i}", "text": "y"} for i in range(m)],
        "pairs": pairs,
    }


@st.composite
def ordering_question(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 8))
    order = draw(st.permutations([f"i{i}" for i in range(n)]))
    return {
        "type": "ordering",
        "items": [{"id": f"i{i}", "text": "z"} for i in range(n)],
        "correct_order": order,
    }


numbers = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
numeric_question = st.builds(
    lambda a, t, mode: {"type": "numeric", "answer": a, "tolerance": t, "tolerance_mode": mode},
    numbers,
    st.floats(0, 100, allow_nan=False),
    st.sampled_from(["absolute", "percent"]),
)

questions = st.one_of(
    choice_question(False),
    choice_question(True),
    st.builds(lambda c: {"type": "true_false", "correct": c}, st.booleans()),
    fill_question(),
    numeric_question,
    matching_question(),
    ordering_question(),
    st.just({"type": "essay"}),
)


def answers_for(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    # No NUL and no lone surrogates: neither can be a valid answer (the API answers 422).
    text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20)
    strategies: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "single_choice": st.fixed_dictionaries({"option_id": st.one_of(st.none(), ids)}),
        "multiple_choice": st.fixed_dictionaries({"option_ids": st.lists(ids, max_size=12)}),
        "true_false": st.fixed_dictionaries({"value": st.one_of(st.none(), st.booleans())}),
        "fill_in_blank": st.fixed_dictionaries(
            {"blanks": st.dictionaries(st.sampled_from(["b0", "b1", "b2", "b3"]), text)}
        ),
        "numeric": st.fixed_dictionaries({"value": st.one_of(st.none(), numbers)}),
        "matching": st.fixed_dictionaries({"matches": st.dictionaries(ids, ids, max_size=8)}),
        "ordering": st.fixed_dictionaries({"order": st.lists(ids, max_size=10)}),
        "essay": st.fixed_dictionaries({"text": text}),
    }
    return strategies[kind].map(lambda a: {"type": kind, **a})


@given(data=st.data(), raw=questions, weight=points)
@settings(max_examples=300, deadline=None)
def test_score_within_zero_and_points(
    data: st.DataObject, raw: dict[str, Any], weight: float
) -> None:
    question_ = q({**raw, "points": weight})
    given_answer = answer(data.draw(answers_for(raw["type"])))
    score = grade(question_, given_answer)
    assert 0.0 <= score.awarded <= question_.points
    assert score.max_points == question_.points


@given(raw=questions, weight=points)
@settings(max_examples=200, deadline=None)
def test_the_key_always_earns_exactly_the_points(raw: dict[str, Any], weight: float) -> None:
    question_ = q({**raw, "points": weight})
    score = grade(question_, key_answer(question_))
    if raw["type"] == "essay":
        assert score.needs_manual
    else:
        assert score.awarded == question_.points


@given(
    raw=st.one_of(choice_question(True), choice_question(False)),
    picks=st.lists(ids | st.sampled_from([f"o{i}" for i in range(8)]), max_size=10),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=200, deadline=None)
def test_choice_scores_ignore_option_and_pick_order(
    raw: dict[str, Any], picks: list[str], seed: int
) -> None:
    rng = random.Random(seed)
    shuffled = {**raw, "options": rng.sample(raw["options"], len(raw["options"]))}
    if raw["type"] == "multiple_choice":
        a1 = answer({"type": raw["type"], "option_ids": picks})
        a2 = answer({"type": raw["type"], "option_ids": rng.sample(picks, len(picks))})
    else:
        a1 = a2 = answer({"type": raw["type"], "option_id": picks[0] if picks else None})
    assert grade(q(raw), a1).awarded == grade(q(shuffled), a2).awarded


@given(
    raw=st.one_of(fill_question(), matching_question()),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=200, deadline=None)
def test_blank_and_prompt_order_does_not_change_the_score(
    raw: dict[str, Any], data: st.DataObject, seed: int
) -> None:
    rng = random.Random(seed)
    field = "blanks" if raw["type"] == "fill_in_blank" else "prompts"
    shuffled = {**raw, field: rng.sample(raw[field], len(raw[field]))}
    given_answer = answer(data.draw(answers_for(raw["type"])))
    assert grade(q(raw), given_answer).awarded == grade(q(shuffled), given_answer).awarded
