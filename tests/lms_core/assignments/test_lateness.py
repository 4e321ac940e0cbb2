"""The late-penalty arithmetic: per started day late, capped, nothing when on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lms_core.assignments.service import lateness

DUE = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
percent = st.integers(min_value=0, max_value=100)
offsets = st.timedeltas(min_value=timedelta(days=-60), max_value=timedelta(days=60))


@given(offset=offsets, per_day=percent, cap=percent)
def test_penalty_is_per_started_day_and_capped(offset: timedelta, per_day: int, cap: int) -> None:
    late = lateness(DUE, DUE + offset, per_day=per_day, cap=cap)
    if offset <= timedelta(0):
        assert (late.days_late, late.penalty_percent) == (0, 0)
        return
    # Started days: (days - 1, days] after the due date.
    assert timedelta(days=late.days_late - 1) < offset <= timedelta(days=late.days_late)
    assert late.penalty_percent == min(cap, per_day * late.days_late)
    assert 0 <= late.penalty_percent <= cap


@given(a=offsets, b=offsets, per_day=percent, cap=percent)
def test_later_is_never_cheaper(a: timedelta, b: timedelta, per_day: int, cap: int) -> None:
    early, later = sorted((a, b))
    assert (
        lateness(DUE, DUE + early, per_day=per_day, cap=cap).penalty_percent
        <= lateness(DUE, DUE + later, per_day=per_day, cap=cap).penalty_percent
    )


def test_boundaries() -> None:
    assert lateness(DUE, DUE, per_day=10, cap=100).days_late == 0
    one_second = lateness(DUE, DUE + timedelta(seconds=1), per_day=10, cap=100)
    assert (one_second.days_late, one_second.penalty_percent) == (1, 10)
    day = lateness(DUE, DUE + timedelta(days=1), per_day=10, cap=100)
    assert (day.days_late, day.penalty_percent) == (1, 10)
    next_day = lateness(DUE, DUE + timedelta(days=1, microseconds=1), per_day=10, cap=100)
    assert (next_day.days_late, next_day.penalty_percent) == (2, 20)
    assert lateness(DUE, DUE + timedelta(days=30), per_day=10, cap=35).penalty_percent == 35
    assert lateness(None, DUE + timedelta(days=30), per_day=10, cap=100).days_late == 0
