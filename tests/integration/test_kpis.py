"""The national homecare KPIs from a realistic history, on SQLite and PostgreSQL.

Two trusts (RBA, RHM) and two providers (VNFKT, VNCEL) over September and October 2026, driven through the real
services (ingest, release, acknowledgement and rejection messages, dispense notification, delivery Tasks, EPS
return, clinical queries, cancel and amend) with a controlled clock. Every KPI's numerator and denominator is
asserted from the history below, then the JSON, CSV and FHIR outputs, tenancy and `hgw kpi`.

Orders (received → first answer), UK time is BST until 25 October:
  A  RBA→VNFKT  P1  09-01 09:00Z, acked +10 h; d1 on its date 09-03; d2 failed (patient) 10-01, re-arranged, on date
  B  RBA→VNFKT  P2  08-31 23:30Z (1 Sept UK), acked +72 h; d1 late (agreed 09-10, made 09-11)
  C  RHM→VNCEL  P3  09-10 08:00Z, acked +0.5 h; d1 failed (stock) 09-14, re-arranged, on date 09-16;
                    a clinical query 10-05; d2 with no agreed date 10-13
  D  RHM→VNFKT  P4  09-20, cancelled before release
  E  RBA→VNCEL  P5  09-25, rejected by the provider an hour later
  F  RBA→VNFKT  P6  09-28, acked +2 h, returned 09-29, cancelled 10-02
  G  RHM→VNCEL  P7  09-15, acked +10 h, clinical query 09-16; amended 10-03 (G2: acked +24 h)
  B2 RBA→VNFKT  P2  10-05, acked +2 h; d1 made 10-05 23:30Z = 10-06 UK, its agreed date
  H  RBA→VNFKT  P8  10-10, never acknowledged
  I  RHM→VNCEL  P9  10-20 02:00Z, not acknowledged yet (within target)
  K  RBA→VNCEL  P10 10-07, acked +1 h; d1 returned (trust: clinical hold), failed (other), dispatched again
"Now" is 2026-10-20 12:00Z.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport
from sqlmodel import select

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from fhir_profiles import PACKAGE_DIR
from gateway.cli import cli
from gateway.context import Gateway
from gateway.delivery.release import release_orders
from gateway.dispatch.process_message import process_message
from gateway.dispatch.provider_tasks import process_task
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.kpis import catalog as cat
from gateway.kpis.cli import kpi
from gateway.kpis.monthly import ALL, Cell, KpiReport, Options, Period, build_report
from gateway.security.client_auth import ClientKey
from gateway.simulate.parties import party_client
from gateway.store.tables import Prescription
from tests.conftest import serve

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
SEPT, OCT = Period(2026, 9), Period(2026, 10)
ACK, WITHIN = "hgw-kpi-acknowledgement-time", "hgw-kpi-acknowledgement-within-target"
FIRST, WAITING = "hgw-kpi-first-delivery-time", "hgw-kpi-new-patients-waiting"
ON_TIME, FAILED = "hgw-kpi-on-time-delivery", "hgw-kpi-failed-deliveries"
PATIENTS_AT_RISK, RX_AT_RISK = "hgw-kpi-patients-at-risk", "hgw-kpi-prescriptions-at-risk"


def _principal(role: Role, ods: str) -> Principal:
    return Principal(f"test-{ods}", role, ods, frozenset(ROLE_SCOPES[role]))


OPERATOR = _principal(Role.OPERATOR, "X26")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class History:
    """Drives the real services as the trusts and providers would, each step at a set time."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.clock = Clock(NOW)
        gw.clock = self.clock

    def at(self, when: datetime) -> None:
        self.clock.now = when

    async def prescribe(
        self, trust: str, provider: str, seed: int, when: datetime, *, deliveries: int = 2, **change: str
    ) -> str:
        self.at(when)
        row = export_rows(1, seed=seed, trust_ods=trust, provider_ods=provider, signed=when - timedelta(hours=1))[0]
        row.update(NumberOfDeliveries=str(deliveries), DaysPerDelivery="28", **change)
        report = await ingest_export(self.gw, _principal(Role.TRUST, trust), render_export([row]), "text/csv")
        [outcome] = report.prescriptions
        assert outcome.outcome in ("accepted", "cancelled", "cancellation-requested"), outcome.as_dict()
        return str(outcome.short_form_id)

    async def release(self, provider: str, sid: str, when: datetime) -> dict[str, Any]:
        self.at(when)
        result = await release_orders(self.gw, _principal(Role.PROVIDER, provider), short_form_id=sid)
        [order] = result.orders
        return msg.order_facts(order.bundle)

    async def answer(self, provider: str, facts: dict[str, Any], when: datetime, *, reject: bool = False) -> None:
        self.at(when)
        if reject:
            bundle = msg.rejection(provider, facts["message_id"], "x", [("0002", "Prescription not suitable")])
        else:
            bundle = msg.acknowledgement(provider, facts["message_id"], "x")
        await process_message(self.gw, _principal(Role.PROVIDER, provider), json.dumps(bundle).encode())

    async def order(self, trust: str, provider: str, seed: int, received: datetime, hours: float, **kw: Any) -> Any:
        sid = await self.prescribe(trust, provider, seed, received, **kw)
        facts = await self.release(provider, sid, received + timedelta(minutes=10))
        await self.answer(provider, facts, received + timedelta(hours=hours))
        return facts

    async def task(self, provider: str, task: dict[str, Any], when: datetime) -> None:
        self.at(when)
        await process_task(self.gw, _principal(Role.PROVIDER, provider), task)

    async def delivery(
        self, provider: str, facts: dict[str, Any], number: int, state: str, when: datetime, **kw: Any
    ) -> None:
        occurred = when if state == "delivered" else None
        await self.task(provider, msg.delivery_task(provider, facts, number, state, at=occurred, **kw), when)

    async def deliver(
        self, provider: str, facts: dict[str, Any], number: int, agreed: date | None, made: datetime
    ) -> None:
        """Scheduled for `agreed` (when given), dispatched, and delivered at `made`."""
        if agreed is not None:
            await self.delivery(provider, facts, number, "scheduled", made - timedelta(days=2), scheduled=agreed)
        await self.delivery(provider, facts, number, "dispatched", made - timedelta(hours=3))
        await self.delivery(provider, facts, number, "delivered", made)


