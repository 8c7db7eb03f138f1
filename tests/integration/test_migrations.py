"""The Alembic migrations produce exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import gateway.store.audit_tables  # noqa: F401  (registers the audit table)
import gateway.store.tables  # noqa: F401
from gateway.store.db import sync_url
from gateway.store.migrate import alembic_config, current_head


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == current_head()
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_prescription_parts_migrate_down_and_up(database_url: str) -> None:
    """0020 (prescription parts): down to 0019 keeps the rows and the old uniqueness of a version; up again makes
    every existing prescription part 1 of 1 and lets a version have several parts."""
    cfg = alembic_config(database_url)
    engine = create_engine(sync_url(database_url))
    row = (
        "INSERT INTO {t} (id, short_form_id, trust_ods, rx_number, rx_version, action, status, nhs_index, "
        "canonical_enc, content_sha256, inbound_id, deliveries_authorised, deliveries_made, created_at, updated_at"
        "{extra}) VALUES (:id, :sf, 'RBA', 'HC-1', 1, 'NEW', '0001', 'x', :blob, 'sha', 'in-1', 1, 0, :at, :at"
        "{values})"
    )
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        command.downgrade(cfg, "0019")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO inbound_payload (id, format, content_type, sha256, size, body_enc, received_at, "
                    "outcome) VALUES ('in-1', 'jac', 'text/csv', 'sha', 1, :blob, :at, 'accepted')"
                ),
                {"blob": b"x", "at": at},
            )
            conn.execute(text(row.format(t="prescription", extra="", values="")),
                         {"id": "p-1", "sf": "SF-1", "blob": b"x", "at": at})  # fmt: skip
        command.upgrade(cfg, "head")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT part, parts FROM prescription WHERE id = 'p-1'")).one() == (1, 1)
            conn.execute(text(row.format(t="prescription", extra=", part, parts", values=", 2, 2")),
                         {"id": "p-2", "sf": "SF-2", "blob": b"x", "at": at})  # fmt: skip
        with engine.begin() as conn, pytest.raises(IntegrityError):
            conn.execute(text(row.format(t="prescription", extra=", part, parts", values=", 2, 2")),
                         {"id": "p-3", "sf": "SF-3", "blob": b"x", "at": at})  # fmt: skip
    finally:
        engine.dispose()
