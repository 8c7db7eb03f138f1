"""Security headers, correlation ids, per-client rate limits and body limits enforced before parsing."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.wiring import build_gateway
from tests.conftest import serve
from tests.integration.helpers import export, post_export


async def test_security_headers_and_correlation_id(trust: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    r = await anon.get("/healthz", headers={"X-Request-ID": "trace-me-123"})
    assert r.headers["x-correlation-id"] == "trace-me-123"
    for name in (
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
        "strict-transport-security",
    ):
        assert name in r.headers, name
    assert r.headers["x-content-type-options"] == "nosniff"
    view = await trust.get("/api/v1/prescriptions/missing")
    assert view.headers["cache-control"] == "no-store"
    assert len(view.headers["x-correlation-id"]) == 36  # generated when none is given


async def test_rate_limit_per_client(settings: Settings) -> None:
    tight = settings.model_copy(update={"rate_per_minute": 1, "rate_burst": 3})
    gw = build_gateway(tight)
    try:
        trust_key = await register_party(gw, "trust", "RBA")
        other_key = await register_party(gw, "trust", "RHM")
        async with serve(gw) as base, party_client(base, trust_key) as trust, party_client(base, other_key) as other:
            statuses = [(await trust.get("/api/v1/prescriptions/x")).status_code for _ in range(4)]
            assert statuses == [404, 404, 404, 429]
            limited = await trust.get("/api/v1/prescriptions/x")
            assert int(limited.headers["retry-after"]) >= 1
            assert (await other.get("/api/v1/prescriptions/x")).status_code == 404  # another client's own bucket
    finally:
        await gw.close()


async def test_oversized_body_is_refused_before_parsing_and_stores_nothing(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    gw = build_gateway(small)
    try:
        await admin.add_provider(gw, ods="VNFKT", name="Five Star Homecare Leeds Ltd", mode="pull")
        await configure_sample_directory(gw)
        await admin.add_route(gw, provider_ods="VNFKT")
        key = await register_party(gw, "trust", "RBA")
        async with serve(gw) as base, party_client(base, key) as trust:
            body = export(5, seed=41)
            assert len(body) > 2048
            r = await post_export(trust, body)
            assert r.status_code == 413
            assert r.json()["issues"][0]["code"] == "PAYLOAD_TOO_LARGE"
        async with gw.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM inbound_payload"))).scalar() == 0
    finally:
        await gw.close()
