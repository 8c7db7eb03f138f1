"""A simulated pull provider: polls `$release`, acknowledges, then schedules, dispenses and delivers every delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conformance.parties import provider_messages as msg
from gateway.simulate.invoices import claim

FHIR_JSON = {"Content-Type": "application/fhir+json"}


class SimulatedProvider:
    BILLS = False
    """Whether it sends an EPS dispensing Claim for each order once every delivery is made (docs/invoicing.md)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        ods: str,
        *,
        source: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.ods = ods
        self.source = source or f"https://provider.example/{ods}"
        self.clock = clock

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = await self.client.post(path, json=body, headers=FHIR_JSON)
        if response.status_code >= 400:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:500]}")
        return response

    async def release(self, max_count: int | None = None) -> list[dict[str, Any]]:
        response = await self._post("/FHIR/R4/Task/$release", msg.release_request(self.ods, max_count))
        return msg.passed_orders(response.json())

    async def fulfil(self, order: dict[str, Any]) -> None:
        """Acknowledge one order, then take each authorised delivery through scheduled → dispatched → delivered.

        A cancellation (prescription-order-update, one per line item) is only acknowledged: that cancels its line.
        """
        facts = msg.order_facts(order)
        await self._post("/FHIR/R4/$process-message", msg.acknowledgement(self.ods, facts["message_id"], self.source))
        if facts["event"] == "prescription-order-update":
            # A cancellation, of one line item (EPS cancels one line per message; the next line's comes in a later
            # release, once this one is acknowledged): acknowledged, nothing to deliver.
            return
        today = self.clock().date()
        for n in range(1, facts["deliveries"] + 1):
            day = today + timedelta(days=(n - 1) * 28)
            await self._post(
                "/FHIR/R4/Task", msg.delivery_task(self.ods, facts, n, "scheduled", scheduled=day, window="08:00-12:00")
            )
            await self._post("/FHIR/R4/Task", msg.delivery_task(self.ods, facts, n, "dispatched"))
            await self._post(
                "/FHIR/R4/$process-message", msg.dispense_notification(self.ods, facts, n, self.source, self.clock())
            )
            await self._post("/FHIR/R4/Task", msg.delivery_task(self.ods, facts, n, "delivered", at=self.clock()))
        if self.BILLS:
            await self._post("/FHIR/R4/Claim", claim(facts, self.ods))

    async def run(self, *, interval: float = 0.5, stop: asyncio.Event | None = None) -> None:
        """Poll until `stop` is set, fulfilling whatever is released."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            orders = await self.release()
            for order in orders:
                await self.fulfil(order)
            if not orders:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                except TimeoutError:
                    pass


class BillingSimulatedProvider(SimulatedProvider):
    """The simulated provider that also claims for what it delivered."""

    BILLS = True
