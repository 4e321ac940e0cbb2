"""Account use cases: registration, login, profile, passwords, email verification.

Services flush but never commit: the caller's unit of work commits once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts import schemas
from lms_core.accounts.config import AccountsConfig
from lms_core.accounts.errors import AccountInactive, EmailTaken, InvalidCredentials, TokenInvalid
from lms_core.accounts.models import OneTimeToken, Role, TokenPurpose, User
from lms_core.accounts.passwords import PasswordHasher, PasswordPolicy
from lms_core.accounts.sessions import Actor, revoke_user_sessions
from lms_core.accounts.tokens import hash_token, new_token
from lms_core.clock import utcnow
from lms_core.errors import FieldError, InvalidInput
from lms_core.mail.service import Mailer

log = logging.getLogger(__name__)


def normalize_email(email: str) -> str:
    return email.strip().lower()


class AccountService:
    def __init__(
        self,
        config: AccountsConfig,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        mailer: Mailer,
    ) -> None:
        self.config = config
        self.hasher = hasher
        self.policy = policy
        self.mailer = mailer

    async def register(
        self,
        session: AsyncSession,
        data: schemas.RegisterIn,
        *,
        role: Role = Role.STUDENT,
        email_verified: bool = False,
    ) -> User:
        """``email_verified`` is for accounts an operator creates (``seminar create-admin``)."""
        self.policy.check(data.password)
        email = normalize_email(data.email)
        if await self._by_email(session, email) is not None:
            raise EmailTaken()
        user = User(
            email=email,
            name=data.name,
            password_hash=await self.hasher.hash(data.password),
            role=role,
            email_verified_at=utcnow() if email_verified else None,
        )
        session.add(user)
        await session.flush()
        if not email_verified:
            await self.send_verification(session, user)
        log.info("user registered", extra={"user_id": str(user.id)})
        return user

    async def authenticate(self, session: AsyncSession, email: str, password: str) -> User:
        user = await self._by_email(session, normalize_email(email))
        # Verify even for an unknown email so both failures take the same time.
        ok = await self.hasher.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            log.info("login failed", extra={"user_id": str(user.id) if user else None})
            raise InvalidCredentials()
        if not user.is_active:
            log.info("login refused: inactive", extra={"user_id": str(user.id)})
            raise AccountInactive()
        if self.hasher.needs_rehash(user.password_hash):
            user.password_hash = await self.hasher.hash(password)
        log.info("login succeeded", extra={"user_id": str(user.id)})
        return user

    async def update_profile(
        self, session: AsyncSession, actor: Actor, data: schemas.UserUpdateIn
    ) -> User:
        user = actor.user
        if data.name is not None:
            user.name = data.name
        if data.email is not None and normalize_email(data.email) != user.email:
            email = normalize_email(data.email)
            if await self._by_email(session, email) is not None:
                raise EmailTaken()
            user.email = email
            user.email_verified_at = None
            await self.send_verification(session, user)
        await session.flush()
        return user

    async def change_password(
        self, session: AsyncSession, actor: Actor, data: schemas.PasswordChangeIn
    ) -> None:
        user = actor.user
        if not await self.hasher.verify(user.password_hash, data.current_password):
            raise InvalidInput(
                "The current password is incorrect.",
                code="current_password_incorrect",
                errors=[FieldError(("body", "current_password"), "incorrect", "incorrect")],
            )
        self.policy.check(data.new_password, field="new_password")
        user.password_hash = await self.hasher.hash(data.new_password)
        if data.sign_out_other_sessions:
            await revoke_user_sessions(session, user.id, keep=actor.session_id)
        log.info("password changed", extra={"user_id": str(user.id)})

    async def request_password_reset(self, session: AsyncSession, email: str) -> None:
        """Always succeeds from the caller's view: whether the account exists is not revealed."""
        user = await self._by_email(session, normalize_email(email))
        if user is None or not user.is_active:
            return
        token = await self._issue(
            session, user, TokenPurpose.PASSWORD_RESET, self.config.reset_token_ttl
        )
        minutes = int(self.config.reset_token_ttl.total_seconds() // 60)
        await self.mailer.queue(
            session,
            to=user.email,
            subject="Reset your Seminar password",
            body=(
                f"Hello {user.name},\n\nSomeone asked to reset the password of your Seminar "
                f"account. If it was you, open this link within {minutes} minutes:\n\n"
                f"{self.config.public_url}/reset-password?token={token}\n\n"
                "If it was not you, ignore this email; your password stays as it is.\n"
            ),
            template="password_reset",
        )

    async def reset_password(
        self, session: AsyncSession, data: schemas.PasswordResetConfirmIn
    ) -> User:
        self.policy.check(data.new_password, field="new_password")
        _, user = await self._consume(session, data.token, TokenPurpose.PASSWORD_RESET)
        user.password_hash = await self.hasher.hash(data.new_password)
        # Whoever had the old password may hold a session: end them all.
        await revoke_user_sessions(session, user.id)
        # Other outstanding reset links die with this one.
        await self._expire_tokens(session, user.id, TokenPurpose.PASSWORD_RESET)
        log.info("password reset", extra={"user_id": str(user.id)})
        return user

    async def send_verification(self, session: AsyncSession, user: User) -> None:
        token = await self._issue(
            session, user, TokenPurpose.EMAIL_VERIFICATION, self.config.verification_token_ttl
        )
        await self.mailer.queue(
            session,
            to=user.email,
            subject="Confirm your email address for Seminar",
            body=(
                f"Hello {user.name},\n\nPlease confirm your email address by opening:\n\n"
                f"{self.config.public_url}/verify-email?token={token}\n"
            ),
            template="email_verification",
        )

    async def verify_email(self, session: AsyncSession, token: str) -> User:
        _, user = await self._consume(session, token, TokenPurpose.EMAIL_VERIFICATION)
        user.email_verified_at = utcnow()
        return user

    async def _by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email == email))

    async def _issue(
        self, session: AsyncSession, user: User, purpose: TokenPurpose, ttl: timedelta
    ) -> str:
        token = new_token()
        session.add(
            OneTimeToken(
                user_id=user.id,
                purpose=purpose,
                token_hash=hash_token(token),
                expires_at=utcnow() + ttl,
            )
        )
        await session.flush()
        return token

    async def _consume(
        self, session: AsyncSession, token: str, purpose: TokenPurpose
    ) -> tuple[OneTimeToken, User]:
        # FOR UPDATE: two concurrent uses of one token see it once.
        row = await session.scalar(
            select(OneTimeToken)
            .where(OneTimeToken.token_hash == hash_token(token), OneTimeToken.purpose == purpose)
            .with_for_update()
        )
        if row is None or row.used_at is not None or utcnow() >= row.expires_at:
            raise TokenInvalid()
        user = await session.get(User, row.user_id)
        if user is None or not user.is_active:
            raise TokenInvalid()
        row.used_at = utcnow()
        return row, user

    async def _expire_tokens(
        self, session: AsyncSession, user_id: uuid.UUID, purpose: TokenPurpose
    ) -> None:
        rows = await session.scalars(
            select(OneTimeToken).where(
                OneTimeToken.user_id == user_id,
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
            )
        )
        now = utcnow()
        for row in rows:
            row.used_at = now


async def count_admins(session: AsyncSession) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active)
        )
        or 0
    )
