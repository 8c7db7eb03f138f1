"""a prescription's timeline events are numbered in the order they commit (PostgreSQL)

Revision ID: 0021
Revises: 0020

The webhook relay and the status feed give a prescription's events in the order of their ids. On PostgreSQL an id
is drawn when its row is inserted, not when its transaction commits: two transactions writing events of the same
prescription could commit in the other order (a background watcher's `patient-at-risk` event drawn first, a
provider's dispense committed first), and the trust would hear of them out of order. A trigger now locks the
event's prescription row first, then draws the id: one prescription's events are numbered one transaction after
another. The column's own default goes (it would draw a second id, leaving a gap after every event, which the
status feed's horizon reads as a write in flight); the sequence stays. SQLite has one writer at a time, so its ids
already follow the commits.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "hgw_event_in_prescription_order"
TRIGGER = "lifecycle_event_in_prescription_order"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM prescription WHERE id = NEW.prescription_id FOR UPDATE;
            NEW.id := nextval(pg_get_serial_sequence('lifecycle_event', 'id'));
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON lifecycle_event FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )
    op.execute("ALTER TABLE lifecycle_event ALTER COLUMN id DROP DEFAULT")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER TABLE lifecycle_event ALTER COLUMN id SET DEFAULT nextval(%L::regclass)', "
        "pg_get_serial_sequence('lifecycle_event', 'id')); END $$"
    )
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON lifecycle_event")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
