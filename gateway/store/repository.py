"""All SQL the services need. Functions take an open session; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import WAITING, OutboxState, check_outbox_transition
from gateway.domain.routing import Router
from gateway.store.tables import (
    Delivery,
    DeliveryAttempt,
    DispenseRecord,
    FhirMessage,
    InboundPayload,
    LifecycleEvent,
    LifecycleTask,
    OutboxEntry,
    Prescription,
    PrescriptionItem,
    Provider,
    RoutingRule,
)

_CHUNK = 500


async def load_router(session: AsyncSession) -> Router:
    providers = {p.ods: p for p in (await session.exec(select(Provider))).all()}
    rules = (await session.exec(select(RoutingRule).order_by(col(RoutingRule.priority), col(RoutingRule.id)))).all()
    return Router(providers, list(rules))


async def set_inbound_outcome(session: AsyncSession, payload_id: str, outcome: str, summary: str) -> None:
    await session.exec(
        update(InboundPayload).where(col(InboundPayload.id) == payload_id).values(outcome=outcome, summary=summary)
    )


async def existing_versions(
    session: AsyncSession, trust_ods: str, rx_numbers: Iterable[str]
) -> dict[tuple[str, int], list[Prescription]]:
    """Stored prescriptions of `trust_ods` with these RxNumbers, keyed by (RxNumber, RxVersion): each version's
    EPS prescriptions in part order (one, unless it was sent in parts)."""
    found: dict[tuple[str, int], list[Prescription]] = {}
    numbers = sorted(set(rx_numbers))
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start : start + _CHUNK]
        rows = await session.exec(
            select(Prescription)
            .where(Prescription.trust_ods == trust_ods, col(Prescription.rx_number).in_(chunk))
            .order_by(col(Prescription.part))
        )
        for row in rows.all():
            found.setdefault((row.rx_number, row.rx_version), []).append(row)
    return found


async def bulk_insert(session: AsyncSession, table: type[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows with one executemany per chunk: the ORM unit of work is too slow for 5,000-line files."""
    for start in range(0, len(rows), _CHUNK):
        await session.exec(insert(table), params=list(rows[start : start + _CHUNK]))


async def find_prescription(session: AsyncSession, any_id: str) -> Prescription | None:
    """By long-form UUID or EPS short-form id."""
    stmt = select(Prescription).where(or_(col(Prescription.id) == any_id, col(Prescription.short_form_id) == any_id))
    return (await session.exec(stmt)).first()


async def prescription_items(session: AsyncSession, prescription_id: str) -> list[PrescriptionItem]:
    stmt = (
        select(PrescriptionItem)
        .where(PrescriptionItem.prescription_id == prescription_id)
        .order_by(col(PrescriptionItem.line_no))
    )
    return list((await session.exec(stmt)).all())


async def prescription_events(session: AsyncSession, prescription_id: str) -> list[LifecycleEvent]:
    stmt = (
        select(LifecycleEvent)
        .where(LifecycleEvent.prescription_id == prescription_id)
        .order_by(col(LifecycleEvent.at), col(LifecycleEvent.id))
    )
    return list((await session.exec(stmt)).all())


async def prescription_deliveries(session: AsyncSession, prescription_id: str) -> list[Delivery]:
    stmt = select(Delivery).where(Delivery.prescription_id == prescription_id).order_by(col(Delivery.number))
    return list((await session.exec(stmt)).all())


async def outbox_for_prescription(session: AsyncSession, prescription_id: str) -> list[OutboxEntry]:
    stmt = select(OutboxEntry).where(OutboxEntry.prescription_id == prescription_id).order_by(col(OutboxEntry.id))
    return list((await session.exec(stmt)).all())


