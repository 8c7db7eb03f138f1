"""organisation directory (ODS etr.csv or added by hand) and each trust's homecare team contact, for what EPS
needs on an order and trust exports do not carry

Revision ID: 0015
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('organisation',
    sa.Column('ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('address_lines', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('postcode', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('telecom', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('parent_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('national_grouping', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('health_geography', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('open_date', sa.Date(), nullable=True),
    sa.Column('close_date', sa.Date(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ods')
    )
    op.create_table('team_contact',
    sa.Column('trust_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('telecom', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('job_role', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('trust_ods')
    )


def downgrade() -> None:
    op.drop_table('team_contact')
    op.drop_table('organisation')
