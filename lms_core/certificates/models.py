"""Tables of lms_core.certificates: one certificate of completion per (course, student).

What the certificate says (the student's and instructor's names, the course's title, the date of
completion) is copied in when it is issued: the PDF and the public verification page say the
same thing for as long as the certificate lives, whatever is renamed later. The PDF is stored
under a generated key; revoking keeps the row (a revoked certificate verifies as revoked).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin


class Certificate(IdMixin, Base):
    __tablename__ = "certificates"

    # Unguessable (secrets, 100 bits): the public verification URL is built from it.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    student_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    instructor_name: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    pdf_size: Mapped[int] = mapped_column(BigInteger)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoke_reason: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (UniqueConstraint("course_id", "user_id", name="uq_certificates_course_user"),)
