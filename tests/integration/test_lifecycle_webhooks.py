"""Lifecycle scenarios as the trust's webhook receives them, on SQLite and PostgreSQL: a real loopback receiver per
trust, the gateway's own workers (started by the app) delivering. Each scenario asserts that the trust received every
event of its status feed, in order, signed with a key of the published JWKS, in the format it chose (FHIR message
Bundles valid against our profiles, or the feed's JSON), and that no other trust's event ever reached it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from gateway.settings import Settings
from gateway.validator.validator import Validator
from gateway.webhooks.payload import EVENT_KIND_SYSTEM, STATUS_MESSAGE_EVENT
from tests.integration.helpers import error_codes, passed_prescriptions, post_export, post_fhir, status_feed
from tests.integration.test_lifecycle_scenarios import (
    INVALID,
    MESSAGE,
    _deliver,
    _export,
    _prescription,
    _rows,
    _state,
)
from tests.integration.webhook_receiver import Receiver, gateway_jwks, quick_settings, receiver, until, verified

CANCEL = {"Action": "CANCEL", "CancelReason": "At the Patient's request"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return quick_settings(database_url, tmp_path)


async def _subscribe(client: httpx.AsyncClient, rec: Receiver, fmt: str) -> None:
    r = await client.post("/api/v1/webhooks", json={"url": rec.url, "format": fmt})
    assert r.status_code == 201, r.text


def _from_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """What a FHIR status message says, in the feed's terms."""
    header, task = (e["resource"] for e in bundle["entry"])
    assert header["eventCoding"]["code"] == STATUS_MESSAGE_EVENT
    assert header["focus"] == [{"reference": f"urn:uuid:{task['id']}"}]
    business = task.get("businessStatus", {}).get("coding", [{}])[0].get("code")
    [kind] = [c["code"] for c in task["code"]["coding"] if c["system"] == EVENT_KIND_SYSTEM]
    return {
        "event_id": int(task["identifier"][0]["value"]),
        "trust_ods": header["destination"][0]["receiver"]["identifier"]["value"],
        "short_form_id": task["focus"]["identifier"]["value"],
        "kind": kind,
        "status": business,
        "delivery_state": task.get("statusReason", {}).get("coding", [{}])[0].get("code"),
    }


async def _assert_received_feed(client: httpx.AsyncClient, rec: Receiver, base_url: str, fmt: str) -> list[str]:
    """The receiver got exactly the trust's feed, in order, signed; the event kinds it got."""
    feed = await status_feed(client)
    try:
        await until(lambda: len(rec.received) >= len(feed), what=f"{len(feed)} webhook events")
    except AssertionError as exc:
        wanted = [(e["event_id"], e["kind"]) for e in feed]
        got = [r.event_id for r in rec.received]
        raise AssertionError(f"{exc}: the feed has {wanted}, the receiver got {got}") from exc
    jwks = await gateway_jwks(base_url)
    validator = Validator.from_package()
    got = []
    for request in rec.received:
        assert verified(request, jwks).event_id == request.event_id
        body = request.json()
        if fmt == "fhir":
            assert request.headers["content-type"] == "application/fhir+json"
            problems = [i for i in validator.validate(body) if i.severity in ("error", "fatal")]
            assert problems == [], problems
            got.append(_from_bundle(body))
        else:
            got.append(body)
        assert str(got[-1]["event_id"]) == request.event_id
    if fmt == "fhir":
        expected = [
            {
                "event_id": e["event_id"], "trust_ods": e["trust_ods"], "short_form_id": e["short_form_id"],
                "kind": e["kind"], "status": e["status"]["code"] if e["status"] else None,
                "delivery_state": e["delivery_state"],
            }
            for e in feed
        ]
    else:
        expected = feed
    assert got == expected  # each event once, in the feed's order (one prescription at a time here)
    return [e["kind"] for e in feed]


