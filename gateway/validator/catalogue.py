"""The rule catalogue: every issue code that can refuse (or warn about) an inbound FHIR message, with its source.

A source is one of: FHIR R4 core (the specification or the R4 profile rules the validator applies), EPS (the
coordinator file it restates, or the EPS specification), our homecare profile (`fhir_profiles/`), or a gateway
safety rule (with the homecare reason). Where EPS answers the same problem with its own Spine error code, the
catalogue names it, and every OperationOutcome issue the gateway returns carries both (`gateway.validator.outcome`,
`gateway.api.fhir_outcomes`): the source as the `Extension-ValidationRuleSource` extension, EPS's code as a
second `details.coding` (system Spine-ErrorOrWarningCode).

`python -m gateway.validator.catalogue` writes docs/validation-rules.md from this table; `--check` fails when the
file is out of date (a test runs it, and another fails when a code the validators emit has no entry here).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

SOURCE_EXTENSION: Final = "https://fhir.homecaregateway.uk/StructureDefinition/Extension-ValidationRuleSource"
SOURCE_SYSTEM: Final = "https://fhir.homecaregateway.uk/CodeSystem/validation-rule-source"
SPINE_ERROR_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"
_EPS: Final = "NHSDigital/electronic-prescription-service-api packages/coordinator/src/services/"


class Source(StrEnum):
    FHIR = "fhir-r4-core"
    EPS = "eps"
    HOMECARE = "homecare-profile"
    SAFETY = "gateway-safety"


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    source: Source
    reference: str  # the specification section, EPS file or profile it restates; for SAFETY, the homecare reason
    eps_code: str | None = None  # EPS's Spine-ErrorOrWarningCode for the same refusal

    @property
    def cited(self) -> str:
        return f"{self.source.value}: {self.reference}"


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.code: rule for rule in rules}


_PROFILE = "FHIR R4 conformance (structure, cardinality, values, bindings) of the profile named in the issue"
RULES: Final[dict[str, Rule]] = _rules(
    # Structure and profile conformance (gateway/validator): FHIR R4 itself, applied to the profile in the issue.
    Rule("UNKNOWN_ELEMENT", Source.FHIR, "R4 JSON format: no unknown elements (http://hl7.org/fhir/R4/json.html)"),
    Rule("INVALID_TYPE", Source.FHIR, "R4 JSON format: each element has its datatype's JSON type"),
    Rule("INVALID_FORMAT", Source.FHIR, "R4 datatypes: the regular expression of each primitive type"),
    Rule("EXPECTED_ARRAY", Source.FHIR, "R4 JSON format: repeating elements are arrays"),
    Rule("UNEXPECTED_ARRAY", Source.FHIR, "R4 JSON format: single elements are not arrays"),
    Rule("EMPTY_ELEMENT", Source.FHIR, "R4 ele-1: every element has a value or children"),
    Rule("UNKNOWN_RESOURCE_TYPE", Source.FHIR, "R4 resource list: resourceType names an R4 resource"),
    Rule("UNSUPPORTED_RESOURCE_TYPE", Source.FHIR, "information only: a resource type the package has no base for"),
    Rule("UNKNOWN_PROFILE", Source.FHIR, "R4 $validate: the profile asked for must be known"),
    Rule("UNKNOWN_EXTENSION", Source.FHIR, "information only: extensions the package does not define"),
    Rule("NOT_A_RESOURCE", Source.FHIR, "R4 JSON format: a resource is a JSON object with resourceType"),
    Rule("MISSING_ELEMENT", Source.FHIR, _PROFILE, "MISSING_FIELD"),
    Rule("TOO_MANY", Source.FHIR, _PROFILE, "INVALID_VALUE"),
    Rule("ELEMENT_NOT_ALLOWED", Source.FHIR, _PROFILE, "INVALID_VALUE"),
    Rule("FIXED_VALUE_MISMATCH", Source.FHIR, _PROFILE, "INVALID_VALUE"),
    Rule("PATTERN_MISMATCH", Source.FHIR, _PROFILE, "INVALID_VALUE"),
    Rule("CODE_NOT_IN_VALUESET", Source.FHIR, "R4 terminology bindings (required: error; extensible: warning)",
         "INVALID_VALUE"),
    Rule("CODE_NOT_CHECKED", Source.FHIR, "information only: a code system the package holds a fragment of"),
    Rule("DISPLAY_MISMATCH", Source.FHIR, "R4 terminology: a display is one of the code's designations (warning)"),
    Rule("SLICE_MISSING", Source.FHIR, "R4 profiling: slice cardinality of the profile named in the issue"),
    Rule("SLICE_TOO_MANY", Source.FHIR, "R4 profiling: slice cardinality of the profile named in the issue"),
    Rule("NO_MATCHING_SLICE", Source.FHIR, "R4 profiling: closed slicing of the profile named in the issue"),
    Rule("INVARIANT_FAILED", Source.FHIR, "the FHIRPath invariant the message names (R4 core key, or our hgw-* "
         "invariant of the homecare profile named in the issue)", "INVALID_VALUE"),
    Rule("INVARIANT_NOT_EVALUATED", Source.FHIR, "warning: an invariant the validator could not evaluate"),
    Rule("DUPLICATE_FULL_URL", Source.FHIR, "R4 bdl-7: fullUrl unique within a Bundle"),
    Rule("MESSAGE_HEADER_NOT_FIRST", Source.FHIR, "R4 bdl-12: a message Bundle starts with its MessageHeader"),
    Rule("MESSAGE_FOCUS_NOT_FOUND", Source.FHIR, "R4 messaging: MessageHeader.focus is in the Bundle"),
    Rule("UNRESOLVED_REFERENCE", Source.FHIR, "R4 Bundle reference resolution and ref-1; a warning where EPS itself "
         "sends dangling references (signature Provenance, contained MedicationRequest, basedOn, references that "
         "carry an identifier: gateway/validator/references.py)"),
    Rule("REFERENCE_WRONG_TYPE", Source.FHIR, _PROFILE + ": reference target types", "INVALID_VALUE"),
    Rule("INVALID_JSON", Source.FHIR, "R4 JSON format: the body is JSON"),
    Rule("UNSUPPORTED_MEDIA_TYPE", Source.FHIR, "R4 http: FHIR endpoints take application/fhir+json"),
    Rule("INVALID_RESOURCE", Source.FHIR, "R4 operations: the body is the resource type the endpoint takes"),
    Rule("INVALID_REFERENCE", Source.FHIR, "R4 Reference: reference, identifier or display"),
    Rule("INVALID_PARAMETER", Source.FHIR, "R4 $validate: profile is a canonical"),
    Rule("RESOURCE_TYPE_MISMATCH", Source.FHIR, "R4 $validate: /{type}/$validate takes that type"),
    Rule("INVALID_CODE", Source.FHIR, "R4 required bindings read by the FHIR adapter (gender, homecare service)",
         "INVALID_VALUE"),
    Rule("INVALID_DATE", Source.FHIR, "R4 date datatype", "INVALID_VALUE"),
    Rule("INVALID_DATETIME", Source.FHIR, "R4 dateTime datatype", "INVALID_VALUE"),
    Rule("INVALID_INTEGER", Source.FHIR, "R4 integer datatype", "INVALID_VALUE"),
    Rule("INVALID_DECIMAL", Source.FHIR, "R4 decimal datatype", "INVALID_VALUE"),
    # EPS: what EPS's coordinator refuses, restated.
    Rule("INVALID_NHS_NUMBER", Source.EPS, "EPS specification: Patient.identifier NHS number, Modulus 11 "
         "(Spine refuses an invalid one)", "INVALID_VALUE"),
    Rule("INVALID_SHORT_FORM_ID", Source.EPS, _EPS + "translation/request/prescription.ts (prescriptionID has "
         "invalid checksum, ISO/IEC 7064 MOD 37-2)", "FAILURE_TO_PROCESS_MESSAGE"),
    Rule("INVALID_PRESCRIPTION_ID", Source.EPS, _EPS + "translation/request/prescription.ts (long-form "
         "prescription id extension)", "INVALID_VALUE"),
    Rule("INCONSISTENT_GROUP_IDENTIFIER", Source.EPS, _EPS + "validation/bundle-validator.ts "
         "verifyIdenticalForAllMedicationRequests(groupIdentifier)", "INVALID_VALUE"),
    Rule("INCONSISTENT_SUBJECT", Source.EPS, _EPS + "validation/bundle-validator.ts "
         "verifyIdenticalForAllMedicationRequests(subject)", "INVALID_VALUE"),
    Rule("INCONSISTENT_REQUESTER", Source.EPS, _EPS + "validation/bundle-validator.ts "
         "verifyIdenticalForAllMedicationRequests(requester)", "INVALID_VALUE"),
    Rule("INCONSISTENT_PRESCRIPTION_TYPE", Source.EPS, _EPS + "validation/bundle-validator.ts "
         "verifyIdenticalForAllMedicationRequests(Extension-DM-PrescriptionType)", "INVALID_VALUE"),
    Rule("INCONSISTENT_PERFORMER", Source.EPS, _EPS + "validation/bundle-validator.ts "
         "verifyIdenticalForAllMedicationRequests(dispenseRequest.performer)", "INVALID_VALUE"),
    Rule("INCONSISTENT_COURSE_OF_THERAPY", Source.EPS, _EPS + "translation/request/course-of-therapy-type.ts (all "
         "the same, or acute and continuous)", "INVALID_VALUE"),
    Rule("INCONSISTENT_VALUE", Source.EPS, _EPS + "validation/bundle-validator.ts (what belongs to the "
         "prescription is the same on every MedicationRequest; course-of-therapy-type.ts)", "INVALID_VALUE"),
    Rule("INCONSISTENT_DISPENSE", Source.EPS, _EPS + "validation/bundle-validator.ts verifyDispenseBundle, and the "
         "prescription-level non-dispensing reason of translation/request/dispense/dispense-notification.ts",
         "INVALID_VALUE"),
    Rule("INVALID_PRESCRIBER_CODE", Source.EPS, _EPS + "translation/request/practitioner.ts (exactly one of "
         "GMC|NMC|GPhC|HCPC|professional-code; a GMC number's leading C dropped) and validation/bundle-validator.ts "
         "(no GMP number); a format mismatch is only a warning", "INVALID_VALUE"),
    Rule("TOO_MANY_ITEMS", Source.EPS, _EPS + "validation (Bundle contains too many resources of type "
         "MedicationRequest. Expected at most 4.)"),
    Rule("PATIENT_DECEASED", Source.EPS, "EPS specification: Spine refuses a prescription for a deceased patient "
         "(example-b-spine-error-patient-deceased)"),
    Rule("NOT_A_MESSAGE", Source.EPS, _EPS + "validation/bundle-validator.ts verifyBundle (a message Bundle)",
         "INVALID_VALUE"),
    Rule("MISSING_VALUE", Source.EPS, "EPS specification: the element EPS needs is missing (MISSING_FIELD), e.g. "
         "Bundle.entry, MessageHeader.eventCoding, a cancel's statusReason (bundle-validator.ts)", "MISSING_FIELD"),
    Rule("INVALID_VALUE", Source.EPS, "EPS specification: a value EPS does not accept (intent, status, ...; "
         "validation/bundle-validator.ts)", "INVALID_VALUE"),
    Rule("UNSIGNED_MESSAGE", Source.EPS, "warning: EPS $process-message expects the prescriber's signature"),
    # Our homecare profile: what the gateway needs to run homecare, refusing only with a safety reason.
    Rule("NOT_HOMECARE_PRESCRIPTION_TYPE", Source.HOMECARE, "warning: orders sent on name the 12xx Outpatient "
         "Homecare prescription type"),
    Rule("DEFAULTED_VALUE", Source.HOMECARE, "warning: a homecare value absent and defaulted (indication, gender, "
         "service type, signing time)"),
    Rule("UNSUPPORTED_MESSAGE_EVENT", Source.HOMECARE, "the message events the gateway takes (docs/validation.md)"),
    Rule("NOT_SUPPORTED", Source.HOMECARE, "the message events the gateway takes (docs/validation.md)"),
    # Gateway safety rules: each refuses because a homecare patient could be harmed or a message misapplied.
    Rule("UNSUPPORTED_PRESCRIBER", Source.SAFETY, "only HCPC professions with prescribing rights may prescribe: a "
         "homecare provider must not supply on an unlawful prescription"),
    Rule("INVALID_DMD_CODE", Source.SAFETY, "the product is identified by a valid dm+d code: a wrong check digit "
         "can name another medicine"),
    Rule("INVALID_DMD_CHECK_DIGIT", Source.SAFETY, "the product is identified by a valid dm+d code: a wrong check "
         "digit can name another medicine"),
    Rule("INVALID_SNOMED_CODE", Source.SAFETY, "a coded indication or route is a valid SNOMED CT id: a wrong check "
         "digit can name another concept"),
    Rule("INVALID_SNOMED_CHECK_DIGIT", Source.SAFETY, "a coded indication or route is a valid SNOMED CT id: a wrong "
         "check digit can name another concept"),
    Rule("INVALID_ODS_CODE", Source.SAFETY, "orders are routed and tenants checked by ODS code: a malformed one "
         "could send a patient's order to the wrong organisation"),
    Rule("INVALID_POSTCODE", Source.SAFETY, "medicines are delivered to the address: an unusable postcode fails "
         "the first delivery"),
    Rule("FUTURE_DATE", Source.SAFETY, "a date of birth in the future is a different patient or a typing error"),
    Rule("OUT_OF_RANGE", Source.SAFETY, "quantities and supply durations drive deliveries and the date a patient's "
         "medicine runs out"),
    Rule("INVALID_PRESCRIPTION", Source.SAFETY, "the prescription could not be read as a whole"),
    Rule("PATIENT_MISMATCH", Source.SAFETY, "a provider's Task names the prescription's own patient: a status "
         "applied to the wrong patient's medicine is a missed dose"),
    Rule("DUPLICATE_ID", Source.SAFETY, "an order that reuses another prescription's MessageHeader, prescription "
         "or line-item id would be applied to the earlier one (gateway/intake/reused_ids.py)"),
    Rule("SIGNATURE_REJECTED", Source.SAFETY, "HGW_EPS_SIGNATURE_POLICY=reject: only verified prescriber signatures "
         "(docs/signing.md)"),
)


def rule_for(code: str) -> Rule | None:
    return RULES.get(code)


def cite(entry: dict[str, Any]) -> dict[str, Any]:
    """An OperationOutcome issue (as the renderers build it) with its rule's source and EPS's code added; issues
    of no catalogued rule (authentication, not found, conflicts) are returned as they are."""
    codings = entry.get("details", {}).get("coding", [])
    rule = rule_for(codings[0]["code"]) if codings else None
    if rule is None:
        return entry
    source = {"url": SOURCE_EXTENSION,
              "valueCoding": {"system": SOURCE_SYSTEM, "code": rule.source.value, "display": rule.reference}}
    cited = {**entry, "extension": [*entry.get("extension", []), source]}
    if rule.eps_code is not None:
        cited["details"] = {**entry["details"],
                            "coding": [*codings, {"system": SPINE_ERROR_SYSTEM, "code": rule.eps_code}]}
    return cited


_DOC = Path(__file__).resolve().parents[2] / "docs" / "validation-rules.md"
_TITLES = {
    Source.FHIR: "FHIR R4 core",
    Source.EPS: "EPS (coordinator code or specification)",
    Source.HOMECARE: "Our homecare profile",
    Source.SAFETY: "Gateway safety rules",
}


def render() -> str:
    """docs/validation-rules.md, generated from RULES."""
    lines = [
        "# Validation rules",
        "",
        "Generated by `python -m gateway.validator.catalogue` from `gateway/validator/catalogue.py`; do not edit by",
        "hand (a test fails when this file is out of date, and when a code the validators emit has no source).",
        "",
        "Every refusing rule names its source. In an OperationOutcome issue the source is the extension",
        f"`{SOURCE_EXTENSION}` (`valueCoding`: system `{SOURCE_SYSTEM}`, code the source, display the reference);",
        "where EPS answers the same problem with a Spine error code, `details.coding` also carries it, after the",
        f"gateway's own code (system `{SPINE_ERROR_SYSTEM}`).",
        "",
    ]
    for source in Source:
        lines += [f"## {_TITLES[source]} (`{source.value}`)", "", "| code | EPS code | source |", "| --- | --- | --- |"]
        for rule in sorted((r for r in RULES.values() if r.source is source), key=lambda r: r.code):
            reference = rule.reference.replace("|", "\\|")
            lines.append(f"| `{rule.code}` | {rule.eps_code or ''} | {reference} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = _DOC.read_text(encoding="utf-8") if _DOC.exists() else ""
        if current != text:
            print(f"{_DOC} is out of date: run python -m gateway.validator.catalogue", file=sys.stderr)
            return 1
        return 0
    _DOC.write_text(text, encoding="utf-8")
    print(_DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
