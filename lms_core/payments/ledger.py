"""Double-entry ledger: every payment and every refund step is one balanced transaction.

Accounts: ``customer:<user>`` (the buyer's cash), ``stripe_fees``, ``platform_revenue`` and
``instructor_payable:<user>``. Sign convention: positive = debit, negative = credit; the entries
of one transaction sum to zero.

A payment of ``A`` with Stripe fee ``F``: the net ``A - F`` is split, the platform taking
``platform_fee_percent`` of it (rounded half up) and the instructor the rest::

    customer            -A
    stripe_fees         +F
    platform_revenue    +platform
    instructor_payable  +instructor

A refund reverses the instructor's share in proportion (cumulatively, so partial refunds never
round to more than the whole share) and the platform the remainder; Stripe keeps its fee, which
the platform absorbs. Refunding everything thus leaves the instructor at 0 and the platform at
``-F``.

A payout (lms_core.payouts) moves what is owed to what was paid, in one currency and outside
any order; a reversal of the transfer moves it back::

    instructor_payable  -X
    instructor_paid     +X

so ``instructor_payable:<user>`` is always what is still owed (negative after a refund of a sale
already paid out: carried forward) and ``instructor_paid:<user>`` what was transferred.

The platform plan's invoices (lms_core.subscriptions.accounting) are the platform's alone: an
invoice paid ``A`` with fee ``F`` posts ``customer -A, stripe_fees +F, platform_revenue
+(A - F)``, and its refund steps ``customer +step, platform_revenue -step``.

Each transaction has a unique ``source`` (``payment:<order>``, ``refund:<order>:<total
refunded>``, ``payout:<payout>``, ``subscription_payment:<invoice>``,
``subscription_refund:<invoice>:<total refunded>``): posting the same one twice is a no-op,
whatever the order or the number of times an event arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction, Order

STRIPE_FEES = "stripe_fees"
PLATFORM_REVENUE = "platform_revenue"

Entries = list[tuple[str, int]]


def customer_account(user_id: uuid.UUID) -> str:
    return f"customer:{user_id}"


def instructor_account(user_id: uuid.UUID | None) -> str:
    return f"instructor_payable:{user_id if user_id is not None else 'unassigned'}"


def instructor_paid_account(user_id: uuid.UUID) -> str:
    return f"instructor_paid:{user_id}"


def split(amount: int, fee: int, percent: float) -> tuple[int, int]:
    """(platform, instructor) shares of ``amount`` after Stripe's ``fee``."""
    net = amount - fee
    platform = int((Decimal(net) * Decimal(str(percent)) / 100).quantize(0, ROUND_HALF_UP))
    return platform, net - platform


def payment_entries(order: Order) -> Entries:
    fee = order.stripe_fee_cents or 0
    platform, instructor = split(order.amount_cents, fee, order.platform_fee_percent)
    return [
        (customer_account(order.user_id), -order.amount_cents),
        (STRIPE_FEES, fee),
        (PLATFORM_REVENUE, platform),
        (instructor_account(order.payee_id), instructor),
    ]


def refund_entries(order: Order, refunded_before: int, refunded_after: int) -> Entries:
    fee = order.stripe_fee_cents or 0
    _, instructor = split(order.amount_cents, fee, order.platform_fee_percent)
    amount = order.amount_cents
    instructor_part = instructor * refunded_after // amount - instructor * refunded_before // amount
    step = refunded_after - refunded_before
    return [
        (customer_account(order.user_id), step),
        (PLATFORM_REVENUE, -(step - instructor_part)),
        (instructor_account(order.payee_id), -instructor_part),
    ]


async def post(
    session: AsyncSession,
    order: Order,
    kind: LedgerKind,
    source: str,
    entries: Sequence[tuple[str, int]],
) -> bool:
    """Record one balanced transaction; False (and nothing written) if ``source`` is posted."""
    return await post_transaction(
        session, kind, source, entries, currency=order.currency, order_id=order.id
    )


async def post_transaction(
    session: AsyncSession,
    kind: LedgerKind,
    source: str,
    entries: Sequence[tuple[str, int]],
    *,
    currency: str,
    order_id: uuid.UUID | None = None,
    subscription_id: uuid.UUID | None = None,
) -> bool:
    """:func:`post` for a transaction that need not belong to an order (a payout, or a
    subscription invoice's payment or refund, which names its subscription)."""
    if sum(amount for _, amount in entries) != 0:
        raise ValueError(f"unbalanced ledger transaction {source}: {entries}")
    txn_id = await session.scalar(
        insert(LedgerTransaction)
        .values(
            id=uuid.uuid4(),
            order_id=order_id,
            subscription_id=subscription_id,
            kind=kind,
            source=source,
            currency=currency,
        )
        .on_conflict_do_nothing(index_elements=["source"])
        .returning(LedgerTransaction.id)
    )
    if txn_id is None:
        return False
    session.add_all(
        LedgerEntry(transaction_id=txn_id, account=account, amount_cents=amount)
        for account, amount in entries
        if amount != 0
    )
    await session.flush()
    return True


async def balances(session: AsyncSession, *, order_id: uuid.UUID | None = None) -> dict[str, int]:
    """Account -> balance (all orders, or one)."""
    stmt = select(LedgerEntry.account, LedgerEntry.amount_cents).join(
        LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id
    )
    if order_id is not None:
        stmt = stmt.where(LedgerTransaction.order_id == order_id)
    out: dict[str, int] = {}
    for account, amount in (await session.execute(stmt)).all():
        out[account] = out.get(account, 0) + amount
    return out
