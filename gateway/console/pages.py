"""Console pages and forms. Each handler checks the session, calls one service function (gateway.operations:
overview, message_view, operators, shared with the JSON operator API) and renders a template; POST forms check CSRF.

Patient data is masked on every page; the one way to see it is the unmask form, which needs the auditor role
and a reason, and is audited. An NHS number typed into the search form is posted, turned into its blind index
and never appears in a URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.api.deps import get_gateway
from gateway.api.errors import error_issues, error_status
from gateway.console.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    check_login_form,
    clear_session_cookie,
    current_session,
    open_login_form,
    read_form,
    set_session_cookie,
)
from gateway.context import Gateway
from gateway.domain.outbox import OutboxState
from gateway.errors import AuthenticationError, ForbiddenError, GatewayError, InputError, Issue, Location
from gateway.operations import message_view, operators
from gateway.operations import overview as operations
from gateway.operations.operators import ConsoleSession
from gateway.security.client_address import request_address
from gateway.security.masking import UNMASK_REASONS
from gateway.security.operators import OperatorRole, Permission, can
from gateway.security.ratelimit import RateLimitedError, RateLimiter

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
Gw = Annotated[Gateway, Depends(get_gateway)]
Handler = Callable[[ConsoleSession], Awaitable[Response]]

BROWSE_FIELDS = ("date_from", "date_to", "state", "provider", "trust", "prescription_id", "nhs_index", "error_class")


def _context(request: Request, s: ConsoleSession, **values: Any) -> dict[str, Any]:
    perms = {p.value.replace("-", "_"): can(s.actor, p) for p in Permission}
    # Read by `_guarded` for every signed-in page: the open alerts' banner and the thresholds that colour figures.
    banner = {"open_alerts": getattr(request.state, "open_alerts", []), "limits": getattr(request.state, "limits", {})}
    # create_app always mounts the KPI page (gateway/console/kpi_page.py), so every page links it.
    return {"me": s.actor, "csrf": s.csrf_token, "perms": perms, "kpi_link": True, **banner, **values}


def _error_page(request: Request, s: ConsoleSession | None, exc: GatewayError) -> HTMLResponse:
    status = error_status(exc)
    values: dict[str, Any] = {"error": exc, "issues": error_issues(exc), "status": status}
    ctx = _context(request, s, **values) if s else {"me": None, **values}
    return templates.TemplateResponse(request, "error.html", ctx, status_code=status)


async def _guarded(request: Request, gw: Gateway, handler: Handler, *, form: dict[str, str] | None = None) -> Response:
    """Run `handler` for a signed-in operator (else: to the login page), with CSRF checked on forms."""
    s = await current_session(request, gw)
    if s is None:
        response = RedirectResponse("/console/login", status_code=303)
        if request.cookies.get(SESSION_COOKIE):
            clear_session_cookie(response, gw)
        return response
    # Alerts are about the gateway's operations: its operators see them, an organisation's staff do not.
    request.state.open_alerts = await operations.open_alert_lines(gw) if can(s.actor, Permission.VIEW) else []
    request.state.limits = {
        "failure_pct": gw.settings.alert_failure_rate * 100,
        "queue_age_seconds": gw.settings.alert_queue_age_minutes * 60,
    }
    try:
        if form is not None:
            check_csrf(form, s.csrf_token)
        return await handler(s)
    except GatewayError as exc:
        return _error_page(request, s, exc)


# --- static files (vendored: no CDN) ---

_STATIC = Path(__file__).with_name("static")
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@router.get("/console/static/{name}")
async def static_file(name: str) -> Response:
    path = _STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in _STATIC_TYPES or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(path.read_bytes(), media_type=_STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=300"})


# --- sign in and out ---


@router.get("/console/login", response_class=HTMLResponse)
async def login_page(request: Request, gw: Gw) -> Response:
    return await _login_form(request, gw)


async def _login_form(request: Request, gw: Gateway, error: str | None = None, status: int = 200) -> Response:
    """The login page, on a new pre-session (its cookie, and its CSRF token in the form)."""
    form = await open_login_form(gw)
    page = templates.TemplateResponse(
        request, "login.html", {"me": None, "error": error, "csrf": form.csrf}, status_code=status
    )
    form.set_cookie(page, gw)
    return page


def _login_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "console_login_limiter", None)
    if limiter is None:
        limiter = RateLimiter(per_minute=20, burst=10)
        request.app.state.console_login_limiter = limiter
    return limiter


@router.post("/console/login")
async def login_submit(request: Request, gw: Gw) -> Response:
    form = await read_form(request)
    try:
        await check_login_form(request, gw, form)
        _login_limiter(request).check(request_address(request, gw.settings.trusted_proxies))
        s = await operators.login(gw, form.get("username", ""), form.get("password", ""))
    except RateLimitedError:
        return await _login_form(request, gw, "too many sign-in attempts from here; wait a minute", 429)
    except ForbiddenError:
        return await _login_form(request, gw, "the form expired; please sign in again", 403)
    except AuthenticationError:
        return await _login_form(request, gw, "wrong username or password, or the account is locked", 401)
    response = RedirectResponse("/console", status_code=303)
    set_session_cookie(response, gw, s.token, gw.settings.console_session_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/console/logout")
async def logout_submit(request: Request, gw: Gw) -> Response:
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        await operators.logout(gw, request.cookies.get(SESSION_COOKIE, ""), actor=s.actor)
        response = RedirectResponse("/console/login", status_code=303)
        clear_session_cookie(response, gw)
        return response

    return await _guarded(request, gw, handler, form=form)


# --- overview ---


@router.get("/console", response_class=HTMLResponse)
async def overview_page(request: Request, gw: Gw) -> Response:
    async def handler(s: ConsoleSession) -> Response:
        if s.actor.organisation_ods is not None:  # a trust's or a provider's staff: their own worklist
            return RedirectResponse("/console/at-risk", status_code=303)
        data = await operations.overview(gw, s.actor)
        return templates.TemplateResponse(request, "overview.html", _context(request, s, o=data))

    return await _guarded(request, gw, handler)


@router.post("/console/providers/{ods}/{action}")
async def provider_action(request: Request, gw: Gw, ods: str, action: str) -> Response:
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        if action not in ("pause", "resume"):
            return Response("not found", status_code=404, media_type="text/plain")
        await operations.set_paused(gw, s.actor, ods, action == "pause")
        return RedirectResponse("/console#providers", status_code=303)

    return await _guarded(request, gw, handler, form=form)


# --- the message browser ---


def _day(value: str, field: str, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            [Issue("INVALID_VALUE", "not a date", Location(column=field), value=value[:40], expected="YYYY-MM-DD")]
        ) from exc
    start = datetime.combine(day, time(), UTC)
    return start + timedelta(days=1) if end else start


def _int(value: str, default: int) -> int:
    return int(value) if value.isdigit() and len(value) < 7 else default


def _browse_query(params: dict[str, str]) -> operations.BrowseQuery:
    return operations.BrowseQuery(
        date_from=_day(params.get("date_from", ""), "date_from"),
        date_to=_day(params.get("date_to", ""), "date_to", end=True),
        state=params.get("state") or None,
        provider_ods=params.get("provider") or None,
        trust_ods=params.get("trust") or None,
        prescription_id=params.get("prescription_id") or None,
        nhs_index=params.get("nhs_index") or None,
        error_class=params.get("error_class") or None,
        page=_int(params.get("page", ""), 1),
        page_size=_int(params.get("page_size", ""), 50),
    )


@router.get("/console/messages", response_class=HTMLResponse)
async def messages_page(request: Request, gw: Gw) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in (*BROWSE_FIELDS, "page", "page_size")}

    async def handler(s: ConsoleSession) -> Response:
        result = await operations.browse(gw, s.actor, _browse_query(params))
        keep = {k: v for k, v in params.items() if k in BROWSE_FIELDS and v}
        page_size = str(result["page_size"])
        links = {
            "prev": f"?{urlencode({**keep, 'page': result['page'] - 1, 'page_size': page_size})}",
            "next": f"?{urlencode({**keep, 'page': result['page'] + 1, 'page_size': page_size})}",
        }
        ctx = _context(request, s, r=result, f=params, links=links, replay_filters=keep)
        return templates.TemplateResponse(request, "messages.html", ctx)

    return await _guarded(request, gw, handler)


@router.post("/console/messages/search")
async def messages_search(request: Request, gw: Gw) -> Response:
    """The filter form: posted so that an NHS number never sits in a URL; answered with the browser's URL."""
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        params = {k: form.get(k, "").strip() for k in BROWSE_FIELDS if form.get(k, "").strip()}
        nhs = form.get("nhs_number", "").strip()
        if nhs:
            try:
                params["nhs_index"] = operations.nhs_index_of(gw, nhs)
            except InputError as exc:  # the form again, with the other filters kept, saying what is wrong
                result = await operations.browse(gw, s.actor, _browse_query(params))
                issue = exc.issues[0]
                said = f"NHS number: {issue.message} (expected {issue.expected})."
                ctx = _context(request, s, r=result, f=params, links={}, replay_filters={}, form_error=said)
                return templates.TemplateResponse(request, "messages.html", ctx, status_code=400)
        if form.get("page_size"):
            params["page_size"] = form["page_size"]
        _browse_query(params)  # refuse bad dates here, on the form's page
        return RedirectResponse(f"/console/messages?{urlencode(params)}", status_code=303)

    return await _guarded(request, gw, handler, form=form)


