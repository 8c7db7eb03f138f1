"""The rows that keep a prescription's supply history (`supply_change`): written by the writers of prescriptions
and delivery reports, in their own transactions, and never updated. (Pauses: `gateway.delivery.queue.set_paused`.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.domain.model import HomecarePrescription
from gateway.fhir.datatypes import UK_TIME
from gateway.store.supply_tables import SupplyChange


def prescribed(prescription_id: str, p: HomecarePrescription, now: datetime) -> dict[str, Any]:
    """The plan of a new prescription: its earliest first delivery date (None: at once) and the days one delivery
    of its longest-lasting medicine covers."""
    medicines = [i for i in p.items if not i.is_ancillary] or list(p.items)
    firsts = [i.first_delivery_date for i in medicines if i.first_delivery_date is not None]
    return {
        "prescription_id": prescription_id,
        "at": now,
        "kind": "prescribed",
        "delivery_number": 0,
        "scheduled_date": min(firsts) if firsts else None,
        "delivered_on": None,
        "days_supply": max((i.days_per_delivery for i in medicines), default=None),
    }


def delivery_change(
    prescription_id: str,
    number: int,
    state: str,
    *,
    scheduled: Any,
    delivered_at: datetime | None,
    days: int | None,
    provider_ods: str,
    now: datetime,
) -> SupplyChange:
    """A delivery report as the supply history keeps it: the state, the agreed date, and when delivered, the UK
    date it was made and the days it lasts."""
    return SupplyChange(
        prescription_id=prescription_id,
        at=now,
        kind=state,
        delivery_number=number,
        scheduled_date=scheduled,
        delivered_on=delivered_at.astimezone(UK_TIME).date() if delivered_at is not None else None,
        days_supply=days if delivered_at is not None else None,
        provider_ods=provider_ods,
    )
