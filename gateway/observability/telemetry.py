"""Per-gateway telemetry: the instruments, the workers' heartbeats, the listeners and the circuit breakers.

Readiness (`gateway.operations.health`) asks each registered worker whether it is alive: its task still running and
its last heartbeat recent. Heartbeats use the monotonic clock, not `gw.clock`: they measure real time passing
in this process, which a test's frozen business clock must not stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gateway.observability.metrics import GatewayMetrics

if TYPE_CHECKING:
    from gateway.delivery.breaker import BreakerBoard


class Listener(Protocol):
    def is_serving(self) -> bool: ...


@dataclass
class Heartbeat:
    """A worker's proof of life: `beat()` every loop; stale after `stale_after` seconds without one."""

    name: str
    stale_after: float
    clock: Callable[[], float] = time.monotonic
    task: asyncio.Task[None] | None = None
    last: float = field(init=False)

    def __post_init__(self) -> None:
        self.last = self.clock()

    def beat(self) -> None:
        self.last = self.clock()

    @property
    def age(self) -> float:
        return self.clock() - self.last

    def problem(self) -> str | None:
        """None while alive, else why not."""
        if self.task is not None and self.task.done():
            if self.task.cancelled():
                return "stopped (cancelled)"
            error = self.task.exception()
            return f"stopped ({type(error).__name__})" if error else "stopped"
        if self.age > self.stale_after:
            return f"no heartbeat for {self.age:.0f} s (stale after {self.stale_after:.0f} s)"
        return None


@dataclass
class Telemetry:
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    heartbeats: dict[str, Heartbeat] = field(default_factory=dict)
    listeners: dict[str, Listener] = field(default_factory=dict)
    breakers: list[BreakerBoard] = field(default_factory=list)

    def heartbeat(self, name: str, stale_after: float, task: asyncio.Task[None] | None = None) -> Heartbeat:
        """Register (or replace) the heartbeat of worker `name`."""
        beat = Heartbeat(name, stale_after, task=task)
        self.heartbeats[name] = beat
        return beat

    def watch_listener(self, name: str, listener: Listener | None) -> None:
        if listener is not None:
            self.listeners[name] = listener

    def watch_breakers(self, board: BreakerBoard) -> None:
        """A relay's breakers, so that scrapes can report circuit states (a process may run several relays)."""
        if not any(b is board for b in self.breakers):
            self.breakers.append(board)

    def circuit_states(self) -> dict[str, str]:
        """Each endpoint with a circuit breaker in this process → its state ("closed", "open", …), across all the
        relays' boards. An endpoint no request has failed yet may be missing: its circuit is closed."""
        states: dict[str, str] = {}
        for board in self.breakers:
            states.update({endpoint: state.value for endpoint, state in board.states().items()})
        return states
