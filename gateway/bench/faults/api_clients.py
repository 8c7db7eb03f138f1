"""The API campaign's clients: trusts posting exports and AMENDs, and a provider releasing, acknowledging,
dispensing and delivering, each request retried under its Idempotency-Key on the other server until answered.

Every answer is written in the `Ledger` (api_ledger.py), which the campaign compares with the database at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.bench.faults.api_config import FHIR, PROVIDER_ODS, SOURCE, TRUST_ODS, ApiCampaignConfig
from gateway.bench.faults.api_ledger import Ledger
from gateway.intake.outcomes import ACCEPTED
from gateway.security.client_auth import ClientKey
from gateway.simulate.parties import party_client


class FailoverClient:
    """One party's clients, one per server; `send` retries a request with its key until it gets a final answer."""

    def __init__(self, urls: list[str], key: ClientKey, ledger: Ledger, cfg: ApiCampaignConfig, give_up: float):
        self.clients = [party_client(url, key, timeout=cfg.request_timeout) for url in urls]
        self.ledger = ledger
        self.give_up = give_up
        self.turn = 0
        self.waiting_since: float | None = None
        """When the request now being sent (and retried) was first sent; None between requests."""

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def send(self, kind: str, path: str, *, body: bytes, content_type: str) -> httpx.Response | None:
        """The final answer to a POST (2xx, or 4xx but not a 409 for the key still held), retried under one
        Idempotency-Key; None when the deadline came first."""
        headers = {"Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())}
        self.waiting_since = time.monotonic()
        try:
            return await self._send(kind, path, headers, body)
        finally:
            self.waiting_since = None

    async def _send(self, kind: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response | None:
        pause = 0.05
        while time.monotonic() < self.give_up:
            client = self.clients[self.turn % len(self.clients)]
            self.ledger.requests += 1
            try:
                response = await client.post(path, content=body, headers=headers)
            except httpx.TransportError as error:
                response = None
                self.ledger.retried_after[type(error).__name__] += 1
            busy = response is not None and response.status_code == 409 and "IDEMPOTENCY_CONFLICT" in response.text
            if response is not None and response.status_code < 500 and not busy:
                if response.headers.get("idempotent-replayed") == "true":
                    self.ledger.replayed += 1
                if response.status_code >= 400:
                    self.ledger.refused[f"{kind} {response.status_code}"] += 1
                return response
            self.ledger.retries += 1
            if response is not None:
                self.ledger.retried_after[str(response.status_code)] += 1
            if busy and response is not None:
                self.ledger.conflicts += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")) / 2)
                continue
            self.turn += 1  # that server is down or failing: the other one, after a pause
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
        self.ledger.unanswered[kind] += 1
        return None

    async def send_json(self, kind: str, path: str, resource: dict[str, Any]) -> httpx.Response | None:
        return await self.send(kind, path, body=json.dumps(resource).encode(), content_type=FHIR["Content-Type"])


def _picked(short_form_id: str, every: int) -> bool:
    """The prescriptions the trust amends (and the provider therefore leaves undispensed): a stable share."""
    return int(hashlib.sha256(short_form_id.encode()).hexdigest(), 16) % every == 0


async def trust_loop(
    n: int, client: FailoverClient, cfg: ApiCampaignConfig, ledger: Ledger, numbers: list[int]
) -> None:
    """Post this trust's exports, then AMENDs (version 2) of the picked prescriptions of the export before."""
    pending_amends: list[dict[str, str]] = []
    for number in numbers:
        size = min(cfg.batch, cfg.prescriptions - number * cfg.batch)
        rows = export_rows(size, seed=cfg.seed * 1000 + number, trust_ods=TRUST_ODS, rx_prefix=f"T{n}B{number:03d}")
        picked = await _post_export(client, ledger, rows, cfg)
        if pending_amends:
            await _post_export(client, ledger, pending_amends, cfg)
        pending_amends = [
            row | {"Action": "AMEND", "RxVersion": "2", "Indication": "Psoriatic arthritis"}
            for row in rows
            if row["RxNumber"] in picked
        ]
    if pending_amends:
        await _post_export(client, ledger, pending_amends, cfg)


async def _post_export(
    client: FailoverClient, ledger: Ledger, rows: list[dict[str, str]], cfg: ApiCampaignConfig
) -> set[str]:
    """Post one export; the RxNumbers of its version-1 prescriptions to amend next."""
    response = await client.send("export", "/api/v1/exports", body=render_export(rows), content_type="text/csv")
    if response is None or response.status_code not in (200, 422):
        return set()
    picked = set()
    for outcome in response.json()["prescriptions"]:
        if outcome["outcome"] not in ACCEPTED or not outcome.get("short_form_id"):
            continue
        version = int(outcome["rx_version"])
        if outcome["outcome"] in ("accepted", "duplicate", "held"):
            ledger.exports[(outcome["rx_number"], version)] = outcome["short_form_id"]
        if version == 1 and _picked(outcome["short_form_id"], cfg.amend_every):
            picked.add(outcome["rx_number"])
    return picked


async def provider_loop(client: FailoverClient, cfg: ApiCampaignConfig, ledger: Ledger, stop: asyncio.Event) -> None:
    """Release, acknowledge, and for the orders not picked for amendment dispense and report delivery 1."""
    while not stop.is_set():
        request = msg.release_request(PROVIDER_ODS, max_count=5)
        response = await client.send_json("release", "/FHIR/R4/Task/$release", request)
        if response is None:
            return
        orders = msg.passed_orders(response.json()) if response.status_code == 200 else []
        replayed = response.headers.get("idempotent-replayed") == "true"
        received = [msg.order_facts(order) for order in orders]
        for facts in received:  # judged as the answer arrives, before this loop acknowledges any of them
            _received(ledger, facts["message_id"], replayed=replayed)
        for facts in received:
            await _handle(client, cfg, ledger, facts)
        if not orders:
            await asyncio.sleep(0.2)


def _received(ledger: Ledger, message_id: str, *, replayed: bool) -> None:
    if message_id in ledger.acknowledged:
        # Handed over again after it was acknowledged: by a fresh release, a duplicate; by the replay of a first
        # answer (byte for byte, as the idempotency contract says), an order whose lease ran out meanwhile.
        if replayed:
            ledger.replayed_after_ack += 1
        else:
            ledger.released_after_ack += 1
    ledger.received[message_id] += 1


async def _handle(client: FailoverClient, cfg: ApiCampaignConfig, ledger: Ledger, facts: dict[str, Any]) -> None:
    message_id, short_form_id = facts["message_id"], facts["short_form_id"]
    ack = msg.acknowledgement(PROVIDER_ODS, message_id, SOURCE)
    response = await client.send_json("acknowledgement", "/FHIR/R4/$process-message", ack)
    if response is None or response.status_code != 200:
        return
    ledger.acknowledged.add(message_id)
    if facts["event"] != "prescription-order" or _picked(short_form_id, cfg.amend_every):
        return
    if short_form_id in ledger.claimed:
        return
    ledger.claimed.add(short_form_id)
    now = datetime.now(UTC)
    dispatched = msg.delivery_task(PROVIDER_ODS, facts, 1, "dispatched")
    response = await client.send_json("dispatch", "/FHIR/R4/Task", dispatched)
    if response is None or not response.is_success:
        return
    ledger.dispatched.add(short_form_id)
    dispense = msg.dispense_notification(PROVIDER_ODS, facts, 1, SOURCE, now)
    response = await client.send_json("dispense", "/FHIR/R4/$process-message", dispense)
    if response is None or response.status_code != 200:
        return
    ledger.dispensed.add(short_form_id)
    task = msg.delivery_task(PROVIDER_ODS, facts, 1, "delivered", at=now)
    response = await client.send_json("delivery", "/FHIR/R4/Task", task)
    if response is not None and response.is_success:
        ledger.delivered.add(short_form_id)
