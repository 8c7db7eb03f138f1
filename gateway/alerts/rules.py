"""The rule kinds and the threshold each one applies to each provider."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from gateway.settings import Settings
from gateway.store.tables import AlertRule

EVERY_PROVIDER = "*"


class Kind(StrEnum):
    QUEUE_AGE = "queue-age"
    """Minutes the oldest waiting message of a provider has waited."""
    DEAD_LETTERS = "dead-letters"
    """Dead-lettered messages of a provider waiting for an operator."""
    PROVIDER_SILENT = "provider-silent"
    """Minutes since a pull provider polled, or since a push provider took an order while orders wait."""
    ACK_LAG = "ack-lag"
    """Minutes the oldest order out with a provider has waited for its acknowledgement."""
    FAILURE_RATE = "failure-rate"
    """Share of a provider's push attempts that failed within the window."""
    AUDIT_LAG = "audit-lag"
    """Seconds the oldest audit entry has waited for the sequencer (subject `audit`, not a provider)."""


UNITS = {
    Kind.QUEUE_AGE: "min",
    Kind.DEAD_LETTERS: "messages",
    Kind.PROVIDER_SILENT: "min",
    Kind.ACK_LAG: "min",
    Kind.FAILURE_RATE: "ratio",
    Kind.AUDIT_LAG: "s",
}


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    """The alert opens when the measured value is at or above this."""
    window_minutes: float | None = None
    """failure-rate only."""


@dataclass(frozen=True, slots=True)
class RuleBook:
    """Thresholds by kind: a provider's own row, else the `*` row, else the setting; 0 or a disabled row: off."""

    defaults: dict[Kind, Threshold]
    overrides: dict[tuple[Kind, str], Threshold | None]
    min_attempts: int
    resolve_after_seconds: int

    @classmethod
    def build(cls, settings: Settings, rows: Iterable[AlertRule]) -> RuleBook:
        window = settings.alert_failure_window_minutes
        defaults = {
            Kind.QUEUE_AGE: Threshold(settings.alert_queue_age_minutes),
            Kind.DEAD_LETTERS: Threshold(settings.alert_dead_letters),
            Kind.PROVIDER_SILENT: Threshold(settings.alert_silent_minutes),
            Kind.ACK_LAG: Threshold(settings.alert_ack_lag_minutes),
            Kind.FAILURE_RATE: Threshold(settings.alert_failure_rate, window),
            Kind.AUDIT_LAG: Threshold(settings.audit_max_unsequenced_seconds),
        }
        overrides: dict[tuple[Kind, str], Threshold | None] = {}
        for row in rows:
            kind = Kind(row.kind)
            overrides[(kind, row.provider_ods)] = (
                Threshold(row.threshold, row.window_minutes or defaults[kind].window_minutes) if row.enabled else None
            )
        return cls(defaults, overrides, settings.alert_failure_min_attempts, settings.alert_resolve_after_seconds)

    def threshold(self, kind: Kind, provider: str) -> Threshold | None:
        """The threshold for `kind` at `provider`; None when the rule is off there."""
        for scope in (provider, EVERY_PROVIDER):
            if (kind, scope) in self.overrides:
                found = self.overrides[(kind, scope)]
                return found if found is not None and found.value > 0 else None
        default = self.defaults[kind]
        return default if default.value > 0 else None

    def windows(self, providers: Iterable[str]) -> set[float]:
        """The failure-rate windows in use, so that each is counted once."""
        found = set()
        for provider in providers:
            t = self.threshold(Kind.FAILURE_RATE, provider)
            if t is not None and t.window_minutes:
                found.add(t.window_minutes)
        return found

    def longest(self, kind: Kind, providers: Iterable[str]) -> float:
        """The largest threshold of `kind` over `providers` (0 when off everywhere)."""
        values = [t.value for p in providers if (t := self.threshold(kind, p)) is not None]
        return max(values, default=0.0)
