"""audit off the hot path: pending entries chained later by the sequencer, and signed heads of the chain

Revision ID: 0018
Revises: 0013

`audit_record` and `audit_entity` are unchanged, so every existing chain keeps verifying as it is.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import gateway.store.tables

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The append-only guard of audit_head, frozen here as it was when this migration was written (gateway.audit.guard).
GUARD = {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_head_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    RAISE EXCEPTION USING MESSAGE = 'audit_head is append-only: ' || TG_OP || ' refused',\n        ERRCODE = 'insufficient_privilege';\nEND\n$$",
        "DROP TRIGGER IF EXISTS audit_head_no_update_delete ON audit_head",
        "CREATE TRIGGER audit_head_no_update_delete BEFORE UPDATE OR DELETE ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_head_append_only()",
        "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
        "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head FOR EACH STATEMENT EXECUTE FUNCTION audit_head_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_head_no_update BEFORE UPDATE ON audit_head BEGIN SELECT RAISE(ABORT, 'audit_head is append-only: UPDATE refused'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head BEGIN SELECT RAISE(ABORT, 'audit_head is append-only: DELETE refused'); END",
    ],
}
DROP_GUARD = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
        "DROP TRIGGER IF EXISTS audit_head_no_update_delete ON audit_head",
        "DROP FUNCTION IF EXISTS audit_head_append_only()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_head_no_delete", "DROP TRIGGER IF EXISTS audit_head_no_update"],
}


def upgrade() -> None:
    op.create_table('audit_pending',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('actor_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor_ods', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('entity_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_ids', sa.Text(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('detail_json', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_pending_at', 'audit_pending', ['at'], unique=False)
    op.create_table('audit_head',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    for statement in GUARD[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_GUARD[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table('audit_head')
    op.drop_index('ix_audit_pending_at', table_name='audit_pending')
    op.drop_table('audit_pending')
