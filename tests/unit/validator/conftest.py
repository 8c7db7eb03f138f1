"""Shared fixtures: the validator (built once) and the standard prescription-order bundle."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.bench.validator import standard_prescription
from gateway.domain.model import HomecarePrescription
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.simulate.directory import sample_prescribing
from gateway.validator import ValidationIssue, Validator


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator.from_package()


def build(p: HomecarePrescription) -> dict[str, Any]:
    return build_prescription_order(
        p, OrderIds.new(p), provider_ods="FTX40", source_endpoint="https://gw.example", prescribing=sample_prescribing()
    )


@pytest.fixture
def order() -> dict[str, Any]:
    """The standard 8-entry bundle: MessageHeader, 3 MedicationRequests, Patient, Practitioner, Role, Organization."""
    return build(standard_prescription())


def errors(issues: list[ValidationIssue]) -> list[tuple[str, str | None]]:
    return [(i.code, i.location.path) for i in issues if i.severity in ("error", "fatal")]
