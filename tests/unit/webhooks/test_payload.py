"""Webhook bodies: the json format is the feed's event exactly; the fhir format is a message Bundle that our own
validator accepts, with ids derived from the event (every retry sends the same bytes)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from gateway.lifecycle.status_feed import StatusEvent
from gateway.validator.validator import Validator
from gateway.webhooks.payload import ping_body, render, status_bundle

EVENT = StatusEvent(
    event_id=1042, at=datetime(2026, 12, 1, 9, 14, 3, tzinfo=UTC), trust_ods="RBA", rx_number="HC-26-004711",
    rx_version=1, short_form_id="94BF13-000RBA-00001Z", kind="delivery-delivered", status_code="0003",
    status_display="With Dispenser - Active", delivery_state="delivered", provider_ods="VNFKT", actor_ods="VNFKT",
    message_id=None, detail="delivery 1 of 6: delivered",
)
ARGS = {"source": "https://hgw.example", "destination": "https://pharmacy.example/hook"}


def test_json_is_the_feed_event() -> None:
    assert json.loads(render(EVENT, "json", **ARGS)) == EVENT.as_dict()


def test_fhir_is_a_valid_message_bundle_and_the_same_on_every_retry() -> None:
    body = render(EVENT, "fhir", **ARGS)
    assert body == render(EVENT, "fhir", **ARGS)
    bundle = json.loads(body)
    problems = [i for i in Validator.from_package().validate(bundle) if i.severity in ("error", "fatal")]
    assert problems == []
    header, task = (e["resource"] for e in bundle["entry"])
    assert (bundle["type"], bundle["identifier"]["value"], bundle["timestamp"]) == (
        "message", "1042", "2026-12-01T09:14:03+00:00"
    )
    assert header["focus"] == [{"reference": f"urn:uuid:{task['id']}"}]
    assert header["destination"][0]["endpoint"] == ARGS["destination"]
    assert task["businessStatus"]["coding"][0] | {} == {
        "system": "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status", "code": "0003",
        "display": "With Dispenser - Active",
    }
    assert (task["status"], task["statusReason"]["coding"][0]["code"]) == ("in-progress", "delivered")
    assert task["focus"]["identifier"]["value"] == "94BF13-000RBA-00001Z"
    assert task["groupIdentifier"]["value"] == "HC-26-004711" and task["owner"]["identifier"]["value"] == "VNFKT"


def test_an_event_without_status_still_makes_a_valid_task() -> None:
    bare = StatusEvent(
        event_id=7, at=EVENT.at, trust_ods="RBA", rx_number="HC-1", rx_version=1,
        short_form_id=EVENT.short_form_id, kind="received", status_code=None, status_display=None,
        delivery_state=None, provider_ods=None, actor_ods="RBA", message_id=None, detail=None,
    )
    task = status_bundle(bare, **ARGS)["entry"][1]["resource"]
    assert "businessStatus" not in task and "owner" not in task and "note" not in task
    problems = [i for i in Validator.from_package().validate(status_bundle(bare, **ARGS)) if i.severity == "error"]
    assert problems == []


def test_an_event_of_one_part_of_a_split_prescription_says_which_part_in_both_formats() -> None:
    part = dataclasses.replace(EVENT, part=2, parts=3)
    assert json.loads(render(part, "json", **ARGS))["part"] == {"number": 2, "of": 3}
    assert "part" not in json.loads(render(EVENT, "json", **ARGS))
    bundle = status_bundle(part, **ARGS)
    task = bundle["entry"][1]["resource"]
    assert task["description"] == "part 2 of 3 of the trust's prescription HC-26-004711"
    assert "description" not in status_bundle(EVENT, **ARGS)["entry"][1]["resource"]
    assert [i for i in Validator.from_package().validate(bundle) if i.severity in ("error", "fatal")] == []


def test_the_test_event_in_both_formats() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    plain = json.loads(ping_body("json", trust_ods="RBA", test_id="test-1", now=now, **ARGS))
    assert plain == {"event_id": "test-1", "at": now.isoformat(), "trust_ods": "RBA", "kind": "webhook-test"}
    bundle = json.loads(ping_body("fhir", trust_ods="RBA", test_id="test-1", now=now, **ARGS))
    assert [i for i in Validator.from_package().validate(bundle) if i.severity == "error"] == []
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["MessageHeader"]
