"""Conformance test data: JAC exports with unique RxNumbers, and the EPS bundles the gateway would build from them.

The rows and the bundles are the gateway's sample generators' (`gateway.simulate`): the kit builds no FHIR
itself, it sends the samples over HTTP and judges the answers.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from adapters.jac import JacAdapter
from adapters.jac.writer import render_export
from conformance.identifiers import bad_nhs_check_digit
from gateway.simulate.eps_samples import SampleMessages
from gateway.simulate.samples import export_rows

if TYPE_CHECKING:
    from gateway.domain.model import HomecarePrescription

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


class SampleOrder:
    """One prescription, its order bundle and, on demand, the cancellation of it (same ids, one message per line)."""

    def __init__(self, provider_ods: str, trust_ods: str = "RBA") -> None:
        self.provider_ods = provider_ods
        self.prescription = prescriptions(unique_rows(1, trust_ods=trust_ods, provider_ods=provider_ods))[0]
        self._messages = SampleMessages(self.prescription, provider_ods=provider_ods, source=SOURCE)
        self.bundle = self._messages.order

    @property
    def message_id(self) -> str:
        return str(self.bundle["id"])

    @property
    def short_form_id(self) -> str:
        return self._messages.short_form_id

    def cancellations(self) -> list[dict[str, Any]]:
        """The order's cancellation as the gateway sends it: one message per line item, in line order."""
        return self._messages.cancellations("Prescribing error")

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
