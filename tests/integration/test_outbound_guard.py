"""The outbound policy end to end: webhook, provider endpoint and JWKS URLs pointing at internal addresses are refused
when registered (each located), and connections go only to the address checked, over real loopback sockets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import uvicorn

from gateway.context import Gateway
from gateway.errors import InputError
from gateway.operations import admin
from gateway.security.clients import add_client
from gateway.security.guarded_transport import GuardedTransport
from gateway.security.outbound import OutboundPolicy, StaticResolver
from tests.conftest import running

INTERNAL = StaticResolver(
    {"metadata.example": ["169.254.169.254"], "intranet.example": ["10.1.2.3"]}, otherwise=("93.184.215.14",)
)


@pytest.fixture
def operator(as_party: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_party("operator")
    return client


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://metadata.example/x",
        "https://intranet.example/hook",
        "https://[fd00::1]/hook",
        "https://10.0.0.5/hook",
        "https://127.0.0.1:9/hook",
    ],
)
async def test_a_trust_cannot_point_a_webhook_at_an_internal_address(
    url: str, gw: Gateway, trust: httpx.AsyncClient
) -> None:
    gw.resolver = INTERNAL
    gw.outbound = OutboundPolicy()  # production: no loopback allowance
    r = await trust.post("/api/v1/webhooks", json={"url": url, "format": "json"})
    assert r.status_code == 400, r.text
    issue = r.json()["issues"][0]
    assert (issue["code"], issue["expression"]) == ("INVALID_WEBHOOK_URL", "url")
    assert (await trust.get("/api/v1/webhooks")).json()["webhooks"] == []


async def test_provider_endpoints_and_jwks_urls_are_checked_when_registered(
    gw: Gateway, operator: httpx.AsyncClient
) -> None:
    gw.resolver = INTERNAL
    gw.outbound = OutboundPolicy()
    new = {"ods": "VNPSH", "name": "Push Homecare", "mode": "push", "endpoint": "https://metadata.example/FHIR/R4"}
    r = await operator.post("/api/v1/admin/providers", json=new)
    assert r.status_code == 400 and r.json()["issues"][0]["expression"] == "endpoint", r.text
    assert (
        await operator.patch("/api/v1/admin/providers/VNFKT", json={"endpoint": "https://10.9.9.9/x"})
    ).status_code == 400
    ok = await operator.post("/api/v1/admin/providers", json={**new, "endpoint": "https://provider.example/FHIR/R4"})
    assert ok.status_code == 201, ok.text
    with pytest.raises(InputError) as caught:
        await add_client(gw, role="provider", ods="VNPSH", jwks_url="https://intranet.example/jwks.json")
    assert caught.value.issues[0].location.column == "--jwks"
    # An operator who allows the range (HGW_OUTBOUND_ALLOW_CIDRS) may register it.
    gw.outbound = OutboundPolicy.from_settings("10.0.0.0/8", allow_loopback=False, mode="production")
    provider = await admin.update_provider(gw, "VNPSH", endpoint="https://intranet.example/FHIR/R4")
    assert provider.endpoint == "https://intranet.example/FHIR/R4"


seen: list[str] = []  # the Host header of every request the receiver answered


async def _receiver(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    seen.append(dict(scope["headers"]).get(b"host", b"").decode())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_connections_go_to_the_checked_address_only() -> None:
    seen.clear()
    config = uvicorn.Config(_receiver, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    async with running(config) as port:
        names = {"receiver.test": ["127.0.0.1"]}
        allowed = GuardedTransport(OutboundPolicy(allow_loopback=True), StaticResolver(names))
        async with httpx.AsyncClient(transport=allowed) as client:
            r = await client.get(f"http://receiver.test:{port}/")
            assert r.status_code == 200 and seen == [f"receiver.test:{port}"]  # the name kept, the address checked
        await allowed.close()
        refused = GuardedTransport(OutboundPolicy(), StaticResolver(names))
        async with httpx.AsyncClient(transport=refused) as client:
            with pytest.raises(httpx.ConnectError, match="loopback"):
                await client.get(f"http://receiver.test:{port}/")
        await refused.close()
    assert len(seen) == 1
