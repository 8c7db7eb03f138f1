"""Push delivery against a real provider server on loopback, on SQLite and PostgreSQL.

The provider answers from a script (ok, 500, 400, timeout, 202 …), deduplicates on MessageHeader.id and counts
effects, so "exactly once in effect" is something a test can see fail. Time is a fake clock the tests move; the
relay is driven one round at a time, except in the first test where the app's own worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.cli import cli
from gateway.context import Gateway, utc_now
from gateway.delivery import queue as queue_service
from gateway.delivery.breaker import BreakerBoard, BreakerState
from gateway.delivery.policy import RetryPolicy
from gateway.delivery.push import PushConfig, PushRelay
from gateway.delivery.replay import replay_matching, replay_message
from gateway.fhir.eps_acceptance import eps_acceptance
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.store import outbox_queue, prescription_rows, repository
from gateway.store.tables import DeliveryAttempt, OutboxEntry, Prescription
from gateway.wiring import build_gateway
from tests import conftest
from tests.conftest import serve
from tests.integration.helpers import export, post_export, post_fhir

PUSH_ODS = "VNPSH"
CONFIG = PushConfig(
    batch=20,
    timeout=1.5,  # a 400 or 500 answered on a loaded machine must not read as a timeout; "timeout" waits 10 s
    lease=timedelta(seconds=60),
    async_wait=timedelta(minutes=10),
    default_policy=RetryPolicy(max_attempts=5, max_age=timedelta(hours=1), base=timedelta(seconds=2)),
)
THRESHOLD = 3
RESET = timedelta(seconds=30)


class FakeClock:
    """Frozen at the real time it was made (tokens and assertions stay valid); tests move it."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def move_to(self, when: datetime) -> None:
        self.now = max(self.now, when)


