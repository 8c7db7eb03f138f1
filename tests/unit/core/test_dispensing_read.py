"""read_dispenses on the real EPS dispense-notification example, and its located refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.errors import InputError
from gateway.fhir.inbound import read_message
from gateway.lifecycle.dispensing import DispensedLine, read_dispenses
from tests.paths import EPS_EXAMPLES

EXAMPLE = EPS_EXAMPLES / "spec" / "dispensing" / "dispense-notification" / "acute-primary-example-01-req.json"
SHORT_FORM = "24F5DA-A83008-7EFE6Z"


@pytest.fixture
def resources() -> list[dict[str, Any]]:
    _, found = read_message(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    return found


def test_reads_every_medication_dispense_of_the_eps_example(resources: list[dict[str, Any]]) -> None:
    assert read_dispenses(resources) == [
        DispensedLine(SHORT_FORM, "a54219b8-f741-4c47-b662-e4f8dfa49ab6", "0001", "0003", "20"),
        DispensedLine(SHORT_FORM, "6989b7bd-8db6-428c-a593-4022e3044c00", "0001", "0003", "20"),
        DispensedLine(SHORT_FORM, "2868554c-5565-4d31-b92a-c5b8dab8b90a", "0004", "0003", "0"),
        DispensedLine(SHORT_FORM, "5cb17f5a-11ac-4e18-825f-6470467238b3", "0005", "0003", "0"),
    ]


def test_resolves_a_request_elsewhere_in_the_bundle(resources: list[dict[str, Any]]) -> None:
    dispense = resources[1]
    request = next(c for c in dispense.pop("contained") if c["resourceType"] == "MedicationRequest")
    request["id"] = "0f4e2b1c-5a9d-4c1e-9a57-6c2d1e0b7a31"
    dispense["authorizingPrescription"] = [{"reference": "urn:uuid:0f4e2b1c-5a9d-4c1e-9a57-6c2d1e0b7a31"}]
    line = read_dispenses([*resources, request])[0]
    assert (line.short_form_id, line.item_id) == (SHORT_FORM, "a54219b8-f741-4c47-b662-e4f8dfa49ab6")


def test_without_business_status_the_prescription_status_is_none(resources: list[dict[str, Any]]) -> None:
    del resources[1]["extension"]
    assert read_dispenses(resources)[0].prescription_status is None


@pytest.mark.parametrize("reference", ["#m9", "urn:uuid:4509b70d-d8b8-ea03-1105-64557cb54a29", "", None])
def test_unresolvable_authorizing_prescription(resources: list[dict[str, Any]], reference: str | None) -> None:
    resources[2]["authorizingPrescription"] = [{"reference": reference}]
    with pytest.raises(InputError) as exc:
        read_dispenses(resources)
    [issue] = exc.value.issues
    assert issue.code == "INVALID_REFERENCE"
    assert issue.location.path == "Bundle.entry[2].resource.authorizingPrescription[0].reference"
    assert issue.value == reference


def test_missing_authorizing_prescription(resources: list[dict[str, Any]]) -> None:
    del resources[3]["authorizingPrescription"]
    with pytest.raises(InputError) as exc:
        read_dispenses(resources)
    assert exc.value.issues[0].location.path == "Bundle.entry[3].resource.authorizingPrescription"


def test_group_identifier_must_be_the_short_form_id(resources: list[dict[str, Any]]) -> None:
    request = next(c for c in resources[1]["contained"] if c["resourceType"] == "MedicationRequest")
    request["groupIdentifier"]["system"] = "https://fhir.nhs.uk/Id/prescription"
    with pytest.raises(InputError) as exc:
        read_dispenses(resources)
    [issue] = exc.value.issues
    assert issue.location.path == "Bundle.entry[1].resource.authorizingPrescription.resolve().groupIdentifier.system"


def test_line_item_id_is_required(resources: list[dict[str, Any]]) -> None:
    request = next(c for c in resources[1]["contained"] if c["resourceType"] == "MedicationRequest")
    request["identifier"] = []
    with pytest.raises(InputError) as exc:
        read_dispenses(resources)
    assert exc.value.issues[0].location.path == "Bundle.entry[1].resource.authorizingPrescription.resolve().identifier"


def test_unknown_dispense_type(resources: list[dict[str, Any]]) -> None:
    resources[4]["type"]["coding"][0]["code"] = "0009"
    with pytest.raises(InputError) as exc:
        read_dispenses(resources)
    [issue] = exc.value.issues
    assert (issue.location.path, issue.value) == ("Bundle.entry[4].resource.type.coding[0].code", "0009")


def test_unknown_business_status(resources: list[dict[str, Any]]) -> None:
    resources[1]["extension"][0]["valueCoding"]["code"] = "0042"
    with pytest.raises(InputError) as exc:
        read_dispenses(resources)
    [issue] = exc.value.issues
    assert issue.location.path.startswith("Bundle.entry[1].resource.extension(")
    assert issue.value == "0042"


def test_a_notification_without_dispenses(resources: list[dict[str, Any]]) -> None:
    with pytest.raises(InputError) as exc:
        read_dispenses([r for r in resources if r["resourceType"] != "MedicationDispense"])
    assert exc.value.issues[0].location.path == "Bundle.entry"


def test_empty_type_coding_is_a_located_error() -> None:
    header, resources = read_message(json.loads(EXAMPLE.read_text()))
    dispense = next(r for r in resources if r["resourceType"] == "MedicationDispense")
    dispense["type"] = {"coding": []}
    with pytest.raises(InputError) as err:
        read_dispenses(resources)
    assert err.value.issues[0].location.path.endswith(".type.coding[0].code")


def test_authorizing_prescription_resolves_by_entry_full_url() -> None:
    bundle = json.loads(EXAMPLE.read_text())
    _, resources = read_message(bundle)
    dispense = next(r for r in resources if r["resourceType"] == "MedicationDispense")
    request = dict(dispense["contained"][1])
    request.pop("id")
    dispense["authorizingPrescription"] = [{"reference": "urn:uuid:11111111-2222-3333-4444-555555555555"}]
    resources = [*resources, request]
    urls = [None] * (len(resources) - 1) + ["urn:uuid:11111111-2222-3333-4444-555555555555"]
    lines = read_dispenses(resources, urls)
    assert lines[0].short_form_id == SHORT_FORM
    with pytest.raises(InputError) as err:  # without the fullUrl it does not resolve, and says so
        read_dispenses(resources)
    assert err.value.issues[0].code == "INVALID_REFERENCE"