async def test_full_course_by_fhir_webhook_and_nothing_to_another_trust(
    base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, provider, other = as_party("trust"), as_party("provider"), as_party("other_trust")
    async with receiver() as mine, receiver() as theirs:
        await _subscribe(trust, mine, "fhir")
        await _subscribe(other, theirs, "json")
        facts = await _prescription(trust, provider, 501, deliveries=2)
        await _deliver(provider, facts, 1)
        await _deliver(provider, facts, 2)
        assert await _state(trust, facts["short_form_id"]) == ("0006", ["0001"])
        kinds = await _assert_received_feed(trust, mine, base_url, "fhir")
        one = ["delivery-scheduled", "delivery-dispatched", "dispensed", "delivery-delivered"]
        assert kinds == ["received", "queued", "released", "acknowledged", *one, *one]
        said = [_from_bundle(r.json()) for r in mine.received]
        delivered = [(m["status"], m["delivery_state"]) for m in said if m["kind"] == "delivery-delivered"]
        assert delivered == [("0003", "delivered"), ("0006", "delivered")]  # dispensed with the last delivery
        assert theirs.received == []  # the other trust's webhook never hears of RBA's prescription


async def test_cancel_after_release_and_refused_cancel_by_json_webhook(
    base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, provider = as_party("trust"), as_party("provider")
    async with receiver() as rec:
        await _subscribe(trust, rec, "json")
        # Released and acknowledged, then cancelled: marked for cancellation until the provider confirms.
        facts = await _prescription(trust, provider, 502)
        sid = facts["short_form_id"]
        await _export(trust, _rows(502, NumberOfDeliveries="2", DaysPerDelivery="28", **CANCEL))
        r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT", short_form_id=sid))
        cancel = msg.order_facts(passed_prescriptions(r)[0])
        ack = msg.acknowledgement("VNFKT", cancel["message_id"], "x")
        assert (await post_fhir(provider, MESSAGE, ack)).status_code == 200
        assert await _state(trust, sid) == ("0005", ["0005"])
        kinds = await _assert_received_feed(trust, rec, base_url, "json")
        assert kinds.index("cancellation-requested") < kinds.index("cancelled")
        assert rec.received[-1].json()["status"]["code"] == "0005"

        # A cancel after dispensing is refused, and the refusal sends nothing.
        supplied = await _prescription(trust, provider, 503, deliveries=1)
        dn = msg.dispense_notification("VNFKT", supplied, 1, "x", datetime(2026, 12, 1, tzinfo=UTC))
        assert (await post_fhir(provider, MESSAGE, dn)).status_code == 200
        before = len(await status_feed(trust))
        r = await post_export(trust, render_export(_rows(503, NumberOfDeliveries="1", DaysPerDelivery="28", **CANCEL)))
        assert r.json()["prescriptions"][0]["issues"][0]["code"] == INVALID[0]
        assert len(await status_feed(trust)) == before
        await _assert_received_feed(trust, rec, base_url, "json")


async def test_provider_rejection_reaches_the_trust_webhook(
    base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, provider = as_party("trust"), as_party("provider")
    async with receiver() as rec:
        await _subscribe(trust, rec, "fhir")
        facts = await _prescription(trust, provider, 504, acknowledge=False)
        body = msg.rejection("VNFKT", facts["message_id"], "x", [("PATIENT_NOT_IN_AREA", "Patient outside our area")])
        r = await post_fhir(provider, MESSAGE, body)
        assert r.status_code == 200, r.text
        r = await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, "scheduled"))
        assert error_codes(r.json()) == INVALID  # refused: nothing is sent for it
        kinds = await _assert_received_feed(trust, rec, base_url, "fhir")
        assert kinds[-1] == "provider-rejected"
        task = rec.received[-1].json()["entry"][1]["resource"]
        assert task["note"] == [{"text": "PATIENT_NOT_IN_AREA Patient outside our area"}]
        assert task["owner"]["identifier"]["value"] == "VNFKT"
