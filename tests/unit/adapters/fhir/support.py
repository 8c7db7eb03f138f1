"""Shared by the FHIR adapter tests: the frozen clock, the EPS examples by kind, and small helpers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import cache
from typing import Any

from adapters.base import ParsedPrescription
from adapters.fhir import parse_bundle
from gateway.errors import Issue
from gateway.fhir.serialise import loads_bundle
from tests.paths import EPS_EXAMPLES

# "Now" for the DOB check and for messages with no signing time.
FROZEN_NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
PRESCRIPTION_EVENTS = ("prescription-order", "prescription-order-update")

# The order requests EPS itself rejects, and the error it answers (the paired *Response* file, or the folder name).
EPS_REJECTED: dict[str, tuple[str, str]] = {
    "errors/1-Process-Request-Send-400_INVALID_CHECKSUM.json":
        ("INVALID_SHORT_FORM_ID", "Bundle.entry[1].resource.groupIdentifier.value"),
    "errors/2-Prepare-Request-400_Invalid_Course_of_Therapy_mixed.json":
        ("INCONSISTENT_VALUE", "Bundle.entry[2].resource.courseOfTherapyType.coding[0].code"),
    "errors/2-Process-Request-Send-400_Invalid_Course_of_Therapy_mixed.json":
        ("INCONSISTENT_VALUE", "Bundle.entry[2].resource.courseOfTherapyType.coding[0].code"),
    "errors/4-Process-Request-Send-400_invalid_intent.json": ("INVALID_VALUE", "Bundle.entry[1].resource.intent"),
    "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner/multiple-drugs/bulk-translation/"
    "1-Prepare-Request-Send-400_Bad_Request.json": ("TOO_MANY_ITEMS", "Bundle.entry"),
    "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner/multiple-drugs/bulk-translation/"
    "1-Process-Request-Send-400_Bad_Request.json": ("TOO_MANY_ITEMS", "Bundle.entry"),
    "spec/errors/example-b-spine-error-patient-deceased/PrepareRequest-FhirMessageUnsigned.json":
        ("PATIENT_DECEASED", "Bundle.entry[5].resource.deceasedDateTime"),
    "spec/errors/example-b-spine-error-patient-deceased/SendRequest-FhirMessageSigned.json":
        ("PATIENT_DECEASED", "Bundle.entry[6].resource.deceasedDateTime"),
}


@cache
def _example(rel: str) -> dict[str, Any]:
    return loads_bundle((EPS_EXAMPLES / rel).read_bytes())


def example(rel: str) -> dict[str, Any]:
    """A fresh copy of an EPS example (tests may change it)."""
    return copy.deepcopy(_example(rel))


def event_of(bundle: dict[str, Any]) -> str | None:
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message" or not bundle.get("entry"):
        return None
    header = bundle["entry"][0].get("resource", {})
    return header.get("eventCoding", {}).get("code") if header.get("resourceType") == "MessageHeader" else None


@cache
def prescription_messages() -> tuple[str, ...]:
    """Every example that is a prescription-order or -update request, relative to the examples folder."""
    found = []
    for path in sorted(EPS_EXAMPLES.rglob("*.json")):
        if event_of(loads_bundle(path.read_bytes())) in PRESCRIPTION_EVENTS:
            found.append(path.relative_to(EPS_EXAMPLES).as_posix())
    return tuple(found)


def accepted_examples() -> list[str]:
    return [rel for rel in prescription_messages() if rel not in EPS_REJECTED]


def not_prescription_messages() -> list[str]:
    return sorted(p.relative_to(EPS_EXAMPLES).as_posix() for p in EPS_EXAMPLES.rglob("*.json")
                  if p.relative_to(EPS_EXAMPLES).as_posix() not in prescription_messages())


def parse(bundle: dict[str, Any]) -> ParsedPrescription:
    return parse_bundle(bundle, now=FROZEN_NOW)


def errors_at(parsed: ParsedPrescription, code: str) -> list[Issue]:
    return [i for i in parsed.errors if i.code == code]


def mr(bundle: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """The n-th MedicationRequest (from 0) of a Bundle."""
    found: list[dict[str, Any]] = [e["resource"] for e in bundle["entry"]
                                   if e["resource"]["resourceType"] == "MedicationRequest"]
    return found[n]


def resource(bundle: dict[str, Any], resource_type: str) -> tuple[int, dict[str, Any]]:
    """The first resource of a type and its entry index."""
    return next((i, e["resource"]) for i, e in enumerate(bundle["entry"])
                if e["resource"]["resourceType"] == resource_type)
