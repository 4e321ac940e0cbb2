"""Time, in one place, so tests can travel (time-machine) and code never calls naive ``now()``."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
