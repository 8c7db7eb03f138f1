"""A national-size store for `hgw bench --scale`: a year of homecare history written straight into a migrated
PostgreSQL database through COPY.

At factor 1: 500,000 patients, about 2 million prescriptions and about 25 million timeline events from
12 providers and 150 trusts, over the year ending now. Each patient has one treatment (one medicine from one trust,
supplied by one provider): a prescription of 3 deliveries 30 days apart every 90 days, so their supply is continuous
while the treatment goes on. Each prescription is queued for its provider and acknowledged after a few hours (2% are
cancelled first, 1% rejected); each delivery is scheduled, dispatched, delivered and dispensed (a dispense
notification per delivery; 4% fail once, with a reason, and are re-arranged two days later); a query now and then;
5% of the treatments stop being renewed at some point, so that the at-risk list has patients on it; prescriptions
received in the last days are still waiting for their acknowledgement or their deliveries. The rows are what the
gateway's own writers leave: the prescription with its line item, its order message and outbox entry, its deliveries,
its supply history (`supply_change`) and its timeline (`lifecycle_event`), every constraint of the schema checked
(foreign keys included).

Sealed columns hold real ciphertext sealed with the gateway's data key, each bound to its own row (the context names
the row): a prescription's `canonical_enc` seals a short JSON document with the patient's NHS number, not the whole
canonical model; an order's `body_enc` seals a short stand-in, not the FHIR bundle (a bundle a row would make the
store ten times larger without changing what the reads measured here touch); each batch's inbound payload likewise.

One difference from the gateway's writers, for speed: the trigger that numbers a prescription's events in commit order
(migration 0021, a row lock per event) is disabled while loading and the ids are given here: in time order within a
prescription, in batch order across. It is enabled again afterwards.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import psycopg

from conformance.parties.exports import nhs_number
from gateway.domain import states as lifecycle
from gateway.fhir.datatypes import UK_TIME
from gateway.lifecycle.deliveries import describe_failure
from gateway.security.crypto import DataCipher
from gateway.store import bulk_load
from gateway.store.sealed import inbound_context, message_context, prescription_context

PATIENTS_AT_FACTOR_1: Final = 500_000
TRUSTS: Final = tuple(f"RN{n:03d}" for n in range(150))
PROVIDERS: Final = tuple(f"VNP{n:02d}" for n in range(12))
MEDICINES: Final = tuple(f"{30_000_000_000_000 + n * 1_000_003}" for n in range(40))
SERVICE_TYPES: Final = ("delivery-only", "delivery-training", "delivery-nursing")
DAYS_PER_DELIVERY: Final = 30
DELIVERIES: Final = 3
RENEWAL: Final = timedelta(days=90)
HISTORY: Final = timedelta(days=365)
PATIENTS_PER_BATCH: Final = 5_000
TRIGGER: Final = bulk_load.EVENT_ORDER_TRIGGER  # migration 0021
_REASONS: Final = tuple(lifecycle.FAILED_DELIVERY_REASONS)


@dataclass(slots=True)
class Tables:
    """The rows of one batch, per table, in COPY column order."""

    inbound: list[tuple[Any, ...]] = field(default_factory=list)
    prescriptions: list[tuple[Any, ...]] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    outbox: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


COLUMNS: Final = {
    "inbound": (
        "inbound_payload",
        "id, tenant_ods, format, content_type, sha256, size, body_enc, received_at, outcome",
    ),
    "prescriptions": (
        "prescription",
        "id, short_form_id, trust_ods, rx_number, rx_version, part, parts, action, status, provider_ods, service_type,"
        " route_reason, nhs_index, canonical_enc, content_sha256, inbound_id, deliveries_authorised, deliveries_made,"
        " supply_until, created_at, updated_at",
    ),
    "items": (
        "prescription_item",
        "id, prescription_id, line_no, dmd_code, description, quantity, quantity_unit, days_per_delivery,"
        " deliveries_authorised, status",
    ),
    "messages": (
        "fhir_message",
        "id, direction, event, prescription_id, sender_ods, receiver_ods, body_enc, created_at",
    ),
    "outbox": (
        "outbox",
        "message_id, prescription_id, order_key, provider_ods, state, available_at, lease_token, attempts, created_at,"
        " acknowledged_at, queued_at, last_attempt_at",
    ),
    "deliveries": (
        "delivery",
        "prescription_id, number, state, scheduled_date, updated_at, delivered_at, failure_reason",
    ),
    "changes": (
        "supply_change",
        "prescription_id, at, kind, delivery_number, scheduled_date, delivered_on, days_supply, provider_ods",
    ),
    "events": ("lifecycle_event", "id, prescription_id, at, kind, status, actor_ods, message_id, detail"),
}


@dataclass(frozen=True, slots=True)
class Generated:
    patients: int
    prescriptions: int
    events: int
    seconds: float


class _Ids:
    """Deterministic UUIDs and running numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rx = 0
        self.event = 0

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _at_uk(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UK_TIME).astimezone(UTC)


