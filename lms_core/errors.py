"""The domain's exception tree.

Every expected business outcome is one of these, never a bare exception, so that the transport
layer (``server/``) can turn it into an RFC 9457 problem with a stable ``code``:

    DomainError                 base: a stable machine ``code`` and a ``detail`` safe to show
    ├── InvalidInput            the request is well-formed but breaks a rule          -> 422
    ├── NotAuthenticated        no valid credentials                                   -> 401
    ├── PaymentRequired         it must be bought first (the problem points to checkout) -> 402
    ├── PermissionDenied        authenticated, but not allowed                         -> 403
    ├── NotFound                no such thing (or the caller may not know it exists)   -> 404
    ├── Conflict                the current state forbids it (duplicate, wrong state)  -> 409
    ├── Gone                    it existed but is expired or already used              -> 410
    ├── TooLarge                the body or file is over its byte limit                -> 413
    ├── UnsupportedMediaType    a file type that is not accepted, or bytes that are not
    │                           what its name or declared type says                    -> 415
    ├── RateLimited             too many attempts; ``retry_after`` seconds             -> 429
    └── Unavailable             a dependency is down or a feature is not configured   -> 503
        └── StorageFull         no space left where files are stored                   -> 507

Domain code raises these; it never builds HTTP responses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class DomainError(Exception):
    default_code: ClassVar[str] = "error"
    default_detail: ClassVar[str] = "The request could not be completed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.code = code or self.default_code
        self.extra: Mapping[str, Any] = extra or {}
        super().__init__(self.detail)


class FieldError:
    """One invalid field, located like pydantic's ``loc`` (e.g. ``("body", "password")``)."""

    __slots__ = ("loc", "message", "type")

    def __init__(self, loc: Sequence[str | int], message: str, type: str) -> None:
        self.loc = tuple(loc)
        self.message = message
        self.type = type


class InvalidInput(DomainError):
    default_code = "invalid_input"
    default_detail = "The request breaks a validation rule."

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, code=code, extra=extra)
        self.errors = list(errors)


class NotAuthenticated(DomainError):
    default_code = "not_authenticated"
    default_detail = "Authentication is required."


class PaymentRequired(DomainError):
    default_code = "payment_required"
    default_detail = "This must be paid for first."


class PermissionDenied(DomainError):
    default_code = "permission_denied"
    default_detail = "You are not allowed to do this."


class NotFound(DomainError):
    default_code = "not_found"
    default_detail = "The resource does not exist."


class Conflict(DomainError):
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class Gone(DomainError):
    default_code = "gone"
    default_detail = "The resource is no longer available."


class TooLarge(DomainError):
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class UnsupportedMediaType(DomainError):
    default_code = "unsupported_media_type"
    default_detail = "This type of file is not accepted."


class RateLimited(DomainError):
    default_code = "rate_limited"
    default_detail = "Too many requests; try again later."

    def __init__(
        self, detail: str | None = None, *, retry_after: int, code: str | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    default_code = "unavailable"
    default_detail = "The service is temporarily unavailable."


class StorageFull(Unavailable):
    default_code = "storage_full"
    default_detail = "There is no space left to store files; try again later."
