"""Idempotency for the inbound POST routes: one dependency, and the route runs its work through it.

    async def post_x(idem: Idempotency, ...) -> Response:
        async def answer() -> Response: ...
        return await idem.run(answer)

`Idempotency-Key` wins over `X-Request-ID` when a request carries both; without either, the work just runs.
The rules are in gateway/intake/idempotency.py; a replayed answer carries `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.context import Gateway
from gateway.domain.principal import Principal
from gateway.intake import idempotency

# In order of precedence: the first one present is the key.
KEY_HEADERS = ("Idempotency-Key", "X-Request-ID")
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class Idempotent:
    gw: Gateway
    principal: Principal
    key: idempotency.IdempotencyKey | None
    operation: str
    body: bytes

    async def run(self, answer: Callable[[], Awaitable[Response]]) -> Response:
        """The stored answer to this key, or `answer()` run once and stored for the retries to come."""
        if self.key is None:
            return await answer()
        got = await idempotency.claim(self.gw, self.principal, self.key, self.operation, self.body)
        if isinstance(got, idempotency.StoredAnswer):
            headers = {"content-type": got.content_type, REPLAYED_HEADER: "true"}
            return Response(got.body, status_code=got.status_code, headers=headers)
        renewing = asyncio.create_task(self._renew(got), name="hgw-idempotency-renew")
        try:
            response = await answer()
        except BaseException:
            renewing.cancel()
            # The request failed and rolled back: free the key so that a retry runs it again. If even that fails
            # its claim lapses and is taken over; the request's own error is the one to report.
            with contextlib.suppress(Exception):
                await asyncio.shield(idempotency.release(self.gw, got))
            raise
        renewing.cancel()
        stored = idempotency.StoredAnswer(
            response.status_code, response.headers.get("content-type", "application/octet-stream"), bytes(response.body)
        )
        await idempotency.complete(self.gw, got, stored)
        return response

    async def _renew(self, held: idempotency.Claim) -> None:
        """Renew the claim every third of its lease while the request runs (cancelled when it ends). A renewal
        that fails (the store away for a moment) is tried again at the next beat."""
        interval = idempotency.claim_lease(self.gw).total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                if not await idempotency.renew(self.gw, held):
                    return  # lapsed and taken over: nothing left to renew


async def idempotent(
    request: Request,
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
) -> Idempotent:
    key = None
    for header in KEY_HEADERS:
        raw = request.headers.get(header)
        if raw is not None:
            key = idempotency.check_key(header, raw)
            break
    return Idempotent(gw, principal, key, f"{request.method} {request.url.path}", body)


Idempotency = Annotated[Idempotent, Depends(idempotent)]