class _Writer:
    """Fills `Tables` with one patient's treatment at a time."""

    def __init__(self, cipher: DataCipher, now: datetime, rng: random.Random) -> None:
        self.cipher, self.now, self.rng = cipher, now, rng
        self.ids = _Ids(rng)
        self.t = Tables()
        self.inbound: dict[str, str] = {}

    def _inbound_of(self, trust: str, at: datetime) -> str:
        found = self.inbound.get(trust)
        if found is None:
            found = self.inbound[trust] = self.ids.uuid()
            body = b"generated by hgw bench --scale: a stand-in for the trust's export"
            sealed = self.cipher.seal(body, context=inbound_context(found, trust))
            sha = hashlib.sha256(body).hexdigest()
            self.t.inbound.append((found, trust, "jac", "text/csv", sha, len(body), sealed, at, "accepted"))
        return found

    def _event(self, rx: str, at: datetime, kind: str, status: str | None, actor: str | None, msg: str | None,
               detail: str | None) -> None:
        self.t.events.append((0, rx, at, kind, status, actor, msg, detail))

    def _number_events(self, first: int) -> None:
        """Number the events from index `first` on (one prescription's) in time order, as committed."""
        events = self.t.events
        mine = sorted(events[first:], key=lambda e: e[2])
        for n, event in enumerate(mine, start=first):
            self.ids.event += 1
            events[n] = (self.ids.event, *event[1:])

    def patient(self) -> None:
        rng = self.rng
        nhs = nhs_number(rng)
        index = self.cipher.blind_index(nhs)
        trust = rng.choice(TRUSTS)
        provider = PROVIDERS[(TRUSTS.index(trust) + rng.choice((0, 0, 0, 1, 5))) % len(PROVIDERS)]
        medicine = rng.choice(MEDICINES)
        service = rng.choice(SERVICE_TYPES)
        first = self.now - HISTORY + rng.random() * RENEWAL
        stops_after = rng.randrange(1, 6) if rng.random() < 0.05 else 99
        created, k = first, 0
        while created < self.now and k < stops_after:
            self._prescription(nhs, index, trust, provider, medicine, service, created)
            created += RENEWAL + timedelta(minutes=rng.randrange(-600, 600))
            k += 1

    def _prescription(
        self, nhs: str, index: str, trust: str, provider: str, medicine: str, service: str, created: datetime
    ) -> None:
        rng, ids, t, now = self.rng, self.ids, self.t, self.now
        ids.rx += 1
        rx, msg = ids.uuid(), ids.uuid()
        rx_number = f"NAT{ids.rx:09d}"
        first_event = len(t.events)
        plain = json.dumps({"nhs_number": nhs, "prescription": rx, "medicine": medicine}).encode()
        first_day = (created + timedelta(days=3)).astimezone(UK_TIME).date()
        status, made, state, updated = lifecycle.TO_BE_DISPENSED, 0, "queued", created
        supply_until: date | None = None
        acked_at: datetime | None = None
        self._event(rx, created, "queued", None, provider, None, f"prescription-order for {provider} (routing rule)")
        t.changes.append((rx, created, "prescribed", 0, first_day, None, DAYS_PER_DELIVERY, None))
        draw = rng.random()
        ack = created + timedelta(hours=rng.lognormvariate(1.8, 0.9))
        if draw < 0.02:
            state, status, updated = "cancelled", lifecycle.CANCELLED, created + timedelta(hours=2)
            self._event(rx, updated, "cancelled", status, None, None, "cancelled by the trust")
        elif draw < 0.03:
            state, updated = "rejected", created + timedelta(hours=3)
            self._event(rx, updated, "provider-rejected", None, provider, msg, "rejected by the provider")
        elif ack < now:
            state, status, updated, acked_at = "acknowledged", lifecycle.WITH_DISPENSER, ack, ack
            self._event(rx, ack, "acknowledged", status, provider, msg, "acknowledged by the provider")
            if rng.random() < 0.01:
                self._event(rx, ack + timedelta(hours=1), "query-raised", status, provider, None, "clinical query")
                if ack + timedelta(days=1) < now:
                    self._event(rx, ack + timedelta(days=1), "query-answered", status, None, None, "answered")
            for n in range(1, DELIVERIES + 1):
                day = first_day + timedelta(days=DAYS_PER_DELIVERY * (n - 1))
                delivered = self._delivery(rx, provider, n, day, ack)
                if delivered is None:
                    break
                made = n
                status = lifecycle.DISPENSED if n == DELIVERIES else lifecycle.WITH_DISPENSER_ACTIVE
                supply_until = delivered.date() + timedelta(days=DAYS_PER_DELIVERY)
                updated = delivered + timedelta(minutes=1)
                line = "fully dispensed" if n == DELIVERIES else "partially dispensed"
                self._event(rx, updated, "dispensed", status, provider, None, f"line 1: {line}")
        self._number_events(first_event)
        t.prescriptions.append((
            rx, f"{ids.rx:012X}"[:6] + "-" + f"{ids.rx:012X}"[6:] + "-NAT", trust, rx_number, 1, 1, 1, "NEW", status,
            provider, service, "routing rule", index, self.cipher.seal(plain, context=prescription_context(rx, trust)),
            hashlib.sha256(plain).hexdigest(), self._inbound_of(trust, created), DELIVERIES, made, supply_until,
            created, updated,
        ))
        item_status = lifecycle.ITEM_FULLY_DISPENSED if made == DELIVERIES else lifecycle.ITEM_WITH_DISPENSER
        t.items.append((ids.uuid(), rx, 1, medicine, "generated medicine", "1", "dose", DAYS_PER_DELIVERY, DELIVERIES,
                        item_status))
        stand_in = b"generated by hgw bench --scale: a stand-in for the prescription-order bundle"
        t.messages.append((msg, "out", "prescription-order", rx, trust, provider,
                           self.cipher.seal(stand_in, context=message_context(msg, trust)), created))
        t.outbox.append((msg, rx, f"{trust}:{rx_number}", provider, state, created, 1 if acked_at else 0,
                         1 if acked_at else 0, created, acked_at, created, acked_at))

    def _delivery(self, rx: str, provider: str, n: int, day: date, ack: datetime) -> datetime | None:
        """Delivery `n` around `day`, as far as it got by now; when it was made (None: not yet)."""
        rng, now, t = self.rng, self.now, self.t
        booked = max(ack + timedelta(minutes=5), _at_uk(day - timedelta(days=7), 9))
        if booked >= now:
            return None
        reason = rng.choice(_REASONS) if rng.random() < 0.04 else None
        steps: list[tuple[datetime, str, date]] = [(booked, "scheduled", day), (_at_uk(day - timedelta(days=1), 16),
                                                                               "dispatched", day)]
        if reason is not None:
            again = day + timedelta(days=2)
            steps += [(_at_uk(day, 12), "failed", day), (_at_uk(day, 13), "scheduled", again),
                      (_at_uk(again - timedelta(days=1), 16), "dispatched", again)]
            day = again
        steps.append((_at_uk(day, 11), "delivered", day))
        last, delivered_at = steps[0], None
        for at, state, agreed in steps:
            if at >= now:
                break
            last = (at, state, agreed)
            detail = f"delivery {n} of {DELIVERIES}: {state} for {agreed.isoformat()}"
            if state == "failed" and reason is not None:
                detail += f" ({describe_failure(reason)})"
            made_on = at.astimezone(UK_TIME).date() if state == "delivered" else None
            if state == "delivered":
                delivered_at = at
            self._event(rx, at, f"delivery-{state}", None, provider, None, detail)
            t.changes.append((rx, at, state, n, agreed, made_on, DAYS_PER_DELIVERY if made_on else None, provider))
        at, state, agreed = last
        t.deliveries.append((rx, n, state, agreed, at, delivered_at, reason if state == "failed" else None))
        return delivered_at


