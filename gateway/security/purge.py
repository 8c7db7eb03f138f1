"""The purge loop: used assertion ids and expired access tokens deleted after their lifetime, in every serving
process (`HGW_TOKEN_PURGE_SECONDS`; `hgw clients purge` does the same once). Deleting twice is harmless, so any
number of processes may run it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.context import Gateway
from gateway.logs import log
from gateway.security.client_admin import purge_expired

logger = logging.getLogger("gateway.security")


class TokenPurge:
    """A running purge loop; `stop()` ends it at once (a purge in progress rolls back)."""

    def __init__(self, gw: Gateway, interval: float) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(gw, interval), name="hgw-token-purge")

    async def _run(self, gw: Gateway, interval: float) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)
            if self._stop.is_set():
                return
            try:
                report = await purge_expired(gw)
            except Exception as exc:  # the next interval tries again
                log(logger, logging.ERROR, "token purge failed", error=type(exc).__name__)
            else:
                if report.assertion_jtis or report.access_tokens:
                    log(logger, logging.INFO, "expired tokens purged", **report.as_dict())

    async def stop(self) -> None:
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def start_token_purge(gw: Gateway) -> TokenPurge | None:
    """Start the loop on the running event loop; None when the interval setting is 0."""
    interval = gw.settings.token_purge_seconds
    return TokenPurge(gw, interval) if interval > 0 else None
