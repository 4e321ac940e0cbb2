"""Course and content errors with their stable codes (see lms_core.errors for the tree)."""

from __future__ import annotations

from lms_core.courses.access import CourseNotFound
from lms_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

__all__ = [
    "CategoryNotFound",
    "CategoryTaken",
    "CourseEmpty",
    "CourseNotDeletable",
    "CourseNotFound",
    "InvalidTransition",
    "LessonLocked",
    "LessonNotFound",
    "ModuleNotFound",
    "NotCourseManager",
    "PrerequisiteCycle",
    "SlugTaken",
    "StaffUserNotFound",
]


class CategoryNotFound(NotFound):
    default_code = "category_not_found"
    default_detail = "No such category."


class CategoryTaken(Conflict):
    default_code = "category_taken"
    default_detail = "A category with this name or slug already exists."


class SlugTaken(Conflict):
    default_code = "slug_taken"
    default_detail = "Another course already uses this slug."


class CourseNotDeletable(Conflict):
    default_code = "course_not_deletable"
    default_detail = (
        "Only a draft course without enrollments or orders can be deleted; archive it instead."
    )


class CourseEmpty(Conflict):
    default_code = "course_empty"
    default_detail = "A course needs at least one lesson before it can be published."


class InvalidTransition(Conflict):
    default_code = "invalid_status_transition"
    default_detail = "The course cannot move to that status from its current one."


class NotCourseManager(PermissionDenied):
    default_code = "not_course_manager"
    default_detail = "Only the course's owner or an administrator may do this."


class PrerequisiteCycle(InvalidInput):
    default_code = "prerequisite_cycle"
    default_detail = "These prerequisites would make a cycle."


class StaffUserNotFound(NotFound):
    default_code = "user_not_found"
    default_detail = "No such user."


class ModuleNotFound(NotFound):
    default_code = "module_not_found"
    default_detail = "No such module."


class LessonNotFound(NotFound):
    default_code = "lesson_not_found"
    default_detail = "No such lesson."


class LessonLocked(PermissionDenied):
    default_code = "lesson_locked"
    default_detail = "This lesson is not available to you yet."
