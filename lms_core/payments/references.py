"""Reading references out of Stripe's answers and webhook snapshots (every area uses these)."""

from __future__ import annotations

import uuid
from typing import Any


def stripe_id(value: Any) -> str | None:
    """The id of a reference: a string, an expanded object, or (in a webhook's JSON) a dict."""
    if value is None or isinstance(value, str):
        return value
    found = value.get("id") if isinstance(value, dict) else getattr(value, "id", None)
    return str(found) if found else None


def parse_uuid(value: object) -> uuid.UUID | None:
    """A UUID from metadata or ``client_reference_id``; None when absent or malformed."""
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
