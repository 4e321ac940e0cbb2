"""The platform plan's invoices in the revenue ledger (see lms_core.payments.ledger).

Subscription revenue is the platform's: instructors are paid for course sales (a pool shared
by usage is future work). An invoice paid ``A`` with Stripe fee ``F`` (the balance transactions
of its charges) posts, once, as ``subscription_payment:<invoice>``::

    customer:<user>     -A
    stripe_fees         +F
    platform_revenue    +(A - F)

Each increase of what Stripe refunded of the invoice's charges, to ``R1``, posts
``subscription_refund:<invoice>:<R1>``: ``customer +step``, ``platform_revenue -step``, Stripe
keeping its fee, exactly like an order's refund. A 0 invoice (a trial, a 100 % coupon) moved no
money and posts nothing.

Everything is read from Stripe's API (the invoice with its payments, each payment's intent with
its charge and balance transaction), never from a webhook's snapshot, and everything is done
with the subscription row locked (``FOR UPDATE``, by :func:`service.sync`): concurrent events
about one invoice take turns, and the unique sources make repeats no-ops.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.payments import ledger
from lms_core.payments.errors import PaymentProviderError
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction, Order
from lms_core.payments.references import parse_uuid, stripe_id
from lms_core.subscriptions import service
from lms_core.subscriptions.gateway import SubscriptionGateway
from lms_core.subscriptions.models import Subscription

log = logging.getLogger(__name__)


def payment_source(invoice_id: str) -> str:
    return f"subscription_payment:{invoice_id}"


def refund_source(invoice_id: str, refunded_total: int) -> str:
    return f"subscription_refund:{invoice_id}:{refunded_total}"


def payment_entries(user_id: uuid.UUID, amount: int, fee: int) -> ledger.Entries:
    return [
        (ledger.customer_account(user_id), -amount),
        (ledger.STRIPE_FEES, fee),
        (ledger.PLATFORM_REVENUE, amount - fee),
    ]


def refund_entries(user_id: uuid.UUID, step: int) -> ledger.Entries:
    return [(ledger.customer_account(user_id), step), (ledger.PLATFORM_REVENUE, -step)]


@dataclass(frozen=True, slots=True)
class Charges:
    """What Stripe says now about the charges that paid an invoice."""

    fee: int
    refunded: int


def _fee(charge: Any) -> int:
    txn = charge.get("balance_transaction")
    return int(txn.get("fee") or 0) if isinstance(txn, dict) else 0


async def _charges(gateway: SubscriptionGateway, invoice: dict[str, Any]) -> Charges:
    fee = refunded = 0
    for payment in (invoice.get("payments") or {}).get("data") or []:
        if payment.get("status") != "paid":
            continue
        paid_by = payment.get("payment") or {}
        intent_id = stripe_id(paid_by.get("payment_intent"))
        charge_id = stripe_id(paid_by.get("charge"))
        if intent_id:
            intent = (await gateway.intent_with_charge(intent_id)).to_dict()
            charge = intent.get("latest_charge")
        elif charge_id:
            charge = (await gateway.charge_with_fee(charge_id)).to_dict()
        else:
            continue  # paid outside Stripe's payments (a payment record): no charge, no fee
        if not isinstance(charge, dict):
            raise PaymentProviderError("Stripe's paid invoice came without its charge.")
        fee += _fee(charge)
        refunded += int(charge.get("amount_refunded") or 0)
    return Charges(fee=fee, refunded=refunded)


async def refunded_so_far(session: AsyncSession, invoice_id: str) -> int:
    """What the ledger already gave back of the invoice (its refund steps' customer entries)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.kind == LedgerKind.SUBSCRIPTION_REFUND,
            LedgerTransaction.source.startswith(
                f"subscription_refund:{invoice_id}:", autoescape=True
            ),
            LedgerEntry.account.startswith("customer:"),
        )
    )
    return int(total or 0)


async def post_invoice(
    session: AsyncSession, gateway: SubscriptionGateway, invoice_id: str
) -> Subscription | None:
    """Post a subscription invoice's payment and its refunds as Stripe reports them now; the
    subscription, or None when the invoice is not a paid invoice of a Seminar subscriber's
    subscription (acknowledged and ignored)."""
    invoice = (await gateway.invoice(invoice_id)).to_dict()
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription_id = stripe_id(details.get("subscription"))
    if invoice.get("status") != "paid" or not subscription_id:
        return None
    hint = parse_uuid((details.get("metadata") or {}).get("user_id"))
    # The invoice may come before the subscription's own events: syncing makes (and locks) it.
    row = await service.sync(session, gateway, subscription_id, hint)
    if row is None:
        log.info("invoice of no seminar user", extra={"invoice": invoice_id})
        return None
    amount = int(invoice.get("amount_paid") or 0)
    if amount <= 0:
        return row  # a trial or a 100 % coupon: no money moved
    currency = str(invoice.get("currency") or "").upper()  # as orders and payouts store it
    charges = await _charges(gateway, invoice)
    await ledger.post_transaction(
        session,
        LedgerKind.SUBSCRIPTION_PAYMENT,
        payment_source(invoice_id),
        payment_entries(row.user_id, amount, charges.fee),
        currency=currency,
        subscription_id=row.id,
    )
    before = await refunded_so_far(session, invoice_id)
    after = min(charges.refunded, amount)
    if after > before:
        await ledger.post_transaction(
            session,
            LedgerKind.SUBSCRIPTION_REFUND,
            refund_source(invoice_id, after),
            refund_entries(row.user_id, after - before),
            currency=currency,
            subscription_id=row.id,
        )
    return row


async def post_refunded_charge(
    session: AsyncSession, gateway: SubscriptionGateway, charge_id: str, intent_id: str | None
) -> None:
    """A refunded charge: if it paid a subscription invoice, bring that invoice's refunds to
    Stripe's (posting the payment first if its ``invoice.paid`` has not arrived yet). A course
    order's charge is left to lms_core.payments.order_events."""
    for column, value in (
        (Order.stripe_charge_id, charge_id),
        (Order.stripe_payment_intent_id, intent_id),
    ):
        if value and await session.scalar(select(Order.id).where(column == value).limit(1)):
            return
    if not intent_id:
        intent_id = stripe_id(
            (await gateway.charge_with_fee(charge_id)).to_dict().get("payment_intent")
        )
    if not intent_id:
        return
    for invoice_id in await gateway.invoices_paid_by(intent_id):
        await post_invoice(session, gateway, invoice_id)
