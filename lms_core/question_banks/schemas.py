"""Request and response models for question banks, questions, answers and student views.

A question is one of eight types, told apart by ``type`` (a pydantic discriminated union), each
with its own answer key. The validators refuse a key that contradicts itself (a single choice
with two correct options, an ordering with a duplicate, a pair naming an unknown choice...),
each naming the field at fault.

Three views of a question:

* ``QuestionIn`` / ``QuestionOut``: the author's, with the key (staff only);
* ``StudentQuestion``: what a student taking it sees. It is built field by field from an
  allow-list (``to_student``), never by removing fields from the author's view, so a field added
  to a key later cannot leak by default. Option, item and choice *ids* are shown: authors must
  not encode the answer in them (the docs say so).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import re2
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    RootModel,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from lms_core.courses.richtext import TextFormat
from lms_core.courses.schemas import Title
from lms_core.question_banks.models import MAX_POINTS, QuestionType
from lms_core.schemas import Input

MAX_PATTERN_LENGTH = 200
MAX_ACCEPTED_LENGTH = 200
MAX_ANSWER_LENGTH = 500  # one blank's answer
MAX_ESSAY_LENGTH = 50_000
MAX_NUMBER = 1e12
# RE2 compiles a pattern into an automaton bounded by this much memory: a pattern too big for
# it is refused at validation, and matching is linear in the answer's length whatever it is.
RE2_MAX_MEM = 1 << 20

Cursor = Annotated[str, Field(max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]
Key = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
    Field(description="An id within the question: letters, digits, '_' and '-' (1-40)."),
]
ItemText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
PlainText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


def _no_nul(value: str) -> str:
    # ``Input`` refuses NUL in top-level strings; these sit inside lists (PostgreSQL text and
    # JSONB cannot hold U+0000: a 422 here, not a 500 there).
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character")
    return value


NoNul = AfterValidator(_no_nul)
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50),
    NoNul,
]
Points = Annotated[float, Field(gt=0, le=MAX_POINTS, allow_inf_nan=False)]
Number = Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER, allow_inf_nan=False)]
Scoring = Literal["partial", "all_or_nothing"]


def _unique_ids(items: list[Any], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise PydanticCustomError(
                "duplicate_id", "{what} id {id!r} is used twice", {"what": what, "id": item.id}
            )
        seen.add(item.id)


def compile_pattern(pattern: str, *, case_sensitive: bool) -> Any:
    """The RE2 automaton of an author's pattern (raises ``re2.error`` if it is not one)."""
    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.case_sensitive = case_sensitive
    options.log_errors = False
    return re2.compile(pattern, options)


# -- the author's view -------------------------------------------------------------------------


class QuestionCommon(Input):
    prompt: str = Field(min_length=1, max_length=20_000, description="Markdown or HTML.")
    prompt_format: TextFormat = TextFormat.MARKDOWN
    points: Points = 1.0
    feedback: PlainText = Field(
        default="", description="Plain text shown with the result (never before)."
    )
    tags: list[Tag] = Field(default_factory=list, max_length=20)

    @field_validator("tags")
    @classmethod
    def _dedupe_tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))


class ChoiceOption(Input):
    id: Key
    text: ItemText = Field(description="Plain text.")
    correct: bool = False
    feedback: PlainText = ""


class SingleChoiceIn(QuestionCommon):
    type: Literal[QuestionType.SINGLE_CHOICE]
    options: list[ChoiceOption] = Field(min_length=2, max_length=30)
    shuffle: bool = Field(default=True, description="Shuffle the options for each student.")

    @field_validator("options")
    @classmethod
    def _one_correct(cls, options: list[ChoiceOption]) -> list[ChoiceOption]:
        _unique_ids(options, "option")
        correct = sum(o.correct for o in options)
        if correct != 1:
            raise PydanticCustomError(
                "key_inconsistent",
                "exactly one option must be correct (found {n})",
                {"n": correct},
            )
        return options


class MultipleChoiceIn(QuestionCommon):
    type: Literal[QuestionType.MULTIPLE_CHOICE]
    options: list[ChoiceOption] = Field(min_length=2, max_length=30)
    shuffle: bool = True
    scoring: Scoring = Field(
        default="partial",
        description=(
            "partial: hits/correct - wrong picks/incorrect options, floored at 0; "
            "all_or_nothing: full marks only for exactly the correct set."
        ),
    )

    @field_validator("options")
    @classmethod
    def _some_correct(cls, options: list[ChoiceOption]) -> list[ChoiceOption]:
        _unique_ids(options, "option")
        if not any(o.correct for o in options):
            raise PydanticCustomError("key_inconsistent", "at least one option must be correct")
        return options


