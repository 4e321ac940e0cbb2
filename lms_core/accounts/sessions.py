"""Who is calling: browser sessions and personal access tokens, resolved to an ``Actor``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.config import AccountsConfig
from lms_core.accounts.errors import SessionExpired
from lms_core.accounts.models import AccessToken, Role, User, UserSession
from lms_core.accounts.tokens import ACCESS_TOKEN_PREFIX, hash_token, new_token
from lms_core.clock import utcnow
from lms_core.errors import NotAuthenticated

# Writing last_seen_at on every request would turn every read into a write; a minute of slack
# on the idle timeout is harmless.
_TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, as services see it."""

    user: User
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    # Copied out of ``user``: after a rollback the ORM object is expired, and reading its
    # attributes would need the database (the access log reads this after the request).
    id: uuid.UUID = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self.user.id)

    @property
    def is_admin(self) -> bool:
        return self.user.role is Role.ADMIN


async def open_session(
    session: AsyncSession,
    config: AccountsConfig,
    user: User,
    *,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, UserSession]:
    """A fresh session id on every login, so a planted cookie is worthless (fixation)."""
    token = new_token()
    now = utcnow()
    row = UserSession(
        user_id=user.id,
        token_hash=hash_token(token),
        last_seen_at=now,
        expires_at=now + config.session_absolute_timeout,
        ip=ip,
        user_agent=(user_agent or "")[:400] or None,
    )
    session.add(row)
    await session.flush()
    return token, row


async def resolve_session(session: AsyncSession, config: AccountsConfig, token: str) -> Actor:
    # One round trip for the session and its user: this runs on every cookie request.
    found = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == hash_token(token))
        )
    ).first()
    if found is None:
        raise NotAuthenticated()
    row, user = found
    if row.revoked_at is not None or not user.is_active:
        raise NotAuthenticated()
    now = utcnow()
    if now >= row.expires_at or now - row.last_seen_at >= config.session_idle_timeout:
        raise SessionExpired()
    if now - row.last_seen_at >= _TOUCH_INTERVAL:
        row.last_seen_at = now
    return Actor(user=user, session_id=row.id)


async def resolve_access_token(session: AsyncSession, token: str) -> Actor:
    invalid = NotAuthenticated("The bearer token is not valid.", code="invalid_token")
    if not token.startswith(ACCESS_TOKEN_PREFIX):
        raise invalid
    found = (
        await session.execute(
            select(AccessToken, User)
            .join(User, User.id == AccessToken.user_id)
            .where(AccessToken.token_hash == hash_token(token))
        )
    ).first()
    if found is None:
        raise invalid
    row, user = found
    now = utcnow()
    if (
        row.revoked_at is not None
        or (row.expires_at is not None and now >= row.expires_at)
        or not user.is_active
    ):
        raise invalid
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_INTERVAL:
        row.last_used_at = now
    return Actor(user=user, token_id=row.id)


async def revoke_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> None:
    """End every session of a user, except ``keep`` (the caller's own, after a password change)."""
    stmt = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    await session.execute(stmt.values(revoked_at=utcnow()))
