"""provider webhooks: invoice events, and deliveries owed to a provider's subscription

Revision ID: 0019
Revises: 0018

`webhook_subscription.tenant_kind` says whose a subscription is (every existing one is a trust's). A provider's
subscription is owed `invoice_event` rows (the trust's decisions on its invoices), so a `webhook_delivery` row now
names either a lifecycle event (`event_id`, a trust's) or an invoice event (`invoice_event_id`, a provider's).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invoice_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('invoice_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('provider_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('lines', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('pending', sa.Integer(), nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('invoice_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_event_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_event_provider_ods'), ['provider_ods'], unique=False)

    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoice_event_id', sa.Integer(), nullable=True))
        batch_op.alter_column('event_id', existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_unique_constraint('uq_webhook_delivery_invoice_event', ['subscription_id', 'invoice_event_id'])
        batch_op.create_foreign_key(
            'fk_webhook_delivery_invoice_event', 'invoice_event', ['invoice_event_id'], ['id']
        )
        batch_op.create_check_constraint(
            'ck_webhook_delivery_one_event', '(event_id IS NULL) <> (invoice_event_id IS NULL)'
        )

    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('tenant_kind', sqlmodel.sql.sqltypes.AutoString(length=8), server_default='trust',
                      nullable=False)
        )


def downgrade() -> None:
    # Providers' subscriptions and what is owed to them have no place in the older schema.
    op.execute("DELETE FROM webhook_delivery WHERE invoice_event_id IS NOT NULL")
    op.execute(
        "DELETE FROM webhook_delivery WHERE subscription_id IN "
        "(SELECT id FROM webhook_subscription WHERE tenant_kind <> 'trust')"
    )
    op.execute("DELETE FROM webhook_subscription WHERE tenant_kind <> 'trust'")
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.drop_column('tenant_kind')

    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_constraint('ck_webhook_delivery_one_event', type_='check')
        batch_op.drop_constraint('fk_webhook_delivery_invoice_event', type_='foreignkey')
        batch_op.drop_constraint('uq_webhook_delivery_invoice_event', type_='unique')
        batch_op.alter_column('event_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('invoice_event_id')

    with op.batch_alter_table('invoice_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_event_provider_ods'))
        batch_op.drop_index(batch_op.f('ix_invoice_event_invoice_id'))

    op.drop_table('invoice_event')
