"""The root of every domain error, and its rendering as problem+json.

EmsError
├── ConfigError              start-up configuration is unusable
├── ValidationFailed (400)   bad_request / validation_error / malformed_json
├── Unauthenticated (401)    unauthenticated / invalid_token / invalid_credentials
├── Forbidden (403)          forbidden
├── NotFound (404)           not_found
├── Conflict (409)           conflict / illegal_transition / unit_unavailable / no_bed …
├── PayloadTooLarge (413)    payload_too_large
└── RateLimited (429)        rate_limited

Every error carries a stable machine-readable ``code``; clients branch on it,
never on the human-readable ``detail``.
"""

from __future__ import annotations

from typing import Any


class EmsError(Exception):
    status: int = 400
    code: str = "error"
    title: str = "Error"

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:ems:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class ConfigError(EmsError):
    status = 500
    code = "config_error"
    title = "Configuration error"


class ValidationFailed(EmsError):
    status = 400
    code = "validation_error"
    title = "Invalid request"


class Unauthenticated(EmsError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(EmsError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(EmsError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(EmsError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(EmsError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class RateLimited(EmsError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
