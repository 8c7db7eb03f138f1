"""Outbound FHIR answers: OperationOutcome for errors and success, Parameters for `$release`."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from gateway.errors import Issue
from gateway.validator.catalogue import cite

SPINE_ERROR_SYSTEM = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"
HGW_ERROR_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/gateway-error-code"

# Our stable codes → the FHIR issue-type code.
_ISSUE_TYPE = {
    "RESOURCE_NOT_FOUND": "not-found",
    "PRESCRIPTION_INVALID_STATE_TRANSITION": "business-rule",
    "MISSING_VALUE": "required",
    "NOT_SUPPORTED": "not-supported",
    "UNSUPPORTED_MEDIA_TYPE": "not-supported",
    "PAYLOAD_TOO_LARGE": "too-costly",
    "CONFLICT": "conflict",
    "IDEMPOTENCY_CONFLICT": "conflict",
    "IDEMPOTENCY_KEY_REUSED": "business-rule",
    "UNAUTHORIZED": "login",
    "FORBIDDEN": "forbidden",
    "RATE_LIMITED": "throttled",
    "MISSING_ENDORSEMENT_CODE": "invalid",  # EPS createMissingEndorsementCode
}


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """One OperationOutcome issue per Issue: stable code in details, location in expression."""
    out = []
    for issue in issues:
        entry: dict[str, Any] = {
            "severity": issue.severity,
            "code": _ISSUE_TYPE.get(issue.code, "value" if issue.severity in ("error", "fatal") else "informational"),
            "details": {
                "coding": [{"system": _system(issue.code), "code": issue.code}],
                "text": issue.message,
            },
            "diagnostics": _diagnostics(issue),
        }
        if issue.location.path:
            entry["expression"] = [issue.location.path]
        out.append(cite(entry))
    return {"resourceType": "OperationOutcome", "id": str(uuid.uuid4()), "issue": out}


def success_outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "issue": [{"severity": "information", "code": "informational", "diagnostics": text}],
    }


def release_parameters(bundles: list[dict[str, Any]], lease_expires_at: datetime, now: datetime) -> dict[str, Any]:
    """EPS release response: passedPrescriptions (a searchset of message bundles) and failedPrescriptions."""

    def searchset(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": now.isoformat()},
            "type": "searchset",
            "total": len(entries),
            "entry": [{"fullUrl": f"urn:uuid:{b['id']}", "resource": b} for b in entries],
        }

    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "parameter": [
            {"name": "passedPrescriptions", "resource": searchset(bundles)},
            {"name": "failedPrescriptions", "resource": searchset([])},
            {"name": "leaseExpires", "valueInstant": lease_expires_at.isoformat()},
        ],
    }


def release_parameters_json(
    bundles: list[tuple[str, bytes]], lease_expires_at: datetime, now: datetime
) -> bytes:
    """`release_parameters` as JSON bytes, each order given as (Bundle.id, its stored JSON) and written as stored.

    A release answers with hundreds of bundles: parsing each stored bundle only to serialise it again was most of a
    release's cost, and splicing the stored bytes also hands the provider the signed bundle byte for byte.
    """
    mark = "\ue000" + uuid.uuid4().hex + ":"
    params = release_parameters([{"id": bundle_id, "mark": n} for n, (bundle_id, _) in enumerate(bundles)],
                                lease_expires_at, now)
    for n, entry in enumerate(params["parameter"][0]["resource"]["entry"]):
        entry["resource"] = f"{mark}{n}"
    text = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
    parts = re.split('"' + re.escape(mark) + '([0-9]+)"', text)
    out = bytearray(parts[0].encode("utf-8"))
    for n in range(1, len(parts), 2):
        out += bundles[int(parts[n])][1]
        out += parts[n + 1].encode("utf-8")
    return bytes(out)


def _system(code: str) -> str:
    return (
        SPINE_ERROR_SYSTEM
        if code in ("RESOURCE_NOT_FOUND", "PRESCRIPTION_INVALID_STATE_TRANSITION")
        else HGW_ERROR_SYSTEM
    )


def _diagnostics(issue: Issue) -> str:
    text = issue.message
    if issue.value is not None:
        text += f" (seen {issue.value!r}"
        text += f", expected {issue.expected})" if issue.expected else ")"
    elif issue.expected:
        text += f" (expected {issue.expected})"
    return text
