"""Watching the at-risk list: each evaluation (with the alert evaluator, every `HGW_ALERT_INTERVAL_SECONDS`) opens
an episode for every treatment newly on the list, writes its `patient-at-risk` timeline event (so the trust's
webhooks and status feed carry it), notifies the alert channels once, and closes the episodes of treatments no
longer listed. No patient data leaves: events and notices name the short-form prescription id and codes only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.alerts.notify import Notice, NotificationError, Notifier
from gateway.context import Gateway
from gateway.fhir.datatypes import uk_date
from gateway.logs import log
from gateway.safety.at_risk import compute, thresholds
from gateway.safety.supply_model import AtRisk
from gateway.store import alerts as alert_store
from gateway.store import prescription_rows, repository
from gateway.store import risk_episodes as store
from gateway.store.supply_tables import RiskEpisode
from gateway.store.tables import LifecycleEvent

logger = logging.getLogger("gateway.risk")

EVENT_KIND = "patient-at-risk"
NOTIFY_BATCH = 50


@dataclass
class WatchReport:
    listed: int = 0
    opened: list[str] = field(default_factory=list)  # short-form ids
    closed: int = 0
    notified: int = 0


def describe(row: AtRisk) -> str:
    return (
        f"supply ends {row.supply_ends.isoformat()} ({row.days_left} days left); "
        f"reasons: {', '.join(row.reasons)}; {row.owner.value} to act: {row.action}"
    )


async def watch(gw: Gateway, notifiers: Sequence[Notifier] = ()) -> WatchReport:
    """One evaluation of today's list for every trust and provider."""
    now = gw.clock()
    rows = await compute(gw, uk_date(now))
    report = WatchReport(listed=len(rows))
    listed = {r.treatment: r for r in rows}
    async with gw.sessions() as session, session.begin():
        current = {e.treatment: e for e in await store.open_episodes(session)}
        for key, episode in current.items():
            row = listed.get(key)
            if row is None:
                await store.close(session, episode.id or 0, now)
                report.closed += 1
            elif ",".join(row.reasons) != episode.reasons or row.supply_ends != episode.supply_ends:
                values = {"reasons": ",".join(row.reasons), "supply_ends": row.supply_ends}
                await store.refresh(session, episode.id or 0, values | {"provider_ods": row.provider_ods})
        new = {key: row for key, row in listed.items() if key not in current}
        # A prescription a provider's update holds right now is opened by the next evaluation (its events must
        # commit in id order: prescription_rows.lock_for_events).
        free = await prescription_rows.lock_for_events(
            session, (row.prescription_id for row in new.values()), postgres=not gw.is_sqlite, skip_locked=True
        )
        for key, row in new.items():
            if row.prescription_id not in free:
                continue
            episode = RiskEpisode(
                treatment=key,
                open_key=key,
                prescription_id=row.prescription_id,
                trust_ods=row.trust_ods,
                provider_ods=row.provider_ods,
                reasons=",".join(row.reasons),
                supply_ends=row.supply_ends,
                opened_at=now,
            )
            if await alert_store.insert_open(session, episode):
                repository.save(
                    session,
                    LifecycleEvent(
                        prescription_id=row.prescription_id,
                        at=now,
                        kind=EVENT_KIND,
                        actor_ods=None,
                        detail=describe(row),
                    )
                )
                report.opened.append(row.short_form_id)
    if notifiers:
        report.notified = await _notify(gw, notifiers, {r.prescription_id: r for r in rows})
    return report


async def _notify(gw: Gateway, notifiers: Sequence[Notifier], rows: dict[str, AtRisk]) -> int:
    """Tell the alert channels of each episode once; a failed notice is tried again by the next evaluation."""
    sent = 0
    async with gw.sessions() as session:
        pending = await store.unnotified(session, NOTIFY_BATCH)
    limits = thresholds(gw)
    for episode in pending:
        row = rows.get(episode.prescription_id)
        if row is None:
            continue
        notice = Notice(
            alert_id=episode.id or 0,
            event="opened",
            rule=EVENT_KIND,
            subject=row.short_form_id,
            value=float(row.days_left),
            threshold=float(limits.default),
            summary=f"{row.short_form_id} ({row.trust_ods}): {describe(row)}",
            opened_at=episode.opened_at.isoformat(),
            resolved_at=None,
            gateway=gw.settings.public_base_url,
        )
        error: str | None = None
        for notifier in notifiers:
            try:
                await notifier.send(notice)
            except NotificationError as exc:
                error = str(exc)[:300]
        async with gw.sessions() as session, session.begin():
            values = {"notify_error": error} if error else {"notified_at": gw.clock(), "notify_error": None}
            await store.refresh(session, episode.id or 0, values)
        if error:
            log(logger, logging.ERROR, "at-risk notification failed", episode=episode.id, error=error)
        else:
            sent += 1
    return sent
