"""SQLModel table models. Patient data lives only in the encrypted `*_enc` columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


class InboundPayload(SQLModel, table=True):
    """A raw payload as received, stored before it is parsed."""

    __tablename__ = "inbound_payload"

    id: str = Field(primary_key=True, max_length=36)
    tenant_ods: str | None = Field(default=None, max_length=12, index=True)
    format: str = Field(max_length=16)
    content_type: str = Field(max_length=100)
    sha256: str = Field(max_length=64)
    size: int
    body_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(sa_column=_ts())
    outcome: str = Field(default="received", max_length=24)
    summary: str | None = Field(default=None, description="JSON outcome per prescription, without patient data")


class Prescription(SQLModel, table=True):
    __tablename__ = "prescription"
    __table_args__ = (UniqueConstraint("trust_ods", "rx_number", "rx_version", name="uq_prescription_version"),)

    id: str = Field(primary_key=True, max_length=36, description="EPS long-form prescription id (UUID)")
    short_form_id: str = Field(max_length=20, unique=True)
    trust_ods: str = Field(max_length=12, index=True)
    rx_number: str = Field(max_length=20)
    rx_version: int
    action: str = Field(max_length=8)
    status: str = Field(max_length=4, index=True, description="EPS prescription status code")
    provider_ods: str | None = Field(default=None, max_length=12, index=True)
    service_type: str | None = Field(default=None, max_length=24)
    route_reason: str | None = None
    nhs_index: str = Field(max_length=64, index=True, description="keyed blind index of the NHS number")
    canonical_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_sha256: str = Field(max_length=64)
    inbound_id: str = Field(foreign_key="inbound_payload.id", max_length=36)
    deliveries_authorised: int = 0
    deliveries_made: int = 0
    supply_until: date | None = None
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class PrescriptionItem(SQLModel, table=True):
    __tablename__ = "prescription_item"

    id: str = Field(primary_key=True, max_length=36, description="EPS line-item id (UUID)")
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    line_no: int
    dmd_code: str = Field(max_length=18)
    description: str
    quantity: str = Field(max_length=40, description="decimal quantity per delivery, kept as text")
    quantity_unit: str = Field(max_length=60)
    days_per_delivery: int
    deliveries_authorised: int
    status: str = Field(max_length=4, description="EPS line-item status code")


class FhirMessage(SQLModel, table=True):
    """A FHIR message bundle, inbound or outbound."""

    __tablename__ = "fhir_message"

    id: str = Field(primary_key=True, max_length=36, description="MessageHeader.id")
    direction: str = Field(max_length=8)
    event: str = Field(max_length=40)
    prescription_id: str | None = Field(default=None, foreign_key="prescription.id", max_length=36, index=True)
    sender_ods: str | None = Field(default=None, max_length=12)
    receiver_ods: str | None = Field(default=None, max_length=12)
    body_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=_ts())


class OutboxEntry(SQLModel, table=True):
    """A message waiting for, or handed to, a provider. Written in the same transaction as its prescription."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_claim", "provider_ods", "state", "available_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="fhir_message.id", max_length=36, unique=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    order_key: str = Field(max_length=40, index=True, description="trust:RxNumber; messages of one key go in order")
    provider_ods: str = Field(max_length=12)
    state: str = Field(max_length=16, description="queued, leased, acknowledged, rejected, cancelled, dead")
    available_at: datetime = Field(sa_column=_ts())
    lease_token: int = Field(default=0, description="fencing token; bumps on every lease")
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    attempts: int = 0
    created_at: datetime = Field(sa_column=_ts())
    acknowledged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Set by a replay: a push's maximum age counts from here (else from created_at).
    queued_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, description="why the last push failed or the order is dead (no PII)")


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    at: datetime = Field(sa_column=_ts())
    kind: str = Field(max_length=16, description="release, push, ack, expire")
    outcome: str = Field(max_length=24)
    detail: str | None = None
    lease_token: int | None = Field(default=None, description="the fencing token the attempt held")
    status_code: int | None = Field(default=None, description="the provider's HTTP status, when it answered")
    response_excerpt: str | None = Field(default=None, description="the start of the provider's answer, redacted")


class LifecycleEvent(SQLModel, table=True):
    """One entry in a prescription's timeline. `detail` never holds patient data."""

    __tablename__ = "lifecycle_event"

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    at: datetime = Field(sa_column=_ts())
    kind: str = Field(max_length=40)
    status: str | None = Field(default=None, max_length=4)
    actor_ods: str | None = Field(default=None, max_length=12)
    message_id: str | None = Field(default=None, max_length=36)
    detail: str | None = None


