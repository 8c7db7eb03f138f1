"""The provider suite: plays the gateway against a homecare provider.

Push (`--target` = the provider's `$process-message` URL): sends orders, a resend, a non-conforming order, a
non-message and a cancellation (one prescription-order-update per line item, as the gateway sends it), and checks
each answer. Pull (`--target listen://HOST:PORT`): serves the
gateway's token, `Task/$release`, `$process-message` and `Task` endpoints to the polling provider and checks what
it sends back, correlated by the order's ids, within `--timeout`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import jwt

from conformance.checks import FHIR_JSON, json_body, message_header, outcome_issues, validation_findings
from conformance.context import SuiteContext
from conformance.errors import UsageError
from conformance.listener import Arrival, Listener, listening, parse_listen
from conformance.model import Suite, TestRun
from conformance.orders import SampleOrder
from conformance.polling_gateway import PollingGateway, loads_or_none

SUITE = Suite("provider", "Homecare Gateway conformance: homecare provider")
CODES = ("ok", "transient-error", "fatal-error")
HEADERS_PATH = "Bundle.entry[0].resource"

push = SUITE.group("PRV-ORDER", "Orders pushed to the provider's $process-message")
pull = SUITE.group("PRV-PULL", "A polling provider against the suite acting as the gateway")


def mode_of(target: str) -> str:
    if target.startswith("listen://"):
        parse_listen(target)
        return "pull"
    if target.startswith(("http://", "https://")):
        return "push"
    raise UsageError(f"--target must be the provider's $process-message URL or listen://HOST:PORT, not {target!r}")


def _provider_ods(ctx: SuiteContext) -> str:
    party = ctx.party("provider")
    return party.ods if party else str(ctx.options.get("provider_ods") or "VNFKT")


async def _send(ctx: SuiteContext, body: bytes, message_id: str) -> Any:
    headers = {
        "Content-Type": FHIR_JSON,
        "Accept": FHIR_JSON,
        "X-Request-ID": message_id,
        "Idempotency-Key": message_id,
    }
    return await ctx.client().post(ctx.target, content=body, headers=headers)


def check_response_message(t: TestRun, body: Any, answered_id: str) -> str | None:
    """The response code of a response message answering `answered_id`, with findings for what is wrong."""
    header = t.require_value(
        message_header(body),
        "PRV-MSG-1",
        "the answer is not a message Bundle with a MessageHeader first",
        "Bundle.entry[0].resource",
    )
    validation_findings(t, body, "PRV-MSG-1")
    response: dict[str, Any] = header["response"] if isinstance(header.get("response"), dict) else {}
    got = response.get("identifier")
    t.check(
        got == answered_id,
        "PRV-MSG-2",
        f"response.identifier is {got!r}, the message sent was {answered_id}",
        f"{HEADERS_PATH}.response.identifier",
    )
    code = response.get("code")
    t.check(code in CODES, "PRV-MSG-3", f"response.code {code!r}", f"{HEADERS_PATH}.response.code")
    return code if isinstance(code, str) else None


# --- push -------------------------------------------------------------------------------------------------------
@push.test(
    "PRV-ORDER-001",
    "A prescription-order gets a valid acknowledgement naming it",
    requirements=["PRV-MSG-1", "PRV-MSG-2", "PRV-MSG-3", "PRV-MSG-4"],
    modes=["push"],
)
async def order_acknowledged(ctx: SuiteContext, t: TestRun) -> None:
    order = SampleOrder(_provider_ods(ctx))
    raw = json.dumps(order.bundle).encode()
    r = await _send(ctx, raw, order.message_id)
    t.require(r.status_code == 200, "PRV-MSG-1", f"HTTP {r.status_code}: {r.text[:300]}", "HTTP status")
    t.check(
        r.headers.get("content-type", "").startswith(FHIR_JSON),
        "PRV-MSG-1",
        f"Content-Type {r.headers.get('content-type')!r}",
        "Content-Type",
    )
    body = json_body(t, r, "PRV-MSG-1")
    code = check_response_message(t, body, order.message_id)
    t.check(code == "ok", "PRV-MSG-4", f"a conforming order was answered {code!r}", f"{HEADERS_PATH}.response.code")
    ctx.state.update(order=order, raw=raw, first=(r.status_code, code))


@push.test(
    "PRV-ORDER-002",
    "A resend is answered like the first",
    requirements=["PRV-IDEM-1"],
    depends=["PRV-ORDER-001"],
    modes=["push"],
)
async def resend(ctx: SuiteContext, t: TestRun) -> None:
    order: SampleOrder = ctx.state["order"]
    r = await _send(ctx, ctx.state["raw"], order.message_id)
    header = message_header(loads_or_none(r.content)) if r.status_code == 200 else None
    response = (header or {}).get("response") or {}
    got = (r.status_code, response.get("code"))
    if ctx.state["first"][1] == "transient-error":  # "try again": the resend may well succeed now
        t.note(f"the first answer was transient-error; the resend was answered {got}")
        got = ctx.state["first"]
    t.check(
        got == ctx.state["first"],
        "PRV-IDEM-1",
        f"the resend was answered {got}, the first {ctx.state['first']}",
        f"{HEADERS_PATH}.response.code",
    )
    t.check(
        response.get("identifier") == order.message_id,
        "PRV-IDEM-1",
        f"the resend's response.identifier is {response.get('identifier')!r}",
        f"{HEADERS_PATH}.response.identifier",
    )


@push.test(
    "PRV-ORDER-003",
    "A non-conforming order is refused with an OperationOutcome",
    requirements=["PRV-BAD-1", "PRV-BAD-2"],
    modes=["push"],
)
async def invalid_order(ctx: SuiteContext, t: TestRun) -> None:
    bundle, fault = SampleOrder(_provider_ods(ctx)).broken()
    r = await _send(ctx, json.dumps(bundle).encode(), bundle["id"])
    _refused(t, r, f"an order whose NHS number fails Modulus 11 (at {fault})", bundle["id"])


@push.test(
    "PRV-ORDER-004",
    "A body that is not a FHIR message is refused",
    requirements=["PRV-BAD-1", "PRV-BAD-2"],
    modes=["push"],
)
async def not_a_message(ctx: SuiteContext, t: TestRun) -> None:
    r = await _send(ctx, b'{"resourceType": "Bundle", "type": "message", "entry": []}', "not-a-message")
    _refused(t, r, "a message Bundle with no MessageHeader", None)


def _refused(t: TestRun, r: Any, what: str, answered_id: str | None) -> None:
    t.require(
        r.status_code < 500, "PRV-BAD-1", f"{what}: HTTP {r.status_code} (a gateway would retry it)", "HTTP status"
    )
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        issues = outcome_issues(body)
        t.check(bool(issues), "PRV-BAD-1", f"{what}: HTTP {r.status_code} without an OperationOutcome", "body")
    else:
        header = message_header(body) or {}
        response = header.get("response") or {}
        t.require(
            response.get("code") == "fatal-error",
            "PRV-BAD-1",
            f"{what} was answered {response.get('code')!r}",
            f"{HEADERS_PATH}.response.code",
        )
        if answered_id is not None:
            t.check(
                response.get("identifier") == answered_id,
                "PRV-MSG-2",
                f"response.identifier is {response.get('identifier')!r}",
                f"{HEADERS_PATH}.response.identifier",
            )
        issues = outcome_issues(body)
        t.check(bool(issues), "PRV-BAD-1", f"{what}: fatal-error without an OperationOutcome", "Bundle.entry")
    t.check(
        any(i.get("expression") or i.get("diagnostics") for i in issues),
        "PRV-BAD-2",
        "no issue says where the problem is (expression or diagnostics)",
        "OperationOutcome.issue",
    )


@push.test(
    "PRV-ORDER-005",
    "A cancellation is acknowledged",
    requirements=["PRV-CAN-1", "PRV-MSG-1", "PRV-MSG-3"],
    depends=["PRV-ORDER-001"],
    modes=["push"],
)
async def cancellation(ctx: SuiteContext, t: TestRun) -> None:
    for cancel in ctx.state["order"].cancellations():  # one per line item, as EPS cancels
        r = await _send(ctx, json.dumps(cancel).encode(), cancel["id"])
        t.require(r.status_code == 200, "PRV-CAN-1", f"HTTP {r.status_code}: {r.text[:300]}", "HTTP status")
        header = message_header(json_body(t, r, "PRV-CAN-1")) or {}
        got = (header.get("response") or {}).get("identifier")
        t.check(
            got == cancel["id"],
            "PRV-CAN-1",
            f"response.identifier is {got!r}, the cancellation was {cancel['id']}",
            f"{HEADERS_PATH}.response.identifier",
        )
        check_response_message(t, r.json(), cancel["id"])


# --- pull -------------------------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def session(ctx: SuiteContext, mode: str) -> AsyncIterator[None]:
    """For pull: the listener the provider polls, serving one fresh order for the provider's ODS."""
    if mode != "pull":
        yield
        return
    host, port = parse_listen(ctx.target)
    gateway = PollingGateway(SampleOrder(_provider_ods(ctx)))
    listener = Listener(gateway, ctx.recorder)
    async with listening(listener, host, port) as url:
        ctx.state.update(listener=listener, gateway=gateway, listen_url=url)
        ctx.out(
            f"conformance gateway listening at {url}: point the provider ({_provider_ods(ctx)}) at it as its "
            f"gateway base URL; waiting up to {ctx.timeout:g} s per step"
        )
        yield


