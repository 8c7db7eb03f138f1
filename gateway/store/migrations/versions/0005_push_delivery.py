"""push delivery: retry policy, pause, dead letters, attempt detail

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:08:31.753749
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_token', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status_code', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('response_excerpt', sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    # Existing rows: never replayed, never pushed (NULL means "created_at" and "no attempt yet").
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('last_attempt_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    # Existing providers: not paused, and the gateway's default retry policy (NULL).
    with op.batch_alter_table('provider', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('max_attempts', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_age_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('backoff_base_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('backoff_cap_seconds', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('provider', schema=None) as batch_op:
        batch_op.drop_column('backoff_cap_seconds')
        batch_op.drop_column('backoff_base_seconds')
        batch_op.drop_column('max_age_seconds')
        batch_op.drop_column('max_attempts')
        batch_op.drop_column('paused')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('queued_at')

    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.drop_column('response_excerpt')
        batch_op.drop_column('status_code')
        batch_op.drop_column('lease_token')
