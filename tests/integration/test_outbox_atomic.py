"""The transactional outbox: a prescription, its message and its outbox row commit together or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake import handling, ingest
from gateway.store.tables import LifecycleEvent
from tests.integration.helpers import export

TRUST = Principal("trust-client", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
TABLES = ("prescription", "prescription_item", "fhir_message", "outbox", "lifecycle_event")


async def _counts(gw: Gateway) -> dict[str, int]:
    async with gw.engine.connect() as conn:
        return {t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}  # noqa: S608


async def test_a_failure_after_the_outbox_insert_leaves_no_prescription_message_or_order(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = handling.bulk.insert_rows

    async def failing(session: Any, table: Any, rows: Any) -> None:
        await real_insert(session, table, rows)
        if table is LifecycleEvent:  # the prescriptions, messages and outbox rows are written by now
            raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(handling.bulk, "insert_rows", failing)
    with pytest.raises(RuntimeError, match="went away"):
        await ingest.ingest_export(gw, TRUST, export(2, seed=91), "text/csv")
    assert await _counts(gw) == dict.fromkeys(TABLES, 0)
    async with gw.engine.connect() as conn:  # the raw payload was stored first and is kept
        assert (await conn.execute(text("SELECT count(*) FROM inbound_payload"))).scalar_one() == 1

    monkeypatch.setattr(handling.bulk, "insert_rows", real_insert)
    await ingest.ingest_export(gw, TRUST, export(2, seed=91), "text/csv")  # the trust sends it again
    counts = await _counts(gw)
    assert (counts["prescription"], counts["fhir_message"], counts["outbox"]) == (2, 2, 2)
