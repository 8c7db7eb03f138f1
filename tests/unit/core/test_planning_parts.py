"""The planner and EPS's four-item limit, without I/O: whatever the number of items, every order it emits is one
EPS takes (at most four MedicationRequests), and the parts carry every item exactly once, in export order."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from hypothesis import HealthCheck, given, settings

from adapters import ParsedPrescription
from gateway.context import Gateway
from gateway.domain.model import HomecarePrescription
from gateway.domain.routing import Router
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.intake.planning import PlanInputs, Planner
from gateway.security.crypto import DataCipher
from gateway.simulate.directory import sample_directory
from gateway.store.sealed import message_context
from gateway.store.tables import Provider
from tests.unit.fhir.test_eps_acceptance import long_prescriptions

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CIPHER = DataCipher(os.urandom(32))
GW = cast(Gateway, SimpleNamespace(cipher=CIPHER, signing=None, settings=SimpleNamespace(public_base_url="https://gw")))
ROUTER = Router({"FTX40": Provider(ods="FTX40", name="Homecare", mode="pull", created_at=NOW)}, [])


def _plan(p: HomecarePrescription) -> tuple[dict[str, Any], Any]:
    planner = Planner(GW, PlanInputs(ROUTER, sample_directory(), {}, None, "payload-1", NOW))
    [outcome], rows = planner.plan([ParsedPrescription(p.rx_number, str(p.rx_version), [2], prescription=p)])
    return outcome.as_dict(), rows


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(long_prescriptions())
def test_every_emitted_order_has_at_most_four_items_and_the_parts_cover_every_item_once(
    p: HomecarePrescription,
) -> None:
    p = p.model_copy(update={"provider_ods": "FTX40"})
    outcome, rows = _plan(p)
    assert outcome["outcome"] == "accepted", outcome["issues"]
    parts = -(-len(p.items) // 4)
    assert len(rows.prescriptions) == len(rows.messages) == len(rows.outbox) == parts
    assert [r["part"] for r in rows.prescriptions] == list(range(1, parts + 1))
    assert {r["parts"] for r in rows.prescriptions} == {parts}
    assert {(r["rx_number"], r["rx_version"]) for r in rows.prescriptions} == {(p.rx_number, p.rx_version)}
    assert len({r["short_form_id"] for r in rows.prescriptions}) == parts
    carried: list[int] = []
    for message in rows.messages:
        bundle = json.loads(CIPHER.open(message["body_enc"], context=message_context(message["id"], p.trust_ods)))
        requests = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
        assert 1 <= len(requests) <= 4
        assert eps_acceptance(bundle) == []
        carried += [i["line_no"] for i in rows.items if i["prescription_id"] == message["prescription_id"]]
    assert carried == [i.line_no for i in p.items]  # every item once, in export order
    if parts == 1:
        assert "parts" not in outcome
    else:
        assert [x["items"] for x in outcome["parts"]] == [
            [i.line_no for i in p.items[k : k + 4]] for k in range(0, len(p.items), 4)
        ]