@router.get("/console/messages/{message_id}", response_class=HTMLResponse)
async def message_page(request: Request, gw: Gw, message_id: str) -> Response:
    async def handler(s: ConsoleSession) -> Response:
        detail = await message_view.message_detail(gw, s.actor, message_id)
        ctx = _context(request, s, m=detail, reasons=UNMASK_REASONS)
        return templates.TemplateResponse(request, "message.html", ctx)

    return await _guarded(request, gw, handler)


@router.post("/console/messages/{message_id}/unmask", response_class=HTMLResponse)
async def message_unmask(request: Request, gw: Gw, message_id: str) -> Response:
    """The message unmasked, answered to the POST itself: no URL shows patient data when revisited."""
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        detail = await message_view.message_detail(gw, s.actor, message_id, unmask_reason=form.get("reason", ""))
        ctx = _context(request, s, m=detail, reasons=UNMASK_REASONS)
        return templates.TemplateResponse(request, "message.html", ctx)

    return await _guarded(request, gw, handler, form=form)


@router.post("/console/messages/{message_id}/dismiss")
async def message_dismiss(request: Request, gw: Gw, message_id: str) -> Response:
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        await operations.dismiss_dead_letter(gw, s.actor, message_id)
        return RedirectResponse(f"/console/messages/{message_id}", status_code=303)

    return await _guarded(request, gw, handler, form=form)


