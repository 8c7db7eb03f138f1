"""Counts for the operator overview: prescriptions by status, orders by state per provider."""

from __future__ import annotations

from dataclasses import dataclass

from gateway import lifecycle
from gateway.services.context import Gateway
from gateway.store import repository
from gateway.store.tables import OutboxEntry, Prescription, Provider


@dataclass(frozen=True, slots=True)
class Overview:
    prescriptions_by_status: dict[str, int]
    orders_by_state: dict[str, int]
    providers: list[Provider]
    recent: list[Prescription]


async def overview(gw: Gateway) -> Overview:
    async with gw.sessions() as session:
        by_status = await repository.count_by(session, Prescription.status)
        by_state = await repository.count_by(session, OutboxEntry.state)
        providers = await repository.list_providers(session)
        recent = await repository.list_prescriptions(session, limit=50)
    named = {f"{code} {lifecycle.PRESCRIPTION_STATUS.get(code, '?')}": n for code, n in sorted(by_status.items())}
    return Overview(named, by_state, providers, recent)
