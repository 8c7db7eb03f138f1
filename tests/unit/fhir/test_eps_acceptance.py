"""The EPS acceptance check: each rule of EPS's coordinator refuses what EPS refuses, at its FHIRPath; the gateway's
orders (golden and generated) pass every rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.domain.model import HomecarePrescription
from gateway.fhir import urls
from gateway.fhir.cancellation import build_cancellations, cancelled_item
from gateway.fhir.eps_acceptance import ALL_RULES, eps_acceptance
from gateway.fhir.eps_acceptance.rules import catalogue_markdown
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import loads_bundle
from gateway.intake.parts import MAX_ITEMS, split
from gateway.simulate.directory import sample_prescribing
from tests.paths import EPS_EXAMPLES

DATA = Path(__file__).resolve().parents[2] / "data" / "fhir"
GOLDEN = DATA / "order-injectable-with-ancillary" / "expected.json"
MR1, MR2 = "Bundle.entry[1].resource", "Bundle.entry[2].resource"
PATIENT, PRACTITIONER, ROLE, ORG = (f"Bundle.entry[{i}].resource" for i in (3, 4, 5, 6))
Bundle = dict[str, Any]


def golden() -> Bundle:
    bundle: Bundle = loads_bundle(GOLDEN.read_bytes())
    return bundle


def res(bundle: Bundle, index: int) -> dict[str, Any]:
    resource: dict[str, Any] = bundle["entry"][index]["resource"]
    return resource


def _set(index: int, *path: str | int, value: Any) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        target: Any = res(bundle, index)
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(index: int, *path: str | int) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        target: Any = res(bundle, index)
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


HL7_CRD = {"system": urls.HL7_COURSE_OF_THERAPY, "code": "continuous-repeat-dispensing"}
# name → (mutation, (rule code, FHIRPath)): what EPS refused in the gateway's orders (issue 15), and more.
MUTATIONS: dict[str, tuple[Callable[[Bundle], None], tuple[str, str]]] = {
    "responsible practitioner without telecom": (_drop(5, "telecom"), ("EPS_RESPONSIBLE_TELECOM", f"{ROLE}.telecom")),
    "job role as text only": (_set(5, "code", value=[{"text": "Rheumatology"}]), ("EPS_JOB_ROLE", f"{ROLE}.code")),
    "organisation without name": (_drop(6, "name"), ("EPS_ORGANIZATION_NAME", f"{ORG}.name")),
    "organisation without address": (_drop(6, "address"), ("EPS_ORGANIZATION_ADDRESS", f"{ORG}.address")),
    "organisation with two telecoms": (
        _set(6, "telecom", value=[{"system": "phone", "value": "1"}, {"system": "phone", "value": "2"}]),
        ("EPS_ORGANIZATION_TELECOM", f"{ORG}.telecom"),
    ),
    "parent organisation unnamed": (_drop(6, "partOf", "display"), ("EPS_PARENT_ORGANIZATION", f"{ORG}.partOf")),
    "validity differs between items": (
        _set(2, "dispenseRequest", "validityPeriod", value={"start": "2026-12-01", "end": "2027-05-17"}),
        ("EPS_IDENTICAL_FOR_ALL_ITEMS", f"{MR2}.dispenseRequest.validityPeriod"),
    ),
    "repeats differ between items": (
        _set(2, "dispenseRequest", "numberOfRepeatsAllowed", value=2),
        ("EPS_REPEATS_IDENTICAL", f"{MR2}.dispenseRequest.numberOfRepeatsAllowed"),
    ),
    "supply duration differs": (
        _set(2, "dispenseRequest", "expectedSupplyDuration", "value", value=14),
        ("EPS_IDENTICAL_FOR_ALL_ITEMS", f"{MR2}.dispenseRequest.expectedSupplyDuration"),
    ),
    "repeat dispensing without validity end": (
        lambda b: [res(b, i)["dispenseRequest"]["validityPeriod"].pop("end") for i in (1, 2)],
        ("EPS_VALIDITY_PERIOD", f"{MR1}.dispenseRequest.validityPeriod"),
    ),
    "repeat dispensing with no repeats": (
        lambda b: [res(b, i)["dispenseRequest"].update(numberOfRepeatsAllowed=0) for i in (1, 2)],
        ("EPS_REPEATS_REQUIRED", f"{MR1}.dispenseRequest.numberOfRepeatsAllowed"),
    ),
    "repeat dispensing under the HL7 code system": (
        _set(1, "courseOfTherapyType", value={"coding": [HL7_CRD]}),
        ("EPS_COURSE_OF_THERAPY_SYSTEM", f"{MR1}.courseOfTherapyType.coding.system"),
    ),
    "course of therapy mixed": (
        _set(2, "courseOfTherapyType", value={"coding": [{"system": urls.HL7_COURSE_OF_THERAPY, "code": "acute"}]}),
        ("EPS_COURSE_OF_THERAPY", f"{MR1}.courseOfTherapyType"),
    ),
    "quantity without unit code": (
        _set(1, "dispenseRequest", "quantity", value={"value": 4, "unit": "pre-filled syringe"}),
        ("EPS_QUANTITY_UNIT_CODE", f"{MR1}.dispenseRequest.quantity"),
    ),
    "quantity code that is no dm+d unit": (
        _set(1, "dispenseRequest", "quantity", "code", value="385055001"),
        ("EPS_DMD_UNIT", f"{MR1}.dispenseRequest.quantity.code"),
    ),
    "intent plan": (_set(1, "intent", value="plan"), ("EPS_INTENT", f"{MR1}.intent")),
    "status not active": (_set(2, "status", value="on-hold"), ("EPS_STATUS", f"{MR2}.status")),
    "line-item ids repeat": (
        lambda b: res(b, 2)["identifier"].__setitem__(0, copy.deepcopy(res(b, 1)["identifier"][0])),
        ("EPS_UNIQUE_LINE_ITEM_ID", f"{MR2}.identifier"),
    ),
    "no dosage text": (
        _drop(1, "dosageInstruction", 0, "text"),
        ("EPS_DOSAGE_TEXT", f"{MR1}.dosageInstruction[0].text"),
    ),
    "GMP number": (
        _set(4, "identifier", value=[{"system": "https://fhir.hl7.org.uk/Id/gmp-number", "value": "G1234567"}]),
        ("EPS_NO_GMP_NUMBER", f"{PRACTITIONER}.identifier"),
    ),
    "two professional codes": (
        lambda b: res(b, 4)["identifier"].append({"system": urls.NMC_NUMBER, "value": "12A3456E"}),
        ("EPS_PROFESSIONAL_CODE", f"{PRACTITIONER}.identifier"),
    ),
    "telecom use EPS cannot translate": (
        _set(5, "telecom", 0, "use", value="old"),
        ("EPS_TELECOM_USE", f"{ROLE}.telecom[0].use"),
    ),
    "requester resolves to nothing": (
        _set(1, "requester", value={"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}),
        ("EPS_REQUESTER", f"{MR1}.requester"),
    ),
    "role organisation by identifier only": (
        _set(5, "organization", value={"identifier": {"system": urls.ODS_ORGANIZATION_CODE, "value": "RBA"}}),
        ("EPS_ROLE_REFERENCE", f"{ROLE}.organization"),
    ),
    "performer site type missing": (
        lambda b: [res(b, i)["dispenseRequest"].pop("extension") for i in (1, 2)],
        ("EPS_REQUIRED_EXTENSION", f"{MR1}.dispenseRequest.extension('Extension-DM-PerformerSiteType')"),
    ),
    "patient without NHS number": (_set(3, "identifier", value=[]), ("EPS_PATIENT", PATIENT)),
}


def test_the_golden_order_breaks_no_rule() -> None:
    assert eps_acceptance(golden()) == []


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_rule_refuses_what_eps_refuses_where_it_is(name: str) -> None:
    mutate, expected = MUTATIONS[name]
    bundle = golden()
    mutate(bundle)
    found = [(i.code, i.location.path) for i in eps_acceptance(bundle)]
    assert expected in found, found


def test_every_rule_names_the_eps_source_it_restates() -> None:
    codes = [rule.code for rule in ALL_RULES]
    assert len(codes) == len(set(codes))
    for rule in ALL_RULES:
        assert rule.source.startswith(("services/", "EPS FHIR API specification", "NHSBSA dm+d")), rule
        assert rule.code.startswith("EPS_") and rule.summary
    issue = ALL_RULES[0].issue("Bundle")
    assert ALL_RULES[0].source in issue.message


def test_a_cancellation_of_several_items_is_refused_as_eps_does() -> None:
    bundle = golden()
    res(bundle, 0)["eventCoding"]["code"] = "prescription-order-update"
    for index in (1, 2):
        res(bundle, index)["status"] = "cancelled"
    found = {(i.code, i.location.path) for i in eps_acceptance(bundle)}
    assert ("EPS_CANCELLATION", "Bundle.entry") in found
    assert ("EPS_CANCELLATION", f"{MR1}.statusReason") in found


def _with_items(count: int) -> Bundle:
    """The golden order with its first MedicationRequest repeated up to `count` (each its own line-item id)."""
    bundle = golden()
    first = bundle["entry"][1]
    for n in range(count - 2):
        extra = copy.deepcopy(first)
        extra["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        extra["resource"]["id"] = extra["fullUrl"][len("urn:uuid:") :]
        for identifier in extra["resource"]["identifier"]:
            if identifier["system"] == urls.PRESCRIPTION_ORDER_ITEM_NUMBER:
                identifier["value"] = extra["resource"]["id"]
        bundle["entry"].insert(3, extra)
    return bundle


def test_more_than_four_items_is_refused_as_eps_does() -> None:
    assert [i.code for i in eps_acceptance(_with_items(4))] == []
    found = [(i.code, i.location.path, i.value) for i in eps_acceptance(_with_items(5))]
    assert found == [("EPS_MAX_ITEMS", "Bundle.entry", "5")]
    assert "bundle-validator.ts" in eps_acceptance(_with_items(5))[0].message


def test_the_eps_example_epss_coordinator_refused_for_too_many_items_is_refused() -> None:
    """EPS's own example of a prescription it answers 400 ("Expected at most 4")."""
    case = EPS_EXAMPLES / "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner/multiple-drugs"
    request = case / "bulk-translation" / "1-Prepare-Request-Send-400_Bad_Request.json"
    if not request.is_file():
        pytest.skip("the shared EPS examples are not here")
    bundle = json.loads(request.read_bytes())
    assert len([e for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]) > 4
    assert "EPS_MAX_ITEMS" in {i.code for i in eps_acceptance(bundle)}


