"""What the payouts API does: an instructor's overview, their onboarding link, an admin's run.

Who may open a payout account: users with the instructor or admin role, or anyone who owns a
course (the owner is who a sale's share is owed to). Everyone may read their own overview (it
is empty for those never owed anything).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.admin import require_admin
from lms_core.accounts.models import Role
from lms_core.accounts.sessions import Actor
from lms_core.courses.models import Course
from lms_core.payouts import schemas
from lms_core.payouts.balances import balances
from lms_core.payouts.errors import ConnectNotConfigured, NotAPayee
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.jobs import queue_now
from lms_core.payouts.models import Payout, PayoutAccount

RECENT_TRANSFERS = 100
# An account link is valid for minutes and used once: requests in the same minute share one
# (a retry after a timeout gets the link Stripe made), a later one gets a fresh link.
LINK_KEY_SECONDS = 60


async def overview(
    session: AsyncSession,
    actor: Actor,
    *,
    connect_enabled: bool,
    hold: timedelta,
    now: datetime,
) -> schemas.PayoutsOverview:
    account = await session.get(PayoutAccount, actor.id)
    transfers = await session.scalars(
        select(Payout)
        .where(Payout.user_id == actor.id)
        .order_by(Payout.created_at.desc(), Payout.id)
        .limit(RECENT_TRANSFERS)
    )
    return schemas.PayoutsOverview(
        connect_enabled=connect_enabled,
        account=(
            schemas.AccountOut(
                payouts_enabled=account.payouts_enabled,
                details_submitted=account.details_submitted,
            )
            if account is not None
            else None
        ),
        balances=[
            schemas.BalanceOut(
                currency=b.currency,
                available_cents=b.available_cents,
                held_cents=b.held_cents,
                paid_out_cents=b.paid_out_cents,
            )
            for b in await balances(session, actor.id, now=now, hold=hold)
        ],
        transfers=[
            schemas.TransferOut(
                id=p.id,
                amount_cents=p.amount_cents,
                currency=p.currency,
                status=p.status,
                created_at=p.created_at,
                method=p.method,
                reference=p.reference,
                paid_on=p.paid_on,
            )
            for p in transfers
        ],
    )


async def require_payee(session: AsyncSession, actor: Actor) -> None:
    if actor.user.role in (Role.INSTRUCTOR, Role.ADMIN):
        return
    if await session.scalar(select(exists().where(Course.owner_id == actor.id))):
        return
    raise NotAPayee()


async def payout_account(
    session: AsyncSession, gateway: ConnectGateway, actor: Actor, *, connect_enabled: bool
) -> str:
    """The caller's Express account id, made on the first call (a retry reuses Stripe's answer
    through the per-user idempotency key) and stored in the session's transaction."""
    await require_payee(session, actor)
    if not connect_enabled:
        raise ConnectNotConfigured()
    account_id = await session.scalar(
        select(PayoutAccount.stripe_account_id).where(PayoutAccount.user_id == actor.id)
    )
    if account_id is not None:
        return account_id
    account = await gateway.create_express_account(actor.id)
    stored = await session.scalar(
        insert(PayoutAccount)
        .values(
            user_id=actor.id,
            stripe_account_id=account.id,
            payouts_enabled=bool(account.payouts_enabled),
            details_submitted=bool(account.details_submitted),
        )
        .on_conflict_do_update(  # a concurrent first call stored it: keep that one
            index_elements=[PayoutAccount.user_id],
            set_={"user_id": PayoutAccount.user_id},
        )
        .returning(PayoutAccount.stripe_account_id)
    )
    return str(stored)


async def onboarding_link(gateway: ConnectGateway, account_id: str, *, base_url: str) -> str:
    """A fresh Stripe onboarding link for the account, back to the earnings page."""
    page = base_url.rstrip("/") + "/teach/earnings?onboarding="
    link = await gateway.onboarding_link(
        account_id,
        refresh_url=page + "refresh",
        return_url=page + "done",
        key=f"seminar:account-link:{account_id}:{int(time.time()) // LINK_KEY_SECONDS}",
    )
    return link.url


async def queue_run(session: AsyncSession, actor: Actor, *, connect_enabled: bool) -> None:
    require_admin(actor)
    if not connect_enabled:
        raise ConnectNotConfigured()
    await queue_now(session)
