"""Two administrators recording bank transfers for one instructor at once, on real, separate
connections: the second waits for the first's transaction (the per-instructor lock) and reads
the balance again inside it, so together they never record more than was owed.

Uses a pooled engine whose commits are real, so the test deletes what it made."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.errors import DomainError
from lms_core.payments import ledger
from lms_core.payments.models import LedgerKind, LedgerTransaction
from lms_core.payouts.errors import PayoutExceedsBalance
from lms_core.payouts.manual import Recorded, record_manual_payout
from lms_core.payouts.models import Payout
from lms_core.payouts.schemas import ManualPayoutIn
from tests.factories import make_user

OWED = 4000


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest_asyncio.fixture
async def people(sessions: SessionFactory) -> AsyncIterator[tuple[uuid.UUID, list[Actor]]]:
    """An instructor owed OWED (EUR) and two administrators; all deleted after."""
    async with unit_of_work(sessions) as s:
        teacher = await make_user(s, role=Role.INSTRUCTOR)
        admins = [await make_user(s, role=Role.ADMIN) for _ in range(2)]
        await ledger.post_transaction(
            s,
            LedgerKind.PAYMENT,
            f"test-sale:{teacher.id}",
            [(f"customer:{uuid.uuid4()}", -OWED), (ledger.instructor_account(teacher.id), OWED)],
            currency="EUR",
        )
        ids = (teacher.id, [a.id for a in admins])
    actors = []
    for admin_id in ids[1]:
        async with sessions() as s:
            user = await s.get(User, admin_id)
            assert user is not None
            actors.append(Actor(user=user))
    try:
        yield ids[0], actors
    finally:
        async with unit_of_work(sessions) as s:
            payouts = list(await s.scalars(select(Payout.id).where(Payout.user_id == ids[0])))
            sources = [f"test-sale:{ids[0]}", *(f"payout:{p}" for p in payouts)]
            await s.execute(delete(LedgerTransaction).where(LedgerTransaction.source.in_(sources)))
            await s.execute(delete(Payout).where(Payout.user_id == ids[0]))
            await s.execute(delete(User).where(User.id.in_([ids[0], *ids[1]])))


def bank(amount: int, reference: str) -> ManualPayoutIn:
    return ManualPayoutIn(currency="EUR", amount_cents=amount, reference=reference)


async def record(
    sessions: SessionFactory, actor: Actor, teacher: uuid.UUID, amount: int, reference: str
) -> Recorded:
    async with unit_of_work(sessions) as s:
        return await record_manual_payout(
            s, actor, teacher, bank(amount, reference), connect_enabled=False, idempotency_key=None
        )


async def test_the_second_recording_waits_for_the_first_and_sees_its_payout(
    sessions: SessionFactory, people: tuple[uuid.UUID, list[Actor]]
) -> None:
    teacher, (first_admin, second_admin) = people
    amount = OWED * 3 // 4  # each alone fits; both together would overdraw
    async with unit_of_work(sessions) as first:  # the first recording, not yet committed
        await record_manual_payout(
            first,
            first_admin,
            teacher,
            bank(amount, "first"),
            connect_enabled=False,
            idempotency_key=None,
        )
        second = asyncio.create_task(record(sessions, second_admin, teacher, amount, "second"))
        await asyncio.sleep(0.5)
        assert not second.done(), "the second recording did not wait for the first"
    with pytest.raises(PayoutExceedsBalance) as refused:
        await second
    assert refused.value.extra == {"currency": "EUR", "balance_cents": OWED - amount}
    async with sessions() as s:
        made = list(await s.scalars(select(Payout.reference).where(Payout.user_id == teacher)))
        owed = (await ledger.balances(s)).get(ledger.instructor_account(teacher))
    assert made == ["first"]
    assert owed == OWED - amount


async def test_many_at_once_pay_out_exactly_what_was_owed(
    sessions: SessionFactory, people: tuple[uuid.UUID, list[Actor]]
) -> None:
    teacher, admins = people
    part = OWED // 4
    results = await asyncio.gather(
        *(
            record(sessions, admins[i % 2], teacher, part, f"bank-{i}")
            for i in range(6)  # 6 quarters of what is owed
        ),
        return_exceptions=True,
    )
    paid = [r for r in results if isinstance(r, Recorded)]
    refused = [r.code for r in results if isinstance(r, DomainError)]
    assert len(paid) == 4, results
    assert refused == ["nothing_owed"] * 2, results  # the first four paid everything
    async with sessions() as s:
        owed = (await ledger.balances(s)).get(ledger.instructor_account(teacher))
    assert owed == 0
