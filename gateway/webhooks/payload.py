"""What a webhook request carries: one lifecycle event, as the status-feed JSON or as a FHIR message Bundle.

`json`: the event object exactly as `GET /api/v1/status-feed` lists it (`StatusEvent.as_dict`).

`fhir`: a `Bundle` of type `message` (no published EPS profile describes a status message back to a prescriber, so
the shape is ours, built from base R4 and the EPS code systems, and checked by the gateway's validator in the tests):
a `MessageHeader` (event `homecare-status-update`, receiver the trust's ODS code, focus the Task) and one `Task`,
shaped like the EPS tracker's: `businessStatus` the prescription's EPS status after the event, `code` the event
kind, `focus` the short-form prescription id, `groupIdentifier` the trust's RxNumber, `statusReason` the delivery
state for delivery events, `note` the gateway's own text. Ids are derived from the event id, so every retry of an
event sends the same Bundle. No patient data is carried in either format.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from gateway.domain import states as lifecycle
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM
from gateway.fhir.serialise import dumps_bundle
from gateway.fhir.urls import HOMECARE_BASE, HOMECARE_DELIVERY_STATUS, TRUST_PRESCRIPTION_NUMBER
from gateway.lifecycle.status_feed import StatusEvent
from gateway.lifecycle.tracker import BUSINESS_STATUS_SYSTEM

FORMATS = ("fhir", "json")
MEDIA_TYPES = {"fhir": "application/fhir+json", "json": "application/json"}
STATUS_MESSAGE_EVENT = "homecare-status-update"
TEST_EVENT_KIND = "webhook-test"
MESSAGE_EVENT_SYSTEM = f"{HOMECARE_BASE}/CodeSystem/message-event"
EVENT_KIND_SYSTEM = f"{HOMECARE_BASE}/CodeSystem/lifecycle-event"
EVENT_ID_SYSTEM = f"{HOMECARE_BASE}/Id/status-event"
_NAMESPACE = uuid.UUID("4f0c8e4e-3d0b-5a52-9d2e-6b1f3c7e9a10")


def render(event: StatusEvent, fmt: str, *, source: str, destination: str) -> bytes:
    """The request body for `event` in `fmt` (fhir or json); `source` is the gateway's public URL."""
    if fmt == "json":
        return _dumps(event.as_dict())
    return dumps_bundle(status_bundle(event, source=source, destination=destination))


def ping_body(
    fmt: str,
    *,
    trust_ods: str,
    test_id: str,
    now: datetime,
    source: str,
    destination: str,
    owner_field: str = "trust_ods",
) -> bytes:
    """A `webhook-test` request, so a trust (or a provider) can check its receiver and signature check before real
    events come. `trust_ods` is the subscription owner's ODS code, named in the JSON as `owner_field`
    (`provider_ods` for a provider's subscription)."""
    if fmt == "json":
        return _dumps({"event_id": test_id, "at": now.isoformat(), owner_field: trust_ods, "kind": TEST_EVENT_KIND})
    header_id = _uuid(f"test-{test_id}")
    header = _header(header_id, trust_ods, source, destination, focus=None)
    return dumps_bundle(_bundle(_uuid(f"bundle-{test_id}"), test_id, now, [(header_id, header)]))


def status_bundle(event: StatusEvent, *, source: str, destination: str) -> dict[str, Any]:
    """The FHIR message Bundle of one event."""
    key = str(event.event_id)
    header_id, task_id = _uuid(f"header-{key}"), _uuid(f"task-{key}")
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": EVENT_ID_SYSTEM, "value": key}],
        "groupIdentifier": {
            "system": TRUST_PRESCRIPTION_NUMBER,
            "value": event.rx_number,
            "assigner": {"identifier": {"system": ODS_SYSTEM, "value": event.trust_ods}},
        },
        "status": lifecycle.TASK_STATUS.get(event.status_code or "", "in-progress"),
        "intent": "order",
        "code": {"coding": [{"system": EVENT_KIND_SYSTEM, "code": event.kind}]},
        "focus": {"identifier": {"system": SHORT_FORM_SYSTEM, "value": event.short_form_id}},
        "lastModified": event.at.isoformat(),
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": event.trust_ods}},
    }
    if event.status_code:
        coding = {"system": BUSINESS_STATUS_SYSTEM, "code": event.status_code}
        if event.status_display:
            coding["display"] = event.status_display
        task["businessStatus"] = {"coding": [coding]}
    if event.delivery_state:
        task["statusReason"] = {"coding": [{"system": HOMECARE_DELIVERY_STATUS, "code": event.delivery_state}]}
    if event.provider_ods:
        task["owner"] = {"identifier": {"system": ODS_SYSTEM, "value": event.provider_ods}}
    if event.detail:
        task["note"] = [{"text": event.detail}]
    if event.parts > 1:
        task["description"] = f"part {event.part} of {event.parts} of the trust's prescription {event.rx_number}"
    header = _header(header_id, event.trust_ods, source, destination, focus=task_id)
    return _bundle(_uuid(f"bundle-{key}"), key, event.at, [(header_id, header), (task_id, task)])


def _header(header_id: str, trust_ods: str, source: str, destination: str, *, focus: str | None) -> dict[str, Any]:
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": {"system": MESSAGE_EVENT_SYSTEM, "code": STATUS_MESSAGE_EVENT},
        "destination": [
            {"endpoint": destination, "receiver": {"identifier": {"system": ODS_SYSTEM, "value": trust_ods}}}
        ],
        "source": {"name": "Homecare Gateway", "endpoint": source},
    }
    if focus is not None:
        header["focus"] = [{"reference": f"urn:uuid:{focus}"}]
    return header


def _bundle(bundle_id: str, key: str, at: datetime, entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "identifier": {"system": EVENT_ID_SYSTEM, "value": key},
        "type": "message",
        "timestamp": at.isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{rid}", "resource": resource} for rid, resource in entries],
    }


def _uuid(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
