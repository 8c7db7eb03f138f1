"""How the campaign's provider answers each request: a seeded, weighted schedule of faults (pure).

Each fault models something a real provider endpoint or network does, and says whether the provider applied
the order before failing, because that is what makes a resend a duplicate the receiver must absorb:

| fault | the provider | the gateway sees |
| --- | --- | --- |
| ok | applies, answers 200 with an `ok` response message | delivered |
| http-500 | fails before applying, answers 500 | unavailable: retry |
| effect-then-500 | applies, then answers 500 (the answer is lost) | unavailable: retry, a duplicate next time |
| slow | applies, answers after the gateway's timeout | timeout: retry, a duplicate next time |
| drop-mid-response | applies, sends half of a 200 answer and drops the connection | connection error: retry |
| abort | closes the connection without reading further or applying | connection error: retry |
| kill-before-commit | applies, answers 200 `ok` marked for the kill | SIGKILL before commit: a duplicate next time |
| stall-after-answer | applies, answers 200 `ok` marked for a stall | freezes past its lease; its finish is fenced |
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAULTS = (
    "ok", "http-500", "effect-then-500", "slow", "drop-mid-response", "abort", "kill-before-commit",
    "stall-after-answer",
)
APPLIES_FIRST = frozenset(
    {"ok", "effect-then-500", "slow", "drop-mid-response", "kill-before-commit", "stall-after-answer"}
)
WORKER_FAULTS = ("kill-before-commit", "stall-after-answer")
"""The faults carried out by the worker itself, marked on a 200 answer (`X-Hgw-Fault`)."""
"""The faults where the provider has applied the order before the failure."""

DEFAULT_MIX = (
    "ok=10,http-500=2,effect-then-500=2,slow=1,drop-mid-response=2,abort=1,kill-before-commit=2,stall-after-answer=1"
)
ALL_OK = "ok=1"


@dataclass(frozen=True, slots=True)
class FaultMix:
    """Relative weights of the faults; parsed from and rendered as `name=weight,…`."""

    weights: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, text: str) -> FaultMix:
        weights: list[tuple[str, int]] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, weight = part.partition("=")
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
            if not weight.isdigit():
                raise ValueError(f"the weight of {name} must be a whole number, got {weight!r}")
            weights.append((name, int(weight)))
        if sum(w for _, w in weights) <= 0 or dict(weights).get("ok", 0) <= 0:
            raise ValueError("the mix needs a positive weight for ok, or nothing would ever be delivered")
        return cls(tuple(weights))

    def without(self, fault: str) -> FaultMix:
        return FaultMix(tuple((name, weight) for name, weight in self.weights if name != fault))

    def render(self) -> str:
        return ",".join(f"{name}={weight}" for name, weight in self.weights)


class Schedule:
    """The faults in blocks: each block holds every fault exactly `weight` times, shuffled by a seeded random
    source. So every fault of the mix happens within the first block (21 requests with the default mix), the
    proportions hold exactly block by block, and the same seed gives the same sequence."""

    def __init__(self, mix: FaultMix, seed: int) -> None:
        self._block = [name for name, weight in mix.weights for _ in range(weight)]
        self._rng = random.Random(seed)  # noqa: S311 - a test schedule, not a secret
        self._pending: list[str] = []

    def next(self) -> str:
        if not self._pending:
            self._pending = self._rng.sample(self._block, len(self._block))
        return self._pending.pop()
