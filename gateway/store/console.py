"""SQL for the operator console and the JSON operator API: operators, sessions, overview counts, the message
browser and the audit trail. Every look-up by NHS number goes through the indexed blind-index column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, or_, type_coerce
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import WAITING, OutboxState
from gateway.store import tallies
from gateway.store.audit_tables import AuditEntity, AuditRecord
from gateway.store.columns import UTCDateTime
from gateway.store.security_tables import Operator, OperatorSession
from gateway.store.tables import DeliveryAttempt, InboundPayload, OutboxEntry, Prescription

# Attempt outcomes that are not errors: what is left is an error class.
SUCCESS_OUTCOMES = ("ok", "accepted", "leased", "released", "acknowledged")


# --- operators and sessions ---


async def get_operator(session: AsyncSession, username: str) -> Operator | None:
    return await session.get(Operator, username)


async def list_operators(session: AsyncSession) -> list[Operator]:
    return list((await session.exec(select(Operator).order_by(col(Operator.username)))).all())


async def get_session(session: AsyncSession, token_sha256: str) -> OperatorSession | None:
    return await session.get(OperatorSession, token_sha256)


async def end_session(session: AsyncSession, token_sha256: str) -> None:
    await session.exec(delete(OperatorSession).where(col(OperatorSession.token_sha256) == token_sha256))


async def end_sessions_of(session: AsyncSession, username: str) -> None:
    await session.exec(delete(OperatorSession).where(col(OperatorSession.username) == username))


async def purge_sessions(session: AsyncSession, now: datetime) -> None:
    """Forget expired sessions (they are refused anyway; this keeps the table small)."""
    await session.exec(delete(OperatorSession).where(col(OperatorSession.expires_at) <= now))


# --- overview ---


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """Outbox counts for one provider or trust."""

    key: str
    states: dict[str, int]
    failing: int  # waiting after at least one failed push
    received_since: int  # created at or after the window start
    oldest_waiting: datetime | None


async def outbox_groups(session: AsyncSession, since: datetime) -> tuple[list[GroupCounts], list[GroupCounts]]:
    """Per provider and per trust: messages by state (the running tallies, `gateway.store.tallies`) and what is
    stuck (the few waiting messages, and those received since `since`, through their indexes)."""
    waiting = col(OutboxEntry.state).in_(WAITING)
    joined: Any = select(OutboxEntry.provider_ods, Prescription.trust_ods).join(
        Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id)
    )
    stuck = joined.add_columns(
        func.sum(case((col(OutboxEntry.last_error).is_not(None), 1), else_=0)),
        type_coerce(func.min(func.coalesce(OutboxEntry.queued_at, OutboxEntry.created_at)), UTCDateTime()),
    ).where(waiting)
    recent = joined.add_columns(func.count()).where(col(OutboxEntry.created_at) >= since)
    group = (col(OutboxEntry.provider_ods), col(Prescription.trust_ods))
    by_provider: dict[str, dict[str, Any]] = {}
    by_trust: dict[str, dict[str, Any]] = {}

    def groups_of(provider: str, trust: str) -> list[dict[str, Any]]:
        return [
            groups.setdefault(str(key), {"states": {}, "failing": 0, "recent": 0, "oldest": None})
            for groups, key in ((by_provider, provider), (by_trust, trust))
        ]

    for provider, trust, state, n in await tallies.outbox_counts(session):
        for g in groups_of(provider, trust):
            g["states"][state] = g["states"].get(state, 0) + n
    for provider, trust, failing, oldest in (await session.exec(stuck.group_by(*group))).all():
        for g in groups_of(provider, trust):
            g["failing"] += int(failing or 0)
            if oldest is not None:
                g["oldest"] = oldest if g["oldest"] is None else min(g["oldest"], oldest)
    for provider, trust, n in (await session.exec(recent.group_by(*group))).all():
        for g in groups_of(provider, trust):
            g["recent"] += int(n)
    return _group_counts(by_provider), _group_counts(by_trust)


def _group_counts(groups: dict[str, dict[str, Any]]) -> list[GroupCounts]:
    return [GroupCounts(k, g["states"], g["failing"], g["recent"], g["oldest"]) for k, g in sorted(groups.items())]


async def acknowledgement_times(
    session: AsyncSession, since: datetime, limit: int = 10_000
) -> list[tuple[str, datetime, datetime]]:
    """(provider, queued at, acknowledged at) of messages acknowledged since `since`, newest first."""
    stmt = (
        select(
            OutboxEntry.provider_ods,
            type_coerce(func.coalesce(OutboxEntry.queued_at, OutboxEntry.created_at), UTCDateTime()),
            OutboxEntry.acknowledged_at,
        )
        .where(col(OutboxEntry.acknowledged_at) >= since, OutboxEntry.state == OutboxState.ACKNOWLEDGED)
        .order_by(col(OutboxEntry.acknowledged_at).desc())
        .limit(limit)
    )
    return [(str(p), q, a) for p, q, a in (await session.exec(stmt)).all() if a is not None]


async def prescriptions_received(
    session: AsyncSession, since: datetime
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Per provider ("(held)" for none) and per trust: prescriptions received, all time (the running tallies) and
    since `since` (through the index on the receipt time)."""
    recent = (
        select(Prescription.provider_ods, Prescription.trust_ods, func.count())
        .where(col(Prescription.created_at) >= since)
        .group_by(col(Prescription.provider_ods), col(Prescription.trust_ods))
    )
    by_provider: dict[str, tuple[int, int]] = {}
    by_trust: dict[str, tuple[int, int]] = {}

    def add(provider: str | None, trust: str, total: int, since_count: int) -> None:
        for counts, key in ((by_provider, "(held)" if provider is None else str(provider)), (by_trust, str(trust))):
            before = counts.get(key, (0, 0))
            counts[key] = (before[0] + total, before[1] + since_count)

    for provider, trust, n in await tallies.prescription_counts(session):
        add(provider, trust, n, 0)
    for provider, trust, n in (await session.exec(recent)).all():
        add(provider, str(trust), 0, int(n))
    return by_provider, by_trust


