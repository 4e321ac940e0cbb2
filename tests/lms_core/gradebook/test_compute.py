"""The gradebook's arithmetic on hand-computed numbers (no database)."""

from __future__ import annotations

import uuid

import pytest

from lms_core.gradebook.compute import (
    CategoryRule,
    Counted,
    ItemRule,
    letter_for,
    passed,
    pool_percent,
    totals,
)

SCALE = [("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0), ("F", 0.0)]


def test_pool_drops_the_lowest_ratios_not_the_lowest_points() -> None:
    # 5/20 (25%) is lower than 4/10 (40%): it is the one dropped.
    scores = [Counted(10, 10), Counted(4, 10), Counted(5, 20)]
    assert pool_percent(scores, [], drop_lowest=1) == pytest.approx(14 / 20 * 100)
    assert pool_percent(scores, [], drop_lowest=0) == pytest.approx(19 / 40 * 100)


def test_pool_keeps_at_least_one_item_and_ties_drop_the_later() -> None:
    assert pool_percent([Counted(3, 10), Counted(6, 10)], [], drop_lowest=5) == 60.0
    # Equal ratios, different sizes: the later (20-point) one is dropped.
    assert pool_percent([Counted(5, 10), Counted(10, 20)], [], drop_lowest=1) == 50.0


def test_extra_credit_adds_points_not_possible_points() -> None:
    assert pool_percent([Counted(80, 100)], [Counted(5, 10)]) == 85.0
    assert pool_percent([Counted(95, 100)], [Counted(10, 10)]) == 105.0
    assert pool_percent([], [Counted(5, 10)]) is None  # extra credit alone sets no percent


def test_weighted_categories_and_the_running_total() -> None:
    quizzes, assignments, attendance = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    q1, q2, a1, bonus, att, loose = range(6)
    items = [
        ItemRule(q1, quizzes, False),
        ItemRule(q2, quizzes, False),
        ItemRule(a1, assignments, False),
        ItemRule(bonus, assignments, True),
        ItemRule(att, attendance, False),
        ItemRule(loose, None, False),  # no category: does not count once there are categories
    ]
    cats = [
        CategoryRule(quizzes, 30, 0),
        CategoryRule(assignments, 50, 0),
        CategoryRule(attendance, 20, 0),
    ]
    scores = {
        q1: Counted(9, 10),
        q2: Counted(6, 10),
        a1: Counted(70, 100),
        bonus: Counted(2, 10),
        att: Counted(3, 4),
        loose: Counted(0, 100),
    }
    out = totals(items, cats, scores)
    # quizzes 75, assignments 72, attendance 75: 0.3*75 + 0.5*72 + 0.2*75 = 73.5
    assert out.categories == {quizzes: 75.0, assignments: 72.0, attendance: 75.0}
    assert out.percent == pytest.approx(73.5)
    # Only quizzes graded so far: the running total is the quizzes' percent (weights renormalised).
    running = totals(items, cats, {q1: Counted(9, 10), q2: Counted(6, 10)})
    assert running.categories[assignments] is None
    assert running.percent == pytest.approx(75.0)
    assert totals(items, cats, {}).percent is None


def test_without_categories_points_over_possible() -> None:
    a, b, c = 0, 1, 2
    items = [ItemRule(a, None, False), ItemRule(b, None, False), ItemRule(c, None, True)]
    out = totals(items, [], {a: Counted(8, 10), b: Counted(30, 40), c: Counted(2, 5)})
    assert out.percent == pytest.approx(40 / 50 * 100)


def test_zero_weight_categories_alone_give_no_total() -> None:
    cat, item = uuid.uuid4(), 0
    out = totals([ItemRule(item, cat, False)], [CategoryRule(cat, 0, 0)], {item: Counted(1, 2)})
    assert out.categories == {cat: 50.0}
    assert out.percent is None


def test_letters_and_passing() -> None:
    assert letter_for(89.996, SCALE) == "A"  # rounded to 2 places first
    assert letter_for(89.99, SCALE) == "B"
    assert letter_for(0.0, SCALE) == "F"
    assert letter_for(None, SCALE) is None
    assert passed(59.999, 60) is True
    assert passed(59.99, 60) is False
    assert passed(None, 60) is False
    assert passed(99, None) is None
