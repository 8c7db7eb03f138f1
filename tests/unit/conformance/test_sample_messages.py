"""The kit's shipped sample messages (conformance/data/sample_messages.json) and the fresh copies it sends."""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.identifiers import PRESCRIPTION_ORDER_NUMBER, is_valid_short_form_id
from conformance.orders import SAMPLE_MESSAGES, SampleOrder
from gateway.simulate.eps_samples import conformance_sample
from gateway.validator import Validator, eps_acceptance

HOMECARE_PRESCRIPTION_ORDER = "https://fhir.homecaregateway.uk/StructureDefinition/HomecarePrescriptionOrder"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _identities_blanked(sample: dict[str, Any]) -> str:
    """The sample with its random identities (UUIDs, in order of appearance, and the short-form id) numbered."""
    text = json.dumps(sample, sort_keys=True).replace(sample["names"]["short_form_id"], "SHORT-FORM-ID")
    seen: dict[str, str] = {}
    return UUID.sub(lambda m: seen.setdefault(m.group(0), f"uuid-{len(seen)}"), text)


def test_the_shipped_sample_is_what_the_gateway_builds_today() -> None:
    """Fails when the gateway's mapping changes: run `hgw simulate conformance-samples > conformance/data/
    sample_messages.json` and review the difference."""
    shipped = json.loads(SAMPLE_MESSAGES.read_text())
    assert _identities_blanked(shipped) == _identities_blanked(conformance_sample())


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def _order_number(bundle: dict[str, Any]) -> set[str]:
    """The short-form ids the bundle's MedicationRequests are grouped under."""
    return {
        entry["resource"]["groupIdentifier"]["value"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "MedicationRequest"
        and entry["resource"]["groupIdentifier"].get("system") == PRESCRIPTION_ORDER_NUMBER
    }


def test_each_sample_order_has_fresh_identities_and_the_run_s_organisations() -> None:
    shipped = json.loads(SAMPLE_MESSAGES.read_text())
    first, second = SampleOrder("VNCEL", "RHM"), SampleOrder("VNCEL", "RHM")
    assert first.message_id != second.message_id and first.short_form_id != second.short_form_id
    assert is_valid_short_form_id(first.short_form_id) and "-000RHM-" in first.short_form_id
    old = _strings(shipped["order"])
    renewed = _strings(first.bundle)
    assert not {v for v in old if UUID.search(v)} & renewed  # every UUID is new
    for name in shipped["names"].values():
        assert name not in renewed, name
    assert {"RHM", "VNCEL", first.short_form_id} <= renewed
    assert _order_number(first.bundle) == {first.short_form_id}
    cancellations = first.cancellations()
    assert len(cancellations) == len(shipped["cancellations"]) >= 1
    assert all(_order_number(c) == {first.short_form_id} for c in cancellations)  # the order's ids, not new ones


def test_a_fresh_sample_order_is_still_a_valid_eps_order() -> None:
    bundle = SampleOrder("VNCEL", "RHM").bundle
    issues = [*Validator.from_package().validate(bundle, HOMECARE_PRESCRIPTION_ORDER), *eps_acceptance(bundle)]
    assert not [i for i in issues if i.severity in ("error", "fatal")], issues
