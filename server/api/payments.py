"""Payments: checkout for paid courses, Stripe's webhook, the buyer's orders (thin handlers over
lms_core.payments).

The Stripe client is built once per application (``payments_context``) with the library's
aiohttp HTTP client, so no call blocks the event loop. Without ``SEMINAR_STRIPE_SECRET_KEY`` and
``SEMINAR_STRIPE_WEBHOOK_SECRET`` every payment endpoint answers 503 ``payments_not_configured``
naming them; free courses do not need any of this.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from lms_core.payments import errors, receipts, reports, schemas, service, webhooks
from lms_core.payments.context import Context
from lms_core.payments.gateway import PaymentsConfig, StripeGateway
from lms_core.storage.filenames import content_disposition
from server.api.framework import Call, Empty, Router
from server.api.paths import CoursePath
from server.settings import Settings
from server.state import MAILER, SETTINGS
from server.stripe_client import stripe_client

router = Router(tags=("payments",))


@dataclass(frozen=True, slots=True)
class Payments:
    gateway: StripeGateway
    config: PaymentsConfig


PAYMENTS = web.AppKey("payments", Payments)  # absent: payments are not configured


class UserPath(BaseModel):
    user_id: uuid.UUID


class OrderPath(BaseModel):
    order_id: uuid.UUID


DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


async def payments_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.missing_payment_settings:
        yield
        return
    assert settings.stripe_webhook_secret is not None
    async with stripe_client(settings) as client:
        app[PAYMENTS] = Payments(gateway=StripeGateway(client), config=payments_config(settings))
        yield


def payments_config(settings: Settings) -> PaymentsConfig:
    assert settings.stripe_webhook_secret is not None
    course_page = settings.base_url + "/courses/{course_id}"
    return PaymentsConfig(
        webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
        platform_fee_percent=settings.platform_fee_percent,
        refund_ends_enrollment=settings.refund_ends_enrollment,
        success_url=course_page + "?checkout=success",
        cancel_url=course_page + "?checkout=cancelled",
        subscription_prices={
            interval: price
            for interval, price in (
                ("month", settings.stripe_price_monthly),
                ("year", settings.stripe_price_yearly),
            )
            if price
        },
        base_url=settings.base_url,
        connect_enabled=settings.stripe_connect,
        connect_webhook_secret=(
            settings.stripe_connect_webhook_secret.get_secret_value()
            if settings.stripe_connect_webhook_secret
            else None
        ),
        payout_hold_days=settings.payout_hold_days,
        payout_minimum_cents=settings.payout_minimum_cents,
    )


def require_payments(request: web.Request) -> Payments:
    """The app's Stripe client and settings; 503 ``payments_not_configured`` without them."""
    payments = request.app.get(PAYMENTS)
    if payments is None:
        raise errors.PaymentsNotConfigured(request.app[SETTINGS].missing_payment_settings)
    return payments


@router.route(
    "POST",
    "/courses/{course_id}/checkout",
    summary="Start buying a paid course: a Stripe Checkout session (retry-safe)",
    path_params=CoursePath,
    response=schemas.CheckoutOut,
    status=201,
    errors=(401, 403, 404, 409, 422, 503),
)
async def checkout(call: Call[Empty, Empty, CoursePath]) -> schemas.CheckoutOut:
    payments = require_payments(call.request)
    started = await service.start_checkout(
        call.db, payments.gateway, payments.config, call.actor, call.path.course_id
    )
    return schemas.CheckoutOut(order_id=started.order.id, url=started.url)


@router.route(
    "POST",
    "/payments/stripe/webhook",
    summary="Stripe's webhook (signed with the endpoint secret; each event acts once)",
    response=schemas.WebhookAck,
    auth="public",
    errors=(400, 503),
)
async def stripe_webhook(call: Call[Empty, Empty, Empty]) -> schemas.WebhookAck:
    payments = require_payments(call.request)
    payload = await call.request.read()  # the raw bytes: the signature covers exactly these
    ctx = Context(call.db, payments.gateway, payments.config, call.request.app[MAILER])
    result = await webhooks.receive(ctx, payload, call.request.headers.get("Stripe-Signature"))
    return schemas.WebhookAck(
        event_id=result.event_id, duplicate=result.duplicate, handled=result.handled
    )


