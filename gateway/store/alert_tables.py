"""The alert tables (issue 9: observability and alerts, docs/observability.md), re-exported by `tables`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.store.columns import utc_timestamp


class AlertRule(SQLModel, table=True):
    """A threshold overriding the HGW_ALERT_* default of one rule kind, for one provider or (`*`) for all."""

    __tablename__ = "alert_rule"
    __table_args__ = (UniqueConstraint("kind", "provider_ods", name="uq_alert_rule_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24, description="queue-age, dead-letters, provider-silent, ack-lag, failure-rate")
    provider_ods: str = Field(default="*", max_length=12, description="a provider's ODS code, or * for every one")
    threshold: float = Field(description="minutes, a count or a ratio, by kind; the alert opens at or above it")
    window_minutes: float | None = Field(default=None, description="failure-rate only: the window counted")
    enabled: bool = True
    created_at: datetime = Field(sa_column=utc_timestamp())
    updated_at: datetime = Field(sa_column=utc_timestamp())


class Alert(SQLModel, table=True):
    """One episode of a rule firing for a subject: opened once, resolved once, each notified once.

    `open_key` is `<kind>:<subject>` while the alert is open and NULL once resolved: its unique index lets
    several evaluating processes race to open the same alert and only one row win."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    subject: str = Field(max_length=40, description="the provider's ODS code (never patient data)")
    open_key: str | None = Field(default=None, max_length=80, unique=True)
    state: str = Field(max_length=12, index=True, description="open or resolved")
    value: float = Field(description="what was measured when last evaluated")
    threshold: float
    summary: str = Field(description="one line for people, free of patient data")
    opened_at: datetime = Field(sa_column=utc_timestamp())
    clear_since: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    open_notified_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    resolve_notified_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    notify_attempts: int = 0
    notify_after: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    notify_error: str | None = Field(default=None, max_length=300)