def t(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def build_history(gw: Gateway) -> History:
    h = History(gw)
    same = {"NHSNumber": export_rows(1, seed=202)[0]["NHSNumber"]}  # patient P2, twice with VNFKT
    # --- September ---
    a = await h.order("RBA", "VNFKT", 201, t(9, 1), 10, deliveries=3)
    b = await h.order("RBA", "VNFKT", 202, t(8, 31, 23, 30), 72, deliveries=1, **same)
    c = await h.order("RHM", "VNCEL", 203, t(9, 10, 8), 0.5)
    await h.deliver("VNFKT", a, 1, date(2026, 9, 3), t(9, 3, 10))
    dn = msg.dispense_notification("VNFKT", a, 1, "x", t(9, 3, 10))
    h.at(t(9, 3, 11))
    await process_message(gw, _principal(Role.PROVIDER, "VNFKT"), json.dumps(dn).encode())
    await h.deliver("VNFKT", b, 1, date(2026, 9, 10), t(9, 11, 9))
    await h.delivery("VNCEL", c, 1, "scheduled", t(9, 12), scheduled=date(2026, 9, 15))
    await h.delivery("VNCEL", c, 1, "failed", t(9, 14, 16), reason="stock-unavailable")
    await h.deliver("VNCEL", c, 1, date(2026, 9, 16), t(9, 16, 12))
    d = await h.prescribe("RHM", "VNFKT", 204, t(9, 20, 10))
    rows = export_rows(1, seed=204, trust_ods="RHM", provider_ods="VNFKT", signed=t(9, 20, 9))[:1]
    rows[0].update(Action="CANCEL", CancelReason="Treatment stopped", NumberOfDeliveries="2", DaysPerDelivery="28")
    h.at(t(9, 20, 14))
    cancel = await ingest_export(gw, _principal(Role.TRUST, "RHM"), render_export(rows), "text/csv")
    assert cancel.prescriptions[0].outcome == "cancelled", (d, cancel.as_dict())
    e_sid = await h.prescribe("RBA", "VNCEL", 205, t(9, 25, 10))
    await h.answer("VNCEL", await h.release("VNCEL", e_sid, t(9, 25, 10, 30)), t(9, 25, 11), reject=True)
    f = await h.order("RBA", "VNFKT", 206, t(9, 28, 10), 2)
    await h.task("VNFKT", msg.return_task("VNFKT", f), t(9, 29, 9))
    g = await h.order("RHM", "VNCEL", 207, t(9, 15, 10), 10)
    await h.task("VNCEL", msg.provider_request("VNCEL", g, "clinical-query", question="Dose?"), t(9, 16, 10))
    # --- October ---
    await h.delivery("VNFKT", a, 2, "scheduled", t(9, 29), scheduled=date(2026, 10, 1))
    await h.delivery("VNFKT", a, 2, "failed", t(10, 1, 15), reason="patient-not-available")
    await h.deliver("VNFKT", a, 2, date(2026, 10, 2), t(10, 2, 11))
    f_rows = export_rows(1, seed=206, trust_ods="RBA", provider_ods="VNFKT", signed=t(9, 28, 9))[:1]
    f_rows[0].update(Action="CANCEL", CancelReason="Returned", NumberOfDeliveries="2", DaysPerDelivery="28")
    h.at(t(10, 2, 10))
    assert (await ingest_export(gw, _principal(Role.TRUST, "RBA"), render_export(f_rows), "text/csv")).prescriptions[
        0
    ].outcome == "cancelled"
    g2 = await h.prescribe("RHM", "VNCEL", 207, t(10, 3, 10), deliveries=3, Action="AMEND", RxVersion="2")
    cancel_facts = await h.release("VNCEL", g["short_form_id"], t(10, 3, 12))
    await h.answer("VNCEL", cancel_facts, t(10, 3, 12, 5))
    await h.answer("VNCEL", await h.release("VNCEL", g2, t(10, 4, 9)), t(10, 4, 10))
    b2 = await h.order("RBA", "VNFKT", 208, t(10, 5, 10), 2, deliveries=1, **same)
    await h.deliver("VNFKT", b2, 1, date(2026, 10, 6), t(10, 5, 23, 30))
    await h.task("VNCEL", msg.provider_request("VNCEL", c, "clinical-query", question="Allergy?"), t(10, 5, 12))
    k = await h.order("RBA", "VNCEL", 209, t(10, 7, 9), 1)
    await h.delivery("VNCEL", k, 1, "scheduled", t(10, 8), scheduled=date(2026, 10, 9))
    await h.delivery("VNCEL", k, 1, "dispatched", t(10, 9, 8))
    await h.delivery("VNCEL", k, 1, "returned", t(10, 9, 18), reason="clinical-hold")
    await h.delivery("VNCEL", k, 1, "scheduled", t(10, 10), scheduled=date(2026, 10, 12))
    await h.delivery("VNCEL", k, 1, "dispatched", t(10, 12, 8))
    await h.delivery("VNCEL", k, 1, "failed", t(10, 12, 17), reason="other")
    await h.delivery("VNCEL", k, 1, "dispatched", t(10, 19, 8))
    await h.deliver("VNCEL", c, 2, None, t(10, 13, 12))
    await h.prescribe("RBA", "VNFKT", 210, t(10, 10))
    await h.prescribe("RHM", "VNCEL", 211, t(10, 20, 2))
    h.at(NOW)
    return h


# --- reading a report ------------------------------------------------------------------------------------------------
def pops(cell: Cell | None, measure: str, group: str) -> dict[str, int]:
    assert cell is not None
    return cell.measures[measure][group].populations


def score(cell: Cell | None, measure: str, group: str) -> float | None:
    assert cell is not None
    value = cell.measures[measure][group].score
    return None if value is None else float(value)


def cells(report: KpiReport) -> set[tuple[str, str]]:
    return {(c.provider_ods, c.trust_ods) for c in report.cells}


async def test_kpis_from_a_two_month_history(gw: Gateway, parties: dict[str, ClientKey]) -> None:
    await build_history(gw)
    sept = await build_report(gw, OPERATOR, period=SEPT)
    octo = await build_report(gw, OPERATOR, period=OCT)
    s, o = sept.cell(), octo.cell()

    # Received → acknowledged: September's seven orders; D (cancelled) and E (rejected) are not measured.
    assert pops(s, ACK, "median") == {
        "initial-population": 7,
        "measure-population": 5,
        "measure-population-exclusion": 2,
    }
    assert (score(s, ACK, "median"), score(s, ACK, "p90")) == (10.0, 72.0)  # hours 0.5, 2, 10, 10, 72
    assert pops(s, WITHIN, "within-target") == {
        "initial-population": 7,
        "denominator-exclusion": 2,
        "denominator": 5,
        "numerator": 4,
    }
    assert score(s, WITHIN, "within-target") == 80.0
    vncel = sept.cell("VNCEL")
    assert (score(vncel, ACK, "median"), score(vncel, ACK, "p90")) == (5.3, 10.0)  # 0.5 and 10 hours
    assert pops(sept.cell("VNFKT"), WITHIN, "within-target")["numerator"] == 2
    assert score(sept.cell("VNFKT", "RBA"), WITHIN, "within-target") == 66.7  # A, F in time; B late
    # October: B2 2 h, K 1 h, G2 24 h; H never answered (missed); I still within its 48 h (excluded).
    assert pops(o, ACK, "median") == {
        "initial-population": 5,
        "measure-population": 3,
        "measure-population-exclusion": 2,
    }
    assert (score(o, ACK, "median"), score(o, ACK, "p90")) == (2.0, 24.0)
    assert pops(o, WITHIN, "within-target") == {
        "initial-population": 5,
        "denominator-exclusion": 1,
        "denominator": 4,
        "numerator": 3,
    }

    # New patient → first delivery: P1 2 days, P2 10 days (received 1 Sept UK), P3 6 days. B2 is not new.
    assert pops(s, FIRST, "median") == {"measure-population": 3}
    assert (score(s, FIRST, "median"), score(s, FIRST, "p90")) == (6.0, 10.0)
    assert pops(o, FIRST, "median") == {"measure-population": 0} and score(o, FIRST, "median") is None
    # Waiting: end of September P7 (F was returned and held); now P7 (amended), P8 (H), P9 (I), P10 (K).
    assert pops(s, WAITING, "waiting") == {"initial-population": 1}
    assert pops(o, WAITING, "waiting") == {"initial-population": 4}
    assert pops(octo.cell(ALL, "RHM"), WAITING, "waiting") == {"initial-population": 2}

    # On the agreed date: B late; C re-arranged and made on the new date. October: C's d2 had no agreed date.
    assert pops(s, ON_TIME, "on-agreed-date") == {
        "initial-population": 3,
        "denominator-exclusion": 0,
        "denominator": 3,
        "numerator": 2,
    }
    assert pops(o, ON_TIME, "on-agreed-date") == {
        "initial-population": 3,
        "denominator-exclusion": 1,
        "denominator": 2,
        "numerator": 2,
    }
    assert score(o, ON_TIME, "on-agreed-date") == 100.0  # B2 made 23:30Z on 5 Oct is 6 Oct in the UK

    # Failed deliveries by party: September 1 of 4 outcomes (provider); October 3 of 6.
    assert {g: pops(s, FAILED, g)["numerator"] for g in ("all", "provider", "patient", "trust", "unattributed")} == {
        "all": 1,
        "provider": 1,
        "patient": 0,
        "trust": 0,
        "unattributed": 0,
    }
    assert pops(s, FAILED, "all")["denominator"] == 4 and score(s, FAILED, "provider") == 25.0
    assert {g: pops(o, FAILED, g)["numerator"] for g in ("all", "provider", "patient", "trust", "unattributed")} == {
        "all": 3,
        "provider": 0,
        "patient": 1,
        "trust": 1,
        "unattributed": 1,
    }
    assert pops(o, FAILED, "all")["denominator"] == 6 and score(o, FAILED, "all") == 50.0
    assert pops(octo.cell("VNCEL", "RBA"), FAILED, "trust") == {"denominator": 2, "numerator": 1}

    # At risk (current month only, as of 20 Oct, 14 days): P1's supply ends 30 Oct with no delivery booked;
    # P2's ends 2 Nov and both prescriptions are complete.
    assert sept.as_of is None and PATIENTS_AT_RISK not in s.measures  # type: ignore[union-attr]
    assert octo.as_of == date(2026, 10, 20)
    assert pops(o, PATIENTS_AT_RISK, "at-risk") == {"initial-population": 2}
    assert pops(o, RX_AT_RISK, "at-risk") == {"initial-population": 1}
    assert pops(octo.cell("VNFKT", "RBA"), PATIENTS_AT_RISK, "at-risk") == {"initial-population": 2}
    short = await build_report(gw, OPERATOR, period=OCT, options=Options(horizon_days=7))
    assert pops(short.cell(), PATIENTS_AT_RISK, "at-risk") == {"initial-population": 0}

    # Cancellations, returns, queries per 100 prescriptions: September 7 received, October 5.
    assert pops(s, "hgw-kpi-cancellations", "cancellations") == {"numerator": 1, "denominator": 7}
    assert score(s, "hgw-kpi-cancellations", "cancellations") == 14.3
    assert pops(s, "hgw-kpi-returns", "returns") == {"numerator": 1, "denominator": 7}
    assert pops(s, "hgw-kpi-clinical-queries", "clinical-queries") == {"numerator": 1, "denominator": 7}
    assert pops(o, "hgw-kpi-cancellations", "cancellations") == {"numerator": 1, "denominator": 5}
    assert pops(o, "hgw-kpi-cancellations", "amendments") == {"numerator": 1, "denominator": 5}
    assert pops(o, "hgw-kpi-returns", "returns")["numerator"] == 0
    assert score(o, "hgw-kpi-clinical-queries", "clinical-queries") == 20.0
    assert pops(sept.cell("VNFKT", "RHM"), "hgw-kpi-cancellations", "cancellations")["numerator"] == 1

    # Filters narrow what is counted; the breakdown is per provider, per trust and per both.
    assert cells(sept) == {
        (ALL, ALL),
        ("VNFKT", ALL),
        ("VNCEL", ALL),
        (ALL, "RBA"),
        (ALL, "RHM"),
        ("VNFKT", "RBA"),
        ("VNFKT", "RHM"),
        ("VNCEL", "RBA"),
        ("VNCEL", "RHM"),
    }
    only = await build_report(gw, OPERATOR, period=SEPT, provider_ods="VNCEL", trust_ods="RHM")
    assert cells(only) == {(ALL, ALL), ("VNCEL", ALL), (ALL, "RHM"), ("VNCEL", "RHM")}
    assert only.cell().measures == sept.cell("VNCEL", "RHM").measures  # type: ignore[union-attr]

    # A delivery booked before P1's supply runs out takes P1 off the list.
    a_facts = {"short_form_id": await _sid(gw, 201), "nhs_number": export_rows(1, seed=201)[0]["NHSNumber"]}
    await process_task(
        gw,
        _principal(Role.PROVIDER, "VNFKT"),
        msg.delivery_task("VNFKT", a_facts, 3, "scheduled", scheduled=date(2026, 10, 29)),
    )
    after = await build_report(gw, OPERATOR, period=OCT)
    assert pops(after.cell(), PATIENTS_AT_RISK, "at-risk") == {"initial-population": 1}
    assert pops(after.cell(), RX_AT_RISK, "at-risk") == {"initial-population": 1}

    await _check_http(gw, parties, after)


async def _sid(gw: Gateway, seed: int) -> str:
    rx = export_rows(1, seed=seed)[0]["RxNumber"]
    async with gw.sessions() as session:
        found = (await session.exec(select(Prescription).where(Prescription.rx_number == rx))).first()
    assert found is not None
    return found.short_form_id


# --- over HTTP, the CLI and FHIR -------------------------------------------------------------------------------------
async def _check_http(gw: Gateway, parties: dict[str, ClientKey], octo: KpiReport) -> None:
    fake = gw.clock
    real: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    async with serve(gw) as url:
        clients = {name: party_client(url, key) for name, key in parties.items()}
        try:
            # Tokens are issued on the real clock (client assertions carry real times), then the clock goes back.
            gw.clock = real
            for client in clients.values():
                assert (await client.get("/api/v1/kpis", params={"period": "2026-09"})).status_code == 200
            gw.clock = fake
            await _http_checks(clients, url, octo)
        finally:
            for client in clients.values():
                await client.aclose()
    result = await asyncio.to_thread(
        CliRunner().invoke, kpi, ["--period", "2026-09", "--format", "csv", "--trust", "rhm"], obj=gw.settings
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert {(r["provider"], r["trust"]) for r in rows} == {
        ("", ""),
        ("VNFKT", ""),
        ("VNCEL", ""),
        ("", "RHM"),
        ("VNFKT", "RHM"),
        ("VNCEL", "RHM"),
    }
    got = {(r["level"], r["measure"], r["group"], r["metric"]): r["value"] for r in rows}
    assert got[("all", ACK, "median", "score")] == "5.3"
    assert got[("all", "hgw-kpi-cancellations", "cancellations", "numerator")] == "1"
    assert got[("all", "hgw-kpi-cancellations", "cancellations", "denominator")] == "3"
    bad = await asyncio.to_thread(CliRunner().invoke, kpi, ["--period", "2026-13"], obj=gw.settings)
    assert bad.exit_code == 1 and json.loads(bad.output)["issues"][0]["expression"] == "period"
    assert "kpi" in (await asyncio.to_thread(CliRunner().invoke, cli, ["--help"])).output


async def _http_checks(clients: dict[str, httpx.AsyncClient], url: str, octo: KpiReport) -> None:
    operator, trust, provider = clients["operator"], clients["trust"], clients["other_provider"]
    r = await operator.get("/api/v1/kpis", params={"period": "2026-10"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert (body["period"], body["as_of"], body["ack_target_hours"], body["horizon_days"]) == (
        "2026-10",
        "2026-10-20",
        48,
        14,
    )
    whole = next(c for c in body["cells"] if c["level"] == "all")
    assert whole["kpis"][WITHIN]["within-target"] == {
        "score": 75.0,
        "unit": "%",
        "populations": {"initial-population": 5, "denominator-exclusion": 1, "denominator": 4, "numerator": 3},
    }
    assert whole["kpis"][PATIENTS_AT_RISK]["at-risk"]["populations"] == {"initial-population": 1}
    assert len(body["cells"]) == len(octo.cells)

    # Tenancy: a trust sees its own prescriptions only, a provider its own; naming another tenant is refused.
    mine = (await trust.get("/api/v1/kpis", params={"period": "2026-09"})).json()
    assert {c["trust"] for c in mine["cells"]} == {None, "RBA"} and mine["trust"] == "RBA"
    rba = next(c for c in mine["cells"] if c["level"] == "all")
    assert rba["kpis"][ACK]["median"]["populations"]["initial-population"] == 4  # A, B, E, F
    theirs = (await provider.get("/api/v1/kpis", params={"period": "2026-09"})).json()
    assert {c["provider"] for c in theirs["cells"]} == {None, "VNCEL"}
    assert next(c for c in theirs["cells"] if c["level"] == "all")["kpis"][ACK]["median"]["score"] == 5.3
    for client, params in ((trust, {"trust": "RHM"}), (provider, {"provider": "VNFKT"})):
        r = await client.get("/api/v1/kpis", params={"period": "2026-09", **params})
        assert r.status_code == 403, r.text
    async with httpx.AsyncClient(base_url=url) as anon:
        assert (await anon.get("/api/v1/kpis")).status_code == 401

    # Bad input: located, stable codes.
    for params, path, code in (
        ({"period": "2026-13"}, "period", "INVALID_PARAMETER"),
        ({"period": "2026-11"}, "period", "INVALID_PARAMETER"),  # not started on the gateway's clock
        ({"provider": "no such"}, "provider", "INVALID_PARAMETER"),
        ({"horizon_days": "0"}, "horizon_days", "INVALID_PARAMETER"),
        ({"format": "xml"}, "format", "FORMAT_NOT_AVAILABLE"),
    ):
        r = await operator.get("/api/v1/kpis", params=params)
        assert r.status_code == 400, (params, r.text)
        assert [(i["code"], i["expression"]) for i in r.json()["issues"]] == [(code, path)]

    # CSV: one row per population and score.
    r = await operator.get("/api/v1/kpis", params={"period": "2026-10", "format": "csv", "provider": "VNCEL"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    got = {(r["level"], r["trust"], r["measure"], r["group"], r["metric"]): r["value"] for r in rows}
    assert got[("provider-trust", "RBA", FAILED, "trust", "numerator")] == "1"
    assert got[("provider-trust", "RBA", FAILED, "trust", "score")] == "50.0"

    # FHIR: a Bundle of MeasureReports that validate, for Measures the package defines.
    r = await operator.get("/api/v1/kpis", params={"period": "2026-09", "format": "fhir"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    bundle = r.json()
    Bundle.model_validate(bundle)
    reports = [e["resource"] for e in bundle["entry"]]
    for report in reports:
        MeasureReport.model_validate(report)
    defined = {json.loads(p.read_text())["url"] for p in (PACKAGE_DIR / "Measure").glob("*.json")}
    assert {rep["measure"].split("|")[0] for rep in reports} == defined - {
        cat.MEASURE_BASE + PATIENTS_AT_RISK,
        cat.MEASURE_BASE + RX_AT_RISK,
    }
    ack = next(rep for rep in reports if rep["measure"].startswith(cat.MEASURE_BASE + WITHIN))
    assert ack["period"] == {"start": "2026-09-01", "end": "2026-09-30"}
    [group] = ack["group"]
    assert {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]} == {
        "initial-population": 7,
        "denominator-exclusion": 2,
        "denominator": 5,
        "numerator": 4,
    }
    assert group["measureScore"]["value"] == 80.0
    by_provider = next(s for s in group["stratifier"] if s["code"][0]["text"] == "provider")
    scores = {s["value"]["coding"][0]["code"]: s.get("measureScore", {}).get("value") for s in by_provider["stratum"]}
    assert scores == {"VNCEL": 100.0, "VNFKT": 66.7}
