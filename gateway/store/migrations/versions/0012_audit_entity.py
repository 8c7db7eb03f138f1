"""audit entity index: the entities of records that name more than one (batch releases and acknowledgements)

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The append-only guard, frozen here as it was when this migration was written (gateway.audit.guard).
GUARD = {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_entity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    RAISE EXCEPTION USING MESSAGE = 'audit_entity is append-only: ' || TG_OP || ' refused',\n        ERRCODE = 'insufficient_privilege';\nEND\n$$",
        "DROP TRIGGER IF EXISTS audit_entity_no_update_delete ON audit_entity",
        "CREATE TRIGGER audit_entity_no_update_delete BEFORE UPDATE OR DELETE ON audit_entity FOR EACH ROW EXECUTE FUNCTION audit_entity_append_only()",
        "DROP TRIGGER IF EXISTS audit_entity_no_truncate ON audit_entity",
        "CREATE TRIGGER audit_entity_no_truncate BEFORE TRUNCATE ON audit_entity FOR EACH STATEMENT EXECUTE FUNCTION audit_entity_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_entity_no_update BEFORE UPDATE ON audit_entity BEGIN SELECT RAISE(ABORT, 'audit_entity is append-only: UPDATE refused'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_entity_no_delete BEFORE DELETE ON audit_entity BEGIN SELECT RAISE(ABORT, 'audit_entity is append-only: DELETE refused'); END",
    ],
}
DROP_GUARD = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_entity_no_truncate ON audit_entity",
        "DROP TRIGGER IF EXISTS audit_entity_no_update_delete ON audit_entity",
        "DROP FUNCTION IF EXISTS audit_entity_append_only()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_entity_no_delete", "DROP TRIGGER IF EXISTS audit_entity_no_update"],
}


def upgrade() -> None:
    op.create_table('audit_entity',
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('entity_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('entity_id', 'seq')
    )
    op.create_index('ix_audit_entity_seq', 'audit_entity', ['seq'], unique=False)
    for statement in GUARD[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_GUARD[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index('ix_audit_entity_seq', table_name='audit_entity')
    op.drop_table('audit_entity')
