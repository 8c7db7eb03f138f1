"""The API campaign's trust webhook: a receiver that records what the trust got, and the check of it.

The webhook relay and the alert loop run in every `hgw serve` (`HGW_WEBHOOK_WORKERS` 1, the alert evaluator), so
each API kill kills one of each, mid-delivery or not. The receiver listens on loopback in the driver, which is never
killed. It records every request in arrival order and refuses a seeded share with 503, so that the relay's retries
are exercised too; alerts are POSTed to it as well (`HGW_ALERT_WEBHOOK_URL`) and counted.

The check (`check_webhooks`), against the trust's lifecycle events in the database (what the status feed lists):
- lost: an event after the subscription was made that never reached the receiver;
- stuck: an event still owed (queued, leased) or given up (dead) at the end;
- out of order: a prescription whose events first arrived in another order than they happened (the relay holds a
  prescription's later event until its earlier one is delivered);
- redelivered (allowed: webhooks are at least once, and the event id says it is the same event) and unowed (an
  event the receiver got that the trust does not have) are counted for the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from gateway import audit
from gateway.context import Gateway
from gateway.store import lifecycle_events
from gateway.store import webhooks as webhook_rows
from gateway.webhooks import subscriptions
from gateway.webhooks.subscription_rules import SubscriptionChange

TRUST_PATH, ALERT_PATH = "/trust", "/alerts"
ALL_EVENTS = 10**9  # read every event up to this id (the campaign makes a few hundred)


@dataclass
class WebhookSink:
    """An ASGI app recording each trust event it accepts (event id, short-form id) in arrival order."""

    rng: random.Random
    refuse_share: float = 0.15
    received: list[tuple[int, str]] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=dict)
    refused: int = 0
    alerts: int = 0
    out_of_order_examples: list[str] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the relay's server was killed half-way through sending: nobody waits for an answer
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        if scope["path"] == ALERT_PATH:
            self.alerts += 1
        elif scope["path"] == TRUST_PATH and self.rng.random() < self.refuse_share:
            self.refused += 1
            status = 503
        elif scope["path"] == TRUST_PATH:
            event = json.loads(body)
            self.received.append((int(event["event_id"]), str(event["short_form_id"])))
            self.kinds[int(event["event_id"])] = str(event["kind"])
        else:
            status = 404
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Listen on a loopback port until the block ends; yields the base URL."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(self, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            async with asyncio.timeout(30):
                while not server.started:
                    await asyncio.sleep(0.01)
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task
            listener.close()


@dataclass(frozen=True)
class Subscription:
    id: str
    cursor: int
    """The last event before the subscription: the trust is owed every event after it."""


async def subscribe(gw: Gateway, trust_ods: str, url: str) -> Subscription:
    """The trust's JSON webhook to `url`, with short backoffs so that refused events come back within the run."""
    change = SubscriptionChange(url=url, format="json", trust_ods=trust_ods)
    sub = await subscriptions.add_subscription(
        gw, audit.SYSTEM, change, backoff_base_seconds=0.2, backoff_cap_seconds=1.0
    )
    return Subscription(sub.id, sub.cursor or 0)


async def caught_up(gw: Gateway, sink: WebhookSink, trust_ods: str, sub: Subscription) -> int | None:
    """The last event of the trust when every one has reached the receiver and nothing is still owed to it; None
    while not. The servers' background loops go on making events (`patient-at-risk`), so the check stops there."""
    owed, rows = await _owed(gw, trust_ods, sub)
    got = {event_id for event_id, _ in sink.received}
    if all(event_id in got for event_id, _ in owed) and all(row.state == "delivered" for row in rows):
        return max((event_id for event_id, _ in owed), default=sub.cursor)
    return None


async def check_webhooks(
    gw: Gateway, sink: WebhookSink, trust_ods: str, sub: Subscription, *, upto: int | None
) -> dict[str, int]:
    """The webhook effect for the trust's events up to `upto` (every event when None: the drain never caught up)."""
    owed, rows = await _owed(gw, trust_ods, sub)
    if upto is not None:
        owed = [(event_id, sfid) for event_id, sfid in owed if event_id <= upto]
        rows = [row for row in rows if (row.event_id or 0) <= upto]
    first: dict[int, int] = {}
    for position, (event_id, _) in enumerate(sink.received):
        if upto is None or event_id <= upto:
            first.setdefault(event_id, position)
    by_prescription: dict[str, list[int]] = defaultdict(list)
    for event_id, short_form_id in owed:
        by_prescription[short_form_id].append(event_id)
    out_of_order = 0
    for short_form_id, event_ids in by_prescription.items():
        arrivals = [first[e] for e in sorted(event_ids) if e in first]
        if arrivals != sorted(arrivals):
            out_of_order += 1
            received = sorted((e for e in event_ids if e in first), key=first.__getitem__)
            arrived = [f"{e} {sink.kinds[e]}" for e in received]
            sink.out_of_order_examples.append(f"{short_form_id}: events {sorted(event_ids)} arrived as {arrived}")
    owed_ids = {event_id for event_id, _ in owed}
    left = Counter(row.state for row in rows if row.state != "delivered")
    return {
        "confirmed": len(owed_ids),
        "lost": sum(event_id not in first for event_id in owed_ids),
        "duplicate_effects": 0,  # at least once by contract: a resent event carries its event id (redelivered)
        "stuck": sum(left.values()),
        "stuck_queued": left["queued"],
        "stuck_leased": left["leased"],
        "dead": left["dead"],
        "never_owed": len(owed_ids) - len({row.event_id for row in rows}),
        "out_of_order": out_of_order,
        "redelivered": sum(upto is None or event_id <= upto for event_id, _ in sink.received) - len(first),
        "unowed": sum(event_id not in owed_ids for event_id in first),
        "refused_by_receiver": sink.refused,
        "alerts_received": sink.alerts,
    }


async def _owed(gw: Gateway, trust_ods: str, sub: Subscription) -> tuple[list[tuple[int, str]], list[Any]]:
    async with gw.sessions() as session:
        events = await lifecycle_events.trust_events(
            session, trust_ods=trust_ods, after=sub.cursor, upto=ALL_EVENTS, limit=ALL_EVENTS
        )
        rows = await webhook_rows.deliveries(session, sub.id, limit=ALL_EVENTS)
    owed = [(int(event.id or 0), prescription.short_form_id) for event, prescription, _ in events]
    return owed, rows