def test_what_is_not_a_message_is_refused_not_raised() -> None:
    for junk in (None, [], {"resourceType": "Bundle"}, {"resourceType": "Bundle", "entry": [{"resource": 3}]}):
        assert eps_acceptance(junk)


# Trust unit words, synonyms of dm+d units included: the mapping codes each one.
UNITS = [
    "tablets",
    "Tabs",
    "pre-filled syringe",
    "PFS",
    "pre-filled pen",
    "ml",
    "mls",
    "ampoules",
    "vial",
    "dose",
    "capsules",
    "patch",
    "bottles",
]


@st.composite
def prescriptions(draw: st.DrawFn) -> HomecarePrescription:
    base = HomecarePrescription.model_validate_json((DATA / "order-nurse-oral-prn" / "input.json").read_bytes())
    days, deliveries = draw(st.integers(1, 365)), draw(st.integers(1, 52))
    count = draw(st.integers(1, 4))
    template = base.items[0]
    items = tuple(
        template.model_copy(
            update={
                "line_no": n,
                "qty_unit": draw(st.sampled_from(UNITS)),
                "qty_per_delivery": draw(st.decimals(Decimal("0.5"), Decimal(1000), places=1)),
                "days_per_delivery": days,
                "number_of_deliveries": deliveries,
                "first_delivery_date": draw(st.none() | st.dates(date(2026, 1, 1), date(2027, 12, 31))),
            }
        )
        for n in range(1, count + 1)
    )
    return base.model_copy(
        update={
            "items": items,
            "trust_ods": draw(st.sampled_from(["RBA", "RHM", "RTH"])),
            "site_code": draw(st.none() | st.sampled_from(["A99968", "RBA01"])),
            "signed_at": draw(st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC))),
        }
    )


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(prescriptions())
def test_generated_prescriptions_through_the_mapper_break_no_rule(p: HomecarePrescription) -> None:
    bundle = build_prescription_order(
        p,
        OrderIds.new(p),
        provider_ods="FTX40",
        source_endpoint="https://gw.example",
        prescribing=sample_prescribing(p.trust_ods, p.site_code),
    )
    assert eps_acceptance(bundle) == []


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(prescriptions())
def test_the_cancellation_of_a_prescription_is_one_message_per_item_each_taken_by_eps(p: HomecarePrescription) -> None:
    """EPS cancels one line per message: N items, N prescription-order-updates, each with its line's
    MedicationRequest only (cancelled, with a statusReason) and breaking no rule; the message ids name the lines."""
    ids = OrderIds.new(p)
    bundles = build_cancellations(
        p,
        ids,
        "At the Patient's request",
        provider_ods="FTX40",
        source_endpoint="https://gw.example",
        prescribing=sample_prescribing(p.trust_ods, p.site_code),
    )
    assert len(bundles) == len(p.items)
    for item, bundle in zip(p.items, bundles, strict=True):
        assert eps_acceptance(bundle) == []
        requests = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
        assert [r["id"] for r in requests] == [ids.item_ids[item.line_no]]
        assert requests[0]["status"] == "cancelled"
        assert requests[0]["statusReason"]["coding"][0]["code"] == "0005"
        focus = {f["reference"] for f in res(bundle, 0)["focus"]}
        assert focus == {f"urn:uuid:{ids.patient_id}", f"urn:uuid:{requests[0]['id']}"}
        assert res(bundle, 0)["eventCoding"]["code"] == "prescription-order-update"
        assert cancelled_item(bundle["id"], ids.item_ids.values()) == requests[0]["id"]
    assert len({b["id"] for b in bundles}) == len({b["identifier"]["value"] for b in bundles}) == len(bundles)


