"""Helpers for the integration tests: exports with known content, and provider-side message building."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows

FHIR = {"Content-Type": "application/fhir+json"}


def export(count: int, **kwargs: Any) -> bytes:
    return render_export(export_rows(count, **kwargs))


async def post_export(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post("/api/v1/exports", content=body, headers={"Content-Type": "text/csv"})


async def post_fhir(client: httpx.AsyncClient, path: str, resource: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=resource, headers=FHIR)


def error_codes(outcome: dict[str, Any]) -> list[str]:
    return [i["details"]["coding"][0]["code"] for i in outcome["issue"]]


def passed_prescriptions(r: httpx.Response) -> list[dict[str, Any]]:
    """The orders a Task/$release answer hands over: the resources of its passedPrescriptions Bundle."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert any(p["name"] == "passedPrescriptions" for p in body["parameter"]), r.text
    return msg.passed_orders(body)


async def release(client: httpx.AsyncClient, ods: str, **kw: Any) -> list[dict[str, Any]]:
    """Task/$release as provider `ods` (keywords as `release_request` takes them); the orders handed over."""
    return passed_prescriptions(await post_fhir(client, "/FHIR/R4/Task/$release", msg.release_request(ods, **kw)))


async def status_feed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The caller's status feed from the start (up to 1000 events)."""
    r = await client.get("/api/v1/status-feed", params={"limit": "1000"})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


async def export_sids(client: httpx.AsyncClient, count: int, seed: int, trust_ods: str = "RBA") -> list[str]:
    """Export `count` sample prescriptions as `trust_ods`; their short-form ids."""
    r = await post_export(client, export(count, seed=seed, trust_ods=trust_ods))
    assert r.status_code == 200, r.text
    return [p["short_form_id"] for p in r.json()["prescriptions"]]


def hgw_runner(database_url: str, data_dir: Path) -> Callable[..., Any]:
    """hgw(*args, code=0): run `hgw` in-process on this store; assert its exit code and return its JSON output."""
    from gateway.cli import cli

    runner = CliRunner()
    base = ["--database-url", database_url, "--data-dir", str(data_dir)]

    def hgw(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, [*base, *args])
        assert result.exit_code == code, result.output
        return json.loads(result.output)

    return hgw
