"""The gateway's own offline readers, for the suites that stand in for the gateway: what it answers a trust's export
(the trust suite's live endpoint) and how it reads a provider's bill (the provider suite's PRV-BILL tests), so that
what the kit accepts or refuses is exactly what the gateway would.

Beyond the validator's public face and the sample data of `gateway.simulate`, this module is the kit's only door
into the gateway; the conformance contract of import-linter (pyproject.toml) names each import it allows here.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.errors import GatewayError, InputError
from gateway.intake.offline import exit_code, format_for, ingest_offline
from gateway.invoicing.billed import MEDICINE, BilledInvoice
from gateway.invoicing.claim import read_claim
from gateway.invoicing.csv_invoice import parse_csv_invoice
from gateway.invoicing.fhir_invoice import LINE_ITEM, read_fhir_invoice
from gateway.simulate.directory import stand_in_directory

__all__ = ["LINE_ITEM", "MEDICINE", "BilledInvoice", "offline_answer", "read_bill"]


def offline_answer(body: bytes, content_type: str, provider_ods: str) -> tuple[int, dict[str, Any]]:
    """The gateway's offline ingest of a trust's export or message (organisations the samples', or stand-ins):
    200 when every prescription is accepted, 422 when not, 415 when no adapter reads the Content-Type."""
    try:
        result = ingest_offline(
            body, format_for(content_type), provider_ods=provider_ods, directory=stand_in_directory()
        )
    except GatewayError as exc:
        return 415, {"error": exc.code, "message": str(exc)}
    for outcome in result["outcomes"]:
        outcome.pop("bundle", None)
    result["file_rejected"] = bool(result["file_errors"])
    return (200 if exit_code(result) == 0 else 422), result


def read_bill(path: str, body: bytes, provider_ods: str) -> BilledInvoice | list[tuple[str, str]]:
    """The bill posted to `path`, read as the gateway reads it; else the gateway's findings, (message, where)."""
    try:
        if path.endswith("/api/v1/invoices"):
            return parse_csv_invoice(body, provider_ods)
        try:
            resource = json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise InputError([]) from exc
        if not isinstance(resource, dict):
            raise InputError([])
        if path.endswith("/Claim"):
            return read_claim(resource, provider_ods, date.today())
        return read_fhir_invoice(resource, provider_ods)
    except InputError as exc:
        return [(issue.message, issue.location.describe()) for issue in exc.issues or []]
