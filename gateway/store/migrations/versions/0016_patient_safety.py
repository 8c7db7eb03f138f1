"""patient safety: supply history, provider pauses, at-risk episodes, missed doses; console users of an organisation

Revision ID: 0016
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.add_column(sa.Column('organisation_kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
    op.create_table('provider_pause_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('provider_pause_change', schema=None) as batch_op:
        batch_op.create_index('ix_provider_pause_change_at', ['provider_ods', 'at'], unique=False)

    op.create_table('missed_dose',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('inbound_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('reporter_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('reporter_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('actuality', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('seriousness', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_payload.id'], ),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reporter_ods', 'source_id', name='uq_missed_dose_source')
    )
    with op.batch_alter_table('missed_dose', schema=None) as batch_op:
        batch_op.create_index('ix_missed_dose_occurred', ['occurred_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_missed_dose_prescription_id'), ['prescription_id'], unique=False)

    op.create_table('risk_episode',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('treatment', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('open_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('reasons', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('supply_ends', sa.Date(), nullable=False),
    sa.Column('opened_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notified_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notify_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    with op.batch_alter_table('risk_episode', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_episode_treatment'), ['treatment'], unique=False)

    op.create_table('supply_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('delivery_number', sa.Integer(), nullable=False),
    sa.Column('scheduled_date', sa.Date(), nullable=True),
    sa.Column('delivered_on', sa.Date(), nullable=True),
    sa.Column('days_supply', sa.Integer(), nullable=True),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('supply_change', schema=None) as batch_op:
        batch_op.create_index('ix_supply_change_prescription_at', ['prescription_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supply_change', schema=None) as batch_op:
        batch_op.drop_index('ix_supply_change_prescription_at')

    op.drop_table('supply_change')
    with op.batch_alter_table('risk_episode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_episode_treatment'))

    op.drop_table('risk_episode')
    with op.batch_alter_table('missed_dose', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_missed_dose_prescription_id'))
        batch_op.drop_index('ix_missed_dose_occurred')

    op.drop_table('missed_dose')
    with op.batch_alter_table('provider_pause_change', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_pause_change_at')

    op.drop_table('provider_pause_change')
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.drop_column('organisation_kind')
        batch_op.drop_column('organisation_ods')
