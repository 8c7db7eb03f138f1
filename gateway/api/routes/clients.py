"""The operator API for API clients: list them, disable (revoking every token at once), enable, remove.

Operators only (the service checks the role); an operator client may not disable or remove itself; every change
audited. docs/security.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.security import client_admin

router = APIRouter(prefix="/api/v1/admin/clients", tags=["operator"])
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
ClientId = Annotated[str, Path(min_length=1, max_length=64, description="the client id")]


@router.get("", summary="Registered API clients, with their state and live tokens")
async def list_clients(gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"clients": [c.as_dict() for c in await client_admin.list_clients(gw, principal)]}


@router.post("/{client_id}/disable", summary="Disable a client: every token it holds stops working at once")
async def disable_client(client_id: ClientId, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return (await client_admin.set_active(gw, client_id, False, principal)).as_dict()


@router.post("/{client_id}/enable", summary="Enable a disabled client (it must fetch a new token)")
async def enable_client(client_id: ClientId, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return (await client_admin.set_active(gw, client_id, True, principal)).as_dict()


@router.delete("/{client_id}", summary="Remove a client with its tokens (its audit trail stays)")
async def remove_client(client_id: ClientId, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await client_admin.remove_client(gw, client_id, principal)
