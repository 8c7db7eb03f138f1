"""The gateway suite's groups and the steps its tests share (as the preset's trust and provider)."""

from __future__ import annotations

from typing import Any

from adapters.jac.writer import render_export
from conformance.checks import (
    FHIR_JSON,
    eps_acceptance_findings,
    expect_status,
    json_body,
    message_header,
)
from conformance.context import Party, SuiteContext
from conformance.model import Suite, TestRun
from conformance.parties import provider_messages as msg

SUITE = Suite("gateway", "Homecare Gateway conformance: gateway")
FHIR = {"Content-Type": FHIR_JSON}

meta = SUITE.group("GW-META", "Authentication, metadata and validation")
flow = SUITE.group("GW-FLOW", "Export → order → acknowledgement → dispense → delivery → status")
formats = SUITE.group("GW-FMT", "Other inbound formats: Ascribe XML, EPS FHIR")
cancel = SUITE.group("GW-CANCEL", "Cancellation of an order the provider has")
errors = SUITE.group("GW-ERR", "Bad input, idempotency, tenancy and lifecycle")


def party_ods(ctx: SuiteContext, name: str) -> str:
    party = ctx.party(name)
    if party is None:
        raise KeyError(name)
    return party.ods


def need(ctx: SuiteContext, t: TestRun, *names: str) -> list[Party]:
    """The preset's parties `names`, in that order; the test skips when any is missing."""
    parties = [ctx.party(n) for n in names]
    missing = [n for n, p in zip(names, parties, strict=True) if p is None]
    if missing:
        t.skip(f"the preset has no {', '.join(missing)}")
    return [p for p in parties if p is not None]


async def post_export(ctx: SuiteContext, rows: list[dict[str, str]]) -> Any:
    return await ctx.client("trust").post(
        "/api/v1/exports", content=render_export(rows), headers={"Content-Type": "text/csv"}
    )


async def post_message(ctx: SuiteContext, party: str, bundle: dict[str, Any]) -> Any:
    """POST a FHIR message (an order, an acknowledgement, a dispense notification…) as `party`."""
    return await ctx.client(party).post("/FHIR/R4/$process-message", json=bundle, headers=FHIR)


async def prescription_view(ctx: SuiteContext, t: TestRun, sid: str, requirement: str) -> dict[str, Any]:
    r = await ctx.client("trust").get(f"/api/v1/prescriptions/{sid}")
    expect_status(t, r, 200, requirement, f"GET /api/v1/prescriptions/{sid}")
    view: dict[str, Any] = json_body(t, r, requirement)
    return view


async def release_for(ctx: SuiteContext, t: TestRun, party: str, sid: str) -> tuple[int, list[dict[str, Any]]]:
    """Task/$release for one prescription; every prescription-order received goes through the EPS acceptance
    check (GW-EPS-1), as EPS's coordinator would read it."""
    ods = party_ods(ctx, party)
    r = await ctx.client(party).post(
        "/FHIR/R4/Task/$release", json=msg.release_request(ods, short_form_id=sid), headers=FHIR
    )
    if r.status_code != 200:
        return r.status_code, []
    orders = msg.passed_orders(r.json())
    for order in orders:
        header = message_header(order) or {}
        if (header.get("eventCoding") or {}).get("code") == "prescription-order":
            eps_acceptance_findings(t, order)
    return 200, orders
