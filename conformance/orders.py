"""Conformance test data: JAC exports with unique RxNumbers, and one prescription's EPS order and cancellation.

The rows are the kit's trust's (`conformance.parties.exports`). The EPS messages are the gateway's own, shipped as
data (`data/sample_messages.json`, written by `hgw simulate conformance-samples`; tests/unit/conformance checks it
is what the gateway builds today): the kit builds no FHIR with the gateway's code. Each `SampleOrder` renews every
identity in them (UUIDs, the short-form id with its MOD 37-2 check character, the RxNumber) and names the trust and
provider of the run, so a run against a long-lived gateway or provider starts fresh.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.jac import JacAdapter
from adapters.jac.writer import render_export
from conformance.identifiers import bad_nhs_check_digit, mod37_2
from conformance.parties.exports import export_rows

if TYPE_CHECKING:
    from gateway.domain.model import HomecarePrescription

SAMPLE_MESSAGES = Path(__file__).parent / "data" / "sample_messages.json"
_UUID = re.compile(r"(urn:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
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
        sample = json.loads(SAMPLE_MESSAGES.read_text())
        names = sample["names"]
        self.short_form_id = new_short_form_id(trust_ods)
        renamed = {
            names["trust_ods"]: trust_ods,
            names["provider_ods"]: provider_ods,
            names["short_form_id"]: self.short_form_id,
            names["rx_number"]: f"CF{secrets.token_hex(3).upper()}-{secrets.randbelow(10_000):04d}-000000",
        }
        fresh = _Renewal(renamed)
        self.bundle: dict[str, Any] = fresh(sample["order"])
        self._cancellations: list[dict[str, Any]] = fresh(sample["cancellations"])

    @property
    def message_id(self) -> str:
        return str(self.bundle["id"])

    def cancellations(self) -> list[dict[str, Any]]:
        """The order's cancellation as the gateway sends it: one message per line item, in line order."""
        return copy.deepcopy(self._cancellations)

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


def new_short_form_id(prescriber_ods: str) -> str:
    """A fresh EPS short-form prescription id: 6 hex, the prescriber's ODS padded to 6, 5 hex, MOD 37-2."""
    body = f"{secrets.token_hex(3).upper()}-{prescriber_ods.rjust(6, '0')}-{secrets.token_hex(3).upper()[:5]}"
    return body + mod37_2(body)


class _Renewal:
    """Replaces names exactly and every UUID consistently (one fresh UUID for each one met, `urn:uuid:` kept)."""

    def __init__(self, renamed: dict[str, str]) -> None:
        self.renamed = renamed
        self.uuids: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, str):
            return value
        if value in self.renamed:
            return self.renamed[value]
        found = _UUID.fullmatch(value)
        if found:
            return (found.group(1) or "") + self.uuids.setdefault(found.group(2), str(uuid.uuid4()))
        return value
