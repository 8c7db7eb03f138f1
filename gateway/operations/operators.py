"""Console operators: accounts, sign-in with lockout, server-side sessions, sign-out. Every sign-in is audited.

A session is an opaque random token: the browser keeps it in an HttpOnly cookie, the store keeps its SHA-256,
so a copy of the table cannot be replayed. A session ends at its absolute expiry, after an idle period, on
sign-out, or when its operator is disabled or changes role.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway import audit
from gateway.audit.actor import OperatorActor
from gateway.context import Gateway
from gateway.errors import AuthenticationError, ConflictError, InputError, Issue, Location, NotFoundError
from gateway.security.operators import USERNAME, OperatorRole, OpsActor, Permission, require_permission
from gateway.security.passwords import hash_password, password_problem, verify_password
from gateway.store import console as store
from gateway.store import repository
from gateway.store.security_tables import Operator, OperatorSession

# Names the gateway itself uses in the audit trail (the local command line acts as "operator:cli").
RESERVED = frozenset({"cli", "system", "gateway"})
# Sessions seen within this long are not written again: a page view is not a database write.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    username: str
    role: str
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    organisation_ods: str | None = None
    organisation_kind: str | None = None

    @classmethod
    def from_row(cls, row: Operator) -> OperatorInfo:
        return cls(
            row.username,
            row.role,
            row.active,
            row.locked_until,
            row.last_login_at,
            row.created_at,
            row.organisation_ods,
            row.organisation_kind,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "username": self.username,
            "role": self.role,
            "active": self.active,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "created_at": self.created_at.isoformat(),
            "organisation": self.organisation_ods,
            "organisation_kind": self.organisation_kind,
        }


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A live session: who, and the CSRF token its forms carry. `token` is set only when the session is new."""

    actor: OperatorActor
    csrf_token: str
    expires_at: datetime
    token: str = ""


def actor_of(row: Operator) -> OperatorActor:
    return OperatorActor(row.username, row.role, row.organisation_ods, row.organisation_kind)


def _invalid(field: str, message: str, value: str | None = None, expected: str | None = None) -> InputError:
    return InputError([Issue("INVALID_VALUE", message, Location(column=field), value=value, expected=expected)])


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.fullmatch(name) or name in RESERVED:
        raise _invalid("username", "not a usable username", username[:64], "2-48 of a-z 0-9 . _ -, starting a-z")
    return name


async def add_operator(
    gw: Gateway,
    *,
    username: str,
    role: str,
    password: str,
    actor: OpsActor | audit.SystemActor = audit.SYSTEM,
    organisation: str | None = None,
    organisation_kind: str | None = None,
) -> OperatorInfo:
    """Register an operator, or (with `organisation` and its kind, trust or provider) a member of a trust's or a
    provider's staff, who sees only that organisation's patients. The local command line (SYSTEM) or a console
    admin may do this."""
    if not isinstance(actor, audit.SystemActor):
        require_permission(actor, Permission.MANAGE_OPERATORS)
    name = check_username(username)
    if role not in set(OperatorRole):
        raise _invalid("role", "unknown role", role, ", ".join(OperatorRole))
    if (organisation is None) != (organisation_kind is None) or organisation_kind not in (None, "trust", "provider"):
        raise _invalid(
            "organisation_kind",
            "an organisation is a trust or a provider",
            organisation_kind,
            "both --organisation ODS and --organisation-kind trust|provider, or neither",
        )
    if organisation is not None and not (organisation.isalnum() and 3 <= len(organisation) <= 12):
        raise _invalid("organisation", "the organisation is an ODS code", organisation, "3 to 12 letters and digits")
    problem = password_problem(password)
    if problem is not None:
        raise _invalid("password", "the password is too weak", expected=problem)
    hashed = await asyncio.to_thread(hash_password, password)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        if await store.get_operator(session, name) is not None:
            raise ConflictError(f"operator {name} already exists")
        row = Operator(
            username=name,
            role=role,
            password_hash=hashed,
            organisation_ods=organisation.upper() if organisation else None,
            organisation_kind=organisation_kind,
            created_at=now,
            updated_at=now,
        )
        repository.save(session, row)
        await audit.append(
            session,
            gw.clock,
            actor,
            "security.configuration.change",
            "operator",
            name,
            "success",
            {"change": "operator-added", "role": role},
        )
    return OperatorInfo.from_row(row)


async def list_operators(gw: Gateway, actor: OpsActor | audit.SystemActor = audit.SYSTEM) -> list[OperatorInfo]:
    if not isinstance(actor, audit.SystemActor):
        require_permission(actor, Permission.MANAGE_OPERATORS)
    async with gw.sessions() as session:
        return [OperatorInfo.from_row(r) for r in await store.list_operators(session)]


