"""Read-only queries for counting what became of a provider's messages (the fault campaign and the benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import WAITING
from gateway.store.tables import (
    Delivery,
    DeliveryAttempt,
    DispenseRecord,
    LifecycleEvent,
    OutboxEntry,
    Prescription,
)


async def message_states(session: AsyncSession, provider_ods: str) -> list[tuple[str, str, str]]:
    """(message id, outbox state, RxNumber) of every message queued for `provider_ods`."""
    stmt = (
        select(OutboxEntry.message_id, OutboxEntry.state, Prescription.rx_number)
        .join(Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id))
        .where(OutboxEntry.provider_ods == provider_ods)
        .order_by(col(OutboxEntry.id))
    )
    return [(str(m), str(s), str(rx)) for m, s, rx in (await session.exec(stmt)).all()]


async def unfinished_count(session: AsyncSession, provider_ods: str) -> int:
    """How many of the provider's messages are still queued or leased."""
    stmt = select(func.count()).where(
        OutboxEntry.provider_ods == provider_ods, col(OutboxEntry.state).in_(WAITING)
    )
    return int((await session.exec(stmt)).one())


async def fenced_attempts(session: AsyncSession, provider_ods: str) -> int:
    """Attempts that finished after their worker had lost the lease, and so changed nothing."""
    stmt = (
        select(func.count())
        .select_from(DeliveryAttempt)
        .join(OutboxEntry, col(OutboxEntry.id) == col(DeliveryAttempt.outbox_id))
        .where(OutboxEntry.provider_ods == provider_ods, col(DeliveryAttempt.detail).like("%lease lost%"))
    )
    return int((await session.exec(stmt)).one())


async def interrupted_attempts(session: AsyncSession, provider_ods: str) -> int:
    """Push claims that never finished: the worker died (or was cut off) between its claim and its commit."""
    finished = aliased(DeliveryAttempt)
    later = (
        select(finished.id)
        .where(
            finished.outbox_id == DeliveryAttempt.outbox_id,
            finished.lease_token == DeliveryAttempt.lease_token,
            col(finished.outcome) != "leased",
        )
        .exists()
    )
    stmt = (
        select(func.count())
        .select_from(DeliveryAttempt)
        .join(OutboxEntry, col(OutboxEntry.id) == col(DeliveryAttempt.outbox_id))
        .where(
            OutboxEntry.provider_ods == provider_ods,
            DeliveryAttempt.kind == "push",
            DeliveryAttempt.outcome == "leased",
            ~later,
        )
    )
    return int((await session.exec(stmt)).one())


@dataclass(frozen=True, slots=True)
class Effects:
    """Everything the fault campaign compares with what its clients were told."""

    prescriptions: list[Prescription]
    outbox: list[OutboxEntry]
    events: list[LifecycleEvent]
    dispenses: list[DispenseRecord]
    release_attempts: int
    first_deliveries: list[Delivery]


async def effects(session: AsyncSession, trust_ods: str, provider_ods: str) -> Effects:
    """The trust's prescriptions, the provider's outbox rows, every lifecycle event and dispense record, how many
    release attempts were made, and every first delivery."""
    releases = select(func.count()).select_from(DeliveryAttempt).where(DeliveryAttempt.kind == "release")
    return Effects(
        prescriptions=list((await session.exec(select(Prescription).where(Prescription.trust_ods == trust_ods))).all()),
        outbox=list((await session.exec(select(OutboxEntry).where(OutboxEntry.provider_ods == provider_ods))).all()),
        events=list((await session.exec(select(LifecycleEvent))).all()),
        dispenses=list((await session.exec(select(DispenseRecord))).all()),
        release_attempts=int((await session.exec(releases)).one()),
        first_deliveries=list((await session.exec(select(Delivery).where(Delivery.number == 1))).all()),
    )
