"""Idempotency-Key / X-Request-ID on every inbound POST, over real HTTP on SQLite and PostgreSQL: a retry gets
the first answer with no new effect, another body under the same key is refused, keys are per client, and the
stored answers are sealed and expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from conformance.parties import provider_messages as msg
from gateway.api.routes import exports
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.errors import IdempotencyKeyReusedError, RequestInProgressError
from gateway.intake import idempotency
from gateway.intake.ingest import ingest_export
from gateway.store.tables import (
    IdempotencyRecord,
    InboundPayload,
    OutboxEntry,
    Prescription,
    RoutingRule,
    WebhookSubscription,
)
from tests.integration.helpers import FHIR, error_codes, export, passed_prescriptions

RELEASE = "/FHIR/R4/Task/$release"
MESSAGE = "/FHIR/R4/$process-message"


async def _count(gw: Gateway, table: type[Any], *where: Any) -> int:
    async with gw.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table).where(*where))).one())


async def _post_export(client: httpx.AsyncClient, body: bytes, **headers: str) -> httpx.Response:
    return await client.post("/api/v1/exports", content=body, headers={"Content-Type": "text/csv", **headers})


async def _post_fhir(client: httpx.AsyncClient, path: str, resource: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(path, json=resource, headers={**FHIR, **headers})


async def test_an_export_retried_with_its_key_is_answered_again_and_stored_once(
    gw: Gateway, trust: httpx.AsyncClient
) -> None:
    body = export(2, seed=31)
    first = await _post_export(trust, body, **{"Idempotency-Key": "exp-1"})
    assert first.status_code == 200, first.text
    again = await _post_export(trust, body, **{"Idempotency-Key": "exp-1"})
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await _count(gw, InboundPayload) == 1  # the retry stored nothing, parsed nothing
    # The same key with another body is refused, located on the header, and changes nothing.
    other = await _post_export(trust, export(1, seed=32), **{"Idempotency-Key": "exp-1"})
    assert other.status_code == 422
    assert other.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert other.json()["issues"][0]["expression"] == "Idempotency-Key"
    assert await _count(gw, InboundPayload) == 1


async def test_x_request_id_is_a_key_too_but_idempotency_key_wins(gw: Gateway, trust: httpx.AsyncClient) -> None:
    body = export(1, seed=33)
    first = await _post_export(trust, body, **{"X-Request-ID": "req-7"})
    again = await _post_export(trust, body, **{"X-Request-ID": "req-7"})
    assert again.headers.get("idempotent-replayed") == "true" and again.content == first.content
    reused = await _post_export(trust, export(1, seed=34), **{"X-Request-ID": "req-7"})
    assert reused.status_code == 422 and reused.json()["issues"][0]["expression"] == "X-Request-ID"
    # With both headers the Idempotency-Key is the key: the same X-Request-ID on another request is no reuse.
    both = await _post_export(trust, export(1, seed=34), **{"X-Request-ID": "req-7", "Idempotency-Key": "k-2"})
    assert both.status_code == 200 and "idempotent-replayed" not in both.headers
    assert await _count(gw, InboundPayload) == 2


async def test_keys_are_per_client(gw: Gateway, as_party: Any) -> None:
    trust, other_trust = as_party("trust"), as_party("other_trust")
    mine = await _post_export(trust, export(1, seed=35), **{"Idempotency-Key": "shared"})
    theirs = await _post_export(other_trust, export(1, seed=36, trust_ods="RHM"), **{"Idempotency-Key": "shared"})
    assert mine.status_code == theirs.status_code == 200, theirs.text
    assert "idempotent-replayed" not in theirs.headers  # its own answer, not the other trust's
    assert theirs.json()["prescriptions"][0]["short_form_id"] != mine.json()["prescriptions"][0]["short_form_id"]
    again = await _post_export(trust, export(1, seed=35), **{"Idempotency-Key": "shared"})
    assert again.content == mine.content
    assert await _count(gw, Prescription) == 2


async def test_release_replay_returns_the_same_orders_and_leases_no_more(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    assert (await _post_export(trust, export(2, seed=37))).status_code == 200
    request = msg.release_request("VNFKT", max_count=1)
    first = await _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "poll-1"})
    again = await _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "poll-1"})
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/fhir+json"
    assert len(passed_prescriptions(first)) == 1
    assert await _count(gw, OutboxEntry, OutboxEntry.state == "leased") == 1
    # A request that failed changed nothing and frees its key: the retry runs.
    bad = await provider.post(RELEASE, content=b"{not json", headers={**FHIR, "Idempotency-Key": "poll-2"})
    assert bad.status_code == 400
    fresh = await _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "poll-2"})
    assert "idempotent-replayed" not in fresh.headers
    assert [b["id"] for b in passed_prescriptions(fresh)] != [b["id"] for b in passed_prescriptions(first)]
    assert await _count(gw, OutboxEntry, OutboxEntry.state == "leased") == 2
    # A key that cannot be one is refused, located on its header.
    bad_key = await _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "x" * 300})
    assert bad_key.status_code == 400
    assert error_codes(bad_key.json()) == ["INVALID_VALUE"]
    assert bad_key.json()["issue"][0]["expression"] == ["Idempotency-Key"]


async def test_process_message_key_and_message_id_agree(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    await _post_export(trust, export(1, seed=38))
    order = passed_prescriptions(await _post_fhir(provider, RELEASE, msg.release_request("VNFKT")))[0]
    ack = msg.acknowledgement("VNFKT", order["id"], "x")
    first = await _post_fhir(provider, MESSAGE, ack, **{"Idempotency-Key": "ack-1"})
    assert first.status_code == 200 and "applied" in first.json()["issue"][0]["diagnostics"]
    replay = await _post_fhir(provider, MESSAGE, ack, **{"Idempotency-Key": "ack-1"})
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    # The same message under another key: the message-id layer answers, and nothing is applied twice.
    resend = await _post_fhir(provider, MESSAGE, ack, **{"Idempotency-Key": "ack-2"})
    assert resend.status_code == 200
    # Acknowledged once: one "acknowledged" event.
    view = await trust.get(f"/api/v1/prescriptions/{msg.order_facts(order)['short_form_id']}")
    assert [e["kind"] for e in view.json()["timeline"]].count("acknowledged") == 1
    other = msg.acknowledgement("VNFKT", order["id"], "y", code="transient-error")
    reused = await _post_fhir(provider, MESSAGE, other, **{"Idempotency-Key": "ack-1"})
    assert reused.status_code == 422
    assert error_codes(reused.json()) == ["IDEMPOTENCY_KEY_REUSED"]
    assert reused.json()["issue"][0]["expression"] == ["Idempotency-Key"]
    assert reused.json()["issue"][0]["code"] == "business-rule"


async def test_a_batch_of_acknowledgements_retried_with_its_key_is_answered_again_and_applied_once(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    await _post_export(trust, export(2, seed=39))
    orders = passed_prescriptions(await _post_fhir(provider, RELEASE, msg.release_request("VNFKT")))
    batch = msg.process_message_batch([msg.acknowledgement("VNFKT", o["id"], "x") for o in orders])
    first = await _post_fhir(provider, "/FHIR/R4", batch, **{"Idempotency-Key": "batch-1"})
    assert first.status_code == 200 and [e["response"]["status"] for e in first.json()["entry"]] == ["200 OK"] * 2
    replay = await _post_fhir(provider, "/FHIR/R4", batch, **{"Idempotency-Key": "batch-1"})
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    for order in orders:
        view = await trust.get(f"/api/v1/prescriptions/{msg.order_facts(order)['short_form_id']}")
        assert [e["kind"] for e in view.json()["timeline"]].count("acknowledged") == 1
    other = msg.process_message_batch([msg.acknowledgement("VNFKT", orders[0]["id"], "y")])
    reused = await _post_fhir(provider, "/FHIR/R4", other, **{"Idempotency-Key": "batch-1"})
    assert reused.status_code == 422 and error_codes(reused.json()) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_task_retry_is_replayed(gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    await _post_export(trust, export(1, seed=39))
    order = passed_prescriptions(await _post_fhir(provider, RELEASE, msg.release_request("VNFKT")))[0]
    await _post_fhir(provider, MESSAGE, msg.acknowledgement("VNFKT", order["id"], "x"))
    facts = msg.order_facts(order)
    task = msg.delivery_task("VNFKT", facts, 1, "scheduled")
    first = await _post_fhir(provider, "/FHIR/R4/Task", task, **{"Idempotency-Key": "task-1"})
    assert first.status_code == 201, first.text
    again = await _post_fhir(provider, "/FHIR/R4/Task", task, **{"Idempotency-Key": "task-1"})
    assert (again.status_code, again.content) == (201, first.content)
    view = (await trust.get(f"/api/v1/prescriptions/{facts['short_form_id']}")).json()
    assert [e["kind"] for e in view["timeline"]].count("delivery-scheduled") == 1


async def test_a_delivery_task_sent_again_without_its_first_answer_changes_nothing(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    """The API fault campaign's finding: a server killed after committing a delivery Task and before storing its
    answer lets the retry run again once the key's claim lapses. The same Task (same id, same state) again is
    answered 200 "was already", not refused as a transition, and changes nothing; a new Task still moves on."""
    await _post_export(trust, export(1, seed=41, max_deliveries=1))
    order = passed_prescriptions(await _post_fhir(provider, RELEASE, msg.release_request("VNFKT")))[0]
    await _post_fhir(provider, MESSAGE, msg.acknowledgement("VNFKT", order["id"], "x"))
    facts = msg.order_facts(order)
    dispatched = msg.delivery_task("VNFKT", facts, 1, "dispatched")
    delivered = msg.delivery_task("VNFKT", facts, 1, "delivered")
    for task in (dispatched, delivered):
        first = await _post_fhir(provider, "/FHIR/R4/Task", task)
        assert first.status_code == 201, first.text
        again = await _post_fhir(provider, "/FHIR/R4/Task", task)
        assert again.status_code == 200, again.text
        assert "was already" in again.json()["issue"][0]["diagnostics"]
    # Another Task reporting the state the delivery is already in is still a refused transition.
    other = await _post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, "delivered"))
    assert other.status_code == 409, other.text
    view = (await trust.get(f"/api/v1/prescriptions/{facts['short_form_id']}")).json()
    kinds = [e["kind"] for e in view["timeline"]]
    assert kinds.count("delivery-dispatched") == 1 and kinds.count("delivery-delivered") == 1
    async with gw.sessions() as session:
        made = (await session.exec(select(Prescription.deliveries_made))).one()
    assert made == 1


async def test_a_key_still_in_progress_is_a_conflict(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    request = msg.release_request("VNFKT")
    polling = asyncio.create_task(
        _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "lp-1", "Prefer": "wait=20"})
    )
    async with asyncio.timeout(10):
        while gw.outbox_signal.waiting("VNFKT") == 0:
            await asyncio.sleep(0.02)
    busy = await _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "lp-1"})
    assert busy.status_code == 409
    assert error_codes(busy.json()) == ["IDEMPOTENCY_CONFLICT"] and busy.headers["retry-after"] == "1"
    assert busy.json()["issue"][0]["expression"] == ["Idempotency-Key"]
    await _post_export(trust, export(1, seed=40))
    first = await polling
    assert len(passed_prescriptions(first)) == 1
    replay = await _post_fhir(provider, RELEASE, request, **{"Idempotency-Key": "lp-1"})
    assert replay.content == first.content


def _principal(client_id: str = "c-1") -> Principal:
    return Principal(client_id, Role.PROVIDER, "VNFKT", frozenset(ROLE_SCOPES[Role.PROVIDER]))


async def test_answers_are_sealed_bound_to_their_row_and_expire(gw: Gateway) -> None:
    now = gw.clock()
    gw.clock = lambda: now
    key = idempotency.check_key("Idempotency-Key", '"k-sealed"')  # an RFC 8941 string: quotes dropped
    assert key.value == "k-sealed"
    held = await idempotency.claim(gw, _principal(), key, "POST /x", b"body")
    assert isinstance(held, idempotency.Claim)
    secret = b'{"nhs_number": "9449306613"}'
    await idempotency.complete(gw, held, idempotency.StoredAnswer(200, "application/json", secret))
    async with gw.sessions() as session:
        row = (await session.exec(select(IdempotencyRecord))).one()
    assert row.response_enc is not None and b"9449306613" not in row.response_enc
    assert row.key_sha256 != "k-sealed" and "k-sealed" not in str(row.model_dump(exclude={"response_enc"}))
    with pytest.raises(Exception, match="authentication"):
        gw.cipher.open(row.response_enc, context=idempotency.record_context(row.id, "another-client"))
    assert await idempotency.claim(gw, _principal(), key, "POST /x", b"body") == idempotency.StoredAnswer(
        200, "application/json", secret
    )
    with pytest.raises(IdempotencyKeyReusedError):
        await idempotency.claim(gw, _principal(), key, "POST /y", b"body")  # another endpoint
    # After idempotency_hours the record is gone: purged, and the key is new again.
    gw.clock = lambda: now + timedelta(hours=gw.settings.idempotency_hours, seconds=1)
    assert await idempotency.purge(gw) == 1
    assert await _count(gw, IdempotencyRecord) == 0
    assert isinstance(await idempotency.claim(gw, _principal(), key, "POST /x", b"other"), idempotency.Claim)


async def test_concurrent_first_requests_one_runs_and_a_dead_claim_is_taken_over(gw: Gateway) -> None:
    now = gw.clock()
    gw.clock = lambda: now
    key = idempotency.check_key("X-Request-ID", "race-1")
    results = await asyncio.gather(
        *(idempotency.claim(gw, _principal(), key, "POST /x", b"body") for _ in range(4)), return_exceptions=True
    )
    claims = [r for r in results if isinstance(r, idempotency.Claim)]
    assert len(claims) == 1, results
    assert all(isinstance(r, RequestInProgressError) and r.header == "X-Request-ID" for r in results if r not in claims)
    # Renewed, the claim holds past its first lease (a long request); a claim that is no longer renewed (its
    # request's process died) keeps the key busy until its lease lapses, and is taken over after.
    lease = idempotency.claim_lease(gw)
    gw.clock = lambda: now + lease - timedelta(seconds=1)
    assert await idempotency.renew(gw, claims[0])
    gw.clock = lambda: now + lease + timedelta(seconds=1)
    with pytest.raises(RequestInProgressError):
        await idempotency.claim(gw, _principal(), key, "POST /x", b"body")
    gw.clock = lambda: now + 2 * lease
    taken = await idempotency.claim(gw, _principal(), key, "POST /x", b"body")
    assert isinstance(taken, idempotency.Claim) and taken.record_id != claims[0].record_id
    # The dead request's late answer is not stored over the new claim's.
    await idempotency.complete(gw, claims[0], idempotency.StoredAnswer(200, "text/plain", b"late"))
    await idempotency.complete(gw, taken, idempotency.StoredAnswer(201, "text/plain", b"new"))
    answer = await idempotency.claim(gw, _principal(), key, "POST /x", b"body")
    assert answer == idempotency.StoredAnswer(201, "text/plain", b"new")
    assert not await idempotency.renew(gw, claims[0])  # the dead claim is gone: nothing to renew
    # A stored answer is kept idempotency_hours from its completion, not from the claim.
    gw.clock = lambda: now + 2 * lease + timedelta(hours=gw.settings.idempotency_hours) - timedelta(seconds=1)
    assert await idempotency.claim(gw, _principal(), key, "POST /x", b"body") == answer


async def test_a_long_request_renews_its_claim_while_it_runs(
    gw: Gateway, trust: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that runs longer than the claim lease (an export taking 3 s against a 1 s lease) keeps its key:
    a retry meanwhile is told 409, not run a second time."""
    gw.settings = gw.settings.model_copy(update={"idempotency_claim_seconds": 1})

    async def slow_ingest(*args: Any) -> Any:
        await asyncio.sleep(3)
        return await ingest_export(*args)

    monkeypatch.setattr(exports, "ingest_export", slow_ingest)
    body = export(1, seed=35)
    first = asyncio.create_task(_post_export(trust, body, **{"Idempotency-Key": "slow-1"}))
    await asyncio.sleep(2.0)
    again = await _post_export(trust, body, **{"Idempotency-Key": "slow-1"})
    assert again.status_code == 409, again.text
    done = await first
    assert done.status_code == 200, done.text
    replay = await _post_export(trust, body, **{"Idempotency-Key": "slow-1"})
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == done.content
    assert await _count(gw, InboundPayload) == 1


async def test_subscribing_a_webhook_and_adding_a_route_happen_once_per_key(
    gw: Gateway, trust: httpx.AsyncClient, as_party: Any
) -> None:
    hook = {"url": "http://127.0.0.1:9/hook", "format": "json"}
    first = await trust.post("/api/v1/webhooks", json=hook, headers={"Idempotency-Key": "sub-1"})
    assert first.status_code == 201, first.text
    again = await trust.post("/api/v1/webhooks", json=hook, headers={"Idempotency-Key": "sub-1"})
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, first.json(), "true")
    assert await _count(gw, WebhookSubscription) == 1
    other = await trust.post("/api/v1/webhooks", json={**hook, "format": "fhir"}, headers={"Idempotency-Key": "sub-1"})
    assert (other.status_code, other.json()["error"]) == (422, "IDEMPOTENCY_KEY_REUSED")

    operator = as_party("operator")
    rules = await _count(gw, RoutingRule)
    rule = {"provider_ods": "VNCEL", "trust_ods": "RBA"}
    for _ in range(2):
        r = await operator.post("/api/v1/admin/routes", json=rule, headers={"X-Request-ID": "rule-1"})
        assert r.status_code == 201, r.text
    assert await _count(gw, RoutingRule) == rules + 1
