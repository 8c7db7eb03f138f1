"""roll-ups for the monthly KPIs and the at-risk list (issue 19 item 7: national scale)

Revision ID: 0024
Revises: 0023

`prescription_rollup` (one row per prescription: its pair key, whether the provider acknowledged it, when it first
ended, when its first delivery was made) and `treatment_rollup` (one row per treatment: the latest day a delivery
made so far supplies to), gateway/store/rollup_tables.py, kept by triggers in the transaction that writes the
prescription, its timeline event, its delivery or its supply change. PostgreSQL: statement-level triggers reading
the transition tables; SQLite: row-level triggers. Every value only moves one way as events arrive (acknowledged
becomes true, the first end and the first delivery only move earlier, the supply end only later), so concurrent
writers merge with LEAST/GREATEST on the row's latest version and none is lost; a delivery whose delivery time is
changed once set has its prescription's first delivery computed again from its rows. Existing rows are rolled up
here. Indexes for the KPI queries that read base tables: pairs by supply end, treatments by patient and trust, and
supply changes by time (the at-risk list's check that nothing was recorded after its cutoff).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDED = "('cancelled', 'provider-rejected')"
ROLLED_EVENTS = "('acknowledged', 'cancelled', 'provider-rejected')"
BOOKED = "state IN ('scheduled', 'dispatched')"  # a delivery not made yet
STOPPED = "('cancelled', 'expired')"  # a prescription whose booked deliveries no longer cover (supply model `ended`)

# A treatment's bookings (gateway.safety.supply_model `_covered`): of its prescriptions not cancelled or expired, the
# latest report (by time, then id) of each delivery not made, when it is `dispatched` (in transit: covers any supply
# end) or `scheduled` (covers a supply ending on or after its date). Counted again from the rows for every treatment
# the statement touches, so it is exact whatever order reports arrive in; same SQL on both databases.
_BOOKINGS = f"""
SELECT count(*) FILTER (WHERE c.kind = 'dispatched') > 0, min(c.scheduled_date) FILTER (WHERE c.kind = 'scheduled')
FROM prescription p
JOIN prescription_item i ON i.prescription_id = p.id AND i.line_no = 1
JOIN supply_change c ON c.prescription_id = p.id
WHERE p.nhs_index = treatment_rollup.nhs_index AND p.trust_ods = treatment_rollup.trust_ods
    AND i.dmd_code = treatment_rollup.medicine AND c.kind IN ('scheduled', 'dispatched')
    AND NOT EXISTS (
        SELECT 1 FROM supply_change n WHERE n.prescription_id = c.prescription_id
            AND n.delivery_number = c.delivery_number AND n.kind <> 'prescribed'
            AND (n.at > c.at OR (n.at = c.at AND n.id > c.id))
    )
    AND NOT EXISTS (
        SELECT 1 FROM supply_change d WHERE d.prescription_id = c.prescription_id
            AND d.delivery_number = c.delivery_number AND d.kind = 'delivered' AND d.delivered_on IS NOT NULL
    )
    AND NOT EXISTS (SELECT 1 FROM lifecycle_event e WHERE e.prescription_id = p.id AND e.kind IN {STOPPED})
