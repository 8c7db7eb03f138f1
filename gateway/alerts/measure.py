"""What each rule sees for each provider: a pure function of the store's readings and the rule book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.alerts.rules import UNITS, Kind, RuleBook
from gateway.domain.outbox import WAITING, OutboxState
from gateway.store.metrics import QueueSnapshot


@dataclass(frozen=True, slots=True)
class Readings:
    now: datetime
    queue: QueueSnapshot
    push_outcomes: dict[float, dict[str, tuple[int, int]]]
    """window minutes → provider → (push attempts, failed) within it."""
    last_push_success: dict[str, datetime]
    """provider → latest successful push (within the longest silence threshold)."""
    oldest_unsequenced_audit: datetime | None = None
    """When the oldest audit entry the sequencer has not chained yet was appended (None: none waits)."""


@dataclass(frozen=True, slots=True)
class Observation:
    kind: Kind
    subject: str
    value: float
    threshold: float
    firing: bool | None
    """True: over the threshold; False: clear; None: too little evidence to say (keep what is open, open nothing)."""
    summary: str

    @property
    def key(self) -> str:
        return open_key(self.kind, self.subject)


# The subject of the audit-lag rule: the gateway's audit trail, not a provider.
AUDIT_SUBJECT = "audit"


def open_key(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


def _minutes(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds() / 60)


def observe(readings: Readings, book: RuleBook) -> list[Observation]:
    """One observation per rule that is on, for every active provider (and any provider holding dead letters)."""
    now, queue = readings.now, readings.queue
    found: list[Observation] = []

    def add(kind: Kind, subject: str, value: float, verdict: bool | None, what: str) -> None:
        """`verdict`: True compares `value` with the threshold, False says clear, None says no verdict."""
        t = book.threshold(kind, subject)
        if t is None:
            return
        fires = None if verdict is None else verdict and value >= t.value
        summary = f"{subject}: {what} (threshold {t.value:g} {UNITS[kind]})"
        found.append(Observation(kind, subject, round(value, 3), t.value, fires, summary))

    providers = {p.ods: p for p in queue.providers}
    with_dead = {p for (p, state), n in queue.depth.items() if state == OutboxState.DEAD and n > 0}
    for ods in sorted(set(providers) | with_dead):
        dead = queue.depth.get((ods, OutboxState.DEAD), 0)
        add(Kind.DEAD_LETTERS, ods, float(dead), True, f"{dead} dead-lettered message(s) waiting")
        p = providers.get(ods)
        if p is None or not p.active:
            continue
        waiting = sum(queue.depth.get((ods, state), 0) for state in WAITING)
        age = _minutes(now, queue.oldest_waiting.get(ods))
        lag = _minutes(now, queue.oldest_unacknowledged.get(ods))
        if not p.paused:  # a paused provider's queue grows on purpose
            add(Kind.QUEUE_AGE, ods, age, True, f"oldest of {waiting} waiting message(s) is {age:.0f} min old")
        add(Kind.ACK_LAG, ods, lag, True, f"oldest unacknowledged order was handed out {lag:.0f} min ago")
        if p.mode == "pull":
            silent = _minutes(now, p.last_poll_at or p.created_at)
            add(Kind.PROVIDER_SILENT, ods, silent, True, f"no Task/$release poll for {silent:.0f} min")
        elif not p.paused:
            last_ok = readings.last_push_success.get(ods)
            oldest = queue.oldest_waiting.get(ods)
            since = max(last_ok, oldest) if last_ok and oldest else oldest
            silent = _minutes(now, since) if waiting else 0.0
            add(Kind.PROVIDER_SILENT, ods, silent, True if waiting else False,
                f"no successful push for {silent:.0f} min while {waiting} message(s) wait")
            threshold = book.threshold(Kind.FAILURE_RATE, ods)
            if threshold is not None and threshold.window_minutes:
                attempts, failed = readings.push_outcomes.get(threshold.window_minutes, {}).get(ods, (0, 0))
                rate = failed / attempts if attempts else 0.0
                enough = attempts >= book.min_attempts
                add(Kind.FAILURE_RATE, ods, rate, True if enough else None,
                    f"{failed} of {attempts} push attempts failed in the last {threshold.window_minutes:g} min")
    waited = _minutes(now, readings.oldest_unsequenced_audit) * 60
    add(Kind.AUDIT_LAG, AUDIT_SUBJECT, waited, True, f"the oldest audit entry not chained yet waited {waited:.0f} s")
    return found
