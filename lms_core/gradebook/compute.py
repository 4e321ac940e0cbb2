"""The gradebook's arithmetic, apart from the database: one student's scores in, totals out.

Rules (documented for staff in the API):

* A score *counts* when it is graded and visible to the student: a released grade, a manual
  item's score, the attendance fraction, or an override (an override always counts).
* In a category: the percent is ``(sum of points + extra credit points) / sum of max points`` of
  the counted items that are not extra credit, after dropping the ``drop_lowest`` counted items
  with the lowest ratio (at most all but one; ties: the later item is dropped first). Extra
  credit items add their points and nothing to the possible points. No counted regular item:
  no percent (``None``).
* The course percent, when the course has categories: the weighted mean of the categories that
  have a percent, the weights renormalised over them (the running total); items without a
  category do not count then. Without categories: the points of every counted item over their
  max points (extra credit as above).
* The letter: the first of the scale (highest ``min_percent`` first) whose ``min_percent`` the
  percent (rounded to 2 places) reaches. Passed: percent >= passing percent; ``None`` when the
  course sets no passing percent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

PLACES = 2


@dataclass(frozen=True, slots=True)
class ItemRule:
    key: int  # the item's place in the course's order; scores are keyed by it (cheap to hash)
    category_id: uuid.UUID | None
    extra_credit: bool


@dataclass(frozen=True, slots=True)
class CategoryRule:
    id: uuid.UUID
    weight_percent: float
    drop_lowest: int


class Counted(NamedTuple):
    """A score that counts: points out of max_points (a tuple: millions are made)."""

    points: float
    max_points: float


@dataclass(frozen=True, slots=True)
class Totals:
    percent: float | None
    categories: dict[uuid.UUID, float | None]


Score = tuple[float, float]
"""(points, max_points): a plain tuple in the hot path (a Counted is one too)."""


def _ratio(c: Score) -> float:
    return c[0] / c[1] if c[1] > 0 else 0.0


def pool_percent(
    regular: Sequence[Score], extra: Iterable[Score], drop_lowest: int = 0
) -> float | None:
    """One pool of scores (a category, or the whole course without categories)."""
    if not regular:
        return None
    kept: Sequence[Score] = regular
    drop = min(drop_lowest, len(regular) - 1)
    if drop > 0:
        # Stable sort on the ratio: among equal ratios the earlier item is kept.
        order = sorted(range(len(regular)), key=lambda i: (_ratio(regular[i]), -i))
        dropped = set(order[:drop])
        kept = [c for i, c in enumerate(regular) if i not in dropped]
    possible = sum(c[1] for c in kept)
    if possible <= 0:
        return None
    earned = sum(c[0] for c in kept) + sum(c[0] for c in extra)
    return earned / possible * 100.0


def totals(
    items: Sequence[ItemRule],
    categories: Sequence[CategoryRule],
    scores: Mapping[int, Score],
) -> Totals:
    """One student's category percents and course percent from their counted scores."""
    if not categories:
        regular = [scores[i.key] for i in items if not i.extra_credit and i.key in scores]
        extra = [scores[i.key] for i in items if i.extra_credit and i.key in scores]
        return Totals(pool_percent(regular, extra), {})
    pools: dict[uuid.UUID, tuple[list[Score], list[Score]]] = {c.id: ([], []) for c in categories}
    for item in items:
        if item.category_id is None or item.category_id not in pools:
            continue
        score = scores.get(item.key)
        if score is None:
            continue
        pools[item.category_id][1 if item.extra_credit else 0].append(score)
    by_category: dict[uuid.UUID, float | None] = {}
    weighted = 0.0
    weights = 0.0
    for c in categories:
        regular, extra = pools[c.id]
        percent = pool_percent(regular, extra, c.drop_lowest)
        by_category[c.id] = percent
        if percent is not None and c.weight_percent > 0:
            weighted += c.weight_percent * percent
            weights += c.weight_percent
    return Totals(weighted / weights if weights > 0 else None, by_category)


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PLACES)


def letter_for(percent: float | None, scale: Sequence[tuple[str, float]]) -> str | None:
    """``scale``: (letter, min_percent), highest first."""
    if percent is None:
        return None
    value = round(percent, PLACES)
    for letter, minimum in scale:
        if value >= minimum:
            return letter
    return None


def passed(percent: float | None, passing_percent: float | None) -> bool | None:
    if passing_percent is None:
        return None
    return percent is not None and round(percent, PLACES) >= passing_percent
