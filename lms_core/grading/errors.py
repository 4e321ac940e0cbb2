"""Why a grading request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "GradeFileNotFound",
    "GradeNotFound",
    "GradeVersionConflict",
    "InvalidGradesCsv",
    "InvalidQuestionPoints",
    "InvalidRubricScores",
    "LessonNotGraded",
    "NoRubric",
    "NothingToGrade",
    "PointsOutOfRange",
    "RegradeReasonRequired",
    "RubricInUse",
    "RubricNotFound",
    "StudentNotFound",
]


class LessonNotGraded(Conflict):
    default_code = "lesson_not_graded"
    default_detail = "Only quiz and assignment lessons are graded."


class RubricNotFound(NotFound):
    default_code = "rubric_not_found"
    default_detail = "This lesson has no rubric."


class RubricInUse(Conflict):
    default_code = "rubric_in_use"
    default_detail = "Grades were given with this rubric; it can no longer be changed or removed."


class GradeNotFound(NotFound):
    # One answer for "absent", "not released yet" and "someone else's".
    default_code = "grade_not_found"
    default_detail = "No such grade."


class GradeFileNotFound(NotFound):
    default_code = "grade_file_not_found"
    default_detail = "No such file in this grade."


class StudentNotFound(NotFound):
    default_code = "student_not_found"
    default_detail = "No such student in this course."


class GradeVersionConflict(Conflict):
    default_code = "grade_version_conflict"
    default_detail = "The grade was changed by someone else meanwhile; reload it and try again."


class NothingToGrade(Conflict):
    default_code = "nothing_to_grade"
    default_detail = "This student has not submitted an attempt of this quiz."


class RegradeReasonRequired(InvalidInput):
    default_code = "regrade_reason_required"
    default_detail = "Changing a released grade needs a reason (the student is told it)."


class NoRubric(InvalidInput):
    default_code = "no_rubric"
    default_detail = "Rubric scores need a rubric on this lesson."


class InvalidRubricScores(InvalidInput):
    default_code = "invalid_rubric_scores"
    default_detail = "Score every criterion of the rubric with one of its levels."


class PointsOutOfRange(InvalidInput):
    default_code = "points_out_of_range"
    default_detail = "Points must be between 0 and the maximum."


class InvalidQuestionPoints(InvalidInput):
    default_code = "invalid_question_points"
    default_detail = "Question points are given to the essay questions of the graded attempt."


class InvalidGradesCsv(InvalidInput):
    default_code = "invalid_grades_csv"
    default_detail = "The CSV has errors; nothing was changed."