# --- the message browser ---


@dataclass(frozen=True, slots=True)
class MessageFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    state: str | None = None
    provider_ods: str | None = None
    trust_ods: str | None = None
    prescription_id: str | None = None
    nhs_index: str | None = None
    error_class: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRow:
    entry: OutboxEntry
    trust_ods: str
    short_form_id: str
    rx_number: str
    last_outcome: str | None


def _filtered(stmt: Any, f: MessageFilter) -> Any:
    if f.date_from is not None:
        stmt = stmt.where(col(OutboxEntry.created_at) >= f.date_from)
    if f.date_to is not None:
        stmt = stmt.where(col(OutboxEntry.created_at) < f.date_to)
    if f.state:
        stmt = stmt.where(OutboxEntry.state == f.state)
    if f.provider_ods:
        stmt = stmt.where(OutboxEntry.provider_ods == f.provider_ods)
    if f.trust_ods:
        stmt = stmt.where(Prescription.trust_ods == f.trust_ods)
    if f.prescription_id:
        pid = f.prescription_id
        stmt = stmt.where(
            or_(
                col(Prescription.id) == pid.lower(),
                col(Prescription.short_form_id) == pid.upper(),
                col(OutboxEntry.message_id) == pid.lower(),
            )
        )
    if f.nhs_index:
        stmt = stmt.where(Prescription.nhs_index == f.nhs_index)
    if f.error_class:
        attempted = (
            select(DeliveryAttempt.id)
            .where(DeliveryAttempt.outbox_id == OutboxEntry.id, DeliveryAttempt.outcome == f.error_class)
            .exists()
        )
        stmt = stmt.where(attempted)
    return stmt


async def browse_messages(
    session: AsyncSession, f: MessageFilter, *, offset: int, limit: int
) -> tuple[int, list[MessageRow]]:
    """One page of outbox messages, newest first, and how many match in all."""
    base = select(OutboxEntry, Prescription.trust_ods, Prescription.short_form_id, Prescription.rx_number).join(
        Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id)
    )
    counted = _filtered(
        select(func.count())
        .select_from(OutboxEntry)
        .join(Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id)),
        f,
    )
    total = int((await session.exec(counted)).one())
    rows = (
        await session.exec(_filtered(base, f).order_by(col(OutboxEntry.id).desc()).offset(offset).limit(limit))
    ).all()
    outcomes = await _last_outcomes(session, [r[0].id for r in rows if r[0].id is not None])
    return total, [MessageRow(e, str(t), str(s), str(rx), outcomes.get(e.id or 0)) for e, t, s, rx in rows]


