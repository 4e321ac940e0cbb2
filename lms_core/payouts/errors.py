"""Why a payout request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable


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


class ConnectEnabled(Conflict):
    """With Connect on, the payout runs are the payouts: a bank transfer recorded beside them
    would race a pending transfer for the same balance and pay it twice."""

    default_code = "connect_enabled"
    default_detail = (
        "Stripe Connect pays instructors on this server: payouts are its transfers, and "
        "payouts made outside it cannot be recorded."
    )


class PayeeNotFound(NotFound):
    default_code = "user_not_found"
    default_detail = "No such user."


class NothingOwed(Conflict):
    """The payables report has no positive balance for them in this currency."""

    default_code = "nothing_owed"
    default_detail = "Nothing is owed to this user in this currency."


class PayoutExceedsBalance(Conflict):
    default_code = "payout_exceeds_balance"
    default_detail = "The payout is more than the user is owed in this currency."


class PaidOnInFuture(InvalidInput):
    default_code = "paid_on_in_future"
    default_detail = "A payout cannot be recorded as paid on a day that has not come yet."


class IdempotencyKeyReused(Conflict):
    """The caller's key already recorded a different payout (another user, currency or
    amount): a retry must repeat the request it retries."""

    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key already recorded a different payout."
