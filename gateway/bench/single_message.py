"""The one-message EPS path of `hgw bench --delivery`: what a provider coded against EPS does, one order at a time.

- `$release` of one order by its short-form id (EPS `group-identifier`), then
- one `$process-message` acknowledgement (a response message naming the order) per order,

each over real HTTP with `IN_FLIGHT` requests in flight, spread over the gateway server processes the caller
started. Orders per second of each, measured separately (issue 19's target: 1,000/s each).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from conformance.parties import provider_messages
from gateway.simulate.parties import party_client

FHIR = {"Content-Type": "application/fhir+json"}
IN_FLIGHT = 16
CLIENTS_PER_SERVER = 2


async def single_message_figures(
    urls: list[str], key: Any, provider_ods: str, short_form_ids: list[str]
) -> dict[str, Any]:
    """Release each order of `short_form_ids` by id, then acknowledge each with its own message; both rates."""
    clients = [party_client(url, key, timeout=120) for url in urls for _ in range(CLIENTS_PER_SERVER)]
    async with contextlib.AsyncExitStack() as stack:
        providers = [await stack.enter_async_context(c) for c in clients]
        for provider in providers:
            await provider.get("/FHIR/R4/metadata")  # the token, outside the measurement
        message_ids: list[str] = []

        async def release_one(provider: httpx.AsyncClient, sid: str) -> None:
            request = provider_messages.release_request(provider_ods, short_form_id=sid)
            response = await provider.post("/FHIR/R4/Task/$release", json=request, headers=FHIR)
            response.raise_for_status()
            orders = provider_messages.passed_orders(response.json())
            if len(orders) != 1:
                raise RuntimeError(f"release of {sid} handed over {len(orders)} orders")
            message_ids.append(orders[0]["entry"][0]["resource"]["id"])

        async def ack_one(provider: httpx.AsyncClient, message_id: str) -> None:
            body = provider_messages.acknowledgement(provider_ods, message_id, "https://bench.example/fhir")
            (await provider.post("/FHIR/R4/$process-message", json=body, headers=FHIR)).raise_for_status()

        release_rate = await _rate(providers, short_form_ids, release_one)
        ack_rate = await _rate(providers, list(message_ids), ack_one)
    return {
        "orders": len(short_form_ids),
        "in_flight": IN_FLIGHT,
        "server_processes": len(urls),
        "release_one_by_id_per_second": release_rate,
        "acknowledgements_per_second": ack_rate,
    }


async def _rate(
    providers: list[httpx.AsyncClient],
    items: list[str],
    one: Callable[[httpx.AsyncClient, str], Awaitable[None]],
) -> float:
    """Items per second of `one(provider, item)` over every item, `IN_FLIGHT` at a time round the providers."""
    queue = list(reversed(items))

    async def lane(n: int) -> None:
        provider = providers[n % len(providers)]
        while queue:
            await one(provider, queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(lane(n) for n in range(IN_FLIGHT)))
    return round(len(items) / (time.perf_counter() - start), 1)
