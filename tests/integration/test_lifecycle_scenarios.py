"""The prescription lifecycle over real HTTP, on SQLite and PostgreSQL: each scenario asserts the states, the
events the trust sees on GET /api/v1/prescriptions/{id}, the EPS-style tracker, and the refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
from click.testing import CliRunner

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.context import Gateway
from gateway.lifecycle.cli import lifecycle
from gateway.validator.profiles import HOMECARE_DISPENSE_NOTIFICATION
from gateway.validator.validator import Validator
from tests.integration.helpers import error_codes, post_export, post_fhir

TASK = "/FHIR/R4/Task"
MESSAGE = "/FHIR/R4/$process-message"
INVALID = ["PRESCRIPTION_INVALID_STATE_TRANSITION"]
HANDED_OVER = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


# --- helpers ---------------------------------------------------------------------------------------------------------
async def _prescription(
    trust: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    seed: int,
    *,
    deliveries: int = 2,
    lines: int = 1,
    acknowledge: bool = True,
    **change: str,
) -> dict[str, Any]:
    """A prescription of RBA released to VNFKT (and acknowledged): its order facts."""
    sid = await _export(trust, _rows(seed, lines, NumberOfDeliveries=str(deliveries), DaysPerDelivery="28", **change))
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT", short_form_id=sid))
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    facts = msg.order_facts(passed["resource"]["entry"][0]["resource"])
    assert len(facts["requests"]) == lines
    if acknowledge:
        ack = msg.acknowledgement("VNFKT", facts["message_id"], "x")
        assert (await post_fhir(provider, MESSAGE, ack)).status_code == 200
    return facts


def _rows(seed: int, lines: int = 1, **change: str) -> list[dict[str, str]]:
    rows = export_rows(1, seed=seed)[:lines]
    for row in rows:
        row.update(change)
    return rows


async def _export(trust: httpx.AsyncClient, rows: list[dict[str, str]]) -> str:
    r = await post_export(trust, render_export(rows))
    assert r.status_code == 200, r.text
    return str(r.json()["prescriptions"][0]["short_form_id"])


async def _view(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/prescriptions/{sid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _state(client: httpx.AsyncClient, sid: str) -> tuple[str, list[str]]:
    view = await _view(client, sid)
    return view["status"]["code"], [i["status"]["code"] for i in view["items"]]


async def _events(client: httpx.AsyncClient, sid: str, *kinds: str) -> list[dict[str, Any]]:
    return [e for e in (await _view(client, sid))["timeline"] if not kinds or e["kind"] in kinds]


async def _task(provider: httpx.AsyncClient, task: dict[str, Any], status: int = 201) -> httpx.Response:
    r = await post_fhir(provider, TASK, task)
    assert r.status_code == status, r.text
    return r


async def _deliver(provider: httpx.AsyncClient, facts: dict[str, Any], number: int, *, dispense: bool = True) -> None:
    """One whole delivery: scheduled, dispatched, (dispense notification,) delivered."""
    for state in ("scheduled", "dispatched"):
        await _task(provider, msg.delivery_task("VNFKT", facts, number, state, scheduled=date(2026, 12, number)))
    if dispense:
        dn = msg.dispense_notification("VNFKT", facts, number, "x", datetime(2026, 12, number, 10, tzinfo=UTC))
        assert (await post_fhir(provider, MESSAGE, dn)).status_code == 200
    at = datetime(2026, 12, number, 11, tzinfo=UTC)
    await _task(provider, msg.delivery_task("VNFKT", facts, number, "delivered", at=at, recipient="the patient"))


async def _tracker(client: httpx.AsyncClient, sid: str, status: int = 200) -> dict[str, Any]:
    r = await client.get(TASK, params={"focus:identifier": f"https://fhir.nhs.uk/Id/prescription-order-number|{sid}"})
    assert r.status_code == status, r.text
    return dict(r.json())


def _collapsed(kinds: list[str]) -> list[str]:
    return [k for n, k in enumerate(kinds) if n == 0 or kinds[n - 1] != k]


# --- scenarios -------------------------------------------------------------------------------------------------------
async def test_full_course_of_deliveries(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 101, deliveries=3)
    sid = facts["short_form_id"]
    assert await _state(trust, sid) == ("0002", ["0008"])
    await _deliver(provider, facts, 1)
    assert await _state(trust, sid) == ("0003", ["0003"])
    await _deliver(provider, facts, 2)
    await _deliver(provider, facts, 3)
    view = await _view(trust, sid)
    assert (view["status"]["code"], view["deliveries_made"], view["supply_until"]) == ("0006", 3, "2026-12-31")
    assert [i["status"]["code"] for i in view["items"]] == ["0001"]
    kinds = [e["kind"] for e in view["timeline"]]
    one_delivery = ["delivery-scheduled", "delivery-dispatched", "dispensed", "delivery-delivered"]
    assert _collapsed(kinds) == ["received", "queued", "released", "acknowledged", *one_delivery * 3]
    delivered = [e for e in view["timeline"] if e["kind"] == "delivery-delivered"]
    assert [e["status"] for e in delivered] == ["0003", "0003", "0006"]
    assert delivered[-1]["detail"].startswith("delivery 3 of 3: delivered; 3 of 3 made, supply until 2026-12-31")
    assert "recipient recorded" in delivered[-1]["detail"] and "the patient" not in json.dumps(view)

    tracker = await _tracker(trust, sid)
    main, *delivery_tasks = [e["resource"] for e in tracker["entry"]]
    assert main["businessStatus"]["coding"][0]["code"] == "0006" and main["status"] == "completed"
    assert main["for"]["identifier"]["value"] == facts["nhs_number"]
    assert [i["extension"][0]["extension"][0]["valueCoding"]["code"] for i in main["input"]] == ["0001"]
    assert len(main["output"]) == 3  # three dispense notifications count
    assert [(t["businessStatus"]["coding"][0]["code"], t["status"]) for t in delivery_tasks] == [
        ("delivered", "completed")
    ] * 3
    assert tracker == {**(await _tracker(provider, sid)), "id": tracker["id"], "meta": tracker["meta"]}

    # Nothing more to deliver: a fourth delivery is not authorised, a new schedule is refused.
    r = await _task(provider, msg.delivery_task("VNFKT", facts, 4, "scheduled"), 400)
    assert r.json()["issue"][0]["diagnostics"].startswith("the prescription authorises 3 deliveries")
    r = await _task(provider, msg.delivery_task("VNFKT", facts, 3, "scheduled"), 409)
    assert error_codes(r.json()) == INVALID
    await _tracker(other_provider, sid, 404)


async def test_prescription_due_is_asked_and_answered(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 102, deliveries=1)
    sid = facts["short_form_id"]
    queued = await _prescription(trust, provider, 103, acknowledge=False)
    r = await _task(provider, msg.provider_request("VNFKT", queued, "prescription-due"), 409)
    assert error_codes(r.json()) == INVALID  # not yet accepted by the provider
    await _deliver(provider, facts, 1)
    due = msg.provider_request("VNFKT", facts, "prescription-due", due=date(2026, 12, 20))
    r = await _task(provider, due)
    task_id = r.json()["issue"][0]["diagnostics"].split("Task/")[1].split()[0]
    await _task(provider, due, 200)  # a resend raises nothing new
    [event] = await _events(trust, sid, "prescription-due")
    assert event["detail"] == f"next prescription needed by 2026-12-20 (request {task_id})"
    assert event["actor_ods"] == "VNFKT"

    r = await trust.get(f"{TASK}/{task_id}")
    assert r.status_code == 200 and r.json()["restriction"]["period"]["end"] == "2026-12-20"
    r = await trust.put(f"{TASK}/{task_id}", json=msg.trust_answer(r.json(), "RX HC-102 version 2 sent"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["output"][0]["valueString"]) == ("completed", "RX HC-102 version 2 sent")
    [answered] = await _events(trust, sid, "prescription-due-answered")
    assert answered["detail"] == f"completed by RBA (request {task_id})"
    assert (await other_provider.get(f"{TASK}/{task_id}")).status_code == 404
    tracker = await _tracker(provider, sid)
    assert [t["resource"]["code"]["coding"][0]["code"] for t in tracker["entry"][2:]] == ["prescription-due"]


async def test_partial_owing_several_products_amendment_and_withdrawal(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 104, deliveries=2, lines=2)
    sid = facts["short_form_id"]
    first = msg.dispense(
        "VNFKT",
        facts,
        {0: "0003", 1: "0004"},
        products={0: [("15517911000001104", "Methotrexate 10mg", 2), ("37571311000001104", "Methofill 10mg", 2)]},
        reasons={1: ("0003", "Owings note issued to patient")},
        handed_over=HANDED_OVER,
    )
    issues = Validator.from_package().validate(first, HOMECARE_DISPENSE_NOTIFICATION)
    assert [i for i in issues if i.severity in ("error", "fatal")] == []
    assert (await post_fhir(provider, MESSAGE, first)).status_code == 200
    assert await _state(trust, sid) == ("0003", ["0003", "0004"])
    line1, line2 = await _events(trust, sid, "dispensed")
    unit = facts["requests"][0]["dispenseRequest"]["quantity"]["unit"]
    assert line1["detail"] == (
        f"line 1: Item dispensed - partial, 2 products: 2 {unit} of 15517911000001104 + 2 {unit} of 37571311000001104"
    )
    assert line2["detail"] == "line 2: Item not dispensed owing (reason 0003 Owings note issued to patient)"

    # The amendment replaces the first notification's effect: line 2 is now not dispensed, with its reason.
    amended = msg.dispense(
        "VNFKT",
        facts,
        {0: "0003", 1: "0002"},
        reasons={1: ("0002", "Clinically unsuitable")},
        replaces=first["id"],
        handed_over=HANDED_OVER,
    )
    assert (await post_fhir(provider, MESSAGE, amended)).status_code == 200
    assert await _state(trust, sid) == ("0003", ["0003", "0002"])
    amendment = (await _events(trust, sid, "dispense-amended"))[0]
    assert amendment["detail"].startswith(f"amends dispense notification {first['id']}: line 1:")
    outputs = (await _tracker(trust, sid))["entry"][0]["resource"]["output"]
    assert [o["valueReference"]["identifier"]["value"] for o in outputs] == [amended["id"]]

    # Not the latest any more:
    stale = msg.dispense("VNFKT", facts, {0: "0001"}, replaces=first["id"], handed_over=HANDED_OVER)
    r = await post_fhir(provider, MESSAGE, stale)
    assert (r.status_code, error_codes(r.json())) == (409, ["CONFLICT"])
    no_reason = msg.dispense("VNFKT", facts, {1: "0002"})
    r = await post_fhir(provider, MESSAGE, no_reason)
    [issue] = r.json()["issue"]
    assert r.status_code == 400 and issue["expression"] == ["Bundle.entry[1].resource"]
    assert issue["diagnostics"].startswith("hgw-md-2: an item not dispensed says why")
    assert await _state(trust, sid) == ("0003", ["0003", "0002"])  # refusals change nothing

    # Withdrawing the amendment: nothing supplied counts any more (the replaced notification stays replaced).
    withdraw = msg.withdraw_task("VNFKT", facts, amended["id"])
    r = await _task(provider, withdraw)
    assert r.json()["issue"][0]["diagnostics"] == f"dispense notification {amended['id']} withdrawn"
    assert await _state(trust, sid) == ("0002", ["0008", "0008"])
    await _task(provider, withdraw, 200)  # the same withdrawal again changes nothing
    [event] = await _events(trust, sid, "dispense-withdrawn")
    assert event["status"] == "0002"
    assert event["detail"] == (
        f"dispense notification {amended['id']} withdrawn (MU Medication Update); "
        "0003 → 0002; line 1 0003 → 0008; line 2 0002 → 0008"
    )
    r = await _task(provider, msg.withdraw_task("VNFKT", facts, amended["id"]), 409)  # nothing left to withdraw
    assert error_codes(r.json()) == ["CONFLICT"]

    # Not dispensed at all: 0007, and then nothing more is delivered.
    reasons = {0: ("0002", "Clinically unsuitable"), 1: ("0002", "Clinically unsuitable")}
    none = msg.dispense("VNFKT", facts, {0: "0002", 1: "0002"}, reasons=reasons, declared="0007")
    assert (await post_fhir(provider, MESSAGE, none)).status_code == 200
    assert await _state(trust, sid) == ("0007", ["0002", "0002"])
    r = await _task(provider, msg.delivery_task("VNFKT", facts, 1, "scheduled"), 409)
    assert error_codes(r.json()) == INVALID

    # The trust's status feed carries the same events, in every format.
    for fmt in ("csv", "xml", "hl7v2"):
        assert (await trust.get("/api/v1/status-feed", params={"format": fmt, "limit": 1000})).status_code == 200
    feed = (await trust.get("/api/v1/status-feed", params={"limit": 1000})).json()["events"]
    timeline = await _events(trust, sid)
    assert [(e["kind"], e["detail"]) for e in feed] == [(e["kind"], e["detail"]) for e in timeline]


async def test_withdrawing_the_last_supply_reopens_a_dispensed_prescription(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 105, deliveries=1)
    sid = facts["short_form_id"]
    dn = msg.dispense_notification("VNFKT", facts, 1, "x", datetime(2026, 12, 1, tzinfo=UTC))
    assert (await post_fhir(provider, MESSAGE, dn)).status_code == 200
    assert await _state(trust, sid) == ("0006", ["0001"])
    await _task(provider, msg.withdraw_task("VNFKT", facts, dn["identifier"]["value"]))  # by Bundle.identifier
    assert await _state(trust, sid) == ("0002", ["0008"])
    again = msg.dispense_notification("VNFKT", facts, 1, "x", datetime(2026, 12, 2, tzinfo=UTC))
    assert (await post_fhir(provider, MESSAGE, again)).status_code == 200
    assert await _state(trust, sid) == ("0006", ["0001"])


async def test_failed_and_rearranged_delivery(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    facts = await _prescription(trust, provider, 106, deliveries=2)
    sid = facts["short_form_id"]

    def task(number: int, state: str, **kw: Any) -> dict[str, Any]:
        return msg.delivery_task("VNFKT", facts, number, state, **kw)

    await _task(provider, task(1, "scheduled", scheduled=date(2026, 12, 1), window="08:00-12:00"))
    r = await _task(provider, task(1, "failed"), 400)
    assert r.json()["issue"][0]["diagnostics"].startswith("a failed delivery says why")
    r = await _task(provider, task(1, "failed", reason="lost-in-space"), 400)
    assert r.json()["issue"][0]["expression"] == ["Task.input[1].valueCodeableConcept"]
    await _task(provider, task(1, "failed", reason="patient-not-available"))
    await _task(provider, task(1, "scheduled", scheduled=date(2026, 12, 3)))  # re-arranged
    await _task(provider, task(1, "dispatched"))
    await _task(provider, task(1, "returned", reason="cold-chain-failure"))
    await _task(provider, task(1, "dispatched"))  # sent again at once
    await _task(provider, task(1, "delivered", at=datetime(2026, 12, 3, 15, tzinfo=UTC)))
    assert await _state(trust, sid) == ("0003", ["0008"])  # supplied by delivery, no dispense notification yet
    details = [e["detail"] for e in await _events(trust, sid) if e["kind"].startswith("delivery-")]
    assert details == [
        "delivery 1 of 2: scheduled for 2026-12-01 08:00-12:00",
        "delivery 1 of 2: failed (patient-not-available Patient not available, attributable to the patient)",
        "delivery 1 of 2: scheduled, re-arranged after it failed for 2026-12-03",
        "delivery 1 of 2: dispatched",
        "delivery 1 of 2: returned (cold-chain-failure Cold chain failure, attributable to the provider)",
        "delivery 1 of 2: dispatched",
        "delivery 1 of 2: delivered; 1 of 2 made, supply until 2026-12-31; 0002 → 0003",
    ]
    await _deliver(provider, facts, 2, dispense=False)
    assert await _state(trust, sid) == ("0006", ["0001"])  # all authorised deliveries made: complete
    last = (await _events(trust, sid, "delivery-delivered"))[-1]
    assert last["status"] == "0006" and last["detail"].endswith("0003 → 0006; line 1 0008 → 0001")
    task_states = [t["resource"]["businessStatus"]["coding"][0]["code"] for t in (await _tracker(trust, sid))["entry"]]
    assert task_states == ["0006", "delivered", "delivered"]


async def test_provider_rejection_reaches_the_trust(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    facts = await _prescription(trust, provider, 107, acknowledge=False)
    sid = facts["short_form_id"]
    body = msg.rejection("VNFKT", facts["message_id"], "x", [("PATIENT_NOT_IN_AREA", "Patient outside our area")])
    assert [i for i in Validator.from_package().validate(body) if i.severity in ("error", "fatal")] == []
    r = await post_fhir(provider, MESSAGE, body)
    assert r.status_code == 200, r.text
    [event] = await _events(trust, sid, "provider-rejected")
    assert (event["detail"], event["actor_ods"]) == ("PATIENT_NOT_IN_AREA Patient outside our area", "VNFKT")
    view = await _view(trust, sid)
    assert view["status"]["code"] == "0001" and view["messages"][0]["state"] == "rejected"
    # The provider no longer holds it: the trust's cancel is immediate.
    rows = _rows(107, NumberOfDeliveries="2", DaysPerDelivery="28", Action="CANCEL", CancelReason="x")
    assert (await post_export(trust, render_export(rows))).json()["prescriptions"][0]["outcome"] == "cancelled"
    assert await _state(trust, sid) == ("0005", ["0005"])


async def test_provider_return_hands_the_order_back(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    facts = await _prescription(trust, provider, 108)
    sid = facts["short_form_id"]
    await _task(provider, msg.return_task("VNFKT", facts))
    assert await _state(trust, sid) == ("0001", ["0007"])
    [event] = await _events(trust, sid, "returned")
    assert event["detail"].startswith("returned by VNFKT (0003 Patient requested release)")
    await _task(provider, msg.return_task("VNFKT", facts), 200)
    supplied = await _prescription(trust, provider, 109)
    await _deliver(provider, supplied, 1)
    r = await _task(provider, msg.return_task("VNFKT", supplied), 409)  # dispensing has started
    assert error_codes(r.json()) == INVALID


async def test_clinical_query_raised_and_answered(
    as_party: Any, trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 110, acknowledge=False)  # a query may come before accepting
    sid = facts["short_form_id"]
    query = msg.provider_request("VNFKT", facts, "clinical-query", question="Weekly or daily? The dose reads 10mg OD.")
    r = await _task(provider, query)
    task_id = r.json()["issue"][0]["diagnostics"].split("Task/")[1].split()[0]
    [raised] = await _events(trust, sid, "query-raised")
    assert "Weekly" not in raw_timeline(await _view(trust, sid)) and task_id in raised["detail"]
    r = await trust.get(f"{TASK}/{task_id}")
    assert r.json()["description"] == "Weekly or daily? The dose reads 10mg OD." and r.json()["status"] == "requested"
    for outsider in (other_provider, as_party("other_trust")):
        assert (await outsider.get(f"{TASK}/{task_id}")).status_code == 404
    answer = msg.trust_answer(r.json(), "Weekly: 10mg once a week on Mondays.")
    assert (await provider.put(f"{TASK}/{task_id}", json=answer)).status_code == 403
    assert (await as_party("other_trust").put(f"{TASK}/{task_id}", json=answer)).status_code == 404
    assert (await trust.put(f"{TASK}/{task_id}", json=answer)).status_code == 200
    r = await provider.get(f"{TASK}/{task_id}")
    assert (r.json()["status"], r.json()["output"][0]["valueString"]) == (
        "completed",
        "Weekly: 10mg once a week on Mondays.",
    )
    r = await trust.put(f"{TASK}/{task_id}", json=answer)
    assert (r.status_code, error_codes(r.json())) == (409, ["CONFLICT"])
    kinds = [e["kind"] for e in await _events(trust, sid, "query-raised", "query-answered")]
    assert kinds == ["query-raised", "query-answered"]


def raw_timeline(view: dict[str, Any]) -> str:
    return json.dumps(view["timeline"])


async def test_expiry_by_the_cli(gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    active = await _prescription(trust, provider, 111, deliveries=2)  # signed 2026-11-21: valid to 2027-01-15
    await _deliver(provider, active, 1)
    leased = await _prescription(trust, provider, 112, acknowledge=False)
    queued = await _export(trust, _rows(116, NumberOfDeliveries="2", DaysPerDelivery="28"))
    reviewed = await _export(trust, _rows(113, NumberOfDeliveries="6", DaysPerDelivery="28", ReviewDate="01/12/2026"))
    done = await _prescription(trust, provider, 114, deliveries=1)
    await _deliver(provider, done, 1)

    async def expire(now: str) -> dict[str, Any]:
        result = await asyncio.to_thread(CliRunner().invoke, lifecycle, ["expire", "--now", now], obj=gw.settings)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))

    assert (await expire("2026-12-01T12:00:00+00:00"))["expired"] == []
    assert (await expire("2026-12-02T00:30:00+00:00"))["expired"] == [reviewed]  # its review date was 01/12
    report = await expire("2027-01-16T00:30:00+00:00")
    assert sorted(report["expired"]) == sorted([active["short_form_id"], leased["short_form_id"], queued])
    assert (await expire("2027-01-16T00:30:00+00:00"))["expired"] == []  # running again changes nothing
    assert await _state(trust, active["short_form_id"]) == ("0004", ["0006"])
    assert await _state(trust, leased["short_form_id"]) == ("0004", ["0006"])
    assert await _state(trust, queued) == ("0004", ["0006"])
    assert await _state(trust, done["short_form_id"]) == ("0006", ["0001"])
    [event] = await _events(trust, active["short_form_id"], "expired")
    assert event["detail"] == "validity ended 2027-01-15 (line 1: signed 2026-11-21 + 2 × 28 days)"

    # Nothing more is dispensed or delivered against an expired prescription.
    dn = msg.dispense_notification("VNFKT", active, 2, "x", datetime(2027, 1, 20, tzinfo=UTC))
    r = await post_fhir(provider, MESSAGE, dn)
    assert (r.status_code, error_codes(r.json())) == (409, INVALID)
    r = await _task(provider, msg.delivery_task("VNFKT", active, 2, "scheduled"), 409)
    assert error_codes(r.json()) == INVALID
    ack = msg.acknowledgement("VNFKT", leased["message_id"], "x")  # it expired before it was accepted
    assert (await post_fhir(provider, MESSAGE, ack)).status_code == 409
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT", short_form_id=queued))
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    assert passed["resource"]["total"] == 0  # the expired order never reaches the provider
    [expired] = await _events(trust, queued, "expired")
    assert expired["detail"].endswith("the order was withdrawn before the provider received it")


async def test_refused_transitions_change_nothing(
    as_party: Any, trust: httpx.AsyncClient, provider: httpx.AsyncClient, other_provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 115, acknowledge=False)
    sid = facts["short_form_id"]
    refusals = [
        (MESSAGE, msg.dispense_notification("VNFKT", facts, 1, "x", datetime(2026, 12, 1, tzinfo=UTC))),
        (TASK, msg.delivery_task("VNFKT", facts, 1, "scheduled")),
        (TASK, msg.return_task("VNFKT", facts)),
        (TASK, msg.provider_request("VNFKT", facts, "prescription-due")),
    ]
    for path, body in refusals:
        r = await post_fhir(provider, path, body)
        assert (r.status_code, error_codes(r.json())) == (409, INVALID), (path, r.text)
    r = await _task(provider, msg.withdraw_task("VNFKT", facts, "5AC84C11-DB8B-44DA-8FCF-8980B3D13596"), 404)
    ack = msg.acknowledgement("VNFKT", facts["message_id"], "x")
    assert (await post_fhir(provider, MESSAGE, ack)).status_code == 200
    r = await _task(provider, msg.delivery_task("VNFKT", facts, 1, "delivered"), 409)  # not dispatched
    assert error_codes(r.json()) == INVALID
    r = await _task(other_provider, msg.withdraw_task("VNCEL", facts, facts["message_id"]), 404)
    assert error_codes(r.json()) == ["RESOURCE_NOT_FOUND"]
    await _tracker(as_party("other_trust"), sid, 404)
    r = await trust.get(TASK)
    assert r.status_code == 400 and "focus:identifier" in r.json()["issue"][0]["diagnostics"]
    assert await _state(trust, sid) == ("0002", ["0008"])
    kinds = [e["kind"] for e in await _events(trust, sid)]
    assert kinds == ["received", "queued", "released", "acknowledged"]
