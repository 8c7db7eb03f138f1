"""lifecycle events indexed by kind and time (the KPIs and alerts read them so)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_lifecycle_event_kind_at", "lifecycle_event", ["kind", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_lifecycle_event_kind_at", table_name="lifecycle_event")
