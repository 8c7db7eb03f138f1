"""SQLModel table models. Patient data lives only in the encrypted `*_enc` columns."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from gateway.store.columns import UTCDateTime as UTCDateTime  # the migrations name it `gateway.store.tables.…`
from gateway.store.columns import utc_timestamp


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
    received_at: datetime = Field(sa_column=utc_timestamp())
    outcome: str = Field(default="received", max_length=24)
    summary: str | None = Field(default=None, description="JSON outcome per prescription, without patient data")


class Prescription(SQLModel, table=True):
    """One EPS prescription. A trust's prescription of more than four items is several of these, its parts
    (`part` k of `parts`), sharing the trust's RxNumber and RxVersion (issue 15: EPS takes at most four items)."""

    __tablename__ = "prescription"
    __table_args__ = (
        UniqueConstraint("trust_ods", "rx_number", "rx_version", "part", name="uq_prescription_version_part"),
        Index("ix_prescription_created_at", "created_at"),  # received since (console overview, KPIs)
        Index("ix_prescription_pair_supply", "nhs_index", "provider_ods", "supply_until"),  # supplies ending (KPIs)
        Index("ix_prescription_treatment", "nhs_index", "trust_ods"),  # a treatment's prescriptions (at-risk list)
        Index("ix_prescription_supply_until", "supply_until"),
    )

    id: str = Field(primary_key=True, max_length=36, description="EPS long-form prescription id (UUID)")
    short_form_id: str = Field(max_length=20, unique=True)
    trust_ods: str = Field(max_length=12, index=True)
    rx_number: str = Field(max_length=20)
    rx_version: int
    part: int = Field(default=1, sa_column_kwargs={"server_default": "1"}, description="this part's number, from 1")
    parts: int = Field(
        default=1, sa_column_kwargs={"server_default": "1"}, description="how many EPS prescriptions the trust's is"
    )
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
    created_at: datetime = Field(sa_column=utc_timestamp())
    updated_at: datetime = Field(sa_column=utc_timestamp())


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
    created_at: datetime = Field(sa_column=utc_timestamp())


