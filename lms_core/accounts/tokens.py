"""Opaque random tokens: only their SHA-256 is ever stored, so a database leak reveals no token."""

from __future__ import annotations

import hashlib
import secrets

SESSION_TOKEN_BYTES = 32  # 256 bits (ASVS 7.2.3 asks for at least 128)
ACCESS_TOKEN_PREFIX = "smr_pat_"  # noqa: S105 - a prefix greppable by secret scanners


def new_token() -> str:
    return secrets.token_urlsafe(SESSION_TOKEN_BYTES)


def new_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(SESSION_TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    # A fast hash is right here: the token has 256 bits of entropy, unlike a password.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