class ProviderServer:
    """A homecare provider's `$process-message` answering from `script` (then `default`), one action a request."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.default = "ok"
        self.received: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.duplicates = 0
        self.bundles: dict[str, dict[str, Any]] = {}
        self.headers: list[dict[str, str]] = []
        self.peers: set[tuple[str, int]] = set()  # the gateway's connections, by their address and port
        self.awaiting: list[str] = []
        self.unblock = asyncio.Event()
        self.url = ""
        self.gateway: httpx.AsyncClient | None = None
        self.app = FastAPI()
        self.app.add_api_route("/FHIR/R4/$process-message", self._handle, methods=["POST"])

    def _effect(self, message_id: str) -> None:
        if self.effects[message_id]:
            self.duplicates += 1  # already applied: a resend changes nothing
        else:
            self.effects[message_id] = 1

    def _ack(self, message_id: str, code: str) -> Response:
        body = msg.acknowledgement(PUSH_ODS, message_id, self.url, code)
        return JSONResponse(body, media_type="application/fhir+json")

    async def _handle(self, request: Request) -> Response:
        bundle = json.loads(await request.body())
        message_id = bundle["entry"][0]["resource"]["id"]
        self.received[message_id] += 1
        self.bundles[message_id] = bundle
        self.headers.append(dict(request.headers))
        if request.client is not None:
            self.peers.add((request.client.host, request.client.port))
        action = self.script.pop(0) if self.script else self.default
        if action == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.unblock.wait(), 10)
            return Response(status_code=503)
        if action in ("500", "400"):
            return Response(content=b'{"issue":"nope"}', status_code=int(action))
        if action == "effect-then-500":  # applied, then the answer is lost
            self._effect(message_id)
            return Response(status_code=500)
        if action in ("transient", "fatal"):
            return self._ack(message_id, f"{action}-error")
        self._effect(message_id)
        if action == "202":
            self.awaiting.append(message_id)
            return Response(status_code=202)
        return self._ack(message_id, "ok")

    async def send_async_responses(self) -> None:
        """The response messages for everything accepted with 202, to the gateway's own `$process-message`."""
        assert self.gateway is not None
        while self.awaiting:
            message_id = self.awaiting.pop(0)
            ack = msg.acknowledgement(PUSH_ODS, message_id, "x")
            r = await post_fhir(self.gateway, "/FHIR/R4/$process-message", ack)
            assert r.status_code == 200, r.text

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        async with conftest.running(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning")) as port:
            self.url = f"http://127.0.0.1:{port}"
            try:
                yield self.url
            finally:
                self.unblock.set()  # a request held in the endpoint must not keep the server from stopping


@dataclass
class Env:
    gw: Gateway
    clock: FakeClock
    trust: httpx.AsyncClient
    provider: ProviderServer
    relay: PushRelay
    settings: Settings

    async def submit(self, count: int, seed: int) -> list[str]:
        """Post an export of `count` prescriptions; their order message ids, in outbox order."""
        r = await post_export(self.trust, export(count, seed=seed, rx_prefix=f"P{seed}"))
        assert r.status_code == 200, r.text
        rows = await self.rows()
        return [row.message_id for row in rows][-count:]

    async def rows(self) -> list[OutboxEntry]:
        async with self.gw.sessions() as session:
            return await outbox_queue.list_outbox(session, provider_ods=PUSH_ODS)

    async def row(self, message_id: str) -> OutboxEntry:
        async with self.gw.sessions() as session:
            row = await outbox_queue.outbox_by_message(session, message_id)
        assert row is not None
        return row

    async def attempts(self, message_id: str) -> list[tuple[str, int | None]]:
        row = await self.row(message_id)
        async with self.gw.sessions() as session:
            rows = await outbox_queue.delivery_attempts(session, row.id or 0)
        return [(a.outcome, a.status_code) for a in rows]

    async def status(self, message_id: str) -> str:
        row = await self.row(message_id)
        async with self.gw.sessions() as session:
            p: Prescription = await repository.get_by_id(session, Prescription, row.prescription_id)
        return p.status

    async def round(self) -> list[str]:
        return [r.outcome for r in await self.relay.run_once()]


@contextlib.asynccontextmanager
async def environment(settings: Settings, *, workers: int, fake_time: bool) -> AsyncIterator[Env]:
    settings = settings.model_copy(update={"push_workers": workers})
    clock = FakeClock()
    gw = build_gateway(settings, clock=clock if fake_time else utc_now)
    provider = ProviderServer()
    try:
        async with provider.running() as provider_url:
            endpoint = f"{provider_url}/FHIR/R4/$process-message"
            await admin.add_provider(gw, ods=PUSH_ODS, name="Push Homecare", mode="push", endpoint=endpoint)
            await configure_sample_directory(gw)
            await admin.add_route(gw, provider_ods=PUSH_ODS)
            trust_key = await register_party(gw, "trust", "RBA")
            provider_key = await register_party(gw, "provider", PUSH_ODS)
            async with (
                serve(gw) as base_url,
                party_client(base_url, trust_key) as trust,
                party_client(base_url, provider_key) as provider_client,
            ):
                # Tokens now, while the fake clock is still the real time.
                assert (await provider_client.get("/FHIR/R4/metadata")).status_code == 200
                assert (await trust.get("/FHIR/R4/metadata")).status_code == 200
                provider.gateway = provider_client
                breakers = BreakerBoard(clock, failure_threshold=THRESHOLD, reset_after=RESET)
                async with PushRelay.open(gw, config=CONFIG, breakers=breakers, rng=random.Random(42)) as relay:
                    yield Env(gw, clock, trust, provider, relay, settings)
    finally:
        await gw.close()


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with environment(settings, workers=0, fake_time=True) as e:
        yield e


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until `check()` holds, or fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def test_the_apps_worker_pushes_each_order_once_in_effect(settings: Settings) -> None:
    async with environment(settings, workers=1, fake_time=False) as env:
        ids = await env.submit(3, seed=1)

        async def all_acknowledged() -> bool:
            return {r.state for r in await env.rows()} == {"acknowledged"}

        await eventually(all_acknowledged)
        assert env.provider.effects == Counter({i: 1 for i in ids})
        assert [await env.status(i) for i in ids] == ["0002"] * 3
        for i in ids:
            assert await env.attempts(i) == [("leased", None), ("ok", 200)]
        # The message id is the receiver's idempotency key; the bundle went signed.
        assert {h["idempotency-key"] for h in env.provider.headers} == set(ids)
        bundle = env.provider.bundles[ids[0]]
        assert bundle["entry"][-1]["resource"]["resourceType"] == "Provenance"
        # Attempts never hold the request body: no NHS number anywhere in them.
        stored = []
        async with env.gw.sessions() as session:
            for r in await env.rows():
                stored += [a.model_dump_json() for a in await outbox_queue.delivery_attempts(session, r.id or 0)]
        for i in ids:
            nhs = msg.order_facts(env.provider.bundles[i])["nhs_number"]
            assert not any(nhs in a for a in stored)


async def test_500_twice_then_ok_retries_with_backoff_and_takes_effect_once(env: Env) -> None:
    env.provider.script = ["500", "effect-then-500"]  # the second one is applied, but its answer is lost
    (mid,) = await env.submit(1, seed=2)
    for attempt in (1, 2):
        before = env.clock()
        assert await env.round() == ["retry"]
        row = await env.row(mid)
        assert row.state == "queued" and row.attempts == attempt
        ceiling = CONFIG.default_policy.ceiling(attempt)
        assert before <= row.available_at <= before + ceiling
        assert row.last_error == "HTTP 500 from the provider"
        assert await env.round() == []  # not due yet: nothing sent
        assert sum(env.provider.received.values()) == attempt
        env.clock.move_to(row.available_at)
    assert await env.round() == ["delivered"]
    assert env.provider.received[mid] == 3
    assert env.provider.effects == Counter({mid: 1}) and env.provider.duplicates == 1
    assert await env.attempts(mid) == [("leased", None), ("http-500", 500)] * 2 + [("leased", None), ("ok", 200)]
    assert (await env.row(mid)).state == "acknowledged"
    assert await env.status(mid) == "0002"


async def test_400_is_dead_at_once_then_replayed_after_a_dry_run(env: Env, tmp_path: Any) -> None:
    env.provider.script = ["400"]
    (mid,) = await env.submit(1, seed=3)
    assert await env.round() == ["dead"]
    row = await env.row(mid)
    assert (row.state, row.attempts) == ("dead", 1)
    assert row.last_error == "permanent failure: HTTP 400: the provider refused the message"
    env.clock.advance(3600)
    assert await env.round() == []  # never retried
    assert await env.attempts(mid) == [("leased", None), ("http-400", 400)]
    async with env.gw.sessions() as session:
        events = await prescription_rows.prescription_events(session, row.prescription_id)
    assert [e.kind for e in events if e.kind == "push-failed"] == ["push-failed"]

    preview = await replay_matching(env.gw, provider_ods=PUSH_ODS, state="dead", dry_run=True)
    assert [c.message_id for c in preview.replayed] == [mid]
    assert (await env.row(mid)).state == "dead"  # a dry run changes nothing
    cli_preview = await _hgw(env, "replay", "--provider", PUSH_ODS, "--state", "dead", "--dry-run")
    assert [m["message_id"] for m in cli_preview["would_replay"]] == [mid]
    assert (await _hgw(env, "queue", "stats"))[PUSH_ODS]["states"] == {"dead": 1}

    report = await replay_message(env.gw, mid)
    assert [c.message_id for c in report.replayed] == [mid]
    row = await env.row(mid)
    assert (row.state, row.attempts, row.last_error) == ("queued", 0, None)
    assert await env.round() == ["delivered"]
    assert env.provider.effects == Counter({mid: 1})
    assert await env.status(mid) == "0002"
    assert (await _hgw(env, "queue", "list", "--state", "acknowledged"))[0]["message_id"] == mid


async def test_timeouts_until_max_attempts_end_dead_with_the_reason(env: Env) -> None:
    await queue_service.set_retry_policy(env.gw, PUSH_ODS, max_attempts=3)
    env.provider.default = "timeout"
    (mid,) = await env.submit(1, seed=4)
    outcomes = []
    for _ in range(3):
        outcomes += await env.round()
        env.clock.move_to((await env.row(mid)).available_at)
    assert outcomes == ["retry", "retry", "dead"]
    row = await env.row(mid)
    assert row.state == "dead"
    assert row.last_error == f"gave up after 3 attempts; last: no answer within {CONFIG.timeout} s"
    assert [o for o, _ in await env.attempts(mid) if o != "leased"] == ["timeout"] * 3
    assert env.provider.effects == Counter()


async def test_202_waits_for_the_asynchronous_response_message_or_sends_again(env: Env) -> None:
    env.provider.script = ["202"]
    (mid,) = await env.submit(1, seed=5)
    assert await env.round() == ["awaiting-response"]
    row = await env.row(mid)
    assert row.state == "leased" and row.lease_expires_at == env.clock() + CONFIG.async_wait
    env.clock.advance(CONFIG.lease.total_seconds() + 1)
    assert await env.round() == []  # the longer lease holds
    await env.provider.send_async_responses()
    assert (await env.row(mid)).state == "acknowledged"
    assert await env.status(mid) == "0002"
    assert env.provider.effects == Counter({mid: 1}) and env.provider.received[mid] == 1

    # Accepted, but the response message never comes: sent again once the wait is over, deduplicated there.
    env.provider.script = ["202"]
    (silent,) = await env.submit(1, seed=6)
    assert await env.round() == ["awaiting-response"]
    env.provider.awaiting.clear()
    env.clock.advance(CONFIG.async_wait.total_seconds() + 1)
    assert await env.round() == ["delivered"]
    assert env.provider.received[silent] == 2
    assert env.provider.effects == Counter({mid: 1, silent: 1}) and env.provider.duplicates == 1


async def test_pause_then_transient_and_fatal_response_messages_and_a_rejected_replay(env: Env) -> None:
    env.provider.script = ["transient", "fatal"]
    await queue_service.set_paused(env.gw, PUSH_ODS, True)
    (mid,) = await env.submit(1, seed=7)
    assert await env.round() == []  # paused: nothing goes out
    await queue_service.set_paused(env.gw, PUSH_ODS, False)
    assert await env.round() == ["retry"]
    row = await env.row(mid)
    assert (row.state, row.last_error) == ("queued", "the provider answered transient-error")
    env.clock.move_to(row.available_at)
    assert await env.round() == ["rejected"]
    assert (await env.row(mid)).state == "rejected"
    assert await env.status(mid) == "0001"
    assert (await replay_matching(env.gw, state="dead")).candidates == []
    report = await replay_matching(env.gw, state="rejected", since=env.clock() - timedelta(seconds=1))
    assert [c.message_id for c in report.replayed] == [mid]
    assert await env.round() == ["delivered"]
    assert env.provider.effects == Counter({mid: 1})


async def test_circuit_opens_after_failures_and_half_opens(env: Env) -> None:
    env.provider.default = "500"
    ids = await env.submit(4, seed=8)
    assert sorted(await env.round()) == ["retry"] * 4
    breaker = env.relay.breakers(env.provider.url + "/FHIR/R4/$process-message")
    assert breaker.state is BreakerState.OPEN
    env.clock.advance(10)  # every retry is due (base 2 s), but the circuit is open
    assert await env.round() == []
    assert sum(env.provider.received.values()) == 4
    env.clock.advance(RESET.total_seconds() - 10)
    assert breaker.state is BreakerState.HALF_OPEN
    assert await env.round() == ["retry"]  # one trial only, and it failed
    assert breaker.state is BreakerState.OPEN
    assert sum(env.provider.received.values()) == 5
    env.clock.advance(RESET.total_seconds())
    env.provider.default = "ok"
    assert await env.round() == ["delivered"]  # the trial succeeded
    assert breaker.state is BreakerState.CLOSED
    assert await env.round() == ["delivered"] * 3
    assert env.provider.effects == Counter({i: 1 for i in ids})


async def test_a_stale_worker_cannot_complete_an_order_it_lost(env: Env) -> None:
    (mid,) = await env.submit(1, seed=9)
    (stalled,) = await env.relay.claim()  # worker A claims, then stalls past its lease
    env.clock.advance(CONFIG.lease.total_seconds() + 1)
    async with PushRelay.open(env.gw, config=CONFIG, rng=random.Random(1)) as other:
        assert [r.outcome for r in await other.run_once()] == ["delivered"]
    row = await env.row(mid)
    assert row.state == "acknowledged" and row.lease_token == stalled.lease_token + 1
    env.provider.default = "400"  # whatever A now hears changes nothing
    result = await env.relay.deliver(stalled)
    assert result.outcome == "stale"
    assert (await env.row(mid)).state == "acknowledged"
    async with env.gw.sessions() as session:
        attempts: list[DeliveryAttempt] = await outbox_queue.delivery_attempts(session, row.id or 0)
    assert (attempts[-1].outcome, attempts[-1].lease_token) == ("http-400", stalled.lease_token)
    assert attempts[-1].detail is not None and attempts[-1].detail.endswith("lease lost: not applied")
    assert env.provider.effects == Counter({mid: 1})


async def test_an_ok_that_no_longer_fits_the_prescription_goes_dead(env: Env) -> None:
    (mid,) = await env.submit(1, seed=11)
    row = await env.row(mid)
    async with env.gw.sessions() as session, session.begin():
        p: Prescription = await repository.get_by_id(session, Prescription, row.prescription_id)
        p.status = "0006"  # dispensed meanwhile (say, on paper)
        session.add(p)
    assert await env.round() == ["dead"]
    row = await env.row(mid)
    assert row.state == "dead" and row.last_error is not None and "could not be applied" in row.last_error
    assert await env.status(mid) == "0006"  # the refused transition left nothing behind
    async with env.gw.sessions() as session:
        kinds = [e.kind for e in await prescription_rows.prescription_events(session, row.prescription_id)]
    assert "acknowledged" not in kinds and "push-failed" in kinds
    preview = await replay_message(env.gw, mid, dry_run=True)
    assert preview.replayed == [] and preview.candidates[0].skipped == "the prescription is Dispensed (0006)"


async def _hgw(env: Env, *args: str) -> Any:
    """Run `hgw …` in a thread (it has its own event loop) against the test's store; its JSON output."""
    env_vars = {
        "HGW_DATA_DIR": str(env.settings.data_dir),
        "HGW_DATABASE_URL": env.settings.effective_database_url,
        "HGW_MODE": "test",
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env={**os.environ, **env_vars})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


async def test_a_cancellation_is_pushed_a_line_at_a_time_and_completes_on_the_last_answer(env: Env) -> None:
    """EPS cancels one line per message: a two-line prescription's cancellation is two pushes, the second once the
    first is answered; each `ok` cancels its line, the last the prescription (push answers: release.apply_response).
    """
    rows = export_rows(1, seed=12, rx_prefix="P12X")
    assert len(rows) == 2  # the first sample prescription has an ancillary line
    assert (await post_export(env.trust, render_export(rows))).status_code == 200
    order = (await env.rows())[-1].message_id
    assert await env.round() == ["delivered"]
    cancel = [row | {"Action": "CANCEL", "CancelReason": "At the Patient's request"} for row in rows]
    r = await post_export(env.trust, render_export(cancel))
    assert r.json()["prescriptions"][0]["outcome"] == "cancellation-requested", r.text
    lines = [m["id"] for m in msg.resources(env.provider.bundles[order], "MedicationRequest")]
    for n, line in enumerate(lines, start=1):
        assert await env.round() == ["delivered"]  # one message a round: the next waits for this one's answer
        sent = env.provider.bundles[(await env.rows())[-len(lines) + n - 1].message_id]
        requests = msg.resources(sent, "MedicationRequest")
        assert [(m["id"], m["status"]) for m in requests] == [(line, "cancelled")]
        assert eps_acceptance(sent) == []
        assert await env.status(order) == ("0005" if n == len(lines) else "0002")
    assert await env.round() == []
    async with env.gw.sessions() as session:
        row = await env.row(order)
        kinds = [e.kind for e in await prescription_rows.prescription_events(session, row.prescription_id)]
    assert kinds.count("item-cancelled") == 1 and kinds.count("cancelled") == 1
