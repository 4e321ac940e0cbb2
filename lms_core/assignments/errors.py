"""Why an assignment request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, TooLarge

__all__ = [
    "AssignmentClosed",
    "AssignmentNotConfigured",
    "AttachmentNotFound",
    "LessonNotAssignment",
    "NothingSubmitted",
    "ResubmissionClosed",
    "StudentsOnly",
    "SubmissionFileNotFound",
    "SubmissionNotFound",
    "TooManyFiles",
    "WrongSubmissionFormat",
]


class LessonNotAssignment(Conflict):
    default_code = "lesson_not_assignment"
    default_detail = "Only an assignment lesson has assignment settings and submissions."


class AssignmentNotConfigured(NotFound):
    default_code = "assignment_not_found"
    default_detail = "This assignment has not been set up yet."


class AttachmentNotFound(NotFound):
    default_code = "attachment_not_found"
    default_detail = "No such attachment."


class SubmissionNotFound(NotFound):
    # One answer for "absent" and "someone else's": a guesser learns nothing.
    default_code = "submission_not_found"
    default_detail = "No such submission."


class SubmissionFileNotFound(NotFound):
    default_code = "submission_file_not_found"
    default_detail = "No such file in this submission."


class StudentsOnly(PermissionDenied):
    default_code = "students_only"
    default_detail = "Only the course's enrolled students submit assignments."


class AssignmentClosed(Conflict):
    """Past the due date of an assignment with a hard cut-off."""

    default_code = "assignment_closed"
    default_detail = "The due date has passed and this assignment takes no late submissions."


class ResubmissionClosed(Conflict):
    default_code = "resubmission_closed"
    default_detail = "You have submitted already, and resubmitting is not possible now."


class TooManyFiles(TooLarge):
    default_code = "too_many_files"
    default_detail = "This submission has more files than the assignment allows."


class NothingSubmitted(InvalidInput):
    default_code = "nothing_submitted"
    default_detail = "A submission needs the text or the files that the assignment asks for."


class WrongSubmissionFormat(InvalidInput):
    default_code = "wrong_submission_format"
    default_detail = "This assignment does not take that kind of submission."
