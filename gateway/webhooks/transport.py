"""One webhook request over HTTP: POST the signed body to the trust's URL and classify the answer.

Any 2xx delivers the event. 408, 429, 5xx, timeouts and connection errors are transient and count against the
endpoint's circuit breaker; any other status (4xx, and redirects, which are not followed) is permanent: the event
goes to the dead letters at once. The errors are `gateway.delivery`'s, so the push retry policy decides.
"""

from __future__ import annotations

import httpx

from gateway.delivery.transport import excerpt, failed_status, transport_errors

MAX_ANSWER_BYTES = 64 * 1024


def classify(status_code: int, content: bytes) -> int:
    """`status_code` when it delivers the event; otherwise the DeliveryError it means is raised."""
    if 200 <= status_code < 300:
        return status_code
    raise failed_status(status_code, excerpt(content), peer="webhook", refusal="the receiver refused the event")


async def post_event(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], *, timeout: float
) -> int:
    """POST one event; its HTTP status when delivered, else a DeliveryError (httpx errors converted here)."""
    with transport_errors(timeout, url_name="webhook", bad_url_outcome="bad-url"):
        async with client.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
            content = b""
            async for chunk in response.aiter_bytes():
                if len(content) < MAX_ANSWER_BYTES:  # only the start is kept, for the record
                    content += chunk
    return classify(response.status_code, content)
