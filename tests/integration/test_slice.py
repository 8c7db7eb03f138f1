"""The first vertical slice over a real loopback server, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.context import Gateway
from gateway.domain.identifiers import is_valid_short_form_id
from gateway.signing.bundle import verify_bundle
from tests.integration.helpers import error_codes, export, post_export, post_fhir


async def _release(client: httpx.AsyncClient, ods: str, **kw: Any) -> list[dict[str, Any]]:
    r = await post_fhir(client, "/FHIR/R4/Task/$release", msg.release_request(ods, **kw))
    assert r.status_code == 200, r.text
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    return [e["resource"] for e in passed["resource"].get("entry", [])]


async def _view(client: httpx.AsyncClient, any_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/prescriptions/{any_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def test_export_to_delivered(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    r = await post_export(trust, export(2, seed=3, max_deliveries=1))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["outcome"] == "accepted"
    sids = [p["short_form_id"] for p in report["prescriptions"]]
    assert all(is_valid_short_form_id(s) for s in sids)
    assert {p["provider_ods"] for p in report["prescriptions"]} == {"VNFKT"}  # the default route

    assert await _release(other_provider, "VNCEL") == []  # another provider sees nothing
    orders = await _release(provider, "VNFKT")
    assert sorted(msg.order_facts(o)["short_form_id"] for o in orders) == sorted(sids)
    assert await _release(provider, "VNFKT") == []  # leased: not handed out twice

    order = orders[0]
    assert order["entry"][-1]["resource"]["resourceType"] == "Provenance"  # signed by the gateway
    assert verify_bundle(order, (await anon.get("/.well-known/jwks.json")).json()).ok
    facts = msg.order_facts(order)
    sid = facts["short_form_id"]
    assert order["entry"][0]["resource"]["resourceType"] == "MessageHeader"
    assert (await _view(trust, sid))["status"]["code"] == "0001"

    r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", facts["message_id"], "x"))
    assert r.status_code == 200, r.text
    view = await _view(trust, sid)
    assert view["status"]["code"] == "0002"
    assert {i["status"]["code"] for i in view["items"]} == {"0008"}

    for state in ("scheduled", "dispatched"):
        r = await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, state))
        assert r.status_code == 201, r.text
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.dispense_notification("VNFKT", facts, 1, "x", now))
    assert r.status_code == 200, r.text
    r = await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, "delivered", at=now))
    assert r.status_code == 201, r.text

    view = await _view(trust, view["id"])  # by long-form id too
    assert view["status"]["code"] == "0006"
    assert {i["status"]["code"] for i in view["items"]} == {"0001"}
    assert view["deliveries"] == [
        {
            "number": 1,
            "state": "delivered",
            "scheduled_date": None,
            "window": None,
            "delivered_at": view["deliveries"][0]["delivered_at"],
        }
    ]
    assert view["deliveries_made"] == 1
    kinds = [e["kind"] for e in view["timeline"]]
    collapsed = [k for n, k in enumerate(kinds) if n == 0 or kinds[n - 1] != k]  # one "dispensed" per line item
    assert collapsed == [
        "received",
        "queued",
        "released",
        "acknowledged",
        "delivery-scheduled",
        "delivery-dispatched",
        "dispensed",
        "delivery-delivered",
    ]
    assert kinds.count("dispensed") == len(view["items"])


async def test_bad_prescription_rejected_alone_and_located(trust: httpx.AsyncClient, gw: Gateway) -> None:
    rows = export_rows(2, seed=4)
    first_rx = rows[0]["RxNumber"]
    for row in rows:
        if row["RxNumber"] == first_rx:
            row["NHSNumber"] = "9434765918"  # fails Modulus 11
    r = await post_export(trust, render_export(rows))
    assert r.status_code == 200
    report = r.json()
    assert report["outcome"] == "partially_accepted"
    rejected = [p for p in report["prescriptions"] if p["outcome"] == "rejected"]
    accepted = [p for p in report["prescriptions"] if p["outcome"] == "accepted"]
    assert len(rejected) == 1 and len(accepted) == 1
    issue = next(i for i in rejected[0]["issues"] if i["column"] == "NHSNumber")
    assert issue["line"] == 2 and issue["value"].replace(" ", "") == "9434765918"
    assert "short_form_id" not in rejected[0]
    async with gw.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM prescription"))).scalar()
        payloads = (await conn.execute(text("SELECT count(*), min(outcome) FROM inbound_payload"))).one()
    assert count == 1
    assert tuple(payloads) == (1, "partially_accepted")


async def test_resend_is_idempotent_and_other_content_conflicts(trust: httpx.AsyncClient, gw: Gateway) -> None:
    body = export(1, seed=5)
    first = (await post_export(trust, body)).json()["prescriptions"][0]
    again = (await post_export(trust, body)).json()["prescriptions"][0]
    assert again["outcome"] == "duplicate"
    assert again["short_form_id"] == first["short_form_id"]
    async with gw.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar() == 1
    changed = body.replace(b"Rheumatoid arthritis", b"Psoriatic arthritis")
    conflict = (await post_export(trust, changed)).json()["prescriptions"][0]
    assert conflict["outcome"] == "rejected"
    assert conflict["issues"][0]["code"] == "VERSION_CONFLICT"


async def test_named_provider_and_unrouted_are_held(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    named = (await post_export(trust, export(1, seed=6, provider_ods="VNCEL"))).json()["prescriptions"][0]
    assert named["provider_ods"] == "VNCEL" and named["outcome"] == "accepted"
    held = (await post_export(trust, export(1, seed=9, provider_ods="FCG71"))).json()["prescriptions"][0]
    assert held["outcome"] == "held"
    assert "FCG71" in held["reason"] and "not registered" in held["reason"]
    view = await _view(trust, held["short_form_id"])
    assert [e["kind"] for e in view["timeline"]] == ["received", "held"]
    assert await _release(provider, "VNFKT") == []  # held: handed to nobody


async def test_unacknowledged_lease_returns_to_queue(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, gw: Gateway
) -> None:
    await post_export(trust, export(1, seed=10))
    first = await _release(provider, "VNFKT")
    assert len(first) == 1
    real_clock = gw.clock
    gw.clock = lambda: real_clock() + timedelta(seconds=gw.settings.lease_seconds + 1)
    again = await _release(provider, "VNFKT")
    assert [o["id"] for o in again] == [first[0]["id"]]  # same message id: receivers deduplicate


async def test_refused_transitions_change_nothing(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    sid = (await post_export(trust, export(1, seed=11))).json()["prescriptions"][0]["short_form_id"]
    order = (await _release(provider, "VNFKT"))[0]
    facts = msg.order_facts(order)
    from datetime import UTC, datetime

    # Dispensing before the order is acknowledged is not a valid transition.
    r = await post_fhir(
        provider, "/FHIR/R4/$process-message", msg.dispense_notification("VNFKT", facts, 1, "x", datetime.now(UTC))
    )
    assert r.status_code == 409
    assert error_codes(r.json()) == ["PRESCRIPTION_INVALID_STATE_TRANSITION"]
    # Delivered before dispatched is refused too.
    r = await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, "delivered"))
    assert r.status_code == 409
    view = await _view(trust, sid)
    assert view["status"]["code"] == "0001"
    assert view["deliveries"] == []
    assert {i["status"]["code"] for i in view["items"]} == {"0007"}


async def test_other_provider_cannot_touch_an_order(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    sid = (await post_export(trust, export(1, seed=12))).json()["prescriptions"][0]["short_form_id"]
    facts = msg.order_facts((await _release(provider, "VNFKT"))[0])
    r = await post_fhir(
        other_provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNCEL", facts["message_id"], "x")
    )
    assert r.status_code == 404
    assert error_codes(r.json()) == ["RESOURCE_NOT_FOUND"]
    r = await post_fhir(other_provider, "/FHIR/R4/Task", msg.delivery_task("VNCEL", facts, 1, "scheduled"))
    assert r.status_code == 404
    assert (await _view(trust, sid))["status"]["code"] == "0001"


async def test_bad_fhir_is_located(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    r = await provider.post(
        "/FHIR/R4/Task/$release", content=b"{not json", headers={"Content-Type": "application/fhir+json"}
    )
    assert r.status_code == 400
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", {"resourceType": "Parameters", "parameter": []})
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["Parameters.parameter"]
    task = {
        "resourceType": "Task",
        "status": "in-progress",
        "intent": "order",
        "businessStatus": {"coding": [{"system": msg.DELIVERY_STATUS, "code": "lost-in-space"}]},
    }
    r = await post_fhir(provider, "/FHIR/R4/Task", task)
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["Task.businessStatus.coding"]


async def test_patient_data_encrypted_at_rest(trust: httpx.AsyncClient, gw: Gateway) -> None:
    rows = export_rows(1, seed=13)
    nhs = rows[0]["NHSNumber"]
    await post_export(trust, render_export(rows))
    async with gw.engine.connect() as conn:
        rows = [
            r
            for t in ("inbound_payload", "prescription", "fhir_message")
            for r in (await conn.execute(text(f"SELECT * FROM {t}"))).all()  # noqa: S608
        ]
    dump = repr(rows).encode()
    assert rows and nhs.encode() not in dump and b"Tremona" not in dump


async def test_unsupported_media_type(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    r = await trust.post("/api/v1/exports", content=b"<x/>", headers={"Content-Type": "application/pdf"})
    assert r.status_code == 415
    assert r.json()["file_issues"][0]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_health_and_console(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    assert (await anon.get("/healthz")).json() == {"status": "ok"}
    assert (await anon.get("/readyz")).json()["status"] == "ready"
    await post_export(trust, export(1, seed=14))
    # The console needs an operator's sign-in (tests/browser, docs/console.md); anonymous callers go to it.
    page = await anon.get("/console")
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    login = await anon.get("/console/login")
    assert login.status_code == 200 and 'name="csrf_token"' in login.text
