"""the console overview's running tallies and indexes (issue 19 item 7: national scale)

Revision ID: 0023
Revises: 0021

`outbox_tally` and `prescription_tally` (gateway/store/tally_tables.py) hold deltas appended by triggers in the
transaction that inserts, updates or deletes an outbox entry or a prescription: the overview sums a few thousand
rows instead of grouping every message ever sent. PostgreSQL: statement-level triggers reading the transition tables
(one delta per group and statement, and only for rows whose state, provider or prescription changed); SQLite:
row-level triggers. Existing rows are counted once here. Indexes for the overview's other figures: messages and
prescriptions received since a time, messages acknowledged since a time, and the few messages still waiting.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "state IN ('queued', 'leased')"

# PostgreSQL: one function per table, three statement triggers each (INSERT, UPDATE, DELETE).
_PG_OUTBOX = """
CREATE FUNCTION hgw_outbox_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO outbox_tally (provider_ods, trust_ods, state, n)
        SELECT o.provider_ods, p.trust_ods, o.state, count(*)
        FROM new_rows o JOIN prescription p ON p.id = o.prescription_id GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO outbox_tally (provider_ods, trust_ods, state, n)
        SELECT o.provider_ods, p.trust_ods, o.state, -count(*)
        FROM old_rows o JOIN prescription p ON p.id = o.prescription_id GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO outbox_tally (provider_ods, trust_ods, state, n)
        SELECT d.provider_ods, p.trust_ods, d.state, sum(d.n)
        FROM (
            SELECT b.provider_ods, b.prescription_id, b.state, 1 AS n
            FROM new_rows b JOIN old_rows a ON a.id = b.id
            WHERE (a.state, a.provider_ods, a.prescription_id)
                IS DISTINCT FROM (b.state, b.provider_ods, b.prescription_id)
            UNION ALL
            SELECT a.provider_ods, a.prescription_id, a.state, -1 AS n
            FROM new_rows b JOIN old_rows a ON a.id = b.id
            WHERE (a.state, a.provider_ods, a.prescription_id)
                IS DISTINCT FROM (b.state, b.provider_ods, b.prescription_id)
        ) d JOIN prescription p ON p.id = d.prescription_id
        GROUP BY 1, 2, 3 HAVING sum(d.n) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""
