"""The dispensing schedule of one prescription as EPS reads it: one validity period, repeat count and course of
therapy for every item, and each quantity in a dm+d unit.

EPS's coordinator refuses a prescription whose MedicationRequests differ in `dispenseRequest.validityPeriod`,
`expectedSupplyDuration` or (repeat dispensing) `numberOfRepeatsAllowed` (`validation/bundle-validator.ts`
verifyIdenticalForAllMedicationRequests), repeat dispensing without a validity end or with no repeats
(`translation/request/prescription.ts`), and a quantity without its SNOMED CT unit code (`line-item.ts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from gateway.domain.model import HomecarePrescription, Item
from gateway.errors import InputError, Issue, Location
from gateway.fhir import urls
from gateway.fhir.datatypes import UK_TIME
from gateway.fhir.dmd_units import dmd_unit, unknown_unit_issue

# Homecare authorises several deliveries of long-term therapy: EPS repeat dispensing, coded by NHS England.
REPEAT_DISPENSING: Final = {
    "system": urls.MEDICATIONREQUEST_COURSE_OF_THERAPY,
    "code": "continuous-repeat-dispensing",
    "display": "Continuous long term (repeat dispensing)",
}
# One delivery: EPS reads numberOfRepeatsAllowed 0 as none at all, so a single supply is an acute prescription.
ACUTE: Final = {"system": urls.HL7_COURSE_OF_THERAPY, "code": "acute", "display": "Short course (acute) therapy"}


def repeats_allowed(number_of_deliveries: int) -> int:
    """dispenseRequest.numberOfRepeatsAllowed for a number of deliveries: deliveries − 1.

    FHIR R4 defines numberOfRepeatsAllowed as the supplies *in addition to* the original one, the NHS EPS tools
    compute the last issue number as numberOfRepeatsAllowed + 1, and our HL7 v2 spec already maps RXE-12 refills
    as deliveries − 1. Saying "repeats = deliveries" would let a provider that reads the message by those rules
    make one delivery more than the trust authorised.
    """
    return number_of_deliveries - 1


def deliveries_from_repeats(number_of_repeats_allowed: int) -> int:
    """The inverse of `repeats_allowed`, for reading EPS-shaped orders back."""
    return number_of_repeats_allowed + 1


@dataclass(frozen=True, slots=True)
class Schedule:
    """What every MedicationRequest of one prescription says alike."""

    start: date  # the first day any item may be supplied
    end: date  # the last day the authorised deliveries of every item cover
    days_per_delivery: int
    number_of_deliveries: int

    def course_of_therapy(self) -> dict[str, Any]:
        return {"coding": [dict(REPEAT_DISPENSING if self.number_of_deliveries > 1 else ACUTE)]}

    def dispense_fields(self) -> dict[str, Any]:
        """validityPeriod, numberOfRepeatsAllowed (repeat dispensing only) and expectedSupplyDuration."""
        fields: dict[str, Any] = {"validityPeriod": {"start": self.start.isoformat(), "end": self.end.isoformat()}}
        if self.number_of_deliveries > 1:
            fields["numberOfRepeatsAllowed"] = repeats_allowed(self.number_of_deliveries)
        fields["expectedSupplyDuration"] = duration(self.days_per_delivery)
        return fields


def duration(days: int) -> dict[str, Any]:
    return {"value": days, "unit": "day", "system": urls.UCUM, "code": "d"}


def signed_date(p: HomecarePrescription) -> date:
    """The day the prescription was signed, in the UK."""
    signed = p.signed_at
    if signed.tzinfo is not None:
        signed = signed.astimezone(UK_TIME)
    return signed.date()


def schedule_issues(p: HomecarePrescription) -> list[Issue]:
    """Why EPS could not read `p` as one prescription: items on other schedules, units that are not dm+d."""
    issues: list[Issue] = []
    if p.items:
        first = p.items[0]
        for index, item in enumerate(p.items[1:], start=1):
            for field in ("days_per_delivery", "number_of_deliveries"):
                if getattr(item, field) != getattr(first, field):
                    issues.append(
                        Issue(
                            code="EPS_SCHEDULE_DIFFERS",
                            message=f"EPS needs every item of one prescription on the same schedule; line "
                            f"{item.line_no} differs from line {first.line_no} in {field} (send items on another "
                            "schedule as a prescription of their own)",
                            location=Location(path=f"items[{index}].{field}"),
                            value=str(getattr(item, field)),
                            expected=str(getattr(first, field)),
                        )
                    )
    for index, item in enumerate(p.items):
        if dmd_unit(item.qty_unit) is None:
            issues.append(unknown_unit_issue(item.qty_unit, Location(path=f"items[{index}].qty_unit")))
    return issues


def prescription_schedule(p: HomecarePrescription) -> Schedule:
    """The one schedule of `p`'s items; InputError locating every item EPS could not carry alike."""
    issues = schedule_issues(p)
    if issues:
        raise InputError(issues)
    first = p.items[0]
    starts = [item.first_delivery_date or signed_date(p) for item in p.items]
    covered = timedelta(days=first.days_per_delivery * first.number_of_deliveries - 1)
    return Schedule(min(starts), max(starts) + covered, first.days_per_delivery, first.number_of_deliveries)


def quantity(item: Item) -> dict[str, Any]:
    """dispenseRequest.quantity: per delivery, in the dm+d unit of measure (description and SNOMED CT code)."""
    unit = dmd_unit(item.qty_unit)
    if unit is None:
        raise InputError([unknown_unit_issue(item.qty_unit, Location(path="qty_unit"))])
    return {"value": item.qty_per_delivery, "unit": unit.display, "system": urls.SNOMED, "code": unit.code}
