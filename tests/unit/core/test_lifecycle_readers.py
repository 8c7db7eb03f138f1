"""Reading what providers send about the lifecycle: located refusals, never a crash, and the validity rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.parties import provider_messages as msg
from gateway.delivery import rejections, returns
from gateway.domain.model import HomecarePrescription
from gateway.errors import InputError
from gateway.fhir.dispense_notice import read_notice
from gateway.fhir.inbound import read_message
from gateway.lifecycle import clinical_queries as queries
from gateway.lifecycle import deliveries, withdraw
from gateway.lifecycle.expiry import validity
from tests.paths import EPS_EXAMPLES

DISPENSING = EPS_EXAMPLES / "spec" / "dispensing"
FACTS = {"short_form_id": "24F5DA-A83008-7EFE6Z", "nhs_number": "9449304130", "message_id": "m-1", "requests": []}


def _example(path: str) -> dict[str, Any]:
    return dict(json.loads((DISPENSING / path).read_text(encoding="utf-8")))


def test_the_eps_withdraw_example_reads() -> None:
    w = withdraw.read_withdrawal(_example("withdraw/acute-primary-example-req.json"))
    assert (w.short_form_id, w.owner_ods, w.notification, w.reason) == (
        "24F5DA-A83008-7EFE6Z",
        "VNE51",
        "a14d4fc1-82a2-4a82-aae2-50e212e7b907",  # the Bundle.id of dispense-notification example 03
        "MU Medication Update",
    )
    assert w.key == "5AC84C11-DB8B-44DA-8FCF-8980B3D13596"


def test_the_eps_return_example_reads() -> None:
    task = _example("return/acute-primary-example-req.json")
    assert returns.is_return(task) and not withdraw.is_withdrawal(task)
    r = returns.read_return(task)
    assert (r.short_form_id, r.owner_ods, r.reason) == ("24F5DA-A83008-7EFE6Z", None, "0003 Patient requested release")


def test_a_withdrawal_says_why() -> None:
    task = _example("withdraw/acute-primary-example-req.json")
    del task["statusReason"]
    with pytest.raises(InputError) as err:
        withdraw.read_withdrawal(task)
    assert err.value.issues[0].location.path == "Task.statusReason"


def test_the_eps_amendment_names_what_it_replaces() -> None:
    bundle = _example("dispense-notification/acute-primary-example-04-req.json")
    _, resources = read_message(bundle)
    notice = read_notice(resources, None, bundle)
    assert notice.replaces == "a14d4fc1-82a2-4a82-aae2-50e212e7b907"
    assert (notice.bundle_id, notice.declared) == ("a14d4fc1-82a2-4a82-aae2-50e212e7b907", "0006")


def _eps_notification() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    bundle = _example("dispense-notification/acute-primary-example-02-req.json")
    return bundle, read_message(bundle)[1]


def test_several_products_of_one_line_must_agree() -> None:
    bundle, resources = _eps_notification()
    twin = copy.deepcopy(resources[1])
    twin["type"]["coding"][0]["code"] = "0003"
    with pytest.raises(InputError, match="disagree") as err:
        read_notice([*resources, twin], None, bundle)
    assert err.value.issues[0].location.path == f"Bundle.entry[{len(resources)}].resource.type.coding[0].code"
    twin["type"]["coding"][0]["code"] = "0001"
    notice = read_notice([*resources, twin], None, bundle)
    assert len(notice.lines) == 4 and len(notice.lines[twin["contained"][1]["identifier"][0]["value"]].products) == 2


def test_one_prescription_per_notification_and_no_gateway_statuses() -> None:
    bundle, resources = _eps_notification()
    other = copy.deepcopy(resources[2])
    other["contained"][1]["groupIdentifier"]["value"] = "A0548B-A99968-451485"
    with pytest.raises(InputError, match="about one prescription"):
        read_notice([*resources, other], None, bundle)
    resources[1]["type"]["coding"][0]["code"] = "0008"
    with pytest.raises(InputError, match="not a dispensing outcome"):
        read_notice(resources, None, bundle)


def test_a_rejection_reason_keeps_codes_and_never_free_text() -> None:
    coded = msg.rejection("VNFKT", "m-1", "x", [("OUT_OF_AREA", "Outside our area"), ("NO_STOCK", "No stock")])
    assert rejections.reason(read_message(coded)[1]) == "OUT_OF_AREA Outside our area; NO_STOCK No stock"
    free = [{"resourceType": "OperationOutcome", "issue": [{"code": "processing", "diagnostics": "NHS 943 476 5919"}]}]
    assert rejections.reason(free) == "processing (free text not kept)"
    named = [{"resourceType": "OperationOutcome", "issue": [{"details": {"text": "Mrs Ada Smith moved away"}}]}]
    assert rejections.reason(named) == "unspecified (free text not kept)"
    assert rejections.reason([{"resourceType": "OperationOutcome", "issue": "x"}]) is None


def _canonical(**item: Any) -> HomecarePrescription:
    base = {
        "line_no": 1,
        "dmd_code": "1",
        "description": "x",
        "qty_per_delivery": "1",
        "qty_unit": "tablet",
        "days_per_delivery": 28,
        "number_of_deliveries": 3,
    }
    return HomecarePrescription.model_validate(
        {
            "action": "NEW",
            "trust_ods": "RBA",
            "rx_number": "1",
            "rx_version": 1,
            "signed_at": datetime.fromisoformat("2026-06-30T23:30:00+00:00"),  # 1 July in the UK
            "items": [base | item, base | {"line_no": 2, "number_of_deliveries": 1}],
            "source_format": "jac",
        }
    )


def test_validity_runs_from_the_uk_signing_day_for_the_longest_line() -> None:
    assert validity(_canonical()).last_day == date(2026, 9, 22)  # 1 July + 3 × 28 days − 1


def test_validity_runs_from_the_first_delivery_date() -> None:
    assert validity(_canonical(first_delivery_date=date(2026, 8, 1))).last_day == date(2026, 10, 23)


def test_a_review_date_ends_the_line() -> None:
    found = validity(_canonical(review_date=date(2026, 7, 15)))
    assert found.last_day == date(2026, 7, 28)  # line 2 (signed + 1 × 28 − 1) outlasts line 1's review
    assert validity(_canonical(review_date=date(2026, 12, 1))).basis == "line 1 review date 2026-12-01"


def _json_values(depth: int) -> st.SearchStrategy[Any]:
    """JSON values nested at most `depth` deep (built out rather than with `st.recursive`, whose check that
    `extend` uses its argument warned here intermittently)."""
    leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
    if depth == 0:
        return leaves
    inner = _json_values(depth - 1)
    return leaves | st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


json_values = _json_values(3)
READERS: list[tuple[Callable[[Any], Any], dict[str, Any]]] = [
    (deliveries.read_delivery_task, msg.delivery_task("VNFKT", FACTS, 1, "failed", reason="courier-failure")),
    (withdraw.read_withdrawal, msg.withdraw_task("VNFKT", FACTS, "n-1")),
    (returns.read_return, msg.return_task("VNFKT", FACTS)),
    (queries.read_request, msg.provider_request("VNFKT", FACTS, "prescription-due", due=date(2026, 1, 1))),
    (queries.read_request, msg.provider_request("VNFKT", FACTS, "clinical-query", question="?")),
]


@pytest.mark.parametrize(("reader", "task"), READERS)
def test_readers_read_their_builders(reader: Callable[[Any], Any], task: dict[str, Any]) -> None:
    reader(task)


@settings(max_examples=150, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(READERS) - 1), data=st.data())
def test_readers_refuse_any_shape_with_a_located_error(index: int, data: st.DataObject) -> None:
    reader, task = READERS[index]
    broken = copy.deepcopy(task)
    key = data.draw(st.sampled_from(sorted(broken)))
    if key != "resourceType":
        broken[key] = data.draw(json_values)
    for item in broken.get("input", []) if isinstance(broken.get("input"), list) else []:
        if isinstance(item, dict) and item and data.draw(st.booleans()):
            item[data.draw(st.sampled_from(sorted(item)))] = data.draw(json_values)
    try:
        reader(broken)
    except InputError as err:
        assert err.issues and all(i.location.path for i in err.issues)
