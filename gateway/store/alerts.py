"""Alert rules and alert episodes: every read and write of `alert_rule` and `alert`.

Opening inserts a row whose `open_key` is unique, so of several evaluators only one opens an episode; resolving
and claiming a notification are conditional updates, so only one process does each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import Alert, AlertRule


async def list_rules(session: AsyncSession) -> list[AlertRule]:
    stmt = select(AlertRule).order_by(col(AlertRule.kind), col(AlertRule.provider_ods))
    return list((await session.exec(stmt)).all())


async def find_rule(session: AsyncSession, kind: str, provider_ods: str) -> AlertRule | None:
    stmt = select(AlertRule).where(AlertRule.kind == kind, AlertRule.provider_ods == provider_ods)
    return (await session.exec(stmt)).first()


async def delete_rule(session: AsyncSession, rule: AlertRule) -> None:
    await session.delete(rule)


async def open_alerts(session: AsyncSession) -> list[Alert]:
    stmt = select(Alert).where(Alert.state == "open").order_by(col(Alert.id))
    return list((await session.exec(stmt)).all())


async def list_alerts(session: AsyncSession, *, states: Sequence[str], limit: int) -> list[Alert]:
    """Newest first."""
    stmt = select(Alert).where(col(Alert.state).in_(list(states))).order_by(col(Alert.id).desc()).limit(limit)
    return list((await session.exec(stmt)).all())


async def insert_open(session: AsyncSession, alert: SQLModel) -> bool:
    """Open `alert` (or an at-risk episode); False when another evaluator already holds an open one with its key."""
    try:
        async with session.begin_nested():
            session.add(alert)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def update_open(session: AsyncSession, alert_id: int, values: dict[str, Any]) -> bool:
    """Change an alert that is still open; False when it no longer is."""
    stmt = update(Alert).where(col(Alert.id) == alert_id, col(Alert.state) == "open").values(**values)
    result = await session.exec(stmt)
    return bool(result.rowcount == 1)


async def resolve(session: AsyncSession, alert_id: int, now: datetime, value: float, summary: str) -> bool:
    """Resolve an open alert; True only for the one caller that resolved it."""
    return await update_open(
        session,
        alert_id,
        {"state": "resolved", "open_key": None, "resolved_at": now, "value": value, "summary": summary},
    )


def _unnotified() -> Any:
    return or_(
        col(Alert.open_notified_at).is_(None),
        and_(col(Alert.state) == "resolved", col(Alert.resolve_notified_at).is_(None)),
    )


def _due(now: datetime) -> Any:
    return or_(col(Alert.notify_after).is_(None), col(Alert.notify_after) <= now)


async def pending_notifications(session: AsyncSession, now: datetime, max_attempts: int, limit: int) -> list[Alert]:
    """Alerts with an opening or a resolution not yet notified, whose retry is due, oldest first."""
    stmt = (
        select(Alert)
        .where(_unnotified(), _due(now), col(Alert.notify_attempts) < max_attempts)
        .order_by(col(Alert.id))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def claim_notification(session: AsyncSession, alert: Alert, now: datetime, until: datetime) -> Alert | None:
    """Take the pending notices of `alert` until `until`: the alert as it is now, or None when another process
    took them first. `notify_attempts` only grows, so a claim made on a stale read can never succeed."""
    stmt = (
        update(Alert)
        .where(col(Alert.id) == alert.id, col(Alert.notify_attempts) == alert.notify_attempts, _due(now))
        .values(notify_attempts=alert.notify_attempts + 1, notify_after=until)
    )
    result = await session.exec(stmt)
    if result.rowcount != 1:
        return None
    return (await session.exec(select(Alert).where(col(Alert.id) == alert.id))).one()


async def set_notified(session: AsyncSession, alert_id: int, values: dict[str, Any]) -> None:
    await session.exec(update(Alert).where(col(Alert.id) == alert_id).values(**values))
