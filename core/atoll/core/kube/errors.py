"""One exception hierarchy for every failure of a Kubernetes API call.

The classes mirror the API's status codes so callers can catch what they mean (`NotFound`,
`Conflict`, `Gone`…) and keep the server's `Status` body. Transport failures become
`Unreachable`. Whether a failure is worth retrying is a separate, explicit decision:
`is_retryable`.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Kubernetes API call failed; `status` is the HTTP code (0 when nothing answered)."""

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.reason = reason
        self.body = body or {}


class Unreachable(ApiError):
    """No answer: connection refused, reset, TLS failure or timeout."""


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """A write lost a race (stale resourceVersion, failed precondition) or the name is taken."""

    status = 409


class AlreadyExists(Conflict):
    pass


class Gone(ApiError):
    """The requested resourceVersion is too old: list again."""

    status = 410


class Invalid(ApiError):
    """The object was refused by validation; the message names the field."""

    status = 422


class TooManyRequests(ApiError):
    status = 429


class ServerError(ApiError):
    status = 500


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def from_status(status: int, body: dict[str, Any] | None, fallback: str = "") -> ApiError:
    """Build the error matching an API answer; `body` is the server's `Status`, if any."""
    body = body or {}
    reason = str(body.get("reason", ""))
    message = str(body.get("message") or fallback or f"HTTP {status}")

    if status == 409 and reason == "AlreadyExists":
        return AlreadyExists(message, status=status, reason=reason, body=body)
    error_class = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return error_class(message, status=status, reason=reason, body=body)


def is_retryable(error: BaseException) -> bool:
    """Whether repeating the same call later may succeed without anything else changing."""
    return isinstance(error, Unreachable | TooManyRequests | ServerError)