async def update_operator(
    gw: Gateway,
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    actor: OpsActor | audit.SystemActor = audit.SYSTEM,
) -> OperatorInfo:
    """Change an operator's role or disable/enable them; their sessions end, so the change applies at once."""
    if not isinstance(actor, audit.SystemActor):
        require_permission(actor, Permission.MANAGE_OPERATORS)
    if role is not None and role not in set(OperatorRole):
        raise _invalid("role", "unknown role", role, ", ".join(OperatorRole))
    name = check_username(username)
    if isinstance(actor, OperatorActor) and actor.username == name:
        raise ConflictError("operators do not change their own role or access; ask another admin")
    async with gw.sessions() as session, session.begin():
        row = await store.get_operator(session, name)
        if row is None:
            raise NotFoundError(f"operator {name} not found")
        detail: dict[str, str | int | bool] = {"change": "operator-updated"}
        if role is not None:
            row.role = role
            detail["role"] = role
        if active is not None:
            row.active = active
            row.failed_logins = 0
            row.locked_until = None
            detail["active"] = active
        row.updated_at = gw.clock()
        repository.save(session, row)
        await store.end_sessions_of(session, name)
        await audit.append(
            session, gw.clock, actor, "security.configuration.change", "operator", name, "success", detail
        )
    return OperatorInfo.from_row(row)


async def login(gw: Gateway, username: str, password: str) -> ConsoleSession:
    """A new session, or AuthenticationError (the same message for every refusal: nothing to learn from it).

    After `console_max_failures` wrong passwords in a row the account is locked for `console_lockout_seconds`;
    a locked account refuses even the right password."""
    settings = gw.settings
    name = username.strip().lower()
    valid_name = bool(USERNAME.fullmatch(name))
    async with gw.sessions() as session:
        row = await store.get_operator(session, name) if valid_name else None
        stored = row.password_hash if row is not None else None
    matches = await asyncio.to_thread(verify_password, password, stored)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        row = await store.get_operator(session, name) if valid_name else None
        entity = name if valid_name else "invalid-username"
        if row is None or not row.active:
            reason = "unknown" if row is None else "disabled"
        elif row.locked_until is not None and row.locked_until > now:
            reason = "locked"
        elif not matches:
            reason = "bad-password"
            row.failed_logins += 1
            if row.failed_logins >= settings.console_max_failures:
                row.locked_until = now + timedelta(seconds=settings.console_lockout_seconds)
                row.failed_logins = 0
                reason = "bad-password-locked"
            repository.save(session, row)
        else:
            reason = ""
        if reason:
            actor: OperatorActor | audit.SystemActor = (
                actor_of(row) if row is not None else audit.SystemActor("console-login")
            )
            await audit.append(
                session, gw.clock, actor, "operator.login", "operator", entity, "refused", {"reason": reason}
            )
        else:
            assert row is not None  # noqa: S101 - reason is empty only for an existing row
            row.failed_logins = 0
            row.locked_until = None
            row.last_login_at = now
            repository.save(session, row)
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(seconds=settings.console_session_seconds)
            csrf = secrets.token_urlsafe(32)
            repository.save(
                session,
                OperatorSession(
                    token_sha256=_sha(token),
                    username=row.username,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                )
            )
            await store.purge_sessions(session, now)
            who = actor_of(row)
            await audit.append(session, gw.clock, who, "operator.login", "operator", row.username, "success")
    if reason:
        raise AuthenticationError("wrong username or password, or the account is locked", oauth_error="access_denied")
    return ConsoleSession(who, csrf, expires, token)


async def session_for(gw: Gateway, token: str | None) -> ConsoleSession | None:
    """The live session of a cookie token, or None (unknown, expired, idle too long, operator disabled)."""
    if not token or len(token) > 128:
        return None
    now = gw.clock()
    key = _sha(token)
    async with gw.sessions() as session:
        row = await store.get_session(session, key)
        if row is None:
            return None
        operator = await store.get_operator(session, row.username)
    idle = timedelta(seconds=gw.settings.console_idle_seconds)
    if operator is None or not operator.active or row.expires_at <= now or row.last_seen_at + idle <= now:
        async with gw.sessions() as session, session.begin():
            await store.end_session(session, key)
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        async with gw.sessions() as session, session.begin():
            fresh = await store.get_session(session, key)
            if fresh is not None:
                fresh.last_seen_at = now
                repository.save(session, fresh)
    return ConsoleSession(actor_of(operator), row.csrf_token, row.expires_at)


async def logout(gw: Gateway, token: str, actor: OperatorActor | None = None) -> None:
    """End the session of `token`; `actor` is its operator when the caller has already resolved the session."""
    if actor is None:
        current = await session_for(gw, token)
        actor = current.actor if current is not None else None
    async with gw.sessions() as session, session.begin():
        await store.end_session(session, _sha(token))
        if actor is not None:
            await audit.append(session, gw.clock, actor, "operator.logout", "operator", actor.username, "success")
