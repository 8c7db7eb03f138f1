"""Keeping what a provider or trust sent: the raw message, sealed to its row and sender."""

from __future__ import annotations

from datetime import datetime

from gateway.services.context import Gateway
from gateway.store.sealed import message_context
from gateway.store.tables import FhirMessage, Prescription


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
