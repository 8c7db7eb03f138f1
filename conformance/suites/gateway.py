"""The gateway suite: certify a deployed gateway end to end, acting as the preset's trust and provider.

This module holds authentication, metadata and the flow; gateway_errors.py cancellation and bad input.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from adapters.ascribe.writer import render_export as render_ascribe
from conformance.checks import (
    FHIR_JSON,
    expect_status,
    json_body,
    outcome_issues,
    validation_findings,
)
from conformance.client_auth import token_request
from conformance.context import SuiteContext
from conformance.identifiers import PRESCRIPTION_ORDER_NUMBER, is_valid_short_form_id
from conformance.model import TestRun
from conformance.orders import SampleOrder, prescriptions, unique_rows
from conformance.parties import provider_messages as msg
from conformance.signatures import verify_bundle
from conformance.suites.gateway_common import (
    FHIR,
    SUITE,
    flow,
    formats,
    meta,
    need,
    party_ods,
    post_export,
    post_message,
    prescription_view,
    release_for,
)

__all__ = ["SUITE"]


# --- GW-META ----------------------------------------------------------------------------------------------------
@meta.test("GW-META-001", "Non-public endpoints refuse anonymous callers", requirements=["GW-AUTH-1"])
async def anonymous_refused(ctx: SuiteContext, t: TestRun) -> None:
    anon = ctx.client()
    for method, path in (
        ("GET", "/FHIR/R4/metadata"),
        ("GET", "/api/v1/status-feed"),
        ("POST", "/FHIR/R4/Task/$release"),
    ):
        r = await anon.request(method, path, headers=FHIR)
        t.check(r.status_code == 401, "GW-AUTH-1", f"anonymous {method} {path} answered {r.status_code}", path)
        t.check(
            "bearer" in r.headers.get("www-authenticate", "").lower(),
            "GW-AUTH-1",
            f"{method} {path}: no WWW-Authenticate: Bearer challenge",
            f"{path} WWW-Authenticate",
        )


@meta.test("GW-META-002", "Token endpoint accepts a private_key_jwt assertion", requirements=["GW-AUTH-2"])
async def token(ctx: SuiteContext, t: TestRun) -> None:
    [party] = need(ctx, t, "trust")
    url = f"{ctx.base}/oauth2/token"
    r = await ctx.client().post(url, data=token_request(party.key, url))
    expect_status(t, r, 200, "GW-AUTH-2", "POST /oauth2/token")
    body = json_body(t, r, "GW-AUTH-2")
    t.check(isinstance(body.get("access_token"), str), "GW-AUTH-2", "no access_token", "access_token")
    t.check(str(body.get("token_type", "")).lower() == "bearer", "GW-AUTH-2", "token_type is not Bearer", "token_type")
    t.check(isinstance(body.get("expires_in"), int | float), "GW-AUTH-2", "no expires_in", "expires_in")


@meta.test("GW-META-003", "CapabilityStatement", requirements=["GW-META-1"])
async def capability(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust")
    r = await ctx.client("trust").get("/FHIR/R4/metadata")
    expect_status(t, r, 200, "GW-META-1", "GET /FHIR/R4/metadata")
    t.check(
        r.headers.get("content-type", "").startswith(FHIR_JSON),
        "GW-META-1",
        f"Content-Type is {r.headers.get('content-type')!r}",
        "Content-Type",
    )
    body = json_body(t, r, "GW-META-1")
    t.check(
        body.get("resourceType") == "CapabilityStatement",
        "GW-META-1",
        f"resourceType is {body.get('resourceType')!r}",
        "CapabilityStatement.resourceType",
    )


@meta.test(
    "GW-META-004", "$validate: no error for a conforming order, located errors otherwise", requirements=["GW-META-2"]
)
async def validate_operation(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust", "provider")
    sample = SampleOrder(party_ods(ctx, "provider"), party_ods(ctx, "trust"))
    client = ctx.client("trust")
    r = await client.post("/FHIR/R4/$validate", json=sample.bundle, headers=FHIR)
    body = json_body(t, r, "GW-META-2")
    errors_found = [i for i in outcome_issues(body) if i.get("severity") in ("error", "fatal")]
    t.check(
        body.get("resourceType") == "OperationOutcome", "GW-META-2", "answer is not an OperationOutcome", "resourceType"
    )
    t.check(
        not errors_found,
        "GW-META-2",
        f"errors reported for a conforming order: {errors_found[:3]}",
        "OperationOutcome.issue",
    )
    broken, path = sample.broken()
    r = await client.post("/FHIR/R4/$validate", json=broken, headers=FHIR)
    issues = [i for i in outcome_issues(json_body(t, r, "GW-META-2")) if i.get("severity") in ("error", "fatal")]
    t.require(bool(issues), "GW-META-2", "no error for an order whose NHS number fails Modulus 11", path)
    located = [i for i in issues if any(path in str(e) or "identifier" in str(e) for e in i.get("expression", []))]
    t.check(
        bool(located), "GW-META-2", f"the error does not name {path}: {issues[:2]}", "OperationOutcome.issue.expression"
    )


@meta.test("GW-META-005", "JWKS publishes the signing keys", requirements=["GW-META-3"])
async def jwks(ctx: SuiteContext, t: TestRun) -> None:
    r = await ctx.client().get("/.well-known/jwks.json")
    expect_status(t, r, 200, "GW-META-3", "GET /.well-known/jwks.json")
    keys = json_body(t, r, "GW-META-3").get("keys")
    t.require(isinstance(keys, list) and bool(keys), "GW-META-3", "no keys published", "keys")
    ctx.state["jwks"] = r.json()


# --- GW-FLOW ----------------------------------------------------------------------------------------------------
@flow.test("GW-FLOW-001", "A trust export is accepted per prescription", requirements=["GW-EXP-1"])
async def export_accepted(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust", "provider")
    rows = unique_rows(1, trust_ods=party_ods(ctx, "trust"), provider_ods=party_ods(ctx, "provider"))
    r = await post_export(ctx, rows)
    expect_status(t, r, 200, "GW-EXP-1", "POST /api/v1/exports")
    report = json_body(t, r, "GW-EXP-1")
    t.require(
        report.get("outcome") == "accepted",
        "GW-EXP-1",
        f"export outcome {report.get('outcome')!r}: {report.get('prescriptions')}",
        "outcome",
    )
    p = report["prescriptions"][0]
    sid = p.get("short_form_id", "")
    t.require(
        is_valid_short_form_id(sid),
        "GW-EXP-1",
        f"short-form id {sid!r} fails MOD 37-2",
        "prescriptions[0].short_form_id",
    )
    t.check(
        p.get("provider_ods") == party_ods(ctx, "provider"),
        "GW-EXP-1",
        f"routed to {p.get('provider_ods')!r}, the export named {party_ods(ctx, 'provider')}",
        "prescriptions[0].provider_ods",
    )
    ctx.state.update(rows=rows, sid=sid)


@flow.test(
    "GW-FLOW-002",
    "The provider releases a valid, signed order that EPS would accept",
    requirements=["GW-REL-1", "GW-REL-2", "GW-EPS-1"],
    depends=["GW-FLOW-001"],
)
async def released(ctx: SuiteContext, t: TestRun) -> None:
    status, orders = await release_for(ctx, t, "provider", ctx.state["sid"])
    t.require(status == 200, "GW-REL-1", f"Task/$release answered {status}", "HTTP status")
    t.require(
        len(orders) == 1,
        "GW-REL-1",
        f"{len(orders)} orders released for {ctx.state['sid']}, expected 1",
        "passedPrescriptions",
    )
    order = orders[0]
    validation_findings(t, order, "GW-REL-1")
    facts = msg.order_facts(order)
    t.check(
        facts["event"] == "prescription-order",
        "GW-REL-1",
        f"event {facts['event']!r}",
        "Bundle.entry[0].resource.eventCoding.code",
    )
    jwks_doc = ctx.state.get("jwks") or (await ctx.client().get("/.well-known/jwks.json")).json()
    verdict = verify_bundle(order, jwks_doc)
    t.check(
        verdict.ok,
        "GW-REL-2",
        f"gateway signature: {verdict.status} {verdict.detail or ''}",
        "Bundle.entry.where(resource is Provenance).resource.signature",
    )
    ctx.state["facts"] = facts


@flow.test("GW-FLOW-003", "A leased order is not released twice", requirements=["GW-REL-3"], depends=["GW-FLOW-002"])
async def lease_holds(ctx: SuiteContext, t: TestRun) -> None:
    status, orders = await release_for(ctx, t, "provider", ctx.state["sid"])
    t.check(
        status == 200 and not orders,
        "GW-REL-3",
        f"released again while leased ({len(orders)} orders)",
        "passedPrescriptions",
    )


@flow.test(
    "GW-FLOW-004",
    "An ok acknowledgement makes the prescription With Dispenser",
    requirements=["GW-ACK-1"],
    depends=["GW-FLOW-002"],
)
async def acknowledged(ctx: SuiteContext, t: TestRun) -> None:
    ods, facts = party_ods(ctx, "provider"), ctx.state["facts"]
    r = await post_message(ctx, "provider", msg.acknowledgement(ods, facts["message_id"], "urn:conformance"))
    expect_status(t, r, 200, "GW-ACK-1", "acknowledgement")
    view = await prescription_view(ctx, t, ctx.state["sid"], "GW-ACK-1")
    t.check(view["status"]["code"] == "0002", "GW-ACK-1", f"status {view['status']} after ok", "status.code")


@flow.test(
    "GW-FLOW-005", "Delivery Tasks: scheduled and dispatched", requirements=["GW-STATUS-1"], depends=["GW-FLOW-004"]
)
async def delivery_tasks(ctx: SuiteContext, t: TestRun) -> None:
    ods, facts = party_ods(ctx, "provider"), ctx.state["facts"]
    for state in ("scheduled", "dispatched"):
        task = msg.delivery_task(
            ods, facts, 1, state, scheduled=datetime.now(UTC).date() if state == "scheduled" else None
        )
        r = await ctx.client("provider").post("/FHIR/R4/Task", json=task, headers=FHIR)
        expect_status(t, r, 201, "GW-STATUS-1", f"delivery Task {state}")
    view = await prescription_view(ctx, t, ctx.state["sid"], "GW-STATUS-1")
    states = [d["state"] for d in view.get("deliveries", [])]
    t.check(states == ["dispatched"], "GW-STATUS-1", f"deliveries {states}, expected ['dispatched']", "deliveries")


@flow.test(
    "GW-FLOW-006",
    "Dispense notification and delivery complete the prescription",
    requirements=["GW-STATUS-2"],
    depends=["GW-FLOW-005"],
)
async def dispensed(ctx: SuiteContext, t: TestRun) -> None:
    ods, facts, now = party_ods(ctx, "provider"), ctx.state["facts"], datetime.now(UTC)
    provider = ctx.client("provider")
    r = await post_message(ctx, "provider", msg.dispense_notification(ods, facts, 1, "urn:conformance", now))
    expect_status(t, r, 200, "GW-STATUS-2", "dispense-notification")
    r = await provider.post("/FHIR/R4/Task", json=msg.delivery_task(ods, facts, 1, "delivered", at=now), headers=FHIR)
    expect_status(t, r, 201, "GW-STATUS-2", "delivery Task delivered")
    view = await prescription_view(ctx, t, ctx.state["sid"], "GW-STATUS-2")
    t.check(view["status"]["code"] == "0006", "GW-STATUS-2", f"status {view['status']}", "status.code")
    t.check(
        view.get("deliveries_made") == view.get("deliveries_authorised"),
        "GW-STATUS-2",
        f"{view.get('deliveries_made')} of {view.get('deliveries_authorised')} deliveries made",
        "deliveries_made",
    )


@flow.test(
    "GW-FLOW-007", "The tracker shows the prescription's Tasks", requirements=["GW-STATUS-3"], depends=["GW-FLOW-006"]
)
async def tracker(ctx: SuiteContext, t: TestRun) -> None:
    r = await ctx.client("trust").get(
        "/FHIR/R4/Task", params={"focus:identifier": f"{PRESCRIPTION_ORDER_NUMBER}|{ctx.state['sid']}"}
    )
    expect_status(t, r, 200, "GW-STATUS-3", "GET /FHIR/R4/Task?focus:identifier")
    body = json_body(t, r, "GW-STATUS-3")
    tasks = [e.get("resource", {}) for e in body.get("entry", [])]
    t.check(
        body.get("resourceType") == "Bundle" and any(x.get("resourceType") == "Task" for x in tasks),
        "GW-STATUS-3",
        "no Task in the tracker answer",
        "Bundle.entry",
    )


@flow.test(
    "GW-FLOW-008",
    "The status feed carries the prescription's changes",
    requirements=["GW-STATUS-4"],
    depends=["GW-FLOW-006"],
)
async def status_feed(ctx: SuiteContext, t: TestRun) -> None:
    """Pages through the feed from the start, then follows it until the prescription's events show or the
    timeout passes (the feed may hold events back briefly behind a write still in flight)."""
    cursor: str | None = None
    seen: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + ctx.timeout
    while not seen:
        params: dict[str, str] = {"since": cursor} if cursor else {}
        r = await ctx.client("trust").get("/api/v1/status-feed", params=params)
        expect_status(t, r, 200, "GW-STATUS-4", "GET /api/v1/status-feed")
        page = json_body(t, r, "GW-STATUS-4")
        seen += [e for e in page.get("events", []) if e.get("short_form_id") == ctx.state["sid"]]
        cursor = page.get("next_cursor") or cursor
        if not page.get("has_more") and not seen:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)  # polling the feed as a trust would, until the deadline
    t.check(bool(seen), "GW-STATUS-4", f"no event for {ctx.state['sid']} in the status feed", "events")


# --- GW-FMT -----------------------------------------------------------------------------------------------------
@formats.test("GW-FMT-001", "An Ascribe XML export is accepted", requirements=["GW-EXP-4"])
async def ascribe_export(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust", "provider")
    trust_ods = party_ods(ctx, "trust")
    rows = unique_rows(1, trust_ods=trust_ods, provider_ods=party_ods(ctx, "provider"))
    body = render_ascribe(prescriptions(rows), trust_ods=trust_ods)
    r = await ctx.client("trust").post("/api/v1/exports", content=body, headers={"Content-Type": "application/xml"})
    expect_status(t, r, 200, "GW-EXP-4", "POST /api/v1/exports (application/xml)")
    report = json_body(t, r, "GW-EXP-4")
    t.check(
        report.get("outcome") == "accepted",
        "GW-EXP-4",
        f"outcome {report.get('outcome')!r}: {report.get('prescriptions')}",
        "outcome",
    )
    sid = (report.get("prescriptions") or [{}])[0].get("short_form_id", "")
    t.check(is_valid_short_form_id(sid), "GW-EXP-4", f"short-form id {sid!r}", "prescriptions[0].short_form_id")


@formats.test("GW-FMT-002", "An EPS FHIR prescription-order from an EPR is accepted", requirements=["GW-EXP-4"])
async def eps_order(ctx: SuiteContext, t: TestRun) -> None:
    need(ctx, t, "trust", "provider")
    order = SampleOrder(party_ods(ctx, "provider"), party_ods(ctx, "trust"))
    r = await post_message(ctx, "trust", order.bundle)
    t.require(
        r.status_code in (200, 201, 202),
        "GW-EXP-4",
        f"POST /FHIR/R4/$process-message: HTTP {r.status_code}: {r.text[:300]}",
        "HTTP status",
    )
    found = await prescription_view(ctx, t, order.short_form_id, "GW-EXP-4")
    t.check(found.get("status", {}).get("code") == "0001", "GW-EXP-4", f"status {found.get('status')}", "status.code")