def batches(cipher: DataCipher, now: datetime, factor: float, seed: int = 19) -> Iterator[tuple[int, Tables]]:
    """(patients, rows) per batch of up to `PATIENTS_PER_BATCH` patients, `factor` × 500,000 patients in all."""
    rng = random.Random(seed)  # noqa: S311 - generated test data, not secrets
    writer = _Writer(cipher, now, rng)
    total = max(1, round(PATIENTS_AT_FACTOR_1 * factor))
    done = 0
    while done < total:
        n = min(PATIENTS_PER_BATCH, total - done)
        writer.t, writer.inbound = Tables(), {}
        for _ in range(n):
            writer.patient()
        done += n
        yield n, writer.t


def copy_batch(conn: psycopg.Connection[Any], rows: Tables) -> None:
    """COPY one batch's rows, parents first, in one transaction."""
    with conn.transaction(), conn.cursor() as cur:
        for name, (table, columns) in COLUMNS.items():
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in getattr(rows, name):
                    copy.write_row(row)


def fill(dsn: str, cipher: DataCipher, now: datetime, factor: float) -> dict[str, int]:
    """Generate and COPY the store into the migrated database at `dsn` (a libpq DSN; providers already added);
    ANALYZE it. The counts written."""
    counts = {"patients": 0, "prescriptions": 0, "lifecycle_events": 0, "supply_changes": 0, "deliveries": 0}
    with psycopg.connect(dsn) as conn, bulk_load.events_numbered_by_loader(conn):
        for patients, rows in batches(cipher, now, factor):
            copy_batch(conn, rows)
            counts["patients"] += patients
            counts["prescriptions"] += len(rows.prescriptions)
            counts["lifecycle_events"] += len(rows.events)
            counts["supply_changes"] += len(rows.changes)
            counts["deliveries"] += len(rows.deliveries)
    bulk_load.analyze(dsn)
    return counts
