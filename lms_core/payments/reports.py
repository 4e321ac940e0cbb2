"""Revenue reports read from the ledger: an instructor's earnings by course and month, and the
platform's revenue by month (admins; course sales and the platform plan's invoices). Months are
UTC calendar months of the ledger postings, so a refund counts in the month it happened, not
the month of the sale."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.admin import require_admin
from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.courses.models import Course
from lms_core.payments import ledger, schemas
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction, Order
from lms_core.spreadsheet import defuse


def _month() -> ColumnElement[str]:
    return func.to_char(func.timezone("UTC", LedgerTransaction.created_at), "YYYY-MM")


def _sum_if(condition: ColumnElement[bool], value: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


async def instructor_earnings(session: AsyncSession, actor: Actor) -> list[schemas.EarningsRow]:
    """The caller's share of their courses' sales, newest month first."""
    month = _month().label("month")
    payment = LedgerTransaction.kind == LedgerKind.PAYMENT
    stmt = (
        select(
            Order.course_id,
            Course.title,
            month,
            Order.currency,
            func.count(distinct(case((payment, Order.id)))).label("sales"),
            _sum_if(payment, LedgerEntry.amount_cents).label("earned"),
            _sum_if(~payment, -LedgerEntry.amount_cents).label("reversed"),
        )
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(Order, Order.id == LedgerTransaction.order_id)
        .join(Course, Course.id == Order.course_id)
        .where(LedgerEntry.account == ledger.instructor_account(actor.id))
        .group_by(Order.course_id, Course.title, month, Order.currency)
        .order_by(month.desc(), Course.title, Order.currency)
    )
    return [
        schemas.EarningsRow(
            course_id=course_id,
            course_title=title,
            month=m,
            currency=currency,
            sales=sales,
            earned_cents=earned,
            reversed_cents=reversed_,
            net_cents=earned - reversed_,
        )
        for course_id, title, m, currency, sales, earned, reversed_ in (
            await session.execute(stmt)
        ).all()
    ]


SALES = (LedgerKind.PAYMENT, LedgerKind.SUBSCRIPTION_PAYMENT)
SALE_KINDS = (*SALES, LedgerKind.REFUND, LedgerKind.SUBSCRIPTION_REFUND)  # not payouts


async def platform_revenue(session: AsyncSession, actor: Actor) -> list[schemas.RevenueRow]:
    """Every sale and subscription invoice by month and currency: what buyers paid and got
    back, Stripe's fees, the platform's share and what is owed to instructors, with the
    subscriptions' part of each (admins only). Payouts only move what instructors are owed to
    what they were paid, so they are left out."""
    require_admin(actor)
    month = _month().label("month")
    account = LedgerEntry.account
    amount = LedgerEntry.amount_cents
    kind = LedgerTransaction.kind
    payment = kind.in_(SALES)
    plan = LedgerTransaction.subscription_id.is_not(None)
    customer = account.startswith("customer:")
    fees = account == ledger.STRIPE_FEES
    platform = account == ledger.PLATFORM_REVENUE
    currency = LedgerTransaction.currency
    stmt = (
        select(
            month,
            currency,
            func.count(distinct(case((payment, LedgerTransaction.id)))).label("sales"),
            _sum_if(customer & payment, -amount).label("gross"),
            _sum_if(customer & ~payment, amount).label("refunded"),
            _sum_if(fees, amount).label("fees"),
            _sum_if(platform, amount).label("platform"),
            _sum_if(account.startswith("instructor_payable:"), amount).label("instructors"),
            func.count(distinct(case((payment & plan, LedgerTransaction.id)))).label("plans"),
            _sum_if(plan & customer & payment, -amount).label("plan_gross"),
            _sum_if(plan & customer & ~payment, amount).label("plan_refunded"),
            _sum_if(plan & fees, amount).label("plan_fees"),
            _sum_if(plan & platform, amount).label("plan_platform"),
        )
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(kind.in_(SALE_KINDS))
        .group_by(month, currency)
        .order_by(month.desc(), currency)
    )
    return [
        schemas.RevenueRow(
            month=r.month,
            currency=r.currency,
            sales=r.sales,
            gross_cents=r.gross,
            refunded_cents=r.refunded,
            stripe_fees_cents=r.fees,
            platform_cents=r.platform,
            instructors_cents=r.instructors,
            subscription_payments=r.plans,
            subscription_gross_cents=r.plan_gross,
            subscription_refunded_cents=r.plan_refunded,
            subscription_stripe_fees_cents=r.plan_fees,
            subscription_platform_cents=r.plan_platform,
        )
        for r in (await session.execute(stmt)).all()
    ]


async def payables(session: AsyncSession, actor: Actor) -> list[schemas.PayableRow]:
    """What each instructor is owed, per currency (their ``instructor_payable`` balance: earned,
    less refunds, less what Connect payouts transferred), the largest first: the payout report
    while Stripe Connect is not set up (admins only). Payouts belong to no order, so this reads
    the transaction's currency."""
    require_admin(actor)
    prefix = "instructor_payable:"
    owner = func.substr(LedgerEntry.account, len(prefix) + 1)
    balance = func.sum(LedgerEntry.amount_cents).label("balance")
    stmt = (
        select(owner.label("owner"), LedgerTransaction.currency, balance)
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account.startswith(prefix))
        .group_by(owner, LedgerTransaction.currency)
        .having(func.sum(LedgerEntry.amount_cents) != 0)
        .order_by(balance.desc(), owner)
    )
    rows = (await session.execute(stmt)).all()
    ids = {r.owner for r in rows if r.owner != "unassigned"}
    users = {
        str(u.id): u
        for u in await session.scalars(select(User).where(User.id.in_([uuid.UUID(i) for i in ids])))
    }
    return [
        schemas.PayableRow(
            instructor_id=users[r.owner].id if r.owner in users else None,
            instructor_name=users[r.owner].name if r.owner in users else None,
            currency=r.currency,
            balance_cents=r.balance,
        )
        for r in rows
    ]


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    # Numbers stay numbers (a negative amount is not a formula); text that looks like one is
    # made text with a leading '.
    return defuse(text) if isinstance(value, str) else text


def to_csv(model: type[BaseModel], rows: Sequence[BaseModel]) -> str:
    """RFC 4180: a header of the model's fields, one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    fields = list(model.model_fields)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in fields])
    return buffer.getvalue()
