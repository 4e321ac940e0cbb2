"""Why a payment request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from collections.abc import Sequence

from lms_core.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable


class PaymentsNotConfigured(Unavailable):
    default_code = "payments_not_configured"
    default_detail = "Payments are not configured on this server."

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            "Payments are not configured on this server; set " + ", ".join(missing) + ".",
            extra={"missing_settings": list(missing)},
        )


class PaymentProviderUnavailable(Unavailable):
    """Stripe did not answer (timeout, network, its own 5xx): retrying is safe, the checkout
    reuses its idempotency key."""

    default_code = "payment_provider_unavailable"
    default_detail = "The payment provider did not answer; try again."


class PaymentProviderError(Unavailable):
    default_code = "payment_provider_error"
    default_detail = "The payment provider refused the request."


class AlreadyEnrolled(Conflict):
    default_code = "already_enrolled"
    default_detail = "You are already enrolled in this course."


class CourseIsFree(Conflict):
    default_code = "course_is_free"
    default_detail = "This course is free: enroll directly."


class InvalidSignature(DomainError):
    """A webhook whose ``Stripe-Signature`` does not verify (400)."""

    default_code = "webhook_signature_invalid"
    default_detail = "The webhook signature is missing, wrong or too old."


class InvalidEvent(DomainError):
    """A signed webhook body that is not a Stripe event (400)."""

    default_code = "webhook_event_invalid"
    default_detail = "The webhook body is not a Stripe event."


class PromotionCodeTaken(Conflict):
    default_code = "promotion_code_taken"
    default_detail = "An active promotion code already has this text."


class PromotionCodeNotFound(NotFound):
    default_code = "promotion_code_not_found"
    default_detail = "No such promotion code."


class InvalidPromotionCode(InvalidInput):
    default_code = "invalid_promotion_code"
