"""`hgw ingest` offline shows a prescription of more than four items as the EPS prescriptions the gateway sends."""

from __future__ import annotations

from adapters.jac.writer import render_export
from conformance.parties.exports import long_prescription_rows
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.intake.offline import ingest_offline, text_report
from gateway.simulate.directory import sample_directory


def _requests(bundle: dict[str, object]) -> int:
    entries = bundle["entry"]
    assert isinstance(entries, list)
    return sum(e["resource"]["resourceType"] == "MedicationRequest" for e in entries)


def test_nine_items_are_three_orders_eps_takes() -> None:
    payload = render_export(long_prescription_rows(9, seed=3))
    [outcome] = ingest_offline(payload, "jac", directory=sample_directory(), provider_ods="VNFKT")["outcomes"]
    assert outcome["outcome"] == "accepted", outcome["errors"]
    parts = outcome["parts"]
    assert [_requests(b) for b in parts] == [4, 4, 1]
    assert outcome["bundle"] == parts[0]
    assert all(eps_acceptance(b) == [] for b in parts)
    printed, _ = text_report({"outcomes": [outcome], "file_errors": []})
    assert printed.count('"resourceType": "Bundle"') == 3


def test_four_items_are_one_order_without_parts() -> None:
    payload = render_export(long_prescription_rows(4, seed=3))
    [outcome] = ingest_offline(payload, "jac", directory=sample_directory(), provider_ods="VNFKT")["outcomes"]
    assert outcome["outcome"] == "accepted" and "parts" not in outcome
    assert _requests(outcome["bundle"]) == 4
