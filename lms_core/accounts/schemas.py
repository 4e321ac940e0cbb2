"""Request and response models for accounts (they also produce the OpenAPI schemas)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from lms_core.accounts.models import Role
from lms_core.schemas import Input, Output

# Length limits are generous here and exact in PasswordPolicy, so that a short password gets the
# policy's clear code rather than a generic schema error.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RegisterIn(Input):
    email: EmailStr
    password: Password
    name: DisplayName


class LoginIn(Input):
    email: EmailStr
    password: Password


class UserOut(Output):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    email_verified: bool
    created_at: datetime


class AdminUserOut(UserOut):
    is_active: bool
    deactivated_at: datetime | None


class UserUpdateIn(Input):
    name: DisplayName | None = None
    email: EmailStr | None = None


class PasswordChangeIn(Input):
    current_password: Password
    new_password: Password
    sign_out_other_sessions: bool = True


class PasswordResetRequestIn(Input):
    email: EmailStr


class PasswordResetConfirmIn(Input):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Password


class EmailVerificationConfirmIn(Input):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class AccessTokenCreateIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_in_days: Annotated[int, Field(ge=1, le=366)] | None = 90


class AccessTokenOut(Output):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class AccessTokenCreatedOut(AccessTokenOut):
    token: str = Field(description="The secret; shown once, never again.")


class RoleChangeIn(Input):
    role: Role


class UserSearchQuery(Input):
    q: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="Substring of the email or name."
    )
    role: Role | None = None
    is_active: bool | None = None
    cursor: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class UserPage(BaseModel):
    items: list[AdminUserOut]
    next_cursor: str | None
