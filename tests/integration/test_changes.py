"""AMEND and CANCEL with EPS semantics, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties import provider_messages as msg
from conformance.parties.exports import export_rows
from gateway.fhir.eps_acceptance import eps_acceptance
from tests.integration.helpers import post_export, post_fhir


def _rows(seed: int, **change: str) -> list[dict[str, str]]:
    rows = export_rows(1, seed=seed)
    for row in rows:
        row.update(change)
    return rows


async def _send(trust: httpx.AsyncClient, rows: list[dict[str, str]]) -> dict[str, Any]:
    r = await post_export(trust, render_export(rows))
    assert r.status_code in (200, 422), r.text
    result: dict[str, Any] = r.json()["prescriptions"][0]
    return result


async def _release(provider: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT"))
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")
    return [e["resource"] for e in passed["resource"].get("entry", [])]


async def _ack(provider: httpx.AsyncClient, order: dict[str, Any]) -> None:
    facts = msg.order_facts(order)
    r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", facts["message_id"], "x"))
    assert r.status_code == 200, r.text


async def _status(trust: httpx.AsyncClient, sid: str) -> tuple[str, set[str]]:
    view = (await trust.get(f"/api/v1/prescriptions/{sid}")).json()
    return view["status"]["code"], {i["status"]["code"] for i in view["items"]}


CANCEL = {"Action": "CANCEL", "CancelReason": "At the Patient's request"}


async def test_cancel_before_release_is_immediate(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    sid = (await _send(trust, _rows(51)))["short_form_id"]
    cancelled = await _send(trust, _rows(51, **CANCEL))
    assert (cancelled["outcome"], cancelled["short_form_id"]) == ("cancelled", sid)
    assert await _status(trust, sid) == ("0005", {"0005"})
    assert await _release(provider) == []  # the provider never sees it
    again = await _send(trust, _rows(51, **CANCEL))
    assert again["outcome"] == "duplicate"


async def test_cancel_after_release_waits_for_the_provider(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    sid = (await _send(trust, _rows(52)))["short_form_id"]
    [order] = await _release(provider)
    requested = await _send(trust, _rows(52, **CANCEL))
    assert requested["outcome"] == "cancellation-requested"
    assert await _release(provider) == []  # the cancel never overtakes the unacknowledged order
    await _ack(provider, order)
    assert (await _status(trust, sid))[0] == "0002"
    # One cancellation per line item (EPS cancels one line per message), in line order, one after another.
    lines = [r["id"] for r in msg.resources(order, "MedicationRequest")]
    assert len(lines) > 1
    for n, line in enumerate(lines, start=1):
        [cancel] = await _release(provider)
        assert msg.order_facts(cancel)["event"] == "prescription-order-update"
        requests = msg.resources(cancel, "MedicationRequest")
        assert [(r["id"], r["status"]) for r in requests] == [(line, "cancelled")]
        assert requests[0]["statusReason"]["coding"][0]["code"] == "0005"
        assert requests[0]["groupIdentifier"]["value"] == sid
        assert eps_acceptance(cancel) == []
        assert await _release(provider) == []  # the next line's waits for this one's acknowledgement
        await _ack(provider, cancel)
        status, items = await _status(trust, sid)
        if n < len(lines):  # the prescription is cancelled once every line is
            assert status == "0002" and "0005" in items and items - {"0005"}
    assert await _status(trust, sid) == ("0005", {"0005"})
    assert await _release(provider) == []
    timeline = [e["kind"] for e in (await trust.get(f"/api/v1/prescriptions/{sid}")).json()["timeline"]]
    assert timeline.index("cancellation-requested") < timeline.index("item-cancelled") < timeline.index("cancelled")
    assert timeline.count("item-cancelled") == len(lines) - 1 and timeline.count("cancelled") == 1


async def test_cancel_after_dispensing_is_refused(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    rows = _rows(53, NumberOfDeliveries="1")
    rows = rows[:1]  # one item
    sid = (await _send(trust, rows))["short_form_id"]
    [order] = await _release(provider)
    await _ack(provider, order)
    facts = msg.order_facts(order)
    dn = msg.dispense_notification("VNFKT", facts, 1, "x", datetime.now(UTC))
    assert (await post_fhir(provider, "/FHIR/R4/$process-message", dn)).status_code == 200
    assert (await _status(trust, sid))[0] == "0006"
    refused = await _send(trust, [rows[0] | CANCEL])
    assert refused["outcome"] == "rejected"
    assert refused["issues"][0]["code"] == "PRESCRIPTION_INVALID_STATE_TRANSITION"
    assert (await _status(trust, sid))[0] == "0006"


async def test_cancel_or_amend_of_unknown_is_an_error(trust: httpx.AsyncClient) -> None:
    for change in (CANCEL, {"Action": "AMEND", "RxVersion": "2"}):
        result = await _send(trust, _rows(54, **change))
        assert result["outcome"] == "rejected"
        assert (result["issues"][0]["code"], result["issues"][0]["column"]) == ("UNKNOWN_PRESCRIPTION", "RxNumber")


async def test_amend_replaces_in_version_order(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    first = await _send(trust, _rows(55))
    [order] = await _release(provider)
    amended = await _send(trust, _rows(55, Action="AMEND", RxVersion="2", Indication="Psoriatic arthritis"))
    assert amended["outcome"] == "accepted" and amended["short_form_id"] != first["short_form_id"]
    # Version 2 waits: first the provider must acknowledge version 1, then its cancellation.
    assert await _release(provider) == []
    await _ack(provider, order)
    for _ in msg.resources(order, "MedicationRequest"):  # a cancellation per line item, then the new version
        [cancel] = await _release(provider)
        assert msg.order_facts(cancel)["short_form_id"] == first["short_form_id"]
        assert msg.order_facts(cancel)["event"] == "prescription-order-update"
        await _ack(provider, cancel)
    [replacement] = await _release(provider)
    assert msg.order_facts(replacement)["short_form_id"] == amended["short_form_id"]
    assert (await _status(trust, first["short_form_id"]))[0] == "0005"
    stale = await _send(trust, _rows(55, Action="AMEND", RxVersion="2", Indication="Something else"))
    assert stale["issues"][0]["code"] == "VERSION_CONFLICT"
    lower = await _send(trust, _rows(55, Action="AMEND", RxVersion="1", Indication="Something else"))
    assert lower["outcome"] == "rejected"


async def test_amend_before_release_cancels_the_old_version_at_once(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    first = await _send(trust, _rows(56))
    amended = await _send(trust, _rows(56, Action="AMEND", RxVersion="2", Indication="Psoriatic arthritis"))
    assert amended["outcome"] == "accepted"
    assert (await _status(trust, first["short_form_id"]))[0] == "0005"
    released = await _release(provider)
    assert [msg.order_facts(o)["short_form_id"] for o in released] == [amended["short_form_id"]]


async def test_an_amend_refused_leaves_the_version_it_would_replace(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    """The new version is refused (its items on different schedules, which EPS cannot carry as one prescription):
    the version it would replace is neither cancelled nor marked for cancellation, and still goes out."""
    first = await _send(trust, _rows(57))
    second_line = {**_rows(57)[0], "LineNo": "2", "DaysPerDelivery": "14"}
    amend = [{**row, "Action": "AMEND", "RxVersion": "2"} for row in (_rows(57)[0], second_line)]
    refused = await _send(trust, amend)
    assert refused["outcome"] == "rejected"
    assert "EPS_SCHEDULE_DIFFERS" in {i["code"] for i in refused["issues"]}
    assert (await _status(trust, first["short_form_id"]))[0] != "0005"
    view = (await trust.get(f"/api/v1/prescriptions/{first['short_form_id']}")).json()
    assert not [e for e in view["timeline"] if "cancel" in json.dumps(e)], view["timeline"]
    released = await _release(provider)
    assert [msg.order_facts(o)["short_form_id"] for o in released] == [first["short_form_id"]]
