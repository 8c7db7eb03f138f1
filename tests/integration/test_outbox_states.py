"""An outbox write the transition table refuses leaves the row as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import select, update

from gateway.context import Gateway
from gateway.delivery.acknowledgements import Ack, apply_acknowledgements
from gateway.domain import states as lifecycle
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.errors import StateTransitionError
from gateway.intake import ingest
from gateway.store.tables import OutboxEntry, Prescription
from tests.integration.helpers import export

TRUST = Principal("trust-client", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))


async def test_an_acknowledgement_of_a_withdrawn_order_is_refused_and_changes_nothing(gw: Gateway) -> None:
    report = await ingest.ingest_export(gw, TRUST, export(1, seed=17), "text/csv")
    message_id = report.prescriptions[0].message_id
    assert message_id is not None
    async with gw.sessions() as session, session.begin():
        entry = (await session.exec(select(OutboxEntry).where(OutboxEntry.message_id == message_id))).one()
        assert entry.state == "queued"
        # Withdrawn (as an expiry withdraws a queued order) while the prescription itself stays To be Dispensed.
        await session.exec(update(OutboxEntry).where(OutboxEntry.id == entry.id).values(state="cancelled"))  # type: ignore[call-overload]
        scopes = frozenset(ROLE_SCOPES[Role.PROVIDER])
        provider = Principal("provider-client", Role.PROVIDER, entry.provider_ods, scopes)

    [outcome] = await apply_acknowledgements(gw, provider, [Ack(message_id, "ok")])

    assert not outcome.applied
    assert isinstance(outcome.error, StateTransitionError)
    assert str(outcome.error) == f"outbox entry {message_id} cannot go from cancelled to acknowledged"
    async with gw.sessions() as session:
        entry = (await session.exec(select(OutboxEntry).where(OutboxEntry.message_id == message_id))).one()
        prescription = await session.get(Prescription, entry.prescription_id)
    assert (entry.state, entry.acknowledged_at) == ("cancelled", None)
    assert prescription is not None and prescription.status == lifecycle.TO_BE_DISPENSED
