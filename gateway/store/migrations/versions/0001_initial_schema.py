"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 22:06:34.659924
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('inbound_payload',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('tenant_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inbound_payload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_payload_tenant_ods'), ['tenant_ods'], unique=False)

    op.create_table('provider',
    sa.Column('ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_poll_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ods')
    )
    op.create_table('prescription',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('short_form_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('rx_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('rx_version', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('service_type', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('route_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('nhs_index', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('canonical_enc', sa.LargeBinary(), nullable=False),
    sa.Column('content_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('inbound_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('deliveries_authorised', sa.Integer(), nullable=False),
    sa.Column('deliveries_made', sa.Integer(), nullable=False),
    sa.Column('supply_until', sa.Date(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_payload.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('short_form_id'),
    sa.UniqueConstraint('trust_ods', 'rx_number', 'rx_version', name='uq_prescription_version')
    )
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescription_nhs_index'), ['nhs_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_provider_ods'), ['provider_ods'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_trust_ods'), ['trust_ods'], unique=False)

    op.create_table('routing_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('dmd_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('service_type', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_ods'], ['provider.ods'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('scheduled_date', sa.Date(), nullable=True),
    sa.Column('window', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('updated_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('task_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prescription_id', 'number', name='uq_delivery_number')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_prescription_id'), ['prescription_id'], unique=False)

    op.create_table('fhir_message',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('sender_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('receiver_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('fhir_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_message_prescription_id'), ['prescription_id'], unique=False)

    op.create_table('lifecycle_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
    sa.Column('actor_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lifecycle_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lifecycle_event_prescription_id'), ['prescription_id'], unique=False)

    op.create_table('prescription_item',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('dmd_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('quantity', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('quantity_unit', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('days_per_delivery', sa.Integer(), nullable=False),
    sa.Column('deliveries_authorised', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('prescription_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescription_item_prescription_id'), ['prescription_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('available_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_token', sa.Integer(), nullable=False),
    sa.Column('lease_expires_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['fhir_message.id'], ),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_claim', ['provider_ods', 'state', 'available_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_prescription_id'), ['prescription_id'], unique=False)

    op.create_table('delivery_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempt_outbox_id'), ['outbox_id'], unique=False)




def downgrade() -> None:
    
    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempt_outbox_id'))

    op.drop_table('delivery_attempt')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_prescription_id'))
        batch_op.drop_index('ix_outbox_claim')

    op.drop_table('outbox')
    with op.batch_alter_table('prescription_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_item_prescription_id'))

    op.drop_table('prescription_item')
    with op.batch_alter_table('lifecycle_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lifecycle_event_prescription_id'))

    op.drop_table('lifecycle_event')
    with op.batch_alter_table('fhir_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fhir_message_prescription_id'))

    op.drop_table('fhir_message')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_prescription_id'))

    op.drop_table('delivery')
    op.drop_table('routing_rule')
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_trust_ods'))
        batch_op.drop_index(batch_op.f('ix_prescription_status'))
        batch_op.drop_index(batch_op.f('ix_prescription_provider_ods'))
        batch_op.drop_index(batch_op.f('ix_prescription_nhs_index'))

    op.drop_table('prescription')
    op.drop_table('provider')
    with op.batch_alter_table('inbound_payload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_payload_tenant_ods'))

    op.drop_table('inbound_payload')

