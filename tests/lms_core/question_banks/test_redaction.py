"""The student's view of every type carries no answer key: no key field (in the schema, for
any question) and no key text (in the serialised view of a sample whose key is all markers)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from lms_core.question_banks.models import QuestionType
from lms_core.question_banks.schemas import StudentQuestion, to_student
from tests.lms_core.question_banks.samples import KEY_FIELDS, KEY_MARKERS, question


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def view(kind: QuestionType, seed: str = "attempt-1") -> dict[str, Any]:
    q = question(kind)
    rendered = to_student(uuid.uuid4(), "<p>prompt</p>", q, seed=seed)
    return json.loads(rendered.model_dump_json())  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", list(QuestionType))
def test_no_key_in_the_student_view(kind: QuestionType) -> None:
    body = view(kind)
    text = json.dumps(body)
    assert body["type"] == kind.value
    assert not _keys(body) & KEY_FIELDS, (kind, _keys(body) & KEY_FIELDS)
    leaked = [m for m in KEY_MARKERS if m in text]
    assert not leaked, (kind, leaked, text)


def test_no_key_field_in_the_student_schema() -> None:
    schema = StudentQuestion.model_json_schema()
    properties = {
        name for model in schema["$defs"].values() for name in model.get("properties", {})
    }
    assert properties, schema
    assert not properties & KEY_FIELDS, properties & KEY_FIELDS


def test_what_a_student_needs_is_there() -> None:
    sc = view(QuestionType.SINGLE_CHOICE)
    assert sorted(o["text"] for o in sc["options"]) == ["4", "7", "9"]
    assert sc["points"] == 2
    assert view(QuestionType.FILL_IN_BLANK)["blank_ids"] == ["city", "sum"]
    matching = view(QuestionType.MATCHING)
    assert {c["id"] for c in matching["choices"]} == {"c1", "c2", "c3"}
    assert view(QuestionType.ESSAY)["max_words"] == 500


def test_an_ordering_never_starts_in_the_right_order() -> None:
    for seed in range(50):
        items = [i["id"] for i in view(QuestionType.ORDERING, seed=str(seed))["items"]]
        assert sorted(items) == ["i1", "i2", "i3"]
        assert items != ["i1", "i2", "i3"], seed


def test_shuffles_are_stable_per_seed_and_vary_across_seeds() -> None:
    q = question(QuestionType.MULTIPLE_CHOICE)
    qid = uuid.uuid4()

    def order(seed: str) -> list[str]:
        rendered = to_student(qid, "", q, seed=seed).root
        return [o.id for o in rendered.options]  # type: ignore[union-attr]

    assert order("s") == order("s")
    assert len({tuple(order(str(seed))) for seed in range(40)}) > 1
