"""Submission receipts: what was handed in (SHA-256 of the text and of every file) and when.

The receipt is returned with the submission and mailed to the student through the mail port
(the outbox, in the submission's own transaction: a receipt mail exists iff the submission
committed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.assignments.models import Submission, SubmissionFile
from lms_core.assignments.schemas import ReceiptFileOut, ReceiptOut
from lms_core.mail.models import OutboxMessage
from lms_core.mail.service import Mailer

TEMPLATE = "submission_receipt"


def text_digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def receipt(submission: Submission, files: Sequence[SubmissionFile]) -> ReceiptOut:
    return ReceiptOut(
        submission_id=submission.id,
        version=submission.version,
        submitted_at=submission.submitted_at,
        text_sha256=submission.text_sha256,
        files=[
            ReceiptFileOut(filename=f.filename, size=f.size, sha256=f.sha256)
            for f in sorted(files, key=lambda f: f.position)
        ],
    )


def mail_body(
    receipt: ReceiptOut, *, student: str, assignment: str, course: str, days_late: int
) -> str:
    lines = [
        f"Hello {student},",
        "",
        f'Your work for "{assignment}" in "{course}" was received.',
        "",
        f"Receipt: {receipt.submission_id}",
        f"Version: {receipt.version}",
        f"Received at: {receipt.submitted_at.isoformat()} (UTC)",
    ]
    if days_late:
        lines.append(f"Late by: {days_late} day(s)")
    if receipt.text_sha256 is not None:
        lines.append(f"Text SHA-256: {receipt.text_sha256}")
    for f in receipt.files:
        lines.append(f"File: {f.filename} ({f.size} bytes) SHA-256: {f.sha256}")
    lines += ["", "Keep this mail: the checksums prove what you handed in."]
    return "\n".join(lines) + "\n"


async def send_receipt(
    session: AsyncSession,
    mailer: Mailer,
    receipt: ReceiptOut,
    *,
    to: str,
    student: str,
    assignment: str,
    course: str,
    days_late: int,
) -> OutboxMessage:
    # Titles are the author's text; keep the subject one line whatever they hold.
    subject = " ".join(f"Submission received: {assignment}".split())[:300]
    body = mail_body(
        receipt, student=student, assignment=assignment, course=course, days_late=days_late
    )
    return await mailer.queue(session, to=to, subject=subject, body=body, template=TEMPLATE)
