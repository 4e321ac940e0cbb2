"""Administration of users (admins only; the service layer checks the role)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from lms_core.accounts import admin, schemas
from server.api.framework import Call, Empty, Router

router = Router(tags=("admin",))


class UserPath(BaseModel):
    user_id: uuid.UUID


@router.route(
    "GET",
    "/admin/users",
    summary="Search users",
    query=schemas.UserSearchQuery,
    response=schemas.UserPage,
    errors=(401, 403, 422),
)
async def search_users(call: Call[Empty, schemas.UserSearchQuery, Empty]) -> schemas.UserPage:
    users, cursor = await admin.search_users(call.db, call.actor, call.query)
    return schemas.UserPage(
        items=[schemas.AdminUserOut.model_validate(u) for u in users], next_cursor=cursor
    )


@router.route(
    "GET",
    "/admin/users/{user_id}",
    summary="One user",
    path_params=UserPath,
    response=schemas.AdminUserOut,
    errors=(401, 403, 404, 422),
)
async def get_user(call: Call[Empty, Empty, UserPath]) -> schemas.AdminUserOut:
    user = await admin.get_user(call.db, call.actor, call.path.user_id)
    return schemas.AdminUserOut.model_validate(user)


@router.route(
    "PUT",
    "/admin/users/{user_id}/role",
    summary="Change a user's role",
    body=schemas.RoleChangeIn,
    path_params=UserPath,
    response=schemas.AdminUserOut,
    errors=(401, 403, 404, 409, 422),
)
async def change_role(call: Call[schemas.RoleChangeIn, Empty, UserPath]) -> schemas.AdminUserOut:
    user = await admin.change_role(call.db, call.actor, call.path.user_id, call.body.role)
    return schemas.AdminUserOut.model_validate(user)


@router.route(
    "POST",
    "/admin/users/{user_id}/deactivate",
    summary="Deactivate a user (ends their sessions and tokens)",
    path_params=UserPath,
    response=schemas.AdminUserOut,
    errors=(401, 403, 404, 409, 422),
)
async def deactivate_user(call: Call[Empty, Empty, UserPath]) -> schemas.AdminUserOut:
    user = await admin.set_active(call.db, call.actor, call.path.user_id, active=False)
    return schemas.AdminUserOut.model_validate(user)


@router.route(
    "POST",
    "/admin/users/{user_id}/activate",
    summary="Reactivate a user",
    path_params=UserPath,
    response=schemas.AdminUserOut,
    errors=(401, 403, 404, 422),
)
async def activate_user(call: Call[Empty, Empty, UserPath]) -> schemas.AdminUserOut:
    user = await admin.set_active(call.db, call.actor, call.path.user_id, active=True)
    return schemas.AdminUserOut.model_validate(user)
