"""Tables of lms_core.payments (filled in by the payments work)."""

from __future__ import annotations
