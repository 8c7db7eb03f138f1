"""Exceptions raised by the gateway.

GatewayError
├── InputError              bad input; carries located Issues
│   └── IdempotencyKeyReusedError   an idempotency key sent again with another request (HTTP 422)
├── NotFoundError           unknown (or not yours: answered alike)
├── ConflictError           the request contradicts stored state
│   └── RequestInProgressError      a request with the same idempotency key is still running (HTTP 409)
├── StateTransitionError    a lifecycle transition the state machine refuses
├── ConfigurationError      settings or key material unusable
├── StoreError              the database failed (SQLAlchemy errors are chained)
└── SecurityError
    ├── AuthenticationError no, bad or expired credentials (HTTP 401)
    └── ForbiddenError      authenticated, but the role or scope does not allow it (HTTP 403)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where in the input an issue was found: a file line and column, an XPath, an HL7 field or a FHIRPath."""

    line: int | None = None
    column: str | None = None
    path: str | None = None

    def describe(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column:
            parts.append(f"column {self.column}")
        if self.path:
            parts.append(self.path)
        return ", ".join(parts) or "input"


@dataclass(frozen=True, slots=True)
class Issue:
    """One located finding about an input, in the shape an OperationOutcome issue needs."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    severity: Severity = "error"
    value: str | None = None
    expected: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location.line is not None:
            out["line"] = self.location.line
        if self.location.column:
            out["column"] = self.location.column
        if self.location.path:
            out["expression"] = self.location.path
        if self.value is not None:
            out["value"] = self.value
        if self.expected is not None:
            out["expected"] = self.expected
        return out


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    code = "GATEWAY_ERROR"


class InputError(GatewayError):
    """The input is unusable; `issues` locates every problem found."""

    code = "INVALID_INPUT"

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues: list[Issue] = list(issues)
        super().__init__("; ".join(f"{i.location.describe()}: {i.message}" for i in self.issues))


class IdempotencyKeyReusedError(InputError):
    """The client sent an idempotency key it already used for a different request (another body or endpoint)."""

    code = "IDEMPOTENCY_KEY_REUSED"


class NotFoundError(GatewayError):
    code = "RESOURCE_NOT_FOUND"


class ConflictError(GatewayError):
    code = "CONFLICT"


class RequestInProgressError(ConflictError):
    """The first request with this idempotency key has not answered yet; retry after it has."""

    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, message: str, *, header: str) -> None:
        super().__init__(message)
        self.header = header


class StateTransitionError(GatewayError):
    code = "PRESCRIPTION_INVALID_STATE_TRANSITION"


class ConfigurationError(GatewayError):
    code = "CONFIGURATION_ERROR"


class StoreError(GatewayError):
    code = "STORE_ERROR"


class SecurityError(GatewayError):
    code = "SECURITY_ERROR"


class AuthenticationError(SecurityError):
    """`oauth_error` is the OAuth 2.0 error code for the token endpoint (RFC 6749 §5.2)."""

    code = "UNAUTHORIZED"

    def __init__(self, message: str, *, oauth_error: str = "invalid_client") -> None:
        super().__init__(message)
        self.oauth_error = oauth_error


class ForbiddenError(SecurityError):
    code = "FORBIDDEN"
