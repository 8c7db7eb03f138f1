"""Validation timings for `hgw bench`: our validator against fhir.resources R4B on the standard bundle.

The standard bundle is the 8-entry prescription-order the gateway builds for a 3-item homecare prescription
(MessageHeader, 3 MedicationRequests, Patient, Practitioner, PractitionerRole, Organization).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from gateway.domain.model import (
    Action,
    Address,
    HomecarePrescription,
    Item,
    Patient,
    Prescriber,
    PrescriberCodeType,
    ServiceType,
    Sex,
)
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.simulate.directory import sample_prescribing
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator


def standard_prescription() -> HomecarePrescription:
    """A 3-item Outpatient Homecare prescription (injectable, oral tablet, sharps bin) with every extension."""
    return HomecarePrescription(
        action=Action.NEW,
        trust_ods="RBA",
        site_code="A99968",
        rx_number="HC-26-004711",
        rx_version=1,
        signed_at=datetime(2026, 11, 21, 14, 5, tzinfo=UTC),
        patient=Patient(
            nhs_number="9434765919", hospital_number="K1234567", title="Mrs", family="SMITH", given=("Jane", "Anne"),
            birth_date=date(1968, 2, 14), sex=Sex.FEMALE,
            address=Address(lines=("12 Tremona Road", "Southampton"), postcode="SO16 6YD"), mobile="07700 900123",
        ),
        prescriber=Prescriber(name="JONES, Alan", family="JONES", given="Alan", code="4123456",
                              code_type=PrescriberCodeType.GMC, specialty="Rheumatology"),
        indication="Rheumatoid arthritis",
        indication_snomed="69896004",
        provider_ods="FTX40",
        service_type=ServiceType.DELIVERY_NURSING,
        delivery_address=Address(lines=("Flat 2", "14 Tremona Road", "Southampton"), postcode="SO16 6YD"),
        delivery_instructions="Leave with neighbour at no. 12",
        items=(
            Item(line_no=1, dmd_code="15517911000001104",
                 description="Methotrexate 10mg/0.2ml solution for injection pre-filled syringes",
                 dose=Decimal("0.4"), dose_unit="ml", frequency="EVERY 14 DAYS", route="Subcutaneous",
                 qty_per_delivery=Decimal("2"), qty_unit="pre-filled disposable injection", days_per_delivery=28,
                 number_of_deliveries=6, first_delivery_date=date(2026, 12, 1), instructions="Store in a fridge"),
            Item(line_no=2, dmd_code="322236009", description="Paracetamol 500mg tablets", dose=Decimal("1"),
                 dose_unit="g", frequency="QDS PRN", route="Oral", qty_per_delivery=Decimal("100"),
                 qty_unit="tablet", days_per_delivery=28, number_of_deliveries=6),
            Item(line_no=3, dmd_code="110171000001104", description="Sharps bin 1 litre",
                 qty_per_delivery=Decimal("1"), qty_unit="dose", days_per_delivery=28, number_of_deliveries=6,
                 is_ancillary=True),
        ),
        source_format="jac",
    )


def standard_bundle() -> dict[str, Any]:
    p = standard_prescription()
    return build_prescription_order(
        p, OrderIds.new(p), provider_ods="FTX40", source_endpoint="https://gw.example", prescribing=sample_prescribing()
    )


def _timings_ms(run: Callable[[], object], n: int) -> tuple[float, float]:
    """Median and fastest run, in milliseconds (the fastest shows the cost on an unloaded core)."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3), round(min(times) * 1000, 3)


def bench_figures(n: int = 200) -> dict[str, Any]:
    """Median milliseconds to validate the standard bundle: ours (homecare profiles) and fhir.resources R4B."""
    validator = Validator.from_package()
    bundle = standard_bundle()
    issues = validator.validate(bundle, HOMECARE_PRESCRIPTION_ORDER)
    if any(i.severity in ("error", "fatal") for i in issues):
        raise RuntimeError(f"the standard bundle does not validate: {[i.as_dict() for i in issues]}")
    for _ in range(20):
        validator.validate(bundle, HOMECARE_PRESCRIPTION_ORDER)
    ours, ours_min = _timings_ms(lambda: validator.validate(bundle, HOMECARE_PRESCRIPTION_ORDER), n)
    theirs, theirs_min = _timings_ms(lambda: Bundle.model_validate(bundle), max(n // 4, 10))
    return {
        "bundle_entries": len(bundle["entry"]),
        "runs": n,
        "validator_median_ms": ours,
        "validator_min_ms": ours_min,
        "fhir_resources_r4b_parse_validate_median_ms": theirs,
        "fhir_resources_r4b_parse_validate_min_ms": theirs_min,
        "speedup": round(theirs / ours, 1) if ours else None,
    }