"""


def _rebook(treatments: str) -> str:
    """Count the bookings again for the treatments (nhs_index, trust_ods, medicine) that `treatments` selects."""
    return (
        f"UPDATE treatment_rollup SET (in_transit, booked_for) = ({_BOOKINGS})"
        f" WHERE (nhs_index, trust_ods, medicine) IN ({treatments})"
    )


def _treatments_of(rows: str, where: str) -> str:
    """The treatments of the prescriptions `rows.prescription_id` (a transition table or NEW) where `where`."""
    return (
        "SELECT p.nhs_index, p.trust_ods, i.dmd_code FROM prescription p"
        " JOIN prescription_item i ON i.prescription_id = p.id AND i.line_no = 1"
        f" WHERE p.id IN (SELECT prescription_id FROM {rows} WHERE {where})"
    )


# Lock order (PostgreSQL): every trigger locks all the roll-up rows its statement will change first, in key order
# (prescription_rollup by prescription id, then treatment_rollup by nhs_index, trust_ods, medicine), never a
# prescription_rollup row after a treatment_rollup one, and only then changes them. Two statements touching the
# same rows therefore queue on the first row they share instead of each holding what the other wants (an upsert or
# UPDATE ... FROM alone locks in whatever order its plan meets the rows); and what is counted after the lock (each
# statement of a PL/pgSQL function takes a new snapshot under READ COMMITTED) includes every writer that held it.
# Across statements of one transaction the writer's own order still counts: one code path per report keeps it.
# tests/integration/test_read_rollups.py races six writers over the same rows.
def _pg_lock_treatments(treatments: str) -> str:
    return (
        "PERFORM 1 FROM treatment_rollup"
        f" WHERE (nhs_index, trust_ods, medicine) IN ({treatments})"
        " ORDER BY nhs_index, trust_ods, medicine FOR UPDATE"
    )


def _pg_lock_prescriptions(ids: str) -> str:
    return f"PERFORM 1 FROM prescription_rollup WHERE prescription_id IN ({ids}) ORDER BY prescription_id FOR UPDATE"


_PG_PRESCRIPTION = """
CREATE FUNCTION hgw_prescription_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO prescription_rollup (prescription_id, nhs_index, provider_ods, trust_ods, created_at, acknowledged)
        SELECT id, nhs_index, provider_ods, trust_ods, created_at, false FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM prescription_rollup r USING old_rows o WHERE r.prescription_id = o.id;
    ELSE
        UPDATE prescription_rollup r
        SET nhs_index = b.nhs_index, provider_ods = b.provider_ods, trust_ods = b.trust_ods, created_at = b.created_at
        FROM new_rows b JOIN old_rows a ON a.id = b.id
        WHERE r.prescription_id = b.id
            AND (a.nhs_index, a.provider_ods, a.trust_ods, a.created_at)
                IS DISTINCT FROM (b.nhs_index, b.provider_ods, b.trust_ods, b.created_at);
    END IF;
    RETURN NULL;
END
$$
"""
_ROLLED_IDS = f"SELECT prescription_id FROM new_rows WHERE kind IN {ROLLED_EVENTS}"
_STOPPED_TREATMENTS = _treatments_of("new_rows", f"kind IN {STOPPED}")
_PG_EVENT = f"""
CREATE FUNCTION hgw_event_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_lock_prescriptions(_ROLLED_IDS)};
    UPDATE prescription_rollup r
    SET acknowledged = r.acknowledged OR e.acknowledged, ended_at = LEAST(r.ended_at, e.ended_at)
    FROM (
        SELECT prescription_id, bool_or(kind = 'acknowledged') AS acknowledged,
            min(at) FILTER (WHERE kind IN {ENDED}) AS ended_at
        FROM new_rows WHERE kind IN {ROLLED_EVENTS} GROUP BY prescription_id
    ) e
    WHERE r.prescription_id = e.prescription_id;
    {_pg_lock_treatments(_STOPPED_TREATMENTS)};
    {_rebook(_STOPPED_TREATMENTS)};
    RETURN NULL;