def _is_message(arrival: Arrival) -> bool:
    return arrival.method == "POST" and arrival.path.rstrip("/").endswith("/$process-message")


def _event(arrival: Arrival) -> str | None:
    header = message_header(loads_or_none(arrival.body)) or {}
    event = (header.get("eventCoding") or {}).get("code")
    return event if isinstance(event, str) else None


@pull.test(
    "PRV-PULL-001",
    "The provider authenticates and polls Task/$release",
    requirements=["PRV-AUTH-1", "PRV-PULL-1"],
    modes=["pull"],
)
async def polls(ctx: SuiteContext, t: TestRun) -> None:
    listener: Listener = ctx.state["listener"]
    poll = t.require_value(
        await listener.wait_for(lambda a: a.path.rstrip("/").endswith("/Task/$release"), ctx.timeout),
        "PRV-PULL-1",
        f"no Task/$release within {ctx.timeout:g} s",
        "POST Task/$release",
    )
    tokens = [a for a in listener.arrivals if a.path.rstrip("/").endswith("/oauth2/token")]
    t.check(
        bool(tokens) and poll.headers.get("authorization", "").lower().startswith("bearer "),
        "PRV-AUTH-1",
        "the poll carries no bearer token from /oauth2/token",
        "Authorization",
    )
    expected_aud = f"{listener.url}/oauth2/token"
    for arrival in tokens[:1]:
        assertion = parse_qs(arrival.body.decode("utf-8", "replace")).get("client_assertion", [""])[0]
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            t.check(False, "PRV-AUTH-1", f"client_assertion is not a JWT ({exc})", "client_assertion")
            continue
        t.check(
            claims.get("aud") == expected_aud,
            "PRV-AUTH-1",
            f"aud {claims.get('aud')!r}, expected {expected_aud}",
            "client_assertion.aud",
        )
        t.check(claims.get("iss") == claims.get("sub"), "PRV-AUTH-1", "iss and sub differ", "client_assertion.iss")
    params = loads_or_none(poll.body) or {}
    owners = [
        p.get("resource", {}).get("identifier", [{}])[0].get("value")
        for p in params.get("parameter", [])
        if isinstance(p, dict) and p.get("name") == "owner"
    ]
    t.check(
        owners == [_provider_ods(ctx)],
        "PRV-PULL-1",
        f"owner {owners}, expected [{_provider_ods(ctx)!r}]",
        "Parameters.parameter.where(name='owner').resource.identifier.value",
    )


