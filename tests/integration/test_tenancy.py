"""Every endpoint × {own tenant, other trust, other provider, no token, expired token}.

The tenant always comes from the token: payloads that name another organisation are refused, and another
tenant's prescription answers exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from conformance.parties import provider_messages as msg
from gateway.context import Gateway
from gateway.simulate import invoices as bill
from tests.integration.helpers import export, post_export, post_fhir

ACTORS = ("own", "other_trust", "other_provider", "no_token", "expired_token")


async def _order(trust: httpx.AsyncClient, provider: httpx.AsyncClient, *, seed: int) -> dict[str, Any]:
    """A prescription of trust RBA, routed to and released by provider VNFKT."""
    body = (await post_export(trust, export(1, seed=seed))).json()
    sid = body["prescriptions"][0]["short_form_id"]
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT", short_form_id=sid))
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    return msg.order_facts(passed["resource"]["entry"][0]["resource"])


Call = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


async def _with(gw: Gateway, actor: str, owner: str, call: Call, clients: dict[str, httpx.AsyncClient]) -> int:
    """Run `call` as `actor` (acting for its own ODS unless the payload must name `owner`)."""
    if actor == "expired_token":
        client = clients["own"]
        await client.get("/api/v1/prescriptions/warm-up")  # make sure it holds a token
        real = gw.clock
        gw.clock = lambda: real() + timedelta(seconds=gw.settings.token_seconds + 1)
        try:
            return (await call(client, owner)).status_code
        finally:
            gw.clock = real
    return (await call(clients[actor], owner)).status_code


@pytest.fixture
def clients_for(as_party: Callable[[str], httpx.AsyncClient]) -> Callable[[str], dict[str, httpx.AsyncClient]]:
    def make(own: str) -> dict[str, httpx.AsyncClient]:
        return {
            "own": as_party(own),
            "other_trust": as_party("other_trust"),
            "other_provider": as_party("other_provider"),
            "no_token": as_party("anonymous"),
        }

    return make


async def test_tenant_matrix(
    gw: Gateway,
    trust: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    clients_for: Callable[[str], dict[str, httpx.AsyncClient]],
) -> None:
    facts = await _order(trust, provider, seed=21)
    sid = facts["short_form_id"]
    queued_sid = (await post_export(trust, export(1, seed=22))).json()["prescriptions"][0]["short_form_id"]

    async def post_rba_export(c: httpx.AsyncClient, _: str) -> httpx.Response:
        return await post_export(c, export(1, seed=23))

    async def view(c: httpx.AsyncClient, _: str) -> httpx.Response:
        return await c.get(f"/api/v1/prescriptions/{sid}")

    async def release(c: httpx.AsyncClient, owner: str) -> httpx.Response:
        return await post_fhir(c, "/FHIR/R4/Task/$release", msg.release_request(owner, short_form_id=queued_sid))

    async def acknowledge(c: httpx.AsyncClient, owner: str) -> httpx.Response:
        return await post_fhir(c, "/FHIR/R4/$process-message", msg.acknowledgement(owner, facts["message_id"], "x"))

    async def task(c: httpx.AsyncClient, owner: str) -> httpx.Response:
        return await post_fhir(c, "/FHIR/R4/Task", msg.delivery_task(owner, facts, 1, "scheduled"))

    async def tracker(c: httpx.AsyncClient, _: str) -> httpx.Response:
        return await c.get("/FHIR/R4/Task", params={"focus:identifier": sid})

    async def feed(c: httpx.AsyncClient, _: str) -> httpx.Response:
        r = await c.get("/api/v1/status-feed")
        if r.status_code == 200 and any(e["short_form_id"] == sid for e in r.json()["events"]):
            return httpx.Response(299)  # sees the prescription: counted as a success below
        return r if r.status_code != 200 else httpx.Response(204)  # 204: answered, nothing of another tenant

    billed = bill.medicine_bills(facts, 1, 12_500)
    invoice = bill.csv_invoice("T-1", date(2026, 12, 20), "RBA", billed, provider_ods="VNFKT")
    first = await provider.post("/api/v1/invoices", content=invoice, headers={"Content-Type": "text/csv"})
    invoice_id = first.json()["id"]

    async def post_invoice(c: httpx.AsyncClient, owner: str) -> httpx.Response:
        body = bill.csv_invoice("T-2", date(2026, 12, 20), "RBA", billed, provider_ods=owner)
        return await c.post("/api/v1/invoices", content=body, headers={"Content-Type": "text/csv"})

    async def invoice_view(c: httpx.AsyncClient, _: str) -> httpx.Response:
        return await c.get(f"/api/v1/invoices/{invoice_id}")

    async def invoice_fhir(c: httpx.AsyncClient, _: str) -> httpx.Response:
        return await c.get(f"/FHIR/R4/Invoice/{invoice_id}")

    async def decide(c: httpx.AsyncClient, _: str) -> httpx.Response:
        return await c.post(f"/api/v1/invoices/{invoice_id}/decisions", json={"decisions": [{"decision": "dispute"}]})

    async def invoices(c: httpx.AsyncClient, _: str) -> httpx.Response:
        r = await c.get("/api/v1/invoices")
        if r.status_code == 200 and any(i["id"] == invoice_id for i in r.json()["invoices"]):
            return httpx.Response(299)  # sees the invoice: counted as a success below
        return r if r.status_code != 200 else httpx.Response(204)

    trust_side = clients_for("trust")
    provider_side = clients_for("provider")
    # endpoint: (call, clients, ODS the own actor acts for, expected status per actor)
    matrix: dict[str, tuple[Call, dict[str, httpx.AsyncClient], str, dict[str, int]]] = {
        "POST /api/v1/exports": (
            post_rba_export,
            trust_side,
            "RBA",
            {"own": 200, "other_trust": 422, "other_provider": 403, "no_token": 401, "expired_token": 401},
        ),
        "GET /api/v1/prescriptions/{id}": (
            view,
            trust_side,
            "RBA",
            {"own": 200, "other_trust": 404, "other_provider": 404, "no_token": 401, "expired_token": 401},
        ),
        "POST /FHIR/R4/Task/$release": (
            release,
            provider_side,
            "VNFKT",
            {"own": 200, "other_trust": 403, "other_provider": 403, "no_token": 401, "expired_token": 401},
        ),
        "POST /FHIR/R4/$process-message": (
            acknowledge,
            provider_side,
            "VNFKT",
            {"own": 200, "other_trust": 403, "other_provider": 403, "no_token": 401, "expired_token": 401},
        ),
        "POST /FHIR/R4/Task": (
            task,
            provider_side,
            "VNFKT",
            {"own": 201, "other_trust": 403, "other_provider": 403, "no_token": 401, "expired_token": 401},
        ),
        "POST /api/v1/invoices": (
            post_invoice,
            provider_side,
            "VNFKT",
            {"own": 201, "other_trust": 403, "other_provider": 400, "no_token": 401, "expired_token": 401},
        ),
        "GET /api/v1/invoices": (
            invoices,
            trust_side,
            "RBA",
            {"own": 299, "other_trust": 204, "other_provider": 204, "no_token": 401, "expired_token": 401},
        ),
        "GET /api/v1/invoices/{id}": (
            invoice_view,
            trust_side,
            "RBA",
            {"own": 200, "other_trust": 404, "other_provider": 404, "no_token": 401, "expired_token": 401},
        ),
        "GET /FHIR/R4/Invoice/{id}": (
            invoice_fhir,
            provider_side,
            "VNFKT",
            {"own": 200, "other_trust": 404, "other_provider": 404, "no_token": 401, "expired_token": 401},
        ),
        "POST /api/v1/invoices/{id}/decisions": (
            decide,
            trust_side,
            "RBA",
            {"own": 200, "other_trust": 404, "other_provider": 403, "no_token": 401, "expired_token": 401},
        ),
    }
    seen: dict[tuple[str, str], int] = {}
    # Other tenants and anonymous callers first, so the own tenant's success cannot mask a leak.
    for actor in ("other_trust", "other_provider", "no_token", "expired_token", "own"):
        for endpoint, (call, clients, owner, _) in matrix.items():
            seen[(endpoint, actor)] = await _with(gw, actor, owner, call, clients)
    expected = {(e, a): statuses[a] for e, (_, _, _, statuses) in matrix.items() for a in ACTORS}
    assert seen == expected
    cross_tenant_successes = sum(1 for (_, a), s in seen.items() if a != "own" and s < 300 and s != 204)
    print(f"cross-tenant accesses that succeeded: {cross_tenant_successes}")
    assert cross_tenant_successes == 0


async def test_other_provider_acting_as_itself_sees_nothing(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    """Not the payload's claim but the resource: VNCEL, honestly naming itself, cannot see VNFKT's orders."""
    facts = await _order(trust, provider, seed=24)
    queued = (await post_export(trust, export(1, seed=25))).json()["prescriptions"][0]["short_form_id"]
    r = await post_fhir(other_provider, "/FHIR/R4/Task/$release", msg.release_request("VNCEL", short_form_id=queued))
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    assert passed["resource"]["total"] == 0
    r = await post_fhir(
        other_provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNCEL", facts["message_id"], "x")
    )
    assert r.status_code == 404
    r = await post_fhir(other_provider, "/FHIR/R4/Task", msg.delivery_task("VNCEL", facts, 1, "scheduled"))
    assert r.status_code == 404
    unknown = await post_fhir(
        other_provider,
        "/FHIR/R4/Task",
        msg.delivery_task("VNCEL", {**facts, "short_form_id": "A0548B-A99968-451485"}, 1, "scheduled"),
    )
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["details"] == r.json()["issue"][0]["details"] | {
        "text": unknown.json()["issue"][0]["details"]["text"]
    }


async def test_trust_cannot_post_for_another_trust(trust: httpx.AsyncClient) -> None:
    r = await post_export(trust, export(1, seed=26, trust_ods="RHM"))
    assert r.status_code == 422
    issue = r.json()["prescriptions"][0]["issues"][0]
    assert (issue["code"], issue["column"], issue["value"], issue["expected"]) == (
        "TENANT_MISMATCH",
        "TrustODS",
        "RHM",
        "RBA",
    )
