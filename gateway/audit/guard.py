"""Triggers that make `audit_record` and its entity index `audit_entity` append-only in the database itself.

For the Alembic migrations.

Every statement is idempotent, so applying the guard twice is harmless. The triggers stop the application
and careless hands; someone who can drop triggers can still edit rows, and `verify` is what catches that.
"""

from __future__ import annotations

from typing import Final

_MESSAGE: Final = "audit_record is append-only"

_PG_FUNCTION: Final = f"""
CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- No '%' placeholders: the SQL passes through SQLAlchemy text(), which would escape them.
    RAISE EXCEPTION USING MESSAGE = '{_MESSAGE}: ' || TG_OP || ' refused', ERRCODE = 'insufficient_privilege';
END
$$
""".strip()


def postgres_guard_sql() -> list[str]:
    """Refuse UPDATE and DELETE row by row, and TRUNCATE (which row triggers do not see)."""
    return [
        _PG_FUNCTION,
        "DROP TRIGGER IF EXISTS audit_record_no_update_delete ON audit_record",
        "CREATE TRIGGER audit_record_no_update_delete BEFORE UPDATE OR DELETE ON audit_record "
        "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()",
        "DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record",
        "CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()",
    ]


_PG_ENTITY_FUNCTION: Final = """
CREATE OR REPLACE FUNCTION audit_entity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'audit_entity is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END
$$
""".strip()


def entity_guard_sql(dialect: str) -> list[str]:
    """The same guard for `audit_entity` (migration 0012 added the table)."""
    if dialect == "postgresql":
        return [
            _PG_ENTITY_FUNCTION,
            "DROP TRIGGER IF EXISTS audit_entity_no_update_delete ON audit_entity",
            "CREATE TRIGGER audit_entity_no_update_delete BEFORE UPDATE OR DELETE ON audit_entity "
            "FOR EACH ROW EXECUTE FUNCTION audit_entity_append_only()",
            "DROP TRIGGER IF EXISTS audit_entity_no_truncate ON audit_entity",
            "CREATE TRIGGER audit_entity_no_truncate BEFORE TRUNCATE ON audit_entity "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entity_append_only()",
        ]
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER IF NOT EXISTS audit_entity_no_update BEFORE UPDATE ON audit_entity "
            "BEGIN SELECT RAISE(ABORT, 'audit_entity is append-only: UPDATE refused'); END",
            "CREATE TRIGGER IF NOT EXISTS audit_entity_no_delete BEFORE DELETE ON audit_entity "
            "BEGIN SELECT RAISE(ABORT, 'audit_entity is append-only: DELETE refused'); END",
        ]
    raise ValueError(f"no audit guard for the {dialect} dialect")


def drop_entity_guard_sql(dialect: str) -> list[str]:
    """Undo `entity_guard_sql(dialect)`."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS audit_entity_no_truncate ON audit_entity",
            "DROP TRIGGER IF EXISTS audit_entity_no_update_delete ON audit_entity",
            "DROP FUNCTION IF EXISTS audit_entity_append_only()",
        ]
    if dialect == "sqlite":
        return ["DROP TRIGGER IF EXISTS audit_entity_no_delete", "DROP TRIGGER IF EXISTS audit_entity_no_update"]
    raise ValueError(f"no audit guard for the {dialect} dialect")


def sqlite_guard_sql() -> list[str]:
    """SQLite has no TRUNCATE; an unqualified DELETE runs the DELETE trigger once triggers exist."""
    return [
        "CREATE TRIGGER IF NOT EXISTS audit_record_no_update BEFORE UPDATE ON audit_record "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}: UPDATE refused'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_record_no_delete BEFORE DELETE ON audit_record "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}: DELETE refused'); END",
    ]


def guard_sql(dialect: str) -> list[str]:
    """The guard for `dialect` ("postgresql" or "sqlite"), e.g. `op.get_bind().dialect.name`."""
    if dialect == "postgresql":
        return postgres_guard_sql()
    if dialect == "sqlite":
        return sqlite_guard_sql()
    raise ValueError(f"no audit guard for the {dialect} dialect")


def drop_guard_sql(dialect: str = "postgresql") -> list[str]:
    """Undo `guard_sql(dialect)`: for a migration's downgrade."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record",
            "DROP TRIGGER IF EXISTS audit_record_no_update_delete ON audit_record",
            "DROP FUNCTION IF EXISTS audit_record_append_only()",
        ]
    if dialect == "sqlite":
        return [
            "DROP TRIGGER IF EXISTS audit_record_no_delete",
            "DROP TRIGGER IF EXISTS audit_record_no_update",
        ]
    raise ValueError(f"no audit guard for the {dialect} dialect")
