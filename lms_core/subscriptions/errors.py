"""Why a subscription request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, Unavailable


class SubscriptionsNotConfigured(Unavailable):
    default_code = "subscriptions_not_configured"
    default_detail = (
        "The platform plan is not offered on this server; set SEMINAR_STRIPE_PRICE_MONTHLY "
        "or SEMINAR_STRIPE_PRICE_YEARLY."
    )


class PlanNotOffered(Conflict):
    """An interval without a configured price (only the other plan is offered)."""

    default_code = "plan_not_offered"
    default_detail = "This plan is not offered."


class AlreadySubscribed(Conflict):
    default_code = "already_subscribed"
    default_detail = "Your subscription is already active; manage it in the customer portal."


class NoSubscription(Conflict):
    default_code = "no_subscription"
    default_detail = "You have not subscribed yet: there is nothing to manage."
