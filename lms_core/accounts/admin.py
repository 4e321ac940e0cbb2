"""Administration of accounts: search, roles, deactivation. Every function checks the actor."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts import schemas
from lms_core.accounts.models import AccessToken, Role, User
from lms_core.accounts.service import count_admins
from lms_core.accounts.sessions import Actor, revoke_user_sessions
from lms_core.clock import utcnow
from lms_core.errors import Conflict, NotFound, PermissionDenied
from lms_core.pagination import decode_time_cursor, encode_time_cursor


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Administrators only.", code="admin_required")


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with its wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_users(
    session: AsyncSession, actor: Actor, query: schemas.UserSearchQuery
) -> tuple[list[User], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages stay stable under inserts."""
    require_admin(actor)
    stmt = select(User)
    if query.q:
        pattern = _like_pattern(query.q)
        stmt = stmt.where(
            or_(User.email.like(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
        )
    if query.role is not None:
        stmt = stmt.where(User.role == query.role)
    if query.is_active is not None:
        stmt = stmt.where(User.is_active == query.is_active)
    if query.cursor:
        created, ident = decode_time_cursor(query.cursor)
        stmt = stmt.where(tuple_(User.created_at, User.id) < tuple_(created, ident))
    rows = list(
        await session.scalars(
            stmt.order_by(User.created_at.desc(), User.id.desc()).limit(query.limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return rows[: query.limit], next_cursor


async def get_user(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> User:
    require_admin(actor)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


async def change_role(session: AsyncSession, actor: Actor, user_id: uuid.UUID, role: Role) -> User:
    user = await get_user(session, actor, user_id)
    if user.role is Role.ADMIN and role is not Role.ADMIN and user.is_active:
        await _keep_one_admin(session)
    user.role = role
    await session.flush()
    return user


async def set_active(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, *, active: bool
) -> User:
    user = await get_user(session, actor, user_id)
    if user.is_active == active:
        return user
    if not active:
        if user.role is Role.ADMIN:
            await _keep_one_admin(session)
        user.is_active = False
        user.deactivated_at = utcnow()
        # A deactivated user's cookies and tokens stop working at once.
        await revoke_user_sessions(session, user.id)
        await session.execute(
            update(AccessToken)
            .where(AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    else:
        user.is_active = True
        user.deactivated_at = None
    await session.flush()
    return user


async def _keep_one_admin(session: AsyncSession) -> None:
    # Lock the admin rows so two concurrent demotions cannot leave zero admins.
    await session.execute(select(User.id).where(User.role == Role.ADMIN).with_for_update())
    if await count_admins(session) <= 1:
        raise Conflict("The last active administrator cannot be removed.", code="last_admin")
