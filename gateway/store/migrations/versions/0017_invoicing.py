"""invoicing (issue 20): the trust–provider price list, invoices and claims, and their reconciled lines

Revision ID: 0017
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('price_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('unit_price_pence', sa.BigInteger(), nullable=False),
    sa.Column('service_fee_pence', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trust_ods', 'provider_ods', 'code', 'valid_from', name='uq_price_entry_from')
    )
    with op.batch_alter_table('price_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_entry_provider_ods'), ['provider_ods'], unique=False)

    op.create_table('invoice',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('inbound_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('issued', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('net_pence', sa.BigInteger(), nullable=False),
    sa.Column('vat_pence', sa.BigInteger(), nullable=False),
    sa.Column('total_pence', sa.BigInteger(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_payload.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_ods', 'reference', name='uq_invoice_reference')
    )
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_provider_ods'), ['provider_ods'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_trust_ods'), ['trust_ods'], unique=False)

    op.create_table('invoice_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('short_form_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('prescription_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('line_item_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('delivery_number', sa.Integer(), nullable=True),
    sa.Column('delivery_date', sa.Date(), nullable=True),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('quantity', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('unit_price_pence', sa.BigInteger(), nullable=False),
    sa.Column('net_pence', sa.BigInteger(), nullable=False),
    sa.Column('vat_rate', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('vat_pence', sa.BigInteger(), nullable=False),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('expected', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seen', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('bill_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('decided_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invoice_id', 'line_no', name='uq_invoice_line_no')
    )
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_line_bill_key', ['bill_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_line_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_invoice_line_spend', ['trust_ods', 'provider_ods', 'month'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_line_spend')
        batch_op.drop_index(batch_op.f('ix_invoice_line_invoice_id'))
        batch_op.drop_index('ix_invoice_line_bill_key')

    op.drop_table('invoice_line')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_trust_ods'))
        batch_op.drop_index(batch_op.f('ix_invoice_provider_ods'))

    op.drop_table('invoice')
    with op.batch_alter_table('price_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_entry_provider_ods'))

    op.drop_table('price_entry')
