"""Per-client rate limits: a token bucket per key, refilled continuously. In-process: each gateway process
limits the traffic it sees (behind a load balancer, configure the rate per process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import GatewayError


class RateLimitedError(GatewayError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many requests; retry after {retry_after:.1f} s")
        self.retry_after = retry_after


@dataclass
class RateLimiter:
    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def check(self, key: str) -> None:
        """Take one token from `key`'s bucket or raise RateLimitedError with the wait."""
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimitedError((1.0 - tokens) / rate)
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # bound memory under a flood of distinct keys
            self._buckets.clear()
