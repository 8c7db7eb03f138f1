"""Maps gateway errors to HTTP: OperationOutcome under /FHIR, JSON elsewhere."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.api.fhir_response import FhirJSONResponse
from gateway.errors import (
    ConflictError,
    GatewayError,
    IdempotencyKeyReusedError,
    InputError,
    Issue,
    Location,
    NotFoundError,
    RequestInProgressError,
    StateTransitionError,
)
from gateway.fhir.responses import operation_outcome
from gateway.security.errors import AuthenticationError, ForbiddenError
from gateway.security.ratelimit import RateLimitedError


def error_status(exc: GatewayError) -> int:
    """The HTTP status an error maps to (console pages and FHIR batch-response entries use it too)."""
    if isinstance(exc, IdempotencyKeyReusedError):
        return 422
    if isinstance(exc, InputError):
        too_large = any(i.code == "PAYLOAD_TOO_LARGE" for i in exc.issues)
        unsupported = any(i.code == "UNSUPPORTED_MEDIA_TYPE" for i in exc.issues)
        return 413 if too_large else 415 if unsupported else 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, RateLimitedError):
        return 429
    if isinstance(exc, StateTransitionError | ConflictError):
        return 409
    return 500


def error_issues(exc: GatewayError) -> list[Issue]:
    """The located issues an error is reported with."""
    if isinstance(exc, InputError):
        return exc.issues
    if isinstance(exc, RequestInProgressError):
        return [Issue(code=exc.code, message=str(exc), location=Location(path=exc.header))]
    return [Issue(code=exc.code, message=str(exc), location=Location())]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        status = error_status(exc)
        issues = error_issues(exc)
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
        if isinstance(exc, RequestInProgressError):
            headers = {"Retry-After": "1"}
        if request.url.path.startswith("/FHIR/"):
            return FhirJSONResponse(operation_outcome(issues), status_code=status, headers=headers)
        return JSONResponse(
            {"error": exc.code, "issues": [i.as_dict() for i in issues]}, status_code=status, headers=headers
        )
