"""Months of history for `hgw demo`, so that every KPI chart and the at-risk list show something real: two trusts,
four providers (one that never polls, one paused), monthly deliveries with failures and a return, renewals due,
patients at risk now and missed doses reported as AdverseEvents. Driven through the real services with the clock
set to each step's time; the live demo then runs on the real clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.context import Gateway, utc_now
from gateway.delivery import queue as queue_service
from gateway.delivery.release import release_orders
from gateway.dispatch.process_message import process_message
from gateway.dispatch.provider_tasks import process_task
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.operations import admin
from gateway.safety.missed_doses import report_missed_dose

QUIET_PROVIDERS = (("VNHOM", "Home Medicines Direct (never polls)"), ("VNPAU", "Paused Homecare Ltd"))
TRUSTS = ("RBA", "RHM")
DAYS = 28  # each delivery lasts four weeks
MONTHS = 5


def _as(role: Role, ods: str) -> Principal:
    return Principal(f"demo-history-{ods}", role, ods, frozenset(ROLE_SCOPES[role]))


@dataclass
class _Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class HistorySummary:
    prescriptions: int
    deliveries: int
    missed_doses: int

    def line(self) -> str:
        return (
            f"history: {self.prescriptions} prescriptions over {MONTHS} months, {self.deliveries} deliveries, "
            f"{self.missed_doses} missed doses reported"
        )


class _History:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.clock = _Clock(utc_now())
        self.prescriptions = self.deliveries = self.missed = 0

    async def prescribe(self, trust: str, provider: str, seed: int, when: datetime, **change: str) -> str:
        self.clock.now = when
        row = export_rows(1, seed=seed, trust_ods=trust, provider_ods=provider, rx_prefix="HIST")[0]
        row.update(DaysPerDelivery=str(DAYS), **change)
        report = await ingest_export(self.gw, _as(Role.TRUST, trust), render_export([row]), "text/csv")
        self.prescriptions += 1
        return str(report.prescriptions[0].short_form_id)

    async def take(self, provider: str, sid: str, when: datetime) -> dict[str, Any]:
        self.clock.now = when
        [order] = (await release_orders(self.gw, _as(Role.PROVIDER, provider), short_form_id=sid)).orders
        facts = msg.order_facts(order.bundle)
        self.clock.now = when + timedelta(hours=3)
        ack = msg.acknowledgement(provider, facts["message_id"], "https://demo.invalid")
        await process_message(self.gw, _as(Role.PROVIDER, provider), json.dumps(ack).encode())
        return facts

    async def delivery(
        self, provider: str, facts: dict[str, Any], n: int, state: str, when: datetime, **kw: Any
    ) -> None:
        self.clock.now = when
        task = msg.delivery_task(provider, facts, n, state, at=when if state == "delivered" else None, **kw)
        await process_task(self.gw, _as(Role.PROVIDER, provider), task)
        self.deliveries += state == "delivered"

    async def deliver(self, provider: str, facts: dict[str, Any], n: int, day: datetime, *, fail: bool) -> None:
        await self.delivery(provider, facts, n, "scheduled", day - timedelta(days=3), scheduled=day.date())
        if fail:
            await self.delivery(provider, facts, n, "failed", day + timedelta(hours=6), reason="patient-not-available")
            await self.delivery(provider, facts, n, "scheduled", day + timedelta(hours=8), scheduled=_next(day))
            day += timedelta(days=1)
        await self.delivery(provider, facts, n, "dispatched", day - timedelta(hours=4))
        await self.delivery(provider, facts, n, "delivered", day)

    async def missed_dose(self, reporter: Principal, sid: str, day: date, cause: str) -> None:
        self.clock.now = datetime(day.year, day.month, day.day, 18, tzinfo=UTC)
        body = {
            "resourceType": "AdverseEvent",
            "actuality": "actual",
            "suspectEntity": [
                {
                    "instance": {
                        "identifier": {"system": "https://fhir.nhs.uk/Id/prescription-order-number", "value": sid}
                    }
                }
            ],
            "date": day.isoformat(),
            "category": [
                {
                    "coding": [
                        {
                            "system": "https://fhir.homecaregateway.uk/CodeSystem/homecare-missed-dose-cause",
                            "code": cause,
                        }
                    ]
                }
            ],
        }
        await report_missed_dose(self.gw, reporter, json.dumps(body).encode())
        self.missed += 1


def _next(day: datetime) -> date:
    return (day + timedelta(days=1)).date()


async def seed_history(gw: Gateway, providers: tuple[str, ...]) -> HistorySummary:
    """Five months of patients for `providers` (polled by the demo's simulated providers: everything of theirs is
    acknowledged here) and the two quiet providers. The gateway's clock is restored afterwards."""
    real = gw.clock
    h = _History(gw)
    gw.clock = h.clock
    try:
        for ods, name in QUIET_PROVIDERS:
            await admin.add_provider(gw, ods=ods, name=name, mode="pull")
        now = real()
        start = now - timedelta(days=MONTHS * 30)
        seed = 500
        for i in range(16):  # established patients: monthly deliveries since `start`
            seed += 1
            trust, provider = TRUSTS[i % 2], providers[i % len(providers)]
            began = start + timedelta(days=i * 2, hours=9)
            renewal_due = i % 4 == 3
            count = 5 if renewal_due else 7
            sid = await h.prescribe(trust, provider, seed, began, NumberOfDeliveries=str(count))
            facts = await h.take(provider, sid, began + timedelta(hours=2))
            for n in range(1, count + 1):
                day = began + timedelta(days=2 + (n - 1) * DAYS)
                if day > now - timedelta(days=1):
                    break
                await h.deliver(provider, facts, n, day, fail=(i + n) % 5 == 0)
                if (i + n) % 7 == 0:  # the failure came too late: a missed dose, reported by the trust
                    await h.missed_dose(_as(Role.TRUST, trust), sid, (day + timedelta(days=1)).date(), "delivery-late")
        for ods, _ in QUIET_PROVIDERS:  # new patients whose orders nobody takes
            for k in range(2):
                seed += 1
                first = (now + timedelta(days=2 + k * 3)).strftime("%d/%m/%Y")
                await h.prescribe(TRUSTS[k], ods, seed, now - timedelta(days=3 - k), FirstDeliveryDate=first)
        h.clock.now = now - timedelta(hours=1)
        await queue_service.set_paused(gw, QUIET_PROVIDERS[1][0], True)
        await h.missed_dose(
            _as(Role.PROVIDER, providers[0]),
            await h.prescribe(TRUSTS[0], providers[0], seed + 1, now - timedelta(days=20)),
            (now - timedelta(days=2)).date(),
            "order-not-processed",
        )
    finally:
        gw.clock = real
    return HistorySummary(h.prescriptions, h.deliveries, h.missed)
