"""Golden files: canonical prescription JSON in, prescription-order Bundle out, ids frozen.

Regenerate after an intended mapping change with `HGW_UPDATE_GOLDEN=1 pytest tests/unit/fhir`, then review the diff.
"""

from __future__ import annotations

import json
import os
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.bench.naive_pipeline import build_prescription_order_naive
from gateway.domain.identifiers import is_valid_short_form_id, mod37_2_check_character
from gateway.domain.model import HomecarePrescription
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.fhir.validation import validate_resource
from gateway.simulate.directory import sample_prescribing

DATA = Path(__file__).resolve().parents[2] / "data" / "fhir"
CASES = sorted(p.name for p in DATA.glob("order-*") if (p / "input.json").exists())
SOURCE_ENDPOINT = "https://gateway.example.nhs.uk/FHIR/R4"
_NAMESPACE = uuid.UUID("7c6f3c1e-3f55-4a47-9d0e-6c1f0a2b9e11")


def frozen_ids(case: str, p: HomecarePrescription) -> OrderIds:
    def make(name: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{case}/{name}"))

    org = (p.site_code or p.trust_ods).rjust(6, "0")
    body = f"{uuid.uuid5(_NAMESPACE, case).hex[:6].upper()}-{org}-{p.rx_version:05X}"
    return OrderIds(
        message_id=make("message"),
        bundle_identifier=make("bundle"),
        prescription_id=make("prescription"),
        short_form_id=body + mod37_2_check_character(body),
        item_ids={item.line_no: make(f"item-{item.line_no}") for item in p.items},
        patient_id=make("patient"),
        practitioner_id=make("practitioner"),
        practitioner_role_id=make("practitioner-role"),
        organization_id=make("organization"),
    )


def load_case(case: str) -> tuple[HomecarePrescription, OrderIds]:
    p = HomecarePrescription.model_validate_json((DATA / case / "input.json").read_text(encoding="utf-8"))
    return p, frozen_ids(case, p)


def build(case: str) -> dict[str, object]:
    p, ids = load_case(case)
    assert p.provider_ods is not None
    return build_prescription_order(
        p,
        ids,
        provider_ods=p.provider_ods,
        source_endpoint=SOURCE_ENDPOINT,
        prescribing=sample_prescribing(p.trust_ods, p.site_code),
    )


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 2


@pytest.mark.parametrize("case", CASES)
def test_bundle_matches_golden_file(case: str) -> None:
    raw = dumps_bundle(build(case))
    expected_path = DATA / case / "expected.json"
    if os.environ.get("HGW_UPDATE_GOLDEN") == "1":
        expected_path.write_bytes(dumps_bundle(loads_bundle(raw), indent=2) + b"\n")
    assert expected_path.exists(), f"no {expected_path}; run with HGW_UPDATE_GOLDEN=1 to create it"
    assert loads_bundle(raw) == loads_bundle(expected_path.read_bytes())


@pytest.mark.parametrize("case", CASES)
def test_golden_bundle_is_valid_fhir(case: str) -> None:
    p, ids = load_case(case)
    assert is_valid_short_form_id(ids.short_form_id)
    assert validate_resource(build(case)) == []


@pytest.mark.parametrize("case", CASES)
def test_golden_bundle_is_accepted_by_eps(case: str) -> None:
    """Every rule of EPS's coordinator the gateway's orders meet (gateway.fhir.eps_acceptance)."""
    assert eps_acceptance(build(case)) == []


@pytest.mark.parametrize("case", CASES)
def test_naive_model_build_gives_the_same_bundle(case: str) -> None:
    """Equal after parsing; the models drop trailing zeros of decimals (2.50 → 2.5), equal as Decimals."""
    p, ids = load_case(case)
    assert p.provider_ods is not None
    naive = build_prescription_order_naive(
        p,
        ids,
        provider_ods=p.provider_ods,
        source_endpoint=SOURCE_ENDPOINT,
        prescribing=sample_prescribing(p.trust_ods, p.site_code),
    )
    fast = loads_bundle(dumps_bundle(build(case)))
    assert json.loads(naive, parse_float=Decimal) == fast
