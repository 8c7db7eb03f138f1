"""Parse + map throughput per trust format on one core (issue 5's figure; the JAC target is 2,000/s)."""

from __future__ import annotations

import time
from typing import Any

from adapters.ascribe import AscribeAdapter
from adapters.ascribe.writer import render_export as render_ascribe
from adapters.base import Adapter
from adapters.fhir import FhirAdapter
from adapters.hl7v2 import Hl7v2Adapter
from adapters.jac import JacAdapter
from adapters.jac.writer import render_export as render_jac
from conformance.parties.exports import export_rows, nhs_number
from gateway.domain.model import HomecarePrescription
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.simulate.directory import sample_prescribing

# One RDE^O11 of the HL7 v2 profile; {n} makes each order distinct.
_HL7 = (
    "MSH|^~\\&|EPMA|RHM|HGW|HGW|20261121140512||RDE^O11^RDE_O11|MSG{n:08d}|P|2.5||||||UNICODE UTF-8\r"
    "EVN|O11|20261121140512\r"
    "PID|||{nhs}^^^NHS^NH||SMITH^Jane^Anne^^Mrs||19680214|F|||12 Tremona Road^Southampton^^^SO16 6YD^GBR^H"
    "||023 8079 0000^PRN^PH\r"
    "PV1||O\r"
    "ORC|NW|HC-{n:06d}-1^RHM|||||||202611211405|||4123456^JONES^Alan^^^^^^GMC|||||||||Royal Hampshire^^^^^^^^^RHM\r"
    "RXE||15517911000001104^Methotrexate 10mg/0.2ml solution for injection pre-filled syringes^DMD|10||mg^milligram"
    "^ISO+||OW^once a week|||4|pre-filled syringe|5\r"
    "RXR|SC^Subcutaneous^HL70162\r"
    "ZHC||DELIVERY|28|20261201|69896004^Rheumatoid arthritis^SCT|N\r"
)


def _payloads(count: int) -> dict[str, tuple[Adapter, list[bytes]]]:
    import random

    jac = render_jac(export_rows(count, seed=9, rx_prefix="FMT"))
    canonical = [pp.prescription for pp in JacAdapter().parse(jac).prescriptions if pp.prescription]
    ascribe = render_ascribe(canonical, trust_ods="RBA")
    rng = random.Random(9)  # noqa: S311 - test data
    hl7 = "".join(_HL7.format(n=n, nhs=nhs_number(rng)) for n in range(count)).encode()
    fhir = [dumps_bundle(_order(p)) for p in canonical]
    return {
        "jac": (JacAdapter(), [jac]),
        "ascribe": (AscribeAdapter(), [ascribe]),
        "hl7v2": (Hl7v2Adapter(), [hl7]),
        "fhir": (FhirAdapter(), fhir),
    }


def _order(p: HomecarePrescription) -> dict[str, Any]:
    return build_prescription_order(
        p, OrderIds.new(p), provider_ods="VNFKT", source_endpoint="urn:bench", prescribing=sample_prescribing()
    )


def _map_all(prescriptions: list[HomecarePrescription]) -> None:
    for p in prescriptions:
        _order(p)


def format_figures(count: int = 2000) -> dict[str, Any]:
    """Prescriptions per second, parsing each format's payload(s) and mapping every accepted prescription."""
    out: dict[str, Any] = {"prescriptions": count}
    for name, (adapter, payloads) in _payloads(count).items():
        start = time.process_time()
        accepted: list[HomecarePrescription] = []
        for payload in payloads:
            accepted.extend(
                pp.prescription for pp in adapter.parse(payload).prescriptions if pp.accepted and pp.prescription
            )
        _map_all(accepted)
        seconds = time.process_time() - start
        out[name] = {
            "accepted": len(accepted),
            "cpu_seconds": round(seconds, 3),
            "prescriptions_per_second": round(len(accepted) / seconds, 1) if seconds else None,
        }
    return out