# --- replay: preview first, then confirm ---


@router.post("/console/replay", response_class=HTMLResponse)
async def replay_submit(request: Request, gw: Gw) -> Response:
    """`confirm=yes` replays; anything else is the dry-run preview, whose page carries the confirm form."""
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        confirm = form.get("confirm") == "yes"
        since = _day(form.get("date_from", ""), "date_from")
        state = form.get("state") or OutboxState.DEAD
        report = await operations.replay(
            gw,
            s.actor,
            message_id=form.get("message_id") or None,
            state=state,
            provider_ods=form.get("provider") or None,
            since=since,
            dry_run=not confirm,
        )
        keep = {k: form[k] for k in ("message_id", "state", "provider", "date_from") if form.get(k)}
        ctx = _context(request, s, report=report, params=keep, confirmed=confirm)
        return templates.TemplateResponse(request, "replay.html", ctx)

    return await _guarded(request, gw, handler, form=form)


# --- operators (admin) and the audit trail (auditor) ---


@router.get("/console/operators", response_class=HTMLResponse)
async def operators_page(request: Request, gw: Gw) -> Response:
    async def handler(s: ConsoleSession) -> Response:
        rows = await operators.list_operators(gw, s.actor)
        ctx = _context(request, s, operators=rows, roles=list(OperatorRole), created=None)
        return templates.TemplateResponse(request, "operators.html", ctx)

    return await _guarded(request, gw, handler)


@router.post("/console/operators", response_class=HTMLResponse)
async def operators_submit(request: Request, gw: Gw) -> Response:
    form = await read_form(request)

    async def handler(s: ConsoleSession) -> Response:
        username = form.get("username", "")
        if form.get("action") == "add":
            created = await operators.add_operator(
                gw, username=username, role=form.get("role", ""), password=form.get("password", ""), actor=s.actor
            )
            note = f"operator {created.username} added as {created.role}"
        else:
            active = {"enable": True, "disable": False}.get(form.get("action", ""))
            await operators.update_operator(gw, username, role=form.get("role") or None, active=active, actor=s.actor)
            note = f"operator {username} updated"
        rows = await operators.list_operators(gw, s.actor)
        ctx = _context(request, s, operators=rows, roles=list(OperatorRole), created=note)
        return templates.TemplateResponse(request, "operators.html", ctx)

    return await _guarded(request, gw, handler, form=form)


@router.get("/console/audit", response_class=HTMLResponse)
async def audit_page(request: Request, gw: Gw) -> Response:
    q = request.query_params

    async def handler(s: ConsoleSession) -> Response:
        result = await operations.audit_trail(
            gw,
            s.actor,
            entity_id=q.get("entity_id") or None,
            actor_id=q.get("actor") or None,
            page=_int(q.get("page", ""), 1),
            page_size=_int(q.get("page_size", ""), 50),
        )
        keep = {k: q[k] for k in ("entity_id", "actor") if q.get(k)}
        links = {
            "prev": f"?{urlencode({**keep, 'page': result['page'] - 1})}",
            "next": f"?{urlencode({**keep, 'page': result['page'] + 1})}",
        }
        return templates.TemplateResponse(request, "audit.html", _context(request, s, r=result, f=keep, links=links))

    return await _guarded(request, gw, handler)
