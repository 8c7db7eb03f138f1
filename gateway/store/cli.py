"""`hgw db …`: database administration (the Alembic migrations of gateway/store/migrations). Output is JSON."""

from __future__ import annotations

import click

from gateway.cli_support import PLAIN, settings_of


@click.group()
def db() -> None:
    """Database administration."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from gateway.store.migrate import upgrade

    settings = settings_of(ctx)
    upgrade(settings.effective_database_url, revision)
    PLAIN.emit({"database": settings.effective_database_url.split("@")[-1], "revision": revision})
