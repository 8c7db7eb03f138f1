"""Alembic environment: runs migrations on a synchronous connection to the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from gateway.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = make_url(config.get_main_option("sqlalchemy.url") or "")
    # No server-side prepared statements: through PgBouncer in transaction mode one would outlive this connection
    # on a server connection that the next client's statement of the same name then collides with.
    connect_args = {"prepare_threshold": None} if url.drivername == "postgresql+psycopg" else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
