"""The authenticated principal of a request, from its bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.domain.principal import Principal
from gateway.security.clients import authenticate_client


def bearer_token(request: Request) -> str | None:
    """The token of the request's `Authorization: Bearer …` header; None without one (or with another scheme)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def current_principal(request: Request, gw: Annotated[Gateway, Depends(get_gateway)]) -> Principal:
    def note(principal: Principal) -> None:
        request.state.principal = principal

    return await authenticate_client(gw, bearer_token(request), seen=note)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
