"""The caller's own account: profile, password, personal access tokens."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from lms_core.accounts import access_tokens, schemas
from server.api.framework import Call, Empty, Router
from server.state import ACCOUNTS

router = Router(tags=("users",))


class TokenPath(BaseModel):
    token_id: uuid.UUID


class AccessTokenList(BaseModel):
    items: list[schemas.AccessTokenOut]


@router.route(
    "GET", "/users/me", summary="The authenticated user", response=schemas.UserOut, errors=(401,)
)
async def get_me(call: Call[Empty, Empty, Empty]) -> schemas.UserOut:
    return schemas.UserOut.model_validate(call.actor.user)


@router.route(
    "PATCH",
    "/users/me",
    summary="Update one's name or email",
    body=schemas.UserUpdateIn,
    response=schemas.UserOut,
    errors=(401, 409, 422),
)
async def update_me(call: Call[schemas.UserUpdateIn, Empty, Empty]) -> schemas.UserOut:
    user = await call.request.app[ACCOUNTS].update_profile(call.db, call.actor, call.body)
    return schemas.UserOut.model_validate(user)


@router.route(
    "POST",
    "/users/me/password",
    summary="Change one's password",
    body=schemas.PasswordChangeIn,
    status=204,
    errors=(401, 422),
)
async def change_password(call: Call[schemas.PasswordChangeIn, Empty, Empty]) -> None:
    await call.request.app[ACCOUNTS].change_password(call.db, call.actor, call.body)


@router.route(
    "GET",
    "/users/me/tokens",
    summary="List one's personal access tokens",
    response=AccessTokenList,
    errors=(401,),
)
async def list_tokens(call: Call[Empty, Empty, Empty]) -> AccessTokenList:
    rows = await access_tokens.list_for(call.db, call.actor)
    return AccessTokenList(items=[schemas.AccessTokenOut.model_validate(r) for r in rows])


@router.route(
    "POST",
    "/users/me/tokens",
    summary="Create a personal access token (shown once)",
    body=schemas.AccessTokenCreateIn,
    response=schemas.AccessTokenCreatedOut,
    status=201,
    errors=(401, 409, 422),
)
async def create_token(
    call: Call[schemas.AccessTokenCreateIn, Empty, Empty],
) -> schemas.AccessTokenCreatedOut:
    token, row = await access_tokens.create(call.db, call.actor, call.body)
    out = schemas.AccessTokenOut.model_validate(row)
    return schemas.AccessTokenCreatedOut(**out.model_dump(), token=token)


@router.route(
    "DELETE",
    "/users/me/tokens/{token_id}",
    summary="Revoke a personal access token",
    path_params=TokenPath,
    status=204,
    errors=(401, 404, 422),
)
async def revoke_token(call: Call[Empty, Empty, TokenPath]) -> None:
    await access_tokens.revoke(call.db, call.actor, call.path.token_id)
