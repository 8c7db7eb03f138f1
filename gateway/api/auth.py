"""The authenticated principal of a request, from its bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.api.deps import get_gateway
from gateway.security.clients import authenticate
from gateway.security.principal import Principal
from gateway.services.context import Gateway


async def current_principal(request: Request, gw: Annotated[Gateway, Depends(get_gateway)]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = await authenticate(gw, token.strip() if scheme.lower() == "bearer" else None)
    request.state.principal = principal
    gw.limiter.check(f"client:{principal.client_id}")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
