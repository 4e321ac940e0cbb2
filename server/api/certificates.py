"""Certificates of completion: one's own list, public verification, the PDF, revocation; thin
handlers over lms_core.certificates (the service checks every right).

Verification is public (the QR code on the PDF points at its page) and rate-limited per client
address like the other unauthenticated lookups: codes carry 120 random bits, so the limit is
against scraping, not guessing.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from lms_core.certificates import schemas, service
from lms_core.certificates.models import Certificate
from lms_core.storage.filenames import content_disposition
from server.api.framework import Call, Empty, Router
from server.downloads import stored_object_response
from server.state import LIMITER, SETTINGS, STORAGE

router = Router(tags=("certificates",))

DOWNLOAD_URL_SECONDS = 300
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


class CodePath(BaseModel):
    code: str = Field(min_length=1, max_length=service.MAX_CODE_CHARS)


def pdf_url(code: str) -> str:
    return f"{router.prefix}/certificates/{code}/pdf"


def _mine(row: Certificate) -> schemas.CertificateOut:
    return schemas.CertificateOut(
        code=row.code,
        course_id=row.course_id,
        course_title=row.course_title,
        issued_at=row.issued_at,
        status=service.status_of(row),
        pdf_url=None if row.revoked_at else pdf_url(row.code),
    )


@router.route(
    "GET",
    "/me/certificates",
    summary="One's certificates of completion, newest first",
    response=schemas.CertificateList,
    errors=(401,),
)
async def my_certificates(call: Call[Empty, Empty, Empty]) -> schemas.CertificateList:
    rows = await service.my_certificates(call.db, call.actor)
    return schemas.CertificateList(items=[_mine(row) for row in rows])


@router.route(
    "GET",
    "/certificates/{code}",
    summary="Verify a certificate by its code (public): what it says and whether it is valid",
    path_params=CodePath,
    response=schemas.VerificationOut,
    auth="public",
    errors=(404, 422, 429),
)
async def verify_certificate(call: Call[Empty, Empty, CodePath]) -> schemas.VerificationOut:
    app = call.request.app
    await app[LIMITER].hit(app[SETTINGS].ip_rate_limit, "certificate-ip", call.client_ip)
    return await service.verify(call.db, call.path.code)


@router.route(
    "GET",
    "/certificates/{code}/pdf",
    summary="Download a certificate's PDF (its student while it is valid, or an administrator)",
    path_params=CodePath,
    errors=(401, 403, 404, 410, 422, 503),
    download=True,
)
async def download_certificate(call: Call[Empty, Empty, CodePath]) -> web.StreamResponse:
    row = await service.for_download(call.db, call.actor, call.path.code)
    filename = f"certificate-{row.code}.pdf"
    return await stored_object_response(
        call.request.app[STORAGE],
        row.storage_key,
        content_type="application/pdf",
        filename=filename,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(filename)},
        redirect_seconds=DOWNLOAD_URL_SECONDS,
    )


@router.route(
    "POST",
    "/certificates/{code}/revoke",
    summary="Revoke a certificate (administrators; a reason is required). It then verifies as "
    "revoked",
    body=schemas.RevokeIn,
    path_params=CodePath,
    response=schemas.VerificationOut,
    errors=(401, 403, 404, 409, 422),
)
async def revoke_certificate(
    call: Call[schemas.RevokeIn, Empty, CodePath],
) -> schemas.VerificationOut:
    row = await service.revoke(call.db, call.actor, call.path.code, call.body.reason)
    return service.verification(row)
