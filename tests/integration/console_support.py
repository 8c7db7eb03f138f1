"""Arranging console scenarios: prescriptions posted by a trust, some of their messages dead-lettered.

Dead letters are arranged in the store as the push relay leaves them (state dead, the reason, a failed
attempt with the provider's answer): how the relay gets there is tested in test_push.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlmodel import col, select

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.context import Gateway
from gateway.store.tables import DeliveryAttempt, OutboxEntry, Prescription


@dataclass(frozen=True)
class Seeded:
    """What a scenario holds: rows as posted (NHS numbers, names) and the message ids, by RxNumber."""

    rows: list[dict[str, str]]
    messages: dict[str, str]  # RxNumber -> message id
    dead: list[str]  # message ids dead-lettered


async def seed(gw: Gateway, trust: httpx.AsyncClient, *, count: int = 4, dead: int = 2, seed: int = 11) -> Seeded:
    """`count` prescriptions for the default provider posted by `trust`; the first `dead` messages dead-lettered."""
    rows = export_rows(count, seed=seed)
    response = await trust.post("/api/v1/exports", content=render_export(rows), headers={"Content-Type": "text/csv"})
    assert response.status_code in (200, 201), response.text
    async with gw.sessions() as session, session.begin():
        found = (
            await session.exec(
                select(Prescription.rx_number, OutboxEntry)
                .join(OutboxEntry, col(OutboxEntry.prescription_id) == col(Prescription.id))
                .order_by(col(OutboxEntry.id))
            )
        ).all()
        messages = {str(rx): entry.message_id for rx, entry in found}
        killed = []
        now = gw.clock()
        for _rx, entry in found[:dead]:
            entry.state = "dead"
            entry.attempts = 1
            entry.last_attempt_at = now - timedelta(minutes=5)
            entry.last_error = "the provider answered 400: unknown medication code"
            session.add(entry)
            session.add(
                DeliveryAttempt(
                    outbox_id=entry.id or 0,
                    at=now - timedelta(minutes=5),
                    kind="push",
                    outcome="bad-request",
                    detail="the provider answered 400",
                    lease_token=entry.lease_token,
                    status_code=400,
                    response_excerpt='{"resourceType":"OperationOutcome"}',
                )
            )
            killed.append(entry.message_id)
    return Seeded(rows, messages, killed)
