"""Missed doses reported as FHIR AdverseEvents and counted, on SQLite and PostgreSQL: stored raw first, checked
with located errors, tenancy-checked, recorded once per AdverseEvent id, flagged when the at-risk list had shown
the treatment beforehand; the KPIs of a month as of a past day stay the same after later reports and deliveries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import func, select

from conformance.parties.exports import export_rows
from gateway.context import Gateway
from gateway.domain.principal import Role
from gateway.errors import InputError, NotFoundError
from gateway.fhir.datatypes import uk_date
from gateway.fhir.missed_dose_report import CAUSE_SYSTEM
from gateway.kpis.missed_dose_rates import missed_dose_report
from gateway.kpis.monthly import Period
from gateway.safety.missed_doses import report_missed_dose
from gateway.store.tables import InboundPayload
from tests.integration.test_kpis import _principal
from tests.integration.test_patients_at_risk import OPERATOR, Scenario, at

NOVEMBER = Period(2026, 11)


def adverse_event(sid: str, day: date, cause: str = "delivery-failed", **extra: Any) -> bytes:
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "actuality": "actual",
        "suspectEntity": [
            {"instance": {"identifier": {"system": "https://fhir.nhs.uk/Id/prescription-order-number", "value": sid}}}
        ],
        "date": day.isoformat(),
        "category": [{"coding": [{"system": CAUSE_SYSTEM, "code": cause}]}],
        "seriousness": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness", "code": "Serious"}]
        },
    }
    resource.update(extra)
    return json.dumps({k: v for k, v in resource.items() if v is not None}).encode()


async def _payloads(gw: Gateway) -> int:
    async with gw.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(InboundPayload))).one())


async def test_reports_are_checked_recorded_once_flagged_and_counted_as_of_a_day(gw: Gateway) -> None:
    h = Scenario(gw)
    flagged_sid = await h.new_patient(601, "VNFKT")  # on the list from 2026-11-10: never acknowledged
    supplied = await h.supplied(602, "VNCEL")  # delivered 2026-10-16, 28 days: covered until 11-13
    await h.schedule("VNCEL", supplied, 2, at(6, day=date(2026, 11, 1)))  # scheduled in time: never at risk
    vnfkt, vncel = _principal(Role.PROVIDER, "VNFKT"), _principal(Role.PROVIDER, "VNCEL")
    rba = _principal(Role.TRUST, "RBA")

    h.at(at(9, day=date(2026, 11, 14)))
    first = await report_missed_dose(gw, vnfkt, adverse_event(flagged_sid, date(2026, 11, 14), id="ae-1"))
    assert first.created and first.flagged
    again = await report_missed_dose(gw, vnfkt, adverse_event(flagged_sid, date(2026, 11, 14), id="ae-1"))
    assert (again.id, again.created) == (first.id, False)
    second = await report_missed_dose(
        gw, rba, adverse_event(supplied["short_form_id"], date(2026, 11, 13), "stock-unavailable", id="t-1")
    )
    assert second.created and not second.flagged

    # tenancy: another trust, or a provider the order never went to, finds nothing
    for principal, sid in ((_principal(Role.TRUST, "RHM"), flagged_sid), (vncel, flagged_sid)):
        with pytest.raises(NotFoundError):
            await report_missed_dose(gw, principal, adverse_event(sid, date(2026, 11, 14)))
    # bad input: located, and the raw AdverseEvent is kept all the same
    before = await _payloads(gw)
    for body, where in (
        (b"{not json", "AdverseEvent"),
        (adverse_event(flagged_sid, date(2026, 11, 14), actuality=None), "AdverseEvent.actuality"),
        (adverse_event(flagged_sid, date(2026, 11, 14), cause="bad-luck"), "AdverseEvent.category"),
        (adverse_event(flagged_sid, date(2026, 11, 14), date="14/11/2026"), "AdverseEvent.date"),
        (adverse_event(flagged_sid, date(2026, 11, 20)), "AdverseEvent.date"),  # still to come
        (
            adverse_event(
                flagged_sid,
                date(2026, 11, 14),
                subject={
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/nhs-number",
                        "value": export_rows(1, seed=9)[0]["NHSNumber"],
                    }
                },
            ),
            "AdverseEvent.subject.identifier.value",
        ),
    ):
        with pytest.raises(InputError) as refused:
            await report_missed_dose(gw, vnfkt, body)
        assert [i.location.path for i in refused.value.issues] == [where], body
    assert await _payloads(gw) == before + 6

    # the KPIs of November as of 11-14: two missed doses among two patients supplied in November
    as_of = date(2026, 11, 14)
    report = await missed_dose_report(gw, OPERATOR, period=NOVEMBER, as_of=as_of)
    [whole] = [c for c in report.cells if c["level"] == "all"]
    assert (whole["missed_doses"], whole["flagged"], whole["flagged_share"]) == (2, 1, "50.0")
    assert whole["by_cause"] == {"delivery-failed": 1, "stock-unavailable": 1}
    # patients supplied in November: only the VNCEL patient had a delivery (10-16) lasting into November
    assert (whole["patient_months"], whole["per_1000_patient_months"]) == (1, "2000.0")
    by_provider = {c["provider"]: c["missed_doses"] for c in report.cells if c["level"] == "provider"}
    assert by_provider == {"VNFKT": 1, "VNCEL": 1}
    trust_view = await missed_dose_report(gw, _principal(Role.TRUST, "RHM"), period=NOVEMBER, as_of=as_of)
    assert [c["missed_doses"] for c in trust_view.cells] == [0]

    # later reports and deliveries do not change November as of 11-14
    h.at(at(9, day=date(2026, 11, 20)))
    await report_missed_dose(gw, vnfkt, adverse_event(flagged_sid, date(2026, 11, 12), "order-not-processed"))
    await h.deliver("VNCEL", supplied, 2, date(2026, 11, 12), at(10, day=date(2026, 11, 20)))
    assert await missed_dose_report(gw, OPERATOR, period=NOVEMBER, as_of=as_of) == report
    later = await missed_dose_report(gw, OPERATOR, period=NOVEMBER, as_of=date(2026, 11, 20))
    assert [c["missed_doses"] for c in later.cells if c["level"] == "all"] == [3]
    assert report.as_csv().splitlines()[0].startswith("period,level,provider,trust,missed_doses,patient_months")


async def test_adverse_events_and_their_kpis_over_http(gw: Gateway, trust: httpx.AsyncClient, provider: Any) -> None:
    h = Scenario(gw)  # the real time: the parties' signed assertions are checked against it
    now = datetime.now(UTC).replace(microsecond=0)
    first = (uk_date(now) + timedelta(days=3)).strftime("%d/%m/%Y")
    sid = await h.prescribe("RBA", "VNFKT", 701, now - timedelta(hours=1), deliveries=3, FirstDeliveryDate=first)
    h.at(now)
    body = adverse_event(sid, uk_date(now), "order-not-processed", id="http-1")
    fhir = {"Content-Type": "application/fhir+json"}
    answer = await provider.post("/FHIR/R4/AdverseEvent", content=body, headers=fhir)
    assert answer.status_code == 201, answer.text
    resent = await provider.post("/FHIR/R4/AdverseEvent", content=body, headers=fhir)
    assert resent.status_code == 200 and "already recorded" in resent.json()["issue"][0]["diagnostics"]
    bad = await trust.post("/FHIR/R4/AdverseEvent", content=b"[]", headers=fhir)
    assert bad.status_code == 400
    kpis = (await trust.get("/api/v1/kpis/missed-doses")).json()
    [whole] = [c for c in kpis["cells"] if c["level"] == "all"]
    assert whole["missed_doses"] == 1 and whole["by_cause"] == {"order-not-processed": 1}
    assert (await trust.get("/api/v1/kpis/missed-doses", params={"format": "csv"})).text.startswith("period,level")

