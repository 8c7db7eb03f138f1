"""outbox indexes for claims: ix_outbox_claim ends with id, so a claim walks a provider's due orders in
(available_at, id) order and stops after its limit; ix_outbox_order_key is (order_key, id), so "an earlier
message of the same order key" is one index range

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.create_index("ix_outbox_claim", "outbox", ["provider_ods", "state", "available_at", "id"], unique=False)
    op.drop_index("ix_outbox_order_key", table_name="outbox")
    op.create_index("ix_outbox_order_key", "outbox", ["order_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_order_key", table_name="outbox")
    op.create_index("ix_outbox_order_key", "outbox", ["order_key"], unique=False)
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.create_index("ix_outbox_claim", "outbox", ["provider_ods", "state", "available_at"], unique=False)
