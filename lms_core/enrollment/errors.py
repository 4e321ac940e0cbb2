"""Why an enrollment or a progress report is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, NotFound, PaymentRequired, PermissionDenied

__all__ = [
    "CourseArchived",
    "CourseFull",
    "EnrollmentClosed",
    "EnrollmentNotFound",
    "EnrollmentNotOpen",
    "EnrollmentRequired",
    "LessonNotFound",
    "LessonNotReleased",
    "PaymentRequired",
    "PrerequisitesMissing",
    "StaffCannotEnroll",
]


class EnrollmentNotFound(NotFound):
    default_code = "enrollment_not_found"
    default_detail = "No such enrollment."


class LessonNotFound(NotFound):
    default_code = "lesson_not_found"
    default_detail = "No such lesson."


class CourseArchived(Conflict):
    default_code = "course_archived"
    default_detail = "The course is archived and takes no new enrollments."


class CourseFull(Conflict):
    default_code = "course_full"
    default_detail = "The course has no free seats."


class EnrollmentNotOpen(Conflict):
    default_code = "enrollment_not_open"
    default_detail = "Enrollment for this course has not opened yet."


class EnrollmentClosed(Conflict):
    default_code = "enrollment_closed"
    default_detail = "Enrollment for this course has closed."


class PrerequisitesMissing(Conflict):
    default_code = "prerequisites_missing"
    default_detail = "Complete the prerequisite courses first."


class StaffCannotEnroll(Conflict):
    default_code = "user_is_course_staff"
    default_detail = "Course staff and administrators cannot enroll in the course as students."


class EnrollmentRequired(PermissionDenied):
    default_code = "enrollment_required"
    default_detail = "Enroll in the course first."


class LessonNotReleased(Conflict):
    default_code = "lesson_not_released"
    default_detail = "The lesson is not released yet."
