"""`hgw bench --scale-out`: one gateway server and one worker against two of each, on one PostgreSQL, directly and
through PgBouncer in transaction mode (docs/scale-out.md).

For each of the four set-ups, on a scratch database of its own:

- one `$process-message` acknowledgement per order over HTTP (and `$release` of one order by id before it), 16 in
  flight spread over the server processes (`gateway.bench.single_message`), orders queued beforehand;
- push orders/s: `hgw worker` processes deliver orders queued beforehand to a loopback provider answering `ok`,
  timed until none is unfinished (`delivery.push_throughput`'s measurement).

Through PgBouncer, the server and worker processes connect to it with `HGW_DB_PGBOUNCER=true`; the bench itself
(queueing orders, watching the queue) connects directly, outside the measurement. The acknowledgement figures
also give the server connections their database had at the end of the run, while the server processes were still
up: what the connection budget of docs/scale-out.md counts. Figures go in the JSON details only, not in the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import make_url

from gateway.bench.delivery_figures import PULL_ODS, _push_throughput, _queue, _scratch, server_processes
from gateway.bench.pgbouncer import PgBouncer, PgBouncerMissing, pgbouncer
from gateway.bench.single_message import single_message_figures
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.simulate.parties import register_party
from gateway.store import bulk_load
from gateway.store.scratch import accepting

PROCESSES = (1, 2)  # server processes for the acknowledgements, worker processes for push
BOUNCER_POOL = 20  # PgBouncer's server connections per database: every process of a set-up shares them


def scale_out_figures(postgres_url: str, *, orders: int, push_orders: int) -> dict[str, Any]:
    """Every set-up's figures, directly and through PgBouncer one after the other for each number of processes (the
    two to compare run minutes apart, not the whole run apart); PgBouncer's are `{"skipped": reason}` without the
    binary, and everything is skipped when PostgreSQL is unreachable."""
    if not accepting(make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)):
        return {"skipped": "PostgreSQL unreachable"}
    figures: dict[str, Any] = {"orders": orders, "push_orders": push_orders, "direct": {}}
    with contextlib.ExitStack() as stack:
        try:
            bouncer: PgBouncer | None = stack.enter_context(pgbouncer(postgres_url, pool_size=BOUNCER_POOL))
            figures["pgbouncer"] = {"pool_mode": "transaction", "server_connections_per_database": BOUNCER_POOL}
        except PgBouncerMissing as exc:
            bouncer = None
            figures["pgbouncer"] = {"skipped": str(exc)}
        for n in PROCESSES:
            name = f"{n}_server{'s' if n > 1 else ''}_{n}_worker{'s' if n > 1 else ''}"
            figures["direct"][name] = set_up_figures(postgres_url, n, None, orders=orders, push_orders=push_orders)
            if bouncer is not None:
                figures["pgbouncer"][name] = set_up_figures(
                    postgres_url, n, bouncer, orders=orders, push_orders=push_orders
                )
    return figures


def set_up_figures(
    postgres_url: str, processes: int, bouncer: PgBouncer | None, *, orders: int, push_orders: int
) -> dict[str, Any]:
    """One set-up: `processes` server processes acknowledging, then as many workers pushing, each on a scratch
    database next to `postgres_url`'s, reached through `bouncer` when given."""
    return {
        "single_ack": _scratch(postgres_url, _single_ack(processes, bouncer), orders),
        "push": _scratch(postgres_url, _push(processes, bouncer), push_orders),
    }


def _through(settings: Settings, bouncer: PgBouncer | None) -> Settings:
    """The settings the measured processes run with: the database through PgBouncer when there is one."""
    if bouncer is None:
        return settings
    return settings.model_copy(
        update={"database_url": bouncer.url_for(settings.effective_database_url), "db_pgbouncer": True}
    )


def _single_ack(processes: int, bouncer: PgBouncer | None) -> Any:
    async def measure(gw: Gateway, orders: int) -> dict[str, Any]:
        short_form_ids = await _queue(gw, PULL_ODS, "pull", orders)
        key = await register_party(gw, "provider", PULL_ODS)
        with server_processes(_through(gw.settings, bouncer), processes) as urls:
            figures = await single_message_figures(urls, key, PULL_ODS, short_form_ids)
            figures["server_connections"] = await _server_connections(gw)
        return figures

    return measure


def _push(processes: int, bouncer: PgBouncer | None) -> Any:
    async def measure(gw: Gateway, orders: int) -> dict[str, Any]:
        settings = _through(gw.settings, bouncer)
        with _worker_environment(settings):
            figures: dict[str, Any] = await _push_throughput(processes, settings.effective_database_url)(gw, orders)
        return {"worker_processes": processes, **figures}

    return measure


@contextlib.contextmanager
def _worker_environment(settings: Settings) -> Iterator[None]:
    """`HGW_DB_PGBOUNCER` as the settings say, in the environment the worker processes start with: they read it as
    `hgw worker` does."""
    before = os.environ.get("HGW_DB_PGBOUNCER")
    os.environ["HGW_DB_PGBOUNCER"] = "true" if settings.db_pgbouncer else "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HGW_DB_PGBOUNCER", None)
        else:
            os.environ["HGW_DB_PGBOUNCER"] = before


async def _server_connections(gw: Gateway) -> int:
    """Connections PostgreSQL has open to the bench's database now (from every process, and PgBouncer's)."""
    url = make_url(gw.settings.effective_database_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    return await asyncio.to_thread(bulk_load.open_connections, dsn, str(url.database))
