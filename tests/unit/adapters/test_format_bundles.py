"""Golden files per format: each format's sample input → the EPS prescription-order bundle, ids and time frozen.

Regenerate with HGW_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.ascribe import AscribeAdapter
from adapters.base import Adapter
from adapters.fhir import FhirAdapter
from adapters.hl7v2 import Hl7v2Adapter
from adapters.jac import JacAdapter
from gateway.domain.model import HomecarePrescription
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.simulate.directory import sample_prescribing
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator
from tests.paths import DATA

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CASES: dict[str, tuple[Adapter, Path]] = {
    "jac-valid_two_items": (JacAdapter(clock=lambda: NOW), DATA / "jac" / "valid_two_items" / "input.csv"),
    "ascribe-valid_spec_example": (
        AscribeAdapter(clock=lambda: NOW),
        DATA / "ascribe" / "valid_spec_example" / "input.xml",
    ),
    "hl7v2-valid_order": (Hl7v2Adapter(clock=lambda: NOW), DATA / "hl7v2" / "valid_order" / "input.hl7"),
    "fhir-homecare-order-with-extensions": (
        FhirAdapter(clock=lambda: NOW),
        DATA / "fhir_inbound" / "homecare-order-with-extensions" / "input.json",
    ),
}


def frozen_ids(p: HomecarePrescription) -> OrderIds:
    """Ids derived from the prescription's own key, so the golden bundle is stable."""

    def u(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hgw:{p.trust_ods}:{p.rx_number}:{p.rx_version}:{name}"))

    return OrderIds(
        message_id=u("message"),
        bundle_identifier=u("bundle"),
        prescription_id=u("prescription"),
        short_form_id="A0548B-A99968-451485",
        item_ids={i.line_no: u(f"item-{i.line_no}") for i in p.items},
        patient_id=u("patient"),
        practitioner_id=u("practitioner"),
        practitioner_role_id=u("role"),
        organization_id=u("organization"),
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_format_input_maps_to_its_golden_bundle(case: str) -> None:
    adapter, source = CASES[case]
    result = adapter.parse(source.read_bytes())
    accepted = [pp.prescription for pp in result.prescriptions if pp.accepted and pp.prescription]
    assert accepted, [i.as_dict() for pp in result.prescriptions for i in pp.issues]
    bundles = [
        json.loads(
            dumps_bundle(
                build_prescription_order(
                    p,
                    frozen_ids(p),
                    provider_ods="VNFKT",
                    source_endpoint="https://gateway.example",
                    prescribing=sample_prescribing(p.trust_ods, p.site_code),
                )
            )
        )
        for p in accepted
    ]
    for bundle in bundles:  # every format's order is a valid homecare prescription-order
        errors = [
            i for i in Validator.from_package().validate(bundle, HOMECARE_PRESCRIPTION_ORDER) if i.severity == "error"
        ]
        assert errors == [], errors
        assert eps_acceptance(bundle) == []  # and EPS's coordinator would take it
    golden = DATA / "bundles" / f"{case}.json"
    if os.environ.get("HGW_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(bundles, indent=2, ensure_ascii=False) + "\n")
    assert bundles == json.loads(golden.read_text())
