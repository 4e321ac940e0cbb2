"""RFC 9457 problem details: the one shape of every error, over HTTP and Socket.IO acks."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from lms_core import errors as domain
from server.state import REQUEST_ID

PROBLEM_TYPE_BASE = "https://seminar.dev/problems/"

_STATUS_BY_ERROR: list[tuple[type[domain.DomainError], int]] = [
    (domain.InvalidInput, 422),
    (domain.NotAuthenticated, 401),
    (domain.PaymentRequired, 402),
    (domain.PermissionDenied, 403),
    (domain.NotFound, 404),
    (domain.Conflict, 409),
    (domain.Gone, 410),
    (domain.TooLarge, 413),
    (domain.UnsupportedMediaType, 415),
    (domain.RateLimited, 429),
    (domain.StorageFull, 507),  # before its base class Unavailable
    (domain.Unavailable, 503),
]


class ProblemFieldError(BaseModel):
    loc: list[str | int]
    message: str
    type: str


class Problem(BaseModel):
    """An error response (``application/problem+json``, RFC 9457)."""

    type: str = Field(description="A URI naming the problem kind.")
    title: str
    status: int
    code: str = Field(description="Stable machine-readable code; branch on this.")
    detail: str
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


def status_for(error: domain.DomainError) -> int:
    for cls, status in _STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    request_id: str | None = None,
    errors: list[ProblemFieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=HTTPStatus(status).phrase,
        status=status,
        code=code,
        detail=detail,
        request_id=request_id,
        errors=errors,
    ).model_dump(exclude_none=True)
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def from_domain(error: domain.DomainError, request_id: str | None) -> tuple[int, dict[str, Any]]:
    field_errors = None
    if isinstance(error, domain.InvalidInput) and error.errors:
        field_errors = [
            ProblemFieldError(loc=list(e.loc), message=e.message, type=e.type) for e in error.errors
        ]
    status = status_for(error)
    return status, problem(
        status,
        error.code,
        error.detail,
        request_id=request_id,
        errors=field_errors,
        extra=dict(error.extra),
    )


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


def answer_keeping_writes(request: web.Request, error: domain.DomainError) -> web.Response:
    """``error`` as the handler's answer instead of raised: the request's unit of work then
    commits what it wrote before the failure. For a row that records something already done
    outside the database (an account Stripe made), which a rollback would forget."""
    status, body = from_domain(error, request.get(REQUEST_ID))
    return problem_response(status, body)


def domain_error(body: dict[str, Any]) -> domain.DomainError:
    """The error a problem body was made from (its status's class, code, detail and extra
    fields), e.g. a problem answered by another node, to be answered again here."""
    status = int(body.get("status", 400))
    cls = next((c for c, s in _STATUS_BY_ERROR if s == status), domain.DomainError)
    standard = set(Problem.model_fields)
    extra = {k: v for k, v in body.items() if k not in standard}
    detail, code = str(body.get("detail", "")), str(body.get("code", "error"))
    if cls is domain.RateLimited:
        return domain.RateLimited(detail, code=code, retry_after=int(extra.get("retry_after", 1)))
    if cls is domain.InvalidInput:
        errors = [
            domain.FieldError(e.get("loc", ()), e.get("message", ""), e.get("type", ""))
            for e in body.get("errors") or []
        ]
        return domain.InvalidInput(detail, code=code, errors=errors, extra=extra)
    return cls(detail, code=code, extra=extra)
