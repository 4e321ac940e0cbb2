"""Tables of lms_core.certificates (filled in by the certificates work)."""

from __future__ import annotations
