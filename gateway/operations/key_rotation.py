"""Data-key rotation: a new current key, then every sealed column re-sealed with it, page by page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.context import Gateway
from gateway.intake.idempotency import record_context
from gateway.security.crypto import KeyRing
from gateway.store import repository
from gateway.store.sealed import inbound_context, message_context, prescription_context
from gateway.store.tables import FhirMessage, IdempotencyRecord, InboundPayload, Prescription
from gateway.wiring import build_gateway

# table → (sealed column, context of a row)
SEALED: dict[type[Any], tuple[str, Callable[[Any], str]]] = {
    InboundPayload: ("body_enc", lambda r: inbound_context(r.id, r.tenant_ods)),
    Prescription: ("canonical_enc", lambda r: prescription_context(r.id, r.trust_ods)),
    FhirMessage: ("body_enc", lambda r: message_context(r.id, r.sender_ods)),
    IdempotencyRecord: ("response_enc", lambda r: record_context(r.id, r.client_id)),
}


@dataclass(frozen=True, slots=True)
class ResealReport:
    key_id: str
    resealed: dict[str, int]


async def reseal_all(gw: Gateway, *, page: int = 500) -> ResealReport:
    """Re-seal, with the current key, every blob sealed with an older one. Safe to rerun; idempotent."""
    counts: dict[str, int] = {}
    for table, (column, context) in SEALED.items():
        done = 0
        after = ""
        while True:
            async with gw.sessions() as session, session.begin():
                rows = await repository.sealed_rows(session, table, after, page)
                for row in rows:
                    blob = getattr(row, column)
                    if blob is not None and not gw.cipher.is_current(blob):
                        plain = gw.cipher.open(blob, context=context(row))
                        setattr(row, column, gw.cipher.seal(plain, context=context(row)))
                        repository.save(session, row)
                        done += 1
            if len(rows) < page:
                break
            after = rows[-1].id
        counts[table.__tablename__] = done
    return ResealReport(gw.cipher.key_id.hex(), counts)


async def rotate_data_key(gw: Gateway) -> ResealReport:
    """Rotate the data key file and re-seal everything; returns what was re-sealed with the new key."""
    KeyRing(gw.settings.data_dir).rotate()
    fresh = build_gateway(gw.settings, clock=gw.clock)
    try:
        return await reseal_all(fresh)
    finally:
        await fresh.close()
