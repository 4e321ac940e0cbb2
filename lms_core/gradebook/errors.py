"""Why a gradebook request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

__all__ = [
    "AttendanceItemExists",
    "CategoryNotFound",
    "DropLowestTooLarge",
    "ItemNotFound",
    "LessonItemFixed",
    "NotManualItem",
    "OverrideNotFound",
    "OverrideReasonRequired",
    "StudentNotEnrolled",
    "StudentsOnly",
]


class CategoryNotFound(NotFound):
    default_code = "grade_category_not_found"
    default_detail = "No such gradebook category."


class ItemNotFound(NotFound):
    default_code = "grade_item_not_found"
    default_detail = "No such gradebook item."


class OverrideNotFound(NotFound):
    default_code = "grade_override_not_found"
    default_detail = "This student has no override on this item."


class StudentNotEnrolled(NotFound):
    default_code = "student_not_enrolled"
    default_detail = "No such student is enrolled in this course."


class StudentsOnly(PermissionDenied):
    default_code = "students_only"
    default_detail = "Only the course's enrolled students have grades in it."


class NotManualItem(Conflict):
    default_code = "not_manual_item"
    default_detail = "Scores are entered on manual items only; graded lessons are graded."


class LessonItemFixed(Conflict):
    default_code = "lesson_item_fixed"
    default_detail = "A graded lesson's item follows its lesson: delete or rename the lesson."


class AttendanceItemExists(Conflict):
    default_code = "attendance_item_exists"
    default_detail = "This course already has an attendance item."


class DropLowestTooLarge(InvalidInput):
    default_code = "drop_lowest_too_large"
    default_detail = "A category cannot drop more items than it has."


class OverrideReasonRequired(InvalidInput):
    default_code = "override_reason_required"
    default_detail = "An override needs a reason (it is kept in the audit trail)."
