"""Trust webhooks over real HTTP, on SQLite and PostgreSQL: managing subscriptions (each trust its own), and the
gateway's workers delivering every event signed, in order, to the right trust only, with retries and dead letters.

The receivers are real loopback HTTP servers (tests/integration/webhook_receiver.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import audit
from gateway.context import Gateway
from gateway.settings import Settings
from gateway.webhooks import subscriptions as service
from tests.integration.helpers import export_sids, status_feed
from tests.integration.webhook_receiver import (
    Receiver,
    gateway_jwks,
    quick_settings,
    receiver,
    until,
    until_recorded,
    verified,
)

HOOKS = "/api/v1/webhooks"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return quick_settings(database_url, tmp_path)


def _issue(r: httpx.Response) -> tuple[str, str]:
    issue = r.json()["issues"][0]
    return issue["code"], issue.get("expression", "")


async def _subscribe(gw: Gateway, trust_ods: str, rec: Receiver, fmt: str = "json", **policy: Any) -> str:
    change = service.SubscriptionChange(url=rec.url, format=fmt, trust_ods=trust_ods)
    return (await service.add_subscription(gw, audit.SYSTEM, change, **policy)).id


async def test_each_trust_manages_only_its_own_webhooks(as_party: Callable[[str], httpx.AsyncClient]) -> None:
    trust, other, provider, operator = (as_party(n) for n in ("trust", "other_trust", "provider", "operator"))
    r = await trust.post(HOOKS, json={"url": "http://127.0.0.1:9/hook", "format": "fhir", "events": ["cancelled"]})
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["trust_ods"], made["format"], made["events"], made["active"]) == ("RBA", "fhir", ["cancelled"], True)
    assert made["jwks_url"].endswith("/.well-known/jwks.json") and made["retry"]["max_attempts"] == 10
    hook = f"{HOOKS}/{made['id']}"

    refusals = [
        ({"url": "http://127.0.0.1:9/hook", "format": "xml"}, 400, ("INVALID_VALUE", "format")),
        ({"url": "ftp://127.0.0.1/hook", "format": "json"}, 400, ("INVALID_WEBHOOK_URL", "url")),
        ({"url": "http://trust.example.org/hook", "format": "json"}, 400, ("INVALID_WEBHOOK_URL", "url")),
        ({"url": "https://user:pw@trust.example.org/hook", "format": "json"}, 400, ("INVALID_WEBHOOK_URL", "url")),
        ({"format": "json"}, 400, ("REQUIRED", "url")),
        ({"url": "https://t.example/h", "format": "json", "events": ["No Kind"]}, 400, ("INVALID_VALUE", "events[0]")),
        ({"url": "https://t.example/h", "format": "json", "colour": "red"}, 400, ("UNKNOWN_FIELD", "colour")),
        ({"url": "https://t.example/h", "format": "json", "trust_ods": "RHM"}, 403, None),
    ]
    for body, status, issue in refusals:
        r = await trust.post(HOOKS, json=body)
        assert r.status_code == status, (body, r.text)
        if issue:
            assert _issue(r) == issue, body
    r = await trust.post(HOOKS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, _issue(r)) == (400, ("INVALID_JSON", "body"))
    assert [h["id"] for h in (await trust.get(HOOKS)).json()["webhooks"]] == [made["id"]]  # nothing else was made

    # Another trust, or a provider, neither sees nor touches it (a provider's own subscriptions are its invoice
    # events': tests/integration/test_invoice_webhooks.py).
    for outsider in (other, provider):
        assert (await outsider.get(HOOKS)).json() == {"webhooks": []}
        assert (await outsider.get(hook)).status_code == 404
        assert (await outsider.patch(hook, json={"active": False})).status_code == 404
        assert (await outsider.delete(hook)).status_code == 404
        assert (await outsider.post(f"{hook}/test")).status_code == 404
        assert (await outsider.get(f"{hook}/deliveries")).status_code == 404
        assert (await outsider.post(f"{hook}/replay")).status_code == 404
    r = await provider.post(HOOKS, json={"url": "https://t.example/h", "format": "json", "trust_ods": "RBA"})
    assert r.status_code == 403  # a provider cannot subscribe to a trust's events
    assert (await trust.get(hook)).json()["active"] is True

    # Operators manage any trust's, naming it.
    r = await operator.post(HOOKS, json={"url": "https://rhm.example/hook", "format": "json"})
    assert (r.status_code, _issue(r)) == (400, ("REQUIRED", "trust_ods"))
    r = await operator.post(HOOKS, json={"url": "https://rhm.example/hook", "format": "json", "trust_ods": "rhm"})
    assert r.status_code == 201 and r.json()["trust_ods"] == "RHM"
    assert {h["trust_ods"] for h in (await operator.get(HOOKS)).json()["webhooks"]} == {"RBA", "RHM"}
    assert [h["trust_ods"] for h in (await other.get(HOOKS)).json()["webhooks"]] == ["RHM"]

    r = await trust.patch(hook, json={"active": False, "events": None, "url": "http://[::1]:9/x"})
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["events"], r.json()["url"]) == (False, None, "http://[::1]:9/x")
    r = await trust.patch(hook, json={"trust_ods": "RHM"})
    assert (r.status_code, _issue(r)) == (400, ("READ_ONLY", "trust_ods"))
    assert (await trust.delete(hook)).status_code == 204
    assert (await trust.get(hook)).status_code == 404


async def test_events_reach_their_own_trust_signed_and_in_order(
    gw: Gateway, base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust, other = as_party("trust"), as_party("other_trust")
    async with receiver() as mine, receiver() as theirs:
        r = await trust.post(HOOKS, json={"url": mine.url, "format": "json"})
        assert r.status_code == 201, r.text
        r = await other.post(HOOKS, json={"url": theirs.url, "format": "json"})
        assert r.status_code == 201, r.text
        await export_sids(trust, 3, seed=301)
        await export_sids(other, 2, seed=302, trust_ods="RHM")
        await export_sids(trust, 1, seed=303)
        feed, other_feed = await status_feed(trust), await status_feed(other)
        assert len(feed) == 8 and len(other_feed) == 4  # received + queued per prescription
        await until(lambda: len(mine.received) >= len(feed) and len(theirs.received) >= len(other_feed))
        jwks = await gateway_jwks(base_url)
        for rec, expected, ods in ((mine, feed, "RBA"), (theirs, other_feed, "RHM")):
            bodies = [r.json() for r in rec.received]
            assert {b["trust_ods"] for b in bodies} == {ods}  # never another trust's event
            assert sorted(bodies, key=lambda b: b["event_id"]) == expected  # each event once, as the feed has it
            for got in rec.received:
                signed = verified(got, jwks)
                assert signed.event_id == got.event_id == got.headers["idempotency-key"] == str(got.json()["event_id"])
                assert got.headers["content-type"] == "application/json"
            by_prescription: dict[str, list[int]] = {}
            for b in bodies:
                by_prescription.setdefault(b["short_form_id"], []).append(b["event_id"])
            assert all(ids == sorted(ids) for ids in by_prescription.values())  # in order per prescription


async def test_a_failing_receiver_is_retried_until_it_answers(
    gw: Gateway, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust = as_party("trust")
    async with receiver(script=[503, 500, 429]) as rec:
        sub = await _subscribe(gw, "RBA", rec, max_attempts=6, backoff_base_seconds=0.01, backoff_cap_seconds=0.05)
        await export_sids(trust, 1, seed=311)
        first, second = (e["event_id"] for e in await status_feed(trust))
        await until(lambda: len(rec.delivered()) == 2, what="both events delivered")
        assert [(int(r.event_id), r.answered, r.headers["x-hgw-attempt"]) for r in rec.received] == [
            (first, 503, "1"), (first, 500, "2"), (first, 429, "3"), (first, 200, "4"), (second, 200, "1")
        ]  # the second event waited for the first: order is kept per prescription
        rows = await until_recorded(trust, sub, 2)
        assert [(d["event_id"], d["state"], d["attempts"], d["last_status_code"]) for d in rows] == [
            (first, "delivered", 4, 200), (second, "delivered", 1, 200)
        ]


async def test_a_receiver_that_keeps_failing_dead_letters_then_replays(
    gw: Gateway, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust = as_party("trust")
    async with receiver(default=503) as down, receiver(default=410) as gone:
        sub = await _subscribe(gw, "RBA", down, max_attempts=2, backoff_base_seconds=0.01, backoff_cap_seconds=0.05)
        refusing = await _subscribe(gw, "RBA", gone)
        await export_sids(trust, 1, seed=321)
        dead = f"{HOOKS}/{sub}/deliveries?state=dead"
        await until(lambda: len(down.received) == 4 and len(gone.received) == 2, what="every attempt made")

        letters = await until_recorded(trust, sub, 2, state="dead")
        assert [(d["attempts"], d["last_status_code"]) for d in letters] == [(2, 503), (2, 503)]
        assert all(d["last_error"] == "gave up after 2 attempts; last: HTTP 503 from the webhook" for d in letters)
        refused = await until_recorded(trust, refusing, 2, state="dead")
        assert [d["last_error"] for d in refused] == ["permanent failure: HTTP 410: the receiver refused the event"] * 2
        assert len(gone.received) == 2  # a refusal is never retried

        down.default = 200
        r = await trust.post(f"{HOOKS}/{sub}/replay")
        assert r.json() == {"replayed": 2}
        await until(lambda: len(down.delivered()) == 2, what="the replayed events delivered")
        assert [int(r.event_id) for r in down.delivered()] == [d["event_id"] for d in letters]
        assert (await trust.get(dead)).json()["deliveries"] == []


async def test_the_test_event_is_signed_and_reports_the_answer(
    gw: Gateway, base_url: str, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    trust = as_party("trust")
    async with receiver(script=[200, 404]) as rec:
        for fmt in ("fhir", "json"):
            r = await trust.post(HOOKS, json={"url": rec.url, "format": fmt, "active": False})
            hook = r.json()["id"]
            r = await trust.post(f"{HOOKS}/{hook}/test")
            assert r.status_code == 200, r.text
            if fmt == "fhir":
                assert (r.json()["outcome"], r.json()["status_code"]) == ("delivered", 200)
                body = rec.received[-1].json()
                assert body["resourceType"] == "Bundle" and body["type"] == "message"
                assert body["entry"][0]["resource"]["destination"][0]["receiver"]["identifier"]["value"] == "RBA"
            else:
                assert r.json()["outcome"] == "http-404"
                assert r.json()["reason"] == "HTTP 404: the receiver refused the event"
            assert verified(rec.received[-1], await gateway_jwks(base_url)).event_id == r.json()["event_id"]
