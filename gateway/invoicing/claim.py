"""The EPS dispensing `Claim` (`POST /FHIR/R4/Claim`), accepted or refused as EPS does, and read into billed lines.

The rules restate EPS's coordinator (NHSDigital/electronic-prescription-service-api,
packages/coordinator/src/services/validation/claim-validator.ts `verifyClaim`, and the claim translation in
services/translation/request/dispense/dispense-claim.ts, whose lookups refuse a claim they cannot translate):

- the resource is a Claim (`createResourceTypeIssue`);
- `Claim.provider` refers to a contained PractitionerRole, whose `practitioner` is an identifier, not a
  reference (`fieldIsReferenceButShouldNotBe`), and whose `organization` refers to a contained Organization;
- exactly one `insurance` and one `item` (`onlyElement`); the item carries the EPS-TaskBusinessStatus extension;
- the prescription's DM-GroupIdentifier extension carries its `shortForm`;
- each `detail` carries ClaimSequenceIdentifier and ClaimMedicationRequestReference extensions, a
  medicationdispense-type `modifier`, and a DM-prescription-charge `programCode` of paid-once, paid-twice or
  not-paid ("Unsupported prescription charge code");
- an endorsement: the first detail (of the first item) that has any `programCode` must have a
  medicationdispense-endorsement one (`medicationDispenseEndorsementPresent`; EPS looks at that detail only),
  else "The claim is missing the required endorsement code.".

A claim states no prices: each dispensed detail (type 0001 fully or 0003 partially dispensed) is billed at the
price list's price in force on the delivery date, with the expected VAT for a medicine.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from gateway.errors import InputError, Issue, Location
from gateway.invoicing.billed import MEDICINE, BilledInvoice, BilledLine
from gateway.invoicing.money import quantity_or_none
from gateway.invoicing.shape import dicts, dig, obj

NHS_SD: Final = "https://fhir.nhs.uk/StructureDefinition/"
EXT_TASK_STATUS: Final = NHS_SD + "Extension-EPS-TaskBusinessStatus"
EXT_GROUP_IDENTIFIER: Final = NHS_SD + "Extension-DM-GroupIdentifier"
EXT_SEQUENCE_ID: Final = NHS_SD + "Extension-ClaimSequenceIdentifier"
EXT_REQUEST_REF: Final = NHS_SD + "Extension-ClaimMedicationRequestReference"
DISPENSE_TYPE: Final = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
CHARGE: Final = "https://fhir.nhs.uk/CodeSystem/DM-prescription-charge"
ENDORSEMENT: Final = "https://fhir.nhs.uk/CodeSystem/medicationdispense-endorsement"
SNOMED: Final = "http://snomed.info/sct"
CHARGE_CODES: Final = ("paid-once", "paid-twice", "not-paid")
BILLED_TYPES: Final = ("0001", "0003")  # item fully dispensed, item dispensed - partial
MISSING_ENDORSEMENT: Final = "The claim is missing the required endorsement code."


def _ext(holder: dict[str, Any], url: str) -> dict[str, Any] | None:
    found = [e for e in dicts(holder.get("extension")) if e.get("url") == url]
    return found[0] if found else None


def _codings(concepts: object) -> list[dict[str, Any]]:
    if not isinstance(concepts, list):
        return []
    return [c for cc in dicts(concepts) for c in dicts(cc.get("coding"))]


def _contained(claim: dict[str, Any], reference: object, kind: str) -> dict[str, Any] | None:
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    return next(
        (r for r in dicts(claim.get("contained")) if r.get("resourceType") == kind and r.get("id") == reference[1:]),
        None,
    )


def _issue(code: str, message: str, path: str) -> Issue:
    return Issue(code, message, Location(path=path))


def claim_issues(claim: dict[str, Any]) -> list[Issue]:
    """Why EPS would refuse `claim` (empty: it would accept it)."""
    if claim.get("resourceType") != "Claim":
        return [_issue("INVALID_RESOURCE_TYPE", "Incorrect FHIR resource type. Expected Claim.", "resourceType")]
    issues: list[Issue] = []
    provider = obj(claim.get("provider"))
    role = _contained(claim, provider.get("reference"), "PractitionerRole")
    if role is None:
        issues.append(
            _issue("INVALID_VALUE", "provider does not refer to a contained PractitionerRole", "Claim.provider")
        )
    else:
        practitioner = role.get("practitioner")
        if isinstance(practitioner, dict) and "reference" in practitioner:
            issues.append(
                _issue(
                    "INVALID_VALUE",
                    "practitioner is a reference but should not be",
                    'Claim.contained("PractitionerRole").practitioner',
                )
            )
        org = obj(role.get("organization"))
        if _contained(claim, org.get("reference"), "Organization") is None:
            issues.append(
                _issue(
                    "INVALID_VALUE",
                    "practitioner.organization should be a reference",
                    'Claim.contained("PractitionerRole").organization',
                )
            )
    for name in ("insurance", "item"):
        if not isinstance(claim.get(name), list) or len(claim[name]) != 1:
            issues.append(_issue("INVALID_VALUE", f"Claim.{name} must have exactly one element", f"Claim.{name}"))
    if _short_form(claim) is None:
        issues.append(
            _issue("MISSING_VALUE", "the prescription's short-form id is missing", "Claim.prescription.extension")
        )
    items = claim.get("item") if isinstance(claim.get("item"), list) else []
    item = items[0] if items and isinstance(items[0], dict) else {}
    if items and _ext(item, EXT_TASK_STATUS) is None:
        issues.append(
            _issue("MISSING_VALUE", "the EPS-TaskBusinessStatus extension is missing", "Claim.item.extension")
        )
    details = dicts(item.get("detail"))
    for n, detail in enumerate(details):
        issues += _detail_issues(detail, f"Claim.item.detail[{n}]")
    if not _endorsed(details):
        issues.append(
            Issue("MISSING_ENDORSEMENT_CODE", MISSING_ENDORSEMENT, Location(path="Claim.item.detail.programCode"))
        )
    return issues


def _detail_issues(detail: dict[str, Any], path: str) -> list[Issue]:
    issues = []
    for url in (EXT_SEQUENCE_ID, EXT_REQUEST_REF):
        if _ext(detail, url) is None:
            issues.append(
                _issue("MISSING_VALUE", f"the {url.rsplit('-', 1)[1]} extension is missing", f"{path}.extension")
            )
    if not any(c.get("system") == DISPENSE_TYPE for c in _codings(detail.get("modifier"))):
        issues.append(_issue("MISSING_VALUE", "the medicationdispense-type modifier is missing", f"{path}.modifier"))
    charge = [c.get("code") for c in _codings(detail.get("programCode")) if c.get("system") == CHARGE]
    if not charge or charge[0] not in CHARGE_CODES:
        issues.append(_issue("INVALID_VALUE", "Unsupported prescription charge code", f"{path}.programCode"))
    return issues


def _endorsed(details: list[dict[str, Any]]) -> bool:
    for detail in details:
        if isinstance(detail.get("programCode"), list) and detail["programCode"]:
            return any(c.get("system") == ENDORSEMENT for c in _codings(detail["programCode"]))
    return False


def _short_form(claim: dict[str, Any]) -> str | None:
    prescription = obj(claim.get("prescription"))
    group = _ext(prescription, EXT_GROUP_IDENTIFIER) or {}
    short = _ext(group, "shortForm") or {}
    value = dig(short, "valueIdentifier", "value")
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def read_claim(claim: dict[str, Any], provider_ods: str, today: date) -> BilledInvoice:
    """The billed lines of a claim EPS would accept; InputError (EPS's reasons) for one it would refuse."""
    issues = claim_issues(claim)
    if issues:
        raise InputError(issues)
    sid = _short_form(claim) or ""
    item = claim["item"][0]
    lines: list[BilledLine] = []
    for n, detail in enumerate(dicts(item.get("detail"))):
        path = f"Claim.item.detail[{n}]"
        types = [c.get("code") for c in _codings(detail.get("modifier")) if c.get("system") == DISPENSE_TYPE]
        if types[0] not in BILLED_TYPES:
            continue  # not dispensed: nothing to pay for
        line_item = dig(_ext(detail, EXT_REQUEST_REF), "valueReference", "identifier", "value")
        codes = [c.get("code") for c in _codings([detail.get("productOrService")]) if c.get("system") == SNOMED]
        quantity = quantity_or_none(dig(detail, "quantity", "value"))
        problems = []
        if not codes or not isinstance(codes[0], str):
            problems.append(_issue("MISSING_VALUE", "no SNOMED (dm+d) product", f"{path}.productOrService"))
        if quantity is None:
            problems.append(_issue("INVALID_QUANTITY", "not a positive quantity", f"{path}.quantity.value"))
        if problems or quantity is None:
            raise InputError(problems)
        lines.append(
            BilledLine(
                len(lines) + 1,
                Location(path=path),
                sid,
                line_item.lower()[:36] if isinstance(line_item, str) and line_item else None,
                None,
                MEDICINE,
                str(codes[0]),
                Decimal(quantity),
            )
        )
    identifiers = dicts(claim.get("identifier"))
    reference = str(identifiers[0].get("value", "")) if identifiers else ""
    if not reference:
        raise InputError([_issue("MISSING_VALUE", "the claim has no identifier", "Claim.identifier")])
    return BilledInvoice("claim", reference[:64], _created(claim, today), provider_ods, None, tuple(lines))


def _created(claim: dict[str, Any], today: date) -> date:
    try:
        return datetime.fromisoformat(str(claim.get("created", "")).replace("Z", "+00:00")).date()
    except ValueError:
        return today
