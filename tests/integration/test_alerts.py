"""Alert rules over the real store, on SQLite and PostgreSQL, with the gateway's clock under the test's control.

Every scenario evaluates many times and counts transitions and notices: an alert that opens twice, resolves
twice, or notifies on every evaluation fails here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import select

from conformance.parties import provider_messages as msg
from gateway.alerts import admin as alerts_admin
from gateway.alerts.evaluate import EvaluationReport, evaluate
from gateway.alerts.notify import Notice, NotificationError
from gateway.alerts.rules import Kind
from gateway.audit.sequencer import sequence
from gateway.cli import cli
from gateway.context import Gateway
from gateway.delivery.push import PushRelay
from gateway.delivery.release import acknowledge, release_orders
from gateway.delivery.replay import replay_message
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.store import alerts as store
from gateway.store import outbox_queue
from gateway.store.audit_tables import AuditRecord
from gateway.wiring import build_gateway
from tests.integration.helpers import export
from tests.integration.test_push import FakeClock

PULL, PUSH = "VNFKT", "VNPSH"
TRUST = Principal("alerts-trust", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
PROVIDER = Principal("alerts-provider", Role.PROVIDER, PULL, frozenset(ROLE_SCOPES[Role.PROVIDER]))
# Each test switches on only the rules it is about.
QUIET = {
    "alert_queue_age_minutes": 0,
    "alert_dead_letters": 0,
    "alert_silent_minutes": 0,
    "alert_ack_lag_minutes": 0,
    "alert_failure_rate": 0,
    "alert_resolve_after_seconds": 300,
    "audit_max_unsequenced_seconds": 0,
    "push_workers": 0,
}


@dataclass
class Recorder:
    """A notifier that keeps what it is given (the real channels are tested against real servers below)."""

    name: str = "recorder"
    notices: list[tuple[str, str, str]] = field(default_factory=list)
    fail: int = 0

    async def send(self, notice: Notice) -> None:
        if self.fail:
            self.fail -= 1
            raise NotificationError("receiver down")
        self.notices.append((notice.event, notice.rule, notice.subject))


@dataclass
class Env:
    gw: Gateway
    clock: FakeClock
    recorder: Recorder

    async def evaluate(self) -> list[tuple[str, str, str]]:
        report: EvaluationReport = await evaluate(self.gw, [self.recorder])
        return [(t.transition, t.kind, t.subject) for t in report.transitions]

    async def ingest(self, count: int, seed: int, provider: str | None = None) -> None:
        body = export(count, seed=seed, rx_prefix=f"A{seed}", provider_ods=provider)
        report = await ingest_export(self.gw, TRUST, body, "text/csv")
        assert report.outcome == "accepted"

    async def alerts(self) -> list[Any]:
        async with self.gw.sessions() as session:
            return await store.list_alerts(session, states=("open", "resolved"), limit=100)

    def advance(self, minutes: float) -> None:
        self.clock.advance(minutes * 60)


@pytest.fixture
async def env_factory(settings: Settings) -> AsyncIterator[Any]:
    made: list[Gateway] = []

    async def make(transport: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> Env:
        clock = FakeClock()
        gw = build_gateway(settings.model_copy(update={**QUIET, **overrides}), clock=clock, http_transport=transport)
        made.append(gw)
        if not made[1:]:
            await admin.add_provider(gw, ods=PULL, name="Pull Homecare", mode="pull")
            await configure_sample_directory(gw)
            await admin.add_route(gw, provider_ods=PULL)
        return Env(gw, clock, Recorder())

    yield make
    for gw in made:
        await gw.close()


async def test_audit_lag_opens_while_entries_wait_for_the_sequencer_and_resolves_once_chained(
    env_factory: Any,
) -> None:
    env: Env = await env_factory(audit_max_unsequenced_seconds=60, alert_resolve_after_seconds=0)
    await sequence(env.gw, wait=True)  # the fixture's configuration changes
    await env.ingest(1, seed=3)  # prescription.create, appended, not chained
    assert await env.evaluate() == []
    env.advance(2)
    assert await env.evaluate() == [("opened", "audit-lag", "audit")]
    assert env.recorder.notices == [("opened", "audit-lag", "audit")]
    await sequence(env.gw, wait=True)
    assert await env.evaluate() == [("resolved", "audit-lag", "audit")]


async def test_queue_age_opens_once_and_resolves_once(env_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    env: Env = await env_factory(alert_queue_age_minutes=60)
    await env.ingest(1, seed=1)
    assert await env.evaluate() == []
    env.advance(59)
    assert await env.evaluate() == []
    env.advance(2)
    with caplog.at_level(logging.INFO, logger="gateway.alerts"):
        assert await env.evaluate() == [("opened", "queue-age", PULL)]
    for _ in range(5):  # still firing: no second alert, no second notice
        env.advance(1)
        assert await env.evaluate() == []
    (alert,) = await env.alerts()
    assert (alert.state, alert.kind, alert.subject) == ("open", "queue-age", PULL)
    assert alert.value >= 66 and alert.threshold == 60 and alert.open_notified_at is not None

    orders = await release_orders(env.gw, PROVIDER)
    assert await acknowledge(env.gw, PROVIDER, orders.orders[0].message_id, "ok", None)
    assert await env.evaluate() == []  # clear, but not for long enough yet
    env.advance(4.9)
    assert await env.evaluate() == []
    env.advance(0.2)
    assert await env.evaluate() == [("resolved", "queue-age", PULL)]
    for _ in range(3):
        env.advance(10)
        assert await env.evaluate() == []

    assert env.recorder.notices == [("opened", "queue-age", PULL), ("resolved", "queue-age", PULL)]
    (alert,) = await env.alerts()
    assert alert.state == "resolved" and alert.open_key is None and alert.resolve_notified_at is not None
    metrics = env.gw.telemetry.metrics.registry
    assert metrics.get_sample_value("hgw_alert_transitions_total", {"rule": "queue-age", "transition": "opened"}) == 1
    assert metrics.get_sample_value("hgw_alert_transitions_total", {"rule": "queue-age", "transition": "resolved"}) == 1
    opened = [r for r in caplog.records if r.getMessage() == "alert opened"]
    assert len(opened) == 1 and opened[0].fields["rule"] == "queue-age" and opened[0].fields["subject"] == PULL


async def test_a_flapping_condition_keeps_one_episode(env_factory: Any) -> None:
    env: Env = await env_factory(alert_queue_age_minutes=60)
    await env.ingest(1, seed=2)
    env.advance(61)
    assert await env.evaluate() == [("opened", "queue-age", PULL)]
    for _ in range(3):  # over and under the threshold, more often than the resolve period
        await alerts_admin.set_rule(env.gw, Kind.QUEUE_AGE, "*", threshold=500, window_minutes=None)
        assert await env.evaluate() == []
        env.advance(3)
        assert await env.evaluate() == []
        await alerts_admin.set_rule(env.gw, Kind.QUEUE_AGE, "*", threshold=60, window_minutes=None)
        assert await env.evaluate() == []
    await alerts_admin.set_rule(env.gw, Kind.QUEUE_AGE, PULL, threshold=0, window_minutes=None, enabled=False)
    assert await env.evaluate() == []  # the provider's own row switches the rule off there: clearing
    env.advance(5)
    assert await env.evaluate() == [("resolved", "queue-age", PULL)]
    assert len(await env.alerts()) == 1
    assert env.recorder.notices == [("opened", "queue-age", PULL), ("resolved", "queue-age", PULL)]


async def test_concurrent_evaluators_open_and_resolve_each_alert_once(env_factory: Any) -> None:
    first: Env = await env_factory(alert_silent_minutes=30, alert_resolve_after_seconds=0)
    second: Env = await env_factory(alert_silent_minutes=30, alert_resolve_after_seconds=0)
    second.clock.now = first.clock.now
    for e in (first, second):
        e.advance(31)
    results = await asyncio.gather(*(e.evaluate() for e in (first, second, first, second)))
    assert sorted(t for r in results for t in r) == [("opened", "provider-silent", PULL)]
    assert len(first.recorder.notices + second.recorder.notices) == 1

    await release_orders(first.gw, PROVIDER)  # the provider polls: no longer silent
    results = await asyncio.gather(*(e.evaluate() for e in (first, second, second, first)))
    assert sorted(t for r in results for t in r) == [("resolved", "provider-silent", PULL)]
    notices = first.recorder.notices + second.recorder.notices
    assert sorted(notices) == [("opened", "provider-silent", PULL), ("resolved", "provider-silent", PULL)]
    assert [a.state for a in await first.alerts()] == ["resolved"]


async def test_ack_lag_counts_from_the_first_release(env_factory: Any) -> None:
    env: Env = await env_factory(alert_ack_lag_minutes=60)
    await env.ingest(1, seed=3)
    env.advance(120)  # waiting, but never handed out: no acknowledgement is owed yet
    assert await env.evaluate() == []
    orders = await release_orders(env.gw, PROVIDER)
    env.advance(61)
    assert await env.evaluate() == [("opened", "ack-lag", PULL)]
    assert await acknowledge(env.gw, PROVIDER, orders.orders[0].message_id, "ok", None)
    env.advance(5)
    assert await env.evaluate() == []  # the clear period starts at the first clear evaluation
    env.advance(5)
    assert await env.evaluate() == [("resolved", "ack-lag", PULL)]


class PushProvider:
    """The push provider's answers, as an outbound-HTTP unit: `status` 400/500, or 200 with a response message."""

    def __init__(self) -> None:
        self.status = 400

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, json={"issue": "no"})
        message_id = json.loads(request.content)["entry"][0]["resource"]["id"]
        ack = msg.acknowledgement(PUSH, message_id, "https://push.example")
        return httpx.Response(200, json=ack, headers={"Content-Type": "application/fhir+json"})


