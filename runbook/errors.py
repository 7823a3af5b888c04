"""One error hierarchy for the services; `runbook.http` maps it to HTTP answers in one place."""

from __future__ import annotations

from typing import Any


class RunbookError(Exception):
    """Base of every error a service raises on purpose. `code` is machine-readable."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(RunbookError):
    status_code = 400
    code = "bad_request"


class Unauthorized(RunbookError):
    status_code = 401
    code = "unauthorized"


class Forbidden(RunbookError):
    status_code = 403
    code = "forbidden"


class NotFound(RunbookError):
    status_code = 404
    code = "not_found"


class Conflict(RunbookError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(RunbookError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(RunbookError):
    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(RunbookError):
    status_code = 422
    code = "invalid"


class ServiceUnavailable(RunbookError):
    status_code = 503
    code = "unavailable"
