"""Patients at risk of a missed dose, on SQLite and PostgreSQL: a patient enters the list for each of the eleven
reasons, driven through the real services (ingest, release, acknowledgements, delivery and query Tasks, push with a
failing provider, pauses, alert evaluation), and leaves it when a delivery is scheduled. The list of a past day
stays the same after later changes; a trust sees only its own patients, a provider only those routed to it.

"Today" is Tuesday 2026-11-10 (UK time is UTC). New patients ask for their first delivery on 2026-11-13
(3 days left); patients already supplied were delivered 28 days' supply on 2026-10-16 (it runs out on 11-13).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.alerts.evaluate import evaluate
from gateway.alerts.risk_watch import watch
from gateway.context import Gateway
from gateway.delivery import queue as queue_service
from gateway.delivery.push import PushRelay
from gateway.delivery.replay import replay_message
from gateway.domain.principal import Role
from gateway.domain.risk_reasons import CODES, REASONS
from gateway.errors import ForbiddenError, InputError
from gateway.fhir.datatypes import uk_date
from gateway.intake.ingest import ingest_export
from gateway.lifecycle.status_feed import status_feed
from gateway.observability.collector import read_store, render
from gateway.operations import admin
from gateway.safety.at_risk import parse_as_of, worklist
from gateway.store import outbox_queue, prescription_rows, repository
from tests.integration.test_alerts import Recorder
from tests.integration.test_kpis import History, _principal

DAY = date(2026, 11, 10)
FIRST = "13/11/2026"
PUSH, DEAD = "VNPSH", "VNDED"
OPERATOR = _principal(Role.OPERATOR, "X26")


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


class PushAnswers:
    """Two push providers' answers: PUSH is down (500, retried) until `up`; DEAD refuses (400: dead at once) until
    `up`; once up, each acknowledges."""

    def __init__(self) -> None:
        self.up = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        provider = PUSH if request.url.host == "push.example" else DEAD
        if not self.up:
            return httpx.Response(500 if provider == PUSH else 400, json={"issue": "no"})
        message_id = json.loads(request.content)["entry"][0]["resource"]["id"]
        ack = msg.acknowledgement(provider, message_id, f"https://{request.url.host}")
        return httpx.Response(200, json=ack, headers={"Content-Type": "application/fhir+json"})


class Scenario(History):
    async def listed(self, principal: Any = OPERATOR, day: date = DAY) -> dict[str, tuple[str, ...]]:
        found = await worklist(self.gw, principal, as_of=day)
        return {r.short_form_id: r.reasons for r in found.rows}

    async def new_patient(self, seed: int, provider: str, trust: str = "RBA", **change: str) -> str:
        return await self.prescribe(trust, provider, seed, at(8), deliveries=3, FirstDeliveryDate=FIRST, **change)

    async def supplied(self, seed: int, provider: str, *, deliveries: int = 2) -> dict[str, Any]:
        """A patient delivered on 2026-10-16 the first of `deliveries` deliveries, 28 days each."""
        facts = await self.order("RBA", provider, seed, at(9, day=date(2026, 10, 14)), 1, deliveries=deliveries)
        await self.deliver(provider, facts, 1, date(2026, 10, 16), at(11, day=date(2026, 10, 16)))
        return facts

    async def schedule(self, provider: str, facts: dict[str, Any], number: int, when: datetime) -> None:
        await self.delivery(provider, facts, number, "scheduled", when, scheduled=date(2026, 11, 12))

    async def take(self, provider: str, sid: str, when: datetime) -> dict[str, Any]:
        """The provider releases and acknowledges the order, and schedules its first delivery."""
        facts = await self.release(provider, sid, when)
        await self.answer(provider, facts, when + timedelta(minutes=5))
        await self.schedule(provider, facts, 1, when + timedelta(minutes=10))
        return facts

    async def renew(self, seed: int, provider: str, when: datetime) -> None:
        """A new prescription for the same patient and medicine, taken and scheduled by `provider`."""
        self.at(when)
        sid = await self.prescribe(
            "RBA", provider, seed, when, deliveries=3, RxNumber=f"RN-{seed}", FirstDeliveryDate=FIRST
        )
        await self.take(provider, sid, when + timedelta(minutes=1))


@pytest.fixture
async def scenario(gw: Gateway) -> Scenario:
    for rule in await admin.routes(gw):
        await admin.remove_route(gw, rule.id or 0)  # a prescription naming no provider is held
    return Scenario(gw)


async def test_a_patient_enters_for_each_reason_and_leaves_when_a_delivery_is_scheduled(
    gw: Gateway, scenario: Scenario
) -> None:
    h = scenario
    answers = PushAnswers()
    gw.http_transport = httpx.MockTransport(answers)
    for ods, host in ((PUSH, "push.example"), (DEAD, "dead.example")):
        await admin.add_provider(gw, ods=ods, name=f"{ods} Homecare", mode="push", endpoint=f"https://{host}/")
        await queue_service.set_retry_policy(gw, ods, max_age=timedelta(days=7))
    gw.settings = gw.settings.model_copy(update={"alert_silent_minutes": 90})

    # --- entering, on 2026-11-10: one patient per reason ---
    unacked = await h.new_patient(301, "VNFKT")
    h.at(at(8, 5))
    held_rows = export_rows(1, seed=302, trust_ods="RBA", signed=at(7))[:1]
    held_rows[0].update(FirstDeliveryDate=FIRST, NumberOfDeliveries="3", DaysPerDelivery="28")
    rba = _principal(Role.TRUST, "RBA")
    [held] = (await ingest_export(gw, rba, render_export(held_rows), "text/csv")).prescriptions
    assert held.outcome == "held"
    rejected = await h.new_patient(303, "VNCEL")
    await h.answer("VNCEL", await h.release("VNCEL", rejected, at(8, 10)), at(8, 20), reject=True)
    queried = await h.order("RBA", "VNCEL", 304, at(8, 30), 0.2, deliveries=3, FirstDeliveryDate=FIRST)
    await h.task("VNCEL", msg.provider_request("VNCEL", queried, "clinical-query", question="Dose?"), at(9))
    unscheduled = await h.order("RBA", "VNCEL", 305, at(9), 0.1, deliveries=3, FirstDeliveryDate=FIRST)
    failed = await h.supplied(306, "VNFKT")
    await h.schedule("VNFKT", failed, 2, at(6))
    await h.delivery("VNFKT", failed, 2, "failed", at(9, 30), reason="patient-not-available")
    renewal = await h.supplied(307, "VNFKT", deliveries=1)
    stopped = await h.supplied(308, "VNFKT")
    stop_rows = export_rows(1, seed=308, trust_ods="RBA", provider_ods="VNFKT", signed=at(9))[:1]
    stop_rows[0].update(Action="CANCEL", CancelReason="Treatment stopped", NumberOfDeliveries="2", DaysPerDelivery="28")
    h.at(at(9, 40))
    cancel = await ingest_export(gw, rba, render_export(stop_rows), "text/csv")
    assert cancel.prescriptions[0].outcome == "cancellation-requested"
    await h.answer("VNFKT", await h.release("VNFKT", stopped["short_form_id"], at(9, 45)), at(9, 50))
    await admin.add_provider(gw, ods="VNPAU", name="Paused Homecare", mode="pull")
    paused = await h.new_patient(309, "VNPAU")
    h.at(at(9, 55))
    await queue_service.set_paused(gw, "VNPAU", True)
    dead = await h.new_patient(310, DEAD)
    unreachable = await h.new_patient(311, PUSH)
    other_trust = await h.new_patient(312, "VNFKT", trust="RHM")
    h.at(at(10))
    async with PushRelay.open(gw) as relay:
        assert "dead" in [r.outcome for r in await relay.run_once()]
    await evaluate(gw, [])  # PUSH has not answered for two hours while an order waits: provider-silent

    h.at(at(10, 30))
    entered = await h.listed()
    assert entered == {
        unacked: ("order-not-acknowledged",),
        str(held.short_form_id): ("held-unrouted",),
        rejected: ("rejected-by-provider",),
        queried["short_form_id"]: ("clinical-query-open", "delivery-not-scheduled"),
        unscheduled["short_form_id"]: ("delivery-not-scheduled",),
        failed["short_form_id"]: ("delivery-failed",),
        renewal["short_form_id"]: ("prescription-renewal-due",),
        stopped["short_form_id"]: ("cancelled-without-replacement",),
        paused: ("provider-paused", "order-not-acknowledged"),
        dead: ("dead-lettered",),
        unreachable: ("provider-unreachable", "order-not-acknowledged"),
        other_trust: ("order-not-acknowledged",),
    }
    assert {code for reasons in entered.values() for code in reasons} == set(CODES)
    rows = (await worklist(gw, OPERATOR, as_of=DAY)).as_json()["patients"]
    assert [p["days_left"] for p in rows] == [3] * len(rows)  # supplies end 2026-11-13
    assert {p["prescription"]: p["owner"] for p in rows}[str(held.short_form_id)] == "operator"
    assert {p["prescription"]: p["action"] for p in rows}[rejected] == REASONS["rejected-by-provider"].action

    # --- tenancy: a trust its own patients, a provider those routed to it; operators see them masked ---
    assert set(await h.listed(rba)) == set(entered) - {other_trust}
    assert set(await h.listed(_principal(Role.TRUST, "RHM"))) == {other_trust}
    assert set(await h.listed(_principal(Role.PROVIDER, "VNCEL"))) == {
        rejected,
        queried["short_form_id"],
        unscheduled["short_form_id"],
    }
    masked = (await worklist(gw, OPERATOR, as_of=DAY)).as_json()
    assert masked["masked"] and {p["nhs_number"] for p in masked["patients"]} == {"•••"}
    own = (await worklist(gw, _principal(Role.TRUST, "RHM"), as_of=DAY)).as_json()
    expected_nhs = export_rows(1, seed=312)[0]["NHSNumber"]
    assert own["patients"][0]["nhs_number"].replace(" ", "") == expected_nhs
    with pytest.raises(ForbiddenError):
        await worklist(gw, rba, as_of=DAY, trust_ods="RHM")
    with pytest.raises(ForbiddenError):
        await worklist(gw, OPERATOR, as_of=DAY, unmask_reason="incident")  # only an auditor unmasks

    # --- leaving, on 2026-11-11: each is fixed by its owner up to a scheduled delivery ---
    next_day = date(2026, 11, 11)
    await h.take("VNFKT", unacked, at(8, day=next_day))
    h.at(at(8, 30, next_day))
    await admin.add_route(gw, provider_ods="VNFKT")
    assert [r.provider_ods for r in await admin.route_held(gw)] == ["VNFKT"]
    await h.take("VNFKT", str(held.short_form_id), at(8, 40, next_day))
    await h.renew(303, "VNFKT", at(9, day=next_day))
    await h.schedule("VNCEL", queried, 1, at(9, 30, next_day))
    await h.schedule("VNCEL", unscheduled, 1, at(9, 40, next_day))
    await h.schedule("VNFKT", failed, 2, at(9, 50, next_day))  # re-arranged after it failed
    await h.renew(307, "VNFKT", at(10, day=next_day))
    await h.renew(308, "VNFKT", at(10, 30, next_day))
    h.at(at(11, day=next_day))
    await queue_service.set_paused(gw, "VNPAU", False)
    await h.take("VNPAU", paused, at(11, 5, next_day))
    answers.up = True
    async with gw.sessions() as session:
        [dead_entry] = await outbox_queue.list_outbox(session, states=["dead"], provider_ods=DEAD)
    h.at(at(12, day=next_day))
    await replay_message(gw, dead_entry.message_id)
    h.at(at(13, day=next_day))  # past the retry's backoff
    async with PushRelay.open(gw) as relay:
        assert sorted(r.outcome for r in await relay.run_once()) == ["delivered", "delivered"]
    for provider, sid in ((DEAD, dead), (PUSH, unreachable)):
        async with gw.sessions() as session:
            p = await prescription_rows.find_prescription(session, sid)
            assert p is not None
        facts = {"short_form_id": sid, "prescription_id": p.id, "nhs_number": None}
        facts.update(await _order_facts(gw, p.id))
        await h.schedule(provider, facts, 1, at(13, 30, next_day))
    await h.take("VNFKT", other_trust, at(14, day=next_day))

    h.at(at(15, day=next_day))
    assert await h.listed(day=next_day) == {}
    # --- the list of a past day is the same after everything that happened since ---
    assert await h.listed(day=DAY) == entered


async def _order_facts(gw: Gateway, prescription_id: str) -> dict[str, Any]:
    from gateway.store.sealed import message_context
    from gateway.store.tables import FhirMessage

    async with gw.sessions() as session:
        [entry] = await outbox_queue.outbox_for_prescription(session, prescription_id)
        message = await repository.get_by_id(session, FhirMessage, entry.message_id)
        assert message is not None
    bundle = json.loads(gw.cipher.open(message.body_enc, context=message_context(message.id, message.sender_ods)))
    return msg.order_facts(bundle)


def test_as_of_is_a_past_or_present_calendar_day() -> None:
    now = at(12)
    assert parse_as_of(None, now) == DAY
    assert parse_as_of("2026-11-01", now) == date(2026, 11, 1)
    for bad in ("2026-11-11", "11/11/2026", "2026-1-1", "yesterday"):
        with pytest.raises(InputError):
            parse_as_of(bad, now)


async def test_the_worklist_over_http_by_tenant_and_format(
    gw: Gateway, as_party: Any, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    h = Scenario(gw)  # the clock stays at the real time: the parties' signed assertions are checked against it
    now = datetime.now(UTC).replace(microsecond=0)
    today = uk_date(now)
    first = (today + timedelta(days=3)).strftime("%d/%m/%Y")
    rba = await h.prescribe("RBA", "VNFKT", 401, now - timedelta(hours=1), deliveries=3, FirstDeliveryDate=first)
    rhm = await h.prescribe("RHM", "VNCEL", 402, now - timedelta(hours=1), deliveries=3, FirstDeliveryDate=first)
    h.at(now)
    url = "/api/v1/patients-at-risk"
    own = (await trust.get(url)).json()
    assert own["as_of"] == today.isoformat()
    assert [(p["prescription"], p["reasons"], p["owner"]) for p in own["patients"]] == [
        (rba, ["order-not-acknowledged"], "provider")
    ]
    assert own["patients"][0]["nhs_number"].replace(" ", "") == export_rows(1, seed=401)[0]["NHSNumber"]
    assert [p["prescription"] for p in (await as_party("other_trust").get(url)).json()["patients"]] == [rhm]
    assert [p["prescription"] for p in (await provider.get(url)).json()["patients"]] == [rba]
    everyone = (await as_party("operator").get(url)).json()
    assert sorted(p["prescription"] for p in everyone["patients"]) == sorted([rba, rhm])
    assert everyone["masked"] and {p["nhs_number"] for p in everyone["patients"]} == {"•••"}

    answer = await trust.get(url, params={"format": "csv", "days": "2"})  # 3 days left: not within 2
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text == "prescription,trust,provider,supply_ends,days_left,reasons,owner,action,nhs_number\r\n"
    # The day before the prescriptions arrived (an hour ago: just after midnight, that is two days ago).
    yesterday = (uk_date(now - timedelta(hours=1)) - timedelta(days=1)).isoformat()
    past = (await trust.get(url, params={"as_of": yesterday})).json()
    assert past == {"as_of": yesterday, "masked": False, "patients": []}
    for params, where in (({"as_of": "2026-11-31"}, "as_of"), ({"days": "0"}, "days"), ({"format": "xml"}, "format")):
        bad = await trust.get(url, params=params)
        assert bad.status_code == 400, params
        assert [(i["code"], i["expression"]) for i in bad.json()["issues"]] == [("INVALID_PARAMETER", where)]
    assert (await as_party("operator").get(url, params={"unmask": "incident"})).status_code == 403


async def test_each_episode_is_announced_once_counted_by_reason_and_closed(gw: Gateway) -> None:
    h = Scenario(gw)
    sid = await h.new_patient(501, "VNFKT")
    h.at(at(9))
    recorder = Recorder()
    first = await watch(gw, [recorder])
    assert (first.listed, first.opened, first.closed, first.notified) == (1, [sid], 0, 1)
    h.at(at(9, 5))
    again = await watch(gw, [recorder])  # still at risk: the same episode, nothing new
    assert (again.opened, again.notified) == ([], 0)
    assert recorder.notices == [("opened", "patient-at-risk", sid)]

    feed = await status_feed(gw, _principal(Role.TRUST, "RBA"), since=None, limit=100, settle=timedelta(0))
    [event] = [e for e in feed.events if e.kind == "patient-at-risk"]
    assert event.as_dict()["detail"].startswith("supply ends 2026-11-13 (3 days left); reasons: order-not-acknowledged")
    assert (
        await status_feed(gw, _principal(Role.TRUST, "RHM"), since=None, limit=100, settle=timedelta(0))
    ).events == ()

    readings = await read_store(gw.sessions, gw.clock())
    exposition = render(gw.telemetry, readings).decode()
    assert 'hgw_patients_at_risk{reason="order-not-acknowledged"} 1.0' in exposition
    assert 'hgw_patients_at_risk{reason="delivery-failed"} 0.0' in exposition

    await h.take("VNFKT", sid, at(10))
    h.at(at(11))
    closed = await watch(gw, [recorder])
    assert (closed.listed, closed.closed) == (0, 1)
    assert (
        'hgw_patients_at_risk{reason="order-not-acknowledged"} 0.0'
        in render(gw.telemetry, await read_store(gw.sessions, gw.clock())).decode()
    )
    assert len(recorder.notices) == 1


def test_the_gauge_and_the_model_share_the_reason_codes() -> None:
    assert CODES == tuple(REASONS) and len(CODES) == 11
