"""Personal access tokens: create, list, revoke (resolution lives in sessions.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts import schemas
from lms_core.accounts.models import AccessToken
from lms_core.accounts.sessions import Actor
from lms_core.accounts.tokens import hash_token, new_access_token
from lms_core.clock import utcnow
from lms_core.errors import Conflict, NotFound

MAX_TOKENS_PER_USER = 50


async def create(
    session: AsyncSession, actor: Actor, data: schemas.AccessTokenCreateIn
) -> tuple[str, AccessToken]:
    if len(await list_for(session, actor)) >= MAX_TOKENS_PER_USER:
        raise Conflict(
            f"At most {MAX_TOKENS_PER_USER} active tokens; revoke one first.",
            code="too_many_tokens",
        )
    token = new_access_token()
    row = AccessToken(
        user_id=actor.id,
        name=data.name,
        token_hash=hash_token(token),
        prefix=token[:12],
        expires_at=(
            utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
        ),
    )
    session.add(row)
    await session.flush()
    return token, row


async def list_for(session: AsyncSession, actor: Actor) -> Sequence[AccessToken]:
    rows = await session.scalars(
        select(AccessToken)
        .where(AccessToken.user_id == actor.id, AccessToken.revoked_at.is_(None))
        .order_by(AccessToken.created_at.desc(), AccessToken.id)
    )
    return rows.all()


async def revoke(session: AsyncSession, actor: Actor, token_id: uuid.UUID) -> None:
    row = await session.get(AccessToken, token_id)
    # Someone else's token is "not found", not "forbidden": its existence is not revealed.
    if row is None or row.user_id != actor.id or row.revoked_at is not None:
        raise NotFound("No such token.", code="token_not_found")
    row.revoked_at = utcnow()
