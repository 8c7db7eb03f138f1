"""Patient safety tables (issue 18): every change to a prescription's supply schedule, providers' pauses over time,
at-risk episodes and missed doses. History tables are append-only, so any figure can be computed as of a past date.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.store.columns import utc_timestamp


class SupplyChange(SQLModel, table=True):
    """One change to a prescription's supply, never updated: `prescribed` (delivery 0: the first delivery date the
    prescription asks for and the days one delivery lasts), then each delivery's `scheduled`, `dispatched`,
    `delivered`, `failed` or `returned` report as the provider made it."""

    __tablename__ = "supply_change"
    __table_args__ = (
        Index("ix_supply_change_prescription_at", "prescription_id", "at"),
        Index("ix_supply_change_at", "at"),  # the at-risk list: was anything recorded after its cutoff?
    )

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36)
    at: datetime = Field(sa_column=utc_timestamp())
    kind: str = Field(max_length=16)
    delivery_number: int = Field(default=0, description="0 for the prescription's own plan")
    scheduled_date: date | None = Field(default=None, description="the first delivery date, or the agreed date")
    delivered_on: date | None = Field(default=None, description="the UK date a delivery was made")
    days_supply: int | None = Field(default=None, description="days one delivery lasts")
    provider_ods: str | None = Field(default=None, max_length=12, description="the provider that reported it")


class ProviderPauseChange(SQLModel, table=True):
    """An operator paused or resumed a provider: the history behind `provider.paused`."""

    __tablename__ = "provider_pause_change"
    __table_args__ = (Index("ix_provider_pause_change_at", "provider_ods", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_ods: str = Field(max_length=12)
    paused: bool
    at: datetime = Field(sa_column=utc_timestamp())


class RiskEpisode(SQLModel, table=True):
    """A treatment on the at-risk list, from the evaluation that first saw it to the one that no longer did.
    `open_key` (the treatment key) is set while open and NULL once closed: several processes racing to open the
    same episode leave one row, so the `patient-at-risk` event goes out once per episode."""

    __tablename__ = "risk_episode"

    id: int | None = Field(default=None, primary_key=True)
    treatment: str = Field(max_length=64, index=True, description="SHA-256 of blind index, trust and medicine")
    open_key: str | None = Field(default=None, max_length=64, unique=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36)
    trust_ods: str = Field(max_length=12)
    provider_ods: str | None = Field(default=None, max_length=12)
    reasons: str = Field(max_length=400, description="comma-separated reason codes, as last evaluated")
    supply_ends: date
    opened_at: datetime = Field(sa_column=utc_timestamp())
    closed_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    notified_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    notify_error: str | None = Field(default=None, max_length=300)


class MissedDose(SQLModel, table=True):
    """A missed or late dose reported as a FHIR AdverseEvent by a trust or a provider. The AdverseEvent as sent
    is sealed in `inbound_payload`; this row holds codes and dates only."""

    __tablename__ = "missed_dose"
    __table_args__ = (
        Index("ix_missed_dose_occurred", "occurred_on"),
        UniqueConstraint("reporter_ods", "source_id", name="uq_missed_dose_source"),
    )

    id: str = Field(primary_key=True, max_length=36)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    inbound_id: str = Field(foreign_key="inbound_payload.id", max_length=36)
    reporter_ods: str = Field(max_length=12)
    reporter_role: str = Field(max_length=16)
    source_id: str | None = Field(default=None, max_length=64, description="the reporter's own AdverseEvent id")
    trust_ods: str = Field(max_length=12)
    provider_ods: str | None = Field(default=None, max_length=12)
    actuality: str = Field(max_length=12, description="actual or potential")
    occurred_on: date
    cause: str = Field(max_length=40, description="a homecare-missed-dose-cause code")
    seriousness: str | None = Field(default=None, max_length=24)
    flagged: bool = Field(description="the at-risk list showed the treatment at some point in the 14 days before")
    recorded_at: datetime = Field(sa_column=utc_timestamp())
