"""Schemathesis over the payment operations with Stripe configured (the stand-in): the main fuzz
run (test_fuzz.py) has no Stripe settings, so there these operations only answer 503. Here
they reach the handlers: no 5xx, every answer documented, signed in as an admin and
anonymously."""

from __future__ import annotations

from pathlib import Path

from server.state import Database
from tests.conftest import ClientFactory
from tests.server.api.test_fuzz import UNLIMITED, admin_token, bearer, only, schemathesis
from tests.server.api.test_payments import stripe_settings
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin

__all__ = ["standin"]  # the fixture, imported

OPERATIONS = (
    "checkout",
    "stripe_webhook",
    "my_orders",
    "order_receipt",
    "my_earnings",
    "revenue",
    "payables",
    "my_earnings_csv",
    "revenue_csv",
    "payables_csv",
    "set_instructor_fee",
    "clear_instructor_fee",
    "create_course_code",
    "course_codes",
    "stop_course_code",
    "create_platform_code",
    "platform_codes",
    "stop_platform_code",
)


async def test_fuzz_payments(
    make_client: ClientFactory, database: Database, standin: StripeStandin, tmp_path: Path
) -> None:
    client = await make_client(**UNLIMITED, **stripe_settings(standin))
    token = await admin_token(client, database, "fuzz-payments@example.com")
    report = await schemathesis(client, tmp_path, *bearer(token), *only(*OPERATIONS))
    assert "checkout" in report
    await schemathesis(client, tmp_path, *only(*OPERATIONS))
