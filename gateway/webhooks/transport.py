"""One webhook request over HTTP: POST the signed body to the trust's URL and classify the answer.

Any 2xx delivers the event. 408, 429, 5xx, timeouts and connection errors are transient and count against the
endpoint's circuit breaker; any other status (4xx, and redirects, which are not followed) is permanent: the event
goes to the dead letters at once. The errors are `gateway.delivery`'s, so the push retry policy decides.
"""

from __future__ import annotations

import httpx

from gateway.delivery.errors import EndpointUnavailableError, PermanentDeliveryError
from gateway.delivery.transport import excerpt

MAX_ANSWER_BYTES = 64 * 1024
_UNAVAILABLE_4XX = frozenset({408, 429})


def classify(status_code: int, content: bytes) -> int:
    """`status_code` when it delivers the event; otherwise the DeliveryError it means is raised."""
    if 200 <= status_code < 300:
        return status_code
    short = excerpt(content)
    if status_code >= 500 or status_code in _UNAVAILABLE_4XX:
        raise EndpointUnavailableError(
            f"HTTP {status_code} from the webhook", outcome=f"http-{status_code}", status_code=status_code,
            excerpt=short,
        )
    what = "a redirect, which is not followed" if 300 <= status_code < 400 else "the receiver refused the event"
    raise PermanentDeliveryError(
        f"HTTP {status_code}: {what}", outcome=f"http-{status_code}", status_code=status_code, excerpt=short
    )


async def post_event(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], *, timeout: float
) -> int:
    """POST one event; its HTTP status when delivered, else a DeliveryError (httpx errors converted here)."""
    try:
        async with client.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
            content = b""
            async for chunk in response.aiter_bytes():
                if len(content) < MAX_ANSWER_BYTES:  # only the start is kept, for the record
                    content += chunk
    except httpx.TimeoutException as exc:
        raise EndpointUnavailableError(f"no answer within {timeout:g} s", outcome="timeout") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PermanentDeliveryError(f"the webhook URL is unusable ({type(exc).__name__})", outcome="bad-url") from exc
    except httpx.TransportError as exc:
        reason = f"connection failed ({type(exc).__name__})"
        raise EndpointUnavailableError(reason, outcome="connection-error") from exc
    return classify(response.status_code, content)
