"""Roll-ups for the monthly KPIs and the at-risk list (issue 19 item 7): one row per prescription and one per
treatment, kept by the database itself (migration 0024's triggers, in the transaction that writes the prescription,
its timeline event, delivery or supply change), so every writer is counted and none can forget.

No patient data: a patient is their NHS-number blind index, a medicine its dm+d code. Every value moves one way only
as events arrive, which is what lets concurrent writers merge without waiting on each other's reads.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, false
from sqlmodel import Field, SQLModel

from gateway.store.columns import utc_timestamp


class PrescriptionRollup(SQLModel, table=True):
    """A prescription as the new-patient KPIs need it (`gateway.store.kpis.HeldPrescription`): its patient-provider
    pair, trust and receipt, whether the provider ever acknowledged it, its first cancellation or provider rejection
    and its first delivery made."""

    __tablename__ = "prescription_rollup"
    __table_args__ = (
        Index("ix_prescription_rollup_pair", "nhs_index", "provider_ods", "first_delivered_at"),
        Index("ix_prescription_rollup_first_delivered", "first_delivered_at"),
    )

    prescription_id: str = Field(primary_key=True, max_length=36)
    nhs_index: str = Field(max_length=64)
    provider_ods: str | None = Field(default=None, max_length=12)
    trust_ods: str = Field(max_length=12)
    created_at: datetime = Field(sa_column=utc_timestamp())
    acknowledged: bool = False
    ended_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    first_delivered_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))


class TreatmentRollup(SQLModel, table=True):
    """A treatment (blind index, trust, dm+d code of line 1: `gateway.safety.supply_model`), the last day the
    deliveries made so far supply it to (None: no delivery made yet), and its bookings as the supply model's
    `_covered` reads them: whether a delivery not yet made is in transit, and the earliest date one is scheduled for
    (of its prescriptions not cancelled or expired, each delivery's latest report). The supply is covered when one
    is in transit or `booked_for` is on or before `supply_ends`."""

    __tablename__ = "treatment_rollup"

    nhs_index: str = Field(primary_key=True, max_length=64)
    trust_ods: str = Field(primary_key=True, max_length=12)
    medicine: str = Field(primary_key=True, max_length=18)
    supply_ends: date | None = Field(default=None, index=True)
    in_transit: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    booked_for: date | None = None
