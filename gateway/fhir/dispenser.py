"""Who dispensed, as EPS reads a dispense notification: the organisation of each MedicationDispense's performer.

EPS sends the performer as a contained PractitionerRole (`#performer`) whose `organization` is an Organization
entry of the Bundle (validation/bundle-validator.ts `verifyDispenseBundle`); a homecare provider may name its
Organization directly, by reference or by ODS identifier. MessageHeader.sender is not read for this: EPS's own
200 OK examples put the prescriber's organisation or Spine there.
"""

from __future__ import annotations

from typing import Any

from gateway.fhir.inbound import ODS_SYSTEM


def dispensing_organisation(bundle: Any) -> str | None:
    """The ODS code of the first MedicationDispense's dispensing organisation; None when none is named."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    entries = entries if isinstance(entries, list) else []
    by_url = {
        e.get("fullUrl"): e.get("resource")
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("fullUrl"), str) and isinstance(e.get("resource"), dict)
    }
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationDispense":
            continue
        performers = resource.get("performer")
        first = performers[0] if isinstance(performers, list) and performers else None
        actor = first.get("actor") if isinstance(first, dict) else None
        return _organisation_of(actor, resource, by_url)
    return None


def _organisation_of(ref: Any, holder: dict[str, Any], by_url: dict[Any, Any]) -> str | None:
    if not isinstance(ref, dict):
        return None
    if isinstance(ref.get("identifier"), dict):
        return _ods(ref["identifier"])
    target = _resolve(ref.get("reference"), holder, by_url)
    if not isinstance(target, dict):
        return None
    if target.get("resourceType") == "PractitionerRole":
        return _organisation_of(target.get("organization"), holder, by_url)
    if target.get("resourceType") == "Organization":
        identifiers = target.get("identifier")
        for ident in identifiers if isinstance(identifiers, list) else []:
            found = _ods(ident)
            if found is not None:
                return found
    return None


def _resolve(reference: Any, holder: dict[str, Any], by_url: dict[Any, Any]) -> Any:
    if not isinstance(reference, str):
        return None
    if reference.startswith("#"):
        contained = holder.get("contained")
        return next((c for c in contained if isinstance(c, dict) and c.get("id") == reference[1:]), None) if (
            isinstance(contained, list)) else None
    return by_url.get(reference)


def _ods(identifier: Any) -> str | None:
    if not isinstance(identifier, dict) or identifier.get("system") != ODS_SYSTEM:
        return None
    value = identifier.get("value")
    return value if isinstance(value, str) else None
