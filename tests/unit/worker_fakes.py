"""A relay stand-in for the worker loop tests (push and webhook workers run the same loop on different relays)."""

from __future__ import annotations

import asyncio
from typing import Any


class ScriptedRelay:
    """Stands in for PushRelay or WebhookRelay: each round returns or raises the next scripted outcome.

    Once the script is used up, a round sets `stop` and returns nothing (an idle round)."""

    def __init__(self, stop: asyncio.Event, outcomes: list[Any]) -> None:
        self.stop = stop
        self.outcomes = outcomes
        self.rounds = 0

    async def run_once(self) -> list[Any]:
        self.rounds += 1
        if not self.outcomes:
            self.stop.set()
            return []
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return list(outcome)