END
$$
"""
_PG_DELIVERY = f"""
CREATE FUNCTION hgw_delivery_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_lock_prescriptions("SELECT prescription_id FROM new_rows")};
    IF TG_OP = 'UPDATE' THEN
        -- a delivery time changed once set (not something the gateway's writers do): counted again from the rows
        UPDATE prescription_rollup r
        SET first_delivered_at = (SELECT min(d.delivered_at) FROM delivery d WHERE d.prescription_id = r.prescription_id)
        WHERE r.prescription_id IN (
            SELECT a.prescription_id FROM old_rows a JOIN new_rows b ON a.id = b.id
            WHERE a.delivered_at IS NOT NULL
                AND (a.delivered_at, a.prescription_id) IS DISTINCT FROM (b.delivered_at, b.prescription_id)
        );
    END IF;
    UPDATE prescription_rollup r SET first_delivered_at = LEAST(r.first_delivered_at, d.first_at)
    FROM (
        SELECT prescription_id, min(delivered_at) AS first_at FROM new_rows
        WHERE delivered_at IS NOT NULL GROUP BY prescription_id
    ) d
    WHERE r.prescription_id = d.prescription_id;
    RETURN NULL;
END
$$
"""
_PG_ITEM = """
CREATE FUNCTION hgw_item_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO treatment_rollup (nhs_index, trust_ods, medicine)
    SELECT DISTINCT p.nhs_index, p.trust_ods, i.dmd_code
    FROM new_rows i JOIN prescription p ON p.id = i.prescription_id WHERE i.line_no = 1
    ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""
_REPORTED_TREATMENTS = _treatments_of("new_rows", "kind <> 'prescribed'")
_PG_SUPPLY = f"""
CREATE FUNCTION hgw_supply_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- every row this statement changes, locked in key order before any is (the upsert alone would lock a subset)
    {_pg_lock_treatments(_REPORTED_TREATMENTS)};
    INSERT INTO treatment_rollup (nhs_index, trust_ods, medicine, supply_ends)
    SELECT p.nhs_index, p.trust_ods, i.dmd_code, max(c.delivered_on + COALESCE(c.days_supply, 0))
    FROM new_rows c
    JOIN prescription p ON p.id = c.prescription_id
    JOIN prescription_item i ON i.prescription_id = p.id AND i.line_no = 1
    WHERE c.kind = 'delivered' AND c.delivered_on IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (nhs_index, trust_ods, medicine)
    DO UPDATE SET supply_ends = GREATEST(treatment_rollup.supply_ends, EXCLUDED.supply_ends);
    {_rebook(_REPORTED_TREATMENTS)};
    RETURN NULL;
END
$$
"""
_PG_FUNCTIONS = {
    "hgw_prescription_rollup": _PG_PRESCRIPTION,
    "hgw_event_rollup": _PG_EVENT,
    "hgw_delivery_rollup": _PG_DELIVERY,
    "hgw_item_rollup": _PG_ITEM,
    "hgw_supply_rollup": _PG_SUPPLY,
}
# (trigger, table, event, function); UPDATE triggers see both transition tables.
_PG_TRIGGERS = [
    ("prescription_rollup_insert", "prescription", "INSERT", "hgw_prescription_rollup"),
    ("prescription_rollup_update", "prescription", "UPDATE", "hgw_prescription_rollup"),
    ("prescription_rollup_delete", "prescription", "DELETE", "hgw_prescription_rollup"),
    ("lifecycle_event_rollup_insert", "lifecycle_event", "INSERT", "hgw_event_rollup"),
    ("delivery_rollup_insert", "delivery", "INSERT", "hgw_delivery_rollup"),
    ("delivery_rollup_update", "delivery", "UPDATE", "hgw_delivery_rollup"),
    ("prescription_item_rollup_insert", "prescription_item", "INSERT", "hgw_item_rollup"),
    ("supply_change_rollup_insert", "supply_change", "INSERT", "hgw_supply_rollup"),
]


def _pg_trigger(name: str, table: str, event: str, function: str) -> str:
    tables = {
        "INSERT": "NEW TABLE AS new_rows",
        "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
    }[event]
    return (
        f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def _earlier(column: str, value: str) -> str:
    """SQLite: the earlier of a nullable column and a value (MIN() of two is NULL when either is)."""
    return f"CASE WHEN {column} IS NULL OR {value} < {column} THEN {value} ELSE {column} END"


_NEW_TREATMENT = (  # SQLite: the treatment of NEW.prescription_id
    "SELECT p.nhs_index, p.trust_ods, i.dmd_code FROM prescription p"
    " JOIN prescription_item i ON i.prescription_id = p.id AND i.line_no = 1 WHERE p.id = NEW.prescription_id"
)
_SQLITE = [
    "CREATE TRIGGER prescription_rollup_insert AFTER INSERT ON prescription BEGIN"
    " INSERT INTO prescription_rollup (prescription_id, nhs_index, provider_ods, trust_ods, created_at, acknowledged)"
    " VALUES (NEW.id, NEW.nhs_index, NEW.provider_ods, NEW.trust_ods, NEW.created_at, 0); END",
    "CREATE TRIGGER prescription_rollup_update AFTER UPDATE OF nhs_index, provider_ods, trust_ods, created_at"
    " ON prescription BEGIN UPDATE prescription_rollup SET nhs_index = NEW.nhs_index,"
    " provider_ods = NEW.provider_ods, trust_ods = NEW.trust_ods, created_at = NEW.created_at"
    " WHERE prescription_id = NEW.id; END",
    "CREATE TRIGGER prescription_rollup_delete AFTER DELETE ON prescription BEGIN"
    " DELETE FROM prescription_rollup WHERE prescription_id = OLD.id; END",
    f"CREATE TRIGGER lifecycle_event_rollup_insert AFTER INSERT ON lifecycle_event WHEN NEW.kind IN {ROLLED_EVENTS}"
    " BEGIN UPDATE prescription_rollup SET acknowledged = acknowledged OR NEW.kind = 'acknowledged',"
    f" ended_at = CASE WHEN NEW.kind IN {ENDED} THEN {_earlier('ended_at', 'NEW.at')} ELSE ended_at END"
    " WHERE prescription_id = NEW.prescription_id; END",
    "CREATE TRIGGER delivery_rollup_insert AFTER INSERT ON delivery WHEN NEW.delivered_at IS NOT NULL BEGIN"
    f" UPDATE prescription_rollup SET first_delivered_at = {_earlier('first_delivered_at', 'NEW.delivered_at')}"
    " WHERE prescription_id = NEW.prescription_id; END",
    "CREATE TRIGGER delivery_rollup_update AFTER UPDATE OF delivered_at, prescription_id ON delivery"
    " WHEN OLD.delivered_at IS NOT NEW.delivered_at OR OLD.prescription_id IS NOT NEW.prescription_id BEGIN"
    " UPDATE prescription_rollup SET first_delivered_at ="
    " (SELECT min(delivered_at) FROM delivery WHERE prescription_id = prescription_rollup.prescription_id)"
    " WHERE prescription_id IN (OLD.prescription_id, NEW.prescription_id); END",
    "CREATE TRIGGER prescription_item_rollup_insert AFTER INSERT ON prescription_item WHEN NEW.line_no = 1 BEGIN"
    " INSERT OR IGNORE INTO treatment_rollup (nhs_index, trust_ods, medicine)"
    " SELECT nhs_index, trust_ods, NEW.dmd_code FROM prescription WHERE id = NEW.prescription_id; END",
    "CREATE TRIGGER supply_change_rollup_insert AFTER INSERT ON supply_change"
    " WHEN NEW.kind = 'delivered' AND NEW.delivered_on IS NOT NULL BEGIN"
    " INSERT INTO treatment_rollup (nhs_index, trust_ods, medicine, supply_ends)"
    " SELECT p.nhs_index, p.trust_ods, i.dmd_code,"
    " date(NEW.delivered_on, '+' || COALESCE(NEW.days_supply, 0) || ' days')"
    " FROM prescription p JOIN prescription_item i ON i.prescription_id = p.id AND i.line_no = 1"
    " WHERE p.id = NEW.prescription_id"
    " ON CONFLICT (nhs_index, trust_ods, medicine) DO UPDATE SET supply_ends ="
    " CASE WHEN supply_ends IS NULL OR excluded.supply_ends > supply_ends THEN excluded.supply_ends"
    " ELSE supply_ends END; END",
    "CREATE TRIGGER supply_change_booked_insert AFTER INSERT ON supply_change WHEN NEW.kind <> 'prescribed' BEGIN "
    + _rebook(_NEW_TREATMENT)
    + "; END",
    f"CREATE TRIGGER lifecycle_event_booked_insert AFTER INSERT ON lifecycle_event WHEN NEW.kind IN {STOPPED} BEGIN "
    + _rebook(_NEW_TREATMENT)
    + "; END",
]
_SQLITE_TRIGGERS = [
    "prescription_rollup_insert",
    "prescription_rollup_update",
    "prescription_rollup_delete",
    "lifecycle_event_rollup_insert",
    "delivery_rollup_insert",
    "delivery_rollup_update",
    "prescription_item_rollup_insert",
    "supply_change_rollup_insert",
    "supply_change_booked_insert",
    "lifecycle_event_booked_insert",
]

_BACKFILL_PRESCRIPTIONS = f"""
INSERT INTO prescription_rollup
    (prescription_id, nhs_index, provider_ods, trust_ods, created_at, acknowledged, ended_at, first_delivered_at)
SELECT p.id, p.nhs_index, p.provider_ods, p.trust_ods, p.created_at,
    COALESCE(e.acknowledged, 0) = 1, e.ended_at, d.first_at
FROM prescription p
LEFT JOIN (
    SELECT prescription_id, max(CASE WHEN kind = 'acknowledged' THEN 1 ELSE 0 END) AS acknowledged,
        min(CASE WHEN kind IN {ENDED} THEN at END) AS ended_at
    FROM lifecycle_event WHERE kind IN {ROLLED_EVENTS} GROUP BY prescription_id
) e ON e.prescription_id = p.id
LEFT JOIN (
    SELECT prescription_id, min(delivered_at) AS first_at FROM delivery
    WHERE delivered_at IS NOT NULL GROUP BY prescription_id
) d ON d.prescription_id = p.id
"""


def _backfill_treatments(postgres: bool) -> str:
    ends = (
        "c.delivered_on + COALESCE(c.days_supply, 0)"
        if postgres
        else "date(c.delivered_on, '+' || COALESCE(c.days_supply, 0) || ' days')"
    )
    return f"""
INSERT INTO treatment_rollup (nhs_index, trust_ods, medicine, supply_ends)
SELECT p.nhs_index, p.trust_ods, i.dmd_code, max({ends})
FROM prescription p
JOIN prescription_item i ON i.prescription_id = p.id AND i.line_no = 1
LEFT JOIN supply_change c ON c.prescription_id = p.id AND c.kind = 'delivered' AND c.delivered_on IS NOT NULL
GROUP BY p.nhs_index, p.trust_ods, i.dmd_code
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "prescription_rollup",
        sa.Column("prescription_id", sa.String(length=36), primary_key=True),
        sa.Column("nhs_index", sa.String(length=64), nullable=False),
        sa.Column("provider_ods", sa.String(length=12), nullable=True),
        sa.Column("trust_ods", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_prescription_rollup_pair", "prescription_rollup", ["nhs_index", "provider_ods", "first_delivered_at"]
    )
    op.create_index("ix_prescription_rollup_first_delivered", "prescription_rollup", ["first_delivered_at"])
    op.create_table(
        "treatment_rollup",
        sa.Column("nhs_index", sa.String(length=64), primary_key=True),
        sa.Column("trust_ods", sa.String(length=12), primary_key=True),
        sa.Column("medicine", sa.String(length=18), primary_key=True),
        sa.Column("supply_ends", sa.Date(), nullable=True),
        sa.Column("in_transit", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("booked_for", sa.Date(), nullable=True),
    )
    op.create_index("ix_treatment_rollup_supply_ends", "treatment_rollup", ["supply_ends"])
    op.create_index("ix_prescription_pair_supply", "prescription", ["nhs_index", "provider_ods", "supply_until"])
    op.create_index("ix_prescription_treatment", "prescription", ["nhs_index", "trust_ods"])
    op.create_index("ix_prescription_supply_until", "prescription", ["supply_until"])
    op.create_index("ix_supply_change_at", "supply_change", ["at"])
    op.create_index(
        "ix_delivery_booked",
        "delivery",
        ["prescription_id", "scheduled_date"],
        postgresql_where=sa.text(BOOKED),
        sqlite_where=sa.text(BOOKED),
    )
    op.execute(_BACKFILL_PRESCRIPTIONS)
    op.execute(_backfill_treatments(postgres))
    op.execute(_rebook("SELECT nhs_index, trust_ods, medicine FROM treatment_rollup WHERE supply_ends IS NOT NULL"))
    if postgres:
        for sql in _PG_FUNCTIONS.values():
            op.execute(sql)
        for trigger in _PG_TRIGGERS:
            op.execute(_pg_trigger(*trigger))
    else:
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for name, table, _event, _function in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        for function in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_index("ix_delivery_booked", table_name="delivery")
    op.drop_index("ix_supply_change_at", table_name="supply_change")
    op.drop_index("ix_prescription_supply_until", table_name="prescription")
    op.drop_index("ix_prescription_treatment", table_name="prescription")
    op.drop_index("ix_prescription_pair_supply", table_name="prescription")
    op.drop_table("treatment_rollup")
    op.drop_table("prescription_rollup")
