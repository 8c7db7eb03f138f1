"""EPS's four-item limit: a trust's prescription of more than four items is sent as several EPS prescriptions.

EPS's coordinator refuses an order of more than four MedicationRequests ("Bundle contains too many resources of
type MedicationRequest. Expected at most 4.", `services/validation/bundle-validator.ts`). So the planner splits a
longer prescription into parts of at most four items, in the order the export lists them: part k of n, each its
own EPS prescription (own short-form id, order message and outbox entry), all with the trust's RxNumber and
RxVersion. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.domain.model import HomecarePrescription

# EPS: "Bundle contains too many resources of type MedicationRequest. Expected at most 4."
MAX_ITEMS = 4


def split(p: HomecarePrescription) -> list[HomecarePrescription]:
    """`p` as its EPS parts: the items in export order, at most MAX_ITEMS each; `[p]` itself when it fits."""
    if len(p.items) <= MAX_ITEMS:
        return [p]
    return [
        p.model_copy(update={"items": p.items[start : start + MAX_ITEMS]})
        for start in range(0, len(p.items), MAX_ITEMS)
    ]


def part_note(part: int, parts: int, rx_number: str) -> str:
    """How a part names itself in its timeline: '' for a prescription sent whole."""
    return f" (part {part} of {parts} of the trust's prescription {rx_number})" if parts > 1 else ""


@dataclass(frozen=True, slots=True)
class Part:
    """One EPS prescription a trust's prescription was sent as, as the trust's answers name it."""

    part: int
    prescription_id: str
    short_form_id: str
    items: tuple[int, ...] = ()  # the line numbers (line_no) of the trust's items this part carries
    message_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "part": self.part,
            "prescription_id": self.prescription_id,
            "short_form_id": self.short_form_id,
        }
        if self.items:
            out["items"] = list(self.items)
        if self.message_id is not None:
            out["message_id"] = self.message_id
        return out
