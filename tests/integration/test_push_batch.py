"""Push in batches: a round's answers finished together in a constant number of statements, each order still getting
its own outcome, over the provider's kept-alive connections; on SQLite and PostgreSQL (`test_push`'s environment)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from gateway.delivery.push import PushConfig, PushRelay
from gateway.store import prescription_rows
from tests.integration import test_push
from tests.integration.test_push import CONFIG, Env

env = test_push.env  # the fixture: a relay driven a round at a time, a fake clock, the scripted provider

SERIAL = PushConfig(
    batch=CONFIG.batch, concurrency=1, timeout=CONFIG.timeout, lease=CONFIG.lease, async_wait=CONFIG.async_wait,
    default_policy=CONFIG.default_policy,
)


@contextmanager
def counted_statements(env: Env) -> Iterator[list[str]]:
    """Every statement this task sends through the gateway's engine while the block runs (an executemany counts
    once); the app's own loops (the audit sequencer, the webhook relay) run in other tasks and are not counted."""
    seen: list[str] = []
    owner = asyncio.current_task()

    def record(*args: Any) -> None:
        if asyncio.current_task() is owner:
            seen.append(args[2])

    engine = env.gw.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _statements_of_a_round(env: Env, orders: int, seed: int) -> int:
    await env.submit(orders, seed=seed)
    with counted_statements(env) as seen:
        assert await env.round() == ["delivered"] * orders
    return len(seen)


async def test_a_round_costs_the_same_statements_whatever_its_size(env: Env) -> None:
    """Claiming, recording and applying twelve answers takes no more statements than two: no ORM object (and no
    query) per order."""
    small = await _statements_of_a_round(env, 2, seed=61)
    large = await _statements_of_a_round(env, 12, seed=62)
    assert large == small, (small, large)
    assert sum(env.provider.received.values()) == 14 and env.provider.duplicates == 0


async def test_each_order_of_a_mixed_round_gets_its_own_outcome(env: Env) -> None:
    """One round, finished in one transaction: ok, fatal-error, transient-error, 500, 400 and 202 each do what they
    do alone (docs/delivery.md, "What an answer means")."""
    env.provider.script = ["ok", "fatal", "transient", "500", "400", "202"]
    ids = await env.submit(6, seed=63)
    async with PushRelay.open(env.gw, config=SERIAL, breakers=env.relay.breakers, rng=random.Random(3)) as serial:
        outcomes = [(r.message_id, r.outcome) for r in await serial.run_once()]
    assert outcomes == list(
        zip(ids, ["delivered", "rejected", "retry", "retry", "dead", "awaiting-response"], strict=True)
    )
    rows = {row.message_id: row for row in await env.rows()}
    assert [rows[i].state for i in ids] == ["acknowledged", "rejected", "queued", "queued", "dead", "leased"]
    assert [rows[i].last_error for i in ids] == [
        None,
        "the provider answered fatal-error",
        "the provider answered transient-error",
        "HTTP 500 from the provider",
        "permanent failure: HTTP 400: the provider refused the message",
        None,
    ]
    assert all(rows[i].last_attempt_at == env.clock() for i in ids)
    assert rows[ids[5]].lease_expires_at == env.clock() + CONFIG.async_wait
    for retried in (rows[ids[2]], rows[ids[3]]):
        assert env.clock() <= retried.available_at <= env.clock() + CONFIG.default_policy.ceiling(1)
    assert [await env.status(i) for i in ids] == ["0002", "0001", "0001", "0001", "0001", "0001"]
    assert [await env.attempts(i) for i in ids] == [
        [("leased", None), ("ok", 200)],
        [("leased", None), ("fatal-error", 200)],
        [("leased", None), ("transient-error", 200)],
        [("leased", None), ("http-500", 500)],
        [("leased", None), ("http-400", 400)],
        [("leased", None), ("accepted", 202)],
    ]
    kinds = []
    async with env.gw.sessions() as session:
        for i in ids:
            events = await prescription_rows.prescription_events(session, rows[i].prescription_id)
            kinds.append([e.kind for e in events if e.message_id == i and e.kind != "queued"])
    assert kinds == [
        ["acknowledged"],
        ["provider-rejected"],
        ["provider-transient-error"],
        [],
        ["push-failed"],
        ["accepted-by-provider"],
    ]
    assert env.provider.effects == Counter({ids[0]: 1, ids[5]: 1})


async def test_a_providers_orders_share_its_kept_alive_connections(env: Env) -> None:
    """Three rounds of twenty orders reach the provider over at most `concurrency` connections, kept between rounds."""
    for n in range(3):
        await env.submit(20, seed=64 + n)
        assert await env.round() == ["delivered"] * 20
    assert sum(env.provider.received.values()) == 60
    assert 1 <= len(env.provider.peers) <= CONFIG.concurrency
