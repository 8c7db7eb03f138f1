"""The engine's pool and PgBouncer mode come from the settings (docs/scale-out.md); nothing connects here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from gateway.bench.pgbouncer import config_text
from gateway.settings import Settings
from gateway.store.db import PREPARE_THRESHOLD, engine_for

URL = "postgresql+psycopg://postgres@127.0.0.1:5432/hgw"


class _Stop(Exception):
    """Raised instead of connecting, once the driver's arguments are seen."""


@pytest.mark.parametrize(("pgbouncer", "threshold"), [(False, PREPARE_THRESHOLD), (True, None)])
async def test_pool_and_prepared_statements_follow_the_settings(
    pgbouncer: bool, threshold: int | None, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=URL, db_pool_size=3, db_max_overflow=2, db_pgbouncer=pgbouncer
    )
    engine = engine_for(settings)
    seen: dict[str, Any] = {}

    @event.listens_for(engine.sync_engine, "do_connect")
    def _capture(_dialect: Any, _record: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        seen.update(kwargs)
        raise _Stop

    try:
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (3, 2)
        with pytest.raises(_Stop):
            await engine.connect()
        assert seen["prepare_threshold"] == threshold
    finally:
        await engine.dispose()


def test_pgbouncer_config_pools_by_transaction_on_loopback() -> None:
    text = config_text(
        "postgresql+psycopg://postgres@db.internal:5433/test", 6432, Path("/x/users.txt"),
        pool_size=7, max_client_conn=300,
    )
    lines = set(text.splitlines())
    assert "* = host=db.internal port=5433 user=postgres" in lines
    assert {"pool_mode = transaction", "listen_addr = 127.0.0.1", "listen_port = 6432"} <= lines
    assert {"default_pool_size = 7", "max_client_conn = 300"} <= lines
