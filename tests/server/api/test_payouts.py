"""Instructor payouts over HTTP against the Stripe stand-in (through the real ``stripe``
library): onboarding to a Connect Express account, ``account.updated``, the overview, an
administrator's run through the job queue, transfer reversals, and the refusals.

The transfer job's own cases (hold, minimum, currencies, crashes, failures) are in
test_payouts_job.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role
from lms_core.jobs import JobRegistry, JobRunner
from lms_core.jobs.models import Job
from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerTransaction, Order
from lms_core.payouts.jobs import PAYOUT_RUN
from lms_core.payouts.models import Payout, PayoutAccount, PayoutStatus
from server.jobs import payout_job
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login, make_settings
from tests.server.api.test_courses import ok, problem
from tests.server.api.test_enrollment import Persona, new_course, persona
from tests.server.api.test_payments import WEBHOOK, WEBHOOK_SECRET, stripe_settings
from tests.stripe_standin import StripeStandin, stripe_standin
from tests.stripe_standin.payments import stripe_fee

ONBOARDING = "/api/v1/me/payouts/onboarding"
OVERVIEW = "/api/v1/me/payouts"
RUN = "/api/v1/admin/payouts/run"


async def _payout_runs(session: AsyncSession) -> int:
    """Payout runs queued (not every job: other tests commit theirs to the shared database)."""
    stmt = select(func.count()).select_from(Job).where(Job.kind == PAYOUT_RUN.name)
    return await session.scalar(stmt) or 0


@pytest_asyncio.fixture(autouse=True)
async def _no_earlier_runs(database: Database) -> None:
    """Runs other tests committed (a browser test's server with Connect schedules one) are out
    of the picture; the test's transaction rolls this back."""
    async with database.sessions() as s:
        await s.execute(delete(Job).where(Job.kind == PAYOUT_RUN.name))
        await s.commit()


@pytest_asyncio.fixture
async def standin() -> Any:
    async with stripe_standin() as s:
        yield s


def share(amount: int, percent: float = 20.0) -> int:
    """The instructor's share of one sale of ``amount`` (the stand-in's fee)."""
    return ledger.split(amount, stripe_fee(amount), percent)[1]


@dataclass
class Payroll:
    """A teacher selling courses to fresh students, Stripe (the stand-in) sending webhooks."""

    standin: StripeStandin
    database: Database
    make_client: ClientFactory
    settings: dict[str, Any]
    teacher: Persona
    stripe: AppClient  # no cookies: Stripe's webhook deliveries

    async def client(self, email: str, **overrides: Any) -> AppClient:
        client = await self.make_client(**{**self.settings, **overrides})
        await login(client, email)
        return client

    async def sell(self, price_cents: int = 4900, currency: str = "EUR") -> Order:
        """A paid sale of a new course of the teacher's to a new student."""
        course = await new_course(
            self.database, self.teacher.id, price_cents=price_cents, currency=currency
        )
        name = f"buyer{uuid.uuid4().hex[:8]}"
        await persona(self.make_client, self.database, name)
        buyer = await self.client(f"{name}@example.com")
        order = await ok(await buyer.post(f"/api/v1/courses/{course.id}/checkout"), 201)
        session = self.standin.pay(order["url"].rsplit("/", 1)[1])
        await self.send("checkout.session.completed", session)
        async with self.database.sessions() as s:
            paid = await s.get(Order, uuid.UUID(order["order_id"]))
        assert paid is not None
        assert paid.status == "paid"
        return paid

    async def send(self, kind: str, obj: dict[str, Any], status: int = 200) -> dict[str, Any]:
        body, signature = self.standin.signed(self.standin.event(kind, obj), WEBHOOK_SECRET)
        resp = await self.stripe.post(
            WEBHOOK,
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        out: dict[str, Any] = await ok(resp, status)
        return out

    async def age_sales(self, days: float) -> None:
        """Every sale so far was posted ``days`` ago (past the hold, if that is long enough)."""
        async with self.database.sessions() as s:
            await s.execute(
                update(LedgerTransaction)
                .where(LedgerTransaction.kind == "payment")
                .values(created_at=LedgerTransaction.created_at - timedelta(days=days))
            )
            await s.commit()

    async def onboard(self, client: AppClient | None = None) -> str:
        """The teacher onboards and Stripe says so; returns their account id."""
        await ok(await (client or await self.teacher_client()).post(ONBOARDING), 201)
        account_id = await self.account_id()
        self.standin.complete_onboarding(account_id)
        await self.send("account.updated", self.standin.objects[account_id])
        return account_id

    async def teacher_client(self, **overrides: Any) -> AppClient:
        return await self.client("teacher@example.com", **overrides)

    async def account_id(self, user_id: uuid.UUID | None = None) -> str:
        async with self.database.sessions() as s:
            account = await s.get(PayoutAccount, user_id or self.teacher.id)
        assert account is not None
        return account.stripe_account_id

    async def payouts(self) -> list[Payout]:
        async with self.database.sessions() as s:
            return list(await s.scalars(select(Payout).order_by(Payout.created_at, Payout.id)))

    async def balance(self, account: str) -> int:
        async with self.database.sessions() as s:
            return (await ledger.balances(s)).get(account, 0)

    async def run_jobs(self) -> int:
        """Run the queued payout jobs that are due, as a worker would."""
        registry = JobRegistry()
        registry.add(PAYOUT_RUN, payout_job(make_settings("postgresql://unused", **self.settings)))
        runner = JobRunner(self.database.sessions, registry, concurrency=1, name="test")
        return await runner.run_until_idle()


async def open_payroll(
    make_client: ClientFactory, database: Database, standin: StripeStandin, **overrides: Any
) -> Payroll:
    settings = stripe_settings(standin, stripe_connect=True, **overrides)
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    return Payroll(standin, database, make_client, settings, teacher, await make_client(**settings))


@pytest_asyncio.fixture
async def payroll(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> Payroll:
    return await open_payroll(make_client, database, standin)


async def unbalanced_transactions(database: Database) -> list[Any]:
    async with database.sessions() as s:
        return list(
            (
                await s.execute(
                    select(LedgerEntry.transaction_id)
                    .group_by(LedgerEntry.transaction_id)
                    .having(func.sum(LedgerEntry.amount_cents) != 0)
                )
            ).all()
        )


# -- onboarding --------------------------------------------------------------------------------


async def test_onboarding_makes_one_express_account_even_after_a_timeout(
    payroll: Payroll, standin: StripeStandin
) -> None:
    teacher = await payroll.teacher_client(stripe_timeout=0.2)
    standin.stall_next()  # Stripe makes the account, but its answer never arrives
    await problem(await teacher.post(ONBOARDING), 503, "payment_provider_unavailable")
    assert len(standin.of_type("account")) == 1
    async with payroll.database.sessions() as s:  # the failed request stored nothing
        assert await s.scalar(select(func.count()).select_from(PayoutAccount)) == 0
    link = await ok(await teacher.post(ONBOARDING), 201)
    accounts = standin.of_type("account")
    assert len(accounts) == 1  # Stripe replayed the first answer
    keys = [k for m, p, k in standin.requests if p == "/v1/accounts"]
    assert keys == [f"seminar:connect-account:{payroll.teacher.id}"] * 2
    account = accounts[0]
    assert account["type"] == "express"
    assert account["metadata"] == {"seminar_user_id": str(payroll.teacher.id)}
    assert await payroll.account_id() == account["id"]
    assert link["url"].startswith(f"https://connect.stripe.test/setup/e/{account['id']}/")
    link_posts = [k for m, p, k in standin.requests if p == "/v1/account_links"]
    assert len(link_posts) == 1
    assert link_posts[0] is not None
    # Back on the page later: the same account, a link for it.
    again = await ok(await teacher.post(ONBOARDING), 201)
    assert again["url"].startswith(f"https://connect.stripe.test/setup/e/{account['id']}/")
    assert len(standin.of_type("account")) == 1
    assert [p for m, p, k in standin.requests].count("/v1/accounts") == 2
    overview = await ok(await teacher.get(OVERVIEW))
    assert overview["connect_enabled"] is True
    assert overview["account"] == {"payouts_enabled": False, "details_submitted": False}


async def test_an_account_made_without_a_link_is_kept(
    payroll: Payroll, standin: StripeStandin
) -> None:
    """Stripe made the account but the link timed out: the 503 still stores the account, so a
    retry after Stripe forgot the account's idempotency key (24 h) makes no second one."""
    teacher = await payroll.teacher_client(stripe_timeout=0.2)
    standin.stall_next(path="/v1/account_links")
    await problem(await teacher.post(ONBOARDING), 503, "payment_provider_unavailable")
    accounts = standin.of_type("account")
    assert len(accounts) == 1
    assert await payroll.account_id() == accounts[0]["id"]
    standin.forget_idempotency_keys()
    link = await ok(await teacher.post(ONBOARDING), 201)
    assert link["url"].startswith(f"https://connect.stripe.test/setup/e/{accounts[0]['id']}/")
    assert len(standin.of_type("account")) == 1
    assert [p for m, p, k in standin.requests].count("/v1/accounts") == 1


async def test_the_onboarding_link_returns_to_the_earnings_page(
    payroll: Payroll, standin: StripeStandin
) -> None:
    await ok(await (await payroll.teacher_client()).post(ONBOARDING), 201)
    base = make_settings("postgresql://unused", **payroll.settings).base_url
    # The link's parameters as Stripe received them (its answer carries them back).
    links = [r for r in standin._idempotent.values() if r.body.get("object") == "account_link"]
    assert len(links) == 1
    assert links[0].body["refresh_url"] == f"{base}/teach/earnings?onboarding=refresh"
    assert links[0].body["return_url"] == f"{base}/teach/earnings?onboarding=done"


async def test_account_updated_stores_what_stripe_says_now(
    payroll: Payroll, standin: StripeStandin
) -> None:
    teacher = await payroll.teacher_client()
    await ok(await teacher.post(ONBOARDING), 201)
    account_id = await payroll.account_id()
    # A forged or stale snapshot claiming more is not believed: the account is fetched.
    snapshot = {**standin.objects[account_id], "payouts_enabled": True, "details_submitted": True}
    ack = await payroll.send("account.updated", snapshot)
    assert ack["handled"] is True
    overview = await ok(await teacher.get(OVERVIEW))
    assert overview["account"] == {"payouts_enabled": False, "details_submitted": False}
    old = standin.event("account.updated", standin.objects[account_id])
    standin.complete_onboarding(account_id)
    await payroll.send("account.updated", standin.objects[account_id])
    # The older event arriving late re-reads Stripe too: still enabled.
    body, signature = standin.signed(old, WEBHOOK_SECRET)
    await payroll.stripe.post(
        WEBHOOK,
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    overview = await ok(await teacher.get(OVERVIEW))
    assert overview["account"] == {"payouts_enabled": True, "details_submitted": True}
    # An account Seminar did not make is acknowledged and ignored (nothing fetched).
    before = len(standin.requests)
    await payroll.send("account.updated", {"id": "acct_foreign", "object": "account"})
    assert len(standin.requests) == before


async def test_who_may_onboard(
    make_client: ClientFactory, database: Database, standin: StripeStandin, payroll: Payroll
) -> None:
    student_id = (await persona(make_client, database, "student")).id
    student = await payroll.client("student@example.com")
    await problem(await student.post(ONBOARDING), 403, "instructor_required")
    assert standin.of_type("account") == []
    # Owning a course is enough, whatever the role.
    await new_course(database, student_id)
    await ok(await student.post(ONBOARDING), 201)
    # Everyone reads their own overview.
    overview = await ok(await student.get(OVERVIEW))
    assert overview["account"] == {"payouts_enabled": False, "details_submitted": False}
    assert overview["balances"] == []
    anonymous = await make_client(**payroll.settings)
    await problem(await anonymous.post(ONBOARDING), 401)
    await problem(await anonymous.get(OVERVIEW), 401)


async def test_without_connect_or_stripe_onboarding_and_runs_are_503(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    no_connect = stripe_settings(standin)
    teacher = await make_client(**no_connect)
    await login(teacher, "teacher@example.com")
    await problem(await teacher.post(ONBOARDING), 503, "connect_not_configured")
    overview = await ok(await teacher.get(OVERVIEW))
    assert overview == {"connect_enabled": False, "account": None, "balances": [], "transfers": []}
    admin_client = await make_client(**no_connect)
    await login(admin_client, "admin@example.com")
    await problem(await admin_client.post(RUN), 503, "connect_not_configured")
    # Without Stripe at all the run is refused the same way; onboarding names the settings.
    await problem(await admin.client.post(RUN), 503, "connect_not_configured")
    bare = await make_client(stripe_connect=True)
    await login(bare, "teacher@example.com")
    await problem(await bare.post(ONBOARDING), 503, "payments_not_configured")
    assert (await ok(await bare.get(OVERVIEW)))["connect_enabled"] is False
    assert standin.of_type("account") == []
    async with database.sessions() as s:
        assert await _payout_runs(s) == 0


# -- the run, through the queue ----------------------------------------------------------------


async def test_an_admin_run_pays_the_available_balance_and_the_reports_follow(
    make_client: ClientFactory, database: Database, standin: StripeStandin, payroll: Payroll
) -> None:
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    admin_client = await payroll.client("admin@example.com")
    teacher = await payroll.teacher_client()
    account_id = await payroll.onboard(teacher)
    await payroll.sell(4900)
    await payroll.age_sales(15)
    await payroll.sell(2900)  # inside the 14-day hold
    overview = await ok(await teacher.get(OVERVIEW))
    assert overview["balances"] == [
        {
            "currency": "EUR",
            "available_cents": share(4900),
            "held_cents": share(2900),
            "paid_out_cents": 0,
        }
    ]
    await problem(await teacher.post(RUN), 403, "admin_required")
    assert await ok(await admin_client.post(RUN), 202) == {"queued": True}
    assert await ok(await admin_client.post(RUN), 202) == {"queued": True}
    async with database.sessions() as s:  # one queued run, however often it is asked for
        assert await _payout_runs(s) == 1
    assert await payroll.run_jobs() == 1

    [transfer] = standin.transfers_to(account_id)
    [payout] = await payroll.payouts()
    assert (transfer["amount"], transfer["currency"]) == (share(4900), "eur")
    assert transfer["transfer_group"] == f"payout:{payout.id}"
    assert transfer["metadata"]["payout_id"] == str(payout.id)
    assert (payout.status, payout.stripe_transfer_id) == (PayoutStatus.PAID, transfer["id"])
    keys = [k for m, p, k in standin.requests if m == "POST" and p == "/v1/transfers"]
    assert keys == [f"seminar:payout:{payout.id}"]
    overview = await ok(await teacher.get(OVERVIEW))
    assert overview["balances"] == [
        {
            "currency": "EUR",
            "available_cents": 0,
            "held_cents": share(2900),
            "paid_out_cents": share(4900),
        }
    ]
    assert [
        (t["id"], t["amount_cents"], t["currency"], t["status"]) for t in overview["transfers"]
    ] == [(str(payout.id), share(4900), "EUR", "paid")]
    # The payables report is what is still owed: the held sale only.
    payables = await ok(await admin.client.get("/api/v1/admin/payables"))
    assert [(r["instructor_id"], r["currency"], r["balance_cents"]) for r in payables["items"]] == [
        (str(payroll.teacher.id), "EUR", share(2900))
    ]
    assert await unbalanced_transactions(database) == []
    # Running again pays nothing more.
    await ok(await admin_client.post(RUN), 202)
    await payroll.run_jobs()
    assert len(standin.transfers_to(account_id)) == 1


async def test_a_reversed_transfer_is_owed_again(payroll: Payroll, standin: StripeStandin) -> None:
    from lms_core.payouts.transfers import PayoutPolicy, run_payouts
    from server.jobs import open_connect

    account_id = await payroll.onboard()
    await payroll.sell(4900)
    policy = PayoutPolicy(hold=timedelta(0), minimum_cents=1000)
    async with open_connect(make_settings("postgresql://unused", **payroll.settings)) as gateway:
        assert gateway is not None
        await run_payouts(payroll.database.sessions, gateway, policy)
    [transfer] = standin.transfers_to(account_id)
    owed = ledger.instructor_account(payroll.teacher.id)
    paid = ledger.instructor_paid_account(payroll.teacher.id)
    assert (await payroll.balance(owed), await payroll.balance(paid)) == (0, share(4900))

    standin.reverse_transfer(transfer["id"], 1000)
    await payroll.send("transfer.reversed", standin.objects[transfer["id"]])
    [payout] = await payroll.payouts()
    assert (payout.status, payout.reversed_cents) == (PayoutStatus.PAID, 1000)
    assert await payroll.balance(owed) == 1000
    stale = standin.event("transfer.reversed", standin.objects[transfer["id"]])
    standin.reverse_transfer(transfer["id"])
    await payroll.send("transfer.reversed", standin.objects[transfer["id"]])
    await payroll.send("transfer.reversed", standin.objects[transfer["id"]])
    body, signature = standin.signed(stale, WEBHOOK_SECRET)
    await payroll.stripe.post(
        WEBHOOK,
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    [payout] = await payroll.payouts()
    assert (payout.status, payout.reversed_cents) == (PayoutStatus.REVERSED, share(4900))
    assert (await payroll.balance(owed), await payroll.balance(paid)) == (share(4900), 0)
    async with payroll.database.sessions() as s:
        reversals = await s.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "payout_reversal")
        )
    assert reversals == 2
    assert await unbalanced_transactions(payroll.database) == []
    # Owed again, so the next run pays it again (a new payout, a new transfer).
    async with open_connect(make_settings("postgresql://unused", **payroll.settings)) as gateway:
        assert gateway is not None
        await run_payouts(payroll.database.sessions, gateway, policy)
    assert [t["amount"] for t in standin.transfers_to(account_id)] == [share(4900)] * 2


async def test_the_ledger_check_allows_the_payout_kinds(payroll: Payroll) -> None:
    """The migration's constraint and the model agree on the new kinds (a raw insert)."""
    async with payroll.database.sessions() as s:
        for kind in ("payout", "payout_reversal"):
            await s.execute(
                text(
                    "INSERT INTO ledger_transactions (id, order_id, kind, source, currency, "
                    "created_at) VALUES (:id, NULL, :kind, :source, 'EUR', now())"
                ),
                {"id": uuid.uuid4(), "kind": kind, "source": f"check:{kind}"},
            )
        await s.rollback()