async def test_dead_letters_and_failure_rate_of_a_push_provider(env_factory: Any) -> None:
    answers = PushProvider()
    env: Env = await env_factory(
        httpx.MockTransport(answers), alert_dead_letters=1, alert_failure_rate=0.5, alert_failure_min_attempts=2
    )
    await admin.add_provider(env.gw, ods=PUSH, name="Push Homecare", mode="push", endpoint="https://push.example/")
    await env.ingest(1, seed=4, provider=PUSH)
    async with PushRelay.open(env.gw) as relay:
        assert [r.outcome for r in await relay.run_once()] == ["dead"]
        opened = await env.evaluate()
        assert opened == [("opened", "dead-letters", PUSH)]  # one attempt: too few for a failure rate verdict
        await env.ingest(1, seed=5, provider=PUSH)
        assert [r.outcome for r in await relay.run_once()] == ["dead"]
        assert sorted(await env.evaluate()) == [("opened", "failure-rate", PUSH)]  # 2 of 2 failed
        (dead,) = [a for a in await env.alerts() if a.kind == "dead-letters"]
        assert dead.value == 2  # the open alert follows the count, without a second notice

        answers.status = 200
        async with env.gw.sessions() as session:

            rows = await outbox_queue.list_outbox(session, states=["dead"], provider_ods=PUSH)
        for row in rows:
            await replay_message(env.gw, row.message_id)
        assert sorted(r.outcome for r in await relay.run_once()) == ["delivered", "delivered"]
    env.advance(5)
    assert await env.evaluate() == []  # 2 of 4 failed is still at the threshold; the dead letters are gone
    env.advance(6)
    assert await env.evaluate() == [("resolved", "dead-letters", PUSH)]
    env.advance(16)  # the failures leave the 15-minute window: only the successes are in it, and they are too few
    assert await env.evaluate() == []
    assert [a.state for a in await env.alerts() if a.kind == "failure-rate"] == ["open"]  # no verdict keeps it open
    kinds = [(e, k) for e, k, _ in env.recorder.notices]
    assert kinds == [("opened", "dead-letters"), ("opened", "failure-rate"), ("resolved", "dead-letters")]


