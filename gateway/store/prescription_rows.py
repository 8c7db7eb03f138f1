"""Reads of prescriptions and what hangs off them: versions, items, timeline, deliveries, dispenses and tasks.

Functions take an open session; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.outbox_queue import outbox_for_prescription
from gateway.store.tables import (
    Delivery,
    DispenseRecord,
    FhirMessage,
    LifecycleEvent,
    LifecycleTask,
    OutboxEntry,
    Prescription,
    PrescriptionItem,
)

_CHUNK = 500


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


async def find_prescription(session: AsyncSession, any_id: str) -> Prescription | None:
    """By long-form UUID or EPS short-form id."""
    stmt = select(Prescription).where(or_(col(Prescription.id) == any_id, col(Prescription.short_form_id) == any_id))
    return (await session.exec(stmt)).first()


async def lock_for_events(
    session: AsyncSession, prescription_ids: Iterable[str], *, postgres: bool, skip_locked: bool = False
) -> set[str]:
    """Lock these prescriptions' rows for the transaction before it writes their timeline events; the ids locked.

    Inserting an event takes its prescription's row lock anyway (migration 0021: one prescription's events commit
    in the order of their ids, the order the webhook relay delivers them in). Taking it first with `skip_locked`
    lets a background writer leave out the rows another transaction holds instead of waiting for them (it comes
    back to them). SQLite has one writer at a time: there, nothing to lock, every id is returned."""
    wanted = sorted(set(prescription_ids))
    if not postgres or not wanted:
        return set(wanted)
    stmt = select(Prescription.id).where(col(Prescription.id).in_(wanted)).order_by(col(Prescription.id))
    return set((await session.exec(stmt.with_for_update(skip_locked=skip_locked))).all())


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


async def find_delivery(session: AsyncSession, prescription_id: str, number: int) -> Delivery | None:
    stmt = select(Delivery).where(Delivery.prescription_id == prescription_id, Delivery.number == number)
    return (await session.exec(stmt)).first()


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



async def prescriptions_by_id(session: AsyncSession, ids: Sequence[str]) -> list[Prescription]:
    """The prescriptions with these ids (in no particular order; unknown ids are left out)."""
    return list((await session.exec(select(Prescription).where(col(Prescription.id).in_(list(ids))))).all())
