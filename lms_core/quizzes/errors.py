from __future__ import annotations

from lms_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class QuizNotFound(NotFound):
    default_code = "quiz_not_found"
    default_detail = "This lesson has no quiz."


class AttemptNotFound(NotFound):
    default_code = "attempt_not_found"
    default_detail = "No such attempt."


class NotAQuizLesson(Conflict):
    default_code = "not_a_quiz_lesson"
    default_detail = "Only a lesson of kind quiz has quiz settings."


class QuizNotOpen(Conflict):
    default_code = "quiz_not_open"
    default_detail = "The quiz is not open now."


class NoAttemptsLeft(Conflict):
    default_code = "no_attempts_left"
    default_detail = "Every attempt allowed has been used."


class AttemptClosed(Conflict):
    default_code = "attempt_closed"
    default_detail = "The attempt is submitted or its time is up: answers are no longer taken."


class QuestionNotInAttempt(NotFound):
    default_code = "question_not_in_attempt"
    default_detail = "That question is not part of this attempt."


class AnswerDoesNotFit(InvalidInput):
    default_code = "answer_type_mismatch"
    default_detail = "The answer's type is not the question's."


class StudentsOnly(PermissionDenied):
    default_code = "enrollment_required"
    default_detail = "Only the course's enrolled students take its quizzes."


class QuizItemsInvalid(InvalidInput):
    default_code = "quiz_items_invalid"
    default_detail = "A quiz item names a question or bank that is not this course's."