@router.route(
    "GET",
    "/me/orders",
    summary="The caller's orders, newest first",
    query=schemas.OrdersQuery,
    response=schemas.OrderPage,
    errors=(401, 422),
)
async def my_orders(call: Call[Empty, schemas.OrdersQuery, Empty]) -> schemas.OrderPage:
    rows, cursor = await service.my_orders(call.db, call.actor, call.query)
    return schemas.OrderPage(items=[service.order_out(o, c) for o, c in rows], next_cursor=cursor)


@router.route(
    "GET",
    "/me/orders/{order_id}/receipt",
    summary="The PDF receipt of one of the caller's paid orders",
    path_params=OrderPath,
    errors=(401, 404, 409, 422),
    download=True,
)
async def order_receipt(call: Call[Empty, Empty, OrderPath]) -> web.Response:
    content = await receipts.receipt_for(call.db, call.actor, call.path.order_id)
    pdf = await asyncio.to_thread(receipts.render_receipt, content)  # CPU work
    filename = f"receipt-{content.order_id}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(filename)},
    )


@router.route(
    "GET",
    "/me/earnings",
    summary="The caller's share of their courses' sales, by course and month (instructors)",
    response=schemas.EarningsReport,
    errors=(401,),
)
async def my_earnings(call: Call[Empty, Empty, Empty]) -> schemas.EarningsReport:
    return schemas.EarningsReport(items=await reports.instructor_earnings(call.db, call.actor))


@router.route(
    "GET",
    "/admin/revenue",
    summary="Sales, refunds, Stripe fees, the platform's and instructors' shares by month",
    response=schemas.RevenueReport,
    errors=(401, 403),
)
async def revenue(call: Call[Empty, Empty, Empty]) -> schemas.RevenueReport:
    return schemas.RevenueReport(items=await reports.platform_revenue(call.db, call.actor))


def _csv(text: str, filename: str) -> web.Response:
    return web.Response(
        body=text.encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(filename)},
    )


@router.route(
    "GET",
    "/me/earnings.csv",
    summary="The caller's earnings as CSV (RFC 4180; cells that would be formulas get a ')",
    errors=(401,),
    download=True,
)
async def my_earnings_csv(call: Call[Empty, Empty, Empty]) -> web.Response:
    rows = await reports.instructor_earnings(call.db, call.actor)
    return _csv(reports.to_csv(schemas.EarningsRow, rows), "earnings.csv")


@router.route(
    "GET",
    "/admin/revenue.csv",
    summary="The revenue report as CSV (admins only)",
    errors=(401, 403),
    download=True,
)
async def revenue_csv(call: Call[Empty, Empty, Empty]) -> web.Response:
    rows = await reports.platform_revenue(call.db, call.actor)
    return _csv(reports.to_csv(schemas.RevenueRow, rows), "revenue.csv")


@router.route(
    "GET",
    "/admin/payables.csv",
    summary="What each instructor is owed, as CSV (admins only)",
    errors=(401, 403),
    download=True,
)
async def payables_csv(call: Call[Empty, Empty, Empty]) -> web.Response:
    rows = await reports.payables(call.db, call.actor)
    return _csv(reports.to_csv(schemas.PayableRow, rows), "payables.csv")


@router.route(
    "GET",
    "/admin/payables",
    summary="What each instructor is owed, per currency (the payout report; admins only)",
    response=schemas.PayablesReport,
    errors=(401, 403),
)
async def payables(call: Call[Empty, Empty, Empty]) -> schemas.PayablesReport:
    return schemas.PayablesReport(items=await reports.payables(call.db, call.actor))


@router.route(
    "PUT",
    "/admin/instructors/{user_id}/platform-fee",
    summary="Set an instructor's own platform fee (their next sales; admins only)",
    body=schemas.InstructorFeeIn,
    path_params=UserPath,
    response=schemas.InstructorFeeOut,
    errors=(401, 403, 404, 422),
)
async def set_instructor_fee(
    call: Call[schemas.InstructorFeeIn, Empty, UserPath],
) -> schemas.InstructorFeeOut:
    rate = await service.set_instructor_fee(
        call.db, call.actor, call.path.user_id, call.body.platform_fee_percent
    )
    return schemas.InstructorFeeOut.model_validate(rate)


@router.route(
    "DELETE",
    "/admin/instructors/{user_id}/platform-fee",
    summary="Put an instructor back on the global platform fee (admins only)",
    path_params=UserPath,
    status=204,
    errors=(401, 403, 422),
)
async def clear_instructor_fee(call: Call[Empty, Empty, UserPath]) -> None:
    await service.clear_instructor_fee(call.db, call.actor, call.path.user_id)
