"""The `pertinentLineItem` fragments of what an EPS prescriber signs: one per MedicationRequest (see `fragments`).

Restates EPS's coordinator `services/translation/request/line-item.ts` (convertMedicationRequestToLineItem, without
the `repeatNumber.low` and `pertinentInformation4` that signature.ts leaves out), `prescription.ts`
(convertRepeatNumber, additional instructions from CommunicationRequests), `course-of-therapy-type.ts` and
`common/dosage-instructions.ts` (NHSDigital/electronic-prescription-service-api).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from gateway.signing import hl7v3 as v3
from gateway.signing.exceptions import FragmentError

Resolve = Callable[[object, str], Mapping[str, Any]]

REPEAT_INFORMATION_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-RepeatInformation"
CONTROLLED_DRUG_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-ControlledDrug"
ENDORSEMENT_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionEndorsement"
ENDORSEMENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationrequest-endorsement"
ITEM_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"
MAX_DOSAGE_SEQUENCE = 100  # a bound on the text built, not an EPS rule
_TREATMENT_TYPES = ("acute", "continuous", "continuous-repeat-dispensing")


def repeat_high(requests: Sequence[Mapping[str, Any]]) -> str | None:
    """prescription.ts convertRepeatNumber: 1 for continuous; for repeat dispensing the repeats allowed + 1, from
    basedOn's EPS-RepeatInformation when a released prescription carries it, else from dispenseRequest."""
    course = _course_of_therapy(requests)
    if course == "continuous":
        return "1"
    if course != "continuous-repeat-dispensing":
        return None
    first = requests[0]
    allowed = next(
        (
            inner.get("valueInteger")
            for based_on in first.get("basedOn") or []
            for extension in _extensions(based_on, REPEAT_INFORMATION_URL)
            for inner in extension.get("extension") or []
            if inner.get("url") == "numberOfRepeatsAllowed"
        ),
        None,
    )
    from_request = (first.get("dispenseRequest") or {}).get("numberOfRepeatsAllowed")
    if from_request is None or from_request == "":  # EPS reads numbers losslessly: 0 is present
        raise FragmentError(
            "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed", "Number of repeats allowed is required"
        )
    return str(int(allowed if allowed is not None else from_request) + 1)


def write_line_item(
    item: etree._Element,
    request: Mapping[str, Any],
    *,
    repeat: str | None,
    instructions: str,
    resolve: Resolve,
) -> None:
    """Fill the `pertinentLineItem` fragment root `item` for one MedicationRequest."""
    item.set("classCode", "SBADM")
    item.set("moodCode", "RQO")
    item_id = v3.identifier(request.get("identifier"), ITEM_NUMBER_SYSTEM)
    if item_id is None:
        raise FragmentError("MedicationRequest.identifier", "no prescription-order-item-number")
    v3.sub(item, "id", root=v3.global_id(item_id))
    v3.snomed(item, "code", "225426007", "Administration of therapeutic substance (procedure)")
    v3.sub(item, "effectiveTime", nullFlavor="NA")
    if repeat is not None:
        v3.sub(v3.sub(item, "repeatNumber"), "high", value=repeat)
    medication = _medication_coding(request, resolve)
    product = v3.sub(item, "product", typeCode="PRD", contextControlCode="OP")
    manufactured = v3.sub(product, "manufacturedProduct", classCode="MANU")
    material = v3.sub(manufactured, "manufacturedRequestedMaterial", classCode="MMAT", determinerCode="KIND")
    v3.snomed(material, "code", medication.get("code"), medication.get("display"))
    quantity = (request.get("dispenseRequest") or {}).get("quantity")
    if not isinstance(quantity, Mapping):
        raise FragmentError("MedicationRequest.dispenseRequest.quantity", "required")
    component = v3.sub(item, "component", typeCode="COMP")
    v3.sub(component, "seperatableInd", value="false")
    supply = v3.sub(component, "lineItemQuantity", classCode="SPLY", moodCode="RQO")
    v3.snomed(supply, "code", "373784005", "Dispensing medication (procedure)")
    value = _number(quantity.get("value"))
    amount = v3.sub(supply, "quantity", value=value, unit="1")
    v3.sub(amount, "translation", value=value, codeSystem=v3.SNOMED_OID, code=quantity.get("code"),
           displayName=quantity.get("unit"))  # fmt: skip
    if instructions:
        annotation = v3.annotation(item, "pertinentInformation1", "pertinentAdditionalInstructions", "AI")
        annotation.append(v3.text_value(instructions))
    for extension in _extensions(request, ENDORSEMENT_URL):
        codings = (extension.get("valueCodeableConcept") or {}).get("coding") or []
        code = next((c.get("code") for c in codings if c.get("system") == ENDORSEMENT_SYSTEM), None)
        if code is None:
            raise FragmentError("MedicationRequest.extension", "an endorsement without an EPS endorsement code")
        endorsement = v3.annotation(item, "pertinentInformation3", "pertinentPrescriberEndorsement", "PE")
        v3.sub(endorsement, "value", codeSystem="2.16.840.1.113883.2.1.3.2.4.16.32", code=code)
    dosage = v3.annotation(item, "pertinentInformation2", "pertinentDosageInstructions", "DI")
    dosage.append(v3.text_value(_dosage_text(request.get("dosageInstruction"))))


