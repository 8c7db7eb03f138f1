"""Reading a missed or late dose reported as a FHIR R4 `AdverseEvent` (docs/patient-safety.md).

Required: `resourceType` AdverseEvent, `actuality` (actual or potential), `suspectEntity[0].instance.identifier`
the EPS short-form prescription id, `date` (when the dose was missed), and a `category` coded from
`homecare-missed-dose-cause`. Optional: `id` (the reporter's own id: a resend with it records nothing twice),
`event` (missed-dose or late-dose), `seriousness` (HL7 adverse-event-seriousness), `subject.identifier` the NHS
number (checked against the prescription's patient). Every error is located by FHIRPath.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from gateway.fhir.inbound import SHORT_FORM_SYSTEM, fail, identifier_value, require
from gateway.fhir.task_fields import NHS_NUMBER_SYSTEM, code_in, codings
from gateway.fhir.urls import HOMECARE_BASE

CAUSE_SYSTEM: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-missed-dose-cause"
EVENT_SYSTEM: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-missed-dose-event"
SERIOUSNESS_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
CAUSES: Final = {
    "delivery-failed": "a delivery failed or was returned",
    "delivery-late": "a delivery came after the supply ran out",
    "order-not-processed": "the order was not acknowledged or processed in time",
    "prescription-late": "a new prescription did not arrive in time",
    "stock-unavailable": "the provider had no stock",
    "clinical-hold": "supply held for a clinical reason",
    "patient-unavailable": "the patient was not available to receive the delivery",
    "other": "another cause",
}
EVENTS: Final = ("missed-dose", "late-dose")
SERIOUSNESS: Final = (
    "Non-serious",
    "Serious",
    "SeriousResultsInDeath",
    "SeriousIsLifeThreatening",
    "SeriousResultsInHospitalization",
    "SeriousResultsInPersistentOrSignificantDisability",
    "SeriousResultsInCongenitalAnomaly",
    "SeriousRequiresPreventImpairment",
)
ACTUALITY: Final = ("actual", "potential")


@dataclass(frozen=True, slots=True)
class MissedDoseReport:
    source_id: str | None
    short_form_id: str
    actuality: str
    occurred_on: date
    cause: str
    event: str
    seriousness: str | None
    nhs_number: str | None


def read_adverse_event(resource: Any) -> MissedDoseReport:
    """The report, or a located InputError."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "AdverseEvent":
        seen = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        raise fail("AdverseEvent", "the body must be an AdverseEvent resource", value=seen, expected="AdverseEvent")
    actuality = resource.get("actuality")
    if actuality not in ACTUALITY:
        raise fail(
            "AdverseEvent.actuality",
            "actuality says whether the dose was missed or nearly missed",
            code="MISSING_VALUE" if actuality is None else "INVALID_VALUE",
            value=actuality,
            expected=" or ".join(ACTUALITY),
        )
    entities = require(resource, "suspectEntity", "AdverseEvent", list)
    first = entities[0] if isinstance(entities[0], dict) else {}
    short_form = identifier_value(
        require(first, "instance", "AdverseEvent.suspectEntity[0]"),
        "AdverseEvent.suspectEntity[0].instance",
        SHORT_FORM_SYSTEM,
    )
    occurred = _date(resource.get("date"))
    categories = resource.get("category")
    cause = None
    for concept in categories if isinstance(categories, list) else []:
        cause = cause or code_in(concept, CAUSE_SYSTEM)
    if cause not in CAUSES:
        seen = cause or ", ".join(str(c.get("code")) for k in (categories or []) for c in codings(k)) or None
        raise fail(
            "AdverseEvent.category",
            "the category names the cause of the missed dose",
            code="MISSING_VALUE" if seen is None else "INVALID_VALUE",
            value=seen,
            expected=f"{CAUSE_SYSTEM}: {', '.join(CAUSES)}",
        )
    event = code_in(resource.get("event"), EVENT_SYSTEM) if resource.get("event") is not None else "missed-dose"
    if event not in EVENTS:
        raise fail(
            "AdverseEvent.event",
            "the event is a missed or a late dose",
            value=event,
            expected=f"{EVENT_SYSTEM}: {', '.join(EVENTS)}",
        )
    seriousness = None
    if resource.get("seriousness") is not None:
        seriousness = code_in(resource["seriousness"], SERIOUSNESS_SYSTEM)
        if seriousness not in SERIOUSNESS:
            raise fail(
                "AdverseEvent.seriousness",
                "seriousness is coded from adverse-event-seriousness",
                value=seriousness,
                expected=f"{SERIOUSNESS_SYSTEM}: {', '.join(SERIOUSNESS)}",
            )
    subject = resource.get("subject")
    nhs = identifier_value(subject, "AdverseEvent.subject", NHS_NUMBER_SYSTEM) if subject else None
    source_id = resource.get("id") if isinstance(resource.get("id"), str) and resource["id"] else None
    if source_id is not None and len(source_id) > 64:
        raise fail("AdverseEvent.id", "the id is at most 64 characters", value=source_id[:70], expected="an id")
    return MissedDoseReport(source_id, short_form, str(actuality), occurred, cause, event, seriousness, nhs)


def _date(raw: Any) -> date:
    if not isinstance(raw, str) or len(raw) < 10:
        raise fail(
            "AdverseEvent.date",
            "the date the dose was missed is required",
            code="MISSING_VALUE" if raw is None else "INVALID_VALUE",
            value=raw,
            expected="YYYY-MM-DD or a dateTime",
        )
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise fail(
            "AdverseEvent.date", "the date is not a calendar date", value=raw, expected="YYYY-MM-DD or a dateTime"
        ) from None
