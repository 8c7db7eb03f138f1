"""What the gateway answers about an inbound payload, per prescription; never carries patient data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.base import ParseResult
from gateway.errors import Issue

# Outcomes that mean the gateway took the prescription (or its change) in.
ACCEPTED = frozenset({"accepted", "duplicate", "held", "cancelled", "cancellation-requested"})


@dataclass(slots=True)
class PrescriptionOutcome:
    """What happened to one prescription of an export; never carries patient data."""

    rx_number: str
    rx_version: str
    lines: list[int]
    outcome: str  # accepted, duplicate, held, cancelled, cancellation-requested, rejected
    prescription_id: str | None = None
    short_form_id: str | None = None
    message_id: str | None = None
    provider_ods: str | None = None
    reason: str | None = None
    issues: list[Issue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rx_number": self.rx_number,
            "rx_version": self.rx_version,
            "lines": self.lines,
            "outcome": self.outcome,
        }
        for name in ("prescription_id", "short_form_id", "message_id", "provider_ods", "reason"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["issues"] = [i.as_dict() for i in self.issues]
        return out


@dataclass(slots=True)
class IngestReport:
    payload_id: str
    format: str
    outcome: str  # accepted, partially_accepted, rejected
    prescriptions: list[PrescriptionOutcome]
    file_issues: list[Issue]
    parsed: ParseResult | None = field(default=None, repr=False)  # for answers in the source format (HL7 ACKs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "payload_id": self.payload_id,
            "format": self.format,
            "outcome": self.outcome,
            "file_issues": [i.as_dict() for i in self.file_issues],
            "prescriptions": [p.as_dict() for p in self.prescriptions],
        }
