"""Console request plumbing: the session cookie, CSRF checks on every POST form, small form bodies.

The session cookie is HttpOnly and SameSite=Strict (and Secure outside test and demo mode, which serve plain
HTTP on loopback). Every POST form carries the session's CSRF token (synchroniser token pattern). The login form,
which has no session yet, gets a pre-session: a random cookie whose hash is stored with the form's CSRF token, so a
sign-in is accepted only with a form this server gave to this browser, once (login CSRF: a page elsewhere cannot
sign the browser in to an account of its choosing, even if it can set cookies).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from fastapi import Request, Response

from gateway.context import Gateway
from gateway.errors import ForbiddenError, InputError, Issue, Location
from gateway.limits import form_fields, whole_number
from gateway.operations.operators import ConsoleSession, session_for
from gateway.store import presessions

SESSION_COOKIE: Final = "hgw_session"
LOGIN_CSRF_COOKIE: Final = "hgw_login_csrf"
MAX_FORM_BYTES: Final = 64 * 1024
MAX_FORM_FIELDS: Final = 200
LOGIN_FORM_SECONDS: Final = 1800


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


@dataclass(frozen=True, slots=True)
class LoginForm:
    """A pre-session just opened: the cookie naming it and the CSRF token its form carries."""

    cookie: str
    csrf: str

    def set_cookie(self, response: Response, gw: Gateway) -> None:
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            self.cookie,
            max_age=LOGIN_FORM_SECONDS,
            path="/console/login",
            httponly=True,
            samesite="strict",
            secure=secure_cookies(gw),
        )


async def open_login_form(gw: Gateway) -> LoginForm:
    """A new pre-session, stored; the caller sets its cookie on the page carrying its form."""
    form = LoginForm(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        expires = now + timedelta(seconds=LOGIN_FORM_SECONDS)
        await presessions.open_presession(session, _sha(form.cookie), form.csrf, now, expires)
    return form


async def check_login_form(request: Request, gw: Gateway, form: dict[str, str]) -> None:
    """CsrfError unless the form carries the CSRF token of the pre-session its cookie names (used up now)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    expected = None
    if cookie and len(cookie) <= 128:
        async with gw.sessions() as session, session.begin():
            expected = await presessions.redeem_presession(session, _sha(cookie), gw.clock())
    check_csrf(form, expected or "")


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