def additional_instructions(
    request: Mapping[str, Any], communication: Sequence[Mapping[str, Any]], resolve: Resolve, *, first: bool
) -> str:
    """The AI text as EPS writes it (an XML string, itself escaped as text): the first item carries the medication
    list and patient information of the CommunicationRequests, every item its controlled-drug words and note."""
    parts: list[str] = []
    if first:
        for payload in _payloads(communication):
            if "contentReference" in payload:
                listed = resolve(payload["contentReference"], "CommunicationRequest.payload.contentReference")
                for entry in listed.get("entry") or []:
                    display = (entry.get("item") or {}).get("display")
                    if display:
                        parts.append(f"<medication>{v3.xml_text(display)}</medication>")
        parts += [
            f"<patientInfo>{v3.xml_text(p['contentString'])}</patientInfo>"
            for p in _payloads(communication)
            if p.get("contentString")
        ]
    words = None
    for extension in _extensions(request, CONTROLLED_DRUG_URL):
        for inner in extension.get("extension") or []:
            if inner.get("url") == "quantityWords" and inner.get("valueString"):
                words = f"CD: {inner['valueString']}"
    notes = request.get("note") or []
    if len(notes) > 1:
        raise FragmentError("MedicationRequest.note", "EPS takes at most one note")
    text = "\n".join(t for t in (words, notes[0].get("text") if notes else None) if t)
    return "".join(parts) + v3.xml_text(text)


def _medication_coding(request: Mapping[str, Any], resolve: Resolve) -> Mapping[str, Any]:
    concept = request.get("medicationCodeableConcept")
    if concept is None and request.get("medicationReference") is not None:
        concept = resolve(request["medicationReference"], "MedicationRequest.medicationReference").get("code")
    for coding in (concept or {}).get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("system") == "http://snomed.info/sct":
            return coding
    raise FragmentError("MedicationRequest.medication", "no SNOMED CT coding")


def _payloads(requests: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for request in requests:
        for payload in request.get("payload") or []:
            if isinstance(payload, Mapping):
                yield payload


def _course_of_therapy(requests: Sequence[Mapping[str, Any]]) -> str:
    """course-of-therapy-type.ts: one code for all, or acute and continuous mixed (which counts as acute)."""
    codes = {c.get("code") for r in requests for c in (r.get("courseOfTherapyType") or {}).get("coding") or []}
    if codes == {"acute", "continuous"}:
        return "acute"
    if len(codes) != 1 or next(iter(codes)) not in _TREATMENT_TYPES:
        raise FragmentError(
            "MedicationRequest.courseOfTherapyType.coding",
            "one course of therapy type for every MedicationRequest, or a mixture of acute and continuous",
        )
    return str(next(iter(codes)))


def _extensions(resource: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    return [e for e in resource.get("extension") or [] if isinstance(e, Mapping) and e.get("url") == url]


def _dosage_text(dosages: object) -> str:
    """dosage-instructions.ts: one dosage's text; else by sequence, concurrent ones joined with ", and ", consecutive
    ones with ", then " (a sequence number missing in between gives an empty part, as in EPS)."""
    if not isinstance(dosages, list) or not dosages:
        raise FragmentError("MedicationRequest.dosageInstruction", "required")
    if len(dosages) == 1:
        return str(dosages[0].get("text") or "")
    by_sequence: dict[int, list[str]] = {}
    for dosage in dosages:
        sequence = dosage.get("sequence") if isinstance(dosage, Mapping) else None
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            raise FragmentError("MedicationRequest.dosageInstruction.sequence", "dosage instructions lack sequencing")
        by_sequence.setdefault(sequence, []).append(str(dosage.get("text") or ""))
    if max(by_sequence) > MAX_DOSAGE_SEQUENCE:
        raise FragmentError("MedicationRequest.dosageInstruction.sequence", f"above {MAX_DOSAGE_SEQUENCE}")
    steps = [", and ".join(by_sequence.get(s, [])) for s in range(1, max(by_sequence) + 1)]
    return ", then ".join(steps)


def _number(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise FragmentError("MedicationRequest.dispenseRequest.quantity.value", "required")
    return str(value)
