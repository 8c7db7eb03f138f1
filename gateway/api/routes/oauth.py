"""The token endpoint: client credentials with a private_key_jwt assertion (SMART Backend Services style)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.api.deps import get_gateway, read_body
from gateway.context import Gateway
from gateway.errors import AuthenticationError
from gateway.limits import form_fields
from gateway.security.assertions import token_audience
from gateway.security.client_address import request_address
from gateway.security.clients import issue_token

router = APIRouter(tags=["auth"])


@router.post("/oauth2/token", summary="Exchange a signed client assertion for an access token")
async def token(
    request: Request, body: Annotated[bytes, Depends(read_body)], gw: Annotated[Gateway, Depends(get_gateway)]
) -> JSONResponse:
    gw.limiter.check(f"ip:{request_address(request, gw.settings.trusted_proxies)}")
    form = form_fields(body, max_fields=32)  # an assertion grant has five
    # The audience is this endpoint's configured public URL (HGW_BASE_URL), never the Host the caller sent.
    try:
        issued = await issue_token(gw, form, token_url=token_audience(gw.settings.public_base_url))
    except AuthenticationError as exc:
        status = 401 if exc.oauth_error == "invalid_client" else 400
        return JSONResponse(
            {"error": exc.oauth_error, "error_description": str(exc)},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse(issued.as_dict(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
