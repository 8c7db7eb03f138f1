"""The EPS examples as sent: prescribing messages are accepted unchanged and map to the canonical model;
the requests EPS rejects are rejected here with the matching located error."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters.fhir import FhirAdapter, eps_ids
from gateway.domain.identifiers import is_valid_short_form_id, mod37_2_check_character
from gateway.domain.model import Action, PrescriberCodeType, ServiceType, Sex
from tests.paths import EPS_EXAMPLES
from tests.unit.adapters.fhir.support import (
    EPS_REJECTED,
    FROZEN_NOW,
    accepted_examples,
    errors_at,
    event_of,
    example,
    not_prescription_messages,
    parse,
    prescription_messages,
    resource,
)

SECONDARY = "secondary-care/community/acute/nominated-pharmacy/"


def test_the_examples_are_all_found() -> None:
    assert len(prescription_messages()) == 103
    assert set(EPS_REJECTED) <= set(prescription_messages())
    assert len(accepted_examples()) == 95


@pytest.mark.parametrize("rel", accepted_examples())
def test_every_prescribing_example_is_accepted_as_it_is(rel: str) -> None:
    bundle = example(rel)
    untouched = copy.deepcopy(bundle)
    parsed = parse(bundle)
    assert parsed.accepted, [i.as_dict() for i in parsed.errors]
    assert bundle == untouched  # only read: the prescriber's signature (Provenance) stays valid
    p = parsed.prescription
    assert p is not None
    cancel = event_of(bundle) == "prescription-order-update"
    assert p.action is (Action.CANCEL if cancel else Action.NEW)
    assert p.source_format == "fhir"
    assert p.patient is not None and p.prescriber is not None
    ids = eps_ids(bundle)
    assert is_valid_short_form_id(ids.short_form_id) and p.rx_number == ids.short_form_id
    assert [item.line_no for item in p.items] == list(ids.item_ids) == list(range(1, len(p.items) + 1))
    if cancel:
        assert p.cancel_reason


@pytest.mark.parametrize("rel", accepted_examples()[:6])
def test_the_adapter_reads_the_bytes_as_parse_bundle_reads_the_dict(rel: str) -> None:
    result = FhirAdapter(clock=lambda: FROZEN_NOW).parse((EPS_EXAMPLES / rel).read_bytes())
    assert not result.file_issues
    [parsed] = result.prescriptions
    assert parsed.prescription == parse(example(rel)).prescription


def test_eps_repeat_dispensing_order_maps_to_the_canonical_model() -> None:
    bundle = example("spec/prescribing/prescription-order/eRD-primary-example-req.json")
    parsed = parse(bundle)
    p = parsed.prescription
    assert p is not None
    # The GP practice is part of a CCG: partOf is the "trust", the practice the site.
    assert (p.trust_ods, p.site_code) == ("84H", "A83008")
    assert p.rx_number == "24F5DA-A83008-7EFE6Z" and p.rx_version == 1
    assert p.signed_at == datetime(2022, 10, 21, 13, 47, tzinfo=UTC)
    assert p.patient is not None
    assert (p.patient.nhs_number, p.patient.family, p.patient.given, p.patient.title) == (
        "9449304130", "TWITCHETT", ("STACEY", "MARISA"), "MS")
    assert (p.patient.sex, p.patient.birth_date) == (Sex.FEMALE, date(1948, 4, 30))
    assert p.patient.address.lines == ("10 HEATHFIELD", "COBHAM", "SURREY") and p.patient.address.postcode == "KT11 2QY"
    assert p.prescriber is not None
    assert (p.prescriber.code, p.prescriber.code_type, p.prescriber.name) == ("6095103", PrescriberCodeType.GMC,
                                                                              "BOIN, C")
    assert (p.provider_ods, p.service_type, p.indication) == ("VNE51", ServiceType.DELIVERY, "not stated")
    assert [(i.dmd_code, i.frequency) for i in p.items] == [
        ("39732311000001104", "BD"), ("322341003", "BD"), ("321080004", "TDS"), ("324252006", "TDS")]
    first = p.items[0]
    assert (first.description, first.route, first.qty_per_delivery, first.qty_unit) == (
        "Amoxicillin 250mg capsules", "Oral", Decimal(20), "tablet")
    # numberOfRepeatsAllowed 6 = 7 supplies; expectedSupplyDuration 10 days.
    assert (first.days_per_delivery, first.number_of_deliveries) == (10, 7)
    ids = eps_ids(bundle)
    assert ids.prescription_id == "20ba5fb5-cb58-462c-923e-22d180b09356"
    assert ids.message_id == "0cb82cfa-76c8-4fb2-a08e-bf0e326e5487"  # no MessageHeader.id: Bundle.id
    assert ids.item_ids[4] == "5cb17f5a-11ac-4e18-825f-6470467238b3"
    assert {i.code for i in parsed.issues} == {"NOT_HOMECARE_PRESCRIPTION_TYPE", "DEFAULTED_VALUE"}


def test_secondary_care_injection_maps_dose_route_and_defaults() -> None:
    bundle = example(SECONDARY + "clinical-practitioner/1-Process-Request-Send-200_OK.json")
    parsed = parse(bundle)
    p = parsed.prescription
    assert p is not None
    assert (p.trust_ods, p.site_code, p.rx_number) == ("RRE", "RRERP", "1A7D94-0RRERP-549310")
    # The signature time, not Provenance.recorded.
    assert p.signed_at == datetime(2022, 2, 28, 14, 57, 9, tzinfo=UTC)
    [item] = p.items
    assert (item.dmd_code, item.dose, item.dose_unit, item.route) == (
        "15517911000001104", Decimal(10), "mg", "Subcutaneous route")
    # 5 times a day for 10 days is no JAC code: the dosage text is kept.
    assert item.frequency == "Inject 10 milligram - 5 times a day - Subcutaneous route - for 10 days"
    assert (item.qty_per_delivery, item.qty_unit) == (Decimal(1), "pre-filled disposable injection")
    assert (item.days_per_delivery, item.number_of_deliveries) == (28, 1)
    [defaulted] = [i for i in parsed.issues if i.location.path and i.location.path.endswith("expectedSupplyDuration")]
    assert defaulted.severity == "warning" and defaulted.code == "DEFAULTED_VALUE"
    # The line-item id is the prescription-order-item-number, not the MedicationRequest's own id.
    assert eps_ids(bundle).item_ids == {1: "dcc7c70c-bb4f-46a8-93ca-1f518611b798"}


def test_four_drug_order_maps_each_line_in_bundle_order() -> None:
    rel = SECONDARY + "clinical-practitioner/multiple-drugs/1-Process-Request-Send-200_OK.json"
    p = parse(example(rel)).prescription
    assert p is not None
    assert (p.trust_ods, p.site_code, p.provider_ods) == ("RBA", "A99968", "FH542")
    assert [(i.line_no, i.frequency) for i in p.items[:3]] == [(1, "TDS"), (2, "QDS"), (3, "BD")]
    diclofenac, _, _, fentanyl = p.items
    assert (diclofenac.dose, diclofenac.dose_unit, diclofenac.instructions) == (
        Decimal(1), "tablet", "One tablet three times daily")
    # Every 72 hours is not one of the JAC codes: the dosage text says it.
    assert fentanyl.frequency == "1 patch - every 72 hours - One every 72 hours"
    assert (fentanyl.qty_per_delivery, fentanyl.qty_unit) == (Decimal(5), "patch")


def test_newer_shape_names_prescriber_and_trust_by_identifier() -> None:
    p = parse(example(SECONDARY + "clinical-practitioner/prescription-refactor/1-Process-Request-Send-200_OK.json")
              ).prescription
    assert p is not None and p.prescriber is not None
    assert (p.prescriber.code, p.prescriber.code_type, p.prescriber.name) == ("6150129", PrescriberCodeType.GMC,
                                                                              "MR RANDOM FIFTYSEVEN")
    assert (p.trust_ods, p.site_code) == ("RBA", "A99968")  # organization, and healthcareService as the site


def test_medication_reference_is_resolved_to_its_dmd_code() -> None:
    p = parse(example(SECONDARY + "nurse/medication-reference/1-Process-Request-Send-200_OK.json")).prescription
    assert p is not None
    assert p.items[3].dmd_code == "15517911000001104"
    assert p.items[3].description == "Methotrexate 10mg/0.2ml solution for injection pre-filled syringes"
    assert (p.items[3].instructions, p.items[3].frequency) == ("Follow directions", "Follow directions")


@pytest.mark.parametrize(("rel", "code_type", "code"), [
    (SECONDARY + "nurse/prescribing-and-professional-codes/1-Process-Request-Send-200_OK.json", "NMC", "12A3456B"),
    (SECONDARY + "pharmacist/prescriber-endorsed/1-Process-Request-Send-200_OK.json", "GPHC", "2083469"),
])
def test_each_register_gives_the_prescriber_code_and_type(rel: str, code_type: str, code: str) -> None:
    p = parse(example(rel)).prescription
    assert p is not None and p.prescriber is not None
    assert (p.prescriber.code_type.value, p.prescriber.code) == (code_type, code)


@pytest.mark.parametrize(("rel", "reason"), [
    ("spec/prescribing/prescription-order-update/eRD-primary-example-req.json", "Clinical contra-indication"),
    ("spec/prescribing/prescription-order-update/repeat-primary-example-req.json", "Clinical contra-indication"),
    (SECONDARY + "clinical-practitioner/1-Process-Request-Cancel-200_OK.json", "At the Patient's request"),
    (SECONDARY + "health-professional/1-Process-Request-Cancel-200_OK.json", "Prescribing Error"),
    (SECONDARY + "nurse/prescribing-and-professional-codes/1-Process-Request-Cancel-200_OK.json", "Prescribing Error"),
])
def test_every_update_example_is_a_cancel_with_its_reason(rel: str, reason: str) -> None:
    bundle = example(rel)
    parsed = parse(bundle)
    p = parsed.prescription
    assert p is not None and p.action is Action.CANCEL
    assert p.cancel_reason == reason
    assert p.rx_number == eps_ids(bundle).short_form_id == bundle["entry"][1]["resource"]["groupIdentifier"]["value"]
    assert "UNSIGNED_MESSAGE" not in {i.code for i in parsed.issues}  # EPS cancellations are not signed


PRIMARY = "primary-care/"


@pytest.mark.parametrize(("rel", "code_type", "code"), [
    # EPS drops a GMC number's leading C (practitioner.ts).
    (PRIMARY + "repeat-dispensing/nominated-pharmacy/medical-prescriber/author/gmc/responsible-party/medication-list/"
     "din/1-Process-Request-Send-200_OK.json", "GMC", "6095103"),
    # A prescriber code of no named register is carried as EPS carries it.
    (PRIMARY + "acute/no-nominated-pharmacy/medical-prescriber/author/unknown/1-Process-Request-Send-200_OK.json",
     "PROFESSIONAL", "999999"),
])
def test_primary_care_prescriber_codes_are_read_as_eps_reads_them(rel: str, code_type: str, code: str) -> None:
    p = parse(example(rel)).prescription
    assert p is not None and p.prescriber is not None
    assert (p.prescriber.code_type.value, p.prescriber.code) == (code_type, code)


def test_a_gp_prescribing_code_under_the_gmc_system_is_accepted_and_a_gmp_number_refused() -> None:
    rel = SECONDARY + "clinical-practitioner/1-Process-Request-Send-200_OK.json"
    bundle = example(rel)
    index, practitioner = resource(bundle, "Practitioner")
    gmc = next(i for i in practitioner["identifier"] if i["system"].endswith("gmc-number"))
    gmc["value"] = "G1234567"
    p = parse(bundle).prescription
    assert p is not None and p.prescriber is not None and p.prescriber.code == "G1234567"
    gmc["system"] = "https://fhir.hl7.org.uk/Id/gmp-number"
    parsed = parse(bundle)
    assert [(i.code, i.value) for i in parsed.errors] == [
        ("INVALID_PRESCRIBER_CODE", "https://fhir.hl7.org.uk/Id/gmp-number")]


def test_two_professional_codes_are_refused_as_eps_does_and_a_bad_format_is_a_warning() -> None:
    bundle = example(SECONDARY + "clinical-practitioner/1-Process-Request-Send-200_OK.json")
    index, practitioner = resource(bundle, "Practitioner")
    practitioner["identifier"].append({"system": "https://fhir.hl7.org.uk/Id/nmc-number", "value": "12A3456B"})
    [two] = parse(bundle).errors
    assert (two.code, two.location.path) == ("INVALID_PRESCRIBER_CODE", f"Bundle.entry[{index}].resource.identifier")
    practitioner["identifier"].pop()
    next(i for i in practitioner["identifier"] if i["system"].endswith("gmc-number"))["value"] = "12345"
    parsed = parse(bundle)
    assert parsed.accepted
    assert [(i.code, i.severity) for i in parsed.issues if i.code == "INVALID_PRESCRIBER_CODE"] == [
        ("INVALID_PRESCRIBER_CODE", "warning")]


def test_cancel_prescriber_is_the_requester_not_the_responsible_secretary() -> None:
    p = parse(example(SECONDARY + "clinical-practitioner/1-Process-Request-Cancel-200_OK.json")).prescription
    assert p is not None and p.prescriber is not None
    assert (p.prescriber.code, p.prescriber.family) == ("6150129", "FIFTYSEVEN")
    assert p.signed_at == FROZEN_NOW  # no signature, timestamp or authoredOn: the time received


def test_update_examples_are_all_covered() -> None:
    updates = [r for r in accepted_examples() if event_of(example(r)) == "prescription-order-update"]
    assert len(updates) == 15


@pytest.mark.parametrize("rel", sorted(EPS_REJECTED))
def test_requests_eps_rejects_are_rejected_with_the_matching_error(rel: str) -> None:
    code, path = EPS_REJECTED[rel]
    parsed = parse(example(rel))
    assert not parsed.accepted and parsed.prescription is None
    assert path in [i.location.path for i in errors_at(parsed, code)], [i.as_dict() for i in parsed.errors]


def test_invalid_checksum_names_the_right_check_character() -> None:
    parsed = parse(example("errors/1-Process-Request-Send-400_INVALID_CHECKSUM.json"))
    [bad] = parsed.errors
    assert bad.value == "269CA9-A99968-4577BP"
    assert bad.expected is not None and f"check character {mod37_2_check_character('269CA9-A99968-4577B')}" in (
        bad.expected)
    assert "invalid checksum" in bad.message


def test_course_of_therapy_mix_and_intent_and_item_count_quote_the_value_seen() -> None:
    mixed = parse(example("errors/2-Process-Request-Send-400_Invalid_Course_of_Therapy_mixed.json"))
    [bad] = mixed.errors
    assert (bad.value, bad.expected) == ("continuous-repeat-dispensing", "acute, as at Bundle.entry[1].resource")
    [intent] = parse(example("errors/4-Process-Request-Send-400_invalid_intent.json")).errors
    assert (intent.value, intent.message) == ("plan", "MedicationRequest.intent must be order, original-order or "
                                                      "instance-order")
    bulk = parse(example(SECONDARY + "clinical-practitioner/multiple-drugs/bulk-translation/"
                                     "1-Process-Request-Send-400_Bad_Request.json"))
    [many] = bulk.errors
    assert (many.value, many.expected) == ("5", "at most 4")


def test_deceased_patient_is_refused_and_the_prescriber_without_registration_too() -> None:
    parsed = parse(example("spec/errors/example-b-spine-error-patient-deceased/SendRequest-FhirMessageSigned.json"))
    assert {i.code for i in parsed.errors} == {"PATIENT_DECEASED", "INVALID_PRESCRIBER_CODE"}
    [deceased] = errors_at(parsed, "PATIENT_DECEASED")
    assert deceased.value == "2015-02-07T13:28:17+00:00"


# Not applicable to this adapter, so not "rejected with the matching error" here: OperationOutcome-only files and
# prescription-order-response Bundles (R-0002 ... R-5888, bundle-error/-success) are EPS's answers, not requests;
# Parameters, Claim and Task files belong to release, claim, return and withdraw; dispense-notification messages
# (errors/3-Process-Request-Dispense-400_Invalid_Value.json included) go to the dispensing path. The adapter
# refuses each as a whole, saying it is not a prescription message.
@pytest.mark.parametrize("rel", not_prescription_messages())
def test_other_example_files_are_refused_as_not_prescription_messages(rel: str) -> None:
    result = FhirAdapter(clock=lambda: FROZEN_NOW).parse((EPS_EXAMPLES / rel).read_bytes())
    assert result.file_rejected and result.prescriptions == []
    assert {i.code for i in result.file_issues} <= {"NOT_A_MESSAGE", "UNSUPPORTED_MESSAGE_EVENT"}


def test_a_bundle_without_entry_is_refused_as_eps_does() -> None:
    """spec/errors/example-a is only EPS's answer (MISSING_FIELD: Bundle must contain 'entry'); this is its request."""
    result = FhirAdapter().parse(b'{"resourceType": "Bundle", "type": "message"}')
    [missing] = result.file_issues
    assert (missing.code, missing.location.path) == ("MISSING_VALUE", "Bundle.entry")

