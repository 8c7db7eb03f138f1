"""Bad input: each problem of an otherwise valid EPS order is reported, located by FHIRPath, with value and
expectation; all the problems of a prescription at once; nothing ever raises."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.fhir import FhirAdapter, eps_ids
from gateway.errors import InputError
from tests.unit.adapters.fhir.support import FROZEN_NOW, errors_at, example, mr, parse, resource

ORDER = "spec/prescribing/prescription-order/eRD-primary-example-req.json"  # four items, entries 1-4
SINGLE = "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner/1-Process-Request-Send-200_OK.json"
CANCEL = "spec/prescribing/prescription-order-update/eRD-primary-example-req.json"
Bundle = dict[str, Any]


def only_error(bundle: Bundle, code: str) -> tuple[str | None, str | None, str | None]:
    parsed = parse(bundle)
    assert not parsed.accepted and parsed.prescription is None
    assert [i.code for i in parsed.errors] == [code], [i.as_dict() for i in parsed.errors]
    [found] = parsed.errors
    return found.location.path, found.value, found.expected


def test_bad_nhs_number_is_located() -> None:
    bundle = example(ORDER)
    index, patient = resource(bundle, "Patient")
    patient["identifier"][0]["value"] = "9449304131"
    path, value, expected = only_error(bundle, "INVALID_NHS_NUMBER")
    assert (path, value) == (f"Bundle.entry[{index}].resource.identifier[0].value", "9449304131")
    assert expected is not None and "Modulus 11" in expected


def test_bad_short_form_check_character_is_located_with_the_right_one() -> None:
    bundle = example(ORDER)
    for n in range(4):
        mr(bundle, n)["groupIdentifier"]["value"] = "24F5DA-A83008-7EFE6A"
    path, value, expected = only_error(bundle, "INVALID_SHORT_FORM_ID")
    assert (path, value) == ("Bundle.entry[1].resource.groupIdentifier.value", "24F5DA-A83008-7EFE6A")
    assert expected == "check character Z: 24F5DA-A83008-7EFE6Z"


def test_malformed_short_form_is_located() -> None:
    bundle = example(SINGLE)
    mr(bundle)["groupIdentifier"]["value"] = "1A7D94"
    path, _, expected = only_error(bundle, "INVALID_SHORT_FORM_ID")
    assert path == "Bundle.entry[1].resource.groupIdentifier.value" and expected and "MOD 37-2" in expected


@pytest.mark.parametrize(("change", "where", "what"), [
    (lambda m: m["groupIdentifier"].update(value="A0548B-A99968-451485"), "groupIdentifier.value", "short-form"),
    (lambda m: m["groupIdentifier"]["extension"][0]["valueIdentifier"].update(
        value="5d1b7f10-0000-4000-8000-000000000000"),
     "groupIdentifier.extension[0].valueIdentifier.value", "long-form"),
    (lambda m: m["subject"].update(reference="urn:uuid:other-patient"), "subject.reference", "patient"),
    (lambda m: m["requester"].update(reference="urn:uuid:other-role"), "requester.reference", "prescriber"),
    (lambda m: m["dispenseRequest"]["performer"]["identifier"].update(value="FTX40"),
     "dispenseRequest.performer.identifier.value", "dispenser"),
])
def test_prescription_level_values_must_agree_across_the_requests(
        change: Callable[[dict[str, Any]], None], where: str, what: str) -> None:
    bundle = example(ORDER)
    change(mr(bundle, 2))  # the third item, entry 3
    parsed = parse(bundle)
    inconsistent = errors_at(parsed, "INCONSISTENT_VALUE")
    assert [i.location.path for i in inconsistent] == [f"Bundle.entry[3].resource.{where}"]
    assert what in inconsistent[0].message
    assert inconsistent[0].expected is not None and "as at Bundle.entry[1].resource" in inconsistent[0].expected
    assert not parsed.accepted


def test_missing_medication_code_is_located() -> None:
    bundle = example(ORDER)
    del mr(bundle, 1)["medicationCodeableConcept"]["coding"]
    path, _, expected = only_error(bundle, "MISSING_VALUE")
    assert path == "Bundle.entry[2].resource.medicationCodeableConcept.coding"
    assert expected is not None and "http://snomed.info/sct" in expected


def test_dmd_code_failing_verhoeff_is_located() -> None:
    bundle = example(ORDER)
    mr(bundle, 3)["medicationCodeableConcept"]["coding"][0]["code"] = "324252007"
    path, value, _ = only_error(bundle, "INVALID_DMD_CODE")
    assert (path, value) == ("Bundle.entry[4].resource.medicationCodeableConcept.coding[0].code", "324252007")


def test_bad_ods_codes_are_located() -> None:
    bundle = example(ORDER)
    index, org = resource(bundle, "Organization")
    org["partOf"]["identifier"]["value"] = "84-H"
    path, value, _ = only_error(bundle, "INVALID_ODS_CODE")
    assert (path, value) == (f"Bundle.entry[{index}].resource.partOf.identifier.value", "84-H")


@pytest.mark.parametrize("identifiers", [
    [{"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "60951"}],
    [{"system": "https://fhir.hl7.org.uk/Id/nmc-number", "value": "12A3456"}],
])
def test_a_registration_number_of_the_wrong_format_is_only_a_warning(identifiers: list[dict[str, str]]) -> None:
    """EPS carries professional codes without checking their format (practitioner.ts)."""
    bundle = example(ORDER)
    index, practitioner = resource(bundle, "Practitioner")
    practitioner["identifier"] = identifiers
    parsed = parse(bundle)
    assert parsed.accepted
    [warning] = [i for i in parsed.issues if i.code == "INVALID_PRESCRIBER_CODE"]
    where = f"Bundle.entry[{index}].resource.identifier[0].value"
    assert (warning.severity, warning.location.path) == ("warning", where)


@pytest.mark.parametrize(("identifiers", "code", "where"), [
    ([{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "555086689106"}], "INVALID_PRESCRIBER_CODE",
     "identifier"),
    ([{"system": "https://fhir.hl7.org.uk/Id/hcpc-number", "value": "OT12345"}], "UNSUPPORTED_PRESCRIBER",
     "identifier[0].value"),
])
def test_spurious_or_missing_registration_is_located(identifiers: list[dict[str, str]], code: str, where: str) -> None:
    bundle = example(ORDER)
    index, practitioner = resource(bundle, "Practitioner")
    practitioner["identifier"] = identifiers
    path, _, expected = only_error(bundle, code)
    assert path == f"Bundle.entry[{index}].resource.{where}" and expected


def test_future_birth_date_and_bad_postcode_are_both_reported() -> None:
    bundle = example(ORDER)
    index, patient = resource(bundle, "Patient")
    patient["birthDate"] = "2026-11-23"
    patient["address"][0]["postalCode"] = "KT11 2Q"
    parsed = parse(bundle)
    assert [(i.code, i.location.path) for i in parsed.errors] == [
        ("FUTURE_DATE", f"Bundle.entry[{index}].resource.birthDate"),
        ("INVALID_POSTCODE", f"Bundle.entry[{index}].resource.address[0].postalCode"),
    ]


def test_every_error_of_a_prescription_is_reported_at_once() -> None:
    bundle = example(ORDER)
    mr(bundle, 0)["dispenseRequest"]["quantity"]["value"] = 0
    mr(bundle, 1)["dispenseRequest"]["expectedSupplyDuration"]["value"] = 400
    mr(bundle, 2)["dispenseRequest"]["numberOfRepeatsAllowed"] = 60
    mr(bundle, 3)["intent"] = "proposal"
    parsed = parse(bundle)
    assert [(i.code, i.location.path) for i in parsed.errors] == [
        ("INVALID_VALUE", "Bundle.entry[4].resource.intent"),
        ("OUT_OF_RANGE", "Bundle.entry[1].resource.dispenseRequest.quantity.value"),
        ("OUT_OF_RANGE", "Bundle.entry[2].resource.dispenseRequest.expectedSupplyDuration.value"),
        ("OUT_OF_RANGE", "Bundle.entry[3].resource.dispenseRequest.numberOfRepeatsAllowed"),
    ]


def test_unresolved_subject_is_located() -> None:
    bundle = example(SINGLE)
    mr(bundle)["subject"]["reference"] = "urn:uuid:nobody"
    path, value, _ = only_error(bundle, "UNRESOLVED_REFERENCE")
    assert (path, value) == ("Bundle.entry[1].resource.subject.reference", "urn:uuid:nobody")


def test_cancel_needs_its_reason_and_cancelled_status() -> None:
    bundle = example(CANCEL)
    del mr(bundle)["statusReason"]
    mr(bundle)["status"] = "active"
    parsed = parse(bundle)
    assert [(i.code, i.location.path) for i in parsed.errors] == [
        ("INVALID_VALUE", "Bundle.entry[1].resource.status"),
        ("MISSING_VALUE", "Bundle.entry[1].resource.statusReason"),
    ]


def test_a_message_without_medication_request_is_rejected() -> None:
    bundle = example(SINGLE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationRequest"]
    [missing] = parse(bundle).errors
    assert (missing.code, missing.location.path) == ("MISSING_VALUE", "Bundle.entry")
    with pytest.raises(InputError):
        eps_ids(bundle)


def test_duplicate_full_urls_make_references_ambiguous() -> None:
    bundle = example(SINGLE)
    bundle["entry"][3]["fullUrl"] = bundle["entry"][2]["fullUrl"]
    assert "DUPLICATE_FULL_URL" in {i.code for i in parse(bundle).errors}


@pytest.mark.parametrize("payload", [
    b"", b"not json", b"[1, 2]", b'{"resourceType": "Patient"}', b'{"resourceType": "Bundle", "type": "batch"}',
    b'{"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "Patient"}}]}',
    b'{"resourceType": "Bundle", "type": "message", "entry": [1]}', "\udcff".encode("utf-8", "surrogatepass"),
])
def test_payloads_that_are_no_prescription_message_are_refused_whole(payload: bytes) -> None:
    result = FhirAdapter(clock=lambda: FROZEN_NOW).parse(payload)
    assert result.file_rejected and result.prescriptions == []


@pytest.mark.parametrize("key", ["dispenseRequest", "subject", "groupIdentifier", "medicationCodeableConcept",
                                 "requester", "dosageInstruction", "extension", "reasonCode"])
@pytest.mark.parametrize("junk", [None, 7, "x", [], {}, [None], {"a": [1]}, Decimal("1E+5000")])
def test_junk_in_a_request_is_reported_never_raised(key: str, junk: object) -> None:
    bundle = example(SINGLE)
    mr(bundle)[key] = junk
    parsed = parse(bundle)  # must not raise, whatever the shape
    if key in ("dispenseRequest", "subject", "groupIdentifier", "medicationCodeableConcept", "requester"):
        assert not parsed.accepted and all(i.location.path for i in parsed.errors)


def test_decimals_are_kept_exactly() -> None:
    bundle = example(SINGLE)
    dosage = mr(bundle)["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"]["value"] = Decimal("0.40")
    mr(bundle)["dispenseRequest"]["quantity"]["value"] = Decimal("2.5")
    p = parse(bundle).prescription
    assert p is not None
    assert str(p.items[0].dose) == "0.40" and p.items[0].dose == Decimal("0.4")
    assert str(p.items[0].qty_per_delivery) == "2.5"


def test_supply_duration_in_weeks_and_repeats_become_days_and_deliveries() -> None:
    bundle = example(SINGLE)
    mr(bundle)["dispenseRequest"].update(expectedSupplyDuration={"value": 4, "unit": "week", "code": "wk"},
                                         numberOfRepeatsAllowed=5)
    p = parse(bundle).prescription
    assert p is not None
    assert (p.items[0].days_per_delivery, p.items[0].number_of_deliveries) == (28, 6)


def test_signing_time_falls_back_to_timestamp_then_authored_on() -> None:
    bundle = example(SINGLE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Provenance"]
    mr(bundle)["authoredOn"] = "2026-01-02T03:04:05+00:00"
    assert parse(bundle).prescription.signed_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # type: ignore[union-attr]
    bundle["timestamp"] = "2026-01-01T00:00:00Z"
    assert parse(bundle).prescription.signed_at == datetime(2026, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]
