"""Round trips: canonical → `build_prescription_order` → this adapter gives the canonical values back; timing
codes invert `parse_frequency`; no shape of input makes the adapter raise."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.fhir import eps_ids
from adapters.fhir.timing import frequency_code
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
from gateway.fhir.dosage import parse_frequency
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.simulate.directory import sample_prescribing
from tests.unit.adapters.fhir.support import example, parse

SETTINGS = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
SOURCE_ENDPOINT = "https://gateway.example.nhs.uk/FHIR/R4"
GOLDEN_OUT = Path(__file__).resolve().parents[3] / "data" / "fhir"
# Real dm+d codes (shared/reference/dmd-subset.csv).
DMD = [
    ("15517911000001104", "Methotrexate 10mg/0.2ml solution for injection pre-filled syringes"),
    ("110171000001104", "Water for injections 2ml ampoules"),
    ("322236009", "Paracetamol 500mg tablets"),
    ("324689003", "Nystatin 100,000units/ml oral suspension"),
]
CODED = ["OD", "BD", "TDS", "QDS", "OW", "STAT", "PRN", "BD PRN", "EVERY 14 DAYS", "EVERY 3 WEEKS"]
# Routes as the SNOMED display the mapping writes, or free text it carries as text.
ROUTES = [None, "Subcutaneous route", "Oral route", "Intravenous route", "Via gastrostomy tube"]
# UCUM codes come back as the code, other units as written.
DOSE_UNITS = ["mg", "g", "mL", "mmol", "tablet", "pre-filled pen"]
WORDS = st.text("abcdefghijklmnopqrstuvwxyz ", min_size=3, max_size=30).map(str.strip).filter(bool)


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    body = f"{draw(st.integers(100_000_000, 999_999_999)):09d}"
    check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
    assume(check != 10)
    return body + str(check % 11)


decimals = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10_000), places=3, allow_nan=False)


# dm+d units of measure as the mapping writes them (a trust's synonym comes back as the dm+d description).
QTY_UNITS = ["tablet", "pre-filled disposable injection", "ml", "ampoule", "capsule", "vial", "dose"]


@st.composite
def items(draw: st.DrawFn, line_no: int, days: int, deliveries: int) -> Item:
    code, description = draw(st.sampled_from(DMD))
    dose = draw(st.none() | decimals)
    instructions = draw(st.none() | WORDS.map(str.capitalize))
    return Item(
        line_no=line_no, dmd_code=code, description=description, dose=dose,
        dose_unit=None if dose is None else draw(st.sampled_from(DOSE_UNITS)),
        # None only with a dose: with nothing else, the text "As directed" comes back as the frequency.
        frequency=draw(st.sampled_from(CODED) | WORDS.map(lambda w: f"{w} after food")
                       | (st.none() if dose is not None else st.nothing())),
        route=draw(st.sampled_from(ROUTES)), qty_per_delivery=draw(decimals), qty_unit=draw(st.sampled_from(QTY_UNITS)),
        # EPS reads one schedule per prescription: every item has the prescription's days and deliveries.
        days_per_delivery=days, number_of_deliveries=deliveries,
        first_delivery_date=draw(st.none() | st.dates(date(2026, 1, 1), date(2027, 12, 31))),
        instructions=instructions,
    )


@st.composite
def prescriptions(draw: st.DrawFn) -> HomecarePrescription:
    register = draw(st.sampled_from(["GMC", "NMC", "GPHC"]))
    code = {"GMC": "4123456", "NMC": "12A3456E", "GPHC": "2083469"}[register]
    family = draw(st.sampled_from(["JONES", "O'NEILL", "Smith-Jones"]))
    given = draw(st.none() | st.sampled_from(["Alan", "Mary Ann"]))
    n = draw(st.integers(1, 4))
    days, deliveries = draw(st.integers(1, 365)), draw(st.integers(1, 52))
    site = draw(st.none() | st.sampled_from(["A99968", "RBA01"]))
    return HomecarePrescription(
        action=Action.NEW, trust_ods=draw(st.sampled_from(["RBA", "RHM", "RRE"])), site_code=site,
        rx_number=draw(st.text("ABCDEFGHJK0123456789-", min_size=1, max_size=20)), rx_version=1,
        signed_at=draw(st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC))).replace(
            microsecond=0),
        patient=Patient(
            nhs_number=draw(nhs_numbers()), hospital_number=draw(st.none() | st.just("K1234567")),
            title=draw(st.none() | st.just("Mrs")), family="SMITH", given=tuple(draw(st.lists(
                st.sampled_from(["Jane", "Siân", "Anne"]), max_size=2))),
            birth_date=draw(st.dates(date(1920, 1, 1), date(2026, 1, 1))), sex=draw(st.sampled_from(Sex)),
            address=Address(lines=("12 Tremona Road", "Southampton"), postcode="SO16 6YD"),
            phone=draw(st.none() | st.just("023 8079 0000")), mobile=draw(st.none() | st.just("07700 900123")),
        ),
        prescriber=Prescriber(name=f"{family}, {given}" if given else family, family=family, given=given, code=code,
                              code_type=PrescriberCodeType(register),
                              specialty=draw(st.none() | st.just("Rheumatology"))),
        indication=draw(WORDS), indication_snomed=draw(st.none() | st.just("69896004")),
        provider_ods=draw(st.sampled_from(["FTX40", "VNCEL", "VN6XW"])),
        service_type=draw(st.sampled_from(ServiceType)),
        delivery_address=draw(st.none() | st.just(Address(lines=("Flat 2",), postcode="SO16 6YD"))),
        delivery_instructions=draw(st.none() | WORDS),
        items=tuple(draw(items(line, days, deliveries)) for line in range(1, n + 1)),
        source_format="fhir",
    )


def order(p: HomecarePrescription, ids: OrderIds) -> dict[str, Any]:
    prescribing = sample_prescribing(p.trust_ods, p.site_code)
    return build_prescription_order(
        p, ids, provider_ods=str(p.provider_ods), source_endpoint=SOURCE_ENDPOINT, prescribing=prescribing)


def round_trip(p: HomecarePrescription, ids: OrderIds) -> HomecarePrescription:
    assert p.provider_ods is not None
    bundle = order(p, ids)
    assert eps_acceptance(bundle) == []  # EPS's coordinator would take every order the mapping makes
    parsed = parse(loads_bundle(dumps_bundle(bundle)))
    assert parsed.accepted, [i.as_dict() for i in parsed.errors]
    assert parsed.prescription is not None
    return parsed.prescription


@SETTINGS
@given(prescriptions())
def test_canonical_to_order_and_back_gives_the_same_values(p: HomecarePrescription) -> None:
    ids = OrderIds.new(p)
    assert round_trip(p, ids) == p
    back = eps_ids(loads_bundle(dumps_bundle(order(p, ids))))
    assert (back.short_form_id, back.prescription_id, back.message_id, back.item_ids) == (
        ids.short_form_id, ids.prescription_id, ids.message_id, ids.item_ids)


@pytest.mark.parametrize("case", ["order-injectable-with-ancillary", "order-nurse-oral-prn"])
def test_our_golden_outbound_orders_read_back(case: str) -> None:
    """The prescription-order golden files of the outbound mapping, read back by this adapter."""
    source = HomecarePrescription.model_validate_json((GOLDEN_OUT / case / "input.json").read_text(encoding="utf-8"))
    p = parse(loads_bundle((GOLDEN_OUT / case / "expected.json").read_bytes())).prescription
    assert p is not None
    assert (p.rx_number, p.trust_ods, p.site_code, p.provider_ods, p.service_type, p.indication) == (
        source.rx_number, source.trust_ods, source.site_code, source.provider_ods, source.service_type,
        source.indication)
    assert p.patient == source.patient
    for got, sent in zip(p.items, source.items, strict=True):
        assert (got.dmd_code, got.dose, got.frequency, got.qty_per_delivery, got.days_per_delivery,
                got.number_of_deliveries, got.first_delivery_date, got.instructions, got.is_ancillary) == (
            sent.dmd_code, sent.dose, sent.frequency, sent.qty_per_delivery, sent.days_per_delivery,
            sent.number_of_deliveries, sent.first_delivery_date, sent.instructions, sent.is_ancillary)


@pytest.mark.parametrize("code", CODED + ["EVERY 2 DAYS", "EVERY 52 WEEKS"])
def test_each_jac_code_is_read_back_from_its_timing(code: str) -> None:
    meaning = parse_frequency(code)
    assert meaning is not None
    dosage: dict[str, Any] = {"asNeededBoolean": True} if meaning.as_needed else {}
    if meaning.repeat is not None:
        dosage["timing"] = {"repeat": meaning.repeat}
    assert frequency_code(dosage) == code


@pytest.mark.parametrize("repeat", [
    {"frequency": 5, "period": 1, "periodUnit": "d"},
    {"frequency": 1, "period": 72, "periodUnit": "h"},
    {"frequency": 2, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 10, "code": "d"}},
    {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]},
    {"frequency": 1, "frequencyMax": 2, "period": 1, "periodUnit": "d"},
])
def test_timing_that_no_code_says_exactly_gives_no_code(repeat: dict[str, Any]) -> None:
    assert frequency_code({"timing": {"repeat": repeat}}) is None


def test_whole_decimals_in_timing_still_match() -> None:
    assert frequency_code({"timing": {"repeat": {"frequency": Decimal("2.0"), "period": 1, "periodUnit": "d"}}}) == "BD"


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in children:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


_FUZZ_BASE = example("secondary-care/community/acute/nominated-pharmacy/nurse/medication-reference/"
                     "1-Process-Request-Send-200_OK.json")
_FUZZ_PATHS = [p for p in _paths(_FUZZ_BASE) if "data" not in p]
JUNK = st.sampled_from([None, 7, -1, "x", "", [], {}, [None], {"a": [1]}, True, Decimal("1E+5000"), Decimal("NaN")])


@settings(SETTINGS, max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(_FUZZ_PATHS), JUNK), min_size=1, max_size=3))
def test_no_shape_of_input_makes_the_adapter_raise(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    bundle = copy.deepcopy(_FUZZ_BASE)
    for path, junk in changes:
        target: Any = bundle
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    parsed = parse(bundle)
    assert all(i.location.path for i in parsed.issues)