async def test_a_failed_notice_is_retried_by_later_evaluations_and_sent_once(env_factory: Any) -> None:
    env: Env = await env_factory(alert_silent_minutes=30)
    env.recorder.fail = 2
    env.advance(31)
    assert await env.evaluate() == [("opened", "provider-silent", PULL)]
    assert env.recorder.notices == []
    (alert,) = await env.alerts()
    assert alert.notify_error == "receiver down" and alert.notify_attempts == 1
    assert await env.evaluate() == [] and env.recorder.notices == []  # claimed for two minutes: not yet again
    env.advance(2)
    assert await env.evaluate() == [] and env.recorder.notices == []  # the second failure
    env.advance(2)
    assert await env.evaluate() == []
    assert env.recorder.notices == [("opened", "provider-silent", PULL)]
    for _ in range(3):
        env.advance(3)
        assert await env.evaluate() == []
    assert env.recorder.notices == [("opened", "provider-silent", PULL)]


async def _hgw(settings: Settings, *args: str) -> Any:
    env_vars = {
        "HGW_DATA_DIR": str(settings.data_dir),
        "HGW_DATABASE_URL": settings.effective_database_url,
        "HGW_MODE": "test",
        "HGW_ALERT_QUEUE_AGE_MINUTES": "0",
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env={**os.environ, **env_vars})
    return result.exit_code, json.loads(result.output)


