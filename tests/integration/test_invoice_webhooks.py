"""A provider's webhooks for the trust's invoice decisions, over real HTTP, on SQLite and PostgreSQL: a provider
subscribes (its own subscriptions only, as a trust its own), the trust decides lines, and the gateway's workers
deliver one signed `invoice-decided` event per decision to that provider's receiver and to no one else's; every
decision is audited.

The receivers are real loopback HTTP servers (tests/integration/webhook_receiver.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from gateway.audit import AuditRecord
from gateway.audit.sequencer import sequence
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.simulate import invoices as bill
from tests.integration.test_invoicing import ISSUED, UNIT, _load_prices, _post_csv
from tests.integration.test_lifecycle_scenarios import _deliver, _prescription
from tests.integration.webhook_receiver import gateway_jwks, quick_settings, receiver, until, verified

HOOKS = "/api/v1/webhooks"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return quick_settings(database_url, tmp_path)


def _issue(r: httpx.Response) -> tuple[str, str]:
    issue = r.json()["issues"][0]
    return issue["code"], issue.get("expression", "")


async def _audited(gw: Gateway, action: str) -> list[AuditRecord]:
    await sequence(gw, wait=True)  # the entries committed so far, chained
    async with gw.sessions() as session:
        stmt = select(AuditRecord).where(AuditRecord.action == action).order_by(col(AuditRecord.seq))
        return list((await session.exec(stmt)).all())


async def test_the_provider_hears_each_decision_signed_and_no_one_else_does(
    gw: Gateway, base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, provider, other_provider = as_party("trust"), as_party("provider"), as_party("other_provider")
    operator, other_trust = as_party("operator"), as_party("other_trust")
    await _load_prices(operator)
    done = await _prescription(trust, provider, 401, deliveries=2)
    await _deliver(provider, done, 1)
    [first] = bill.medicine_bills(done, 1, UNIT)
    [undelivered] = bill.medicine_bills(done, 2, UNIT)

    async with receiver() as mine, receiver() as theirs, receiver() as trusts:
        r = await provider.post(HOOKS, json={"url": mine.url, "format": "json", "events": ["invoice-decided"]})
        assert r.status_code == 201, r.text
        hook = r.json()
        assert (hook["provider_ods"], hook["tenant_kind"], hook["events"]) == ("VNFKT", "provider", ["invoice-decided"])
        assert "trust_ods" not in hook
        assert (await other_provider.post(HOOKS, json={"url": theirs.url, "format": "json"})).status_code == 201
        assert (await trust.post(HOOKS, json={"url": trusts.url, "format": "json"})).status_code == 201

        invoice = await _post_csv(provider, bill.csv_invoice("INV-401", ISSUED, "RBA", [first, undelivered]))
        assert [line["result"] for line in invoice["lines"]] == ["matched", "not-delivered"]
        decide = f"/api/v1/invoices/{invoice['id']}/decisions"
        r = await trust.post(decide, json={"decisions": [{"line": 1, "decision": "approve"}]})
        assert (r.status_code, r.json()["status"]) == (200, "pending")
        await until(lambda: len(mine.received) >= 1, what="the first invoice-decided event")
        r = await trust.post(decide, json={"decisions": [{"line": 2, "decision": "dispute", "reason": "not-received"}]})
        assert (r.status_code, r.json()["status"]) == (200, "part-approved")
        await until(lambda: len(mine.received) >= 2, what="the second invoice-decided event")
        await asyncio.sleep(0.5)  # a few more worker rounds: nothing else is sent, to anyone

    assert theirs.received == []  # another provider's subscription hears nothing of this invoice
    assert [r.json()["kind"] for r in trusts.received if r.json()["kind"] == "invoice-decided"] == []
    assert len(mine.received) == 2  # one event per decision, each once
    jwks = await gateway_jwks(base_url)
    bodies = [got.json() for got in mine.received]
    for got, body in zip(mine.received, bodies, strict=True):
        signed = verified(got, jwks)
        assert signed.event_id == got.event_id == got.headers["idempotency-key"] == body["event_id"]
        assert body["event_id"].startswith("invoice-")
        assert got.headers["x-hgw-subscription"] == hook["id"]
        assert got.headers["content-type"] == "application/json"
    sid = done["short_form_id"]
    common = {
        "kind": "invoice-decided",
        "invoice_id": invoice["id"],
        "reference": "INV-401",
        "provider_ods": "VNFKT",
        "trust_ods": "RBA",
        "invoice_url": f"{gw.settings.public_base_url}/FHIR/R4/Invoice/{invoice['id']}",
    }
    for body in bodies:
        assert {k: body[k] for k in common} == common
    assert [(b["status"], b["fhir_status"], b["pending_lines"], b["lines"]) for b in bodies] == [
        ("pending", "issued", 1, [{"line": 1, "prescription": sid, "decision": "approved", "reason": None}]),
        ("part-approved", "issued", 0,
         [{"line": 2, "prescription": sid, "decision": "disputed", "reason": "not-received"}]),
    ]
    assert int(bodies[0]["event_id"].removeprefix("invoice-")) < int(bodies[1]["event_id"].removeprefix("invoice-"))
    # No patient data: the body holds only the keys above, and ids and codes.
    assert set(bodies[0]) == {*common, "event_id", "at", "status", "fhir_status", "lines", "pending_lines"}

    # The provider's delivery record names each event and its invoice; the trust cannot read it.
    rows = (await provider.get(f"{HOOKS}/{hook['id']}/deliveries")).json()["deliveries"]
    assert [(d["event_id"], d["invoice_id"], d["state"]) for d in rows] == [
        (b["event_id"], invoice["id"], "delivered") for b in bodies
    ]
    assert (await trust.get(f"{HOOKS}/{hook['id']}/deliveries")).status_code == 404
    # The FHIR read agrees with the last event.
    assert (await provider.get(f"/FHIR/R4/Invoice/{invoice['id']}")).json()["status"] == bodies[1]["fhir_status"]
    # Another trust cannot decide on the invoice, and so tells the provider nothing.
    assert (await other_trust.post(decide, json={"decisions": [{"decision": "approve"}]})).status_code == 404

    # Every decision is audited, naming the trust, the invoice and the event the provider was sent.
    decided = await _audited(gw, "invoice.decide")
    assert [(a.actor_ods, a.entity_id, a.outcome) for a in decided] == [("RBA", invoice["id"], "success")] * 2
    for record, body in zip(decided, bodies, strict=True):
        assert body["event_id"] in record.event_json
    added = [a for a in await _audited(gw, "configuration.change") if a.entity_id == hook["id"]]
    assert [(a.actor_ods, a.actor_role) for a in added] == [("VNFKT", "provider")]


async def test_providers_and_trusts_manage_only_their_own_webhooks(
    gw: Gateway, base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, provider, other_provider = as_party("trust"), as_party("provider"), as_party("other_provider")
    operator = as_party("operator")
    r = await provider.post(HOOKS, json={"url": "http://127.0.0.1:9/hook", "format": "json"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["provider_ods"], made["tenant_kind"], made["events"]) == ("VNFKT", "provider", None)
    hook = f"{HOOKS}/{made['id']}"
    r = await trust.post(HOOKS, json={"url": "http://127.0.0.1:9/trust", "format": "json"})
    assert r.status_code == 201, r.text
    trust_hook = f"{HOOKS}/{r.json()['id']}"

    refusals = [
        ({"url": "http://127.0.0.1:9/h", "format": "fhir"}, 400, ("INVALID_VALUE", "format")),
        ({"url": "http://127.0.0.1:9/h", "format": "json", "events": ["delivery-delivered"]}, 400,
         ("INVALID_VALUE", "events[0]")),
        ({"url": "http://provider.example.org/h", "format": "json"}, 400, ("INVALID_WEBHOOK_URL", "url")),
        ({"url": "http://127.0.0.1:9/h", "format": "json", "provider_ods": "VNCEL"}, 403, None),
        ({"url": "http://127.0.0.1:9/h", "format": "json", "trust_ods": "RBA"}, 403, None),
    ]
    for body, status, issue in refusals:
        r = await provider.post(HOOKS, json=body)
        assert r.status_code == status, (body, r.text)
        if issue:
            assert _issue(r) == issue, body
    r = await trust.post(HOOKS, json={"url": "http://127.0.0.1:9/h", "format": "json", "events": ["invoice-decided"]})
    assert (r.status_code, _issue(r)) == (400, ("INVALID_VALUE", "events[0]"))
    r = await trust.post(HOOKS, json={"url": "http://127.0.0.1:9/h", "format": "json", "provider_ods": "VNFKT"})
    assert r.status_code == 403

    # Each lists only its own; the other provider and the trust neither see nor touch the provider's.
    assert [h["id"] for h in (await provider.get(HOOKS)).json()["webhooks"]] == [made["id"]]
    assert [h["trust_ods"] for h in (await trust.get(HOOKS)).json()["webhooks"]] == ["RBA"]
    for outsider in (trust, other_provider):
        assert made["id"] not in [h["id"] for h in (await outsider.get(HOOKS)).json()["webhooks"]]
        assert (await outsider.get(hook)).status_code == 404
        assert (await outsider.patch(hook, json={"active": False})).status_code == 404
        assert (await outsider.post(f"{hook}/test")).status_code == 404
        assert (await outsider.post(f"{hook}/replay")).status_code == 404
        assert (await outsider.get(f"{hook}/deliveries")).status_code == 404
        assert (await outsider.delete(hook)).status_code == 404
    for verb in ("get", "delete"):
        assert (await getattr(provider, verb)(trust_hook)).status_code == 404
    assert (await provider.patch(trust_hook, json={"active": False})).status_code == 404
    assert (await trust.get(trust_hook)).json()["active"] is True

    # The provider changes its own; it cannot hand it to anyone else or ask for a trust's events.
    r = await provider.patch(hook, json={"active": False, "events": ["invoice-decided"]})
    assert (r.status_code, r.json()["active"], r.json()["events"]) == (200, False, ["invoice-decided"])
    r = await provider.patch(hook, json={"provider_ods": "VNCEL"})
    assert (r.status_code, _issue(r)) == (400, ("READ_ONLY", "provider_ods"))
    r = await provider.patch(hook, json={"events": ["cancelled"]})
    assert (r.status_code, _issue(r)) == (400, ("INVALID_VALUE", "events[0]"))
    r = await provider.patch(hook, json={"format": "fhir"})
    assert (r.status_code, _issue(r)) == (400, ("INVALID_VALUE", "format"))

    # The test event reaches the provider's receiver, signed, naming the provider.
    async with receiver() as rec:
        assert (await provider.patch(hook, json={"url": rec.url})).status_code == 200
        r = await provider.post(f"{hook}/test")
        assert (r.status_code, r.json()["outcome"]) == (200, "delivered"), r.text
    [got] = rec.received
    verified(got, await gateway_jwks(base_url))
    assert {k: got.json()[k] for k in ("kind", "provider_ods")} == {"kind": "webhook-test", "provider_ods": "VNFKT"}

    # Operators see and make any, naming the provider (or the trust), not both.
    theirs = {"url": "https://vncel.example/hook", "format": "json", "provider_ods": "vncel"}
    r = await operator.post(HOOKS, json=theirs)
    assert (r.status_code, r.json().get("provider_ods")) == (201, "VNCEL"), r.text
    listed = (await operator.get(HOOKS, params={"provider": "VNFKT"})).json()["webhooks"]
    assert [h["id"] for h in listed] == [made["id"]]
    assert [h["provider_ods"] for h in (await other_provider.get(HOOKS)).json()["webhooks"]] == ["VNCEL"]
    both = {"url": "https://x.example/h", "format": "json", "provider_ods": "VNCEL", "trust_ods": "RBA"}
    r = await operator.post(HOOKS, json=both)
    assert (r.status_code, _issue(r)) == (400, ("REQUIRED", "trust_ods"))
    assert (await provider.delete(hook)).status_code == 204
    assert (await provider.get(HOOKS)).json() == {"webhooks": []}
