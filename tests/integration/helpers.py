"""Helpers for the integration tests: exports with known content, and provider-side message building."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.jac.writer import render_export
from gateway.simulate.samples import export_rows

FHIR = {"Content-Type": "application/fhir+json"}


def export(count: int, **kwargs: Any) -> bytes:
    return render_export(export_rows(count, **kwargs))


async def post_export(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post("/api/v1/exports", content=body, headers={"Content-Type": "text/csv"})


async def post_fhir(client: httpx.AsyncClient, path: str, resource: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=resource, headers=FHIR)


def error_codes(outcome: dict[str, Any]) -> list[str]:
    return [i["details"]["coding"][0]["code"] for i in outcome["issue"]]
