"""Keeping what a provider or trust sent: the raw message, sealed to its row and sender, and what became of it."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.context import Gateway
from gateway.store.sealed import inbound_context, message_context
from gateway.store.tables import FhirMessage, InboundPayload, Prescription


def sealed_inbound(
    gw: Gateway, message_id: str, event: str, p: Prescription, sender: str, receiver: str, raw: bytes, now: datetime
) -> FhirMessage:
    """The `fhir_message` row for an inbound message about `p`, its body sealed (AES-GCM, bound to id and sender)."""
    return FhirMessage(
        id=message_id,
        direction="in",
        event=event,
        prescription_id=p.id,
        sender_ods=sender,
        receiver_ods=receiver,
        body_enc=gw.cipher.seal(raw, context=message_context(message_id, sender)),
        created_at=now,
    )


def raw_payload(
    gw: Gateway, payload_id: str, tenant_ods: str | None, fmt: str, content_type: str, body: bytes, now: datetime
) -> InboundPayload:
    """The `inbound_payload` row keeping `body` as received (sealed, bound to id and tenant), stored before it is
    parsed."""
    return InboundPayload(
        id=payload_id,
        tenant_ods=tenant_ods,
        format=fmt,
        content_type=content_type[:100],
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        body_enc=gw.cipher.seal(body, context=inbound_context(payload_id, tenant_ods)),
        received_at=now,
    )


async def set_inbound_outcome(session: AsyncSession, payload_id: str, outcome: str, summary: str) -> None:
    """Record the outcome of an inbound payload and its summary (outcomes and located codes only)."""
    await session.exec(
        update(InboundPayload).where(col(InboundPayload.id) == payload_id).values(outcome=outcome, summary=summary)
    )