class Delivery(SQLModel, table=True):
    """One authorised homecare delivery of a prescription, as the provider reports it."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("prescription_id", "number", name="uq_delivery_number"),)

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    number: int
    state: str = Field(max_length=16)
    scheduled_date: date | None = None
    window: str | None = Field(default=None, max_length=40)
    updated_at: datetime = Field(sa_column=_ts())
    delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    task_id: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(
        default=None, max_length=40, description="homecare-failed-delivery-reason code of the last failure"
    )


class Provider(SQLModel, table=True):
    __tablename__ = "provider"

    ods: str = Field(primary_key=True, max_length=12)
    name: str
    mode: str = Field(max_length=8, description="push or pull")
    endpoint: str | None = None
    active: bool = True
    paused: bool = Field(default=False, description="push delivery held by an operator")
    max_attempts: int | None = Field(default=None, description="push retry policy; blank: the gateway default")
    max_age_seconds: int | None = None
    backoff_base_seconds: float | None = None
    backoff_cap_seconds: float | None = None
    last_poll_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())


class RoutingRule(SQLModel, table=True):
    """Chooses a provider when the prescription names none. Lower priority numbers win; blank criteria match all."""

    __tablename__ = "routing_rule"

    id: int | None = Field(default=None, primary_key=True)
    priority: int = 100
    trust_ods: str | None = Field(default=None, max_length=12)
    dmd_code: str | None = Field(default=None, max_length=18)
    service_type: str | None = Field(default=None, max_length=24)
    provider_ods: str = Field(foreign_key="provider.ods", max_length=12)
    created_at: datetime = Field(sa_column=_ts())


class ApiClient(SQLModel, table=True):
    """A registered system: a trust, provider, operator or tester, authenticating with signed JWTs."""

    __tablename__ = "api_client"

    id: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    ods: str = Field(max_length=12, index=True)
    alg: str = Field(max_length=8, description="the one signing algorithm accepted for this client's assertions")
    jwks: str | None = Field(default=None, description="the client's public JWKS, when registered from a file")
    jwks_url: str | None = None
    active: bool = True
    created_at: datetime = Field(sa_column=_ts())


class AssertionJti(SQLModel, table=True):
    """Client-assertion ids already used: a jti is never accepted twice."""

    __tablename__ = "assertion_jti"

    client_id: str = Field(primary_key=True, max_length=64)
    jti: str = Field(primary_key=True, max_length=255)
    expires_at: datetime = Field(sa_column=_ts())


class AccessToken(SQLModel, table=True):
    """An issued access token, stored only as its SHA-256."""

    __tablename__ = "access_token"

    token_sha256: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(foreign_key="api_client.id", max_length=64, index=True)
    role: str = Field(max_length=16)
    ods: str = Field(max_length=12)
    scope: str
    expires_at: datetime = Field(sa_column=_ts())


class DispenseRecord(SQLModel, table=True):
    """A dispense notification the gateway applied, and whether it still counts (EPS amend and withdraw)."""

    __tablename__ = "dispense_record"
    __table_args__ = (UniqueConstraint("prescription_id", "seq", name="uq_dispense_record_seq"),)

    id: str = Field(primary_key=True, max_length=36, description="MessageHeader.id, as in fhir_message")
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    seq: int = Field(description="1, 2, … per prescription, in the order applied")
    bundle_id: str | None = Field(default=None, max_length=64)
    bundle_identifier: str | None = Field(default=None, max_length=64)
    state: str = Field(max_length=12, description="active, replaced or withdrawn")
    lines: str = Field(description="JSON: line-item id → the status this notification gave it (codes only)")
    declared_status: str | None = Field(default=None, max_length=4, description="the provider's TaskBusinessStatus")
    replaces: str | None = Field(default=None, max_length=36, description="the notification this one amended")
    ended_by: str | None = Field(default=None, max_length=64, description="the amendment or withdraw Task")
    created_at: datetime = Field(sa_column=_ts())
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class LifecycleTask(SQLModel, table=True):
    """A request a provider raised with the trust (clinical query, prescription due) and the trust's answer.
    Their texts are the sealed Task resources in fhir_message."""

    __tablename__ = "lifecycle_task"
    __table_args__ = (UniqueConstraint("requester_ods", "source_id", name="uq_lifecycle_task_source"),)

    id: str = Field(primary_key=True, max_length=36, description="the gateway's Task id")
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    kind: str = Field(max_length=24, description="clinical-query or prescription-due")
    status: str = Field(max_length=16, description="requested, completed or rejected")
    requester_ods: str = Field(max_length=12)
    owner_ods: str = Field(max_length=12)
    source_id: str | None = Field(default=None, max_length=64, description="the requester's own Task id")
    due_date: date | None = None
    request_message_id: str = Field(max_length=36)
    answer_message_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
