"""Password hashing (argon2id) and the password policy (OWASP ASVS 5.0 §6.2).

Policy: at least 8 characters, up to 128 allowed, no composition rules, no trimming, and none
of the 10,000 most common passwords (list shipped beside this module).
"""

from __future__ import annotations

import asyncio
from importlib import resources

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError

from lms_core.errors import FieldError, InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 128

# A valid argon2id hash of a random string: verifying against it when the user does not exist
# makes "unknown user" cost the same time as "wrong password" (no account enumeration).
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$1YdPRjcHGfzu/+URv4Sm7Q"
    "$57ok1o5hyMbRe75yERqf6eCLTjOYB+HUCsrTBmaDphk"
)


class PasswordHasher:
    """argon2id via argon2-cffi; every call runs in a thread (tens of ms of CPU each)."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4):
        self._hasher = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash or _DUMMY_HASH, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def load_common_passwords() -> frozenset[str]:
    """Blocking file read: call it once at start-up, outside the event loop (or in a thread)."""
    text = (
        resources.files("lms_core.accounts")
        .joinpath("common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(line for line in text.splitlines() if line)


class PasswordPolicy:
    def __init__(self, common_passwords: frozenset[str]) -> None:
        self._common = common_passwords

    def check(self, password: str, *, field: str = "password") -> None:
        """Raise ``InvalidInput`` naming the broken rule; the password is never trimmed."""
        loc = ("body", field)
        if len(password) < MIN_LENGTH:
            raise InvalidInput(
                f"The password must have at least {MIN_LENGTH} characters.",
                code="password_too_short",
                errors=[FieldError(loc, f"at least {MIN_LENGTH} characters", "too_short")],
            )
        if len(password) > MAX_LENGTH:
            raise InvalidInput(
                f"The password must have at most {MAX_LENGTH} characters.",
                code="password_too_long",
                errors=[FieldError(loc, f"at most {MAX_LENGTH} characters", "too_long")],
            )
        if password.lower() in self._common:
            raise InvalidInput(
                "This password is one of the most common passwords; choose another.",
                code="password_too_common",
                errors=[FieldError(loc, "too common", "too_common")],
            )
