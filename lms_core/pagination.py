"""Keyset-pagination cursors: opaque to clients, a 422 (never a 500) when forged."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime

from lms_core.errors import FieldError, InvalidInput


def invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not valid.",
        code="invalid_cursor",
        errors=[FieldError(("query", "cursor"), "not a cursor from this API", "invalid")],
    )


def encode_time_cursor(moment: datetime, ident: uuid.UUID) -> str:
    """A cursor for lists ordered by (a timestamp, id)."""
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{ident}".encode()).decode()


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        moment_text, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            raise ValueError("naive cursor time")
        # In UTC, as PostgreSQL will compare it: a forged "0001-01-01T00:00+14:00" falls
        # outside datetime's range here (422) instead of in the driver (500).
        return moment.astimezone(UTC), uuid.UUID(ident)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None
