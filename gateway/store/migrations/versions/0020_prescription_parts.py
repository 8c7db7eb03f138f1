"""prescription parts: a trust's prescription of more than four items is several EPS prescriptions

Revision ID: 0020
Revises: 0019

EPS takes at most four MedicationRequests per prescription (bundle-validator.ts), so a longer prescription from
a trust is sent as several EPS prescriptions, its parts. Each part is a `prescription` row of its own (own
short-form id, items and order message) with the trust's RxNumber and RxVersion, numbered `part` of `parts`;
the version's uniqueness now counts the part. Every existing row is part 1 of 1.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('parts', sa.Integer(), server_default='1', nullable=False))
        batch_op.drop_constraint('uq_prescription_version', type_='unique')
        batch_op.create_unique_constraint(
            'uq_prescription_version_part', ['trust_ods', 'rx_number', 'rx_version', 'part']
        )


def downgrade() -> None:
    # Only a store without split prescriptions goes back: parts beyond the first would break the old constraint.
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_constraint('uq_prescription_version_part', type_='unique')
        batch_op.create_unique_constraint('uq_prescription_version', ['trust_ods', 'rx_number', 'rx_version'])
        batch_op.drop_column('parts')
        batch_op.drop_column('part')