async def test_the_alerts_cli(env_factory: Any) -> None:
    env: Env = await env_factory()
    settings = env.gw.settings
    code, rule = await _hgw(settings, "alerts", "rules", "set", "--kind", "provider-silent", "--threshold", "45")
    assert code == 0 and (rule["kind"], rule["provider_ods"], rule["threshold"]) == ("provider-silent", "*", 45)
    code, listed = await _hgw(settings, "alerts", "rules", "list")
    assert listed["defaults"]["queue-age"]["on"] is False and listed["overrides"][0]["threshold"] == 45
    code, bad = await _hgw(settings, "alerts", "rules", "set", "--kind", "failure-rate", "--threshold", "2")
    assert code == 1 and bad["error"] == "INVALID_INPUT"
    args = ("--kind", "ack-lag", "--provider", "NOPE", "--threshold", "5")
    code, missing = await _hgw(settings, "alerts", "rules", "set", *args)
    assert code == 1 and missing["error"] == "RESOURCE_NOT_FOUND"
    # The CLI evaluates on the real clock: the provider was registered moments ago, 45 minutes is far off.
    code, report = await _hgw(settings, "alerts", "evaluate")
    assert code == 0 and report["opened"] == [] and report["observations"] >= 1
    code, rows = await _hgw(settings, "alerts", "list", "--all")
    assert code == 0 and rows == []
    code, removed = await _hgw(settings, "alerts", "rules", "remove", "--kind", "provider-silent")
    assert code == 0 and removed == {"removed": {"kind": "provider-silent", "provider_ods": "*"}}
    await sequence(env.gw, wait=True)
    async with env.gw.sessions() as session:
        stmt = select(AuditRecord).where(AuditRecord.entity_type == "alert-rule").order_by(AuditRecord.seq)
        records = (await session.exec(stmt)).all()
    assert [(r.action, r.entity_id) for r in records] == [("configuration.change", "provider-silent:all")] * 2
    assert "alert-rule-set" in records[0].event_json and "alert-rule-removed" in records[1].event_json

    # An alert opened by an evaluation (on the test's clock) is what `hgw alerts list` shows.
    await alerts_admin.set_rule(env.gw, Kind.PROVIDER_SILENT, PULL, threshold=10, window_minutes=None)
    env.advance(11)
    assert await env.evaluate() == [("opened", "provider-silent", PULL)]
    code, rows = await _hgw(settings, "alerts", "list")
    assert code == 0 and [(r["kind"], r["subject"], r["state"], r["threshold"]) for r in rows] == [
        ("provider-silent", PULL, "open", 10.0)
    ]
    assert rows[0]["summary"] == f"{PULL}: no Task/$release poll for 11 min (threshold 10 min)"
