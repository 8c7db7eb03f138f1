"""post_bundle and classify over httpx.MockTransport: what each kind of provider answer means."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from conformance.parties.provider_messages import acknowledgement
from gateway.delivery.errors import (
    DeliveryError,
    EndpointUnavailableError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from gateway.delivery.transport import EXCERPT_CHARS, Answered, AwaitingResponse, excerpt, post_bundle

ENDPOINT = "https://provider.example/FHIR/R4/$process-message"
MESSAGE_ID = "0b4f4f53-7c2a-4a57-9a43-8a3f0f6bd7a1"
BODY = b'{"resourceType":"Bundle","type":"message"}'


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _post(handler: Callable[[httpx.Request], httpx.Response]) -> Answered | AwaitingResponse:
    async with _client(handler) as client:
        return await post_bundle(client, ENDPOINT, MESSAGE_ID, BODY, timeout=1.0)


def _answer(code: str, answers: str = MESSAGE_ID, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(status, json=acknowledgement("VNPSH", answers, "https://p", code))


@pytest.mark.parametrize("code", ["ok", "transient-error", "fatal-error"])
async def test_a_response_message_answers_the_order(code: str) -> None:
    answer = await _post(_answer(code))
    assert isinstance(answer, Answered)
    assert (answer.code, answer.status_code) == (code, 200)


async def test_the_signed_bundle_is_sent_as_is_with_the_message_id_as_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer("ok", status=201)(request)

    assert isinstance(await _post(handler), Answered)
    (request,) = seen
    assert request.method == "POST" and str(request.url) == ENDPOINT
    assert request.content == BODY
    assert request.headers["content-type"] == "application/fhir+json"
    assert request.headers["idempotency-key"] == request.headers["x-request-id"] == MESSAGE_ID


async def test_202_waits_for_an_asynchronous_response() -> None:
    answer = await _post(lambda _r: httpx.Response(202, text="queued"))
    assert answer == AwaitingResponse(202, "not JSON, 6 bytes")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_4xx_is_permanent(status: int) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        await _post(lambda _r: httpx.Response(status, text="no"))
    assert (caught.value.status_code, caught.value.outcome, caught.value.excerpt) == (
        status, f"http-{status}", "not JSON, 2 bytes"
    )


async def test_a_redirect_is_not_followed_and_is_permanent() -> None:
    with pytest.raises(PermanentDeliveryError, match="redirect"):
        await _post(lambda _r: httpx.Response(301, headers={"Location": "https://elsewhere.example/"}))


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
async def test_5xx_408_and_429_are_transient_and_count_against_the_endpoint(status: int) -> None:
    with pytest.raises(EndpointUnavailableError) as caught:
        await _post(lambda _r: httpx.Response(status))
    assert caught.value.outcome == f"http-{status}"


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connection-error"),
        (httpx.RemoteProtocolError("dropped"), "connection-error"),
    ],
)
async def test_timeouts_and_connection_errors_are_transient(exc: httpx.HTTPError, outcome: str) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(EndpointUnavailableError) as caught:
        await _post(handler)
    assert caught.value.outcome == outcome
    assert caught.value.__cause__ is exc  # converted where httpx is called, and chained


@pytest.mark.parametrize(
    "handler",
    [
        lambda _r: httpx.Response(200, text="<html>OK</html>"),
        lambda _r: httpx.Response(200, json={"resourceType": "OperationOutcome", "issue": []}),
        _answer("ok", answers="another-message"),
    ],
    ids=["not-json", "not-a-message", "answers-another-message"],
)
async def test_a_2xx_without_a_response_to_this_message_is_transient_but_not_an_outage(
    handler: Callable[[httpx.Request], httpx.Response],
) -> None:
    with pytest.raises(TransientDeliveryError) as caught:
        await _post(handler)
    assert not isinstance(caught.value, EndpointUnavailableError)
    assert caught.value.outcome == "unreadable-answer"


async def test_an_unusable_endpoint_is_permanent() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(PermanentDeliveryError):
            await post_bundle(client, "ftp://provider.example/x", MESSAGE_ID, BODY, timeout=1.0)


def test_excerpts_keep_codes_and_never_words() -> None:
    words = "patient Ada Smith 943 476 5919 not found\nline two" + "x" * 1000
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": words,
                   "details": {"coding": [{"code": "PATIENT_UNKNOWN", "display": words}], "text": words}}],
    }  # fmt: skip
    assert excerpt(json.dumps(outcome).encode()) == "OperationOutcome error/processing/PATIENT_UNKNOWN"
    message = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MessageHeader",
               "response": {"code": "fatal-error"}}}, {"resource": outcome}]}  # fmt: skip
    assert excerpt(json.dumps(message).encode()) == (
        "Bundle MessageHeader:fatal-error OperationOutcome error/processing/PATIENT_UNKNOWN"
    )
    assert excerpt(json.dumps({"resourceType": words, "x": 1}).encode()) == "JSON object of 2 members, " + str(
        len(json.dumps({"resourceType": words, "x": 1}))
    ) + " bytes"
    assert excerpt(words.encode()) == f"not JSON, {len(words.encode())} bytes"
    assert excerpt(b"  ") == "empty" and excerpt(b"[1]") == "JSON list, 3 bytes"
    assert len(excerpt(json.dumps({"resourceType": "Bundle", "entry": [{"resource": outcome}] * 50}).encode())) <= (
        EXCERPT_CHARS
    )


def test_delivery_errors_are_gateway_errors_with_context() -> None:
    error = EndpointUnavailableError("HTTP 503 from the provider", outcome="http-503", status_code=503, excerpt="busy")
    assert isinstance(error, DeliveryError)
    assert (error.reason, error.status_code, error.excerpt, error.code) == (
        "HTTP 503 from the provider",
        503,
        "busy",
        "DELIVERY_ENDPOINT_UNAVAILABLE",
    )