class OutboxEntry(SQLModel, table=True):
    """A message waiting for, or handed to, a provider. Written in the same transaction as its prescription."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_claim", "provider_ods", "state", "available_at", "id"),
        # "an earlier message of the same order key" is one range of this index (`outbox_queue.deliverable`).
        Index("ix_outbox_order_key", "order_key", "id"),
        # The console overview (migration 0023): messages received since, acknowledged since, and the few waiting.
        Index("ix_outbox_created_at", "created_at"),
        Index("ix_outbox_acknowledged_at", "acknowledged_at"),
        Index(
            "ix_outbox_waiting",
            "state",
            postgresql_where=text("state IN ('queued', 'leased')"),
            sqlite_where=text("state IN ('queued', 'leased')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="fhir_message.id", max_length=36, unique=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    order_key: str = Field(max_length=40, description="trust:RxNumber; messages of one key go in order")
    provider_ods: str = Field(max_length=12)
    state: str = Field(max_length=16, description="queued, leased, acknowledged, rejected, cancelled, dead")
    available_at: datetime = Field(sa_column=utc_timestamp())
    lease_token: int = Field(default=0, description="fencing token; bumps on every lease")
    lease_expires_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    attempts: int = 0
    created_at: datetime = Field(sa_column=utc_timestamp())
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    # Set by a replay: a push's maximum age counts from here (else from created_at).
    queued_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    last_error: str | None = Field(default=None, description="why the last push failed or the order is dead (no PII)")


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    at: datetime = Field(sa_column=utc_timestamp())
    kind: str = Field(max_length=16, description="release, push, ack, expire")
    outcome: str = Field(max_length=24)
    detail: str | None = None
    lease_token: int | None = Field(default=None, description="the fencing token the attempt held")
    status_code: int | None = Field(default=None, description="the provider's HTTP status, when it answered")
    response_excerpt: str | None = Field(default=None, description="the start of the provider's answer, redacted")


class LifecycleEvent(SQLModel, table=True):
    """One entry in a prescription's timeline. `detail` never holds patient data."""

    __tablename__ = "lifecycle_event"
    # The KPIs (store/kpis.py) and the alerts read events by kind over a period.
    __table_args__ = (Index("ix_lifecycle_event_kind_at", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    at: datetime = Field(sa_column=utc_timestamp())
    kind: str = Field(max_length=40)
    status: str | None = Field(default=None, max_length=4)
    actor_ods: str | None = Field(default=None, max_length=12)
    message_id: str | None = Field(default=None, max_length=36)
    detail: str | None = None


class Delivery(SQLModel, table=True):
    """One authorised homecare delivery of a prescription, as the provider reports it."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("prescription_id", "number", name="uq_delivery_number"),
        # The deliveries not made yet (a few in thousands): is one booked to follow a supply ending (KPIs)?
        Index(
            "ix_delivery_booked",
            "prescription_id",
            "scheduled_date",
            postgresql_where=text("state IN ('scheduled', 'dispatched')"),
            sqlite_where=text("state IN ('scheduled', 'dispatched')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: str = Field(foreign_key="prescription.id", max_length=36, index=True)
    number: int
    state: str = Field(max_length=16)
    scheduled_date: date | None = None
    window: str | None = Field(default=None, max_length=40)
    updated_at: datetime = Field(sa_column=utc_timestamp())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
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
    paused: bool = Field(default=False, description="delivery held by an operator (push sends and $release)")
    max_attempts: int | None = Field(default=None, description="push retry policy; blank: the gateway default")
    max_age_seconds: int | None = None
    backoff_base_seconds: float | None = None
    backoff_cap_seconds: float | None = None
    last_poll_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    created_at: datetime = Field(sa_column=utc_timestamp())


class RoutingRule(SQLModel, table=True):
    """Chooses a provider when the prescription names none. Lower priority numbers win; blank criteria match all."""

    __tablename__ = "routing_rule"

    id: int | None = Field(default=None, primary_key=True)
    priority: int = 100
    trust_ods: str | None = Field(default=None, max_length=12)
    dmd_code: str | None = Field(default=None, max_length=18)
    service_type: str | None = Field(default=None, max_length=24)
    provider_ods: str = Field(foreign_key="provider.ods", max_length=12)
    created_at: datetime = Field(sa_column=utc_timestamp())


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
    created_at: datetime = Field(sa_column=utc_timestamp())
    ended_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))


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
    created_at: datetime = Field(sa_column=utc_timestamp())
    updated_at: datetime = Field(sa_column=utc_timestamp())


# --- trust webhooks (issue 8: status back to trusts by webhook) -------------------------------------------------------
class WebhookSubscription(SQLModel, table=True):
    """Where a trust wants its lifecycle events pushed, or a provider the decisions on its invoices.
    `cursor` (a trust's): every matching lifecycle event up to it is dispatched."""

    __tablename__ = "webhook_subscription"

    id: str = Field(primary_key=True, max_length=36)
    trust_ods: str = Field(max_length=12, index=True, description="the owner's ODS code: a trust's, or a provider's")
    tenant_kind: str = Field(
        default="trust", max_length=8, sa_column_kwargs={"server_default": "trust"}, description="trust or provider"
    )
    url: str = Field(max_length=2000)
    format: str = Field(max_length=8, description="fhir or json")
    events: str | None = Field(default=None, description="comma-separated event kinds; blank: every event")
    active: bool = True
    cursor: int = Field(default=0, description="lifecycle_event id up to which matching events are dispatched")
    max_attempts: int | None = Field(default=None, description="retry policy; blank: the gateway default")
    max_age_seconds: int | None = None
    backoff_base_seconds: float | None = None
    backoff_cap_seconds: float | None = None
    created_at: datetime = Field(sa_column=utc_timestamp())
    updated_at: datetime = Field(sa_column=utc_timestamp())


class WebhookDelivery(SQLModel, table=True):
    """One event owed to one subscription: queued, leased, delivered or dead (with the reason). A trust's
    subscription is owed lifecycle events (`event_id`), a provider's invoice events (`invoice_event_id`); exactly
    one of the two is set, and one subscription only ever has one kind."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        UniqueConstraint("subscription_id", "invoice_event_id", name="uq_webhook_delivery_invoice_event"),
        CheckConstraint("(event_id IS NULL) <> (invoice_event_id IS NULL)", name="ck_webhook_delivery_one_event"),
        Index("ix_webhook_delivery_claim", "state", "available_at"),
        Index("ix_webhook_delivery_order", "subscription_id", "prescription_id", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(foreign_key="webhook_subscription.id", max_length=36)
    event_id: int | None = Field(default=None, foreign_key="lifecycle_event.id", description="a trust's: the event")
    invoice_event_id: int | None = Field(
        default=None, foreign_key="invoice_event.id", description="a provider's: the invoice event"
    )
    prescription_id: str = Field(
        max_length=36, description="events of one prescription (an invoice, for invoice events) go in order"
    )
    state: str = Field(max_length=12, description="queued, leased, delivered, dead")
    available_at: datetime = Field(sa_column=utc_timestamp())
    lease_token: int = Field(default=0, description="fencing token; bumps on every lease")
    lease_expires_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    attempts: int = 0
    queued_at: datetime = Field(sa_column=utc_timestamp())
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, description="why the last attempt failed or the delivery is dead")


# --- Inbound idempotency (issue 7): Idempotency-Key / X-Request-ID and the first answer, for replays ---------


class IdempotencyRecord(SQLModel, table=True):
    """A client's idempotency key and the answer its first request got. The key is stored only as its SHA-256;
    the answer may hold patient data, so it is sealed (associated data: this row and the client)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("client_id", "key_sha256", name="uq_idempotency_client_key"),
        Index("ix_idempotency_record_expires_at", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    client_id: str = Field(max_length=64, description="keys are scoped per client: another client's key is another")
    key_sha256: str = Field(max_length=64)
    operation: str = Field(max_length=80, description="METHOD /path the key was first used on")
    request_sha256: str = Field(max_length=64, description="SHA-256 of the first request's body")
    state: str = Field(max_length=12, description="in-progress or done")
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=100)
    response_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=utc_timestamp())
    expires_at: datetime = Field(sa_column=utc_timestamp())


# Attempts are counted over a recent window (failure rate, last successful push): index them by time.
Index("ix_delivery_attempt_at", DeliveryAttempt.__table__.c.at)  # type: ignore[attr-defined]

import gateway.store.rollup_tables  # noqa: E402, F401  (issue 19: the KPIs' and the at-risk list's roll-ups)
import gateway.store.supply_tables  # noqa: E402, F401  (issue 18: patient safety tables)
import gateway.store.tally_tables  # noqa: E402, F401  (issue 19: the console overview's running tallies)
from gateway.store import directory as _directory  # noqa: E402,F401  (organisation directory tables)
from gateway.store import security_tables  # noqa: E402, F401 - issue 16: console sign-in pre-sessions
from gateway.store.alert_tables import Alert as Alert  # noqa: E402  (issue 9: alerts)
from gateway.store.alert_tables import AlertRule as AlertRule  # noqa: E402
from gateway.store.invoice_tables import Invoice, InvoiceEvent, InvoiceLine, PriceEntry  # noqa: E402,F401  (issue 20: invoicing)