_PG_PRESCRIPTION = """
CREATE FUNCTION hgw_prescription_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO prescription_tally (provider_ods, trust_ods, n)
        SELECT provider_ods, trust_ods, count(*) FROM new_rows GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO prescription_tally (provider_ods, trust_ods, n)
        SELECT provider_ods, trust_ods, -count(*) FROM old_rows GROUP BY 1, 2;
    ELSE
        INSERT INTO prescription_tally (provider_ods, trust_ods, n)
        SELECT d.provider_ods, d.trust_ods, sum(d.n)
        FROM (
            SELECT b.provider_ods, b.trust_ods, 1 AS n FROM new_rows b JOIN old_rows a ON a.id = b.id
            WHERE (a.provider_ods, a.trust_ods) IS DISTINCT FROM (b.provider_ods, b.trust_ods)
            UNION ALL
            SELECT a.provider_ods, a.trust_ods, -1 AS n FROM new_rows b JOIN old_rows a ON a.id = b.id
            WHERE (a.provider_ods, a.trust_ods) IS DISTINCT FROM (b.provider_ods, b.trust_ods)
        ) d
        GROUP BY 1, 2 HAVING sum(d.n) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""


def _pg_triggers(table: str, function: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_tally_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows"
        f" NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_tally_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _sqlite_outbox(row: str, sign: str) -> str:
    return (
        f"INSERT INTO outbox_tally (provider_ods, trust_ods, state, n) SELECT {row}.provider_ods, trust_ods,"
        f" {row}.state, {sign}1 FROM prescription WHERE id = {row}.prescription_id;"
    )


def _sqlite_prescription(row: str, sign: str) -> str:
    return (
        f"INSERT INTO prescription_tally (provider_ods, trust_ods, n)"
        f" VALUES ({row}.provider_ods, {row}.trust_ods, {sign}1);"
    )


_SQLITE = [
    f"CREATE TRIGGER outbox_tally_insert AFTER INSERT ON outbox BEGIN {_sqlite_outbox('NEW', '')} END",
    "CREATE TRIGGER outbox_tally_update AFTER UPDATE OF state, provider_ods, prescription_id ON outbox"
    " WHEN OLD.state IS NOT NEW.state OR OLD.provider_ods IS NOT NEW.provider_ods"
    " OR OLD.prescription_id IS NOT NEW.prescription_id"
    f" BEGIN {_sqlite_outbox('OLD', '-')} {_sqlite_outbox('NEW', '')} END",
    f"CREATE TRIGGER outbox_tally_delete AFTER DELETE ON outbox BEGIN {_sqlite_outbox('OLD', '-')} END",
    f"CREATE TRIGGER prescription_tally_insert AFTER INSERT ON prescription BEGIN {_sqlite_prescription('NEW', '')}"
    " END",
    "CREATE TRIGGER prescription_tally_update AFTER UPDATE OF provider_ods, trust_ods ON prescription"
    " WHEN OLD.provider_ods IS NOT NEW.provider_ods OR OLD.trust_ods IS NOT NEW.trust_ods"
    f" BEGIN {_sqlite_prescription('OLD', '-')} {_sqlite_prescription('NEW', '')} END",
    f"CREATE TRIGGER prescription_tally_delete AFTER DELETE ON prescription BEGIN {_sqlite_prescription('OLD', '-')}"
    " END",
]
_TRIGGERS = [f"{table}_tally_{op_}" for table in ("outbox", "prescription") for op_ in ("insert", "update", "delete")]


def _delta_id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "outbox_tally",
        _delta_id(),
        sa.Column("provider_ods", sa.String(length=12), nullable=False),
        sa.Column("trust_ods", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_table(
        "prescription_tally",
        _delta_id(),
        sa.Column("provider_ods", sa.String(length=12), nullable=True),
        sa.Column("trust_ods", sa.String(length=12), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])
    op.create_index("ix_outbox_acknowledged_at", "outbox", ["acknowledged_at"])
    op.create_index(
        "ix_outbox_waiting", "outbox", ["state"], postgresql_where=sa.text(WAITING), sqlite_where=sa.text(WAITING)
    )
    op.create_index("ix_prescription_created_at", "prescription", ["created_at"])
    op.execute(
        "INSERT INTO outbox_tally (provider_ods, trust_ods, state, n) SELECT o.provider_ods, p.trust_ods, o.state,"
        " count(*) FROM outbox o JOIN prescription p ON p.id = o.prescription_id"
        " GROUP BY o.provider_ods, p.trust_ods, o.state"
    )
    op.execute(
        "INSERT INTO prescription_tally (provider_ods, trust_ods, n) SELECT provider_ods, trust_ods, count(*)"
        " FROM prescription GROUP BY provider_ods, trust_ods"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_OUTBOX)
        op.execute(_PG_PRESCRIPTION)
        for statement in _pg_triggers("outbox", "hgw_outbox_tally") + _pg_triggers(
            "prescription", "hgw_prescription_tally"
        ):
            op.execute(statement)
    else:
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for trigger in _TRIGGERS:
        table = trigger.split("_tally_")[0]
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS hgw_outbox_tally()")
        op.execute("DROP FUNCTION IF EXISTS hgw_prescription_tally()")
    op.drop_index("ix_prescription_created_at", table_name="prescription")
    op.drop_index("ix_outbox_waiting", table_name="outbox")
    op.drop_index("ix_outbox_acknowledged_at", table_name="outbox")
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.drop_table("prescription_tally")
    op.drop_table("outbox_tally")
