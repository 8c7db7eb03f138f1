"""An EPS return puts the order back for routing, over real HTTP on SQLite and PostgreSQL: the rules choose again
without the providers that returned it; the next provider gets a new order for the same prescription, and when
none is left the prescription is held with the reason, visible to operators, and the trust sees it all."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.context import Gateway
from gateway.operations import admin
from tests.integration.helpers import FHIR, export, passed_prescriptions, post_export

RELEASE = "/FHIR/R4/Task/$release"
MESSAGE = "/FHIR/R4/$process-message"
TASK = "/FHIR/R4/Task"


async def _take(provider: httpx.AsyncClient, ods: str, sid: str) -> dict[str, Any]:
    """Release the order of `sid` to `ods` and acknowledge it; its facts."""
    r = await provider.post(RELEASE, json=msg.release_request(ods, short_form_id=sid), headers=FHIR)
    [order] = passed_prescriptions(r)
    ack = msg.acknowledgement(ods, order["id"], "x")
    assert (await provider.post(MESSAGE, json=ack, headers=FHIR)).status_code == 200
    return {**msg.order_facts(order), "order": order}


def _performer(order: dict[str, Any]) -> str:
    request = msg.resources(order, "MedicationRequest")[0]
    receiver = msg.resources(order, "MessageHeader")[0]["destination"][0]["receiver"]
    assert receiver["identifier"] == request["dispenseRequest"]["performer"]["identifier"]
    return str(receiver["identifier"]["value"])


async def test_a_returned_order_goes_to_the_next_provider_then_is_held(
    gw: Gateway, as_party: Any, trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    await admin.add_route(gw, provider_ods="VNCEL", priority=200)  # the fallback after VNFKT's default route
    operator = as_party("operator")
    sid = (await post_export(trust, export(1, seed=61))).json()["prescriptions"][0]["short_form_id"]
    first = await _take(provider, "VNFKT", sid)

    r = await provider.post(TASK, json=msg.return_task("VNFKT", first), headers=FHIR)
    assert r.status_code == 201, r.text
    view = (await trust.get(f"/api/v1/prescriptions/{sid}")).json()
    assert (view["status"]["code"], view["provider_ods"]) == ("0001", "VNCEL")
    assert view["route_reason"].startswith("returned by VNFKT (0003 Patient requested release); re-routed by")
    kinds = [e["kind"] for e in view["timeline"]]
    assert kinds[-2:] == ["returned", "queued"]  # the trust is told, and where it went
    assert [m["provider_ods"] for m in view["messages"]] == ["VNFKT", "VNCEL"]
    assert [m["state"] for m in view["messages"]] == ["rejected", "queued"]
    # The old provider no longer sees it; its resent return changes nothing.
    assert (await provider.get(f"/api/v1/prescriptions/{sid}")).status_code == 404
    again = await provider.post(TASK, json=msg.return_task("VNFKT", first), headers=FHIR)
    assert again.status_code == 200 and "already returned" in again.text
    # The next provider gets a new message for the same prescription, addressed and signed for it.
    second = await _take(other_provider, "VNCEL", sid)
    assert second["short_form_id"] == sid and second["message_id"] != first["message_id"]
    assert _performer(second["order"]) == "VNCEL" and _performer(first["order"]) == "VNFKT"
    assert [e["resource"]["resourceType"] for e in second["order"]["entry"]][-1] == "Provenance"
    assert (await trust.get(f"/api/v1/prescriptions/{sid}")).json()["status"]["code"] == "0002"

    # VNCEL returns it too: no provider is left, so it is held with the reason, never dropped.
    returned = msg.return_task("VNCEL", second, ("0002", "Unable to dispense"))
    r = await other_provider.post(TASK, json=returned, headers=FHIR)
    assert r.status_code == 201, r.text
    view = (await trust.get(f"/api/v1/prescriptions/{sid}")).json()
    assert (view["status"]["code"], view["provider_ods"]) == ("0001", None)
    reason = "returned by VNCEL (0002 Unable to dispense); no other route"
    returned_event, held_event = view["timeline"][-2:]
    assert returned_event["detail"].endswith("routed again without VNCEL, VNFKT")
    assert (view["route_reason"], held_event["kind"], held_event["detail"]) == (reason, "held", reason)
    held = (await operator.get("/api/v1/admin/held")).json()["held"]
    assert [(h["short_form_id"], h["reason"]) for h in held] == [(sid, reason)]
    # Nothing is waiting for anyone, and the trust can still cancel it at once.
    for client, ods in ((provider, "VNFKT"), (other_provider, "VNCEL")):
        r = await client.post(RELEASE, json=msg.release_request(ods), headers=FHIR)
        assert '"total":0' in r.text.replace(" ", "")
    rows = export_rows(1, seed=61)
    for row in rows:  # every row of the prescription
        row.update(Action="CANCEL", CancelReason="x")
    r = await post_export(trust, render_export(rows))
    assert r.json()["prescriptions"][0]["outcome"] == "cancelled", r.text
    assert (await operator.get("/api/v1/admin/held")).json()["held"] == []



async def test_held_prescriptions_are_routed_again_once_a_route_exists(
    gw: Gateway, as_party: Any, trust: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    for rule in await admin.routes(gw):  # no route at all: what the trust sends is held
        await admin.remove_route(gw, rule.id)
    sid = (await post_export(trust, export(1, seed=62))).json()["prescriptions"][0]["short_form_id"]
    operator = as_party("operator")
    assert [h["short_form_id"] for h in (await operator.get("/api/v1/admin/held")).json()["held"]] == [sid]
    # Routing again without a new rule changes nothing but the reason.
    r = await operator.post("/api/v1/admin/held/route")
    assert r.status_code == 200, r.text
    [still] = r.json()["routed"]
    assert (still["short_form_id"], still["provider_ods"]) == (sid, None)
    assert still["reason"] == "routed again by an operator; no other route"
    assert (await trust.post("/api/v1/admin/held/route")).status_code == 403  # operators only

    r = await operator.post("/api/v1/admin/routes", json={"provider_ods": "VNCEL", "trust_ods": "RBA"})
    assert r.status_code == 201, r.text
    [routed] = (await operator.post("/api/v1/admin/held/route")).json()["routed"]
    assert (routed["short_form_id"], routed["provider_ods"]) == (sid, "VNCEL")
    assert (await operator.post("/api/v1/admin/held/route")).json()["routed"] == []  # once only
    order = await _take(other_provider, "VNCEL", sid)
    assert _performer(order["order"]) == "VNCEL"
    view = (await trust.get(f"/api/v1/prescriptions/{sid}")).json()
    assert (view["status"]["code"], view["provider_ods"]) == ("0002", "VNCEL")
    assert [e["kind"] for e in view["timeline"]].count("queued") == 1