async def _last_outcomes(session: AsyncSession, outbox_ids: Sequence[int]) -> dict[int, str]:
    if not outbox_ids:
        return {}
    last = (
        select(func.max(DeliveryAttempt.id))
        .where(col(DeliveryAttempt.outbox_id).in_(list(outbox_ids)))
        .group_by(col(DeliveryAttempt.outbox_id))
    )
    stmt = select(DeliveryAttempt.outbox_id, DeliveryAttempt.outcome).where(col(DeliveryAttempt.id).in_(last))
    return {int(o): str(out) for o, out in (await session.exec(stmt)).all()}


async def error_classes(session: AsyncSession) -> list[str]:
    """The attempt outcomes seen that are errors, for the browser's filter."""
    stmt = (
        select(DeliveryAttempt.outcome)
        .where(col(DeliveryAttempt.outcome).not_in(SUCCESS_OUTCOMES))
        .distinct()
        .order_by(col(DeliveryAttempt.outcome))
    )
    return [str(o) for o in (await session.exec(stmt)).all()]


async def trusts_seen(session: AsyncSession) -> list[str]:
    stmt = select(Prescription.trust_ods).distinct().order_by(col(Prescription.trust_ods))
    return [str(t) for t in (await session.exec(stmt)).all()]


async def payload_prescriptions(session: AsyncSession, inbound_id: str) -> list[Prescription]:
    """Every prescription that came in one payload (to mask all of a file's patients in its raw text)."""
    stmt = select(Prescription).where(Prescription.inbound_id == inbound_id).limit(10_000)
    return list((await session.exec(stmt)).all())


async def get_inbound(session: AsyncSession, inbound_id: str) -> InboundPayload | None:
    return await session.get(InboundPayload, inbound_id)


# --- the audit trail ---


async def audit_page(
    session: AsyncSession, *, entity_id: str | None, actor: str | None, offset: int, limit: int
) -> tuple[int, list[AuditRecord]]:
    stmt: Any = select(AuditRecord)
    counted: Any = select(func.count()).select_from(AuditRecord)
    if entity_id:
        # A record names one entity in its columns, or several through `audit_entity` (a batch action).
        named = or_(
            col(AuditRecord.entity_id) == entity_id,
            col(AuditRecord.seq).in_(select(AuditEntity.seq).where(AuditEntity.entity_id == entity_id)),
        )
        stmt = stmt.where(named)
        counted = counted.where(named)
    if actor:
        stmt = stmt.where(AuditRecord.actor_client_id == actor)
        counted = counted.where(AuditRecord.actor_client_id == actor)
    total = int((await session.exec(counted)).one())
    rows = (await session.exec(stmt.order_by(col(AuditRecord.seq).desc()).offset(offset).limit(limit))).all()
    return total, list(rows)


# --- the prescriptions page ---


async def list_prescriptions(
    session: AsyncSession,
    *,
    trust_ods: str | None,
    provider_ods: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Prescription], int]:
    """A page of prescriptions of `trust_ods` and routed to `provider_ods` (when given), newest first, and how
    many match in all. A prescription held without a provider matches a trust's filter, never a provider's."""
    conditions: list[Any] = []
    if trust_ods is not None:
        conditions.append(col(Prescription.trust_ods) == trust_ods)
    if provider_ods is not None:
        conditions.append(col(Prescription.provider_ods) == provider_ods)
    if status is not None:
        conditions.append(col(Prescription.status) == status)
    page = (
        select(Prescription)
        .where(*conditions)
        .order_by(col(Prescription.created_at).desc(), col(Prescription.id).desc())
        .offset(offset)
        .limit(limit)
    )
    total = (await session.exec(select(func.count()).select_from(Prescription).where(*conditions))).one()
    return list((await session.exec(page)).all()), int(total)
