"""Quizzes: the settings of a quiz lesson, its questions (fixed or drawn from bank pools), and
students' attempts (idempotent start, durable autosave, a server-side deadline, one final
submission graded by ``lms_core.question_banks.grading``)."""
