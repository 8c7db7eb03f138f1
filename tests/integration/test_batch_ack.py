"""Batch acknowledgements (`POST /FHIR/R4`, a FHIR batch of `$process-message` requests) over a real loopback
server, on SQLite and PostgreSQL: every entry answered on its own, bad entries refused alone and located, a resent
batch changes nothing, and another provider's order is refused for that entry only."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import col, func, select

from conformance.parties import provider_messages as msg
from gateway import audit
from gateway.audit.sequencer import sequence
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.store import outbox_queue, prescription_rows
from gateway.store.audit_tables import AuditRecord
from gateway.store.tables import LifecycleEvent, Prescription, PrescriptionItem
from tests.integration.helpers import FHIR, error_codes, export, post_export, release

SOURCE = "https://provider.example/fhir"


async def _release(client: httpx.AsyncClient, ods: str) -> list[str]:
    return [msg.order_facts(order)["message_id"] for order in await release(client, ods)]


async def _batch(client: httpx.AsyncClient, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = await client.post("/FHIR/R4", json=msg.process_message_batch(messages), headers=FHIR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "batch-response"
    assert len(body["entry"]) == len(messages)
    return [e["response"] for e in body["entry"]]


async def _state(gw: Gateway, message_id: str) -> tuple[str, str, list[str]]:
    """The order's outbox state, its prescription's status and its items' statuses."""
    async with gw.sessions() as session:
        entry = await outbox_queue.outbox_by_message(session, message_id)
        assert entry is not None
        prescription = await session.get(Prescription, entry.prescription_id)
        assert prescription is not None
        items = await prescription_rows.prescription_items(session, prescription.id)
        return entry.state, prescription.status, [i.status for i in items]


async def _counts(gw: Gateway) -> tuple[dict[str, list[str]], int]:
    """The orders named by order.acknowledge audit records, by response code, and acknowledged timeline events."""
    await sequence(gw, wait=True)
    async with gw.sessions() as session:
        records = (
            await session.exec(select(AuditRecord).where(AuditRecord.action == "order.acknowledge"))
        ).all()
        events = (
            await session.exec(
                select(func.count()).select_from(LifecycleEvent).where(col(LifecycleEvent.kind) == "acknowledged")
            )
        ).one()
    audited: dict[str, list[str]] = {}
    for record in records:
        for entity in json.loads(record.event_json)["entity"]:
            code = entity["detail"][0]["valueString"]
            audited.setdefault(code, []).append(entity["what"]["identifier"]["value"])
    return audited, int(events)


async def test_a_batch_acknowledges_every_order_in_one_request_and_a_resend_changes_nothing(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    assert (await post_export(trust, export(4, seed=71))).status_code in (200, 201)
    ids = await _release(provider, "VNFKT")
    assert len(ids) == 4
    acks = [msg.acknowledgement("VNFKT", m, SOURCE) for m in ids]
    answers = await _batch(provider, acks)
    assert [a["status"] for a in answers] == ["200 OK"] * 4
    assert all("applied" in a["outcome"]["issue"][0]["diagnostics"] for a in answers)
    for m in ids:
        state, status, items = await _state(gw, m)
        assert state == "acknowledged" and status == lifecycle.WITH_DISPENSER
        assert items and set(items) == {lifecycle.ITEM_WITH_DISPENSER}
    assert await _counts(gw) == ({"ok": ids}, 4)  # the four orders audited as ok
    assert (await audit.verify(gw)).ok

    # The same batch again (a retry after a lost answer): every entry 200 "already applied", nothing written.
    again = await _batch(provider, acks)
    assert [a["status"] for a in again] == ["200 OK"] * 4
    assert all("already applied" in a["outcome"]["issue"][0]["diagnostics"] for a in again)
    assert await _counts(gw) == ({"ok": ids}, 4)
    assert (await _release(provider, "VNFKT")) == []  # nothing was put back in the queue


async def test_bad_entries_are_refused_alone_and_located(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    assert (await post_export(trust, export(2, seed=72))).status_code in (200, 201)
    good, rejected = await _release(provider, "VNFKT")
    bad_code = msg.acknowledgement("VNFKT", good, SOURCE)
    bad_code["entry"][0]["resource"]["response"]["code"] = "maybe"
    foreign_sender = msg.acknowledgement("VNCEL", good, SOURCE)
    unknown = msg.acknowledgement("VNFKT", "7f1d2c3b-0000-4000-8000-000000000000", SOURCE)
    messages = [
        msg.acknowledgement("VNFKT", good, SOURCE),
        bad_code,
        foreign_sender,
        unknown,
        msg.acknowledgement("VNFKT", rejected, SOURCE, code="fatal-error"),
        msg.acknowledgement("VNFKT", good, SOURCE),  # the same order twice in one batch: applied once
    ]
    batch = msg.process_message_batch(messages)
    batch["entry"].append({"resource": messages[0], "request": {"method": "POST", "url": "Patient"}})
    r = await provider.post("/FHIR/R4", json=batch, headers=FHIR)
    assert r.status_code == 200, r.text
    answers = [e["response"] for e in r.json()["entry"]]
    assert [a["status"] for a in answers] == [
        "200 OK", "400 Bad Request", "403 Forbidden", "404 Not Found", "200 OK", "200 OK", "400 Bad Request",
    ]
    issue = answers[1]["outcome"]["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.entry[0].resource.response.code"]
    assert "already applied" in answers[5]["outcome"]["issue"][0]["diagnostics"]
    assert error_codes(answers[3]["outcome"]) == ["RESOURCE_NOT_FOUND"]
    assert error_codes(answers[6]["outcome"]) == ["NOT_SUPPORTED"]
    assert answers[6]["outcome"]["issue"][0]["expression"] == ["Bundle.entry[6].request.url"]
    assert (await _state(gw, good))[:2] == ("acknowledged", lifecycle.WITH_DISPENSER)
    assert (await _state(gw, rejected))[0] == "rejected"
    # One record per response code, each naming its order once; one acknowledged event.
    assert await _counts(gw) == ({"ok": [good], "fatal-error": [rejected]}, 1)


async def test_another_providers_order_is_refused_for_that_entry_only(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    assert (await post_export(trust, export(1, seed=73))).status_code in (200, 201)
    other = export(1, seed=74, provider_ods="VNCEL", rx_prefix="OT")
    assert (await post_export(trust, other)).status_code in (200, 201)
    [mine] = await _release(provider, "VNFKT")
    [theirs] = await _release(other_provider, "VNCEL")
    answers = await _batch(
        provider, [msg.acknowledgement("VNFKT", theirs, SOURCE), msg.acknowledgement("VNFKT", mine, SOURCE)]
    )
    # Refused as if it did not exist: a provider never learns of another provider's orders.
    assert [a["status"] for a in answers] == ["404 Not Found", "200 OK"]
    assert (await _state(gw, theirs))[0] == "leased"
    assert (await _state(gw, mine))[0] == "acknowledged"
    async with gw.sessions() as session:
        rows = (await session.exec(select(PrescriptionItem.status))).all()
        assert lifecycle.ITEM_WITH_DISPENSER in rows


async def test_a_body_that_is_not_a_batch_is_refused_whole(provider: httpx.AsyncClient) -> None:
    r = await provider.post("/FHIR/R4", json={"resourceType": "Bundle", "type": "transaction"}, headers=FHIR)
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["Bundle.type"]
    r = await provider.post("/FHIR/R4", content=b"{", headers=FHIR)
    assert r.status_code == 400 and error_codes(r.json()) == ["INVALID_JSON"]
