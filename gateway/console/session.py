"""Console request plumbing: the session cookie, CSRF checks on every POST form, small form bodies.

The session cookie is HttpOnly and SameSite=Strict (and Secure outside test and demo mode, which serve plain
HTTP on loopback). Every POST form carries the session's CSRF token (synchroniser token pattern); the login
form, which has no session yet, carries a token that must equal a cookie set with the form (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from fastapi import Request, Response

from gateway.errors import InputError, Issue, Location
from gateway.limits import form_fields, whole_number
from gateway.security.errors import ForbiddenError
from gateway.services.context import Gateway
from gateway.services.operators import ConsoleSession, session_for

SESSION_COOKIE: Final = "hgw_session"
LOGIN_CSRF_COOKIE: Final = "hgw_login_csrf"
MAX_FORM_BYTES: Final = 64 * 1024
MAX_FORM_FIELDS: Final = 200


class CsrfError(ForbiddenError):
    code = "CSRF_TOKEN_INVALID"


def secure_cookies(gw: Gateway) -> bool:
    return gw.settings.mode not in ("test", "demo")


def set_session_cookie(response: Response, gw: Gateway, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure_cookies(gw)
    )


def clear_session_cookie(response: Response, gw: Gateway) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookies(gw))


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def set_login_csrf(response: Response, gw: Gateway, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/console/login",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(gw),
    )


async def current_session(request: Request, gw: Gateway) -> ConsoleSession | None:
    return await session_for(gw, request.cookies.get(SESSION_COOKIE))


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (first value of each field), refused above 64 KiB."""
    declared = request.headers.get("content-length")
    size = whole_number(declared) if declared is not None else None
    if declared is not None and (size is None or size > MAX_FORM_BYTES):
        raise _too_large()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _too_large()
    return form_fields(body, max_fields=MAX_FORM_FIELDS)


def check_csrf(form: dict[str, str], expected: str) -> None:
    """CsrfError unless the form's token equals `expected` (compared in constant time)."""
    given = form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfError("the form's CSRF token is missing or wrong; reload the page and try again")


def _too_large() -> InputError:
    return InputError(
        [Issue("PAYLOAD_TOO_LARGE", "the form is too large", Location(path="body"), expected="at most 64 KiB")]
    )
