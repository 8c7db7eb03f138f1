"""outbox order key

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 22:56:33.785801
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    # Existing orders: their key is their prescription's trust and RxNumber.
    op.execute(
        "UPDATE outbox SET order_key = (SELECT p.trust_ods || ':' || p.rx_number FROM prescription p "
        "WHERE p.id = outbox.prescription_id)"
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('order_key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False)
        batch_op.create_index(batch_op.f('ix_outbox_order_key'), ['order_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_order_key'))
        batch_op.drop_column('order_key')
