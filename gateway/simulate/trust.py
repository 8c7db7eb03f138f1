"""A simulated trust: posts a generated JAC export and reports what the gateway answered."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows


async def post_export(client: httpx.AsyncClient, rows: list[dict[str, str]]) -> dict[str, Any]:
    response = await client.post("/api/v1/exports", content=render_export(rows), headers={"Content-Type": "text/csv"})
    if response.status_code not in (200, 422):
        raise RuntimeError(f"/api/v1/exports answered {response.status_code}: {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


async def post_sample_export(
    client: httpx.AsyncClient,
    count: int,
    *,
    seed: int = 1,
    trust_ods: str = "RBA",
    provider_ods: str | None = None,
    max_deliveries: int = 3,
) -> dict[str, Any]:
    rows = export_rows(count, seed=seed, trust_ods=trust_ods, provider_ods=provider_ods, max_deliveries=max_deliveries)
    return await post_export(client, rows)
