"""Maps gateway errors to HTTP: OperationOutcome under /FHIR, JSON elsewhere."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.api.fhir_outcomes import operation_outcome
from gateway.api.fhir_response import FhirJSONResponse
from gateway.budget import BUDGET_EXCEEDED
from gateway.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    GatewayError,
    IdempotencyKeyReusedError,
    InputError,
    Issue,
    Location,
    NotFoundError,
    RequestInProgressError,
    StateTransitionError,
)
from gateway.limits import LIMIT_EXCEEDED
from gateway.security.ratelimit import RateLimitedError


def error_status(exc: GatewayError) -> int:
    """The HTTP status an error maps to (console pages and FHIR batch-response entries use it too)."""
    if isinstance(exc, IdempotencyKeyReusedError):
        return 422
    if isinstance(exc, InputError):
        too_large = any(i.code == "PAYLOAD_TOO_LARGE" for i in exc.issues)
        unsupported = any(i.code == "UNSUPPORTED_MEDIA_TYPE" for i in exc.issues)
        over_budget = any(i.code in (LIMIT_EXCEEDED, BUDGET_EXCEEDED) for i in exc.issues)
        return 413 if too_large else 415 if unsupported else 422 if over_budget else 400
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


def internal_error(path: str) -> JSONResponse:
    """The answer to a failure of the gateway itself (never of the input): no detail, the correlation id logged."""
    issue = Issue(
        code="INTERNAL_ERROR", message="the gateway failed to process the request; it has been logged", severity="fatal"
    )
    if path.startswith("/FHIR/"):
        return FhirJSONResponse(operation_outcome([issue]), status_code=500)
    return JSONResponse({"error": issue.code, "issues": [issue.as_dict()]}, status_code=500)


def _validation_issues(exc: RequestValidationError) -> list[Issue]:
    """FastAPI's own request checks (path, query and header types), located like the gateway's."""
    return [
        Issue(
            "MISSING_VALUE" if e.get("type") == "missing" else "INVALID_PARAMETER",
            str(e.get("msg", "invalid")),
            Location(path=".".join(str(p) for p in e.get("loc", ())) or "request"),
        )
        for e in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = _validation_issues(exc)
        if request.url.path.startswith("/FHIR/"):
            return FhirJSONResponse(operation_outcome(issues), status_code=422)
        # FastAPI's own `detail` is kept beside the gateway's shape: it is what the OpenAPI schema declares for 422.
        detail = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        body = {"error": "INVALID_PARAMETER", "issues": [i.as_dict() for i in issues], "detail": detail}
        return JSONResponse(body, status_code=422)

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
