"""GET /.well-known/jwks.json through the ASGI app: current and retired keys, public parts only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from gateway.api.routes import jwks
from gateway.settings import Settings
from gateway.signing.bundle import sign_bundle, verify_bundle
from gateway.signing.keys import SigningKeyStore
from tests.unit.signing.support import NOW


def app_with(state: dict[str, object]) -> FastAPI:
    app = FastAPI()
    for name, value in state.items():
        setattr(app.state, name, value)
    app.include_router(jwks.router)
    return app


async def get_jwks(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        return await client.get("/.well-known/jwks.json")


async def test_serves_current_and_retired_keys(store: SigningKeyStore) -> None:
    old = store.current().kid
    new = store.rotate().current.kid
    response = await get_jwks(app_with({"signing_keys": store}))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    body = response.json()
    assert [k["kid"] for k in body["keys"]] == [new, old]
    assert all("d" not in k for k in body["keys"])
    signed = sign_bundle({"resourceType": "Bundle"}, store, now=NOW, target_refs=["urn:uuid:x"])
    assert verify_bundle(signed, body).ok


async def test_uses_the_gateways_own_store(tmp_path: Path) -> None:
    store = SigningKeyStore.load_or_create(tmp_path, "test", clock=lambda: NOW)
    gw = SimpleNamespace(settings=Settings(data_dir=tmp_path, mode="test"), clock=lambda: NOW, signing=store)
    app = app_with({"gateway": gw})
    first = (await get_jwks(app)).json()
    assert [k["kid"] for k in first["keys"]] == [k.kid for k in store.keys()]


async def test_in_openapi_schema(store: SigningKeyStore) -> None:
    schema = app_with({"signing_keys": store}).openapi()
    assert "/.well-known/jwks.json" in schema["paths"]
