"""Conformance test data: JAC exports with unique RxNumbers, and the EPS bundles the gateway would build from them."""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from typing import Any

from adapters.jac import JacAdapter
from adapters.jac.writer import render_export
from gateway.domain.identifiers import bad_nhs_check_digit
from gateway.domain.model import HomecarePrescription
from gateway.fhir.cancellation import build_cancellations
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.simulate.directory import stand_in_prescribing
from gateway.simulate.samples import export_rows

SOURCE = "https://conformance.homecaregateway.uk/suite"


def unique_rows(count: int, *, trust_ods: str, provider_ods: str, deliveries: int = 1) -> list[dict[str, str]]:
    """Rows whose RxNumbers no earlier run used, so a run against a long-lived gateway starts fresh."""
    prefix = "CF" + secrets.token_hex(3).upper()
    seed = secrets.randbelow(10_000)
    return export_rows(
        count, seed=seed, trust_ods=trust_ods, provider_ods=provider_ods, rx_prefix=prefix, max_deliveries=deliveries
    )


def prescriptions(rows: list[dict[str, str]]) -> list[HomecarePrescription]:
    parsed = JacAdapter().parse(render_export(rows))
    out = []
    for p in parsed.prescriptions:
        if p.prescription is None or p.errors:
            raise ValueError(f"sample prescription {p.rx_number} does not parse: {p.errors}")
        out.append(p.prescription)
    return out


def _plain(bundle: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready (exact decimals become JSON numbers), as a receiver would parse it."""
    plain: dict[str, Any] = json.loads(dumps_bundle(bundle))
    return plain


class SampleOrder:
    """One prescription, its order bundle and, on demand, the cancellation of it (same ids, one message per line)."""

    def __init__(self, provider_ods: str, trust_ods: str = "RBA") -> None:
        self.provider_ods = provider_ods
        self.prescription = prescriptions(unique_rows(1, trust_ods=trust_ods, provider_ods=provider_ods))[0]
        self.ids = OrderIds.new(self.prescription)
        self.prescribing = stand_in_prescribing(trust_ods, self.prescription.site_code)
        self.bundle = _plain(
            build_prescription_order(
                self.prescription,
                self.ids,
                provider_ods=provider_ods,
                source_endpoint=SOURCE,
                prescribing=self.prescribing,
            )
        )

    @property
    def message_id(self) -> str:
        return str(self.bundle["id"])

    @property
    def short_form_id(self) -> str:
        return str(self.ids.short_form_id)

    def cancellations(self) -> list[dict[str, Any]]:
        """The order's cancellation as the gateway sends it: one message per line item, in line order."""
        return [
            _plain(bundle)
            for bundle in build_cancellations(
                self.prescription,
                self.ids,
                "Prescribing error",
                provider_ods=self.provider_ods,
                source_endpoint=SOURCE,
                prescribing=self.prescribing,
            )
        ]

    def broken(self) -> tuple[dict[str, Any], str]:
        """A copy with a new message id and an NHS number failing Modulus 11; and the FHIRPath of the fault."""
        bundle = copy.deepcopy(self.bundle)
        new_id = str(uuid.uuid4())
        bundle["id"] = new_id
        bundle["entry"][0]["resource"]["id"] = new_id
        bundle["entry"][0]["fullUrl"] = f"urn:uuid:{new_id}"
        for index, entry in enumerate(bundle["entry"]):
            if entry["resource"]["resourceType"] == "Patient":
                ident = entry["resource"]["identifier"][0]
                ident["value"] = bad_nhs_check_digit(ident["value"])
                return bundle, f"Bundle.entry[{index}].resource.identifier[0].value"
        raise ValueError("the sample order has no Patient")
