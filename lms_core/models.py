"""Imports every domain's models so ``metadata`` knows all tables (for Alembic and tests)."""

from __future__ import annotations

from lms_core.accounts import models as accounts_models
from lms_core.assignments import models as assignments_models
from lms_core.certificates import models as certificates_models
from lms_core.courses import models as courses_models
from lms_core.db import Base
from lms_core.enrollment import models as enrollment_models
from lms_core.gradebook import models as gradebook_models
from lms_core.grading import models as grading_models
from lms_core.jobs import models as jobs_models
from lms_core.live import models as live_models
from lms_core.live import room_models as live_room_models
from lms_core.mail import models as mail_models
from lms_core.payments import models as payments_models
from lms_core.payouts import models as payouts_models
from lms_core.question_banks import models as question_banks_models
from lms_core.quizzes import models as quizzes_models
from lms_core.subscriptions import models as subscriptions_models

__all__ = [
    "accounts_models",
    "assignments_models",
    "certificates_models",
    "courses_models",
    "enrollment_models",
    "gradebook_models",
    "grading_models",
    "jobs_models",
    "live_models",
    "live_room_models",
    "mail_models",
    "metadata",
    "payments_models",
    "payouts_models",
    "question_banks_models",
    "quizzes_models",
    "subscriptions_models",
]

metadata = Base.metadata