def deliverable(
    stmt: Any,
    provider_ods: str,
    now: datetime,
    short_form_id: str | None,
    limit: int,
    *,
    skip_locked: bool,
    expired_leases: bool,
) -> Any:
    """`stmt` (a select of outbox rows or their columns) narrowed to one kind of a provider's deliverable orders:
    with `expired_leases`, leased orders whose lease ran out (oldest first), else queued orders that are due
    (longest due first). Either way no earlier message with the same order key (trust and RxNumber) may still
    be unacknowledged, so an amend or cancel never overtakes the order it changes. On PostgreSQL rows another
    transaction holds are skipped (`skip_locked`).

    Each kind is its own statement so that PostgreSQL can walk `ix_outbox_claim` in order and stop after `limit`
    rows, whatever the length of the queue (one statement with both kinds sorts every waiting order first).
    """
    earlier = aliased(OutboxEntry)
    blocked = (
        select(earlier.id)
        .where(
            earlier.order_key == OutboxEntry.order_key,
            col(earlier.id) < col(OutboxEntry.id),
            col(earlier.state).in_(WAITING),
        )
        .exists()
    )
    if expired_leases:
        due = and_(col(OutboxEntry.state) == OutboxState.LEASED, col(OutboxEntry.lease_expires_at) <= now)
        order: tuple[Any, ...] = (col(OutboxEntry.id),)
    else:
        due = and_(col(OutboxEntry.state) == OutboxState.QUEUED, col(OutboxEntry.available_at) <= now)
        order = (col(OutboxEntry.available_at), col(OutboxEntry.id))
    stmt = stmt.where(OutboxEntry.provider_ods == provider_ods, due, ~blocked)
    if short_form_id is not None:
        stmt = stmt.join(Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id)).where(
            Prescription.short_form_id == short_form_id
        )
    stmt = stmt.order_by(*order).limit(limit)
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxEntry)
    return stmt


async def take_deliverable(
    session: AsyncSession,
    stmt: Any,
    provider_ods: str,
    now: datetime,
    short_form_id: str | None,
    limit: int,
    *,
    skip_locked: bool,
) -> list[Any]:
    """Up to `limit` rows of `stmt` over a provider's deliverable orders (`deliverable`), locked on PostgreSQL:
    orders whose lease ran out first, then queued orders that are due."""
    rows: list[Any] = []
    for expired_leases in (True, False):
        wanted = limit - len(rows)
        if wanted <= 0:
            break
        narrowed = deliverable(
            stmt, provider_ods, now, short_form_id, wanted, skip_locked=skip_locked, expired_leases=expired_leases
        )
        rows.extend((await session.exec(narrowed)).all())
    return rows


async def claim_orders(
    session: AsyncSession,
    *,
    provider_ods: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    short_form_id: str | None,
    skip_locked: bool,
    attempt_kind: str = "release",
) -> list[OutboxEntry]:
    """Lease up to `limit` deliverable orders of a provider (`deliverable`), bumping each one's fencing token."""
    entries: list[OutboxEntry] = await take_deliverable(
        session, select(OutboxEntry), provider_ods, now, short_form_id, limit, skip_locked=skip_locked
    )
    for entry in entries:
        entry.state = check_outbox_transition(entry.state, OutboxState.LEASED, entry=entry.message_id)
        entry.lease_token += 1
        entry.lease_expires_at = lease_until
        entry.attempts += 1
        session.add(entry)
        session.add(
            DeliveryAttempt(
                outbox_id=entry.id or 0, at=now, kind=attempt_kind, outcome="leased", lease_token=entry.lease_token
            )
        )
    return entries


async def get_messages(session: AsyncSession, ids: Sequence[str]) -> dict[str, FhirMessage]:
    if not ids:
        return {}
    rows = await session.exec(select(FhirMessage).where(col(FhirMessage.id).in_(list(ids))))
    return {m.id: m for m in rows.all()}


async def outbox_by_message(session: AsyncSession, message_id: str) -> OutboxEntry | None:
    return (await session.exec(select(OutboxEntry).where(OutboxEntry.message_id == message_id))).first()


