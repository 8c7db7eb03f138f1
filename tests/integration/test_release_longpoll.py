"""`$release` long-poll over a real loopback server, on SQLite and PostgreSQL: a waiting provider gets a new order
as soon as a trust posts it, an order queued by another process is found by the fallback poll, and a wait with
nothing arriving ends with the ordinary empty answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from conformance.parties import provider_messages as msg
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.simulate.parties import register_party
from gateway.wiring import build_gateway
from tests.integration.helpers import FHIR, error_codes, export, passed_prescriptions, post_export

RELEASE = "/FHIR/R4/Task/$release"


def _with_wait(seconds: int) -> dict[str, Any]:
    request = msg.release_request("VNFKT")
    request["parameter"].append({"name": "wait", "valueInteger": seconds})
    return request


async def _until_waiting(gw: Gateway) -> None:
    async with asyncio.timeout(10):
        while gw.outbox_signal.waiting("VNFKT") == 0:
            await asyncio.sleep(0.01)


async def test_a_long_poll_returns_the_order_a_trust_posts_meanwhile(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(provider.post(RELEASE, json=_with_wait(20), headers=FHIR))
    await _until_waiting(gw)
    assert not poll.done()  # nothing to release: it is being held
    r = await post_export(trust, export(1, seed=51))
    sid = r.json()["prescriptions"][0]["short_form_id"]
    orders = passed_prescriptions(await poll)
    assert [msg.order_facts(o)["short_form_id"] for o in orders] == [sid]
    assert time.monotonic() - started < 10  # answered on arrival, not at the end of the wait
    assert gw.outbox_signal.waiting("VNFKT") == 0


async def test_prefer_wait_and_nothing_arriving_gives_the_empty_answer_after_the_wait(
    gw: Gateway, provider: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    r = await provider.post(RELEASE, json=msg.release_request("VNFKT"), headers={**FHIR, "Prefer": "wait=1"})
    elapsed = time.monotonic() - started
    assert passed_prescriptions(r) == [] and 0.9 <= elapsed < 8
    # Without a wait the answer is the empty one at once, as before.
    assert passed_prescriptions(await provider.post(RELEASE, json=msg.release_request("VNFKT"), headers=FHIR)) == []


async def test_an_order_from_another_process_is_found_by_the_fallback_poll(
    gw: Gateway, settings: Any, provider: httpx.AsyncClient
) -> None:
    other = build_gateway(settings)  # another gateway process: its own signal, which this one does not hear
    try:
        trust = await register_party(other, "trust", "RBA")
        poll = asyncio.create_task(provider.post(RELEASE, json=_with_wait(20), headers=FHIR))
        await _until_waiting(gw)
        principal = Principal(trust.client_id, Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
        started = time.monotonic()
        report = await ingest_export(other, principal, export(1, seed=52), "text/csv")
        orders = passed_prescriptions(await poll)
        assert [msg.order_facts(o)["short_form_id"] for o in orders] == [report.prescriptions[0].short_form_id]
        assert time.monotonic() - started < 8
    finally:
        await other.close()


async def test_the_wait_is_capped_and_a_bad_wait_is_refused_located(
    gw: Gateway, provider: httpx.AsyncClient
) -> None:
    gw.settings = gw.settings.model_copy(update={"release_max_wait": 1})
    started = time.monotonic()
    assert passed_prescriptions(await provider.post(RELEASE, json=_with_wait(300), headers=FHIR)) == []
    assert time.monotonic() - started < 8
    bad = await provider.post(RELEASE, json=_with_wait(-1), headers=FHIR)
    assert bad.status_code == 400
    assert error_codes(bad.json()) == ["INVALID_VALUE"]
    index = len(_with_wait(1)["parameter"]) - 1
    assert bad.json()["issue"][0]["expression"] == [f"Parameters.parameter[{index}].valueInteger"]
