"""The rules' view of the queue: pure functions over synthetic readings (no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.alerts.measure import Readings, observe
from gateway.alerts.rules import Kind, RuleBook, Threshold
from gateway.settings import Settings
from gateway.store.metrics import ProviderRow, QueueSnapshot
from gateway.store.tables import AlertRule

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    mode="test", alert_queue_age_minutes=60, alert_dead_letters=1, alert_silent_minutes=30, alert_ack_lag_minutes=45,
    alert_failure_rate=0.5, alert_failure_window_minutes=15, alert_failure_min_attempts=4,
    audit_max_unsequenced_seconds=0,  # the audit-lag rule has its own test
)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def provider(
    ods: str, mode: str, *, polled: float | None = None, paused: bool = False, active: bool = True
) -> ProviderRow:
    endpoint = "https://p.example/" if mode == "push" else None
    return ProviderRow(ods, mode, active, paused, endpoint, ago(polled) if polled is not None else None, ago(24 * 60))


def rule(kind: str, scope: str, threshold: float, enabled: bool = True) -> AlertRule:
    return AlertRule(
        kind=kind, provider_ods=scope, threshold=threshold, enabled=enabled, created_at=NOW, updated_at=NOW
    )


def firing(readings: Readings, book: RuleBook) -> dict[tuple[str, str], bool | None]:
    return {(o.kind.value, o.subject): o.firing for o in observe(readings, book)}


def test_thresholds_come_from_the_provider_row_then_the_star_row_then_the_settings() -> None:
    book = RuleBook.build(SETTINGS, [rule("queue-age", "*", 10), rule("queue-age", "VNA", 90),
                                     rule("ack-lag", "VNB", 5, enabled=False)])
    assert book.threshold(Kind.QUEUE_AGE, "VNA") == Threshold(90)
    assert book.threshold(Kind.QUEUE_AGE, "VNB") == Threshold(10)
    assert book.threshold(Kind.ACK_LAG, "VNA") == Threshold(45)
    assert book.threshold(Kind.ACK_LAG, "VNB") is None  # disabled there
    assert book.threshold(Kind.FAILURE_RATE, "VNA") == Threshold(0.5, 15)
    off = RuleBook.build(SETTINGS.model_copy(update={"alert_dead_letters": 0}), [])
    assert off.threshold(Kind.DEAD_LETTERS, "VNA") is None


def test_pull_and_push_silence_queue_age_ack_lag_and_dead_letters() -> None:
    queue = QueueSnapshot(
        depth={("PULL", "queued"): 2, ("PUSH", "queued"): 1, ("IDLE", "dead"): 1, ("PAUSED", "queued"): 4},
        oldest_waiting={"PULL": ago(61), "PUSH": ago(50), "PAUSED": ago(600)},
        oldest_unacknowledged={"PULL": ago(44)},
        providers=[provider("PULL", "pull", polled=31), provider("PUSH", "push"), provider("IDLE", "push"),
                   provider("PAUSED", "push", paused=True)],
    )
    seen = firing(Readings(NOW, queue, {}, {}), RuleBook.build(SETTINGS, []))
    assert seen[("queue-age", "PULL")] is True and seen[("queue-age", "PUSH")] is False
    assert ("queue-age", "PAUSED") not in seen  # paused on purpose
    assert seen[("provider-silent", "PULL")] is True  # 31 min without a poll
    assert seen[("provider-silent", "PUSH")] is True  # a message waits 50 min and nothing was delivered
    assert seen[("provider-silent", "IDLE")] is False  # nothing waits: silence is fine
    assert seen[("ack-lag", "PULL")] is False  # 44 < 45
    assert seen[("dead-letters", "IDLE")] is True and seen[("dead-letters", "PULL")] is False
    # A recent successful push means the provider is not silent, whatever waits.
    recent = firing(Readings(NOW, queue, {}, {"PUSH": ago(5)}), RuleBook.build(SETTINGS, []))
    assert recent[("provider-silent", "PUSH")] is False


def test_failure_rate_needs_enough_attempts_for_a_verdict() -> None:
    queue = QueueSnapshot({}, {}, {}, [provider("PUSH", "push"), provider("PULL", "pull", polled=1)])
    book = RuleBook.build(SETTINGS, [])
    few = firing(Readings(NOW, queue, {15: {"PUSH": (3, 3)}}, {}), book)
    assert few[("failure-rate", "PUSH")] is None and ("failure-rate", "PULL") not in few
    assert firing(Readings(NOW, queue, {15: {"PUSH": (4, 2)}}, {}), book)[("failure-rate", "PUSH")] is True
    assert firing(Readings(NOW, queue, {15: {"PUSH": (4, 1)}}, {}), book)[("failure-rate", "PUSH")] is False
    summary = next(o.summary for o in observe(Readings(NOW, queue, {15: {"PUSH": (4, 2)}}, {}), book)
                   if o.kind is Kind.FAILURE_RATE)
    assert summary == "PUSH: 2 of 4 push attempts failed in the last 15 min (threshold 0.5 ratio)"


def test_an_inactive_provider_is_watched_only_for_dead_letters() -> None:
    queue = QueueSnapshot({("OLD", "dead"): 3}, {"OLD": ago(900)}, {}, [provider("OLD", "pull", active=False)])
    assert firing(Readings(NOW, queue, {}, {}), RuleBook.build(SETTINGS, [])) == {("dead-letters", "OLD"): True}


def test_audit_lag_watches_the_oldest_entry_the_sequencer_has_not_chained() -> None:
    queue = QueueSnapshot({}, {}, {}, [])
    book = RuleBook.build(SETTINGS.model_copy(update={"audit_max_unsequenced_seconds": 60}), [])
    late = observe(Readings(NOW, queue, {}, {}, NOW - timedelta(seconds=90)), book)
    assert [(o.kind, o.subject, o.value, o.firing) for o in late] == [(Kind.AUDIT_LAG, "audit", 90.0, True)]
    assert late[0].summary == "audit: the oldest audit entry not chained yet waited 90 s (threshold 60 s)"
    assert firing(Readings(NOW, queue, {}, {}, NOW - timedelta(seconds=5)), book) == {("audit-lag", "audit"): False}
    assert firing(Readings(NOW, queue, {}, {}), book) == {("audit-lag", "audit"): False}  # nothing waits
    off = RuleBook.build(SETTINGS.model_copy(update={"audit_max_unsequenced_seconds": 0}), [])
    assert firing(Readings(NOW, queue, {}, {}, NOW - timedelta(hours=1)), off) == {}
