"""The prescription-order mapping: a 2-item homecare prescription (injectable + water for injections) to EPS."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.bench.naive_pipeline import build_prescription_order_naive
from gateway.domain.identifiers import is_valid_short_form_id
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
from gateway.errors import InputError
from gateway.fhir import urls
from gateway.fhir.datatypes import fhir_datetime
from gateway.fhir.dispense_schedule import deliveries_from_repeats, repeats_allowed
from gateway.fhir.dosage import parse_frequency
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.fhir.validation import validate_resource
from gateway.simulate.directory import sample_prescribing

PROVIDER = "FTX40"
ENDPOINT = "https://gateway.example.nhs.uk/FHIR/R4"


def prescription(**changes: Any) -> HomecarePrescription:
    base = HomecarePrescription(
        action=Action.NEW,
        trust_ods="RBA",
        site_code="A99968",
        rx_number="HC-26-004711",
        rx_version=1,
        signed_at=datetime(2026, 11, 21, 14, 5, tzinfo=UTC),
        patient=Patient(
            nhs_number="9434765919",
            hospital_number="K1234567",
            title="Mrs",
            family="SMITH",
            given=("Jane", "Anne"),
            birth_date=date(1968, 2, 14),
            sex=Sex.FEMALE,
            address=Address(lines=("12 Tremona Road", "Southampton"), postcode="SO16 6YD"),
            mobile="07700 900123",
        ),
        prescriber=Prescriber(
            name="JONES, Alan",
            family="JONES",
            given="Alan",
            code="4123456",
            code_type=PrescriberCodeType.GMC,
            specialty="Rheumatology",
        ),
        indication="Rheumatoid arthritis",
        provider_ods=PROVIDER,
        service_type=ServiceType.DELIVERY,
        delivery_instructions="Ring the bell twice",
        items=(
            Item(
                line_no=1,
                dmd_code="15517911000001104",
                description="Methotrexate 10mg/0.2ml solution for injection pre-filled syringes",
                dose=Decimal("0.4"),
                dose_unit="ml",
                frequency="EVERY 14 DAYS",
                route="Subcutaneous",
                qty_per_delivery=Decimal("2"),
                qty_unit="pre-filled disposable injection",
                days_per_delivery=28,
                number_of_deliveries=6,
                first_delivery_date=date(2026, 12, 1),
                instructions="Store in a fridge",
            ),
            Item(
                line_no=2,
                dmd_code="110171000001104",
                description="Water for injections 2ml ampoules",
                qty_per_delivery=Decimal("10"),
                qty_unit="ampoules",
                days_per_delivery=28,
                number_of_deliveries=6,
                is_ancillary=True,
            ),
        ),
        source_format="jac",
    )
    return base.model_copy(update=changes)


def build(p: HomecarePrescription | None = None, **kwargs: Any) -> tuple[dict[str, Any], OrderIds]:
    p = p or prescription()
    ids = OrderIds.new(p)
    prescribing = sample_prescribing(p.trust_ods, p.site_code)
    return (
        build_prescription_order(
            p, ids, provider_ods=PROVIDER, source_endpoint=ENDPOINT, prescribing=prescribing, **kwargs
        ),
        ids,
    )


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def test_entries_come_in_eps_order_with_urn_uuid_full_urls() -> None:
    bundle, ids = build()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message"
    assert bundle["id"] == ids.message_id
    assert bundle["identifier"] == {"system": "https://tools.ietf.org/html/rfc4122", "value": ids.bundle_identifier}
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "MessageHeader",
        "MedicationRequest",
        "MedicationRequest",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
    ]
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == "urn:uuid:" + entry["resource"]["id"]
        uuid.UUID(entry["resource"]["id"])


def test_message_header_addresses_the_provider_and_focuses_patient_and_every_item() -> None:
    bundle, ids = build()
    header = bundle["entry"][0]["resource"]
    assert header["id"] == ids.message_id
    assert header["eventCoding"]["code"] == "prescription-order"
    assert header["sender"]["identifier"] == {"system": urls.ODS_ORGANIZATION_CODE, "value": "RBA"}
    assert header["sender"]["reference"] == "urn:uuid:" + ids.practitioner_role_id
    assert header["source"] == {"endpoint": ENDPOINT}
    (destination,) = header["destination"]
    assert destination["endpoint"] == "https://directory.spineservices.nhs.uk/STU3/Organization/FTX40"
    assert destination["receiver"]["identifier"] == {"system": urls.ODS_ORGANIZATION_CODE, "value": PROVIDER}
    focus = [f["reference"] for f in header["focus"]]
    requests = resources(bundle, "MedicationRequest")
    assert focus == ["urn:uuid:" + ids.patient_id] + ["urn:uuid:" + r["id"] for r in requests]


def test_one_medication_request_per_item_with_ids_type_and_dmd_code() -> None:
    p = prescription()
    bundle, ids = build(p)
    requests = resources(bundle, "MedicationRequest")
    assert len(requests) == len(p.items)
    item_numbers = []
    for request, item in zip(requests, p.items, strict=True):
        (prescription_type,) = [e for e in request["extension"] if e["url"] == urls.EXT_PRESCRIPTION_TYPE]
        assert prescription_type["valueCoding"] == {
            "system": "https://fhir.nhs.uk/CodeSystem/prescription-type",
            "code": "1201",
            "display": "Outpatient Homecare Prescriber - Medical Prescriber",
        }
        (item_number,) = [i for i in request["identifier"] if i["system"] == urls.PRESCRIPTION_ORDER_ITEM_NUMBER]
        assert item_number["value"] == ids.item_ids[item.line_no] == request["id"]
        item_numbers.append(item_number["value"])
        group = request["groupIdentifier"]
        assert group["system"] == urls.PRESCRIPTION_ORDER_NUMBER
        assert group["value"] == ids.short_form_id and is_valid_short_form_id(group["value"])
        assert group["extension"] == [
            {
                "url": "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId",
                "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/prescription", "value": ids.prescription_id},
            }
        ]
        assert request["medicationCodeableConcept"]["coding"] == [
            {"system": "http://snomed.info/sct", "code": item.dmd_code, "display": item.description}
        ]
        assert (request["status"], request["intent"]) == ("active", "order")
        assert request["category"][0]["coding"][0]["code"] == "outpatient"
        assert request["courseOfTherapyType"]["coding"][0]["code"] == "continuous-repeat-dispensing"
        assert request["subject"] == {"reference": "urn:uuid:" + ids.patient_id}
        assert request["requester"] == {"reference": "urn:uuid:" + ids.practitioner_role_id}
        assert request["reasonCode"] == [{"text": "Rheumatoid arthritis"}]
        assert request["substitution"] == {"allowedBoolean": False}
    assert len(set(item_numbers)) == len(item_numbers)
    assert is_valid_short_form_id(ids.short_form_id) and "A99968" in ids.short_form_id


def test_injectable_dosage_text_and_timing_every_14_days() -> None:
    bundle, _ = build()
    dosage = resources(bundle, "MedicationRequest")[0]["dosageInstruction"][0]
    assert dosage["text"] == "0.4 millilitre, Subcutaneous route, every 14 days. Store in a fridge"
    assert dosage["timing"] == {"repeat": {"frequency": 1, "period": 14, "periodUnit": "d"}}
    assert dosage["route"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "34206005", "display": "Subcutaneous route"}
    ]
    assert dosage["doseAndRate"] == [
        {
            "doseQuantity": {
                "value": Decimal("0.4"),
                "unit": "millilitre",
                "system": "http://unitsofmeasure.org",
                "code": "mL",
            }
        }
    ]


def test_ancillary_item_has_readable_text_and_no_structure() -> None:
    bundle, _ = build()
    dosage = resources(bundle, "MedicationRequest")[1]["dosageInstruction"][0]
    assert dosage == {"text": "Ancillary item for use with the medicines on this prescription"}


def test_dispense_request_quantity_duration_repeats_and_performer() -> None:
    bundle, _ = build()
    injectable, ancillary = resources(bundle, "MedicationRequest")
    dispense = injectable["dispenseRequest"]
    assert dispense["extension"][0]["valueCoding"]["code"] == "P1"
    # one validity period for every item (EPS): from the earliest supply (the ancillary, from signing) to the last
    # day the injectable's 6 × 28 days from its first delivery cover
    assert dispense["validityPeriod"] == {"start": "2026-11-21", "end": "2027-05-17"}
    assert dispense["quantity"] == {
        "value": Decimal("2"),
        "unit": "pre-filled disposable injection",
        "system": "http://snomed.info/sct",
        "code": "3318611000001103",
    }
    assert dispense["expectedSupplyDuration"] == {
        "value": 28,
        "unit": "day",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    assert dispense["numberOfRepeatsAllowed"] == 5  # 6 deliveries = the first supply + 5 repeats
    assert dispense["performer"] == {"identifier": {"system": urls.ODS_ORGANIZATION_CODE, "value": PROVIDER}}
    assert injectable["courseOfTherapyType"]["coding"][0]["system"] == urls.MEDICATIONREQUEST_COURSE_OF_THERAPY
    # the trust's "ampoules" is the dm+d unit "ampoule"; the item shares the prescription's schedule
    assert ancillary["dispenseRequest"]["validityPeriod"] == dispense["validityPeriod"]
    assert ancillary["dispenseRequest"]["quantity"] == {
        "value": Decimal("10"),
        "unit": "ampoule",
        "system": "http://snomed.info/sct",
        "code": "413516001",
    }
    assert ancillary["dispenseRequest"]["numberOfRepeatsAllowed"] == 5


def test_a_single_delivery_is_acute_without_repeats() -> None:
    items = tuple(i.model_copy(update={"number_of_deliveries": 1}) for i in prescription().items)
    bundle, _ = build(prescription(items=items))
    for request in resources(bundle, "MedicationRequest"):
        assert request["courseOfTherapyType"]["coding"][0]["code"] == "acute"
        assert "numberOfRepeatsAllowed" not in request["dispenseRequest"]
        assert request["dispenseRequest"]["validityPeriod"] == {"start": "2026-11-21", "end": "2026-12-28"}
    assert eps_acceptance(bundle) == []


def test_items_on_different_schedules_are_refused_with_each_difference_located() -> None:
    first, second = prescription().items
    p = prescription(items=(first, second.model_copy(update={"days_per_delivery": 168, "number_of_deliveries": 1})))
    with pytest.raises(InputError) as caught:
        build(p)
    found = {(i.code, i.location.path) for i in caught.value.issues}
    assert found == {
        ("EPS_SCHEDULE_DIFFERS", "items[1].days_per_delivery"),
        ("EPS_SCHEDULE_DIFFERS", "items[1].number_of_deliveries"),
    }


def test_an_unknown_unit_is_refused_naming_the_nearest_dmd_units() -> None:
    first, second = prescription().items
    with pytest.raises(InputError) as caught:
        build(prescription(items=(first, second.model_copy(update={"qty_unit": "ampuole"}))))
    (issue,) = caught.value.issues
    assert (issue.code, issue.location.path, issue.value) == ("UNKNOWN_DMD_UNIT", "items[1].qty_unit", "ampuole")
    assert issue.expected is not None and issue.expected.startswith("ampoule")


@pytest.mark.parametrize(
    ("written", "code", "display"),
    [
        ("pre-filled syringe", "3318611000001103", "pre-filled disposable injection"),
        ("Pre-Filled Pen", "3318611000001103", "pre-filled disposable injection"),
        ("Tablets", "428673006", "tablet"),
        ("mL", "258773002", "ml"),
        ("vials", "415818006", "vial"),
    ],
)
def test_common_synonyms_map_to_the_dmd_unit(written: str, code: str, display: str) -> None:
    first, second = prescription().items
    bundle, _ = build(prescription(items=(first.model_copy(update={"qty_unit": written}), second)))
    quantity = resources(bundle, "MedicationRequest")[0]["dispenseRequest"]["quantity"]
    assert (quantity["code"], quantity["unit"]) == (code, display)


def test_repeats_convention_round_trips() -> None:
    for deliveries in range(1, 53):
        assert deliveries_from_repeats(repeats_allowed(deliveries)) == deliveries
    assert repeats_allowed(1) == 0


def test_homecare_extensions_present_when_the_prescription_has_them() -> None:
    address = Address(lines=("Flat 2", "14 Tremona Road"), postcode="SO16 6YD")
    bundle, _ = build(prescription(delivery_address=address, service_type=ServiceType.DELIVERY_TRAINING))
    injectable, ancillary = resources(bundle, "MedicationRequest")
    by_url = {e["url"]: e for e in injectable["extension"]}
    assert by_url[urls.EXT_HOMECARE_SERVICE_TYPE]["valueCoding"] == {
        "system": urls.HOMECARE_SERVICE_TYPE,
        "code": "delivery-training",
        "display": "Delivery with patient training",
    }
    assert by_url[urls.EXT_HOMECARE_FIRST_DELIVERY_DATE] == {
        "url": urls.EXT_HOMECARE_FIRST_DELIVERY_DATE,
        "valueDate": "2026-12-01",
    }
    assert by_url[urls.EXT_HOMECARE_DELIVERY_ADDRESS]["valueAddress"] == {
        "line": ["Flat 2", "14 Tremona Road"],
        "postalCode": "SO16 6YD",
    }
    assert by_url[urls.EXT_HOMECARE_DELIVERY_INSTRUCTIONS]["valueString"] == "Ring the bell twice"
    assert urls.EXT_HOMECARE_FIRST_DELIVERY_DATE not in {e["url"] for e in ancillary["extension"]}
    plain, _ = build(prescription(service_type=None, delivery_instructions=None))
    assert [e["url"] for e in resources(plain, "MedicationRequest")[1]["extension"]] == [urls.EXT_PRESCRIPTION_TYPE]


def test_patient_practitioner_role_and_organization() -> None:
    bundle, ids = build()
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0] == {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
    assert patient["identifier"][1]["system"] == urls.LOCAL_PATIENT_IDENTIFIER
    assert patient["name"] == [{"use": "usual", "family": "SMITH", "given": ["Jane", "Anne"], "prefix": ["Mrs"]}]
    assert (patient["gender"], patient["birthDate"]) == ("female", "1968-02-14")
    assert patient["telecom"] == [{"system": "phone", "value": "07700 900123", "use": "mobile"}]
    (practitioner,) = resources(bundle, "Practitioner")
    assert practitioner["identifier"] == [{"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "4123456"}]
    (role,) = resources(bundle, "PractitionerRole")
    assert role["practitioner"]["reference"] == "urn:uuid:" + ids.practitioner_id
    assert role["organization"]["reference"] == "urn:uuid:" + ids.organization_id
    # the trust's homecare team contact stands for the responsible practitioner (EPS needs a telecom and job role)
    assert role["code"] == [
        {
            "coding": [
                {
                    "system": "https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode",
                    "code": "R8000",
                    "display": "Clinical Practitioner Access Role",
                }
            ]
        }
    ]
    assert role["telecom"] == [{"system": "phone", "value": "01632 960100", "use": "work"}]
    assert role["specialty"] == [{"text": "Rheumatology"}]
    (organization,) = resources(bundle, "Organization")
    assert organization["identifier"] == [{"system": urls.ODS_ORGANIZATION_CODE, "value": "A99968"}]
    assert organization["name"] == "SOMERSET BOWEL CANCER SCREENING CENTRE"
    assert organization["telecom"] == [{"system": "phone", "value": "01823 333444", "use": "work"}]
    assert organization["address"] == [
        {"use": "work", "line": ["MUSGROVE PARK HOSPITAL", "TAUNTON"], "postalCode": "TA1 5DA"}
    ]
    assert organization["partOf"] == {
        "identifier": {"system": urls.ODS_ORGANIZATION_CODE, "value": "RBA"},
        "display": "TAUNTON AND SOMERSET NHS FOUNDATION TRUST",
    }
    assert eps_acceptance(bundle) == []


@pytest.mark.parametrize(
    ("code_type", "code", "expected"),
    [
        (PrescriberCodeType.GMC, "4123456", "1201"),
        (PrescriberCodeType.NMC, "12A3456E", "1204"),
        (PrescriberCodeType.GPHC, "2012345", "1208"),
        (PrescriberCodeType.HCPC, "PA123456", "1225"),
        (PrescriberCodeType.HCPC, "PH12345", "1217"),
    ],
)
def test_prescription_type_by_prescriber_register(code_type: PrescriberCodeType, code: str, expected: str) -> None:
    prescriber = Prescriber(name="X", code=code, code_type=code_type)
    bundle, _ = build(prescription(prescriber=prescriber))
    for request in resources(bundle, "MedicationRequest"):
        assert request["extension"][0]["valueCoding"]["code"] == expected
    (practitioner,) = resources(bundle, "Practitioner")
    assert practitioner["identifier"][0]["system"] == urls.PRESCRIBER_NUMBER_SYSTEMS[code_type.value]
    assert practitioner["name"] == [{"text": "X"}]


def test_a_profession_without_a_homecare_prescription_type_is_a_located_error() -> None:
    prescriber = Prescriber(name="X", code="OT12345", code_type=PrescriberCodeType.HCPC)
    with pytest.raises(InputError) as caught:
        build(prescription(prescriber=prescriber))
    assert caught.value.issues[0].location.path == "prescriber.code"
    bundle, _ = build(prescription(prescriber=prescriber), prescription_type="1217")
    assert resources(bundle, "MedicationRequest")[0]["extension"][0]["valueCoding"]["code"] == "1217"


def test_missing_parties_and_cancel_are_refused_with_every_problem_located() -> None:
    with pytest.raises(InputError) as caught:
        build(prescription(action=Action.CANCEL, patient=None, prescriber=None))
    assert [i.location.path for i in caught.value.issues] == ["action", "patient", "prescriber"]


def test_serialised_bytes_keep_decimals_exact() -> None:
    bundle, _ = build()
    raw = dumps_bundle(bundle)
    assert b'"doseQuantity":{"value":0.4,' in raw
    assert b'"quantity":{"value":2,' in raw
    assert loads_bundle(raw) == json.loads(raw, parse_float=Decimal)
    assert validate_resource(loads_bundle(raw)) == []


def test_built_bundle_is_valid_fhir() -> None:
    bundle, _ = build()
    assert validate_resource(bundle) == []


def test_naive_build_gives_the_same_bundle() -> None:
    p = prescription()
    ids = OrderIds.new(p)
    prescribing = sample_prescribing(p.trust_ods, p.site_code)
    fast = build_prescription_order(p, ids, provider_ods=PROVIDER, source_endpoint=ENDPOINT, prescribing=prescribing)
    naive = build_prescription_order_naive(
        p, ids, provider_ods=PROVIDER, source_endpoint=ENDPOINT, prescribing=prescribing
    )
    assert json.loads(naive, parse_float=Decimal) == loads_bundle(dumps_bundle(fast))


def test_order_ids_round_trip_through_json() -> None:
    ids = OrderIds.new(prescription())
    assert OrderIds.from_dict(json.loads(json.dumps(ids.as_dict()))) == ids


@pytest.mark.parametrize(
    ("raw", "text", "repeat", "as_needed"),
    [
        ("OD", "once a day", {"frequency": 1, "period": 1, "periodUnit": "d"}, False),
        ("bd", "twice a day", {"frequency": 2, "period": 1, "periodUnit": "d"}, False),
        ("TDS", "three times a day", {"frequency": 3, "period": 1, "periodUnit": "d"}, False),
        ("QDS", "four times a day", {"frequency": 4, "period": 1, "periodUnit": "d"}, False),
        ("OW", "once a week", {"frequency": 1, "period": 1, "periodUnit": "wk"}, False),
        ("EVERY 14 DAYS", "every 14 days", {"frequency": 1, "period": 14, "periodUnit": "d"}, False),
        ("every  2 weeks", "every 2 weeks", {"frequency": 1, "period": 2, "periodUnit": "wk"}, False),
        ("EVERY 1 WEEK", "every week", {"frequency": 1, "period": 1, "periodUnit": "wk"}, False),
        ("STAT", "once only, immediately", {"count": 1}, False),
        ("PRN", "when required", None, True),
        ("BD PRN", "twice a day when required", {"frequency": 2, "period": 1, "periodUnit": "d"}, True),
        ("at night after food", "at night after food", None, False),
        ("EVERY 0 DAYS", "EVERY 0 DAYS", None, False),
    ],
)
def test_frequency_codes(raw: str, text: str, repeat: dict[str, Any] | None, as_needed: bool) -> None:
    frequency = parse_frequency(raw)
    assert frequency is not None
    assert (frequency.text, frequency.repeat, frequency.as_needed) == (text, repeat, as_needed)


def test_prn_is_as_needed_and_free_text_is_text_only() -> None:
    items = (
        Item(
            line_no=1,
            dmd_code="322236009",
            description="Paracetamol 500mg tablets",
            dose=Decimal("1"),
            dose_unit="tablet",
            frequency="PRN",
            route="by mouth",
            qty_per_delivery=Decimal("32"),
            qty_unit="tablet",
            days_per_delivery=28,
            number_of_deliveries=2,
        ),
        Item(
            line_no=2,
            dmd_code="322236009",
            description="Paracetamol 500mg tablets",
            dose=Decimal("1"),
            dose_unit="tablet",
            frequency="with breakfast",
            route="Nasogastric",
            qty_per_delivery=Decimal("32"),
            qty_unit="tablet",
            days_per_delivery=28,
            number_of_deliveries=2,
        ),
    )
    bundle, _ = build(prescription(items=items))
    prn, free = (r["dosageInstruction"][0] for r in resources(bundle, "MedicationRequest"))
    assert prn["asNeededBoolean"] is True and "timing" not in prn
    assert prn["text"] == "1 tablet, Oral route, when required"
    assert prn["doseAndRate"] == [{"doseQuantity": {"value": Decimal("1"), "unit": "tablet"}}]
    assert free["text"] == "1 tablet, Nasogastric, with breakfast"
    assert "timing" not in free and "asNeededBoolean" not in free
    assert free["route"] == {"text": "Nasogastric"}
    assert validate_resource(bundle) == []


def test_fhir_datetime_writes_utc_as_z_and_reads_naive_times_as_uk_local() -> None:
    assert fhir_datetime(datetime(2026, 11, 21, 14, 5, tzinfo=UTC)) == "2026-11-21T14:05:00Z"
    assert fhir_datetime(datetime(2026, 7, 3, 9, 30)) == "2026-07-03T09:30:00+01:00"
    assert fhir_datetime(datetime(2026, 1, 3, 9, 30)) == "2026-01-03T09:30:00Z"
