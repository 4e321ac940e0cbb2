"""The subscription gateway against the Stripe stand-in through the real ``stripe`` library:
plan prices are cached for a few minutes, and Stripe's failures are payments' domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import stripe

from lms_core.payments.errors import PaymentProviderError, PaymentProviderUnavailable
from lms_core.subscriptions.gateway import PRICE_TTL_SECONDS, SubscriptionGateway
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin, standin_client

__all__ = ["standin"]  # the fixture, imported


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def client(standin: StripeStandin) -> AsyncIterator[stripe.StripeClient]:
    async with standin_client(standin, answer_within=5) as made:
        yield made


def price_reads(standin: StripeStandin) -> int:
    return sum(1 for _, path, _ in standin.requests if path.startswith("/v1/prices/"))


async def test_prices_are_cached_for_a_few_minutes(
    standin: StripeStandin, client: stripe.StripeClient
) -> None:
    clock = Clock()
    gateway = SubscriptionGateway(client, clock=clock)
    price = standin.plan_price("month", 1200)
    first = await gateway.price(price["id"])
    assert (first.unit_amount, first.currency) == (1200, "usd")
    clock.now += PRICE_TTL_SECONDS - 1
    standin.objects[price["id"]]["unit_amount"] = 1500  # changed in the dashboard
    assert (await gateway.price(price["id"])).unit_amount == 1200
    assert price_reads(standin) == 1
    clock.now += 1
    assert (await gateway.price(price["id"])).unit_amount == 1500
    assert price_reads(standin) == 2


async def test_stripe_failures_are_domain_errors(
    standin: StripeStandin, client: stripe.StripeClient
) -> None:
    gateway = SubscriptionGateway(client)
    with pytest.raises(PaymentProviderError):
        await gateway.price("price_missing")  # Stripe's 404
    standin.fail_next()
    with pytest.raises(PaymentProviderUnavailable):
        await gateway.subscription("sub_whatever")  # Stripe's 500
