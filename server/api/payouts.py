"""Instructor payouts: Stripe Connect Express onboarding and scheduled transfers (thin handlers
over lms_core.payouts).

Connect is on with ``SEMINAR_STRIPE_CONNECT=true`` (and Stripe configured). The Stripe client is
the payments one (``PAYMENTS``). Without Connect, the overview still answers (balances from the
ledger, ``connect_enabled: false``) and instructors are paid from ``GET /admin/payables``:
administrators record each bank transfer they make (``POST
/admin/instructors/{user_id}/payouts``, lms_core.payouts.manual), which nets it from the report.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from lms_core.clock import utcnow
from lms_core.errors import DomainError
from lms_core.payments.errors import PaymentsNotConfigured
from lms_core.payouts import manual, schemas, service
from lms_core.payouts.gateway import ConnectGateway
from server.api.framework import Call, Empty, Router, model_response
from server.api.payments import PAYMENTS, UserPath
from server.problems import answer_keeping_writes
from server.state import SETTINGS

router = Router(tags=("payouts",))


def _connect_enabled(request: web.Request) -> bool:
    payments = request.app.get(PAYMENTS)
    return payments is not None and payments.config.connect_enabled


def _gateway(request: web.Request) -> ConnectGateway:
    payments = request.app.get(PAYMENTS)
    if payments is None:
        raise PaymentsNotConfigured(request.app[SETTINGS].missing_payment_settings)
    return ConnectGateway(payments.gateway.client)


@router.route(
    "GET",
    "/me/payouts",
    summary="The caller's payout account, balances (available, held, paid out) and transfers",
    response=schemas.PayoutsOverview,
    errors=(401,),
)
async def my_payouts(call: Call[Empty, Empty, Empty]) -> schemas.PayoutsOverview:
    return await service.overview(
        call.db,
        call.actor,
        connect_enabled=_connect_enabled(call.request),
        hold=timedelta(days=call.request.app[SETTINGS].payout_hold_days),
        now=utcnow(),
    )


@router.route(
    "POST",
    "/me/payouts/onboarding",
    summary="A Stripe Connect onboarding link (the Express account is made once; instructors)",
    response=schemas.OnboardingOut,
    status=201,
    errors=(401, 403, 503),
)
async def payout_onboarding(call: Call[Empty, Empty, Empty]) -> web.StreamResponse:
    await service.require_payee(call.db, call.actor)
    gateway = _gateway(call.request)
    account_id = await service.payout_account(
        call.db, gateway, call.actor, connect_enabled=_connect_enabled(call.request)
    )
    base_url = call.request.app[SETTINGS].base_url
    try:
        url = await service.onboarding_link(gateway, account_id, base_url=base_url)
    except DomainError as error:
        # Stripe made the account: keep its row even though there is no link this time, so a
        # retry (perhaps after Stripe forgot the idempotency key, 24 h) makes no second one.
        return answer_keeping_writes(call.request, error)
    return model_response(schemas.OnboardingOut(url=url), 201)


@router.route(
    "POST",
    "/admin/payouts/run",
    summary="Queue a payout run now (admins; Stripe Connect must be on)",
    response=schemas.RunQueued,
    status=202,
    errors=(401, 403, 503),
)
async def run_payouts(call: Call[Empty, Empty, Empty]) -> schemas.RunQueued:
    await service.queue_run(call.db, call.actor, connect_enabled=_connect_enabled(call.request))
    return schemas.RunQueued(queued=True)


@router.route(
    "POST",
    "/admin/instructors/{user_id}/payouts",
    summary="Record a payout made outside Stripe (a bank transfer; admins, Connect off). A "
    "retry with the same Idempotency-Key answers the first payout (200) instead of recording "
    "another",
    body=schemas.ManualPayoutIn,
    path_params=UserPath,
    response=schemas.PayoutOut,
    status=201,
    also=(200,),
    errors=(401, 403, 404, 409, 422),
    idempotent=True,
)
async def record_payout(
    call: Call[schemas.ManualPayoutIn, Empty, UserPath],
) -> web.Response:
    recorded = await manual.record_manual_payout(
        call.db,
        call.actor,
        call.path.user_id,
        call.body,
        connect_enabled=_connect_enabled(call.request),
        idempotency_key=call.idempotency_key,
    )
    out = schemas.PayoutOut.model_validate(recorded.payout)
    return model_response(out, 201 if recorded.created else 200)


@router.route(
    "GET",
    "/admin/instructors/{user_id}/payouts",
    summary="One user's payouts, Connect transfers and recorded bank transfers, newest first "
    "(admins)",
    path_params=UserPath,
    response=schemas.PayoutList,
    errors=(401, 403, 404, 422),
)
async def instructor_payouts(call: Call[Empty, Empty, UserPath]) -> schemas.PayoutList:
    payouts = await manual.payouts_of(call.db, call.actor, call.path.user_id)
    return schemas.PayoutList(items=[schemas.PayoutOut.model_validate(p) for p in payouts])
