"""OperationOutcome answers and the inbound readers: every refusal is located where the client can find it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.api.fhir_outcomes import (
    HGW_ERROR_SYSTEM,
    SPINE_ERROR_SYSTEM,
    operation_outcome,
    release_parameters,
    success_outcome,
)
from gateway.errors import InputError, Issue, Location
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, read_message, read_release_parameters
from tests.paths import EPS_EXAMPLES

EPS = EPS_EXAMPLES / "spec" / "dispensing"


def load(relative: str) -> Any:
    return json.loads((EPS / relative).read_text(encoding="utf-8"))


def located(exc: pytest.ExceptionInfo[InputError]) -> Issue:
    assert len(exc.value.issues) == 1
    return exc.value.issues[0]


# OperationOutcome


def test_outcome_carries_stable_code_location_and_seen_and_expected_values() -> None:
    issue = Issue(
        code="INVALID_NHS_NUMBER",
        message="the NHS number fails the Modulus 11 check",
        location=Location(path="Bundle.entry[3].resource.identifier[0].value"),
        value="9434765918",
        expected="10 digits with a valid check digit",
    )
    outcome = operation_outcome([issue])
    assert outcome["resourceType"] == "OperationOutcome"
    uuid.UUID(outcome["id"])
    [entry] = outcome["issue"]
    assert entry["severity"] == "error"
    assert entry["code"] == "value"
    # The gateway's code first, then the Spine code EPS answers the same refusal with (gateway.validator.catalogue).
    assert entry["details"]["coding"] == [{"system": HGW_ERROR_SYSTEM, "code": "INVALID_NHS_NUMBER"},
                                          {"system": SPINE_ERROR_SYSTEM, "code": "INVALID_VALUE"}]
    [source] = entry["extension"]
    assert source["valueCoding"]["code"] == "eps" and "Modulus 11" in source["valueCoding"]["display"]
    assert entry["details"]["text"] == "the NHS number fails the Modulus 11 check"
    assert entry["expression"] == ["Bundle.entry[3].resource.identifier[0].value"]
    assert entry["diagnostics"] == (
        "the NHS number fails the Modulus 11 check (seen '9434765918', expected 10 digits with a valid check digit)"
    )


def test_diagnostics_with_only_a_seen_or_only_an_expected_value() -> None:
    seen, expected, bare = operation_outcome(
        [
            Issue(code="INVALID_VALUE", message="bad", value="x"),
            Issue(code="MISSING_VALUE", message="missing", expected="an object"),
            Issue(code="INVALID_VALUE", message="plain"),
        ]
    )["issue"]
    assert seen["diagnostics"] == "bad (seen 'x')"
    assert expected["diagnostics"] == "missing (expected an object)"
    assert bare["diagnostics"] == "plain"


def test_issue_without_a_path_has_no_expression() -> None:
    [entry] = operation_outcome([Issue(code="INVALID_VALUE", message="m", location=Location(line=3, column="DOB"))])[
        "issue"
    ]
    assert "expression" not in entry


@pytest.mark.parametrize(
    ("code", "severity", "issue_type", "system"),
    [
        ("RESOURCE_NOT_FOUND", "error", "not-found", SPINE_ERROR_SYSTEM),
        ("PRESCRIPTION_INVALID_STATE_TRANSITION", "error", "business-rule", SPINE_ERROR_SYSTEM),
        ("MISSING_VALUE", "error", "required", HGW_ERROR_SYSTEM),
        ("PAYLOAD_TOO_LARGE", "error", "too-costly", HGW_ERROR_SYSTEM),
        ("IDEMPOTENCY_CONFLICT", "error", "conflict", HGW_ERROR_SYSTEM),
        ("UNSUPPORTED_MEDIA_TYPE", "error", "not-supported", HGW_ERROR_SYSTEM),
        ("INVALID_VALUE", "fatal", "value", HGW_ERROR_SYSTEM),
        ("UNKNOWN_COLUMN", "warning", "informational", HGW_ERROR_SYSTEM),
    ],
)
def test_issue_type_and_code_system(code: str, severity: str, issue_type: str, system: str) -> None:
    [entry] = operation_outcome([Issue(code=code, message="m", severity=severity)])["issue"]  # type: ignore[arg-type]
    assert (entry["severity"], entry["code"], entry["details"]["coding"][0]["system"]) == (severity, issue_type, system)


def test_one_outcome_issue_per_issue_in_order() -> None:
    issues = [Issue(code=f"CODE_{n}", message=str(n), location=Location(path=f"P{n}")) for n in range(3)]
    entries = operation_outcome(issues)["issue"]
    assert [e["details"]["coding"][0]["code"] for e in entries] == ["CODE_0", "CODE_1", "CODE_2"]
    assert [e["expression"] for e in entries] == [["P0"], ["P1"], ["P2"]]


def test_success_outcome() -> None:
    outcome = success_outcome("3 prescriptions accepted")
    assert outcome["issue"] == [
        {"severity": "information", "code": "informational", "diagnostics": "3 prescriptions accepted"}
    ]


def test_release_parameters_wraps_bundles_in_a_searchset() -> None:
    now = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    bundles = [{"resourceType": "Bundle", "id": "b1"}, {"resourceType": "Bundle", "id": "b2"}]
    params = release_parameters(bundles, now + timedelta(minutes=5), now)
    passed, failed, lease = params["parameter"]
    assert passed["name"] == "passedPrescriptions"
    assert passed["resource"]["type"] == "searchset"
    assert passed["resource"]["total"] == 2
    assert [e["fullUrl"] for e in passed["resource"]["entry"]] == ["urn:uuid:b1", "urn:uuid:b2"]
    assert failed["name"] == "failedPrescriptions"
    assert failed["resource"]["total"] == 0
    assert lease == {"name": "leaseExpires", "valueInstant": "2026-11-22T09:35:00+00:00"}


# read_message


@pytest.fixture
def notification() -> dict[str, Any]:
    bundle: dict[str, Any] = load("dispense-notification/acute-primary-example-01-req.json")
    return bundle


def test_read_message_of_the_eps_dispense_notification(notification: dict[str, Any]) -> None:
    header, resources = read_message(notification)
    assert header.event == "dispense-notification"
    assert header.sender_ods == "VNE51"
    assert header.response_to == "a5d77265-8ba5-4c74-b8ce-ea0dbaafbdb8"
    assert header.response_code == "ok"
    assert header.id == "b240434e-cb85-40bb-899c-1c61410c93a7"  # MessageHeader has no id: the Bundle's
    assert [r["resourceType"] for r in resources] == ["MessageHeader"] + ["MedicationDispense"] * 4 + ["Organization"]


def test_read_message_prefers_the_message_header_id(notification: dict[str, Any]) -> None:
    notification["entry"][0]["resource"]["id"] = "3a1f7e0c-0000-4000-8000-00000000000a"
    assert read_message(notification)[0].id == "3a1f7e0c-0000-4000-8000-00000000000a"


def test_message_without_response_has_none(notification: dict[str, Any]) -> None:
    del notification["entry"][0]["resource"]["response"]
    header, _ = read_message(notification)
    assert (header.response_to, header.response_code) == (None, None)


@pytest.mark.parametrize("body", [[], "Bundle", None, {"resourceType": "Parameters"}])
def test_not_a_bundle(body: Any) -> None:
    with pytest.raises(InputError) as exc:
        read_message(body)
    issue = located(exc)
    assert (issue.code, issue.location.path) == ("INVALID_RESOURCE", "Bundle")


@pytest.mark.parametrize("bundle_type", ["transaction", "collection", None])
def test_bundle_type_must_be_message(notification: dict[str, Any], bundle_type: str | None) -> None:
    notification["type"] = bundle_type
    with pytest.raises(InputError) as exc:
        read_message(notification)
    issue = located(exc)
    assert issue.location.path == "Bundle.type"
    assert issue.value == bundle_type
    assert issue.expected == "message"


@pytest.mark.parametrize("entry", [None, [], {}])
def test_bundle_without_entries(notification: dict[str, Any], entry: Any) -> None:
    notification["entry"] = entry
    with pytest.raises(InputError) as exc:
        read_message(notification)
    assert located(exc).location.path == "Bundle.entry"
    assert located(exc).code == "MISSING_VALUE"


def test_first_entry_must_be_the_message_header(notification: dict[str, Any]) -> None:
    notification["entry"].append(notification["entry"].pop(0))
    with pytest.raises(InputError) as exc:
        read_message(notification)
    issue = located(exc)
    assert issue.location.path == "Bundle.entry[0].resource"
    assert (issue.value, issue.expected) == ("MedicationDispense", "MessageHeader")


def test_unknown_response_code(notification: dict[str, Any]) -> None:
    notification["entry"][0]["resource"]["response"]["code"] = "accepted"
    with pytest.raises(InputError) as exc:
        read_message(notification)
    issue = located(exc)
    assert issue.location.path == "Bundle.entry[0].resource.response.code"
    assert issue.value == "accepted"


def test_response_without_identifier(notification: dict[str, Any]) -> None:
    del notification["entry"][0]["resource"]["response"]["identifier"]
    with pytest.raises(InputError) as exc:
        read_message(notification)
    assert located(exc).location.path == "Bundle.entry[0].resource.response.identifier"


def test_header_without_event(notification: dict[str, Any]) -> None:
    del notification["entry"][0]["resource"]["eventCoding"]
    with pytest.raises(InputError) as exc:
        read_message(notification)
    assert located(exc).location.path == "Bundle.entry[0].resource.eventCoding"


def test_message_without_any_id(notification: dict[str, Any]) -> None:
    del notification["id"]
    with pytest.raises(InputError) as exc:
        read_message(notification)
    assert located(exc).location.path == "Bundle.entry[0].resource.id"


# read_release_parameters


@pytest.fixture
def release() -> dict[str, Any]:
    params: dict[str, Any] = load("release/acute-primary-example-req.json")
    return params


def test_release_request_of_the_eps_example(release: dict[str, Any]) -> None:
    request = read_release_parameters(release)
    assert request.owner_ods == "VNE51"
    assert request.short_form_id == "24F5DA-A83008-7EFE6Z"
    assert request.max_count is None


def test_release_with_only_an_owner_and_a_max_count(release: dict[str, Any]) -> None:
    owner = next(p for p in release["parameter"] if p["name"] == "owner")
    release["parameter"] = [{"name": "max-count", "valueInteger": 25}, owner]
    request = read_release_parameters(release)
    assert (request.owner_ods, request.short_form_id, request.max_count) == ("VNE51", None, 25)


@pytest.mark.parametrize("body", [None, [], {"resourceType": "Bundle"}])
def test_release_body_must_be_parameters(body: Any) -> None:
    with pytest.raises(InputError) as exc:
        read_release_parameters(body)
    assert (located(exc).code, located(exc).location.path) == ("INVALID_RESOURCE", "Parameters")


def test_release_without_owner(release: dict[str, Any]) -> None:
    release["parameter"] = [p for p in release["parameter"] if p["name"] != "owner"]
    with pytest.raises(InputError) as exc:
        read_release_parameters(release)
    issue = located(exc)
    assert (issue.code, issue.location.path) == ("MISSING_VALUE", "Parameters.parameter")


@pytest.mark.parametrize(
    "identifiers",
    [[], [{"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "VNE51"}], [{"system": ODS_SYSTEM}]],
)
def test_owner_without_an_ods_code(release: dict[str, Any], identifiers: list[dict[str, str]]) -> None:
    release["parameter"][1]["resource"]["identifier"] = identifiers
    with pytest.raises(InputError) as exc:
        read_release_parameters(release)
    issue = located(exc)
    assert issue.location.path == "Parameters.parameter[1].resource.identifier"
    assert issue.expected == ODS_SYSTEM


def test_group_identifier_of_another_system(release: dict[str, Any]) -> None:
    release["parameter"][0]["valueIdentifier"]["system"] = "https://fhir.nhs.uk/Id/prescription"
    with pytest.raises(InputError) as exc:
        read_release_parameters(release)
    issue = located(exc)
    assert issue.location.path == "Parameters.parameter[0].valueIdentifier.identifier"
    assert issue.expected == SHORT_FORM_SYSTEM


@pytest.mark.parametrize("value", [0, -3, "5", 2.5, None])
def test_bad_max_count(release: dict[str, Any], value: Any) -> None:
    release["parameter"].append({"name": "max-count", "valueInteger": value})
    with pytest.raises(InputError) as exc:
        read_release_parameters(release)
    issue = located(exc)
    assert issue.location.path == "Parameters.parameter[4].valueInteger"
    assert issue.expected == "an integer >= 1"
    assert issue.value == (None if value is None else str(value))


def test_max_count_must_be_an_integer_not_a_boolean() -> None:
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "owner",
                "resource": {"resourceType": "Organization", "identifier": [{"system": ODS_SYSTEM, "value": "VNFKT"}]},
            },
            {"name": "max-count", "valueInteger": True},
        ],
    }
    with pytest.raises(InputError) as err:
        read_release_parameters(params)
    assert err.value.issues[0].location.path == "Parameters.parameter[1].valueInteger"


def test_null_parameter_list_is_a_located_error() -> None:
    with pytest.raises(InputError) as err:
        read_release_parameters({"resourceType": "Parameters", "parameter": None})
    assert err.value.issues[0].location.path == "Parameters.parameter"
