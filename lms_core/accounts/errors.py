"""Account errors with their stable codes (see lms_core.errors for the tree)."""

from __future__ import annotations

from lms_core.errors import Conflict, Gone, NotAuthenticated, PermissionDenied


class InvalidCredentials(NotAuthenticated):
    # One answer for "no such user" and "wrong password" (ASVS 6.3.8: no enumeration).
    default_code = "invalid_credentials"
    default_detail = "The email or password is incorrect."


class SessionExpired(NotAuthenticated):
    default_code = "session_expired"
    default_detail = "The session has expired; log in again."


class AccountInactive(PermissionDenied):
    default_code = "account_inactive"
    default_detail = "This account has been deactivated."


class EmailTaken(Conflict):
    default_code = "email_taken"
    default_detail = "An account with this email already exists."


class TokenInvalid(Gone):
    # Expired, already used and never-issued tokens get the same answer.
    default_code = "token_invalid"
    default_detail = "The link is invalid, expired or has already been used."