class TrueFalseIn(QuestionCommon):
    type: Literal[QuestionType.TRUE_FALSE]
    correct: bool


class Blank(Input):
    id: Key = Field(description="Shown in the prompt as [[id]].")
    accepted: list[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_ACCEPTED_LENGTH), NoNul]
    ] = Field(default_factory=list, max_length=50)
    case_sensitive: bool = False
    normalize_whitespace: bool = Field(
        default=True, description="Trim and collapse runs of whitespace before comparing."
    )
    pattern: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PATTERN_LENGTH,
        description="RE2 syntax, matched against the whole (normalised) answer.",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                compile_pattern(pattern, case_sensitive=True)
            except re2.error as exc:
                raise PydanticCustomError(
                    "invalid_pattern", "not a valid RE2 pattern: {why}", {"why": str(exc)[:200]}
                ) from None
        return pattern

    @field_validator("accepted")
    @classmethod
    def _nonblank(cls, accepted: list[str]) -> list[str]:
        if any(not a.strip() for a in accepted):
            raise PydanticCustomError("blank_answer", "an accepted answer is blank")
        return accepted


class FillInBlankIn(QuestionCommon):
    type: Literal[QuestionType.FILL_IN_BLANK]
    blanks: list[Blank] = Field(min_length=1, max_length=20)
    scoring: Scoring = Field(default="partial", description="partial: an equal share per blank.")

    @field_validator("blanks")
    @classmethod
    def _answerable(cls, blanks: list[Blank]) -> list[Blank]:
        _unique_ids(blanks, "blank")
        for blank in blanks:
            if not blank.accepted and blank.pattern is None:
                raise PydanticCustomError(
                    "key_inconsistent",
                    "blank {id!r} has neither accepted answers nor a pattern",
                    {"id": blank.id},
                )
        return blanks


class NumericIn(QuestionCommon):
    type: Literal[QuestionType.NUMERIC]
    answer: Number
    tolerance: float = Field(default=0.0, ge=0, le=MAX_NUMBER, allow_inf_nan=False)
    tolerance_mode: Literal["absolute", "percent"] = Field(
        default="absolute", description="percent: of the answer's magnitude."
    )

    @field_validator("tolerance_mode")
    @classmethod
    def _percent_bounded(cls, mode: str, info: Any) -> str:
        if mode == "percent" and info.data.get("tolerance", 0) > 100:
            raise PydanticCustomError("key_inconsistent", "a percent tolerance is at most 100")
        return mode


class Labelled(Input):
    id: Key
    text: ItemText = Field(description="Plain text.")


class MatchingIn(QuestionCommon):
    type: Literal[QuestionType.MATCHING]
    prompts: list[Labelled] = Field(min_length=1, max_length=30)
    choices: list[Labelled] = Field(
        min_length=1, max_length=40, description="May include distractors; one may fit several."
    )
    pairs: dict[Key, Key] = Field(description="prompt id -> choice id, one for every prompt.")
    shuffle: bool = True
    scoring: Scoring = Field(default="partial", description="partial: an equal share per prompt.")

    @field_validator("prompts")
    @classmethod
    def _prompt_ids(cls, prompts: list[Labelled]) -> list[Labelled]:
        _unique_ids(prompts, "prompt")
        return prompts

    @field_validator("choices")
    @classmethod
    def _choice_ids(cls, choices: list[Labelled]) -> list[Labelled]:
        _unique_ids(choices, "choice")
        return choices

    @field_validator("pairs")
    @classmethod
    def _pairs_complete(cls, pairs: dict[str, str], info: Any) -> dict[str, str]:
        prompts = {p.id for p in info.data.get("prompts", [])}
        choices = {c.id for c in info.data.get("choices", [])}
        if not prompts or not choices:
            return pairs  # the lists' own errors are reported
        unknown = sorted(set(pairs) - prompts)
        missing = sorted(prompts - set(pairs))
        stray = sorted(set(pairs.values()) - choices)
        if unknown or missing or stray:
            raise PydanticCustomError(
                "key_inconsistent",
                "every prompt needs exactly one known choice "
                "(unknown prompts {unknown}, unmatched prompts {missing}, unknown choices {stray})",
                {"unknown": unknown, "missing": missing, "stray": stray},
            )
        return pairs


