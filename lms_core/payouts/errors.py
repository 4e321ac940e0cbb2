"""Why a payout request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import PermissionDenied, Unavailable


class ConnectNotConfigured(Unavailable):
    default_code = "connect_not_configured"
    default_detail = (
        "Payouts through Stripe Connect are not enabled on this server (SEMINAR_STRIPE_CONNECT); "
        "instructors are paid from the payables report."
    )


class NotAPayee(PermissionDenied):
    """Only those who can be paid a course's share open a payout account."""

    default_code = "instructor_required"
    default_detail = "Only instructors (or owners of a course) receive payouts."
