"""Payouts made outside Stripe Connect, recorded by an administrator over HTTP: the payables
report, its CSV and the instructor's own overview net them; the ledger posts them like a Connect
transfer; the refusals (over the balance, nothing owed, Connect on, bad input); the
Idempotency-Key; and both kinds in one instructor's list. Sales go through the Stripe stand-in.

Concurrent recordings on separate connections: tests/lms_core/payouts/test_concurrent_manual.py.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from lms_core.accounts.models import Role
from lms_core.clock import utcnow
from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerTransaction
from lms_core.payouts.models import Payout, PayoutMethod, PayoutStatus
from server.state import Database
from tests.conftest import AppClient, ClientFactory
from tests.server.api.test_courses import ok, problem
from tests.server.api.test_enrollment import persona
from tests.server.api.test_payments import stripe_settings
from tests.server.api.test_payouts import (
    OVERVIEW,
    RUN,
    Payroll,
    _no_earlier_runs,
    share,
    standin,
    unbalanced_transactions,
)
from tests.stripe_standin import StripeStandin

__all__ = ["_no_earlier_runs", "standin"]  # fixtures
PAYABLES = "/api/v1/admin/payables"


def payouts_url(user_id: uuid.UUID | str) -> str:
    return f"/api/v1/admin/instructors/{user_id}/payouts"


@pytest_asyncio.fixture
async def payroll(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> Payroll:
    """Stripe takes payments; Connect is off: the school pays its instructors itself."""
    settings = stripe_settings(standin)
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    return Payroll(standin, database, make_client, settings, teacher, await make_client(**settings))


@pytest_asyncio.fixture
async def admin(payroll: Payroll) -> AppClient:
    await persona(payroll.make_client, payroll.database, "admin", Role.ADMIN)
    return await payroll.client("admin@example.com")


def bank(amount: int, reference: str = "SEPA-2026-0001", **more: Any) -> dict[str, Any]:
    return {"currency": "EUR", "amount_cents": amount, "reference": reference, **more}


async def owed(admin: AppClient, user_id: uuid.UUID, currency: str = "EUR") -> int | None:
    report = await ok(await admin.get(PAYABLES))
    rows = [
        r
        for r in report["items"]
        if r["instructor_id"] == str(user_id) and r["currency"] == currency
    ]
    return rows[0]["balance_cents"] if rows else None


async def recorded(database: Database) -> list[Payout]:
    async with database.sessions() as s:
        return list(await s.scalars(select(Payout).order_by(Payout.created_at)))


async def test_a_recorded_bank_transfer_is_netted_everywhere_and_balances_the_ledger(
    payroll: Payroll, admin: AppClient
) -> None:
    await payroll.sell(4900)
    await payroll.sell(2900)
    earned = share(4900) + share(2900)
    teacher_id = payroll.teacher.id
    assert await owed(admin, teacher_id) == earned
    paid_on = (utcnow() - timedelta(days=2)).date().isoformat()

    body = await ok(
        await admin.post(
            payouts_url(teacher_id), json=bank(share(4900), " SEPA 77/11 ", paid_on=paid_on)
        ),
        201,
    )
    assert body["user_id"] == str(teacher_id)
    assert body["method"] == "manual"
    assert body["status"] == "paid"
    assert body["amount_cents"] == share(4900)
    assert body["currency"] == "EUR"
    assert body["reference"] == "SEPA 77/11"  # trimmed
    assert body["paid_on"] == paid_on
    assert body["paid_at"] is not None
    assert body["recorded_by"] is not None

    # The payables report and its CSV: net of it.
    assert await owed(admin, teacher_id) == share(2900)
    csv = await (await admin.get(PAYABLES + ".csv")).text()
    assert f"{teacher_id},Teacher,EUR,{share(2900)}\r\n" in csv
    # The instructor's own overview: among the transfers, and paid out.
    mine = await ok(await (await payroll.teacher_client()).get(OVERVIEW))
    assert mine["connect_enabled"] is False
    assert [(t["id"], t["method"], t["reference"], t["paid_on"]) for t in mine["transfers"]] == [
        (body["id"], "manual", "SEPA 77/11", paid_on)
    ]
    [eur] = mine["balances"]
    assert eur["paid_out_cents"] == share(4900)
    # The administrator's list of the instructor's payouts.
    listed = await ok(await admin.get(payouts_url(teacher_id)))
    assert [p["id"] for p in listed["items"]] == [body["id"]]

    # The ledger: one balanced payout transaction, owed moved to paid.
    assert await unbalanced_transactions(payroll.database) == []
    async with payroll.database.sessions() as s:
        entries = (
            await s.execute(
                select(LedgerEntry.account, LedgerEntry.amount_cents)
                .join(LedgerTransaction)
                .where(LedgerTransaction.source == f"payout:{body['id']}")
            )
        ).all()
    assert sorted(entries) == sorted(
        [
            (ledger.instructor_account(teacher_id), -share(4900)),
            (ledger.instructor_paid_account(teacher_id), share(4900)),
        ]
    )
    assert await payroll.balance(ledger.instructor_account(teacher_id)) == share(2900)
    assert await payroll.balance(ledger.instructor_paid_account(teacher_id)) == share(4900)

    # Paying the rest: the instructor leaves the report, and nothing more can be recorded.
    await ok(await admin.post(payouts_url(teacher_id), json=bank(share(2900), "SEPA 78")), 201)
    assert await owed(admin, teacher_id) is None
    await problem(await admin.post(payouts_url(teacher_id), json=bank(1)), 409, "nothing_owed")


async def test_refusals_record_nothing(payroll: Payroll, admin: AppClient) -> None:
    await payroll.sell(4900)
    balance = share(4900)
    url = payouts_url(payroll.teacher.id)

    over = await admin.post(url, json=bank(balance + 1))
    await problem(over, 409, "payout_exceeds_balance")
    assert (await over.json())["balance_cents"] == balance
    assert (await over.json())["currency"] == "EUR"
    usd = await admin.post(url, json={**bank(100), "currency": "usd"})
    await problem(usd, 409, "nothing_owed")
    assert (await usd.json())["balance_cents"] == 0
    student = await persona(payroll.make_client, payroll.database, "student")
    await problem(await admin.post(payouts_url(student.id), json=bank(100)), 409, "nothing_owed")
    await problem(
        await admin.post(payouts_url(uuid.uuid4()), json=bank(100)), 404, "user_not_found"
    )
    await problem(await admin.get(payouts_url(uuid.uuid4())), 404, "user_not_found")
    for amount in (0, -5, 2**31):
        await problem(await admin.post(url, json=bank(amount)), 422)
    await problem(await admin.post(url, json=bank(100, "   ")), 422)
    await problem(await admin.post(url, json=bank(100, "x" * 201)), 422)
    await problem(await admin.post(url, json={"currency": "EUR", "amount_cents": 100}), 422)
    future = (utcnow() + timedelta(days=3)).date().isoformat()
    await problem(await admin.post(url, json=bank(100, paid_on=future)), 422, "paid_on_in_future")
    # Only administrators record payouts; not even the instructor themselves.
    teacher = await payroll.teacher_client()
    await problem(await teacher.post(url, json=bank(100)), 403, "admin_required")
    await problem(await teacher.get(url), 403, "admin_required")

    assert await recorded(payroll.database) == []
    assert await owed(admin, payroll.teacher.id) == balance


async def test_a_retry_with_the_same_idempotency_key_answers_the_first_payout(
    payroll: Payroll, admin: AppClient
) -> None:
    await payroll.sell(4900)
    url = payouts_url(payroll.teacher.id)
    key = {"Idempotency-Key": f"payout-{uuid.uuid4()}"}
    first = await ok(await admin.post(url, json=bank(1000), headers=key), 201)
    again = await ok(await admin.post(url, json=bank(1000), headers=key), 200)
    assert again == first
    assert await owed(admin, payroll.teacher.id) == share(4900) - 1000  # paid once
    assert [p.id for p in await recorded(payroll.database)] == [uuid.UUID(first["id"])]
    # The same key for a different payout is a mistake, not a retry.
    await problem(await admin.post(url, json=bank(999), headers=key), 409, "idempotency_key_reused")
    await problem(
        await admin.post(url, json=bank(1000), headers={"Idempotency-Key": "has space"}),
        422,
        "invalid_idempotency_key",
    )
    # Keys are each administrator's own: another one's same key records their payout.
    await persona(payroll.make_client, payroll.database, "admin2", Role.ADMIN)
    other = await payroll.client("admin2@example.com")
    theirs = await ok(await other.post(url, json=bank(1000), headers=key), 201)
    assert theirs["id"] != first["id"]
    assert await owed(admin, payroll.teacher.id) == share(4900) - 2000
    assert await unbalanced_transactions(payroll.database) == []


async def test_with_connect_on_the_runs_are_the_payouts_and_the_list_shows_both_kinds(
    payroll: Payroll, admin: AppClient
) -> None:
    """A bank transfer recorded while Connect was off, then Connect on: recording is refused
    (409 connect_enabled), the run transfers only what is still owed, and the lists show
    both payouts."""
    await payroll.sell(4900)
    await payroll.sell(2900)
    earned = share(4900) + share(2900)
    teacher_id = payroll.teacher.id
    key = {"Idempotency-Key": "before-connect"}
    manual = await ok(
        await admin.post(payouts_url(teacher_id), json=bank(share(4900)), headers=key), 201
    )

    payroll.settings = stripe_settings(payroll.standin, stripe_connect=True)
    connect_admin = await payroll.client("admin@example.com")
    await problem(
        await connect_admin.post(payouts_url(teacher_id), json=bank(100)), 409, "connect_enabled"
    )
    # A retry of the recording made before Connect was turned on still gets its answer.
    retried = await connect_admin.post(payouts_url(teacher_id), json=bank(share(4900)), headers=key)
    assert await ok(retried, 200) == manual
    await payroll.onboard()
    await payroll.age_sales(15)
    await ok(await connect_admin.post(RUN), 202)
    await payroll.run_jobs()
    payouts = await recorded(payroll.database)
    assert [(p.method, p.status, p.amount_cents) for p in payouts] == [
        (PayoutMethod.MANUAL, PayoutStatus.PAID, share(4900)),
        (PayoutMethod.STRIPE, PayoutStatus.PAID, share(2900)),  # the rest, not the whole
    ]
    assert [t["amount"] for t in payroll.standin.of_type("transfer")] == [share(2900)]

    listed = await ok(await connect_admin.get(payouts_url(teacher_id)))
    assert [(p["method"], p["amount_cents"]) for p in listed["items"]] == [
        ("stripe", share(2900)),
        ("manual", share(4900)),
    ]
    assert listed["items"][1]["id"] == manual["id"]
    mine = await ok(await (await payroll.teacher_client()).get(OVERVIEW))
    assert [t["method"] for t in mine["transfers"]] == ["stripe", "manual"]
    assert mine["balances"][0]["paid_out_cents"] == earned
    assert mine["balances"][0]["available_cents"] == 0
    assert await owed(connect_admin, teacher_id) is None
    assert await unbalanced_transactions(payroll.database) == []


INSERT_PAYOUT = text(
    "INSERT INTO payouts (id, user_id, method, stripe_account_id, currency, amount_cents, "
    "status, reversed_cents, reference, paid_on, paid_at, recorded_by, created_at, updated_at) "
    "VALUES (gen_random_uuid(), :user, :method, :account, 'EUR', 100, :status, 0, :reference, "
    ":paid_on, :paid_at, NULL, now(), now())"
)


async def test_the_migrations_check_keeps_the_two_kinds_apart(payroll: Payroll) -> None:
    """Raw inserts against the migrated schema: each kind with its own fields passes; a manual
    payout without a reference, one naming a Stripe account, one still pending, or a Connect
    payout without an account, is refused by ``ck_payouts_method_consistent``."""
    today, now = utcnow().date(), utcnow()
    manual: dict[str, Any] = {
        "method": "manual",
        "account": None,
        "status": "paid",
        "reference": "SEPA",
    }
    manual |= {"paid_on": today, "paid_at": now}
    stripe: dict[str, Any] = {
        "method": "stripe",
        "account": "acct_1",
        "status": "pending",
        "reference": None,
    }
    stripe |= {"paid_on": None, "paid_at": None}
    broken = [
        manual | {"reference": None},
        manual | {"account": "acct_1"},
        manual | {"status": "pending"},
        manual | {"paid_on": None},
        stripe | {"account": None},
        stripe | {"reference": "SEPA"},
    ]
    async with payroll.database.sessions() as s:
        for fine in (manual, stripe | {"status": "failed"}):
            await s.execute(INSERT_PAYOUT, {"user": payroll.teacher.id, **fine})
        for values in broken:
            with pytest.raises(IntegrityError, match="ck_payouts_method_consistent"):
                async with s.begin_nested():
                    await s.execute(INSERT_PAYOUT, {"user": payroll.teacher.id, **values})
        await s.rollback()
