"""Replay: put dead or rejected messages back in the queue, one by id or a filtered set, with a dry-run preview.

A replayed message is queued as it was (same MessageHeader.id, same signed bundle) with a fresh retry budget:
its attempts restart at 0 and its maximum age counts from the replay. A message is never replayed ahead of a
later message of the same prescription (an amendment or cancellation) that is not replayed with it: that would
deliver the order after the message that changes it; nor is an order of a prescription that has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.domain.principal import Principal, Role, require_role
from gateway.errors import ConflictError, InputError, Issue, Location, NotFoundError
from gateway.store import outbox_queue, repository
from gateway.store.tables import FhirMessage, LifecycleEvent, OutboxEntry, Prescription

REPLAYABLE = (OutboxState.DEAD.value, OutboxState.REJECTED.value)  # plain strings: a click choice
# An order for a prescription that has ended must not reach a provider again.
FINAL_STATUSES = frozenset({lifecycle.EXPIRED, lifecycle.CANCELLED, lifecycle.DISPENSED, lifecycle.NOT_DISPENSED})
MAX_REPLAY = 1000


@dataclass(frozen=True, slots=True)
class Candidate:
    """A message a replay would queue again, or leaves alone with `skipped` saying why."""

    message_id: str
    prescription_id: str
    provider_ods: str
    state: str
    attempts: int
    last_error: str | None
    failed_at: datetime | None
    skipped: str | None = None

    @classmethod
    def from_row(cls, row: OutboxEntry, skipped: str | None = None) -> Candidate:
        return cls(
            message_id=row.message_id,
            prescription_id=row.prescription_id,
            provider_ods=row.provider_ods,
            state=row.state,
            attempts=row.attempts,
            last_error=row.last_error,
            failed_at=row.last_attempt_at or row.acknowledged_at,
            skipped=skipped,
        )


@dataclass(frozen=True, slots=True)
class ReplayReport:
    dry_run: bool
    candidates: list[Candidate]

    @property
    def replayed(self) -> list[Candidate]:
        return [c for c in self.candidates if c.skipped is None]

    def as_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "replayed" if not self.dry_run else "would_replay": [_json(c) for c in self.replayed],
            "skipped": [_json(c) for c in self.candidates if c.skipped is not None],
        }


async def replay_message(
    gw: Gateway, message_id: str, *, dry_run: bool = False, actor: audit.Actor = audit.SYSTEM
) -> ReplayReport:
    """Queue one dead or rejected message again. NotFoundError if unknown, ConflictError if not replayable."""
    _check_actor(actor)
    async with gw.sessions() as session, session.begin():
        row = await outbox_queue.outbox_by_message(session, message_id)
        if row is None:
            raise NotFoundError(f"message {message_id} not found")
        if row.state not in REPLAYABLE:
            raise ConflictError(f"message {message_id} is {row.state}: only dead or rejected messages are replayed")
        return await _replay(session, gw, [row], dry_run=dry_run, actor=actor)


async def replay_matching(
    gw: Gateway,
    *,
    state: str = OutboxState.DEAD,
    provider_ods: str | None = None,
    since: datetime | None = None,
    limit: int = MAX_REPLAY,
    dry_run: bool = False,
    actor: audit.Actor = audit.SYSTEM,
) -> ReplayReport:
    """Queue again every message in `state` (dead or rejected), of `provider_ods`, failed at or after `since`."""
    _check_actor(actor)
    if state not in REPLAYABLE:
        raise InputError(
            [
                Issue(
                    code="INVALID_VALUE",
                    message="only dead or rejected messages are replayed",
                    location=Location(column="--state"),
                    value=state,
                    expected=" or ".join(REPLAYABLE),
                )
            ]
        )
    async with gw.sessions() as session, session.begin():
        rows = await outbox_queue.list_outbox(
            session, states=[state], provider_ods=provider_ods, failed_since=since, limit=limit
        )
        return await _replay(session, gw, rows, dry_run=dry_run, actor=actor)


async def _replay(
    session: AsyncSession, gw: Gateway, rows: list[OutboxEntry], *, dry_run: bool, actor: audit.Actor
) -> ReplayReport:
    now = gw.clock()
    chosen = {row.id for row in rows}
    candidates = []
    for row in rows:
        reason = await _why_not(session, row, chosen)
        if reason is not None:
            candidates.append(Candidate.from_row(row, skipped=reason))
            continue
        before = Candidate.from_row(row)  # as it was: the update below refreshes `row`
        if dry_run:
            candidates.append(before)
            continue
        if not await _requeue(session, row, now):
            candidates.append(Candidate.from_row(row, skipped="it changed meanwhile"))
            continue
        candidates.append(before)
        await audit.append(
            session, gw.clock, actor, "operator.replay", "message", before.message_id, "success", {"from": before.state}
        )
        repository.save(
            session,
            LifecycleEvent(
                prescription_id=before.prescription_id,
                at=now,
                kind="replayed",
                actor_ods=actor.ods if isinstance(actor, Principal) else None,
                message_id=before.message_id,
                detail=f"queued again from {before.state}: {before.last_error or 'no reason recorded'}"[:500],
            )
        )
    return ReplayReport(dry_run, candidates)


async def _why_not(session: AsyncSession, row: OutboxEntry, chosen: set[int | None]) -> str | None:
    """Why replaying `row` would do harm, or None."""
    later = [r for r in await outbox_queue.later_in_order(session, row) if r.id not in chosen]
    if later:
        return f"a later message of the same prescription ({later[0].message_id}) is {later[0].state}"
    message: FhirMessage | None = await repository.get_by_id(session, FhirMessage, row.message_id)
    prescription: Prescription | None = await repository.get_by_id(session, Prescription, row.prescription_id)
    if message is not None and message.event == "prescription-order" and prescription is not None:
        if prescription.status in FINAL_STATUSES:
            return f"the prescription is {lifecycle.PRESCRIPTION_STATUS[prescription.status]} ({prescription.status})"
    return None


async def _requeue(session: AsyncSession, row: OutboxEntry, now: datetime) -> bool:
    return await repository.apply_update(
        session,
        OutboxEntry,
        row.id,
        {"state": row.state, "lease_token": row.lease_token},
        {
            "state": check_outbox_transition(row.state, OutboxState.QUEUED, entry=row.message_id),
            "available_at": now,
            "queued_at": now,
            "attempts": 0,
            "lease_expires_at": None,
            "acknowledged_at": None,
            "last_error": None,
        },
    )


def _check_actor(actor: audit.Actor) -> None:
    if isinstance(actor, Principal):
        require_role(actor, Role.OPERATOR)


def _json(c: Candidate) -> dict[str, object]:
    out: dict[str, object] = {
        "message_id": c.message_id,
        "prescription_id": c.prescription_id,
        "provider": c.provider_ods,
        "state": c.state,
        "attempts": c.attempts,
        "last_error": c.last_error,
        "failed_at": c.failed_at.isoformat() if c.failed_at else None,
    }
    if c.skipped is not None:
        out["skipped"] = c.skipped
    return out
