"""Schemathesis over the subscription operations with Stripe and both plans configured (the
stand-in): the main fuzz run (test_fuzz.py) has no Stripe settings, so there the plans, the
checkout and the portal only answer 503. Here they reach the handlers: no 5xx, every answer
documented, signed in as an admin and anonymously."""

from __future__ import annotations

from pathlib import Path

from server.state import Database
from tests.conftest import ClientFactory
from tests.server.api.test_fuzz import UNLIMITED, admin_token, bearer, only, schemathesis
from tests.server.api.test_payments import standin
from tests.server.api.test_subscriptions import plan_settings
from tests.stripe_standin import StripeStandin

__all__ = ["standin"]  # the fixture, imported

OPERATIONS = ("subscription_plans", "my_subscription", "subscribe_to_plan", "subscription_portal")


async def test_fuzz_subscriptions(
    make_client: ClientFactory, database: Database, standin: StripeStandin, tmp_path: Path
) -> None:
    client = await make_client(**UNLIMITED, **plan_settings(standin))
    token = await admin_token(client, database, "fuzz-subscriptions@example.com")
    report = await schemathesis(client, tmp_path, *bearer(token), *only(*OPERATIONS))
    assert f"Tested: {len(OPERATIONS)}" in report
    assert standin.of_type("checkout.session")  # the checkout reached Stripe (the stand-in)
    await schemathesis(client, tmp_path, *only(*OPERATIONS))
