"""In-process wake-ups for `$release` long-polls: whoever queues an order for a provider rings its bell.

Only waiters in this process hear it; a long-poll also looks at the store every `FALLBACK_POLL` seconds, which
covers orders queued by other processes and leases running out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class OutboxSignal:
    """Per provider, the events of the long-polls waiting for it. Used from one event loop."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    @contextmanager
    def listen(self, provider_ods: str) -> Iterator[asyncio.Event]:
        """An event set whenever an order for `provider_ods` may have become available; listen before looking,
        so that an order queued between the look and the wait is not missed."""
        event = asyncio.Event()
        self._waiting.setdefault(provider_ods, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(provider_ods)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[provider_ods]

    def notify(self, providers: Iterable[str]) -> None:
        """Orders for these providers were committed (call after the commit, never before)."""
        for provider_ods in set(providers):
            for event in self._waiting.get(provider_ods, ()):
                event.set()

    def waiting(self, provider_ods: str) -> int:
        return len(self._waiting.get(provider_ods, ()))
