"""Promotion codes (Stripe coupons): a course's owner makes them for the course, an admin for
every course; buyers type them on Stripe's checkout page (thin handlers over
lms_core.payments.promotions). Making or stopping a code calls Stripe (503 without it);
listing does not."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from lms_core.payments import promotions, schemas
from server.api.framework import Call, Empty, Router
from server.api.paths import CoursePath
from server.api.payments import require_payments

router = Router(tags=("payments",))


class CourseCodePath(BaseModel):
    course_id: uuid.UUID
    code_id: uuid.UUID


class CodePath(BaseModel):
    code_id: uuid.UUID


@router.route(
    "POST",
    "/courses/{course_id}/promotion-codes",
    summary="Make a promotion code for one course (its owner or an admin)",
    body=schemas.PromotionCodeIn,
    path_params=CoursePath,
    response=schemas.PromotionCodeOut,
    status=201,
    errors=(401, 403, 404, 409, 422, 503),
)
async def create_course_code(
    call: Call[schemas.PromotionCodeIn, Empty, CoursePath],
) -> schemas.PromotionCodeOut:
    gateway = require_payments(call.request).gateway
    return await promotions.create_for_course(
        call.db, gateway, call.actor, call.path.course_id, call.body
    )


@router.route(
    "GET",
    "/courses/{course_id}/promotion-codes",
    summary="A course's promotion codes, with how often each was redeemed (owner or admin)",
    path_params=CoursePath,
    response=schemas.PromotionCodeList,
    errors=(401, 403, 404, 422),
)
async def course_codes(call: Call[Empty, Empty, CoursePath]) -> schemas.PromotionCodeList:
    return await promotions.list_for_course(call.db, call.actor, call.path.course_id)


@router.route(
    "DELETE",
    "/courses/{course_id}/promotion-codes/{code_id}",
    summary="Stop a course's promotion code (idempotent; orders keep it)",
    path_params=CourseCodePath,
    status=204,
    errors=(401, 403, 404, 422, 503),
)
async def stop_course_code(call: Call[Empty, Empty, CourseCodePath]) -> None:
    gateway = require_payments(call.request).gateway
    await promotions.deactivate(
        call.db, gateway, call.actor, call.path.course_id, call.path.code_id
    )


@router.route(
    "POST",
    "/admin/promotion-codes",
    summary="Make a promotion code valid for every course (admins only)",
    body=schemas.PromotionCodeIn,
    response=schemas.PromotionCodeOut,
    status=201,
    errors=(401, 403, 409, 422, 503),
)
async def create_platform_code(
    call: Call[schemas.PromotionCodeIn, Empty, Empty],
) -> schemas.PromotionCodeOut:
    gateway = require_payments(call.request).gateway
    return await promotions.create_for_platform(call.db, gateway, call.actor, call.body)


@router.route(
    "GET",
    "/admin/promotion-codes",
    summary="The promotion codes valid for every course (admins only)",
    response=schemas.PromotionCodeList,
    errors=(401, 403),
)
async def platform_codes(call: Call[Empty, Empty, Empty]) -> schemas.PromotionCodeList:
    return await promotions.list_for_platform(call.db, call.actor)


@router.route(
    "DELETE",
    "/admin/promotion-codes/{code_id}",
    summary="Stop a promotion code valid for every course (admins only; idempotent)",
    path_params=CodePath,
    status=204,
    errors=(401, 403, 404, 422, 503),
)
async def stop_platform_code(call: Call[Empty, Empty, CodePath]) -> None:
    gateway = require_payments(call.request).gateway
    await promotions.deactivate(call.db, gateway, call.actor, None, call.path.code_id)
