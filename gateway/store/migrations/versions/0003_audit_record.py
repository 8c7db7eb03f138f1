"""audit record

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The append-only guards, frozen here as they were when this migration was written.
GUARD = {
    "postgresql": ["CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    -- No '%' placeholders: the SQL passes through SQLAlchemy text(), which would escape them.\n    RAISE EXCEPTION USING MESSAGE = 'audit_record is append-only: ' || TG_OP || ' refused', ERRCODE = 'insufficient_privilege';\nEND\n$$", 'DROP TRIGGER IF EXISTS audit_record_no_update_delete ON audit_record', 'CREATE TRIGGER audit_record_no_update_delete BEFORE UPDATE OR DELETE ON audit_record FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()', 'DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record', 'CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()'],
    "sqlite": ["CREATE TRIGGER IF NOT EXISTS audit_record_no_update BEFORE UPDATE ON audit_record BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: UPDATE refused'); END", "CREATE TRIGGER IF NOT EXISTS audit_record_no_delete BEFORE DELETE ON audit_record BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: DELETE refused'); END"],
}
DROP_GUARD = {
    "postgresql": ['DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record', 'DROP TRIGGER IF EXISTS audit_record_no_update_delete ON audit_record', 'DROP FUNCTION IF EXISTS audit_record_append_only()'],
    "sqlite": ['DROP TRIGGER IF EXISTS audit_record_no_delete', 'DROP TRIGGER IF EXISTS audit_record_no_update'],
}


def upgrade() -> None:
    op.create_table('audit_record',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('actor_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('entity_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('event_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.create_index('ix_audit_record_actor_ods', ['actor_ods'], unique=False)
        batch_op.create_index('ix_audit_record_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_record_entity', ['entity_type', 'entity_id'], unique=False)
    for statement in GUARD[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_GUARD[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_record_entity')
        batch_op.drop_index('ix_audit_record_at')
        batch_op.drop_index('ix_audit_record_actor_ods')
    op.drop_table('audit_record')
