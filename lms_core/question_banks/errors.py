"""Why a question-bank request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

__all__ = [
    "AnswerTypeMismatch",
    "BankNotFound",
    "CourseArchived",
    "ImportInvalid",
    "NotCourseStaff",
    "QuestionNotFound",
]


class BankNotFound(NotFound):
    default_code = "question_bank_not_found"
    default_detail = "No such question bank."


class QuestionNotFound(NotFound):
    default_code = "question_not_found"
    default_detail = "No such question."


class NotCourseStaff(PermissionDenied):
    default_code = "not_course_staff"
    default_detail = "Only the course's staff may see its question banks."


class CourseArchived(Conflict):
    default_code = "course_archived"
    default_detail = "The course is archived: its question banks are read-only."


class ImportInvalid(InvalidInput):
    """Some questions of an import are invalid: nothing was imported (``question_errors``)."""

    default_code = "question_import_invalid"
    default_detail = "Some questions are not valid; nothing was imported."


class AnswerTypeMismatch(InvalidInput):
    default_code = "answer_type_mismatch"
    default_detail = "The answer is for another type of question."
