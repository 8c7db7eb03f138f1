"""The lifecycle of a registered client after `add_client`: list, disable, enable, remove; and the purge of spent
assertion ids and expired tokens.

Disabling a client revokes every token it holds at once: its tokens are deleted, and `authenticate` reads the
client's state with the token, so a token issued a moment before the change is refused too. A removed client's
tokens and used assertion ids go with it. Callers through the API are `Principal`s and must be operators, and may
not disable or remove the client they are calling with; the command line acts as the gateway (`audit.SYSTEM`).
Every change is audited as `security.configuration.change` in the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.domain.principal import Principal, Role, require_role
from gateway.errors import ConflictError, NotFoundError
from gateway.store import clients as store
from gateway.store import repository
from gateway.store.security_tables import ApiClient

OPERATIONS = ("operations",)


@dataclass(frozen=True, slots=True)
class ClientView:
    """A registered client as operators see it (never its keys)."""

    client_id: str
    role: str
    ods: str
    alg: str
    active: bool
    jwks_url: str | None
    created_at: datetime
    live_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "role": self.role,
            "ods": self.ods,
            "alg": self.alg,
            "active": self.active,
            "jwks_url": self.jwks_url,
            "created_at": self.created_at.isoformat(),
            "live_tokens": self.live_tokens,
        }


@dataclass(frozen=True, slots=True)
class PurgeReport:
    assertion_jtis: int
    access_tokens: int

    def as_dict(self) -> dict[str, int]:
        return {"assertion_jtis": self.assertion_jtis, "access_tokens": self.access_tokens}


def _authorise(actor: audit.Actor, client_id: str | None = None) -> None:
    if isinstance(actor, Principal):
        require_role(actor, Role.OPERATOR, scopes=OPERATIONS)
        if client_id is not None and actor.client_id == client_id:
            raise ConflictError("a client cannot disable or remove itself: use another operator client")


async def list_clients(gw: Gateway, actor: audit.Actor = audit.SYSTEM) -> list[ClientView]:
    _authorise(actor)
    async with gw.sessions() as session:
        rows = await store.clients_with_live_tokens(session, gw.clock())
    return [ClientView(c.id, c.role, c.ods, c.alg, c.active, c.jwks_url, c.created_at, n) for c, n in rows]


async def set_active(gw: Gateway, client_id: str, active: bool, actor: audit.Actor = audit.SYSTEM) -> ClientView:
    """Enable or disable a client; disabling deletes (revokes) every token it holds."""
    _authorise(actor, None if active else client_id)
    async with gw.sessions() as session, session.begin():
        client = await _client(session, client_id)
        revoked = 0
        if not active:
            revoked = await store.delete_credentials(session, client.id, jtis=False)
        if client.active != active or revoked:
            client.active = active
            repository.save(session, client)
            change = "client-enabled" if active else "client-disabled"
            await _audit(session, gw, actor, client.id, {"change": change, "tokens_revoked": revoked})
    return ClientView(client.id, client.role, client.ods, client.alg, active, client.jwks_url, client.created_at, 0)


async def remove_client(gw: Gateway, client_id: str, actor: audit.Actor = audit.SYSTEM) -> dict[str, Any]:
    """Remove a client with its tokens and used assertion ids; what it did stays in the audit trail."""
    _authorise(actor, client_id)
    async with gw.sessions() as session, session.begin():
        client = await _client(session, client_id)
        revoked = await store.delete_credentials(session, client.id, jtis=True)
        await repository.remove(session, client)
        await _audit(session, gw, actor, client.id, {"change": "client-removed", "tokens_revoked": revoked})
    return {"removed": client.id, "role": client.role, "ods": client.ods, "tokens_revoked": revoked}


async def purge_expired(gw: Gateway) -> PurgeReport:
    """Delete the assertion ids and access tokens whose lifetime has passed: an expired assertion is refused by
    its exp, so its jti need not be kept, and an expired token authenticates nobody."""
    async with gw.sessions() as session, session.begin():
        jtis, tokens = await store.purge_expired(session, gw.clock())
    return PurgeReport(jtis, tokens)


async def _client(session: AsyncSession, client_id: str) -> ApiClient:
    known = 0 < len(client_id) <= 64
    client: ApiClient | None = await repository.get_by_id(session, ApiClient, client_id) if known else None
    if client is None:
        raise NotFoundError(f"client {client_id[:64]} is not registered")
    return client


async def _audit(
    session: AsyncSession, gw: Gateway, actor: audit.Actor, client_id: str, detail: dict[str, str | int]
) -> None:
    await audit.append(
        session, gw.clock, actor, "security.configuration.change", "api-client", client_id, "success", detail
    )
