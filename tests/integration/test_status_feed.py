"""The trust's status feed over a real loopback server, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from adapters.jac.status import STATUS_COLUMNS
from conformance.parties import provider_messages as msg
from gateway.context import Gateway
from gateway.lifecycle import status_formats
from gateway.lifecycle.status_feed import SETTLE, encode_cursor
from tests.integration.helpers import export, post_export, post_fhir

FEED = "/api/v1/status-feed"


async def _page(client: httpx.AsyncClient, since: str | None = None, **params: Any) -> dict[str, Any]:
    r = await client.get(FEED, params={**params, **({"since": since} if since else {})})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert r.headers["x-next-cursor"] == body["next_cursor"]
    assert f"since={body['next_cursor']}" in r.headers["link"] and 'rel="next"' in r.headers["link"]
    return body


async def _release(provider: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT"))
    assert r.status_code == 200, r.text
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    return [e["resource"] for e in passed["resource"].get("entry", [])]


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    issue: dict[str, Any] = r.json()["issues"][0]
    return issue


async def test_pages_in_order_while_events_arrive_and_csv_matches_json(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    sids = [
        p["short_form_id"]
        for p in (await post_export(trust, export(3, seed=71, max_deliveries=1))).json()["prescriptions"]
    ]
    other = (await post_export(as_party("other_trust"), export(1, seed=72, trust_ods="RHM"))).json()
    assert other["outcome"] == "accepted"
    facts: dict[str, Any] = {}

    async def release() -> None:
        orders = await _release(provider)
        assert len(orders) == 4  # the other trust's order too: its events interleave with ours
        facts.update(msg.order_facts(next(o for o in orders if msg.order_facts(o)["short_form_id"] == sids[0])))

    async def ack() -> None:
        body = msg.acknowledgement("VNFKT", facts["message_id"], "x")
        assert (await post_fhir(provider, "/FHIR/R4/$process-message", body)).status_code == 200

    def task(state: str) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            r = await post_fhir(provider, "/FHIR/R4/Task", msg.delivery_task("VNFKT", facts, 1, state))
            assert r.status_code == 201, r.text

        return send

    async def dispense() -> None:
        body = msg.dispense_notification("VNFKT", facts, 1, "x", datetime.now(UTC))
        assert (await post_fhir(provider, "/FHIR/R4/$process-message", body)).status_code == 200

    arrivals = [release, ack, task("scheduled"), task("dispatched"), dispense, task("delivered")]
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(40):
        body = await _page(trust, cursor, limit=2)
        assert len(body["events"]) <= 2
        seen += body["events"]
        cursor = body["next_cursor"]
        if arrivals:
            await arrivals.pop(0)()  # new events land between pages
        elif not body["events"] and not body["has_more"]:
            break
    assert not arrivals

    ids = [e["event_id"] for e in seen]
    assert ids == sorted(set(ids))  # in order, no duplicates
    timelines = [(await trust.get(f"/api/v1/prescriptions/{sid}")).json()["timeline"] for sid in sids]
    expected = Counter((sid, e["kind"]) for sid, tl in zip(sids, timelines, strict=True) for e in tl)
    assert Counter((e["short_form_id"], e["kind"]) for e in seen) == expected  # no gaps
    assert {e["trust_ods"] for e in seen} == {"RBA"}

    first = [e for e in seen if e["short_form_id"] == sids[0]]
    status = {e["kind"]: (e["status"] or {}).get("code") for e in first}
    assert status["received"] == "0001" and status["released"] == "0001"  # the status after each event
    assert status["acknowledged"] == "0002" and status["delivery-scheduled"] == "0002"
    assert status["delivery-delivered"] == "0006"
    assert [e["delivery_state"] for e in first if e["kind"].startswith("delivery-")] == [
        "scheduled",
        "dispatched",
        "delivered",
    ]
    assert all(e["provider_ods"] == "VNFKT" for e in first)
    assert next(e for e in first if e["kind"] == "acknowledged")["message_id"] == facts["message_id"]

    # The whole feed again, as JSON and as the JAC-style status CSV: the same events, cell for cell.
    everything = await _page(trust, limit=1000)
    assert [e["event_id"] for e in everything["events"]] == ids
    r = await trust.get(FEED, params={"format": "csv", "limit": 1000})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-next-cursor"] == everything["next_cursor"]
    assert r.content.startswith(b"\xef\xbb\xbf") and r.content.count(b"\r\n") == len(ids) + 1
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == list(STATUS_COLUMNS)
    for row, e in zip(rows, everything["events"], strict=True):
        at = datetime.fromisoformat(e["at"])
        assert row["EventId"] == str(e["event_id"])
        assert row["EventTimeUTC"] == at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (row["TrustODS"], row["RxNumber"], row["RxVersion"]) == ("RBA", e["rx_number"], str(e["rx_version"]))
        assert (row["ShortFormId"], row["Event"]) == (e["short_form_id"], e["kind"])
        assert row["StatusCode"] == (e["status"] or {}).get("code", "")
        assert row["StatusText"] == (e["status"] or {}).get("display", "")
        assert row["DeliveryState"] == (e["delivery_state"] or "")
        assert (row["ProviderODS"], row["ActorODS"]) == (e["provider_ods"] or "", e["actor_ods"] or "")
        assert (row["MessageId"], row["Detail"]) == (e["message_id"] or "", e["detail"] or "")


async def test_only_the_calling_trust_and_located_refusals(
    trust: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    as_party: Callable[[str], httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await post_export(trust, export(2, seed=73))
    other = as_party("other_trust")
    empty = await _page(other)
    assert empty["events"] == [] and empty["has_more"] is False  # cross-tenant: nothing of RBA's
    again = await _page(other, empty["next_cursor"])  # an empty page's cursor is a good cursor
    assert again["events"] == [] and again["next_cursor"] == empty["next_cursor"]
    await post_export(other, export(1, seed=74, trust_ods="RHM"))
    own = await _page(other, empty["next_cursor"])
    assert {e["trust_ods"] for e in own["events"]} == {"RHM"} and len(own["events"]) == 2
    assert {e["trust_ods"] for e in (await _page(trust))["events"]} == {"RBA"}

    assert _error(await provider.get(FEED), 403)["code"] == "FORBIDDEN"
    assert _error(await as_party("operator").get(FEED), 403)["code"] == "FORBIDDEN"
    assert (await anon.get(FEED)).status_code == 401

    for bad in ("not-a-cursor!", "djE6LTE", encode_cursor(10**9)):  # junk, "v1:-1", no such event
        issue = _error(await trust.get(FEED, params={"since": bad}), 400)
        assert (issue["code"], issue["expression"], issue["value"]) == ("INVALID_CURSOR", "since", bad)
    for bad in ("0", "1001", "ten"):
        issue = _error(await trust.get(FEED, params={"limit": bad}), 400)
        assert (issue["code"], issue["expression"]) == ("INVALID_LIMIT", "limit")

    # Not registered (yet): a clean, located 400. Registered through the hook: served.
    monkeypatch.setattr(status_formats, "FORMATS", {k: v for k, v in status_formats.FORMATS.items() if k != "xml"})
    issue = _error(await trust.get(FEED, params={"format": "xml"}), 400)
    assert (issue["code"], issue["expression"], issue["value"]) == ("FORMAT_NOT_AVAILABLE", "format", "xml")
    status_formats.register_status_format("xml", "application/xml", lambda page: b"<feed n='%d'/>" % len(page.events))
    r = await trust.get(FEED, params={"format": "xml"})
    assert (r.status_code, r.headers["content-type"], r.content) == (200, "application/xml", b"<feed n='4'/>")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_waits_for_writes_in_flight_and_passes_rolled_back_ids(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, gw: Gateway
) -> None:
    """PostgreSQL only: there, ids can commit out of order (SQLite runs one writer at a time). The write in flight
    is another prescription's (for VNCEL): one prescription's own writers take turns (migration 0021)."""
    other = (await post_export(trust, export(1, seed=76, provider_ods="VNCEL"))).json()["prescriptions"][0]
    prescription = (await post_export(trust, export(1, seed=75))).json()["prescriptions"][0]
    start = (await _page(trust))["next_cursor"]
    insert = text(
        "INSERT INTO lifecycle_event (prescription_id, at, kind) VALUES (:p, :at, 'test-in-flight') RETURNING id"
    )

    # A write that drew an id and has not committed, while a later id commits: the feed waits for it.
    async with gw.engine.connect() as slow:
        in_flight = (await slow.execute(insert, {"p": other["prescription_id"], "at": gw.clock()})).scalar_one()
        [order] = await _release(provider)  # commits event in_flight + 1
        held = await _page(trust, start)
        assert (held["events"], held["next_cursor"], held["has_more"]) == ([], start, False)
        await slow.commit()
    both = await _page(trust, start)
    assert [e["event_id"] for e in both["events"]] == [in_flight, in_flight + 1]
    assert [e["kind"] for e in both["events"]] == ["test-in-flight", "released"]

    # A write that rolled back leaves a hole for good: passed over once the next event is older than SETTLE.
    async with gw.engine.connect() as failed:
        await failed.execute(insert, {"p": prescription["prescription_id"], "at": gw.clock()})
        await failed.rollback()
    facts = msg.order_facts(order)
    r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", facts["message_id"], "x"))
    assert r.status_code == 200
    assert (await _page(trust, both["next_cursor"]))["events"] == []
    real_clock = gw.clock
    gw.clock = lambda: real_clock() + SETTLE + timedelta(seconds=1)
    late = await _page(trust, both["next_cursor"])
    assert [e["kind"] for e in late["events"]] == ["acknowledged"]


async def test_xml_format_is_valid_ascribe_status_and_matches_json(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    from lxml import etree  # type: ignore[import-untyped]

    from adapters.ascribe.status import NAMESPACE, status_schema
    from tests.integration.helpers import export, post_export

    await post_export(trust, export(2, seed=71))
    await _release(provider)
    as_json = await _page(trust)
    r = await trust.get(FEED, params={"format": "xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(r.content, etree.XMLParser(resolve_entities=False, no_network=True))
    status_schema().assertValid(doc)
    events = doc.findall(f"{{{NAMESPACE}}}Event")
    assert [int(e.get("id")) for e in events] == [e["event_id"] for e in as_json["events"]]
    assert [e.findtext(f"{{{NAMESPACE}}}Kind") for e in events] == [e["kind"] for e in as_json["events"]]
    assert doc.get("nextCursor") == as_json["next_cursor"]


async def test_hl7v2_format_is_a_batch_of_order_status_updates(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    import hl7

    from tests.integration.helpers import export, post_export

    await post_export(trust, export(2, seed=72))
    await _release(provider)
    as_json = await _page(trust)
    r = await trust.get(FEED, params={"format": "hl7v2"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("x-application/hl7-v2+er7")
    batch = hl7.parse_batch(r.text)
    messages = list(batch)
    assert len(messages) == len(as_json["events"])
    for message, event in zip(messages, as_json["events"], strict=True):
        orc = message.segment("ORC")
        assert str(orc[1]) == "SC"
        assert str(orc[3][0][0]) == event["short_form_id"]
        assert str(orc[2][0][0]) == event["rx_number"]
        assert str(message.segment("MSH")[9]) == "OSU^O51^OSU_O51"
    assert as_json["next_cursor"] in r.text