class OrderingIn(QuestionCommon):
    type: Literal[QuestionType.ORDERING]
    items: list[Labelled] = Field(min_length=2, max_length=30)
    correct_order: list[Key] = Field(description="Every item id once, first to last.")
    scoring: Scoring = Field(
        default="partial", description="partial: an equal share per item in its right place."
    )

    @field_validator("items")
    @classmethod
    def _item_ids(cls, items: list[Labelled]) -> list[Labelled]:
        _unique_ids(items, "item")
        return items

    @field_validator("correct_order")
    @classmethod
    def _permutation(cls, order: list[str], info: Any) -> list[str]:
        if len(set(order)) != len(order):
            dupes = sorted({i for i in order if order.count(i) > 1})
            raise PydanticCustomError(
                "key_inconsistent", "items repeated in the order: {d}", {"d": dupes}
            )
        items = {i.id for i in info.data.get("items", [])}
        if items and set(order) != items:
            raise PydanticCustomError(
                "key_inconsistent", "the order must list every item exactly once"
            )
        return order


class EssayIn(QuestionCommon):
    type: Literal[QuestionType.ESSAY]
    min_words: int | None = Field(default=None, ge=0, le=100_000)
    max_words: int | None = Field(default=None, ge=1, le=100_000)
    grader_notes: PlainText = Field(default="", description="For graders; never shown to students.")

    @field_validator("max_words")
    @classmethod
    def _bounds(cls, max_words: int | None, info: Any) -> int | None:
        low = info.data.get("min_words")
        if max_words is not None and low is not None and low > max_words:
            raise PydanticCustomError("key_inconsistent", "max_words is below min_words")
        return max_words


QuestionDefinition = Annotated[
    SingleChoiceIn
    | MultipleChoiceIn
    | TrueFalseIn
    | FillInBlankIn
    | NumericIn
    | MatchingIn
    | OrderingIn
    | EssayIn,
    Field(discriminator="type"),
]


class QuestionIn(RootModel[QuestionDefinition]):
    """A question of one of the eight types (``type`` selects the fields)."""


COMMON_FIELDS = frozenset(QuestionCommon.model_fields)


def content_of(question: QuestionDefinition) -> dict[str, Any]:
    """The type-specific part, as stored in ``questions.content`` (``type`` included)."""
    return question.model_dump(mode="json", exclude=set(COMMON_FIELDS))


def definition_of(
    *,
    prompt: str,
    prompt_format: str,
    points: float,
    feedback: str,
    tags: list[str],
    content: dict[str, Any],
) -> QuestionDefinition:
    """Rebuild the validated definition from its stored columns."""
    data = {
        **content,
        "prompt": prompt,
        "prompt_format": prompt_format,
        "points": points,
        "feedback": feedback,
        "tags": tags,
    }
    return QuestionIn.model_validate(data).root


class QuestionOut(BaseModel):
    id: uuid.UUID
    bank_id: uuid.UUID
    prompt_html: str = Field(description="The prompt, rendered and sanitised.")
    question: QuestionDefinition = Field(description="The definition, answer key included.")
    created_at: datetime
    updated_at: datetime


class QuestionPage(BaseModel):
    items: list[QuestionOut]
    next_cursor: str | None


class QuestionQuery(Input):
    tag: Tag | None = Field(default=None, description="Only questions with this tag.")
    type: QuestionType | None = None
    cursor: Cursor | None = None
    limit: Limit = 50


# -- banks -------------------------------------------------------------------------------------


class BankCreateIn(Input):
    title: Title
    description: PlainText = ""


class BankUpdateIn(Input):
    title: Title | None = None
    description: PlainText | None = None


class BankOut(BaseModel):
    id: uuid.UUID
    course_id: uuid.UUID
    title: str
    description: str
    question_count: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class BankPage(BaseModel):
    items: list[BankOut]
    next_cursor: str | None


class BankQuery(Input):
    cursor: Cursor | None = None
    limit: Limit = 50


# -- answers -----------------------------------------------------------------------------------

AnswerText = Annotated[str, StringConstraints(max_length=MAX_ANSWER_LENGTH)]


class SingleChoiceAnswer(Input):
    type: Literal[QuestionType.SINGLE_CHOICE]
    option_id: Key | None = None


class MultipleChoiceAnswer(Input):
    type: Literal[QuestionType.MULTIPLE_CHOICE]
    option_ids: list[Key] = Field(default_factory=list, max_length=30)


class TrueFalseAnswer(Input):
    type: Literal[QuestionType.TRUE_FALSE]
    value: bool | None = None


class FillInBlankAnswer(Input):
    type: Literal[QuestionType.FILL_IN_BLANK]
    blanks: dict[Key, AnswerText] = Field(default_factory=dict, max_length=20)


class NumericAnswer(Input):
    type: Literal[QuestionType.NUMERIC]
    value: float | None = Field(default=None, allow_inf_nan=False)


class MatchingAnswer(Input):
    type: Literal[QuestionType.MATCHING]
    matches: dict[Key, Key] = Field(default_factory=dict, max_length=30)


class OrderingAnswer(Input):
    type: Literal[QuestionType.ORDERING]
    order: list[Key] = Field(default_factory=list, max_length=30)


