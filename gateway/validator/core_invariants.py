"""The FHIR R4 (4.0.1) core invariants of the resources and datatypes in `fhir_profiles/base/`.

Facts of the published specification (key, severity, human text, FHIRPath expression, the element they sit on),
written into the base StructureDefinitions by `python -m gateway.validator.generate_base`. ele-1 (every element
has a value or children) and ext-1 (value or extensions) are not listed: the walker checks them natively, as it
does the keys in `NATIVE` (their FHIRPath uses `descendants()`, `resolve()`-like lookups or a whole-Bundle view,
and each has a native check with its own issue code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FHIR_SD: Final = "http://hl7.org/fhir/StructureDefinition/"
BEST_PRACTICE_URL: Final = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"


@dataclass(frozen=True, slots=True)
class CoreInvariant:
    key: str
    path: str  # the element it sits on: the type's root (`Bundle`) or an element (`Bundle.entry`)
    human: str
    expression: str
    severity: str = "error"
    best_practice: bool = False

    def constraint(self, source: str) -> dict[str, object]:
        """As an ElementDefinition.constraint."""
        out: dict[str, object] = {}
        if self.best_practice:
            out["extension"] = [{"url": BEST_PRACTICE_URL, "valueBoolean": True}]
        out.update(key=self.key, severity=self.severity, human=self.human, expression=self.expression,
                   source=FHIR_SD + source)
        return out


_I = CoreInvariant
_UCUM_TIME = ("There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
              "present, it SHALL be UCUM.")

# On the root of every DomainResource (every resource type here but Bundle and Parameters).
DOMAIN_RESOURCE: Final = (
    _I("dom-2", "", "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
       "contained.contained.empty()"),
    _I("dom-3", "", "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
       "resource or SHALL refer to the containing resource",
       "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | "
       "%resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#')"
       ".exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#')"
       ".exists()).not()).trace('unmatched', id).empty()"),
    _I("dom-4", "", "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
       "meta.lastUpdated", "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()"),
    _I("dom-5", "", "If a resource is contained in another resource, it SHALL NOT have a security label",
       "contained.meta.security.empty()"),
    _I("dom-6", "", "A resource should have narrative for robust management", "text.`div`.exists()",
       severity="warning", best_practice=True),
)

_QTY_3 = _I("qty-3", "", "If a code for the unit is present, the system SHALL also be present",
            "code.empty() or system.exists()")
_TIMING = "Timing.repeat"

# Type (or resource) → its invariants; "" in `path` means the type's root element.
BY_TYPE: Final[dict[str, tuple[CoreInvariant, ...]]] = {
    "Bundle": (
        _I("bdl-1", "", "total only when a search or history",
           "total.empty() or (type = 'searchset') or (type = 'history')"),
        _I("bdl-2", "", "entry.search only when a search", "entry.search.empty() or (type = 'searchset')"),
        _I("bdl-3", "", "entry.request mandatory for batch/transaction/history, otherwise prohibited",
           "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
           "%resource.type = 'history'))"),
        _I("bdl-4", "", "entry.response mandatory for batch-response/transaction-response/history, otherwise "
           "prohibited", "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
           "'transaction-response' or %resource.type = 'history'))"),
        _I("bdl-7", "", "FullUrl must be unique in a bundle, or else entries with the same fullUrl must have "
           "different meta.versionId (except in history bundles)",
           "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()"),
        _I("bdl-9", "", "A document must have an identifier with a system and a value",
           "type = 'document' implies (identifier.system.exists() and identifier.value.exists())"),
        _I("bdl-10", "", "A document must have a date", "type = 'document' implies (timestamp.hasValue())"),
        _I("bdl-11", "", "A document must have a Composition as the first resource",
           "type = 'document' implies entry.first().resource.is(Composition)"),
        _I("bdl-12", "", "A message must have a MessageHeader as the first resource",
           "type = 'message' implies entry.first().resource.is(MessageHeader)"),
        _I("bdl-5", "Bundle.entry", "must be a resource unless there's a request or response",
           "resource.exists() or request.exists() or response.exists()"),
        _I("bdl-8", "Bundle.entry", "fullUrl cannot be a version specific reference",
           "fullUrl.contains('/_history/').not()"),
    ),
    "List": (
        _I("lst-1", "", "A list can only have an emptyReason if it is empty", "emptyReason.empty() or entry.empty()"),
        _I("lst-2", "", "The deleted flag can only be used if the mode of the list is \"changes\"",
           "mode = 'changes' or entry.deleted.empty()"),
        _I("lst-3", "", "An entry date can only be used if the mode of the list is \"working\"",
           "mode = 'working' or entry.date.empty()"),
    ),
    "MedicationDispense": (
        _I("mdd-1", "", "whenHandedOver cannot be before whenPrepared",
           "whenHandedOver.empty() or whenPrepared.empty() or whenHandedOver >= whenPrepared"),
    ),
    "Organization": (
        _I("org-1", "", "The organization SHALL at least have a name or an identifier, and possibly more than one",
           "(identifier.count() + name.count()) > 0"),
        _I("org-2", "Organization.address", "An address of an organization can never be of use 'home'",
           "where(use = 'home').empty()"),
        _I("org-3", "Organization.telecom", "The telecom of an organization can never be of use 'home'",
           "where(use = 'home').empty()"),
    ),
    "Parameters": (
        _I("inv-1", "Parameters.parameter", "A parameter must have one and only one of (value, resource, part)",
           "(part.exists() and value.empty() and resource.empty()) or (part.empty() and (value.exists() xor "
           "resource.exists()))"),
    ),
    "Patient": (
        _I("pat-1", "Patient.contact", "SHALL at least contain a contact's details or a reference to an "
           "organization", "name.exists() or telecom.exists() or address.exists() or organization.exists()"),
    ),
    "Task": (
        _I("inv-1", "", "Last modified date must be greater than or equal to authored-on date.",
           "lastModified.exists().not() or authoredOn.exists().not() or lastModified >= authoredOn"),
    ),
    # Datatypes.
    "Age": (_QTY_3, _I("age-1", "", _UCUM_TIME + "  If value is present, it SHALL be positive.",
                       "(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (value.empty() "
                       "or value.hasValue().not() or value > 0)")),
    "Attachment": (_I("att-1", "", "If the Attachment has data, it SHALL have a contentType",
                      "data.empty() or contentType.exists()"),),
    "ContactPoint": (_I("cpt-2", "", "A system is required if a value is provided.",
                        "value.empty() or system.exists()"),),
    "Count": (_QTY_3, _I("cnt-3", "", "There SHALL be a code with a value of \"1\" if there is a value. If system is "
                         "present, it SHALL be UCUM.  If present, the value SHALL be a whole number.",
                         "(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (code.empty() "
                         "or code = '1') and (value.empty() or value.hasValue().not() or "
                         "value.toString().contains('.').not())")),
    "DataRequirement": (
        _I("drq-1", "DataRequirement.codeFilter", "Either a path or a searchParam must be provided, but not both",
           "path.exists() xor searchParam.exists()"),
        _I("drq-2", "DataRequirement.dateFilter", "Either a path or a searchParam must be provided, but not both",
           "path.exists() xor searchParam.exists()"),
    ),
    "Distance": (_QTY_3, _I("dis-1", "", "There SHALL be a code if there is a value and it SHALL be an expression of "
                            "length.  If system is present, it SHALL be UCUM.",
                            "(code.exists() or value.empty()) and (system.empty() or system = %ucum)")),
    "Duration": (_QTY_3, _I("drt-1", "", _UCUM_TIME, "code.exists() implies ((system = %ucum) and value.exists())")),
    "Expression": (_I("exp-1", "", "An expression or a reference must be provided",
                      "expression.exists() or reference.exists()"),),
    "Narrative": (
        _I("txt-1", "Narrative.div", "The narrative SHALL contain only the basic html formatting elements and "
           "attributes described in chapters 7-11 (except section 4 of chapter 9) and 11-13 (except section 4 of "
           "chapter 13) of the HTML 4.0 standard, <a> elements (either name or href), images and internally "
           "contained style attributes", "htmlChecks()"),
        _I("txt-2", "Narrative.div", "The narrative SHALL have some non-whitespace content", "htmlChecks()"),
    ),
    "Period": (_I("per-1", "", "If present, start SHALL have a lower value than end",
                  "start.hasValue().not() or end.hasValue().not() or (start <= end)"),),
    "Quantity": (_QTY_3,),
    "Range": (_I("rng-2", "", "If present, low SHALL have a lower value than high",
                 "low.empty() or high.empty() or (low <= high)"),),
    "Ratio": (_I("rat-1", "", "Numerator and denominator SHALL both be present, or both are absent. If both are "
                 "absent, there SHALL be some extension present",
                 "(numerator.empty() xor denominator.exists()) and (numerator.exists() or extension.exists())"),),
    "Reference": (_I("ref-1", "", "SHALL have a contained resource if a local reference is provided",
                     "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
                     "%rootResource.contained.id.trace('ids'))"),),
    "SimpleQuantity": (_QTY_3, _I("sqty-1", "", "The comparator is not used on a SimpleQuantity",
                                  "comparator.empty()")),
    "Timing": (
        _I("tim-1", _TIMING, "if there's a duration, there needs to be duration units",
           "duration.empty() or durationUnit.exists()"),
        _I("tim-2", _TIMING, "if there's a period, there needs to be period units",
           "period.empty() or periodUnit.exists()"),
        _I("tim-4", _TIMING, "duration SHALL be a non-negative value", "duration.exists() implies duration >= 0"),
        _I("tim-5", _TIMING, "period SHALL be a non-negative value", "period.exists() implies period >= 0"),
        _I("tim-6", _TIMING, "If there's a periodMax, there must be a period", "periodMax.empty() or period.exists()"),
        _I("tim-7", _TIMING, "If there's a durationMax, there must be a duration",
           "durationMax.empty() or duration.exists()"),
        _I("tim-8", _TIMING, "If there's a countMax, there must be a count", "countMax.empty() or count.exists()"),
        _I("tim-9", _TIMING, "If there's an offset, there must be a when (and not C, CM, CD, CV)",
           "offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))"),
        _I("tim-10", _TIMING, "If there's a timeOfDay, there cannot be a when, or vice versa",
           "timeOfDay.empty() or when.empty()"),
    ),
    "TriggerDefinition": (
        _I("trd-1", "", "Either timing, or a data requirement, but not both", "data.empty() or timing.empty()"),
        _I("trd-2", "", "A condition only if there is a data requirement", "condition.exists() implies data.exists()"),
        _I("trd-3", "", "A named event requires a name, a periodic event requires timing, and a data event requires "
           "data", "(type = 'named-event' implies name.exists()) and (type = 'periodic' implies timing.exists()) "
           "and (type.startsWith('data-') implies data.exists())"),
    ),
}

# Checked natively by the walker, not through FHIRPath: key → the issue code that reports it.
NATIVE: Final[dict[str, str]] = {
    "ele-1": "EMPTY_ELEMENT",
    "ext-1": "INVARIANT_FAILED",
    "dom-3": "INVARIANT_FAILED",
    "ref-1": "UNRESOLVED_REFERENCE",
    "bdl-7": "DUPLICATE_FULL_URL",
    "bdl-12": "MESSAGE_HEADER_NOT_FIRST",
}
# Narrative checks: off by default, like best-practice invariants (`Validator(best_practice=True)` turns both on).
NARRATIVE: Final = frozenset({"txt-1", "txt-2"})

# Elements that are `Quantity` with the SimpleQuantity profile in R4 (choice elements: their Quantity type).
SIMPLE_QUANTITY: Final = frozenset({
    "Claim.item.quantity", "Claim.item.detail.quantity", "Claim.item.detail.subDetail.quantity",
    "Dosage.doseAndRate.dose[x]", "Dosage.doseAndRate.rate[x]", "Dosage.maxDosePerAdministration",
    "Dosage.maxDosePerLifetime", "MedicationDispense.quantity", "MedicationDispense.daysSupply",
    "MedicationRequest.dispenseRequest.initialFill.quantity", "MedicationRequest.dispenseRequest.quantity",
    "Range.low", "Range.high", "SampledData.origin",
})


def for_type(type_name: str, domain_resource: bool) -> list[tuple[str, CoreInvariant, str]]:
    """(element path, invariant, defining type) for one base definition, in the specification's order."""
    out: list[tuple[str, CoreInvariant, str]] = []
    if domain_resource:
        out.extend((type_name, i, "DomainResource") for i in DOMAIN_RESOURCE)
    for invariant in BY_TYPE.get(type_name, ()):
        source = "Quantity" if invariant is _QTY_3 else type_name
        out.append((invariant.path or type_name, invariant, source))
    return out


def all_keys() -> set[str]:
    return {i.key for i in DOMAIN_RESOURCE} | {i.key for group in BY_TYPE.values() for i in group}