@pull.test(
    "PRV-PULL-002",
    "The released order is acknowledged",
    requirements=["PRV-PULL-2", "PRV-MSG-1", "PRV-MSG-2", "PRV-MSG-3"],
    depends=["PRV-PULL-001"],
    modes=["pull"],
)
async def acknowledges(ctx: SuiteContext, t: TestRun) -> None:
    listener: Listener = ctx.state["listener"]
    ack = t.require_value(
        await listener.wait_for(lambda a: _is_message(a) and (_event(a) or "").endswith("-response"), ctx.timeout),
        "PRV-PULL-2",
        f"no response message within {ctx.timeout:g} s",
        "POST $process-message",
    )
    code = check_response_message(t, loads_or_none(ack.body), ctx.state["gateway"].order.message_id)
    t.check(code == "ok", "PRV-MSG-4", f"a conforming order was answered {code!r}", f"{HEADERS_PATH}.response.code")


@pull.test(
    "PRV-PULL-003",
    "Delivery status Tasks validate and name the order",
    requirements=["PRV-PULL-3"],
    depends=["PRV-PULL-002"],
    modes=["pull"],
)
async def delivery_status(ctx: SuiteContext, t: TestRun) -> None:
    listener: Listener = ctx.state["listener"]
    arrival = t.require_value(
        await listener.wait_for(lambda a: a.method == "POST" and a.path.rstrip("/").endswith("/Task"), ctx.timeout),
        "PRV-PULL-3",
        f"no delivery Task within {ctx.timeout:g} s",
        "POST Task",
    )
    task = loads_or_none(arrival.body) or {}
    validation_findings(t, task, "PRV-PULL-3")
    focus = ((task.get("focus") or {}).get("identifier") or {}).get("value")
    sid = ctx.state["gateway"].order.short_form_id
    t.check(focus == sid, "PRV-PULL-3", f"focus is {focus!r}, the order is {sid}", "Task.focus.identifier.value")


@pull.test(
    "PRV-PULL-004",
    "A dispense notification validates",
    requirements=["PRV-PULL-4"],
    depends=["PRV-PULL-002"],
    modes=["pull"],
)
async def dispense(ctx: SuiteContext, t: TestRun) -> None:
    listener: Listener = ctx.state["listener"]
    arrival = t.require_value(
        await listener.wait_for(lambda a: _is_message(a) and _event(a) == "dispense-notification", ctx.timeout),
        "PRV-PULL-4",
        f"no dispense-notification within {ctx.timeout:g} s",
        "POST $process-message",
    )
    validation_findings(t, loads_or_none(arrival.body), "PRV-PULL-4")
