"""Sample EPS messages of one prescription, as the gateway would send them, for test data and the conformance kit's
shipped sample (`conformance_sample`, written by `hgw simulate conformance-samples`).

Enters: a prescription an adapter parsed, and the provider it goes to. Leaves: its prescription-order and, on
demand, the cancellation of it (one prescription-order-update per line item, same ids), as plain JSON: what a
receiver parses. The prescribing organisation and team contact are the samples' (`directory.stand_in_prescribing`),
stand-ins for a trust the samples do not have.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.jac import JacAdapter
from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.domain.model import HomecarePrescription
from gateway.errors import InputError, Issue
from gateway.fhir.cancellation import build_cancellations
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.simulate.directory import stand_in_prescribing


class SampleMessages:
    """One prescription's order (`order`, built at once; InputError when EPS cannot carry it) and cancellations."""

    def __init__(self, prescription: HomecarePrescription, *, provider_ods: str, source: str) -> None:
        self.provider_ods = provider_ods
        self.source = source
        self._prescription = prescription
        self._ids = OrderIds.new(prescription)
        self._prescribing = stand_in_prescribing(prescription.trust_ods, prescription.site_code)
        self.order = _plain(
            build_prescription_order(
                prescription,
                self._ids,
                provider_ods=provider_ods,
                source_endpoint=source,
                prescribing=self._prescribing,
            )
        )

    @property
    def short_form_id(self) -> str:
        return self._ids.short_form_id

    def cancellations(self, reason: str) -> list[dict[str, Any]]:
        """The order cancelled for `reason` as the gateway sends it: one message per line item, in line order."""
        bundles = build_cancellations(
            self._prescription,
            self._ids,
            reason,
            provider_ods=self.provider_ods,
            source_endpoint=self.source,
            prescribing=self._prescribing,
        )
        return [_plain(bundle) for bundle in bundles]


def sample_messages(
    prescription: HomecarePrescription, *, provider_ods: str, source: str
) -> SampleMessages | list[Issue]:
    """The prescription's sample messages, or the located issues why EPS cannot carry it as one prescription."""
    try:
        return SampleMessages(prescription, provider_ods=provider_ods, source=source)
    except InputError as exc:
        return list(exc.issues)


def _plain(bundle: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready (exact decimals become JSON numbers), as a receiver would parse it."""
    plain: dict[str, Any] = json.loads(dumps_bundle(bundle))
    return plain


KIT_TRUST, KIT_PROVIDER, KIT_RX_PREFIX = "RBA", "VNFKT", "CFSAMPLE"
"""The names the conformance kit's sample is written with; the kit puts fresh ones in each time it uses it."""
KIT_SOURCE = "https://conformance.homecaregateway.uk/suite"


def conformance_sample() -> dict[str, Any]:
    """The conformance kit's sample (conformance/data/sample_messages.json): one prescription's order and its
    cancellation, as the gateway builds them today, with the names the kit replaces."""
    rows = export_rows(1, seed=2026, trust_ods=KIT_TRUST, provider_ods=KIT_PROVIDER, rx_prefix=KIT_RX_PREFIX,
                       max_deliveries=1)  # fmt: skip
    parsed = JacAdapter().parse(render_export(rows)).prescriptions[0]
    assert parsed.prescription is not None and not parsed.errors, parsed.errors  # noqa: S101 - the samples parse
    messages = SampleMessages(parsed.prescription, provider_ods=KIT_PROVIDER, source=KIT_SOURCE)
    return {
        "names": {
            "trust_ods": KIT_TRUST,
            "provider_ods": KIT_PROVIDER,
            "rx_number": parsed.prescription.rx_number,
            "short_form_id": messages.short_form_id,
        },
        "order": messages.order,
        "cancellations": messages.cancellations("Prescribing error"),
    }
