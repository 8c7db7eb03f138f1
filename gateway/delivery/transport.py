"""One push attempt over HTTP: POST the bundle to the provider's `$process-message`, classify the answer.

A 2xx carrying a FHIR response message answers the order (ok, transient-error, fatal-error); a 202 accepts it
for a later asynchronous response message; 408, 429, 5xx, timeouts and connection errors are transient and count
against the endpoint's breaker; other 4xx (and redirects, which are not followed) are permanent. httpx errors
stop here, converted to `DeliveryError`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from gateway.delivery.errors import (
    DeliveryError,
    EndpointUnavailableError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from gateway.errors import GatewayError, InputError
from gateway.fhir.inbound import read_message
from gateway.fhir.serialise import loads_bundle
from gateway.limits import load_json
from gateway.security.guarded_transport import refused_by_policy

FHIR_JSON = "application/fhir+json"
EXCERPT_CHARS = 300
MAX_ANSWER_BYTES = 1024 * 1024
_UNAVAILABLE_4XX = frozenset({408, 429})
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Answered:
    """The provider answered with a response message: `code` is ok, transient-error or fatal-error."""

    code: str
    status_code: int
    excerpt: str


@dataclass(frozen=True, slots=True)
class AwaitingResponse:
    """202: accepted; the response message will come later to the gateway's own `$process-message`."""

    status_code: int
    excerpt: str


ProviderAnswer = Answered | AwaitingResponse


def excerpt(content: bytes) -> str:
    """What an answer was, in codes only: its kind (a FHIR resource type, an OperationOutcome's issue codes, a
    message's response code), or its size when it is not JSON. Never its words: a provider's or receiver's text
    may name a patient, and attempts are kept in clear for operators (docs/security.md)."""
    if not content.strip():
        return "empty"
    try:
        parsed = load_json(content)
    except InputError:
        return f"not JSON, {len(content)} bytes"
    if not isinstance(parsed, dict):
        return f"JSON {type(parsed).__name__}, {len(content)} bytes"
    kind = _token(parsed.get("resourceType"))
    if kind is None:
        return f"JSON object of {len(parsed)} members, {len(content)} bytes"
    parts = [kind]
    if kind == "OperationOutcome":
        parts.extend(_issue_codes(parsed))
    elif kind == "Bundle":
        entries = parsed.get("entry")
        for entry in entries if isinstance(entries, list) else []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                response = resource.get("response")
                code = _token(response.get("code")) if isinstance(response, dict) else None
                inner = _token(resource.get("resourceType"))
                parts.append(f"{inner}:{code}" if inner and code else inner or "?")
                if inner == "OperationOutcome":
                    parts.extend(_issue_codes(resource))
    return " ".join(parts)[:EXCERPT_CHARS]


def _issue_codes(outcome: dict[str, object]) -> list[str]:
    """`severity/code[/detail code...]` of each issue, tokens only."""
    found = []
    issues = outcome.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, dict):
            continue
        codes = [_token(issue.get("severity")) or "?", _token(issue.get("code")) or "?"]
        details = issue.get("details")
        codings = details.get("coding") if isinstance(details, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            code = _token(coding.get("code")) if isinstance(coding, dict) else None
            if code:
                codes.append(code)
        found.append("/".join(codes))
    return found


def _token(value: object) -> str | None:
    """`value` when it is a code (letters, digits, `._-`, at most 64), else None."""
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def classify(status_code: int, content: bytes, message_id: str) -> ProviderAnswer:
    """What the provider's answer to message `message_id` means; a failure is raised as a DeliveryError."""
    short = excerpt(content)
    if status_code == 202:
        return AwaitingResponse(status_code, short)
    if 200 <= status_code < 300:
        return Answered(_response_code(content, message_id, status_code, short), status_code, short)
    raise failed_status(status_code, short, peer="provider", refusal="the provider refused the message")


def failed_status(status_code: int, short: str, *, peer: str, refusal: str) -> DeliveryError:
    """The error a status that delivers nothing means: 408, 429 and 5xx say the endpoint is unavailable (transient,
    counted by its breaker); any other, a redirect (never followed) or a refusal, is permanent."""
    if status_code >= 500 or status_code in _UNAVAILABLE_4XX:
        return EndpointUnavailableError(
            f"HTTP {status_code} from the {peer}", outcome=f"http-{status_code}", status_code=status_code,
            excerpt=short,
        )
    what = "a redirect, which is not followed" if 300 <= status_code < 400 else refusal
    return PermanentDeliveryError(
        f"HTTP {status_code}: {what}", outcome=f"http-{status_code}", status_code=status_code, excerpt=short
    )


@contextmanager
def transport_errors(timeout: float, *, url_name: str, bad_url_outcome: str) -> Iterator[None]:
    """Convert httpx's errors of one request into DeliveryErrors: a timeout or a failed connection is transient
    (the endpoint is unavailable); a URL httpx cannot use is permanent, reported as "the `url_name` URL"."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise EndpointUnavailableError(f"no answer within {timeout:g} s", outcome="timeout") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        reason = f"the {url_name} URL is unusable ({type(exc).__name__})"
        raise PermanentDeliveryError(reason, outcome=bad_url_outcome) from exc
    except httpx.ConnectError as exc:
        if refused_by_policy(exc):  # the host resolves to an address not allowed (docs/security.md): retrying is moot
            raise PermanentDeliveryError(f"{exc}", outcome="blocked-address") from exc
        raise EndpointUnavailableError(f"connection failed ({type(exc).__name__})", outcome="connection-error") from exc
    except httpx.TransportError as exc:
        reason = f"connection failed ({type(exc).__name__})"
        raise EndpointUnavailableError(reason, outcome="connection-error") from exc


def _response_code(content: bytes, message_id: str, status_code: int, short: str) -> str:
    try:
        header, _resources = read_message(loads_bundle(content))
    except GatewayError as exc:
        raise TransientDeliveryError(
            f"HTTP {status_code} without a readable FHIR response message",
            outcome="unreadable-answer", status_code=status_code, excerpt=short,
        ) from exc
    if header.response_to != message_id or header.response_code is None:
        raise TransientDeliveryError(
            f"HTTP {status_code} with a message that does not answer this one",
            outcome="unreadable-answer", status_code=status_code, excerpt=short,
        )
    return header.response_code


async def post_bundle(
    client: httpx.AsyncClient, endpoint: str, message_id: str, body: bytes, *, timeout: float
) -> ProviderAnswer:
    """POST one signed bundle. The message id doubles as request id and idempotency key for the receiver."""
    headers = {
        "Content-Type": FHIR_JSON,
        "Accept": FHIR_JSON,
        "X-Request-ID": message_id,
        "Idempotency-Key": message_id,
    }
    with transport_errors(timeout, url_name="endpoint", bad_url_outcome="bad-endpoint"):
        async with client.stream("POST", endpoint, content=body, headers=headers, timeout=timeout) as response:
            content = await _read_capped(response)
    return classify(response.status_code, content, message_id)


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise TransientDeliveryError(
                f"HTTP {response.status_code} with an answer over {MAX_ANSWER_BYTES} bytes",
                outcome="oversized-answer", status_code=response.status_code, excerpt=excerpt(b"".join(chunks)),
            )
        chunks.append(chunk)
    return b"".join(chunks)