async def get_by_id(session: AsyncSession, table: type[Any], key: Any) -> Any:
    return await session.get(table, key)


async def find_delivery(session: AsyncSession, prescription_id: str, number: int) -> Delivery | None:
    stmt = select(Delivery).where(Delivery.prescription_id == prescription_id, Delivery.number == number)
    return (await session.exec(stmt)).first()


# A provider's last poll is recorded at most this often: the update locks the provider row, so doing it on every
# `$release` would make a provider's concurrent releases queue for that row.
POLL_TOUCH_SECONDS = 1.0


async def touch_provider_poll(session: AsyncSession, provider_ods: str, now: datetime) -> None:
    """Record that the provider polled, unless that was already recorded less than `POLL_TOUCH_SECONDS` ago."""
    stale = now - timedelta(seconds=POLL_TOUCH_SECONDS)
    stmt = (
        update(Provider)
        .where(col(Provider.ods) == provider_ods)
        .where(or_(col(Provider.last_poll_at).is_(None), col(Provider.last_poll_at) < stale))
        .values(last_poll_at=now)
    )
    await session.exec(stmt)


def _provider_lock_key(provider_ods: str) -> int:
    """The advisory lock key of a provider: 64 bits of a hash of its ODS code, as a signed bigint."""
    digest = hashlib.blake2b(f"hgw-provider:{provider_ods}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def hold_provider(session: AsyncSession, provider_ods: str, *, exclusive: bool) -> None:
    """Take the provider's transaction-level advisory lock on PostgreSQL (SQLite's writers are serialised already).

    `$release` takes it shared, so a provider's releases run side by side; pausing or changing the provider takes
    it exclusive, so it waits for the releases in flight, and every release after it sees the change. Take it
    before touching the provider row, as both sides do, so the two locks are always taken in the same order.
    """
    if (await session.connection()).dialect.name != "postgresql":
        return
    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    await session.exec(select(lock(_provider_lock_key(provider_ods))))


async def list_providers(session: AsyncSession) -> list[Provider]:
    return list((await session.exec(select(Provider).order_by(col(Provider.ods)))).all())


async def list_rules(session: AsyncSession) -> list[RoutingRule]:
    stmt = select(RoutingRule).order_by(col(RoutingRule.priority), col(RoutingRule.id))
    return list((await session.exec(stmt)).all())


async def sealed_rows(session: AsyncSession, table: type[Any], after: str, limit: int) -> list[Any]:
    """A page of rows of a table with a sealed column, in primary-key order after `after`."""
    key = col(table.id)
    stmt = select(table).where(key > after).order_by(key).limit(limit)
    return list((await session.exec(stmt)).all())


@dataclass(frozen=True, slots=True)
class Current:
    """The latest stored version of a trust's RxNumber, with its items and its latest outbox message. Of a
    prescription sent as several EPS prescriptions, this is part 1 and `others` are the rest, in order."""

    prescription: Prescription
    items: list[PrescriptionItem]
    outbox: OutboxEntry | None
    outbox_event: str | None
    others: tuple[Current, ...] = ()

    @property
    def parts(self) -> tuple[Current, ...]:
        """Every part of the version, this one first (just this one when it was sent whole)."""
        return (self, *self.others)


async def current_versions(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Current]:
    """For each (trust, RxNumber): its latest version, items and latest outbox row (amend and cancel need them)."""
    found: dict[tuple[str, str], Current] = {}
    for trust, rx in set(keys):
        stmt = (
            select(Prescription)
            .where(Prescription.trust_ods == trust, Prescription.rx_number == rx)
            .order_by(col(Prescription.rx_version).desc())
            .limit(1)
        )
        p = (await session.exec(stmt)).first()
        if p is None:
            continue
        parts = await prescription_parts(session, p) if p.parts > 1 else [p]
        currents = [await _current(session, part) for part in parts]
        found[(trust, rx)] = replace(currents[0], others=tuple(currents[1:]))
    return found


async def _current(session: AsyncSession, p: Prescription) -> Current:
    items = await prescription_items(session, p.id)
    rows = await outbox_for_prescription(session, p.id)
    latest = rows[-1] if rows else None
    event = None
    if latest is not None:
        message = await session.get(FhirMessage, latest.message_id)
        event = message.event if message else None
    return Current(p, items, latest, event)


async def prescription_parts(session: AsyncSession, p: Prescription) -> list[Prescription]:
    """Every EPS prescription the trust's prescription `p` is part of was sent as, in part order ([p] if whole)."""
    if p.parts <= 1:
        return [p]
    stmt = (
        select(Prescription)
        .where(
            Prescription.trust_ods == p.trust_ods,
            Prescription.rx_number == p.rx_number,
            Prescription.rx_version == p.rx_version,
        )
        .order_by(col(Prescription.part))
    )
    return list((await session.exec(stmt)).all())


async def apply_update(session: AsyncSession, table: type[Any], key: Any, expect: dict[str, Any],
                       values: dict[str, Any]) -> bool:
    """UPDATE one row only if it still has the `expect`ed values; False when it changed meanwhile."""
    pk = next(iter(table.__table__.primary_key.columns))
    stmt = update(table).where(pk == key)
    for name, value in expect.items():
        stmt = stmt.where(getattr(table, name) == value)
    result = await session.exec(stmt.values(**values))
    return bool(result.rowcount == 1)


async def event_positions(session: AsyncSession, *, after: int, limit: int) -> list[tuple[int, datetime]]:
    """Id and time of the next `limit` lifecycle events of every tenant after id `after` (the status feed's horizon)."""
    stmt = (
        select(col(LifecycleEvent.id), col(LifecycleEvent.at))
        .where(col(LifecycleEvent.id) > after)
        .order_by(col(LifecycleEvent.id))
        .limit(limit)
    )
    return [(event_id, at) for event_id, at in (await session.exec(stmt)).all() if event_id is not None]


async def event_exists(session: AsyncSession, event_id: int) -> bool:
    stmt = select(col(LifecycleEvent.id)).where(col(LifecycleEvent.id) == event_id)
    return (await session.exec(stmt)).first() is not None


async def trust_events(
    session: AsyncSession, *, trust_ods: str, after: int, upto: int, limit: int
) -> list[tuple[LifecycleEvent, Prescription, str | None]]:
    """A trust's lifecycle events with `after` < id <= `upto`, in id order, each with its prescription and the
    prescription's status after the event (the latest status recorded on its events up to this one).
    The prescription's sealed canonical form is never loaded."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import defer

    earlier = aliased(LifecycleEvent)
    status_after = (
        select(earlier.status)
        .where(
            earlier.prescription_id == LifecycleEvent.prescription_id,
            col(earlier.id) <= col(LifecycleEvent.id),
            col(earlier.status).is_not(None),
        )
        .order_by(col(earlier.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(LifecycleEvent, Prescription, status_after)
        .join(Prescription, col(Prescription.id) == col(LifecycleEvent.prescription_id))
        .where(
            Prescription.trust_ods == trust_ods,
            col(LifecycleEvent.id) > after,
            col(LifecycleEvent.id) <= upto,
        )
        .options(defer(inspect(Prescription).attrs["canonical_enc"].class_attribute, raiseload=True))
        .order_by(col(LifecycleEvent.id))
        .limit(limit)
    )
    return [(event, prescription, status) for event, prescription, status in (await session.exec(stmt)).all()]


async def push_providers(session: AsyncSession) -> list[Provider]:
    """Providers the push relay serves: push mode, active, not paused, with an endpoint."""
    stmt = select(Provider).where(
        Provider.mode == "push",
        col(Provider.active).is_(True),
        col(Provider.paused).is_(False),
        col(Provider.endpoint).is_not(None),
    )
    return list((await session.exec(stmt.order_by(col(Provider.ods)))).all())


def _failed_at() -> Any:
    """When an order last failed: its last push attempt, else its rejection, else its creation."""
    return func.coalesce(OutboxEntry.last_attempt_at, OutboxEntry.acknowledged_at, OutboxEntry.created_at)


async def list_outbox(
    session: AsyncSession,
    *,
    states: Sequence[str] | None = None,
    provider_ods: str | None = None,
    failed_since: datetime | None = None,
    limit: int = 100,
) -> list[OutboxEntry]:
    """Outbox rows, oldest first, filtered by state, provider and (for failures) when they last failed."""
    stmt = select(OutboxEntry)
    if states:
        stmt = stmt.where(col(OutboxEntry.state).in_(list(states)))
    if provider_ods is not None:
        stmt = stmt.where(OutboxEntry.provider_ods == provider_ods)
    if failed_since is not None:
        stmt = stmt.where(_failed_at() >= failed_since)
    return list((await session.exec(stmt.order_by(col(OutboxEntry.id)).limit(limit))).all())


async def outbox_counts(session: AsyncSession) -> list[tuple[str, str, int, datetime | None]]:
    """Per provider and state: how many rows, and the oldest one's creation time."""
    stmt = (
        select(OutboxEntry.provider_ods, OutboxEntry.state, func.count(), func.min(OutboxEntry.created_at))
        .group_by(col(OutboxEntry.provider_ods), col(OutboxEntry.state))
        .order_by(col(OutboxEntry.provider_ods), col(OutboxEntry.state))
    )
    return [(str(p), str(s), int(n), oldest) for p, s, n, oldest in (await session.exec(stmt)).all()]


async def later_in_order(session: AsyncSession, entry: OutboxEntry) -> list[OutboxEntry]:
    """Messages after `entry` with its order key (the same prescription) that were not cancelled."""
    stmt = select(OutboxEntry).where(
        OutboxEntry.order_key == entry.order_key,
        col(OutboxEntry.id) > (entry.id or 0),
        col(OutboxEntry.state) != OutboxState.CANCELLED,
    )
    return list((await session.exec(stmt.order_by(col(OutboxEntry.id)))).all())


async def delivery_attempts(session: AsyncSession, outbox_id: int) -> list[DeliveryAttempt]:
    stmt = select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == outbox_id).order_by(col(DeliveryAttempt.id))
    return list((await session.exec(stmt)).all())


