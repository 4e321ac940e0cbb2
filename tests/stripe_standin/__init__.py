"""A local stand-in for the Stripe API, for tests (see ``server.py``)."""

from tests.stripe_standin.server import StripeStandin, sign_payload, stripe_standin

__all__ = ["StripeStandin", "sign_payload", "stripe_standin"]
