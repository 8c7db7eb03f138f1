"""Authentication and authorisation errors.

GatewayError
└── SecurityError
    ├── AuthenticationError   no, bad or expired credentials (HTTP 401)
    └── ForbiddenError        authenticated, but the role or scope does not allow it (HTTP 403)
"""

from __future__ import annotations

from gateway.errors import GatewayError


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
