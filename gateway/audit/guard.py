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


def append_only_sql(table: str, dialect: str) -> list[str]:
    """The guard of a table added after `audit_record` (`audit_entity`, migration 0012; `audit_head`, 0018)."""
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"    RAISE EXCEPTION USING MESSAGE = '{table} is append-only: ' || TG_OP || ' refused',\n"
            "        ERRCODE = 'insufficient_privilege';\nEND\n$$",
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
        ]
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
        ]
    raise ValueError(f"no audit guard for the {dialect} dialect")


def drop_append_only_sql(table: str, dialect: str) -> list[str]:
    """Undo `append_only_sql(table, dialect)`."""
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_append_only()",
        ]
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_delete", f"DROP TRIGGER IF EXISTS {table}_no_update"]
    raise ValueError(f"no audit guard for the {dialect} dialect")


def entity_guard_sql(dialect: str) -> list[str]:
    """The guard for `audit_entity` (migration 0012 added the table)."""
    return append_only_sql("audit_entity", dialect)


def drop_entity_guard_sql(dialect: str) -> list[str]:
    """Undo `entity_guard_sql(dialect)`."""
    return drop_append_only_sql("audit_entity", dialect)


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
