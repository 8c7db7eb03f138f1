"""A provider's message that names a patient must name the prescription's: the NHS number against the sealed
canonical prescription. Used by every lifecycle message that carries one (Tasks, returns, withdrawals, AdverseEvents).
"""

from __future__ import annotations

import json

from gateway.context import Gateway
from gateway.fhir.inbound import fail
from gateway.store.sealed import prescription_context
from gateway.store.tables import Prescription


def check_patient(gw: Gateway, p: Prescription, nhs_number: str | None, path: str = "Task.for") -> None:
    """A Task that names a patient must name the prescription's."""
    if nhs_number is None:
        return
    canonical = json.loads(gw.cipher.open(p.canonical_enc, context=prescription_context(p.id, p.trust_ods)))
    if canonical["patient"]["nhs_number"] != nhs_number.replace(" ", ""):
        raise fail(
            f"{path}.identifier.value", "the NHS number is not the prescription's patient", code="PATIENT_MISMATCH"
        )