async def dispense_records(session: AsyncSession, prescription_id: str) -> list[DispenseRecord]:
    """Every dispense notification applied to a prescription (DispenseRecord), oldest first."""
    stmt = select(DispenseRecord).where(DispenseRecord.prescription_id == prescription_id)
    return list((await session.exec(stmt.order_by(col(DispenseRecord.seq)))).all())


async def lifecycle_tasks(session: AsyncSession, prescription_id: str) -> list[LifecycleTask]:
    """The requests providers raised about a prescription (LifecycleTask), oldest first."""
    stmt = select(LifecycleTask).where(LifecycleTask.prescription_id == prescription_id)
    return list((await session.exec(stmt.order_by(col(LifecycleTask.created_at), col(LifecycleTask.id)))).all())


async def lifecycle_task_by_source(
    session: AsyncSession, requester_ods: str, source_id: str
) -> LifecycleTask | None:
    """The LifecycleTask a requester already raised with its own Task id, or None."""
    stmt = select(LifecycleTask).where(
        LifecycleTask.requester_ods == requester_ods, LifecycleTask.source_id == source_id
    )
    return (await session.exec(stmt)).first()


async def prescriptions_in_status(
    session: AsyncSession, statuses: Sequence[str], *, after: str, limit: int
) -> list[Prescription]:
    """A page of prescriptions in any of `statuses`, in id order after `after`."""
    stmt = (
        select(Prescription)
        .where(col(Prescription.status).in_(list(statuses)), col(Prescription.id) > after)
        .order_by(col(Prescription.id))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())
