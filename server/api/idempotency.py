"""The ``Idempotency-Key`` request header (DESIGN.md: unsafe operations that create something
or move money accept one): read and checked once, here, for every route that takes it."""

from __future__ import annotations

import re

from aiohttp import web

from lms_core.errors import FieldError, InvalidInput

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Also the pattern OpenAPI documents (ECMA-262 syntax, anchored there as JSON Schema wants).
KEY_PATTERN = "^[!-~]{1,200}$"
_KEY = re.compile(KEY_PATTERN)


def idempotency_key(request: web.Request) -> str | None:
    """The header's value, or None without one; 422 ``invalid_idempotency_key`` unless it is
    1-200 visible ASCII characters."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise InvalidInput(
            "The Idempotency-Key is 1-200 visible ASCII characters.",
            code="invalid_idempotency_key",
            errors=[FieldError(("header", IDEMPOTENCY_HEADER), "1-200 visible ASCII", "invalid")],
        )
    return value
