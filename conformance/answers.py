"""What the suites answer when they play the gateway to a polling provider: an OperationOutcome of success and
EPS's `Task/$release` Parameters, in the shape the gateway gives them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


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
