"""Domain errors: what the service raises when a caller asks for something it may not have.

Every expected failure is a ``DomainError`` carrying a stable ``ErrorCode``; the GraphQL layer
turns it into a ``UserError`` in the mutation's payload. Anything else is a bug and reaches the
client as a masked GraphQL error.

    DomainError
    ├── InvalidInput        INVALID_INPUT        blank, oversized or malformed input
    ├── NotFound            NOT_FOUND            an id that names nothing
    ├── Forbidden           FORBIDDEN            the viewer's role or relation does not allow it
    ├── InvalidTransition   INVALID_TRANSITION   the status workflow has no such move
    ├── VersionConflict     VERSION_CONFLICT     expectedVersion is not the current version
    ├── TooLarge            TOO_LARGE            a list or file over its limit
    ├── InvalidCredentials  INVALID_CREDENTIALS  login with a wrong email or password, or a
    │                                            wrong current password
    ├── WeakPassword        WEAK_PASSWORD        a new password too short or too common
    ├── InvalidToken        INVALID_TOKEN        a password reset token unknown, used or expired
    └── RateLimited         RATE_LIMITED         too many attempts or writes: retry_after seconds
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    TOO_LARGE = "TOO_LARGE"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_TOKEN = "INVALID_TOKEN"
    RATE_LIMITED = "RATE_LIMITED"


class DomainError(Exception):
    """A failure the caller can fix; nothing was changed."""

    code: ErrorCode

    def __init__(self, message: str, *, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field) if field is not None else None


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION


class VersionConflict(DomainError):
    code = ErrorCode.VERSION_CONFLICT


class TooLarge(DomainError):
    code = ErrorCode.TOO_LARGE


class InvalidCredentials(DomainError):
    code = ErrorCode.INVALID_CREDENTIALS


class WeakPassword(DomainError):
    code = ErrorCode.WEAK_PASSWORD


class InvalidToken(DomainError):
    code = ErrorCode.INVALID_TOKEN


class RateLimited(DomainError):
    """Refused before any work: the caller may try again in ``retry_after`` whole seconds."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(f"{message}: try again in {retry_after} s")
        self.retry_after = retry_after
