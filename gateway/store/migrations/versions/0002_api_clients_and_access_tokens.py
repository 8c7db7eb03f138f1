"""api clients and access tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:26:29.254783
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('api_client',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('alg', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('jwks', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('jwks_url', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_client_ods'), ['ods'], unique=False)

    op.create_table('assertion_jti',
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('jti', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('expires_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'jti')
    )
    op.create_table('access_token',
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('expires_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], ),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_token_client_id'), ['client_id'], unique=False)




def downgrade() -> None:
    
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_token_client_id'))

    op.drop_table('access_token')
    op.drop_table('assertion_jti')
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_client_ods'))

    op.drop_table('api_client')