def test_the_documented_rule_table_is_the_code() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "eps-acceptance.md").read_text(encoding="utf-8")
    assert catalogue_markdown() in doc


@st.composite
def long_prescriptions(draw: st.DrawFn) -> HomecarePrescription:
    """A generated prescription of 1 to 12 items, line numbers in export order."""
    p = draw(prescriptions())
    count = draw(st.integers(1, 12))
    items = tuple(p.items[0].model_copy(update={"line_no": n}) for n in range(1, count + 1))
    return p.model_copy(update={"items": items})


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(long_prescriptions())
def test_every_part_of_a_split_prescription_is_an_order_eps_takes(p: HomecarePrescription) -> None:
    """The planner's split (gateway/intake/parts.py): parts of at most four items, in export order, covering every
    item exactly once, each an order EPS accepts with a short-form id of its own."""
    pieces = split(p)
    assert len(pieces) == -(-len(p.items) // MAX_ITEMS)
    assert [i.line_no for piece in pieces for i in piece.items] == [i.line_no for i in p.items]
    short_forms = set()
    for piece in pieces:
        ids = OrderIds.new(piece)
        short_forms.add(ids.short_form_id)
        bundle = build_prescription_order(
            piece,
            ids,
            provider_ods="FTX40",
            source_endpoint="https://gw.example",
            prescribing=sample_prescribing(p.trust_ods, p.site_code),
        )
        assert len([e for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]) <= MAX_ITEMS
        assert eps_acceptance(bundle) == []
    assert len(short_forms) == len(pieces)
    if len(p.items) <= MAX_ITEMS:
        assert pieces == [p]
