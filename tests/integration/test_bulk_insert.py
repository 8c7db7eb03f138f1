"""`bulk.insert_rows`, the path ingest writes through, on SQLite and PostgreSQL: bytes, dates and timestamps come
back as written, and columns the rows leave out get their Python-side defaults, as the ORM's INSERT would give."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.context import Gateway
from gateway.store import bulk, repository
from gateway.store.tables import InboundPayload, Prescription

NOW = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _prescription(n: int) -> dict[str, Any]:
    """A row without part, parts, deliveries_authorised or deliveries_made (each has a default)."""
    return {
        "id": f"rx-{n}",
        "short_form_id": f"SF{n}",
        "trust_ods": "RBA",
        "rx_number": f"RX{n}",
        "rx_version": 1,
        "action": "new",
        "status": "0001",
        "provider_ods": None,
        "service_type": None,
        "route_reason": None,
        "nhs_index": f"idx-{n}",
        "canonical_enc": bytes([0, 1, 92, 120, 255, n]),  # a NUL, a backslash and an "x" survive the JSON path
        "content_sha256": "0" * 64,
        "inbound_id": "in-1",
        "supply_until": date(2026, 4, n),
        "created_at": NOW,
        "updated_at": NOW,
    }


async def save_payload(session: AsyncSession) -> None:
    """The inbound payload `_prescription` rows name."""
    await repository.save_now(
        session,
        InboundPayload(
            id="in-1", format="csv", content_type="text/csv", sha256="0" * 64, size=1, body_enc=b"x", received_at=NOW
        ),
    )


async def test_rows_come_back_as_written_with_defaults_filled(bare_gw: Gateway) -> None:
    async with bare_gw.sessions() as session, session.begin():
        await save_payload(session)
        await bulk.insert_rows(session, Prescription, [_prescription(n) for n in (1, 2, 3)])
    async with bare_gw.sessions() as session:
        stored = [await repository.get_by_id(session, Prescription, f"rx-{n}") for n in (1, 2, 3)]
    for n, p in zip((1, 2, 3), stored, strict=True):
        assert p is not None
        assert p.canonical_enc == bytes([0, 1, 92, 120, 255, n])
        assert p.supply_until == date(2026, 4, n)
        assert p.created_at == NOW
        assert (p.part, p.parts, p.deliveries_authorised, p.deliveries_made) == (1, 1, 0, 0)


async def test_no_rows_is_no_statement(bare_gw: Gateway) -> None:
    async with bare_gw.sessions() as session, session.begin():
        await bulk.insert_rows(session, Prescription, [])
    async with bare_gw.sessions() as session:
        assert await repository.get_by_id(session, Prescription, "rx-1") is None
