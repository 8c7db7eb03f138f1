"""The demo's months of history (gateway/simulate/demo_history.py) give every KPI chart several months and the at-risk
list real entries: patients of the quiet and paused providers, deliveries not scheduled, missed doses counted."""

from __future__ import annotations

from gateway.audit.actor import SYSTEM
from gateway.context import Gateway
from gateway.fhir.datatypes import uk_date
from gateway.kpis.missed_dose_rates import missed_dose_report
from gateway.kpis.monthly import Period, build_reports
from gateway.safety.at_risk import worklist
from gateway.simulate.demo_history import MONTHS, seed_history


async def test_history_fills_the_charts_and_the_worklist(gw: Gateway) -> None:
    summary = await seed_history(gw, ("VNFKT", "VNCEL"))
    assert summary.prescriptions >= 20 and summary.deliveries >= 60 and summary.missed_doses >= 5
    today = uk_date(gw.clock())
    reasons = {code for r in (await worklist(gw, SYSTEM, as_of=today)).rows for code in r.reasons}
    assert {"provider-paused", "order-not-acknowledged", "delivery-not-scheduled"} <= reasons
    reports = await build_reports(gw, SYSTEM, last=Period.containing(gw.clock()), months=MONTHS)
    made = [r.cell() for r in reports]
    assert (
        sum(
            1
            for c in made
            if c is not None
            and c.measures["hgw-kpi-on-time-delivery"]["on-agreed-date"].populations.get("initial-population", 0) > 0
        )
        >= MONTHS - 1
    )
    missed = 0
    period = Period.containing(gw.clock())
    for _ in range(MONTHS + 1):
        report = await missed_dose_report(gw, SYSTEM, period=period, as_of=today)
        missed += next(c["missed_doses"] for c in report.cells if c["level"] == "all")
        period = period.previous()
    assert missed == summary.missed_doses
