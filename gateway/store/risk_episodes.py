"""At-risk episodes (`risk_episode`): one per treatment from the evaluation that first listed it to the one that no
longer did. Opening is a unique insert (`gateway.store.alerts.insert_open`), so racing evaluators open each episode
once. Also the lookup of a missed dose already reported (`missed_dose`), which episodes flag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.supply_tables import MissedDose, RiskEpisode


async def open_episodes(session: AsyncSession) -> list[RiskEpisode]:
    stmt = select(RiskEpisode).where(col(RiskEpisode.open_key).is_not(None))
    return list((await session.exec(stmt)).all())


async def close(session: AsyncSession, episode_id: int, now: datetime) -> None:
    await session.exec(
        update(RiskEpisode)
        .where(col(RiskEpisode.id) == episode_id, col(RiskEpisode.open_key).is_not(None))
        .values(open_key=None, closed_at=now)
    )


async def refresh(session: AsyncSession, episode_id: int, values: dict[str, Any]) -> None:
    await session.exec(update(RiskEpisode).where(col(RiskEpisode.id) == episode_id).values(**values))


async def unnotified(session: AsyncSession, limit: int) -> list[RiskEpisode]:
    stmt = (
        select(RiskEpisode)
        .where(col(RiskEpisode.notified_at).is_(None), col(RiskEpisode.open_key).is_not(None))
        .order_by(col(RiskEpisode.id))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def open_counts_by_reason(session: AsyncSession) -> dict[str, int]:
    """Open episodes per reason code (an episode with two reasons counts under each)."""
    stmt = (
        select(RiskEpisode.reasons, func.count())
        .where(col(RiskEpisode.open_key).is_not(None))
        .group_by(col(RiskEpisode.reasons))
    )
    rows = (await session.exec(stmt)).all()
    counts: dict[str, int] = {}
    for reasons, n in rows:
        for code in str(reasons).split(","):
            counts[code] = counts.get(code, 0) + int(n)
    return counts


async def episode_open_between(session: AsyncSession, treatment: str, start: datetime, end: datetime) -> bool:
    """Whether an episode of `treatment` opened before `end` and was still open at `start` (or is open)."""
    stmt = select(RiskEpisode.id).where(
        RiskEpisode.treatment == treatment,
        col(RiskEpisode.opened_at) < end,
        or_(col(RiskEpisode.closed_at).is_(None), col(RiskEpisode.closed_at) >= start),
    )
    return (await session.exec(stmt)).first() is not None


async def missed_dose_by_source(session: AsyncSession, reporter_ods: str, source_id: str) -> MissedDose | None:
    """The missed dose a reporter already sent with its own AdverseEvent id, or None."""
    stmt = select(MissedDose).where(MissedDose.reporter_ods == reporter_ods, MissedDose.source_id == source_id)
    return (await session.exec(stmt)).first()
