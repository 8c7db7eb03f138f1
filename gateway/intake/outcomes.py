"""What the gateway answers about an inbound payload, per prescription; never carries patient data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.base import ParseResult
from gateway.errors import Issue
from gateway.intake.parts import Part

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
    # A prescription of more than four items went to EPS as these parts; the ids above are part 1's.
    parts: list[Part] = field(default_factory=list)

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
        if len(self.parts) > 1:
            out["parts"] = [part.as_dict() for part in self.parts]
        out["issues"] = [i.as_dict() for i in self.issues]
        return out

    def stored_dict(self) -> dict[str, Any]:
        """What `inbound_payload.summary` keeps: ids, codes and locations only. An issue's value is the field as
        received (a rejected row's NHS number, birth date, postcode) and its message may quote it (schema errors
        do), so neither is stored in clear: the sealed payload gives both back when parsed again."""
        out = self.as_dict()
        out["issues"] = [located_code(i) for i in self.issues]
        return out


def located_code(issue: Issue) -> dict[str, object]:
    """An issue as stored: severity, code and where; never the value seen or a message that may quote it."""
    return {k: v for k, v in issue.as_dict().items() if k in ("severity", "code", "line", "column", "expression")}


@dataclass(slots=True)
class IngestReport:
    payload_id: str
    format: str
    outcome: str  # accepted, partially_accepted, rejected
    prescriptions: list[PrescriptionOutcome]
    file_issues: list[Issue]
    parsed: ParseResult | None = field(default=None, repr=False)  # for answers in the source format (HL7 ACKs)
    ack: bytes | None = field(default=None, repr=False)  # the HL7 v2 answer, when an isolated process rendered it

    def as_dict(self) -> dict[str, Any]:
        return {
            "payload_id": self.payload_id,
            "format": self.format,
            "outcome": self.outcome,
            "file_issues": [i.as_dict() for i in self.file_issues],
            "prescriptions": [p.as_dict() for p in self.prescriptions],
        }
