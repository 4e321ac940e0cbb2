"""Schemathesis over the payout operations with Stripe (the stand-in) and Connect on: the main
fuzz run (test_fuzz.py) has no Stripe settings, so there onboarding and the admin's run only
answer 503. Here they reach the handlers: no 5xx, every answer documented, signed in as an
admin and anonymously."""

from __future__ import annotations

from pathlib import Path

from server.state import Database
from tests.conftest import ClientFactory
from tests.server.api.test_fuzz import UNLIMITED, admin_token, bearer, only, schemathesis
from tests.server.api.test_payments import stripe_settings
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin

__all__ = ["standin"]  # the fixture, imported

OPERATIONS = ("my_payouts", "payout_onboarding", "run_payouts")


async def test_fuzz_payouts(
    make_client: ClientFactory, database: Database, standin: StripeStandin, tmp_path: Path
) -> None:
    client = await make_client(**UNLIMITED, **stripe_settings(standin, stripe_connect=True))
    token = await admin_token(client, database, "fuzz-payouts@example.com")
    report = await schemathesis(client, tmp_path, *bearer(token), *only(*OPERATIONS))
    assert "Tested: 3" in report
    assert len(standin.of_type("account")) == 1  # however often onboarding was called
    await schemathesis(client, tmp_path, *only(*OPERATIONS))


MANUAL_OPERATIONS = ("record_payout", "instructor_payouts")


async def test_fuzz_manual_payouts(
    make_client: ClientFactory, database: Database, standin: StripeStandin, tmp_path: Path
) -> None:
    """Recording a bank transfer and listing payouts, with Connect off (on, a recording is
    refused before anything else): random users and bodies, Idempotency-Keys included."""
    client = await make_client(**UNLIMITED, **stripe_settings(standin))
    token = await admin_token(client, database, "fuzz-manual-payouts@example.com")
    report = await schemathesis(client, tmp_path, *bearer(token), *only(*MANUAL_OPERATIONS))
    assert "Tested: 2" in report
    await schemathesis(client, tmp_path, *only(*MANUAL_OPERATIONS))
