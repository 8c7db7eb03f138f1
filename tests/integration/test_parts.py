"""EPS's four-item limit over HTTP, on SQLite and PostgreSQL: a trust's prescription of more than four items goes
to EPS as parts of at most four, each its own prescription, and the trust sees one prescription with parts."""

from __future__ import annotations

from typing import Any

import httpx

from adapters import registered_adapters
from adapters.ascribe.writer import render_export as ascribe_export
from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import long_prescription_rows
from gateway.fhir.eps_acceptance import eps_acceptance
from tests.integration.helpers import post_export, post_fhir, release, status_feed

CANCEL = {"Action": "CANCEL", "CancelReason": "At the Patient's request"}


def _rows(seed: int, items: int, **change: str) -> list[dict[str, str]]:
    return [row | change for row in long_prescription_rows(items, seed=seed)]


async def _send(trust: httpx.AsyncClient, rows: list[dict[str, str]]) -> dict[str, Any]:
    r = await post_export(trust, render_export(rows))
    assert r.status_code == 200, r.text
    [outcome] = r.json()["prescriptions"]
    assert isinstance(outcome, dict)
    return outcome


async def _ack(provider: httpx.AsyncClient, order: dict[str, Any]) -> None:
    facts = msg.order_facts(order)
    r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", facts["message_id"], "x"))
    assert r.status_code == 200, r.text


async def _all_orders(provider: httpx.AsyncClient, expected: int) -> list[dict[str, Any]]:
    """Release and acknowledge until `expected` orders came (the parts of one RxNumber go in order)."""
    orders: list[dict[str, Any]] = []
    for _ in range(expected + 1):
        batch = await release(provider, "VNFKT")
        for order in batch:
            await _ack(provider, order)
        orders.extend(batch)
        if len(orders) >= expected:
            break
    return orders


async def test_nine_items_go_to_eps_as_three_linked_parts(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    outcome = await _send(trust, _rows(71, 9))
    assert outcome["outcome"] == "accepted", outcome
    parts = outcome["parts"]
    assert [p["part"] for p in parts] == [1, 2, 3]
    assert [p["items"] for p in parts] == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    sids = [p["short_form_id"] for p in parts]
    assert len(set(sids)) == 3 and outcome["short_form_id"] == sids[0]
    assert outcome["prescription_id"] == parts[0]["prescription_id"]

    orders = await _all_orders(provider, 3)
    by_sid = {msg.order_facts(o)["short_form_id"]: o for o in orders}
    assert set(by_sid) == set(sids)
    for sid, count in zip(sids, (4, 4, 1), strict=True):
        order = by_sid[sid]
        assert eps_acceptance(order) == []
        requests = msg.resources(order, "MedicationRequest")
        assert len(requests) == count
        assert {r["groupIdentifier"]["value"] for r in requests} == {sid}

    # Any part's view says which part it is, of which prescription, and names the others.
    view = (await trust.get(f"/api/v1/prescriptions/{sids[1]}")).json()
    assert view["rx_number"] == _rows(71, 1)[0]["RxNumber"]
    assert (view["part"]["number"], view["part"]["of"]) == (2, 3)
    assert [p["short_form_id"] for p in view["part"]["parts"]] == sids
    assert [i["line_no"] for i in view["items"]] == [5, 6, 7, 8]
    received = next(e for e in view["timeline"] if e["kind"] == "received")
    assert f"part 2 of 3 of the trust's prescription {view['rx_number']}" in received["detail"]

    # The status feed (and so the webhooks) says which part every event is of.
    events = [e for e in await status_feed(trust) if e["rx_number"] == view["rx_number"]]
    assert {e["short_form_id"] for e in events} == set(sids)
    assert {(e["short_form_id"], e["part"]["number"], e["part"]["of"]) for e in events} == {
        (sid, n, 3) for n, sid in enumerate(sids, start=1)
    }


async def test_a_cancel_reaches_every_part(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    outcome = await _send(trust, _rows(72, 6))
    sids = [p["short_form_id"] for p in outcome["parts"]]
    assert len(sids) == 2
    [first] = await release(provider, "VNFKT")  # part 1 is with the provider; part 2 waits behind it
    cancelled = await _send(trust, _rows(72, 6, **CANCEL))
    assert cancelled["outcome"] == "cancellation-requested"
    assert [p["short_form_id"] for p in cancelled["parts"]] == sids
    second = (await trust.get(f"/api/v1/prescriptions/{sids[1]}")).json()
    assert second["status"]["code"] == "0005"  # never seen by the provider: cancelled at once
    assert {i["status"]["code"] for i in second["items"]} == {"0005"}
    await _ack(provider, first)
    lines = [r["id"] for r in msg.resources(first, "MedicationRequest")]
    assert len(lines) == 4
    for line in lines:  # part 1's cancellation: one message per line item, each after the one before
        [cancel] = await release(provider, "VNFKT")
        assert msg.order_facts(cancel)["event"] == "prescription-order-update"
        requests = msg.resources(cancel, "MedicationRequest")
        assert [(r["id"], r["groupIdentifier"]["value"]) for r in requests] == [(line, sids[0])]
        await _ack(provider, cancel)
    assert (await trust.get(f"/api/v1/prescriptions/{sids[0]}")).json()["status"]["code"] == "0005"
    assert await release(provider, "VNFKT") == []  # part 2 never went out
    again = await _send(trust, _rows(72, 6, **CANCEL))
    assert again["outcome"] == "duplicate"


async def test_an_amend_replans_the_parts(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    original = await _send(trust, _rows(73, 5))
    old = [p["short_form_id"] for p in original["parts"]]
    amended = await _send(trust, _rows(73, 9, Action="AMEND", RxVersion="2"))
    assert amended["outcome"] == "accepted", amended
    new = [p["short_form_id"] for p in amended["parts"]]
    assert len(new) == 3 and not set(new) & set(old)
    for sid in old:  # neither old part was seen by the provider: both cancelled at once
        assert (await trust.get(f"/api/v1/prescriptions/{sid}")).json()["status"]["code"] == "0005"
    orders = await _all_orders(provider, 3)
    assert sorted(msg.order_facts(o)["short_form_id"] for o in orders) == sorted(new)
    resent = await _send(trust, _rows(73, 9, Action="AMEND", RxVersion="2"))
    assert (resent["outcome"], resent["short_form_id"]) == ("duplicate", new[0])
    assert [p["short_form_id"] for p in resent["parts"]] == new


async def test_an_ascribe_export_of_six_items_is_split_alike(trust: httpx.AsyncClient) -> None:
    [parsed] = registered_adapters()["jac"].parse(render_export(_rows(75, 6))).prescriptions
    assert parsed.prescription is not None
    body = ascribe_export([parsed.prescription])
    r = await trust.post("/api/v1/exports", content=body, headers={"Content-Type": "application/xml"})
    assert r.status_code == 200, r.text
    [outcome] = r.json()["prescriptions"]
    assert outcome["outcome"] == "accepted", outcome
    assert [p["items"] for p in outcome["parts"]] == [[1, 2, 3, 4], [5, 6]]


async def test_four_items_stay_one_prescription(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    outcome = await _send(trust, _rows(74, 4))
    assert outcome["outcome"] == "accepted" and "parts" not in outcome
    view = (await trust.get(f"/api/v1/prescriptions/{outcome['short_form_id']}")).json()
    assert "part" not in view and len(view["items"]) == 4
    [order] = await release(provider, "VNFKT")
    assert len(msg.resources(order, "MedicationRequest")) == 4 and eps_acceptance(order) == []
    assert all("part" not in e for e in await status_feed(trust))