class EssayAnswer(Input):
    type: Literal[QuestionType.ESSAY]
    text: str = Field(default="", max_length=MAX_ESSAY_LENGTH)


Answer = Annotated[
    SingleChoiceAnswer
    | MultipleChoiceAnswer
    | TrueFalseAnswer
    | FillInBlankAnswer
    | NumericAnswer
    | MatchingAnswer
    | OrderingAnswer
    | EssayAnswer,
    Field(discriminator="type"),
]


class AnswerIn(RootModel[Answer]):
    """A student's answer to one question (``type`` as the question's)."""


# -- the student's view ------------------------------------------------------------------------


class StudentItem(BaseModel):
    id: str
    text: str


class StudentCommon(BaseModel):
    id: uuid.UUID
    prompt_html: str
    points: float


class SingleChoiceStudent(StudentCommon):
    type: Literal[QuestionType.SINGLE_CHOICE]
    options: list[StudentItem]


class MultipleChoiceStudent(StudentCommon):
    type: Literal[QuestionType.MULTIPLE_CHOICE]
    options: list[StudentItem]


class TrueFalseStudent(StudentCommon):
    type: Literal[QuestionType.TRUE_FALSE]


class FillInBlankStudent(StudentCommon):
    type: Literal[QuestionType.FILL_IN_BLANK]
    blank_ids: list[str] = Field(description="The blanks to fill, as [[id]] in the prompt.")


class NumericStudent(StudentCommon):
    type: Literal[QuestionType.NUMERIC]


class MatchingStudent(StudentCommon):
    type: Literal[QuestionType.MATCHING]
    prompts: list[StudentItem]
    choices: list[StudentItem]


class OrderingStudent(StudentCommon):
    type: Literal[QuestionType.ORDERING]
    items: list[StudentItem] = Field(description="Shuffled: their order says nothing.")


class EssayStudent(StudentCommon):
    type: Literal[QuestionType.ESSAY]
    min_words: int | None
    max_words: int | None


StudentView = Annotated[
    SingleChoiceStudent
    | MultipleChoiceStudent
    | TrueFalseStudent
    | FillInBlankStudent
    | NumericStudent
    | MatchingStudent
    | OrderingStudent
    | EssayStudent,
    Field(discriminator="type"),
]


class StudentQuestion(RootModel[StudentView]):
    """A question as a student taking it sees it: no answer key, no feedback, no notes."""


def _items(
    items: list[ChoiceOption] | list[Labelled], rng: random.Random | None
) -> list[StudentItem]:
    out = [StudentItem(id=i.id, text=i.text) for i in items]
    if rng is not None:
        rng.shuffle(out)
    return out


def to_student(
    question_id: uuid.UUID, prompt_html: str, q: QuestionDefinition, *, seed: str
) -> StudentQuestion:
    """The student's view of ``q``. ``seed`` fixes the shuffles (e.g. the attempt's id), so one
    student sees one order across reloads. Orderings and matchings always shuffle: their item
    order may be the key itself."""
    rng = random.Random(f"{seed}:{question_id}")  # noqa: S311 - presentation order, not secrecy
    common: dict[str, Any] = {"id": question_id, "prompt_html": prompt_html, "points": q.points}
    view: StudentView
    match q:
        case SingleChoiceIn():
            view = SingleChoiceStudent(
                type=q.type, options=_items(q.options, rng if q.shuffle else None), **common
            )
        case MultipleChoiceIn():
            view = MultipleChoiceStudent(
                type=q.type, options=_items(q.options, rng if q.shuffle else None), **common
            )
        case TrueFalseIn():
            view = TrueFalseStudent(type=q.type, **common)
        case FillInBlankIn():
            view = FillInBlankStudent(type=q.type, blank_ids=[b.id for b in q.blanks], **common)
        case NumericIn():
            view = NumericStudent(type=q.type, **common)
        case MatchingIn():
            view = MatchingStudent(
                type=q.type,
                prompts=_items(q.prompts, rng if q.shuffle else None),
                choices=_items(q.choices, rng),
                **common,
            )
        case OrderingIn():
            view = OrderingStudent(type=q.type, items=_shuffled_away(q, rng), **common)
        case EssayIn():
            view = EssayStudent(type=q.type, min_words=q.min_words, max_words=q.max_words, **common)
    return StudentQuestion(view)


def _shuffled_away(q: OrderingIn, rng: random.Random) -> list[StudentItem]:
    """A shuffle of the items that is not the correct order (there are at least two items, so
    one exists): showing the answer as the starting order would give the question away."""
    by_id = {i.id: i for i in q.items}
    order = list(q.correct_order)
    while order == q.correct_order:
        rng.shuffle(order)
    return [StudentItem(id=i, text=by_id[i].text) for i in order]
