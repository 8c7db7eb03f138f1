"""One evaluation: measure, open and resolve alerts, then notify what is pending.

An alert opens the first time its rule fires for a subject and stays open, without further notices, while the
rule keeps firing; it resolves once the condition has stayed clear for `HGW_ALERT_RESOLVE_AFTER_SECONDS`
(a condition flapping around its threshold does not flood anyone). Any number of processes may evaluate at
once: the store lets exactly one open, resolve or notify each episode (`gateway.store.alerts`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.alerts.measure import Observation, Readings, observe
from gateway.alerts.notify import Notice, NotificationError, Notifier
from gateway.alerts.rules import Kind, RuleBook
from gateway.context import Gateway
from gateway.logs import log
from gateway.store import alerts as store
from gateway.store import audit_log
from gateway.store import metrics as store_metrics
from gateway.store.tables import Alert

logger = logging.getLogger("gateway.alerts")

MAX_NOTIFY_ATTEMPTS = 10
"""Evaluations that may try an alert's notices (its opening and its resolution together) before giving up;
each try already retries within itself."""
NOTIFY_CLAIM = timedelta(minutes=2)
"""How long a process holds a notice it is sending; after that (it died, say) another may send it."""
NOTIFY_BATCH = 50


@dataclass(frozen=True, slots=True)
class Transition:
    alert_id: int
    kind: str
    subject: str
    transition: str  # opened or resolved
    value: float
    threshold: float
    summary: str


@dataclass
class EvaluationReport:
    observations: int = 0
    transitions: list[Transition] = field(default_factory=list)
    notified: int = 0
    notify_failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "observations": self.observations,
            "opened": [asdict(t) for t in self.transitions if t.transition == "opened"],
            "resolved": [asdict(t) for t in self.transitions if t.transition == "resolved"],
            "notified": self.notified,
            "notify_failures": self.notify_failures,
        }


async def read(gw: Gateway) -> tuple[RuleBook, Readings]:
    """The rule book and everything the rules look at, in one read transaction."""
    now = gw.clock()
    async with gw.sessions() as session:
        book = RuleBook.build(gw.settings, await store.list_rules(session))
        queue = await store_metrics.queue_snapshot(session)
        providers = [p.ods for p in queue.providers]
        outcomes = {
            window: await store_metrics.push_outcomes_since(session, now - timedelta(minutes=window))
            for window in book.windows(providers)
        }
        silent = book.longest(Kind.PROVIDER_SILENT, providers)
        last_ok = (
            await store_metrics.last_push_success_since(session, now - timedelta(minutes=silent)) if silent else {}
        )
        unsequenced = await audit_log.oldest_pending_at(session)
    return book, Readings(now, queue, outcomes, last_ok, unsequenced)


async def evaluate(gw: Gateway, notifiers: Sequence[Notifier]) -> EvaluationReport:
    """Measure every rule, apply the transitions, log and count them, then send pending notices."""
    book, readings = await read(gw)
    observations = observe(readings, book)
    report = EvaluationReport(observations=len(observations))
    report.transitions = await _apply(gw, observations, readings.now, book.resolve_after_seconds)
    for t in report.transitions:
        log(
            logger, logging.WARNING if t.transition == "opened" else logging.INFO, f"alert {t.transition}",
            alert_id=t.alert_id, rule=t.kind, subject=t.subject, value=t.value, threshold=t.threshold,
        )
        gw.telemetry.metrics.alert_transitions.labels(t.kind, t.transition).inc()
    await _notify(gw, notifiers, report)
    return report


async def _apply(gw: Gateway, observations: list[Observation], now: datetime, resolve_after: int) -> list[Transition]:
    transitions: list[Transition] = []
    async with gw.sessions() as session, session.begin():
        current = {a.open_key: a for a in await store.open_alerts(session)}
        for obs in observations:
            alert = current.pop(obs.key, None)
            if obs.firing is True and alert is None:
                row = Alert(
                    kind=obs.kind.value, subject=obs.subject, open_key=obs.key, state="open", value=obs.value,
                    threshold=obs.threshold, summary=obs.summary, opened_at=now,
                )
                if await store.insert_open(session, row):
                    transitions.append(_transition(row, "opened"))
            elif obs.firing is True and alert is not None:
                values = {"value": obs.value, "threshold": obs.threshold, "summary": obs.summary, "clear_since": None}
                await store.update_open(session, alert.id or 0, values)
            elif obs.firing is False and alert is not None:
                done = await _clearing(session, alert, now, resolve_after, obs.value, obs.summary)
                transitions.extend(done)
        # Open alerts no rule observed any more (rule switched off, provider deactivated): clear.
        for alert in current.values():
            transitions.extend(await _clearing(session, alert, now, resolve_after, alert.value, alert.summary))
    return transitions


async def _clearing(
    session: AsyncSession, alert: Alert, now: datetime, resolve_after: int, value: float, summary: str
) -> list[Transition]:
    """The condition is clear: start the clear period, or resolve once it has lasted `resolve_after` seconds."""
    clear_since = alert.clear_since or now
    if (now - clear_since).total_seconds() >= resolve_after:
        if await store.resolve(session, alert.id or 0, now, value, summary):
            alert.value, alert.summary = value, summary
            return [_transition(alert, "resolved")]
        return []
    if alert.clear_since is None:
        await store.update_open(session, alert.id or 0, {"clear_since": now, "value": value})
    return []


def _transition(alert: Alert, what: str) -> Transition:
    return Transition(alert.id or 0, alert.kind, alert.subject, what, alert.value, alert.threshold, alert.summary)


async def _notify(gw: Gateway, notifiers: Sequence[Notifier], report: EvaluationReport) -> None:
    """Send every pending notice this process can claim: an opening, then (if resolved) the resolution."""
    now = gw.clock()
    async with gw.sessions() as session:
        pending = await store.pending_notifications(session, now, MAX_NOTIFY_ATTEMPTS, NOTIFY_BATCH)
    for alert in pending:
        async with gw.sessions() as session, session.begin():
            claimed = await store.claim_notification(session, alert, now, now + NOTIFY_CLAIM)
        if claimed is None:
            continue
        alert = claimed  # as it is now, not as the list above read it
        events = [e for e, sent in (("opened", alert.open_notified_at), ("resolved", alert.resolve_notified_at))
                  if sent is None and (e == "opened" or alert.state == "resolved")]
        for event in events:
            notice = _notice(gw, alert, event)
            failure = await _send(gw, notifiers, notice)
            async with gw.sessions() as session, session.begin():
                if failure is None:
                    column = "open_notified_at" if event == "opened" else "resolve_notified_at"
                    sent: dict[str, object] = {column: gw.clock(), "notify_error": None}
                    if event == events[-1]:
                        sent["notify_after"] = None  # done: a later notice (its resolution) need not wait
                    await store.set_notified(session, alert.id or 0, sent)
                    report.notified += 1
                    continue
                values: dict[str, object] = {"notify_error": str(failure)[:300]}
                if not failure.retry:
                    values["notify_attempts"] = MAX_NOTIFY_ATTEMPTS
                await store.set_notified(session, alert.id or 0, values)
            report.notify_failures.append(f"alert {alert.id} {event}: {failure}")
            log(logger, logging.ERROR, "alert notification failed", alert_id=alert.id, event=event, error=str(failure))
            break


async def _send(gw: Gateway, notifiers: Sequence[Notifier], notice: Notice) -> NotificationError | None:
    """Every channel; the first failure, if any (a retry then sends to every channel again)."""
    failure: NotificationError | None = None
    for notifier in notifiers:
        try:
            await notifier.send(notice)
            gw.telemetry.metrics.alert_notifications.labels(notifier.name, "sent").inc()
        except NotificationError as exc:
            gw.telemetry.metrics.alert_notifications.labels(notifier.name, "failed").inc()
            failure = failure or exc
    return failure


def _notice(gw: Gateway, alert: Alert, event: str) -> Notice:
    return Notice(
        alert_id=alert.id or 0,
        event=event,
        rule=alert.kind,
        subject=alert.subject,
        value=alert.value,
        threshold=alert.threshold,
        summary=alert.summary,
        opened_at=alert.opened_at.isoformat(),
        resolved_at=alert.resolved_at.isoformat() if alert.resolved_at else None,
        gateway=gw.settings.public_base_url,
    )

