"""Persistence: SQLModel tables, the engine factory, Alembic migrations and the repositories."""
