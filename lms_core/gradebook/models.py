"""Tables of lms_core.gradebook (filled in by the gradebook work)."""

from __future__ import annotations
