"""Tables of lms_core.grading (filled in by the grading work)."""

from __future__ import annotations
