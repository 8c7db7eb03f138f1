"""`hgw ingest`: parse an export and build its bundles without a database."""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import Issue, Location
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.services.ingest import parse_payload
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator


def ingest_offline(
    payload: bytes, content_type: str, *, provider_ods: str | None = None, source_endpoint: str = "urn:hgw:offline"
) -> dict[str, Any]:
    """Per prescription: the validated bundle, or every located error."""
    result = parse_payload(payload, content_type)
    out: list[dict[str, Any]] = []
    for pp in result.prescriptions:
        entry: dict[str, Any] = {"rx_number": pp.rx_number, "rx_version": pp.rx_version, "lines": pp.lines}
        issues = list(pp.issues)
        p = pp.prescription
        if p is not None and not pp.errors:
            provider = p.provider_ods or provider_ods
            if provider is None:
                issues.append(
                    Issue(
                        code="NO_PROVIDER",
                        message="no ProviderODS on the prescription and no --provider",
                        location=Location(line=pp.lines[0] if pp.lines else None, column="ProviderODS"),
                    )
                )
            else:
                bundle = build_prescription_order(
                    p, OrderIds.new(p), provider_ods=provider, source_endpoint=source_endpoint
                )
                issues.extend(Validator.from_package().validate(bundle, HOMECARE_PRESCRIPTION_ORDER))
                entry["bundle"] = json.loads(dumps_bundle(bundle))
        entry["outcome"] = "rejected" if any(i.severity in ("error", "fatal") for i in issues) else "accepted"
        if entry["outcome"] == "rejected":
            entry.pop("bundle", None)
        entry["issues"] = [i.as_dict() for i in issues]
        out.append(entry)
    return {
        "format": result.format,
        "file_rejected": result.file_rejected,
        "file_issues": [i.as_dict() for i in result.file_issues],
        "prescriptions": out,
    }
