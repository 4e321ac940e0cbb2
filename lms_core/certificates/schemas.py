"""What the certificate API takes and answers."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, Field, field_validator

MAX_REASON_CHARS = 2000


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class CertificateOut(BaseModel):
    """One of the caller's certificates."""

    code: str
    course_id: uuid.UUID
    course_title: str
    issued_at: datetime
    status: CertificateStatus
    pdf_url: str | None = Field(
        description="Where the PDF is downloaded (a path on this server); null once revoked."
    )


class CertificateList(BaseModel):
    items: list[CertificateOut]


class VerificationOut(BaseModel):
    """What anyone holding the code may check: what the certificate says and whether it holds."""

    code: str
    student_name: str
    course_title: str
    instructor_name: str
    completed_at: datetime
    issued_at: datetime
    status: CertificateStatus
    revoked_at: datetime | None


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a reason is required")
        return value
