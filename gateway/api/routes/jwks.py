"""The gateway's public signing keys, current and retired-but-kept, for verifying the bundles it signs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from gateway.api.deps import get_gateway
from gateway.errors import NotFoundError
from gateway.signing.keys import SigningKeyStore

router = APIRouter(tags=["security"])


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    y: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


def get_signing_keys(request: Request) -> SigningKeyStore:
    """`app.state.signing_keys` when the app was given one, else the gateway's own store."""
    store = getattr(request.app.state, "signing_keys", None) or getattr(get_gateway(request), "signing", None)
    if not isinstance(store, SigningKeyStore):
        raise NotFoundError("this gateway has no signing keys")
    return store


@router.get("/.well-known/jwks.json", response_model=Jwks)
def jwks(store: Annotated[SigningKeyStore, Depends(get_signing_keys)], response: Response) -> Jwks:
    """The JWKS (RFC 7517) of the keys that sign outbound bundles; verifiers refetch it on an unknown kid."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return Jwks.model_validate(store.public_jwks())
